//! nsl-node integration tests: the adapters the node wires between services and the composed
//! migrations, on both backends (SQLite in a temp dir, a fresh PostgreSQL database per test).

mod functions_secrets;
mod migrations;

/// Instantiate each case once per backend.
macro_rules! both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = nsl_store::test_utils::TestDb::sqlite(nsl_node::MIGRATIONS).await;
                    crate::$module::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = nsl_store::test_utils::TestDb::postgres(nsl_node::MIGRATIONS).await;
                    crate::$module::$name(&db).await;
                }
            )*
        }
    };
}

both_backends!(
    functions_secrets::nsl_secrets_service_serves_granted_secrets_and_audits_reads,
    functions_secrets::secrets_get_is_cached_and_capped_per_execution,
    migrations::a_shipped_database_reopens_without_rerun,
);
