-- Caps how long this transaction's statements wait for a lock ($1, e.g. '100ms'): DDL waiting for an ACCESS
-- EXCLUSIVE lock queues every later reader behind it, so it gives up early and retries instead. set_config
-- with is_local = true is SET LOCAL with the value as a parameter.
SELECT set_config('lock_timeout', $1, true)
