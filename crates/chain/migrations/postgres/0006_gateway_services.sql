-- Gateway service types other than `oracle` (e.g. `function`) run through the oracle runtime
-- (follower, workers, outbox, sender) and share its tables. `service` is the gateway's serviceType
-- (`oracle` for native OracleContract requests too); `payload` is the request's raw payload for
-- types whose answer is computed from it (NULL for `oracle`, whose url and filter have columns).

ALTER TABLE oracle_requests ADD COLUMN service TEXT NOT NULL DEFAULT 'oracle';
ALTER TABLE oracle_requests ADD COLUMN payload BYTEA;
