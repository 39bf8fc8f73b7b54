-- SSH public keys for cluster login.

CREATE TABLE ssh_key (
    ssh_key_id  TEXT    NOT NULL CONSTRAINT ssh_key_pkey PRIMARY KEY,
    account_id  TEXT    NOT NULL CONSTRAINT ssh_key_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    key_type    TEXT    NOT NULL,
    bits        BIGINT NOT NULL,
    fingerprint TEXT    NOT NULL,
    public_key  TEXT    NOT NULL,
    comment     TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT ssh_key_account_name_key UNIQUE (account_id, name),
    CONSTRAINT ssh_key_account_fingerprint_key UNIQUE (account_id, fingerprint)
);
