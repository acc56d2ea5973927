-- Functions service: users' JavaScript functions, their immutable versions, and executions.
-- Timestamps are INTEGER unix milliseconds; ids are UUID text; JSON values are TEXT.

CREATE TABLE functions (
    id              TEXT    PRIMARY KEY NOT NULL,
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    current_version INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX functions_account_name ON functions (account_id, name);

CREATE TABLE function_versions (
    function_id   TEXT    NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    timeout_ms    INTEGER NOT NULL,
    memory_bytes  INTEGER NOT NULL,
    max_fetches   INTEGER NOT NULL,
    allowed_hosts TEXT    NOT NULL,
    secrets       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (function_id, version)
);

CREATE TABLE function_executions (
    id            TEXT    PRIMARY KEY NOT NULL,
    function_id   TEXT    NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    account_id    TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    error_kind    TEXT,
    error_message TEXT,
    args          TEXT    NOT NULL,
    result        TEXT,
    logs          TEXT    NOT NULL,
    duration_ms   INTEGER,
    memory_bytes  INTEGER,
    fetch_count   INTEGER,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX function_executions_function ON function_executions (function_id, created_at);
CREATE INDEX function_executions_status ON function_executions (status);
