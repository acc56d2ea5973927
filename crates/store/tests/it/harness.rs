//! Test databases come from the shared `nsl_store::test_utils` (feature `test-utils`).

pub(crate) use nsl_store::test_utils::TestDb;

#[tokio::test]
async fn store_is_usable_as_a_trait_object() {
    let db = TestDb::sqlite(&[]).await;
    let dynamic: std::sync::Arc<dyn nsl_store::PlatformStore> =
        std::sync::Arc::new(db.store.clone());
    let a = dynamic
        .create_account("via dyn", nsl_store::Role::User)
        .await
        .unwrap();
    assert_eq!(dynamic.account(a.id).await.unwrap(), Some(a));
}
