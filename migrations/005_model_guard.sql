-- Model changes seen by the database itself, not only by well-behaved daemons.
--
-- embedsync.writer_allowed(source, checksum, shadow): the write statement (sql/write-embeddings.sql) calls it
-- once per statement, so a daemon whose model is not the one migrate recorded can never write or dequeue,
-- whatever it believes: the main columns take only the recorded model's vectors, the shadow columns of a
-- model migration only the target model's, and only while they exist (steps columns .. indexed).
-- SQLSTATE 55000 (object not in prerequisite state): the daemon releases its batch and re-reads the state.
-- The message has no ": " after its first word, so it survives the redaction of row values unchanged.
CREATE FUNCTION embedsync.writer_allowed(p_source text, p_checksum text, p_shadow boolean) RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
DECLARE st embedsync.state;
BEGIN
  SELECT * INTO st FROM embedsync.state WHERE source = p_source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'embedsync refused the write to % because it has no model recorded (run embedsync migrate)', p_source
      USING ERRCODE = '55000';
  END IF;
  IF p_shadow THEN
    IF st.target_checksum IS DISTINCT FROM p_checksum OR coalesce(st.migration_step, '') NOT IN ('columns', 'backfilled', 'indexed') THEN
      RAISE EXCEPTION 'embedsync refused the write of model % to the migration columns of %, which take model % at step %',
        p_checksum, p_source, coalesce(st.target_checksum, 'none'), coalesce(st.migration_step, 'none') USING ERRCODE = '55000';
    END IF;
  ELSIF st.model_checksum IS DISTINCT FROM p_checksum THEN
    RAISE EXCEPTION 'embedsync refused the write of model % to %, whose recorded model is % (%)',
      p_checksum, p_source, st.model_checksum, st.model USING ERRCODE = '55000',
      HINT = 'restart the daemon with the model embedsync migrate recorded';
  END IF;
  RETURN true;
END
$fn$;

-- Daemons learn of a model change at once: every change of a source's model, or of a model migration's
-- target or step, is announced on the channel the daemons listen on, as "model:<source>" (queue wake-ups
-- carry a row count, so older daemons just take it as one more wake-up). Delivered at commit, so a daemon
-- re-reading the state on it sees the change.
CREATE FUNCTION embedsync.announce_model_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' OR (OLD.model_checksum, OLD.target_checksum, OLD.migration_step)
       IS DISTINCT FROM (NEW.model_checksum, NEW.target_checksum, NEW.migration_step) THEN
    PERFORM pg_notify('embedsync', 'model:' || NEW.source);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER announce_model_change AFTER INSERT OR UPDATE ON embedsync.state
  FOR EACH ROW EXECUTE FUNCTION embedsync.announce_model_change();
