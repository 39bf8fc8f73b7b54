-- SSH private keys the platform signs with on their owner's behalf. The key itself is
-- only ever in sealed_private_key (envelope-encrypted, bound to account and key id).

CREATE TABLE ssh_private_key (
    ssh_private_key_id TEXT    NOT NULL CONSTRAINT ssh_private_key_pkey PRIMARY KEY,
    account_id         TEXT    NOT NULL CONSTRAINT ssh_private_key_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    name               TEXT    NOT NULL,
    description        TEXT,
    key_type           TEXT    NOT NULL,
    fingerprint        TEXT    NOT NULL,
    public_key         TEXT    NOT NULL,
    sealed_private_key TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    CONSTRAINT ssh_private_key_account_name_key UNIQUE (account_id, name),
    CONSTRAINT ssh_private_key_account_fingerprint_key UNIQUE (account_id, fingerprint)
);
