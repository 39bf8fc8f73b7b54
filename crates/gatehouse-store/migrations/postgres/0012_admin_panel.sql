-- The admin panel: who acted and with which credential on every audit record, the
-- organisation's per-account caps, and one-time set-password links for new members.

-- The acting account and the credential it used (an API key or token id; NULL for a
-- session or when nobody was signed in). Older records keep NULL: the account concerned
-- acted for itself.
ALTER TABLE audit_event ADD COLUMN actor_id TEXT;
ALTER TABLE audit_event ADD COLUMN actor_username TEXT;
ALTER TABLE audit_event ADD COLUMN credential_kind TEXT;
ALTER TABLE audit_event ADD COLUMN credential_id TEXT;
-- The audit log's pages and exports walk one organisation's records newest first, by
-- (created_at, audit_event_id): one index range per page.
DROP INDEX audit_event_org_idx;
CREATE INDEX audit_event_org_time_idx ON audit_event (org_id, created_at, audit_event_id);

-- NULL: the server's own cap applies. Otherwise the lower of the two.
ALTER TABLE org_policy ADD COLUMN max_api_keys_per_account BIGINT;
ALTER TABLE org_policy ADD COLUMN max_tokens_per_account BIGINT;
ALTER TABLE org_policy ADD COLUMN max_ssh_keys_per_account BIGINT;
ALTER TABLE org_policy ADD COLUMN max_ssh_private_keys_per_account BIGINT;

-- A new member's one-time link to set a first password: only the hash of its secret is
-- kept. One per account; issuing another replaces it.
CREATE TABLE password_link (
    account_id  TEXT    NOT NULL CONSTRAINT password_link_pkey PRIMARY KEY
                        CONSTRAINT password_link_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    secret_hash TEXT    NOT NULL CONSTRAINT password_link_secret_hash_key UNIQUE,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
