//! `nsl_node::functions_secrets::SecretsForFunctions`: functions read granted secrets from the
//! real secrets service (vault, store, audit), moved here from `nsl-functions` with the adapter.

use std::sync::Arc;

use nsl_egress::{Egress, EgressPolicy};
use nsl_functions::{
    ExecuteMode, ExecutionStatus, FunctionInput, FunctionSecrets, FunctionsConfig, FunctionsService,
};
use nsl_node::functions_secrets::SecretsForFunctions;
use nsl_primitives::AccountId;
use nsl_store::test_utils::TestDb;
use nsl_store::{AccountStore, Role};
use serde_json::{Value, json};

fn service(db: &TestDb, secrets: Arc<dyn FunctionSecrets>) -> FunctionsService {
    let egress = Egress::new(EgressPolicy::default()).expect("egress");
    FunctionsService::new(
        Arc::new(db.store.clone()),
        Arc::new(egress),
        secrets,
        FunctionsConfig::default(),
    )
}

async fn account(db: &TestDb, name: &str) -> AccountId {
    db.store
        .create_account(name, Role::User)
        .await
        .expect("account")
        .id
}

pub(crate) async fn nsl_secrets_service_serves_granted_secrets_and_audits_reads(db: &TestDb) {
    use nsl_store::{AuditFilter, AuditStore};
    let data_dir = db.data_dir().to_path_buf();
    let vault = tokio::task::spawn_blocking(move || nsl_secrets::open_node_vault(&data_dir, true))
        .await
        .expect("join")
        .expect("vault");
    let secrets = Arc::new(nsl_secrets::SecretsService::new(
        db.store.clone(),
        Arc::new(vault),
    ));
    let source_of_secrets = Arc::new(SecretsForFunctions::new(secrets.clone()));
    let alice = account(db, "alice").await;
    let bob = account(db, "bob").await;
    let actor = |a: AccountId| nsl_secrets::Actor {
        name: a.to_string(),
        ip: None,
    };
    secrets
        .put(alice, "API_KEY", b"alice-key", &actor(alice))
        .await
        .expect("put");
    secrets
        .put(alice, "OTHER", b"alice-other", &actor(alice))
        .await
        .expect("put");
    secrets
        .put(bob, "API_KEY", b"bob-key", &actor(bob))
        .await
        .expect("put");
    let svc = service(db, source_of_secrets);
    let source = r#"
export default function main() {
  const key = secrets.get("API_KEY");
  console.log("key is", key);
  let other;
  try { secrets.get("OTHER"); other = "read"; } catch (e) { other = String(e); }
  return { alice: key === "alice-key", bob: key === "bob-key", other };
}
"#;
    let grant = FunctionInput {
        source: source.into(),
        secrets: vec!["API_KEY".into()],
        ..FunctionInput::default()
    };
    let fa = svc.create(alice, "s", &grant).await.expect("create");
    let e = svc
        .execute(alice, fa.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    let r = e.result.clone().expect("result");
    assert_eq!(
        (r["alice"].clone(), r["bob"].clone()),
        (json!(true), json!(false))
    );
    assert!(
        r["other"].as_str().unwrap_or("").contains("not available"),
        "{r}"
    );
    // The value read is redacted from the stored logs.
    let logs = e.logs.to_string();
    assert!(
        !logs.contains("alice-key") && logs.contains("key is"),
        "{logs}"
    );
    // Exactly one audited read, naming the function; none for the ungranted name.
    let page = db
        .store
        .list_audit(&AuditFilter {
            action: Some("secret.read".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(page.entries.len(), 1, "{:?}", page.entries);
    assert_eq!(page.entries[0].detail["function_id"], fa.id.to_string());
    assert_eq!(page.entries[0].detail["name"], "API_KEY");
    // Bob's function with the same grant gets Bob's value.
    let fb = svc.create(bob, "s", &grant).await.expect("create");
    let e = svc
        .execute(bob, fb.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    let r = e.result.expect("result");
    assert_eq!(
        (r["alice"].clone(), r["bob"].clone()),
        (json!(false), json!(true))
    );
}

/// Issue #9 item 2: a function calling `secrets.get` 10,000 times in a loop stops at the
/// per-execution cap with a clear error, and each name is decrypted and audited once per
/// execution (the audit log gets one `secret.read` row per name, not thousands).
pub(crate) async fn secrets_get_is_cached_and_capped_per_execution(db: &TestDb) {
    use nsl_store::{AuditFilter, AuditStore};
    let data_dir = db.data_dir().to_path_buf();
    let vault = tokio::task::spawn_blocking(move || nsl_secrets::open_node_vault(&data_dir, true))
        .await
        .expect("join")
        .expect("vault");
    let secrets = Arc::new(nsl_secrets::SecretsService::new(
        db.store.clone(),
        Arc::new(vault),
    ));
    let source_of_secrets = Arc::new(SecretsForFunctions::new(secrets.clone()));
    let alice = account(db, "alice").await;
    let actor = nsl_secrets::Actor {
        name: alice.to_string(),
        ip: None,
    };
    for name in ["A", "B"] {
        secrets
            .put(alice, name, format!("value-{name}").as_bytes(), &actor)
            .await
            .expect("put");
    }
    let svc = service(db, source_of_secrets);
    let flood = FunctionInput {
        source: r#"
export default function main() {
  let n = 0;
  for (let i = 0; i < 10000; i++) { secrets.get(i % 2 ? "A" : "B"); n++; }
  return n;
}
"#
        .into(),
        secrets: vec!["A".into(), "B".into()],
        ..FunctionInput::default()
    };
    let f = svc.create(alice, "flood", &flood).await.expect("create");
    let e = svc
        .execute(alice, f.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.status, ExecutionStatus::Failed, "{e:?}");
    assert_eq!(e.error_kind.as_deref(), Some("host_error"), "{e:?}");
    assert!(
        e.error_message
            .as_deref()
            .unwrap_or("")
            .contains("secrets.get limit reached: at most 100 calls"),
        "{e:?}"
    );
    let reads = |page: nsl_store::AuditPage| {
        let mut names: Vec<String> = page
            .entries
            .iter()
            .map(|e| e.detail["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        names
    };
    let filter = AuditFilter {
        action: Some("secret.read".into()),
        limit: 1000,
        ..AuditFilter::default()
    };
    let page = db.store.list_audit(&filter).await.expect("audit");
    assert_eq!(reads(page), ["A", "B"], "one audited read per name");

    // Under the cap the cache serves repeated reads with the same value; the next execution
    // decrypts (and audits) again.
    let ok = FunctionInput {
        source: r#"
export default function main() {
  let same = true;
  for (let i = 0; i < 50; i++) { same = same && secrets.get("A") === "value-A"; }
  return same;
}
"#
        .into(),
        secrets: vec!["A".into()],
        ..FunctionInput::default()
    };
    let g = svc.create(alice, "cached", &ok).await.expect("create");
    let e = svc
        .execute(alice, g.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    assert_eq!(e.result, Some(json!(true)));
    let page = db.store.list_audit(&filter).await.expect("audit");
    assert_eq!(reads(page), ["A", "A", "B"]);
}
