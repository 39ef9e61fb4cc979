-- Event bus: the durable log, its sequence counters, subscribers with their
-- cursors, failed deliveries awaiting a retry, and dead letters.
-- Timestamps are milliseconds since the Unix epoch (INTEGER).

-- The last global sequence number assigned. Appends update this one row first,
-- so they are serialised and commit in sequence order; numbers are never reused.
CREATE TABLE bus_sequence (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
INSERT INTO bus_sequence (id, last_seq) VALUES (1, 0);

-- The last sequence number assigned per source component.
CREATE TABLE bus_component_seq (
    component TEXT PRIMARY KEY,
    last_seq  INTEGER NOT NULL
);

CREATE TABLE bus_events (
    seq           INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    event_type    TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    component     TEXT NOT NULL,
    component_seq INTEGER NOT NULL,
    extension     TEXT,
    data          TEXT NOT NULL,   -- JSON object
    context       TEXT NOT NULL,   -- JSON {project_id, user_id, trace_id}
    capabilities  TEXT NOT NULL,   -- JSON array of capability names
    UNIQUE (component, component_seq)
);
CREATE INDEX bus_events_ts ON bus_events (ts);

CREATE TABLE bus_subscribers (
    id           TEXT PRIMARY KEY,
    patterns     TEXT NOT NULL,    -- JSON array of patterns
    capabilities TEXT NOT NULL,    -- JSON array of granted capability names
    acked_seq    INTEGER NOT NULL, -- the cursor: last sequence number acknowledged
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Failed deliveries from the log not yet acknowledged (rows at or below the
-- subscriber's cursor are stale and ignored).
CREATE TABLE bus_attempts (
    subscriber TEXT NOT NULL REFERENCES bus_subscribers(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (subscriber, seq)
);

-- Events that failed too often for one subscriber: a copy, kept until purged
-- (the log's sweeper does not touch them). requeued = 1: waiting for redelivery.
CREATE TABLE bus_dead_letters (
    subscriber    TEXT NOT NULL REFERENCES bus_subscribers(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    component     TEXT NOT NULL,
    component_seq INTEGER NOT NULL,
    extension     TEXT,
    data          TEXT NOT NULL,
    context       TEXT NOT NULL,
    capabilities  TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT NOT NULL,
    dead_at       INTEGER NOT NULL,
    requeued      INTEGER NOT NULL DEFAULT 0 CHECK (requeued IN (0, 1)),
    PRIMARY KEY (subscriber, seq)
);
CREATE INDEX bus_dead_letters_requeued ON bus_dead_letters (requeued, seq);
