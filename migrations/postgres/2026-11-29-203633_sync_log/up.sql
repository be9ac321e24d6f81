-- Offline sync (issue 13): every change a phone may need, with the transaction that made it.
-- Triggers write it, so no writer can forget to. A phone's cursor is a position in this log.
--
-- On PostgreSQL two transactions may commit in the other order than they took their `pos`
-- numbers, so `pos` alone would let a reader skip a change that commits late. Each row keeps
-- its transaction's id (`txid`, xid8 as a number); readers only take rows of transactions
-- below the oldest one still running (`pg_snapshot_xmin(pg_current_snapshot())`), which have
-- all ended, and order by (txid, pos): nothing can later appear before a position once read.
CREATE TABLE sync_log (
    pos BIGSERIAL PRIMARY KEY,
    txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    -- region, premises, roster, hazard, hazard_event, notification
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    -- Where it lies (the row's path before the change; a move logs both paths).
    region_path TEXT,
    -- For a user's own things (notifications).
    user_id BIGINT
);
CREATE INDEX sync_log_order ON sync_log(txid, pos);

CREATE FUNCTION firegrid_sync_log() RETURNS trigger AS $$
DECLARE
    ent TEXT := TG_ARGV[0];
    old_path TEXT;
    new_path TEXT;
BEGIN
    IF TG_TABLE_NAME = 'regions' THEN
        IF TG_OP <> 'INSERT' THEN old_path := OLD.path; END IF;
        IF TG_OP <> 'DELETE' THEN new_path := NEW.path; END IF;
    ELSIF TG_TABLE_NAME IN ('premises', 'hazards') THEN
        IF TG_OP <> 'INSERT' THEN old_path := OLD.region_path; END IF;
        IF TG_OP <> 'DELETE' THEN new_path := NEW.region_path; END IF;
    ELSIF TG_TABLE_NAME = 'role_assignments' THEN
        IF TG_OP <> 'INSERT' THEN
            SELECT path INTO old_path FROM regions WHERE id = OLD.region_id AND level = 'group';
        END IF;
        IF TG_OP <> 'DELETE' THEN
            SELECT path INTO new_path FROM regions WHERE id = NEW.region_id AND level = 'group';
        END IF;
        IF old_path IS NULL AND new_path IS NULL THEN RETURN NULL; END IF;
    ELSIF TG_TABLE_NAME = 'hazard_events' THEN
        SELECT region_path INTO new_path FROM hazards WHERE id = NEW.hazard_id;
    ELSIF TG_TABLE_NAME = 'notifications' THEN
        INSERT INTO sync_log(entity, entity_id, user_id) VALUES (ent, NEW.id, NEW.user_id);
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO sync_log(entity, entity_id, region_path) VALUES (ent, OLD.id, old_path);
    ELSIF TG_OP = 'INSERT' OR old_path IS NULL THEN
        INSERT INTO sync_log(entity, entity_id, region_path) VALUES (ent, NEW.id, new_path);
    ELSE
        INSERT INTO sync_log(entity, entity_id, region_path) VALUES (ent, OLD.id, old_path);
        IF new_path IS DISTINCT FROM old_path AND new_path IS NOT NULL THEN
            INSERT INTO sync_log(entity, entity_id, region_path) VALUES (ent, NEW.id, new_path);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER sync_regions AFTER INSERT OR UPDATE OR DELETE ON regions
FOR EACH ROW EXECUTE FUNCTION firegrid_sync_log('region');
CREATE TRIGGER sync_premises AFTER INSERT OR UPDATE OR DELETE ON premises
FOR EACH ROW EXECUTE FUNCTION firegrid_sync_log('premises');
CREATE TRIGGER sync_roster AFTER INSERT OR UPDATE OR DELETE ON role_assignments
FOR EACH ROW EXECUTE FUNCTION firegrid_sync_log('roster');
CREATE TRIGGER sync_hazards AFTER INSERT OR UPDATE ON hazards
FOR EACH ROW EXECUTE FUNCTION firegrid_sync_log('hazard');
CREATE TRIGGER sync_events AFTER INSERT ON hazard_events
FOR EACH ROW EXECUTE FUNCTION firegrid_sync_log('hazard_event');
CREATE TRIGGER sync_notifications AFTER INSERT OR UPDATE ON notifications
FOR EACH ROW EXECUTE FUNCTION firegrid_sync_log('notification');
