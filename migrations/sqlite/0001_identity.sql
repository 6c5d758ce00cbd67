-- Identity plane schema for the embedded SQLite store.
-- Timestamps are Unix epoch milliseconds (UTC); JSON documents are stored as TEXT.

CREATE TABLE account (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id        TEXT    NOT NULL,
    trust     TEXT    NOT NULL,
    version   INTEGER NOT NULL
);

CREATE TABLE users (
    user_name        TEXT    PRIMARY KEY,
    full_name        TEXT,
    email            TEXT,
    password_hash    TEXT    NOT NULL,
    roles            TEXT    NOT NULL,
    role_assignments TEXT    NOT NULL,
    enabled          INTEGER NOT NULL,
    builtin          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    created_by       TEXT,
    updated_at       INTEGER NOT NULL,
    updated_by       TEXT,
    first_login_at   INTEGER,
    last_login_at    INTEGER,
    version          INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                  TEXT    PRIMARY KEY,
    user_name           TEXT    NOT NULL REFERENCES users (user_name) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions (user_name);

-- One row per bearer token ever issued for a session (login, then each refresh).
-- valid_until IS NULL marks the session's current token.
CREATE TABLE session_tokens (
    token_hash  TEXT    PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    valid_until INTEGER
);
CREATE INDEX session_tokens_by_session ON session_tokens (session_id);

CREATE TABLE api_keys (
    id               TEXT    PRIMARY KEY,
    user_name        TEXT    NOT NULL REFERENCES users (user_name) ON DELETE CASCADE,
    description      TEXT    NOT NULL,
    key_hash         TEXT    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    role_assignments TEXT
);
CREATE INDEX api_keys_by_user ON api_keys (user_name, created_at);
