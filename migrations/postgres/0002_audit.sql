-- The audit log: one row per security event. Never holds a secret.
-- `at` is Unix epoch milliseconds (UTC); `detail` is a JSON object stored as TEXT.

CREATE TABLE audit_events (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    event   TEXT   NOT NULL,
    outcome TEXT   NOT NULL,
    actor   TEXT,
    source  TEXT,
    target  TEXT,
    detail  TEXT   NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX audit_events_by_actor ON audit_events (actor, at);
CREATE INDEX audit_events_by_target ON audit_events (target, at);
