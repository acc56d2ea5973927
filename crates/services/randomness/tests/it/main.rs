//! Randomness service tests: every case runs against SQLite (temp dir) and PostgreSQL (a fresh
//! database per test on `NSL_TEST_PG_URL`, default postgres://root@127.0.0.1:5432/postgres;
//! unreachable PostgreSQL FAILS those tests), with a real ECVRF key (`nsl-vrf`) and the routes on
//! the real API server.

mod cases;
mod harness;

/// Instantiate each case once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = crate::harness::TestEnv::sqlite().await;
                    crate::cases::$name(&env).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = crate::harness::TestEnv::postgres().await;
                    crate::cases::$name(&env).await;
                }
            )*
        }
    };
}

both_backends!(
    api_randomness_verifies_and_is_recorded_and_audited,
    api_refuses_bad_input_with_stable_codes,
    key_route_shows_the_key_and_its_gateway_status,
    gateway_answers_verify_and_are_readable_by_id,
    api_sequence_numbers_fix_alpha_per_account_without_gaps,
);
