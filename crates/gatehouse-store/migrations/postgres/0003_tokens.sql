-- Bearer tokens, their signing keys, and per-user token revocation.

ALTER TABLE account ADD COLUMN tokens_not_before BIGINT;

CREATE TABLE signing_key (
    kid                TEXT    NOT NULL CONSTRAINT signing_key_pkey PRIMARY KEY,
    algorithm          TEXT    NOT NULL,
    public_key         TEXT    NOT NULL,
    sealed_private_key TEXT    NOT NULL,
    created_at         BIGINT NOT NULL,
    retired_at         BIGINT
);

CREATE TABLE token (
    token_id    TEXT    NOT NULL CONSTRAINT token_pkey PRIMARY KEY,
    account_id  TEXT    NOT NULL CONSTRAINT token_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL CONSTRAINT token_token_hash_key UNIQUE,
    scopes      TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_via TEXT    NOT NULL,
    parent_id   TEXT,
    revoked_at  BIGINT
);

CREATE INDEX token_account_idx ON token (account_id, expires_at);
CREATE INDEX token_expires_idx ON token (expires_at);
CREATE INDEX token_parent_idx ON token (parent_id);

ALTER TABLE org_policy ADD COLUMN token_max_hours BIGINT NOT NULL DEFAULT 24;
ALTER TABLE org_policy ADD COLUMN token_user_choice BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE org_policy ADD COLUMN token_default_hours BIGINT NOT NULL DEFAULT 8;
