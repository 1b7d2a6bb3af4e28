-- Tells the metadata mirror which users changed, so that it publishes them at once.
-- A notification carries only the operation and the id, never the row: a NOTIFY payload is
-- limited to 8000 bytes and a row's text columns are not. The mirror reads the row again,
-- which also makes every notification idempotent (it publishes the current state, whatever
-- the order or number of notifications). A notification without an id (TRUNCATE, or an id
-- too long for a payload) asks the mirror for a full resynchronisation. Notifications are
-- sent at commit, so a rolled-back change is never announced.

CREATE FUNCTION user_metadata_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
  changed text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('user_metadata_changes', json_build_object('op', TG_OP)::text);
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    ids := ARRAY[NEW.id];
  ELSIF TG_OP = 'DELETE' THEN
    ids := ARRAY[OLD.id];
  ELSIF OLD.id = NEW.id THEN
    ids := ARRAY[NEW.id];
  ELSE
    -- A changed primary key deletes the old key and creates the new one.
    ids := ARRAY[OLD.id, NEW.id];
  END IF;
  FOREACH changed IN ARRAY ids LOOP
    IF octet_length(changed) > 7000 THEN
      PERFORM pg_notify('user_metadata_changes', json_build_object('op', TG_OP)::text);
    ELSE
      PERFORM pg_notify('user_metadata_changes', json_build_object('op', TG_OP, 'id', changed)::text);
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER user_metadata_notify_insert_delete
  AFTER INSERT OR DELETE ON user_metadata
  FOR EACH ROW EXECUTE FUNCTION user_metadata_notify();

-- Upserts that change nothing (re-running provisioning) announce nothing.
CREATE TRIGGER user_metadata_notify_update
  AFTER UPDATE ON user_metadata
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION user_metadata_notify();

CREATE TRIGGER user_metadata_notify_truncate
  AFTER TRUNCATE ON user_metadata
  FOR EACH STATEMENT EXECUTE FUNCTION user_metadata_notify();
