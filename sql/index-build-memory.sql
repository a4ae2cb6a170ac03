-- maintenance_work_mem $1 for this session's index build (the default 64MB makes large builds spill to
-- disk). set_config, not SET, so the value is a bind parameter; false: for the session, like SET.
SELECT set_config('maintenance_work_mem', $1, false)
