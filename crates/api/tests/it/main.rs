//! Integration tests of the HTTP API over real stores (SQLite and PostgreSQL), without sockets.

mod common;

mod apikeys;
mod audit;
mod contracts;
mod errors;
mod logs;
mod ops;
mod ratelimit;
mod session;
