-- Platform-Control schema v1. Applied on every deploy, to fresh and to existing databases alike, so
-- every statement is idempotent: tables and indexes IF NOT EXISTS, new columns backfilled with
-- ADD COLUMN IF NOT EXISTS, enum CHECK constraints refreshed with DROP CONSTRAINT IF EXISTS + ADD.

CREATE TABLE IF NOT EXISTS platform_role_bindings (
    id BIGSERIAL PRIMARY KEY,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Added after v1 first shipped: existing databases get them here.
ALTER TABLE platform_role_bindings ADD COLUMN IF NOT EXISTS created_by TEXT NOT NULL DEFAULT 'system';
ALTER TABLE platform_role_bindings ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMPTZ;

CREATE UNIQUE INDEX IF NOT EXISTS platform_role_bindings_subject_role
    ON platform_role_bindings (subject, role);

-- platform-operator was added after platform-admin/platform-viewer: refresh the constraint so existing
-- databases accept it before any seed or API write uses it.
ALTER TABLE platform_role_bindings DROP CONSTRAINT IF EXISTS platform_role_bindings_role_check;
ALTER TABLE platform_role_bindings ADD CONSTRAINT platform_role_bindings_role_check
    CHECK (role IN ('platform-admin', 'platform-operator', 'platform-viewer'));

CREATE TABLE IF NOT EXISTS admin_audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS admin_audit_log_at ON admin_audit_log (at DESC);

ALTER TABLE admin_audit_log DROP CONSTRAINT IF EXISTS admin_audit_log_action_check;
ALTER TABLE admin_audit_log ADD CONSTRAINT admin_audit_log_action_check
    CHECK (action IN ('role.bind', 'role.revoke'));
