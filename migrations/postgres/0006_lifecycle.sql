-- The lifecycle manager's state: installed extensions, the journal of
-- unfinished operations, the approvals queue, monitor alerts and the catalog
-- sources an admin added. Timestamps are milliseconds since the Unix epoch
-- (BIGINT). Each extension's own tables are not here: they live in its own
-- schema (PostgreSQL) or its own database file (SQLite).

-- One row per installed extension: the version that serves and the previous
-- one kept (until previous_until) for a rollback.
CREATE TABLE extension_installations (
    extension        TEXT PRIMARY KEY,
    version          TEXT NOT NULL,
    digest           TEXT NOT NULL,   -- hex SHA-256 of the package's signed statement
    signature_level  TEXT NOT NULL CHECK (signature_level IN ('first_party', 'verified_publisher', 'unsigned')),
    key_id           TEXT,
    config           TEXT NOT NULL,   -- JSON object handed to init
    installed_by     TEXT,
    installed_at     BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    previous_version TEXT,
    previous_until   BIGINT
);

-- Lifecycle operations that have not finished: the last step begun is written
-- before its effects, so recovery after a crash knows where to resume or undo.
-- A row is deleted when its operation finishes; the audit log keeps the history.
CREATE TABLE lifecycle_journal (
    id         TEXT PRIMARY KEY,
    extension  TEXT NOT NULL,
    operation  TEXT NOT NULL,   -- install, enable, disable, upgrade, rollback, uninstall
    step       TEXT NOT NULL,
    data       TEXT NOT NULL,   -- JSON object the recovery needs
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The approvals queue: install plans and upgrades waiting for an admin. A
-- request leaves 'pending' once (decided with a compare-and-set on status).
CREATE TABLE capability_requests (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('install', 'upgrade')),
    extension    TEXT NOT NULL,
    plan         TEXT NOT NULL,   -- JSON: what will be installed, in order, and what each asks
    requested_by TEXT,
    requested_at BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'failed', 'completed')),
    decided_by   TEXT,
    decided_at   BIGINT,
    comment      TEXT,            -- the admin's comment, or the reason the plan failed
    decision     TEXT             -- JSON: what was granted, once approved
);
CREATE INDEX capability_requests_status ON capability_requests (status);

-- What the health monitor raised for an admin to look at; acknowledged ones
-- are kept.
CREATE TABLE extension_alerts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    extension       TEXT NOT NULL,
    kind            TEXT NOT NULL,   -- e.g. health_check_failed, auto_disabled, enable_failed
    message         TEXT NOT NULL,
    raised_at       BIGINT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at BIGINT
);

-- HTTP catalogs an admin added (the local catalog is configuration).
CREATE TABLE catalog_sources (
    url      TEXT PRIMARY KEY,
    added_by TEXT,
    added_at BIGINT NOT NULL
);
