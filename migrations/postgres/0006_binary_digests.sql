-- Token and API key digests as 32 raw bytes (BYTEA) instead of 64 hex characters (TEXT): the
-- lookup index of every authenticated request keys on them, and binary halves each entry; the
-- server compares and caches the same 32 bytes it computes. Existing rows are converted in
-- place (their primary-key / unique indexes are rebuilt by the type change).
ALTER TABLE session_tokens ALTER COLUMN token_hash TYPE BYTEA USING decode(token_hash, 'hex');
ALTER TABLE api_keys ALTER COLUMN key_hash TYPE BYTEA USING decode(key_hash, 'hex');
-- With `id` (in the "C" order the listing sorts by): a user's keys come out of the index in order.
DROP INDEX api_keys_by_user;
CREATE INDEX api_keys_by_user ON api_keys (user_name, created_at, id COLLATE "C");
