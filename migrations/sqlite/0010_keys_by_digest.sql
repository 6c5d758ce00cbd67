-- API keys clustered on their digest, and a user's listing served by one index.
-- Why: every request with an `ApiKey` header that the credential cache does not hold looks its
-- key up by digest. In a rowid table that is two B-trees (the digest's unique index, then the
-- table); in a store with a million keys each is a page that the reader's cache seldom holds.
-- A WITHOUT ROWID table keyed by the digest is one B-tree. The listing index then carries every
-- column a listing reads (the digest is appended to it by SQLite as the table's key), so
-- listing a user's keys reads that index alone, in order, instead of looking each key up in the
-- table. SQLite cannot change a table's key in place: the table is rebuilt as in 0006. Nothing
-- references api_keys, so dropping it cascades nowhere.
CREATE TABLE api_keys_new (
    key_hash         BLOB    NOT NULL PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    user_name        TEXT    NOT NULL REFERENCES users (user_name) ON DELETE CASCADE,
    description      TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    role_assignments TEXT
) WITHOUT ROWID;
INSERT INTO api_keys_new (key_hash, id, user_name, description, created_at, expires_at, role_assignments)
    SELECT key_hash, id, user_name, description, created_at, expires_at, role_assignments
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
-- In listing order (ORDER BY created_at, id), with the listed columns.
CREATE INDEX api_keys_by_user ON api_keys (user_name, created_at, id, expires_at, description, role_assignments);
CREATE INDEX api_keys_by_expiry ON api_keys (expires_at) WHERE expires_at IS NOT NULL;
