//! Repository tests: every case runs against SQLite (temp dir) and PostgreSQL (a fresh database
//! per test on `NSL_TEST_PG_URL`, default postgres://root@127.0.0.1:5432/postgres, dropped at the
//! end even on failure). PostgreSQL being unreachable FAILS the PostgreSQL tests.

mod cases;
mod harness;
mod schema;

/// Instantiate each case once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::harness::TestDb::sqlite(&[]).await;
                    crate::cases::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::harness::TestDb::postgres(&[]).await;
                    crate::cases::$name(&db).await;
                }
            )*
        }
    };
}

both_backends!(
    migrations_are_idempotent,
    accounts_roles_and_wallets,
    account_with_wallet_is_atomic,
    api_keys_lifecycle,
    challenges_are_single_use,
    concurrent_challenge_take_has_one_winner,
    refresh_token_rotation_and_revocation,
    concurrent_refresh_rotation_has_one_winner,
    audit_append_list_and_verify,
    audit_detects_modified_row,
    audit_detects_deleted_rows,
    audit_detects_rewritten_hash,
    audit_concurrent_appends_from_two_pools_keep_one_chain,
    audit_keyed_chain_resists_recomputation_without_the_key,
    audit_keyed_head_detects_truncation,
    contracts_register_list_and_remove,
    contracts_go_with_their_account,
    a_malformed_stored_value_is_reported_as_corrupt,
);
