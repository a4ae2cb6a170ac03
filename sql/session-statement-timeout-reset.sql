-- Back to the pool's statement timeout before the connection is reused for short statements.
RESET statement_timeout
