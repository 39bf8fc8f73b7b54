-- Security keys and passkeys (WebAuthn): a key is a second factor whose public half,
-- credential id (unique across every account) and signature counter are stored with it;
-- ceremony state (the challenge) waits in the store, single-use, so a ceremony started on
-- one node finishes on another. Organisations may require security keys, limit them to
-- approved models and turn passkey sign-in off.

ALTER TABLE mfa_factor ADD COLUMN credential_id TEXT;
ALTER TABLE mfa_factor ADD COLUMN credential TEXT;
ALTER TABLE mfa_factor ADD COLUMN discoverable BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE mfa_factor ADD COLUMN sign_count INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX mfa_factor_credential_key ON mfa_factor (credential_id);

CREATE TABLE webauthn_ceremony (
    token_hash TEXT    NOT NULL CONSTRAINT webauthn_ceremony_pkey PRIMARY KEY,
    kind       TEXT    NOT NULL,
    account_id TEXT    CONSTRAINT webauthn_ceremony_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremony_expires_idx ON webauthn_ceremony (expires_at);

ALTER TABLE org_policy ADD COLUMN enforce_security_key BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE org_policy ADD COLUMN passkey_sign_in BOOLEAN NOT NULL DEFAULT TRUE;
-- Approved security key models: AAGUIDs, comma-separated; empty means any.
ALTER TABLE org_policy ADD COLUMN security_key_models TEXT NOT NULL DEFAULT '';
