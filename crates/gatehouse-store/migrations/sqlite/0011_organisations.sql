-- Organisations become real: an edition, roles in place of the admin flag, the
-- server-wide operator flag, the organisation's own principal (which holds the keys the
-- organisation owns), key kinds, and the organisation on every audit record.
-- Existing installs: every account stays in its organisation; administrators become
-- owners, and the first of them the server's operator.

ALTER TABLE org ADD COLUMN edition TEXT NOT NULL DEFAULT 'team'
    CONSTRAINT org_edition_check CHECK (edition IN ('team', 'enterprise'));
-- Written by every change of roles or status in the organisation: the row lock that
-- serialises those changes, so the last-owner check cannot race.
ALTER TABLE org ADD COLUMN members_changed_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE account ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CONSTRAINT account_role_check CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE account ADD COLUMN operator BOOLEAN NOT NULL DEFAULT FALSE;
-- 'org': the organisation's own principal, which holds its Public API Keys, its Team
-- Computer Key and its SCIM key. It has no password and is never a member.
ALTER TABLE account ADD COLUMN kind TEXT NOT NULL DEFAULT 'person'
    CONSTRAINT account_kind_check CHECK (kind IN ('person', 'org'));
ALTER TABLE account ADD COLUMN last_sign_in_at INTEGER;
UPDATE account SET role = 'owner' WHERE is_admin;
UPDATE account SET operator = TRUE WHERE account_id = (
    SELECT account_id FROM account WHERE is_admin ORDER BY created_at, account_id LIMIT 1
);
ALTER TABLE account DROP COLUMN is_admin;
CREATE UNIQUE INDEX account_org_principal_key ON account (org_id) WHERE kind = 'org';
CREATE INDEX account_org_role_idx ON account (org_id, role, disabled);

ALTER TABLE api_key ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal'
    CONSTRAINT api_key_kind_check CHECK (kind IN ('personal', 'public', 'team_computer', 'scim'));
CREATE UNIQUE INDEX api_key_team_computer_key ON api_key (account_id) WHERE kind = 'team_computer';
CREATE UNIQUE INDEX api_key_scim_key ON api_key (account_id) WHERE kind = 'scim';

ALTER TABLE audit_event ADD COLUMN org_id TEXT;
UPDATE audit_event SET org_id = (
    SELECT account.org_id FROM account WHERE account.account_id = audit_event.account_id
);
CREATE INDEX audit_event_org_idx ON audit_event (org_id, created_at);
