-- Oracle request rows count their claims (crates/services/oracle/src/service/store.rs): each claim
-- adds one, a claim given back by a live worker (transient error, shutdown) takes it back. A row
-- claimed more than `oracle.max_attempts` times (its worker crashed or hung each time) is answered
-- with code Error instead of being worked on again.
ALTER TABLE oracle_requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
