-- Functions service: users' JavaScript functions, their immutable versions, and executions.
-- Timestamps are BIGINT unix milliseconds; ids are UUID text; JSON values are TEXT.

CREATE TABLE functions (
    id              TEXT    PRIMARY KEY NOT NULL,
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    current_version BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX functions_account_name ON functions (account_id, name);

CREATE TABLE function_versions (
    function_id   TEXT    NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    version       BIGINT  NOT NULL,
    source        TEXT    NOT NULL,
    timeout_ms    BIGINT  NOT NULL,
    memory_bytes  BIGINT  NOT NULL,
    max_fetches   BIGINT  NOT NULL,
    allowed_hosts TEXT    NOT NULL,
    secrets       TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (function_id, version)
);

CREATE TABLE function_executions (
    id            TEXT    PRIMARY KEY NOT NULL,
    function_id   TEXT    NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    account_id    TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    error_kind    TEXT,
    error_message TEXT,
    args          TEXT    NOT NULL,
    result        TEXT,
    logs          TEXT    NOT NULL,
    duration_ms   BIGINT ,
    memory_bytes  BIGINT ,
    fetch_count   BIGINT ,
    created_at    BIGINT  NOT NULL,
    started_at    BIGINT ,
    finished_at   BIGINT 
);
CREATE INDEX function_executions_function ON function_executions (function_id, created_at);
CREATE INDEX function_executions_status ON function_executions (status);
