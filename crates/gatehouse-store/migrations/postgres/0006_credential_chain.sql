-- Credentials that mint credentials: an API key records the key or token that made it,
-- and is revoked for good when that parent ends. The audit trail records the client's
-- user agent beside its address. Indexes for cursor pagination and for sweeping stale
-- sign-in failure counters.

ALTER TABLE api_key ADD COLUMN parent_id TEXT;
ALTER TABLE api_key ADD COLUMN revoked_at BIGINT;
CREATE INDEX api_key_parent_idx ON api_key (parent_id);
CREATE INDEX api_key_account_created_idx ON api_key (account_id, created_at, api_key_id);

CREATE INDEX token_account_created_idx ON token (account_id, created_at, token_id);
CREATE INDEX ssh_key_account_created_idx ON ssh_key (account_id, created_at, ssh_key_id);

ALTER TABLE audit_event ADD COLUMN user_agent TEXT;

CREATE INDEX login_failure_last_failure_idx ON login_failure (last_failure_at);
