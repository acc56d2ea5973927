//! The JavaScript API and the report, as a function author sees them.

use std::sync::Arc;

use nsl_sandbox::{Limits, LogLevel, SandboxConfig, Status};

use crate::support::*;

#[test]
fn default_export_is_called_with_json_args_and_its_value_returned() {
    let h = harness();
    assert_normal_ok(&h);
    let mut req = request(
        "export default async function main(args) {
           await null;
           return { echo: args, type: typeof args.list, len: args.list.length };
         }",
    );
    req.args = serde_json::json!({ "list": [1, "two", null, { "x": true }] });
    let r = h.sandbox.execute(&req);
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(
        r.result,
        Some(serde_json::json!({ "echo": req.args, "type": "object", "len": 4 }))
    );
    assert!(r.peak_memory_bytes > 0 && r.peak_memory_bytes >= r.final_memory_bytes);
}

#[test]
fn sync_default_export_and_top_level_await_work() {
    let h = harness();
    let r = run(
        &h,
        "const base = await Promise.resolve(40);
         export default function main() { return base + 2; }",
    );
    assert_eq!(r.result, Some(serde_json::json!(42)), "{r:?}");
}

#[test]
fn undefined_result_is_null() {
    let h = harness();
    let r = run(&h, "export default async function main() {}");
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.result, Some(serde_json::Value::Null));
}

#[test]
fn missing_default_export_is_a_script_error() {
    let h = harness();
    let r = run(&h, "export async function main() { return 1; }");
    assert!(script_message(&r).contains("export default"), "{r:?}");
    let r = run(&h, "export default 42;");
    assert!(script_message(&r).contains("export default"), "{r:?}");
}

#[test]
fn thrown_error_has_message_and_trimmed_stack() {
    let h = harness();
    let r = run(
        &h,
        "function inner() { throw new TypeError('bad input'); }
         export default async function main() { inner(); }",
    );
    let Status::ScriptError { message, stack } = &r.status else {
        panic!("{r:?}")
    };
    assert_eq!(message, "TypeError: bad input");
    let stack = stack.as_deref().unwrap_or_default();
    assert!(
        stack.contains("inner") && stack.contains("function.js"),
        "{stack}"
    );
    assert!(stack.lines().count() <= 16);
}

#[test]
fn non_json_result_is_a_script_error() {
    let h = harness();
    let r = run(&h, "export default async function main() { return 10n; }");
    assert!(script_message(&r).contains("BigInt"), "{r:?}");
    let r = run(
        &h,
        "export default async function main() { const a = {}; a.self = a; return a; }",
    );
    assert!(script_message(&r).contains("TypeError"), "{r:?}");
}

#[test]
fn console_levels_and_formatting_are_captured() {
    let h = harness();
    let r = run(
        &h,
        "export default async function main() {
           console.log('plain', 1, { a: [1, 2] }, null, undefined);
           console.info('info');
           console.warn('warn');
           console.error(new Error('oops'));
         }",
    );
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let levels: Vec<LogLevel> = r.logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Log,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error
        ]
    );
    assert_eq!(r.logs[0].message, "plain 1 {\"a\":[1,2]} null undefined");
    assert!(
        r.logs[3].message.starts_with("Error: oops"),
        "{:?}",
        r.logs[3]
    );
    assert!(!r.logs_truncated);
}

#[test]
fn crypto_matches_known_vectors() {
    let h = harness();
    let r = run(
        &h,
        "export default async function main() {
           const bytes = new Uint8Array([97, 98, 99]);
           const r1 = crypto.randomBytes(32), r2 = crypto.randomBytes(32);
           let tooMany;
           try { crypto.randomBytes(1e9); } catch (e) { tooMany = e.name; }
           return {
             sha: crypto.sha256('abc'),
             shaBytes: crypto.sha256(bytes),
             shaBuffer: crypto.sha256(bytes.buffer),
             empty: crypto.sha256(''),
             hmac: crypto.hmacSha256('key', 'The quick brown fox jumps over the lazy dog'),
             random: [r1 instanceof Uint8Array, r1.length, r1.join() !== r2.join()],
             tooMany,
           };
         }",
    );
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let v = r.result.expect("result");
    // FIPS 180-2 "abc" and empty-string vectors; HMAC vector from RFC 2104 examples (Wikipedia).
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(v["sha"], abc);
    assert_eq!(v["shaBytes"], abc);
    assert_eq!(v["shaBuffer"], abc);
    assert_eq!(
        v["empty"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        v["hmac"],
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
    assert_eq!(v["random"], serde_json::json!([true, 32, true]));
    assert_eq!(v["tooMany"], "RangeError");
}

#[test]
fn granted_secret_is_returned_and_redacted_from_logs_and_errors() {
    let h = harness();
    let r = run(
        &h,
        "export default async function main() {
           const key = secrets.get('API_KEY');
           console.log('key is', key);
           throw new Error('failed with ' + key);
         }",
    );
    let Status::ScriptError { message, .. } = &r.status else {
        panic!("{r:?}")
    };
    assert_eq!(message, "Error: failed with [REDACTED]");
    assert_eq!(r.logs[0].message, "key is [REDACTED]");
    assert!(!format!("{r:?}").contains("alice-key-123456"));
    // Returning it is the author's explicit choice.
    let r = run(
        &h,
        "export default async function main() { return secrets.get('API_KEY').length; }",
    );
    assert_eq!(r.result, Some(serde_json::json!(16)));
}

#[test]
fn fetch_passes_checked_requests_to_the_host_and_wraps_the_response() {
    let h = harness();
    let r = run(
        &h,
        "export default async function main() {
           const res = await fetch('https://api.example.com/v1/price?sym=NEO', {
             method: 'post',
             headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'k' },
             body: JSON.stringify({ a: 1 }),
           });
           const sub = await fetch('https://x.data.example.org/');
           return {
             status: res.status, ok: res.ok, ct: res.headers.get('content-type'),
             json: await res.json(), bytes: (await sub.bytes()).length > 0, url: res.url,
           };
         }",
    );
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let v = r.result.expect("result");
    assert_eq!(v["status"], 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["ct"], "application/json");
    assert_eq!(v["json"]["method"], "POST");
    assert_eq!(v["json"]["body_len"], 7);
    assert_eq!(v["bytes"], true);
    assert_eq!(r.fetch_count, 2);
    let calls = h.fetch.calls.lock().expect("lock");
    assert_eq!(calls[0].method, "POST");
    assert_eq!(
        calls[0].url.as_str(),
        "https://api.example.com/v1/price?sym=NEO"
    );
    assert_eq!(
        calls[0].headers,
        vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("x-api-key".to_string(), "k".to_string())
        ]
    );
    assert_eq!(calls[0].body, br#"{"a":1}"#);
    assert_eq!(calls[0].max_response_bytes, 1024 * 1024);
}

#[test]
fn fetch_rejects_bad_requests_with_type_errors() {
    let h = harness();
    let r = run(
        &h,
        "export default async function main() {
           const out = [];
           for (const [url, init] of [
             ['ftp://api.example.com/', {}],
             ['not a url', {}],
             ['https://api.example.com/', { method: 'TRACE' }],
             ['https://api.example.com/', { headers: { Host: 'evil.net' } }],
             ['https://api.example.com/', { headers: { 'X-A': 'a\\r\\nInjected: 1' } }],
             ['https://api.example.com/', { body: { not: 'bytes' } }],
           ]) {
             try { await fetch(url, init); out.push('sent'); } catch (e) { out.push(e.name); }
           }
           return out;
         }",
    );
    assert_eq!(
        r.result,
        Some(serde_json::json!([
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError"
        ])),
        "{r:?}"
    );
    assert_eq!(h.fetch.calls(), 0);
}

#[test]
fn operator_maxima_clamp_function_limits() {
    let max = Limits {
        timeout_ms: 200,
        max_fetches: 1,
        ..Limits::default()
    };
    let h = harness_with(SandboxConfig {
        max_limits: max,
        max_concurrent: 2,
    });
    let mut req = request("export default async function main() { while (true) {} }");
    req.limits = Limits {
        timeout_ms: 60_000,
        max_fetches: 50,
        ..Limits::default()
    };
    let r = h.sandbox.execute(&req);
    assert_eq!(r.status, Status::Timeout);
    assert_eq!(r.limits.timeout_ms, 200);
    assert_eq!(r.limits.max_fetches, 1);
    // Generous bound: the point is that 200 ms applied, not 60 s.
    assert!(r.duration.as_secs() < 10, "{:?}", r.duration);
}

#[test]
fn many_threads_execute_at_once_without_interference() {
    let h = harness();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let sandbox = h.sandbox.clone();
            std::thread::spawn(move || {
                let mut req = request(
                    "globalThis.mine = undefined;
                     export default async function main(args) {
                       const seen = typeof other;
                       let x = 0; for (let i = 0; i < 20000; i++) x += i % (args.i + 2);
                       return { i: args.i, seen, x };
                     }",
                );
                req.args = serde_json::json!({ "i": i });
                (i, sandbox.execute(&req))
            })
        })
        .collect();
    for handle in handles {
        let (i, r) = handle.join().expect("thread");
        // `globalThis.mine = ...` fails: the global object is frozen (module code is strict).
        assert!(script_message(&r).contains("TypeError"), "{i}: {r:?}");
    }
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let sandbox = h.sandbox.clone();
            std::thread::spawn(move || {
                let mut req = request(
                    "export default async function main(args) {
                       let x = 0; for (let i = 0; i < 20000; i++) x += i % (args.i + 2);
                       return { i: args.i, x };
                     }",
                );
                req.args = serde_json::json!({ "i": i });
                (i, sandbox.execute(&req))
            })
        })
        .collect();
    for handle in handles {
        let (i, r) = handle.join().expect("thread");
        let expected: u64 = (0..20000u64).map(|n| n % (i + 2)).sum();
        assert_eq!(
            r.result,
            Some(serde_json::json!({ "i": i, "x": expected })),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_async_runs_on_the_blocking_pool_with_a_bound() {
    let h = harness_with(SandboxConfig {
        max_concurrent: 2,
        ..SandboxConfig::default()
    });
    let sandbox: Arc<_> = h.sandbox.clone();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let sandbox = sandbox.clone();
        let mut req = request("export default async function main(args) { return args.i * 2; }");
        req.args = serde_json::json!({ "i": i });
        tasks.push(tokio::spawn(
            async move { sandbox.execute_async(req).await },
        ));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.expect("join");
        assert_eq!(r.result, Some(serde_json::json!(i * 2)), "{r:?}");
    }
}
