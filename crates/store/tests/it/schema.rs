//! The platform's migrations build the same schema on both backends. Every crate's migrations
//! together: `nsl-node` (tests/it/migrations.rs), where the whole composition is known.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_migrations_build_the_same_schema_on_sqlite_and_postgres() {
    let tables = nsl_store::test_utils::assert_same_schema(&[]).await;
    for table in ["accounts", "api_keys", "audit_head", "account_contracts"] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing: {tables:?}"
        );
    }
    // Service tables are not the platform's.
    assert!(
        !tables
            .iter()
            .any(|t| t == "secret_versions" || t.starts_with("chain_")),
        "{tables:?}"
    );
}
