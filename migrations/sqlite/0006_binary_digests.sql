-- Token and API key digests as 32 raw bytes (BLOB) instead of 64 hex characters (TEXT).
-- Why: the lookup index of every authenticated request keys on them; binary halves each entry,
-- so a store with a million keys keeps twice as much of that index per cached page, and the
-- server compares and caches the same 32 bytes it computes, with no hex encoding or decoding.
-- SQLite cannot change a column's type in place: both tables are rebuilt, existing rows
-- converted with unhex(). Nothing references these tables, so dropping them cascades nowhere.

-- session_tokens becomes a WITHOUT ROWID table clustered on the digest: a token lookup reads
-- one B-tree instead of the primary-key index and then the table.
CREATE TABLE session_tokens_new (
    token_hash  BLOB    NOT NULL PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    valid_until INTEGER
) WITHOUT ROWID;
INSERT INTO session_tokens_new (token_hash, session_id, valid_until)
    SELECT unhex(token_hash), session_id, valid_until FROM session_tokens;
DROP TABLE session_tokens;
ALTER TABLE session_tokens_new RENAME TO session_tokens;
CREATE INDEX session_tokens_by_session ON session_tokens (session_id);
CREATE INDEX session_tokens_current ON session_tokens (session_id) WHERE valid_until IS NULL;

CREATE TABLE api_keys_new (
    id               TEXT    PRIMARY KEY,
    user_name        TEXT    NOT NULL REFERENCES users (user_name) ON DELETE CASCADE,
    description      TEXT    NOT NULL,
    key_hash         BLOB    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    role_assignments TEXT
);
INSERT INTO api_keys_new (id, user_name, description, key_hash, created_at, expires_at, role_assignments)
    SELECT id, user_name, description, unhex(key_hash), created_at, expires_at, role_assignments
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
-- With `id`: a user's listing (ORDER BY created_at, id) reads this index in order, no sort.
CREATE INDEX api_keys_by_user ON api_keys (user_name, created_at, id);
CREATE INDEX api_keys_by_expiry ON api_keys (expires_at) WHERE expires_at IS NOT NULL;
