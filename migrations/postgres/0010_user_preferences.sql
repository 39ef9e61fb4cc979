-- Per-user console preferences (e.g. the Dashboard's widget layout): a small
-- key-value table per user, removed with the user. `value` is JSON written by
-- MagUI; `updated_at` milliseconds.
CREATE TABLE user_preferences (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
