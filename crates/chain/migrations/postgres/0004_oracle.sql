-- Oracle service (crates/services/oracle/src/service): follower cursors, request rows with their
-- state history, and the outbox of signed response transactions (written before broadcast).
-- Timestamps are BIGINT unix milliseconds; transaction hashes are 0x-prefixed big-endian hex text.

CREATE TABLE oracle_cursors (
    chain      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    next_block BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (chain, source)
);

CREATE TABLE oracle_requests (
    id                 TEXT    PRIMARY KEY NOT NULL,
    chain              TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('gateway', 'native')),
    tx_hash            TEXT    NOT NULL,
    notification_index BIGINT  NOT NULL,
    block_index        BIGINT  NOT NULL,
    request_id         BIGINT  NOT NULL,
    requester          TEXT    NOT NULL,
    url                TEXT    NOT NULL,
    filter             TEXT,
    invalid            TEXT,
    state              TEXT    NOT NULL CHECK (state IN
                           ('seen', 'fetched', 'outbox', 'sent', 'confirmed', 'failed', 'expired')),
    code               BIGINT,
    result             BYTEA,
    response_tx_hash   TEXT,
    confirmed_block    BIGINT,
    claimed_by         TEXT,
    claim_until        BIGINT,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    UNIQUE (chain, tx_hash, notification_index)
);
CREATE INDEX oracle_requests_state ON oracle_requests (state, updated_at);
CREATE INDEX oracle_requests_requester ON oracle_requests (requester, created_at);

CREATE TABLE oracle_request_history (
    id         BIGSERIAL PRIMARY KEY,
    request    TEXT    NOT NULL REFERENCES oracle_requests (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    detail     TEXT
);
CREATE INDEX oracle_request_history_request ON oracle_request_history (request, id);

CREATE TABLE oracle_outbox (
    request           TEXT    PRIMARY KEY NOT NULL REFERENCES oracle_requests (id) ON DELETE CASCADE,
    tx_hash           TEXT    NOT NULL,
    tx                BYTEA  NOT NULL,
    valid_until_block BIGINT  NOT NULL,
    attempts          BIGINT  NOT NULL,
    created_at        BIGINT  NOT NULL,
    last_sent_at      BIGINT
);
