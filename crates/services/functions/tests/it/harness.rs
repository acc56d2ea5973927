//! Test databases come from the shared `nsl_store::test_utils` (feature `test-utils`): a SQLite
//! file in a temp dir, or a fresh PostgreSQL database per test on `NSL_TEST_PG_URL` (default
//! postgres://root@127.0.0.1:5432/postgres), dropped at the end even when the test fails.
//! PostgreSQL being unreachable FAILS the PostgreSQL tests.

pub(crate) use nsl_store::test_utils::TestDb;
