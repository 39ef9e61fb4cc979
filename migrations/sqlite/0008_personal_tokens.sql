-- Personal access tokens for the admin API (`mag login`): an API key row that
-- acts for a MagUI user (user_id) with that user's current role, instead of
-- for a project. `project` is '' for them, so project key lists never show
-- them. `expires_at` (milliseconds) ends a token without a revoke.
ALTER TABLE api_keys ADD COLUMN user_id TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);
