-- Host keys pinned by the connection test of stored SSH private keys: trust on first
-- use, confirmed by the account's owner, per account and host:port. A host presenting
-- another key afterwards is refused until its owner removes the pin.

CREATE TABLE ssh_known_host (
    account_id  TEXT    NOT NULL CONSTRAINT ssh_known_host_account_fkey REFERENCES account (account_id) ON DELETE CASCADE,
    host        TEXT    NOT NULL,
    port        INTEGER NOT NULL,
    key_type    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    public_key  TEXT    NOT NULL,
    pinned_at   BIGINT NOT NULL,
    CONSTRAINT ssh_known_host_pkey PRIMARY KEY (account_id, host, port)
);
