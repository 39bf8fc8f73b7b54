-- 2-step verification: second factors (authenticator apps now, security keys later),
-- one-time recovery codes, the half-finished sign-in between a password and a code,
-- the methods each session was opened with and when it last re-authenticated, and the
-- organisation policy that requires 2-step verification.

CREATE TABLE mfa_factor (
    mfa_factor_id TEXT    NOT NULL CONSTRAINT mfa_factor_pkey PRIMARY KEY,
    account_id    TEXT    NOT NULL CONSTRAINT mfa_factor_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- The TOTP seed, sealed with a per-record data key (never plaintext).
    sealed_secret TEXT,
    created_at    BIGINT NOT NULL,
    -- Empty while enrolment waits for its first code.
    confirmed_at  BIGINT,
    last_used_at  BIGINT,
    -- The last accepted time step: a code is accepted only for a later one.
    last_step     BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX mfa_factor_account_idx ON mfa_factor (account_id, created_at);

CREATE TABLE recovery_code (
    account_id TEXT    NOT NULL CONSTRAINT recovery_code_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    CONSTRAINT recovery_code_pkey PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE mfa_challenge (
    token_hash TEXT    NOT NULL CONSTRAINT mfa_challenge_pkey PRIMARY KEY,
    account_id TEXT    NOT NULL CONSTRAINT mfa_challenge_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mfa_challenge_expires_idx ON mfa_challenge (expires_at);

ALTER TABLE session ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE session ADD COLUMN reauthenticated_at BIGINT;

ALTER TABLE org_policy ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
