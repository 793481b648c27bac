-- Platform-Control seed data, applied after db_schema_v1.sql on every deploy. Re-runnable: every
-- insert skips rows that already exist, and every role value is one the schema's CHECK allows.

INSERT INTO platform_role_bindings (subject, role, created_by) VALUES
    ('alice', 'platform-admin', 'seed'),
    ('oscar', 'platform-operator', 'seed'),
    ('victor', 'platform-viewer', 'seed')
ON CONFLICT (subject, role) DO NOTHING;
