-- Records step $2 as the last one a migration of source $1 finished; run in the step's own transaction
-- where it has one, so a crash resumes at the step that did not finish.
UPDATE embedsync.state SET migration_step = $2, updated_at = now() WHERE source = $1
