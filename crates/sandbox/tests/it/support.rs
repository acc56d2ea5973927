//! Fakes below the host traits and helpers shared by the tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nsl_sandbox::{
    ExecutionRequest, ExecutionScope, FetchHost, FetchRequest, FetchResponse, HostError, Limits,
    Report, Sandbox, SandboxConfig, SecretValue, SecretsHost, Status,
};

/// Records every request and answers with a canned response.
#[derive(Default)]
pub(crate) struct FakeFetch {
    pub(crate) calls: Mutex<Vec<FetchRequest>>,
    pub(crate) response_body: Mutex<Vec<u8>>,
}

impl FakeFetch {
    pub(crate) fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl FetchHost for FakeFetch {
    fn fetch(
        &self,
        _: &ExecutionScope,
        request: &FetchRequest,
    ) -> Result<FetchResponse, HostError> {
        self.calls.lock().unwrap().push(request.clone());
        let body = self.response_body.lock().unwrap().clone();
        let body = if body.is_empty() {
            format!(
                "{{\"method\":\"{}\",\"url\":\"{}\",\"body_len\":{}}}",
                request.method,
                request.url,
                request.body.len()
            )
            .into_bytes()
        } else {
            body
        };
        Ok(FetchResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
        })
    }
}

/// Secrets per (owner, function).
#[derive(Default)]
pub(crate) struct FakeSecrets {
    pub(crate) store: HashMap<(String, String), HashMap<String, String>>,
    pub(crate) calls: Mutex<Vec<(ExecutionScope, String)>>,
}

impl SecretsHost for FakeSecrets {
    fn get(&self, scope: &ExecutionScope, name: &str) -> Result<Option<SecretValue>, HostError> {
        self.calls
            .lock()
            .unwrap()
            .push((scope.clone(), name.to_string()));
        Ok(self
            .store
            .get(&(scope.owner.clone(), scope.function_id.clone()))
            .and_then(|m| m.get(name))
            .map(|v| SecretValue::new(v.clone())))
    }
}

pub(crate) struct Harness {
    pub(crate) sandbox: Arc<Sandbox>,
    pub(crate) fetch: Arc<FakeFetch>,
    pub(crate) secrets: Arc<FakeSecrets>,
}

pub(crate) fn harness() -> Harness {
    harness_with(SandboxConfig::default())
}

pub(crate) fn harness_with(config: SandboxConfig) -> Harness {
    let fetch = Arc::new(FakeFetch::default());
    let mut secrets = FakeSecrets::default();
    secrets.store.insert(
        ("alice".into(), "fn-a".into()),
        HashMap::from([
            ("API_KEY".to_string(), "alice-key-123456".to_string()),
            ("OTHER".to_string(), "alice-other-789".to_string()),
        ]),
    );
    secrets.store.insert(
        ("bob".into(), "fn-b".into()),
        HashMap::from([("API_KEY".to_string(), "bob-key-abcdef".to_string())]),
    );
    let secrets = Arc::new(secrets);
    let sandbox = Arc::new(Sandbox::new(config, fetch.clone(), secrets.clone()));
    Harness {
        sandbox,
        fetch,
        secrets,
    }
}

/// A request for `source` as alice's function fn-a, with short limits suited to tests.
pub(crate) fn request(source: &str) -> ExecutionRequest {
    ExecutionRequest {
        source: source.to_string(),
        args: serde_json::json!({}),
        limits: test_limits(),
        scope: ExecutionScope {
            owner: "alice".into(),
            function_id: "fn-a".into(),
        },
        allowed_hosts: vec!["api.example.com".into(), "*.data.example.org".into()],
        granted_secrets: vec!["API_KEY".into()],
    }
}

pub(crate) fn test_limits() -> Limits {
    Limits {
        timeout_ms: 1_000,
        memory_bytes: 32 * 1024 * 1024,
        ..Limits::default()
    }
}

pub(crate) fn run(h: &Harness, source: &str) -> Report {
    h.sandbox.execute(&request(source))
}

pub(crate) fn script_message(report: &Report) -> String {
    match &report.status {
        Status::ScriptError { message, .. } => message.clone(),
        other => panic!("expected a script error, got {other:?}"),
    }
}

/// A normal execution; asserts it succeeds with the expected result.
pub(crate) const NORMAL: &str = r#"
export default async function main(args) {
  const a = [3, 1, 2].sort();
  return { sum: a.reduce((x, y) => x + y, 0), n: args.n, proto: Object.keys(Object.prototype).length };
}
"#;

pub(crate) fn assert_normal_ok(h: &Harness) {
    let mut req = request(NORMAL);
    req.args = serde_json::json!({ "n": 7 });
    let r = h.sandbox.execute(&req);
    assert_eq!(r.status, Status::Ok, "normal execution failed: {r:?}");
    assert_eq!(
        r.result,
        Some(serde_json::json!({ "sum": 6, "n": 7, "proto": 0 }))
    );
}
