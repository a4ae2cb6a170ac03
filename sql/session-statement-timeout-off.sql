-- No statement timeout on this session: the pool's is for short statements, and an index build can take
-- minutes; it is cancelled on shutdown instead (session-cancel).
SET statement_timeout = 0
