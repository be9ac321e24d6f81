-- roles_version changes whenever what a user's roles grant may have changed, in the same
-- transaction as the change: a grant or revocation, a change to the jurisdiction of an
-- organisation the user holds a role in, a renamed region or organisation (shown with the role).
-- Servers cache each caller's roles keyed by this number and read only it per request, so a
-- revocation still takes effect on the next request on every server. Triggers rather than code,
-- so that no writer of these tables (API, import, demo, bench generator) can forget it.
ALTER TABLE users ADD COLUMN roles_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER role_assignments_insert_bumps AFTER INSERT ON role_assignments BEGIN
  UPDATE users SET roles_version = roles_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER role_assignments_update_bumps AFTER UPDATE ON role_assignments BEGIN
  UPDATE users SET roles_version = roles_version + 1 WHERE id IN (OLD.user_id, NEW.user_id);
END;
CREATE TRIGGER role_assignments_delete_bumps AFTER DELETE ON role_assignments BEGIN
  UPDATE users SET roles_version = roles_version + 1 WHERE id = OLD.user_id;
END;
CREATE TRIGGER organization_jurisdictions_insert_bumps AFTER INSERT ON organization_jurisdictions BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments WHERE organization_id = NEW.organization_id);
END;
CREATE TRIGGER organization_jurisdictions_delete_bumps AFTER DELETE ON organization_jurisdictions BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments WHERE organization_id = OLD.organization_id);
END;
CREATE TRIGGER organization_jurisdictions_update_bumps AFTER UPDATE ON organization_jurisdictions BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments
               WHERE organization_id IN (OLD.organization_id, NEW.organization_id));
END;
CREATE TRIGGER organizations_update_bumps AFTER UPDATE OF name, kind ON organizations BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments WHERE organization_id = NEW.id);
END;
CREATE TRIGGER regions_update_bumps AFTER UPDATE OF name, code, level, path ON regions BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments WHERE region_id = NEW.id);
END;
