DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE auth_sessions;
DROP TABLE role_assignments;
DROP TABLE users;
DROP TABLE organization_jurisdictions;
DROP TABLE organizations;
DROP TABLE regions;
