-- The chain runtime (crates/chain, docs/chain.md) takes over the oracle's tables: one follower
-- cursor per chain, one generic request queue for every chain-facing service, one outbox of
-- signed transactions. Existing rows (history, in-flight responses) move over unchanged; the old
-- tables are dropped.
--
-- chain_cursors          <- oracle_cursors (same columns)
-- chain_requests         <- oracle_requests without url/filter/invalid
-- chain_request_history  <- oracle_request_history (ids kept)
-- chain_outbox           <- oracle_outbox, keyed by transaction hash: several request rows may
--                           point at one transaction (chain_requests.response_tx_hash), and a
--                           push/timer service's transaction has no request row at all
-- oracle_request_fields  <- the oracle's own columns (url, filter, invalid)
-- Timestamps are INTEGER unix milliseconds; transaction hashes are 0x-prefixed big-endian hex text.

CREATE TABLE chain_cursors (
    chain      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    next_block INTEGER  NOT NULL,
    genesis    TEXT,
    updated_at INTEGER  NOT NULL,
    PRIMARY KEY (chain, source)
);
-- The oracle's follower cursor becomes the chain's (source `follower`: one follower per chain).
INSERT INTO chain_cursors (chain, source, next_block, genesis, updated_at)
    SELECT chain, CASE WHEN source = 'oracle' THEN 'follower' ELSE source END, next_block,
        genesis, updated_at FROM oracle_cursors;

CREATE TABLE chain_requests (
    id                 TEXT    PRIMARY KEY NOT NULL,
    chain              TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    service            TEXT    NOT NULL,
    tx_hash            TEXT    NOT NULL,
    notification_index INTEGER  NOT NULL,
    block_index        INTEGER  NOT NULL,
    request_id         INTEGER  NOT NULL,
    requester          TEXT    NOT NULL,
    payload            BLOB,
    gas_budget         INTEGER,
    state              TEXT    NOT NULL CHECK (state IN
                           ('seen', 'fetched', 'outbox', 'sent', 'confirmed', 'failed', 'expired')),
    code               INTEGER,
    result             BLOB,
    response_tx_hash   TEXT,
    confirmed_block    INTEGER,
    claimed_by         TEXT,
    claim_until        INTEGER,
    attempts           INTEGER  NOT NULL DEFAULT 0,
    created_at         INTEGER  NOT NULL,
    updated_at         INTEGER  NOT NULL,
    UNIQUE (chain, tx_hash, notification_index)
);
CREATE INDEX chain_requests_state ON chain_requests (state, updated_at);
CREATE INDEX chain_requests_requester ON chain_requests (requester, created_at);
CREATE INDEX chain_requests_response ON chain_requests (response_tx_hash);
INSERT INTO chain_requests (id, chain, kind, service, tx_hash, notification_index, block_index,
        request_id, requester, payload, gas_budget, state, code, result, response_tx_hash,
        confirmed_block, claimed_by, claim_until, attempts, created_at, updated_at)
    SELECT id, chain, kind, service, tx_hash, notification_index, block_index, request_id,
        requester, payload, gas_budget, state, code, result, response_tx_hash, confirmed_block,
        claimed_by, claim_until, attempts, created_at, updated_at FROM oracle_requests;

CREATE TABLE oracle_request_fields (
    request TEXT PRIMARY KEY NOT NULL REFERENCES chain_requests (id) ON DELETE CASCADE,
    url     TEXT NOT NULL,
    filter  TEXT,
    invalid TEXT
);
INSERT INTO oracle_request_fields (request, url, filter, invalid)
    SELECT id, url, filter, invalid FROM oracle_requests
    WHERE url <> '' OR filter IS NOT NULL OR invalid IS NOT NULL;

CREATE TABLE chain_request_history (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    request TEXT    NOT NULL REFERENCES chain_requests (id) ON DELETE CASCADE,
    state   TEXT    NOT NULL,
    at      INTEGER  NOT NULL,
    detail  TEXT
);
CREATE INDEX chain_request_history_request ON chain_request_history (request, id);
INSERT INTO chain_request_history (id, request, state, at, detail)
    SELECT id, request, state, at, detail FROM oracle_request_history;

CREATE TABLE chain_outbox (
    tx_hash           TEXT    PRIMARY KEY NOT NULL,
    chain             TEXT    NOT NULL,
    service           TEXT    NOT NULL,
    reference         TEXT    NOT NULL,
    tx                BLOB    NOT NULL,
    valid_until_block INTEGER  NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN
                          ('outbox', 'sent', 'confirmed', 'failed', 'expired')),
    attempts          INTEGER  NOT NULL,
    confirmed_block   INTEGER,
    detail            TEXT,
    created_at        INTEGER  NOT NULL,
    last_sent_at      INTEGER,
    updated_at        INTEGER  NOT NULL
);
CREATE INDEX chain_outbox_state ON chain_outbox (state, created_at);
INSERT INTO chain_outbox (tx_hash, chain, service, reference, tx, valid_until_block, state,
        attempts, confirmed_block, detail, created_at, last_sent_at, updated_at)
    SELECT o.tx_hash, r.chain, r.service, 'request ' || r.id, o.tx, o.valid_until_block,
        CASE WHEN r.state IN ('outbox', 'sent', 'confirmed') THEN r.state ELSE 'expired' END,
        o.attempts, CASE WHEN r.state = 'confirmed' THEN r.confirmed_block END, NULL,
        o.created_at, o.last_sent_at, r.updated_at
    FROM oracle_outbox o JOIN oracle_requests r ON r.id = o.request;

DROP TABLE oracle_outbox;
DROP TABLE oracle_request_history;
DROP TABLE oracle_requests;
DROP TABLE oracle_cursors;
