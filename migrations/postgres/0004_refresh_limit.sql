-- The per-session refresh rate bound: the start of the current fixed window (Unix epoch
-- milliseconds) and how many refreshes the session made in it (see RefreshLimit).
ALTER TABLE sessions ADD COLUMN refresh_window_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refresh_count BIGINT NOT NULL DEFAULT 0;
-- Housekeeping deletes expired API keys.
CREATE INDEX api_keys_by_expiry ON api_keys (expires_at) WHERE expires_at IS NOT NULL;
