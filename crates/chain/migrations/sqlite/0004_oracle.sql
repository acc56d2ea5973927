-- Oracle service (crates/services/oracle/src/service): follower cursors, request rows with their
-- state history, and the outbox of signed response transactions (written before broadcast).
-- Timestamps are INTEGER unix milliseconds; transaction hashes are 0x-prefixed big-endian hex text.

CREATE TABLE oracle_cursors (
    chain      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    next_block INTEGER  NOT NULL,
    updated_at INTEGER  NOT NULL,
    PRIMARY KEY (chain, source)
);

CREATE TABLE oracle_requests (
    id                 TEXT    PRIMARY KEY NOT NULL,
    chain              TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('gateway', 'native')),
    tx_hash            TEXT    NOT NULL,
    notification_index INTEGER NOT NULL,
    block_index        INTEGER  NOT NULL,
    request_id         INTEGER  NOT NULL,
    requester          TEXT    NOT NULL,
    url                TEXT    NOT NULL,
    filter             TEXT,
    invalid            TEXT,
    state              TEXT    NOT NULL CHECK (state IN
                           ('seen', 'fetched', 'outbox', 'sent', 'confirmed', 'failed', 'expired')),
    code               INTEGER,
    result             BLOB,
    response_tx_hash   TEXT,
    confirmed_block    INTEGER,
    claimed_by         TEXT,
    claim_until        INTEGER,
    created_at         INTEGER  NOT NULL,
    updated_at         INTEGER  NOT NULL,
    UNIQUE (chain, tx_hash, notification_index)
);
CREATE INDEX oracle_requests_state ON oracle_requests (state, updated_at);
CREATE INDEX oracle_requests_requester ON oracle_requests (requester, created_at);

CREATE TABLE oracle_request_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    request    TEXT    NOT NULL REFERENCES oracle_requests (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    at         INTEGER  NOT NULL,
    detail     TEXT
);
CREATE INDEX oracle_request_history_request ON oracle_request_history (request, id);

CREATE TABLE oracle_outbox (
    request           TEXT    PRIMARY KEY NOT NULL REFERENCES oracle_requests (id) ON DELETE CASCADE,
    tx_hash           TEXT    NOT NULL,
    tx                BLOB  NOT NULL,
    valid_until_block INTEGER  NOT NULL,
    attempts          INTEGER NOT NULL,
    created_at        INTEGER  NOT NULL,
    last_sent_at      INTEGER
);
