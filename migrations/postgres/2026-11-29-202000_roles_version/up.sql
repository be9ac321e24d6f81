-- roles_version changes whenever what a user's roles grant may have changed, in the same
-- transaction as the change: a grant or revocation, a change to the jurisdiction of an
-- organisation the user holds a role in, a renamed region or organisation (shown with the role).
-- Servers cache each caller's roles keyed by this number and read only it per request, so a
-- revocation still takes effect on the next request on every server. Triggers rather than code,
-- so that no writer of these tables (API, import, demo, bench generator) can forget it.
ALTER TABLE users ADD COLUMN roles_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION bump_roles_version_of_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE users SET roles_version = roles_version + 1 WHERE id = OLD.user_id;
  END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.user_id <> OLD.user_id) THEN
    UPDATE users SET roles_version = roles_version + 1 WHERE id = NEW.user_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER role_assignments_bump AFTER INSERT OR UPDATE OR DELETE ON role_assignments
  FOR EACH ROW EXECUTE FUNCTION bump_roles_version_of_assignment();

CREATE FUNCTION bump_roles_version_of_jurisdiction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments
               WHERE organization_id IN (
                 CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.organization_id END,
                 CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.organization_id END));
  RETURN NULL;
END $$;
CREATE TRIGGER organization_jurisdictions_bump AFTER INSERT OR UPDATE OR DELETE
  ON organization_jurisdictions
  FOR EACH ROW EXECUTE FUNCTION bump_roles_version_of_jurisdiction();

CREATE FUNCTION bump_roles_version_of_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments WHERE organization_id = NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER organizations_bump AFTER UPDATE OF name, kind ON organizations
  FOR EACH ROW EXECUTE FUNCTION bump_roles_version_of_organization();

CREATE FUNCTION bump_roles_version_of_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET roles_version = roles_version + 1
  WHERE id IN (SELECT user_id FROM role_assignments WHERE region_id = NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER regions_bump AFTER UPDATE OF name, code, level, path ON regions
  FOR EACH ROW EXECUTE FUNCTION bump_roles_version_of_region();
