DROP TRIGGER regions_bump ON regions;
DROP FUNCTION bump_roles_version_of_region();
DROP TRIGGER organizations_bump ON organizations;
DROP FUNCTION bump_roles_version_of_organization();
DROP TRIGGER organization_jurisdictions_bump ON organization_jurisdictions;
DROP FUNCTION bump_roles_version_of_jurisdiction();
DROP TRIGGER role_assignments_bump ON role_assignments;
DROP FUNCTION bump_roles_version_of_assignment();
ALTER TABLE users DROP COLUMN roles_version;
