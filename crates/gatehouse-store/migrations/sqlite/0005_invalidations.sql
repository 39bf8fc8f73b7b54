-- Changes every node must drop from its in-memory caches (an API key disabled, enabled or
-- deleted; a session ended; an account disabled, enabled or signed out everywhere). Each
-- row is written in the same transaction as the change; every node polls the recent rows
-- every few seconds.

CREATE TABLE invalidation (
    invalidation_id TEXT    NOT NULL CONSTRAINT invalidation_pkey PRIMARY KEY,
    at              INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL
);

CREATE INDEX invalidation_at_idx ON invalidation (at);
