-- Sign-in identities from OpenID Connect providers: the provider's issuer and
-- the user's subject there (together unique, the stable key the provider
-- guarantees), linked to one MagFlock user. `email` is the address the
-- provider reported at linking time (informational); `linked_at` milliseconds.
CREATE TABLE user_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
