//! Service-level cases, run on both backends by `main.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nsl_egress::{Egress, EgressPolicy};
use nsl_functions::{
    ExecuteMode, ExecutionStatus, FunctionId, FunctionInput, FunctionSecrets, FunctionStore,
    FunctionsConfig, FunctionsError, FunctionsService, LimitsInput, NewExecution,
    NoFunctionSecrets,
};
use nsl_primitives::AccountId;
use nsl_sandbox::SecretValue;
use nsl_store::{AccountStore, Role, now_ms};
use serde_json::{Value, json};

use crate::harness::TestDb;

pub(crate) fn service(db: &TestDb, secrets: Arc<dyn FunctionSecrets>) -> FunctionsService {
    service_with(db, secrets, FunctionsConfig::default())
}

pub(crate) fn service_with(
    db: &TestDb,
    secrets: Arc<dyn FunctionSecrets>,
    config: FunctionsConfig,
) -> FunctionsService {
    let egress = Egress::new(EgressPolicy::default()).expect("egress");
    FunctionsService::new(
        Arc::new(db.store.clone()),
        Arc::new(egress),
        secrets,
        config,
    )
}

pub(crate) async fn account(db: &TestDb, name: &str) -> AccountId {
    db.store
        .create_account(name, Role::User)
        .await
        .expect("account")
        .id
}

fn input(source: &str) -> FunctionInput {
    FunctionInput {
        source: source.into(),
        ..FunctionInput::default()
    }
}

const ADD: &str = r#"
export default async function main(args) {
  console.log("adding", args.a, args.b);
  return { sum: args.a + args.b };
}
"#;

pub(crate) async fn create_and_sync_execute_returns_result_and_logs(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let f = svc.create(alice, "add", &input(ADD)).await.expect("create");
    assert_eq!(f.current.version, 1);
    let e = svc
        .execute(alice, f.id, json!({"a": 2, "b": 40}), ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    assert_eq!(e.result, Some(json!({"sum": 42})));
    assert_eq!(e.error_kind, None);
    let logs = e.logs.as_array().expect("logs array");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["message"], "adding 2 40");
    assert_eq!(logs[0]["level"], "log");
    assert!(e.started_at.is_some() && e.finished_at.is_some());
    assert_eq!(e.fetch_count, Some(0));
    assert!(e.memory_bytes.unwrap_or(0) > 0);
    // The stored row says the same.
    let again = svc.execution(alice, e.id).await.expect("read back");
    assert_eq!(again.result, Some(json!({"sum": 42})));
    assert_eq!(again.args, json!({"a": 2, "b": 40}));
    let list = svc.executions(alice, f.id).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, e.id);
}

pub(crate) async fn update_creates_a_new_version_used_by_later_executions(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let f = svc
        .create(alice, "v", &input("export default () => 'one';"))
        .await
        .expect("create");
    let first = svc
        .execute(alice, f.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("run v1");
    let f2 = svc
        .update(alice, f.id, &input("export default () => 'two';"))
        .await
        .expect("update");
    assert_eq!(f2.current.version, 2);
    assert_eq!(f2.id, f.id);
    let second = svc
        .execute(alice, f.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("run v2");
    assert_eq!((first.version, first.result), (1, Some(json!("one"))));
    assert_eq!((second.version, second.result), (2, Some(json!("two"))));
    // Same name twice for one account is a conflict.
    let dup = svc.create(alice, "v", &input(ADD)).await;
    assert!(matches!(dup, Err(FunctionsError::Conflict)), "{dup:?}");
}

pub(crate) async fn async_execute_then_poll_to_succeeded(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let f = svc.create(alice, "add", &input(ADD)).await.expect("create");
    let queued = svc
        .execute(alice, f.id, json!({"a": 1, "b": 2}), ExecuteMode::Async)
        .await
        .expect("execute");
    assert_eq!(queued.status, ExecutionStatus::Queued);
    assert_eq!(queued.result, None);
    let mut last = None;
    for _ in 0..300 {
        let e = svc.execution(alice, queued.id).await.expect("poll");
        if e.status.is_final() {
            last = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let e = last.expect("execution finished within 30 s");
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    assert_eq!(e.result, Some(json!({"sum": 3})));
}

pub(crate) async fn timeout_is_recorded_as_failed_and_service_keeps_working(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let spin = FunctionInput {
        source: "export default function main() { for (;;) {} }".into(),
        limits: LimitsInput {
            timeout_ms: Some(200),
            ..LimitsInput::default()
        },
        ..FunctionInput::default()
    };
    let f = svc.create(alice, "spin", &spin).await.expect("create");
    assert_eq!(f.current.spec.timeout_ms, 200);
    let e = svc
        .execute(alice, f.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error_kind.as_deref(), Some("timeout"), "{e:?}");
    assert_eq!(e.result, None);
    assert!(e.duration_ms.unwrap_or(0) >= 200, "{e:?}");
    // The service (and its worker pool) still runs other functions.
    let ok = svc.create(alice, "add", &input(ADD)).await.expect("create");
    let e = svc
        .execute(alice, ok.id, json!({"a": 1, "b": 1}), ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.result, Some(json!({"sum": 2})));
    // A script error is recorded with its message.
    let bad = svc
        .create(
            alice,
            "throws",
            &input("export default () => { throw new TypeError('nope'); }"),
        )
        .await
        .expect("create");
    let e = svc
        .execute(alice, bad.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    assert_eq!(e.error_kind.as_deref(), Some("script_error"));
    assert!(
        e.error_message.as_deref().unwrap_or("").contains("nope"),
        "{e:?}"
    );
}

pub(crate) async fn accounts_cannot_see_each_others_functions_or_executions(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let bob = account(db, "bob").await;
    let f = svc.create(alice, "add", &input(ADD)).await.expect("create");
    let e = svc
        .execute(alice, f.id, json!({"a": 1, "b": 2}), ExecuteMode::Sync)
        .await
        .expect("execute");
    let nf = |r: Result<_, FunctionsError>| matches!(r, Err(FunctionsError::NotFound(_)));
    assert!(nf(svc.get(bob, f.id).await.map(|_| ())));
    assert!(nf(svc.update(bob, f.id, &input(ADD)).await.map(|_| ())));
    assert!(nf(svc
        .execute(bob, f.id, json!({"a": 1, "b": 2}), ExecuteMode::Sync)
        .await
        .map(|_| ())));
    assert!(nf(svc
        .execute(bob, f.id, Value::Null, ExecuteMode::Async)
        .await
        .map(|_| ())));
    assert!(nf(svc.executions(bob, f.id).await.map(|_| ())));
    assert!(nf(svc.execution(bob, e.id).await.map(|_| ())));
    assert!(svc.list(bob).await.expect("list").is_empty());
    // Bob may use the same name; Alice's function is unchanged.
    svc.create(bob, "add", &input(ADD))
        .await
        .expect("bob's own");
    let alices = svc.list(alice).await.expect("list");
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0].current.version, 1);
    assert_eq!(svc.executions(alice, f.id).await.expect("list").len(), 1);
}

/// Secrets per account, recording every name asked for.
#[derive(Default)]
pub(crate) struct MapSecrets {
    pub(crate) values: HashMap<(AccountId, String), String>,
    pub(crate) asked: Mutex<Vec<String>>,
}

#[async_trait]
impl FunctionSecrets for MapSecrets {
    async fn secret_for_function(
        &self,
        account: AccountId,
        _function_id: FunctionId,
        name: &str,
    ) -> Result<Option<SecretValue>, String> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(name.to_string());
        }
        Ok(self
            .values
            .get(&(account, name.to_string()))
            .map(|v| SecretValue::new(v.clone())))
    }
}

pub(crate) async fn secrets_are_limited_to_granted_names(db: &TestDb) {
    let alice = account(db, "alice").await;
    let bob = account(db, "bob").await;
    let mut values = HashMap::new();
    values.insert((alice, "API_KEY".to_string()), "alice-key".to_string());
    values.insert((alice, "OTHER".to_string()), "alice-other".to_string());
    values.insert((bob, "API_KEY".to_string()), "bob-key".to_string());
    let secrets = Arc::new(MapSecrets {
        values,
        ..MapSecrets::default()
    });
    let svc = service(db, secrets.clone());
    let source = r#"
export default function main() {
  const key = secrets.get("API_KEY");
  let other;
  try { other = "read:" + secrets.get("OTHER").length; } catch (e) { other = String(e); }
  return { key_is_alice: key === "alice-key", key_is_bob: key === "bob-key", other };
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
    let r = e.result.expect("result");
    assert_eq!(r["key_is_alice"], true);
    assert_eq!(r["key_is_bob"], false);
    let other = r["other"].as_str().expect("other");
    assert!(other.contains("not available"), "{other}");
    // The ungranted name never reached the secrets source.
    let asked = secrets.asked.lock().map(|a| a.clone()).unwrap_or_default();
    assert_eq!(asked, vec!["API_KEY".to_string()]);
    // Bob's function with the same grant reads Bob's secret, not Alice's.
    let fb = svc.create(bob, "s", &grant).await.expect("create");
    let e = svc
        .execute(bob, fb.id, Value::Null, ExecuteMode::Sync)
        .await
        .expect("execute");
    let r = e.result.expect("result");
    assert_eq!(
        (r["key_is_alice"].clone(), r["key_is_bob"].clone()),
        (json!(false), json!(true))
    );
}

const FETCH: &str = r#"
export default async function main(args) {
  try {
    const r = await fetch(args.url);
    return { ok: true, status: r.status };
  } catch (e) {
    return { ok: false, error: String(e) };
  }
}
"#;

pub(crate) async fn fetch_outside_the_allowlist_is_refused(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let f = svc
        .create(
            alice,
            "fetch",
            &FunctionInput {
                source: FETCH.into(),
                allowed_hosts: vec!["api.example.com".into()],
                ..FunctionInput::default()
            },
        )
        .await
        .expect("create");
    let e = svc
        .execute(
            alice,
            f.id,
            json!({"url": "https://other.example.org/data"}),
            ExecuteMode::Sync,
        )
        .await
        .expect("execute");
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    let r = e.result.expect("result");
    assert_eq!(r["ok"], false, "{r}");
    let error = r["error"].as_str().unwrap_or("");
    assert!(
        error.contains("other.example.org") && error.contains("not on this function's allowlist"),
        "{r}"
    );
}

pub(crate) async fn fetch_goes_through_egress_which_refuses_loopback(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    // The allowlist lets 127.0.0.1 through the sandbox; the egress SSRF guard must refuse it.
    let f = svc
        .create(
            alice,
            "fetch",
            &FunctionInput {
                source: FETCH.into(),
                allowed_hosts: vec!["127.0.0.1".into()],
                ..FunctionInput::default()
            },
        )
        .await
        .expect("create");
    let e = svc
        .execute(
            alice,
            f.id,
            json!({"url": "https://127.0.0.1:9/admin"}),
            ExecuteMode::Sync,
        )
        .await
        .expect("execute");
    let r = e.result.expect("result");
    assert_eq!(r["ok"], false, "{r}");
    let error = r["error"].as_str().unwrap_or("");
    assert!(
        error.contains("refused") && error.contains("forbidden"),
        "{error}"
    );
    assert_eq!(
        e.fetch_count,
        Some(1),
        "the request reached the egress host"
    );
}

pub(crate) async fn invalid_source_and_limits_are_rejected_and_limits_clamped(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let reason = |r: Result<nsl_functions::FunctionRecord, FunctionsError>| match r {
        Err(FunctionsError::Invalid { reason, .. }) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let big = "x".repeat(FunctionsConfig::default().max_source_bytes + 1);
    assert_eq!(
        reason(svc.create(alice, "big", &input(&big)).await),
        "source_too_large"
    );
    assert_eq!(
        reason(svc.create(alice, "empty", &input("  ")).await),
        "empty_source"
    );
    let zero = FunctionInput {
        limits: LimitsInput {
            timeout_ms: Some(0),
            ..LimitsInput::default()
        },
        ..input(ADD)
    };
    assert_eq!(
        reason(svc.create(alice, "zero", &zero).await),
        "invalid_limits"
    );
    let tiny = FunctionInput {
        limits: LimitsInput {
            memory_bytes: Some(1024),
            ..LimitsInput::default()
        },
        ..input(ADD)
    };
    assert_eq!(
        reason(svc.create(alice, "tiny", &tiny).await),
        "invalid_limits"
    );
    let host = FunctionInput {
        allowed_hosts: vec!["https://x.com/path".into()],
        ..input(ADD)
    };
    assert_eq!(
        reason(svc.create(alice, "host", &host).await),
        "invalid_host"
    );
    let secret = FunctionInput {
        secrets: vec!["bad name".into()],
        ..input(ADD)
    };
    assert_eq!(
        reason(svc.create(alice, "secret", &secret).await),
        "invalid_secret_name"
    );
    assert_eq!(
        reason(svc.create(alice, "", &input(ADD)).await),
        "invalid_name"
    );
    // Above the operator maxima: clamped, not refused.
    let greedy = FunctionInput {
        limits: LimitsInput {
            timeout_ms: Some(3_600_000),
            memory_bytes: Some(1 << 40),
            max_fetches: Some(1000),
        },
        ..input(ADD)
    };
    let f = svc.create(alice, "greedy", &greedy).await.expect("clamped");
    assert_eq!(f.current.spec.timeout_ms, 10_000);
    assert_eq!(f.current.spec.memory_bytes, 128 * 1024 * 1024);
    assert_eq!(f.current.spec.max_fetches, 5);
    assert!(
        svc.list(alice).await.expect("list").len() == 1,
        "nothing invalid was stored"
    );
}

pub(crate) async fn recover_marks_unfinished_executions_interrupted(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let f = svc.create(alice, "add", &input(ADD)).await.expect("create");
    let done = svc
        .execute(alice, f.id, json!({"a": 1, "b": 1}), ExecuteMode::Sync)
        .await
        .expect("execute");
    // Rows a crashed process left behind: one running, one still queued.
    let new = NewExecution {
        function_id: f.id,
        account_id: alice,
        version: 1,
        args: Value::Null,
        chain: None,
    };
    let running = db
        .store
        .insert_execution(&new, now_ms())
        .await
        .expect("insert");
    assert!(
        db.store
            .mark_execution_running(running.id, now_ms())
            .await
            .expect("mark")
    );
    let queued = db
        .store
        .insert_execution(&new, now_ms())
        .await
        .expect("insert");
    assert_eq!(svc.recover().await.expect("recover"), 2);
    for id in [running.id, queued.id] {
        let e = svc.execution(alice, id).await.expect("read");
        assert_eq!(e.status, ExecutionStatus::Failed);
        assert_eq!(e.error_kind.as_deref(), Some("interrupted"));
        assert!(e.finished_at.is_some());
    }
    let e = svc.execution(alice, done.id).await.expect("read");
    assert_eq!(
        e.status,
        ExecutionStatus::Succeeded,
        "finished rows are left alone"
    );
    assert_eq!(svc.recover().await.expect("recover again"), 0);
}

pub(crate) async fn pending_executions_are_bounded(db: &TestDb) {
    let svc = service_with(
        db,
        Arc::new(NoFunctionSecrets),
        FunctionsConfig {
            max_pending: 1,
            ..FunctionsConfig::default()
        },
    );
    let alice = account(db, "alice").await;
    let spin = FunctionInput {
        source: "export default function main() { for (;;) {} }".into(),
        limits: LimitsInput {
            timeout_ms: Some(1_000),
            ..LimitsInput::default()
        },
        ..FunctionInput::default()
    };
    let f = svc.create(alice, "spin", &spin).await.expect("create");
    let first = svc
        .execute(alice, f.id, Value::Null, ExecuteMode::Async)
        .await
        .expect("first is accepted");
    let second = svc
        .execute(alice, f.id, Value::Null, ExecuteMode::Async)
        .await;
    assert!(matches!(second, Err(FunctionsError::Busy)), "{second:?}");
    for _ in 0..300 {
        if svc
            .execution(alice, first.id)
            .await
            .expect("poll")
            .status
            .is_final()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the finished task a moment to release its slot.
    let mut accepted = None;
    for _ in 0..100 {
        match svc
            .execute(alice, f.id, Value::Null, ExecuteMode::Async)
            .await
        {
            Ok(e) => {
                accepted = Some(e);
                break;
            }
            Err(FunctionsError::Busy) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        accepted.is_some(),
        "a slot is free again once the first finished"
    );
}
