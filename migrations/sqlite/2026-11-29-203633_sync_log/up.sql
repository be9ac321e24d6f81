-- Offline sync (issue 13): every change a phone may need, in commit order. Triggers write it,
-- so no writer can forget to. A phone's cursor is a position in this log.
--
-- SQLite has one writer at a time and a transaction holds the write lock from its first write
-- to its commit, so positions (`pos`) are handed out in commit order and `txid` stays 0.
CREATE TABLE sync_log (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    txid BIGINT NOT NULL DEFAULT 0,
    -- region, premises, roster, hazard, hazard_event, notification
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    -- Where it lies (the row's path before the change; a move logs both paths).
    region_path TEXT,
    -- For a user's own things (notifications).
    user_id BIGINT
);
CREATE INDEX sync_log_order ON sync_log(txid, pos);

CREATE TRIGGER sync_regions_ins AFTER INSERT ON regions BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('region', NEW.id, NEW.path);
END;
CREATE TRIGGER sync_regions_upd AFTER UPDATE ON regions BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('region', OLD.id, OLD.path);
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'region', NEW.id, NEW.path WHERE NEW.path <> OLD.path;
END;
CREATE TRIGGER sync_regions_del AFTER DELETE ON regions BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('region', OLD.id, OLD.path);
END;

CREATE TRIGGER sync_premises_ins AFTER INSERT ON premises BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('premises', NEW.id, NEW.region_path);
END;
CREATE TRIGGER sync_premises_upd AFTER UPDATE ON premises BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('premises', OLD.id, OLD.region_path);
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'premises', NEW.id, NEW.region_path WHERE NEW.region_path <> OLD.region_path;
END;
CREATE TRIGGER sync_premises_del AFTER DELETE ON premises BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('premises', OLD.id, OLD.region_path);
END;

-- Rosters: roles bound to groups.
CREATE TRIGGER sync_roster_ins AFTER INSERT ON role_assignments BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'roster', NEW.id, path FROM regions WHERE id = NEW.region_id AND level = 'group';
END;
CREATE TRIGGER sync_roster_upd AFTER UPDATE ON role_assignments BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'roster', OLD.id, path FROM regions WHERE id = OLD.region_id AND level = 'group';
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'roster', NEW.id, path FROM regions
        WHERE id = NEW.region_id AND level = 'group' AND NEW.region_id IS NOT OLD.region_id;
END;
CREATE TRIGGER sync_roster_del AFTER DELETE ON role_assignments BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'roster', OLD.id, path FROM regions WHERE id = OLD.region_id AND level = 'group';
END;

CREATE TRIGGER sync_hazards_ins AFTER INSERT ON hazards BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('hazard', NEW.id, NEW.region_path);
END;
CREATE TRIGGER sync_hazards_upd AFTER UPDATE ON hazards BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path) VALUES ('hazard', NEW.id, NEW.region_path);
END;

CREATE TRIGGER sync_events_ins AFTER INSERT ON hazard_events BEGIN
    INSERT INTO sync_log(entity, entity_id, region_path)
        SELECT 'hazard_event', NEW.id, region_path FROM hazards WHERE id = NEW.hazard_id;
END;

CREATE TRIGGER sync_notifications_ins AFTER INSERT ON notifications BEGIN
    INSERT INTO sync_log(entity, entity_id, user_id) VALUES ('notification', NEW.id, NEW.user_id);
END;
CREATE TRIGGER sync_notifications_upd AFTER UPDATE ON notifications BEGIN
    INSERT INTO sync_log(entity, entity_id, user_id) VALUES ('notification', NEW.id, NEW.user_id);
END;
