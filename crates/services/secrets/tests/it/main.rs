//! Secrets service tests: every case runs against SQLite (temp dir) and PostgreSQL (a fresh
//! database per test on `NSL_TEST_PG_URL`, default postgres://root@127.0.0.1:5432/postgres,
//! dropped at the end even on failure; unreachable PostgreSQL FAILS those tests), each with a real
//! software vault in a temp dir.

mod cases;
mod harness;
mod http;

/// Instantiate each case once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = crate::harness::TestEnv::sqlite().await;
                    crate::cases::$name(&env).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = crate::harness::TestEnv::postgres().await;
                    crate::cases::$name(&env).await;
                }
            )*
        }
    };
}

both_backends!(
    round_trip_versions_and_audit,
    values_never_leak_through_debug_errors_or_audit,
    accounts_are_isolated,
    moved_ciphertext_does_not_decrypt,
    rotation_under_concurrent_reads_and_writes,
    http_round_trip_without_values,
    http_accounts_are_isolated,
    http_secret_quotas_are_per_account,
);
