-- Organisations, accounts, sessions, sign-in failure counters and the audit trail.
-- Times are Unix seconds (UTC).

CREATE TABLE org (
    org_id      TEXT    NOT NULL CONSTRAINT org_pkey PRIMARY KEY,
    name        TEXT    NOT NULL CONSTRAINT org_name_key UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE account (
    account_id    TEXT    NOT NULL CONSTRAINT account_pkey PRIMARY KEY,
    org_id        TEXT    NOT NULL CONSTRAINT account_org_fkey REFERENCES org (org_id),
    username      TEXT    NOT NULL CONSTRAINT account_username_key UNIQUE,
    email         TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    password_hash TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX account_org_idx ON account (org_id);

CREATE TABLE session (
    session_id   TEXT    NOT NULL CONSTRAINT session_pkey PRIMARY KEY,
    token_hash   TEXT    NOT NULL CONSTRAINT session_token_hash_key UNIQUE,
    account_id   TEXT    NOT NULL CONSTRAINT session_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX session_account_idx ON session (account_id);
CREATE INDEX session_expires_idx ON session (expires_at);

CREATE TABLE login_failure (
    subject         TEXT    NOT NULL CONSTRAINT login_failure_pkey PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE audit_event (
    audit_event_id TEXT    NOT NULL CONSTRAINT audit_event_pkey PRIMARY KEY,
    created_at     BIGINT NOT NULL,
    account_id     TEXT,
    username       TEXT,
    action         TEXT    NOT NULL,
    factor         TEXT,
    ip             TEXT,
    detail         TEXT
);
CREATE INDEX audit_event_account_idx ON audit_event (account_id, created_at);
CREATE INDEX audit_event_created_idx ON audit_event (created_at);
