-- Administrators, API keys and organisation policy.

ALTER TABLE account ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE api_key (
    api_key_id           TEXT    NOT NULL CONSTRAINT api_key_pkey PRIMARY KEY,
    account_id           TEXT    NOT NULL CONSTRAINT api_key_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    name                 TEXT    NOT NULL,
    display_prefix       TEXT    NOT NULL,
    key_hash             TEXT    NOT NULL CONSTRAINT api_key_key_hash_key UNIQUE,
    permissions          TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    created_by           TEXT    NOT NULL,
    expires_at           INTEGER,
    last_used_at         INTEGER,
    last_used_ip         TEXT,
    last_used_user_agent TEXT,
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    CONSTRAINT api_key_account_name_key UNIQUE (account_id, name)
);

CREATE TABLE org_policy (
    org_id                        TEXT    NOT NULL CONSTRAINT org_policy_pkey PRIMARY KEY
                                          CONSTRAINT org_policy_org_fkey REFERENCES org (org_id) ON DELETE CASCADE,
    api_key_expirations           TEXT    NOT NULL,
    api_key_user_choice           BOOLEAN NOT NULL,
    api_key_default_expiration    TEXT    NOT NULL,
    require_disable_before_delete BOOLEAN NOT NULL,
    created_at                    INTEGER NOT NULL
);
