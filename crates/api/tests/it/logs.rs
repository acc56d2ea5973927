//! Log output during login, API key and refresh flows never contains a credential.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use nsl_config::LogFormat;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::common::{Backend, app, call, create_key};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn flows_never_log_credentials(b: Backend, format: LogFormat) {
    let cap = Capture::default();
    let sub = nsl_api::telemetry::subscriber(format, "trace", cap.clone()).expect("subscriber");
    let _guard = tracing::subscriber::set_default(sub);

    let t = app(b).await;
    let key = neo::PrivateKey::generate();
    let mut secrets: Vec<String> = Vec::new();

    // Login (salted envelope), by hand to keep the signature.
    let ch = call(
        &t.app,
        Method::POST,
        "/v1/auth/challenge",
        Some(json!({"address": key.address()})),
        None,
    )
    .await;
    let salt = "0f0e0d0c0b0a09080706050403020100";
    let sig = hex::encode(neo::sign_message(&key, salt, &ch.str("message")));
    let body = json!({"nonce": ch.str("nonce"), "public_key": key.public_key().to_hex(), "signature": sig, "salt": salt});
    let login = call(&t.app, Method::POST, "/v1/auth/login", Some(body), None).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let access = login.str("access_token");
    let refresh = login.str("refresh_token");
    secrets.extend([sig.clone(), access.clone(), refresh.clone()]);

    // A failed login with a signature of another key.
    let ch = call(
        &t.app,
        Method::POST,
        "/v1/auth/challenge",
        Some(json!({"address": key.address()})),
        None,
    )
    .await;
    let bad_sig = hex::encode(neo::sign_message(
        &neo::PrivateKey::generate(),
        "",
        &ch.str("message"),
    ));
    let body = json!({"nonce": ch.str("nonce"), "public_key": key.public_key().to_hex(), "signature": bad_sig});
    assert_eq!(
        call(&t.app, Method::POST, "/v1/auth/login", Some(body), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    secrets.push(bad_sig);

    // API keys: create, use, use a wrong one, revoke.
    let k = create_key(&t.app, &access, json!({"name": "logged?"})).await;
    let api_key = k.str("key");
    secrets.push(api_key.clone());
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&api_key))
            .await
            .status,
        StatusCode::OK
    );
    let wrong = format!("{}{}", &api_key[..api_key.len() - 4], "ffff");
    secrets.push(wrong.clone());
    call(&t.app, Method::GET, "/v1/me", None, Some(&wrong)).await;
    call(
        &t.app,
        Method::DELETE,
        &format!("/v1/apikeys/{}", k.str("id")),
        None,
        Some(&access),
    )
    .await;

    // Refresh, replay, logout.
    let r = call(
        &t.app,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": refresh})),
        None,
    )
    .await;
    let (access2, refresh2) = (r.str("access_token"), r.str("refresh_token"));
    secrets.extend([access2, refresh2.clone()]);
    call(
        &t.app,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": refresh})),
        None,
    )
    .await;
    call(
        &t.app,
        Method::POST,
        "/v1/auth/logout",
        Some(json!({"refresh_token": refresh2})),
        None,
    )
    .await;
    // Bearer garbage that looks like a JWT.
    call(
        &t.app,
        Method::GET,
        "/v1/me",
        None,
        Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZw"),
    )
    .await;
    secrets.push("c2VjcmV0LXNpZw".into());

    drop(t);
    let logs = String::from_utf8(cap.0.lock().expect("lock").clone()).expect("utf8");
    // The capture really saw the request logs (else this test proves nothing).
    assert!(
        logs.contains("request finished"),
        "no request logs captured"
    );
    assert!(
        logs.contains("/v1/auth/login") && logs.contains("/v1/apikeys"),
        "routes missing"
    );
    assert!(logs.contains("request_id"), "request ids missing");
    for s in &secrets {
        // Whole secrets and their distinctive tails (a prefix like `nsl_<prefix>` is fine to log).
        let tail = &s[s.len().saturating_sub(24)..];
        assert!(
            !logs.contains(tail),
            "a credential appears in the logs ({} chars)",
            s.len()
        );
    }
    assert!(
        !logs.to_ascii_lowercase().contains("bearer "),
        "an Authorization header was logged"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn json_logs_sqlite() {
    flows_never_log_credentials(Backend::Sqlite, LogFormat::Json).await;
}

#[tokio::test(flavor = "current_thread")]
async fn human_logs_postgres() {
    flows_never_log_credentials(Backend::Postgres, LogFormat::Human).await;
}
