-- SCIM 2.0 provisioning: what an identity provider keeps about a person beside the
-- account (its own id for them, their name's parts), when the record last changed, and
-- whether SCIM deleted it (the account stays, disabled, for the audit trail); the
-- organisation's groups and their members; and the setting that maps group names to
-- roles.

ALTER TABLE account ADD COLUMN external_id TEXT;
ALTER TABLE account ADD COLUMN given_name TEXT;
ALTER TABLE account ADD COLUMN family_name TEXT;
ALTER TABLE account ADD COLUMN formatted_name TEXT;
-- The email's type and primary flag as the identity provider sent them.
ALTER TABLE account ADD COLUMN email_type TEXT;
ALTER TABLE account ADD COLUMN email_primary BOOLEAN;
-- meta.lastModified; existing accounts start at their creation.
ALTER TABLE account ADD COLUMN modified_at INTEGER NOT NULL DEFAULT 0;
UPDATE account SET modified_at = created_at;
-- Made by SCIM: group-to-role mappings apply to it.
ALTER TABLE account ADD COLUMN scim_managed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE account ADD COLUMN scim_deleted_at INTEGER;
-- Filters resolve through these (every SCIM query also names the organisation).
CREATE INDEX account_org_external_id_idx ON account (org_id, external_id);
CREATE INDEX account_org_email_idx ON account (org_id, LOWER(email));
CREATE INDEX account_org_display_name_idx ON account (org_id, LOWER(display_name));
CREATE INDEX account_org_modified_idx ON account (org_id, modified_at);

CREATE TABLE scim_group (
    group_id     TEXT    NOT NULL CONSTRAINT scim_group_pkey PRIMARY KEY,
    org_id       TEXT    NOT NULL CONSTRAINT scim_group_org_fkey REFERENCES org (org_id),
    display_name TEXT    NOT NULL,
    -- LOWER(display_name): unique in the organisation, case-insensitively.
    display_key  TEXT    NOT NULL,
    external_id  TEXT,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL,
    CONSTRAINT scim_group_org_display_key UNIQUE (org_id, display_key)
);
CREATE INDEX scim_group_org_external_id_idx ON scim_group (org_id, external_id);
CREATE INDEX scim_group_org_display_name_idx ON scim_group (org_id, LOWER(display_name));
CREATE INDEX scim_group_org_modified_idx ON scim_group (org_id, modified_at);

CREATE TABLE scim_group_member (
    group_id   TEXT NOT NULL CONSTRAINT scim_group_member_group_fkey REFERENCES scim_group (group_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL CONSTRAINT scim_group_member_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    CONSTRAINT scim_group_member_pkey PRIMARY KEY (group_id, account_id)
);
CREATE INDEX scim_group_member_account_idx ON scim_group_member (account_id);

-- Members of the group named `group_key` (lowercase) get `role`; the highest applies.
CREATE TABLE scim_role_mapping (
    org_id     TEXT NOT NULL CONSTRAINT scim_role_mapping_org_fkey REFERENCES org (org_id),
    group_key  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    role       TEXT NOT NULL CONSTRAINT scim_role_mapping_role_check CHECK (role IN ('owner', 'admin', 'member')),
    CONSTRAINT scim_role_mapping_pkey PRIMARY KEY (org_id, group_key)
);
