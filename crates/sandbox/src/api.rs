//! Native side of the host API (`fetch`, `secrets`, `crypto`, `console`) and the per-execution
//! state it shares with the executor.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hmac::{Hmac, Mac};
use rand::RngCore;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Function, Object, TypedArray, Value};
use sha2::{Digest, Sha256};

use crate::host::{
    ExecutionScope, FetchHost, FetchRequest, HostError, HostPattern, SecretValue, SecretsHost,
};
use crate::limits::{Limits, MAX_RANDOM_BYTES};
use crate::report::{LOG_TRUNCATED_MARKER, LogEntry, LogLevel};

/// Replacement for secret values found in logs and error messages.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Methods `fetch` accepts.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Request headers a script may not set (they would let it bypass the allowlist or framing).
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// Everything the natives of one execution share.
pub(crate) struct ExecState {
    pub(crate) limits: Limits,
    pub(crate) deadline: Instant,
    pub(crate) scope: ExecutionScope,
    allowed_hosts: Vec<HostPattern>,
    granted_secrets: HashSet<String>,
    fetch_host: Arc<dyn FetchHost>,
    secrets_host: Arc<dyn SecretsHost>,
    timed_out: AtomicBool,
    inner: Mutex<Mutable>,
}

#[derive(Default)]
struct Mutable {
    fetch_count: u32,
    logs: Vec<LogEntry>,
    log_bytes: usize,
    logs_truncated: bool,
    revealed: Vec<SecretValue>,
    /// `secrets.get` calls so far (cached answers included).
    secret_gets: u32,
    /// Name -> index in `revealed`: each name is asked of the host (decrypt + audit) once.
    secret_cache: std::collections::HashMap<String, usize>,
    host_errors: Vec<String>,
}

/// What the executor takes out of the state at the end.
pub(crate) struct Collected {
    pub(crate) fetch_count: u32,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) logs_truncated: bool,
}

impl ExecState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        limits: Limits,
        deadline: Instant,
        scope: ExecutionScope,
        allowed_hosts: &[String],
        granted_secrets: &[String],
        fetch_host: Arc<dyn FetchHost>,
        secrets_host: Arc<dyn SecretsHost>,
    ) -> Self {
        Self {
            limits,
            deadline,
            scope,
            allowed_hosts: allowed_hosts
                .iter()
                .filter_map(|p| HostPattern::parse(p))
                .collect(),
            granted_secrets: granted_secrets.iter().cloned().collect(),
            fetch_host,
            secrets_host,
            timed_out: AtomicBool::new(false),
            inner: Mutex::new(Mutable::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Mutable> {
        // A poisoned lock only means a panic elsewhere; the counters are still meaningful.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checked by the interrupt handler and the job loop.
    pub(crate) fn check_deadline(&self) -> bool {
        if self.timed_out.load(Ordering::Relaxed) {
            return true;
        }
        if Instant::now() >= self.deadline {
            self.timed_out.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Whether `message` is the message of an error raised by the host API.
    pub(crate) fn is_host_error(&self, message: &str) -> bool {
        self.lock().host_errors.iter().any(|m| m == message)
    }

    /// Replace every secret value revealed during this execution by [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        redact_with(&self.lock().revealed, text)
    }

    pub(crate) fn collect(&self) -> Collected {
        let mut m = self.lock();
        Collected {
            fetch_count: m.fetch_count,
            logs: std::mem::take(&mut m.logs),
            logs_truncated: m.logs_truncated,
        }
    }

    /// Append a console line; false once the log budget is used up.
    fn log(&self, level: LogLevel, message: &str) -> bool {
        let max = self.limits.max_log_bytes;
        let mut m = self.lock();
        if m.logs_truncated {
            return false;
        }
        let message = redact_with(&m.revealed, message);
        let room = max.saturating_sub(m.log_bytes);
        if message.len() <= room {
            m.log_bytes += message.len();
            m.logs.push(LogEntry { level, message });
            return true;
        }
        let mut cut = room;
        while cut > 0 && !message.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut > 0 {
            let head = message.get(..cut).unwrap_or_default().to_string();
            m.logs.push(LogEntry {
                level,
                message: head,
            });
        }
        m.log_bytes = max;
        m.logs_truncated = true;
        m.logs.push(LogEntry {
            level: LogLevel::Warn,
            message: LOG_TRUNCATED_MARKER.to_string(),
        });
        false
    }

    fn host_error<'js>(&self, ctx: &Ctx<'js>, message: String) -> rquickjs::Error {
        self.lock().host_errors.push(message.clone());
        throw_named(ctx, "HostError", &message)
    }
}

fn redact_with(revealed: &[SecretValue], text: &str) -> String {
    let mut out = text.to_string();
    for s in revealed {
        // Very short values would redact innocent text and reveal the value by its absence.
        if s.expose().len() >= 4 && out.contains(s.expose()) {
            out = out.replace(s.expose(), REDACTED);
        }
    }
    out
}

/// Throw `new Error(message)` with `name` set.
fn throw_named<'js>(ctx: &Ctx<'js>, name: &str, message: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message) {
        Ok(e) => {
            // Own data property: shadows the (tamed, frozen) Error.prototype.name.
            let _ = e.as_object().set("name", name);
            ctx.throw(e.into_value())
        }
        Err(e) => e,
    }
}

fn type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_type(ctx, message)
}

/// Bytes of a string or Uint8Array argument (the prelude normalizes everything else).
fn arg_bytes(ctx: &Ctx<'_>, value: &Value<'_>, what: &str) -> rquickjs::Result<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Ok(s.to_string()?.into_bytes());
    }
    if let Some(obj) = value.as_object()
        && let Ok(ta) = TypedArray::<u8>::from_object(obj.clone())
    {
        // SAFETY: the slice is copied before any JavaScript runs again.
        let bytes = unsafe { ta.as_bytes() };
        return Ok(bytes.map(<[u8]>::to_vec).unwrap_or_default());
    }
    Err(type_error(
        ctx,
        &format!("{what} must be a string or Uint8Array"),
    ))
}

/// Build the native functions handed to the prelude, in its parameter order.
pub(crate) fn natives<'js>(
    ctx: &Ctx<'js>,
    state: &Arc<ExecState>,
) -> rquickjs::Result<[Function<'js>; 7]> {
    let s = state.clone();
    let fetch = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              url: String,
              method: String,
              headers: Vec<String>,
              body: Opt<Value<'js>>|
              -> rquickjs::Result<Object<'js>> {
            native_fetch(&ctx, &s, url, method, headers, body.0)
        },
    )?;
    let s = state.clone();
    let secret = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, name: String| -> rquickjs::Result<String> {
            native_secret(&ctx, &s, &name)
        },
    )?;
    let s = state.clone();
    let log = Function::new(ctx.clone(), move |level: String, message: String| -> bool {
        let level = match level.as_str() {
            "info" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => LogLevel::Log,
        };
        s.log(level, &message)
    })?;
    let sha = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>, data: Value<'js>| -> rquickjs::Result<String> {
            let data = arg_bytes(&ctx, &data, "crypto.sha256: data")?;
            Ok(hex::encode(Sha256::digest(&data)))
        },
    )?;
    let hmac = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>, key: Value<'js>, data: Value<'js>| -> rquickjs::Result<String> {
            let key = arg_bytes(&ctx, &key, "crypto.hmacSha256: key")?;
            let data = arg_bytes(&ctx, &data, "crypto.hmacSha256: data")?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key)
                .map_err(|_| type_error(&ctx, "crypto.hmacSha256: invalid key"))?;
            mac.update(&data);
            Ok(hex::encode(mac.finalize().into_bytes()))
        },
    )?;
    let random = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>, n: f64| -> rquickjs::Result<TypedArray<'js, u8>> {
            if !(0.0..=MAX_RANDOM_BYTES as f64).contains(&n) || n.fract() != 0.0 {
                return Err(Exception::throw_range(
                    &ctx,
                    &format!("crypto.randomBytes: n must be an integer in 0..={MAX_RANDOM_BYTES}"),
                ));
            }
            let mut buf = vec![0u8; n as usize];
            rand::rngs::OsRng.fill_bytes(&mut buf);
            TypedArray::new(ctx, buf)
        },
    )?;
    // True only for genuine Array objects (QuickJS-ng's JS_IsArray does not see through proxies).
    let is_array = Function::new(ctx.clone(), |v: Value<'js>| -> bool {
        v.is_array() && !v.is_proxy()
    })?;
    Ok([fetch, secret, log, sha, hmac, random, is_array])
}

fn native_secret(ctx: &Ctx<'_>, state: &ExecState, name: &str) -> rquickjs::Result<String> {
    // The same message whether the name is ungranted, unknown, or the host has nothing: a script
    // learns nothing about which secrets exist.
    let unavailable = || format!("secret \"{name}\" is not available to this function");
    if !state.granted_secrets.contains(name) {
        return Err(state.host_error(ctx, unavailable()));
    }
    {
        let mut m = state.lock();
        m.secret_gets = m.secret_gets.saturating_add(1);
        if m.secret_gets > state.limits.max_secret_gets {
            drop(m);
            let max = state.limits.max_secret_gets;
            return Err(state.host_error(
                ctx,
                format!("secrets.get limit reached: at most {max} calls per execution"),
            ));
        }
        // Served from this execution's cache: no second decrypt, no second audit entry.
        if let Some(value) = m.secret_cache.get(name).and_then(|&i| m.revealed.get(i)) {
            return Ok(value.expose().to_string());
        }
    }
    match state.secrets_host.get(&state.scope, name) {
        Ok(Some(value)) => {
            let text = value.expose().to_string();
            let mut m = state.lock();
            m.revealed.push(value);
            let index = m.revealed.len() - 1;
            m.secret_cache.insert(name.to_owned(), index);
            Ok(text)
        }
        Ok(None) => Err(state.host_error(ctx, unavailable())),
        Err(e) => Err(state.host_error(ctx, format!("secrets.get(\"{name}\") failed: {e}"))),
    }
}

fn native_fetch<'js>(
    ctx: &Ctx<'js>,
    state: &ExecState,
    url: String,
    method: String,
    headers: Vec<String>,
    body: Option<Value<'js>>,
) -> rquickjs::Result<Object<'js>> {
    {
        let mut m = state.lock();
        if m.fetch_count >= state.limits.max_fetches {
            drop(m);
            return Err(state.host_error(
                ctx,
                format!(
                    "fetch: limit of {} requests per execution reached",
                    state.limits.max_fetches
                ),
            ));
        }
        m.fetch_count += 1;
    }
    let method = method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(type_error(
            ctx,
            &format!("fetch: unsupported method {method:?}"),
        ));
    }
    let parsed =
        url::Url::parse(&url).map_err(|e| type_error(ctx, &format!("fetch: invalid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(type_error(
            ctx,
            "fetch: only http and https URLs are supported",
        ));
    }
    let host = parsed.host_str().unwrap_or_default().to_string();
    let host_for_match = host.trim_start_matches('[').trim_end_matches(']');
    if !state
        .allowed_hosts
        .iter()
        .any(|p| p.matches(&host) || p.matches(host_for_match))
    {
        return Err(state.host_error(
            ctx,
            format!("fetch: host \"{host}\" is not on this function's allowlist"),
        ));
    }
    let mut pairs = Vec::with_capacity(headers.len() / 2);
    let mut size = url.len();
    for chunk in headers.chunks(2) {
        let [name, value] = chunk else {
            return Err(type_error(ctx, "fetch: malformed headers"));
        };
        let name = name.to_ascii_lowercase();
        let token_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token_ok || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(type_error(ctx, &format!("fetch: invalid header {name:?}")));
        }
        if FORBIDDEN_HEADERS.contains(&name.as_str()) {
            return Err(type_error(
                ctx,
                &format!("fetch: header {name:?} may not be set"),
            ));
        }
        size += name.len() + value.len() + 4;
        pairs.push((name, value.clone()));
    }
    let body = match body {
        Some(v) if !v.is_undefined() && !v.is_null() => arg_bytes(ctx, &v, "fetch: body")?,
        _ => Vec::new(),
    };
    size += body.len();
    if size > state.limits.max_fetch_request_bytes {
        return Err(state.host_error(
            ctx,
            format!(
                "fetch: request of {size} bytes exceeds the limit of {} bytes",
                state.limits.max_fetch_request_bytes
            ),
        ));
    }
    let request = FetchRequest {
        method,
        url: parsed,
        headers: pairs,
        body,
        max_response_bytes: state.limits.max_fetch_response_bytes,
        deadline: state.deadline,
    };
    let response = match state.fetch_host.fetch(&state.scope, &request) {
        Ok(r) => r,
        Err(e) => return Err(state.host_error(ctx, format!("fetch {host}: {e}"))),
    };
    if response.body.len() > state.limits.max_fetch_response_bytes {
        return Err(state.host_error(
            ctx,
            format!(
                "fetch {host}: {}",
                HostError::ResponseTooLarge {
                    limit: state.limits.max_fetch_response_bytes
                }
            ),
        ));
    }
    let out = Object::new(ctx.clone())?;
    out.set("status", response.status)?;
    out.set("url", request.url.as_str())?;
    let mut flat = Vec::with_capacity(response.headers.len() * 2);
    for (k, v) in response.headers {
        flat.push(k.to_ascii_lowercase());
        flat.push(v);
    }
    out.set("headers", flat)?;
    out.set("text", String::from_utf8_lossy(&response.body).into_owned())?;
    out.set("body", TypedArray::<u8>::new(ctx.clone(), response.body)?)?;
    Ok(out)
}
