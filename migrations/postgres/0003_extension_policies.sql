-- Extension policies: whether each extension may run (enabled, disabled or
-- quarantined, with the reason) and the capabilities an admin granted it.
-- The grants column is a JSON array of {"capability": "...", "hosts": [...]}.
CREATE TABLE extension_policies (
    extension_id TEXT PRIMARY KEY,
    status       TEXT NOT NULL CHECK (status IN ('enabled', 'disabled', 'quarantined')),
    reason       TEXT,
    grants       TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    -- Grows with every change; an older snapshot never overwrites a newer one.
    revision     BIGINT NOT NULL DEFAULT 0
);
