//! Escape and abuse corpus. Every case asserts the error kind, then that a normal execution on
//! the same sandbox still succeeds right after, and that normal executions running concurrently
//! on another thread succeeded throughout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nsl_sandbox::{ExecutionRequest, Report, Status};

use crate::support::*;

/// Run `req` while another thread runs normal executions in a loop; check both.
fn abuse_req(h: &Harness, req: ExecutionRequest, expect: fn(&Status) -> bool) -> Report {
    let stop = Arc::new(AtomicBool::new(false));
    let ok_runs = Arc::new(AtomicUsize::new(0));
    let concurrent = {
        let sandbox = h.sandbox.clone();
        let stop = stop.clone();
        let ok_runs = ok_runs.clone();
        std::thread::spawn(move || {
            let mut normal = request(NORMAL);
            normal.args = serde_json::json!({ "n": 7 });
            let mut failures = Vec::new();
            loop {
                let r = sandbox.execute(&normal);
                if r.status == Status::Ok
                    && r.result == Some(serde_json::json!({ "sum": 6, "n": 7, "proto": 0 }))
                {
                    ok_runs.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.push(format!("{r:?}"));
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            failures
        })
    };
    let report = h.sandbox.execute(&req);
    stop.store(true, Ordering::Relaxed);
    let failures = concurrent.join().expect("concurrent thread panicked");
    assert!(
        expect(&report.status),
        "unexpected status {:?} for\n{}\nreport: {report:?}",
        report.status,
        req.source
    );
    assert!(
        failures.is_empty(),
        "concurrent executions failed: {failures:?}"
    );
    assert!(ok_runs.load(Ordering::Relaxed) >= 1);
    assert_normal_ok(h);
    report
}

fn abuse(source: &str, expect: fn(&Status) -> bool) -> Report {
    let h = harness();
    abuse_req(&h, request(source), expect)
}

/// Like [`abuse`] with an 8 MiB heap (memory bombs reach it quickly even in debug builds).
fn abuse_small_heap(source: &str, expect: fn(&Status) -> bool) -> Report {
    let h = harness();
    let mut req = request(source);
    req.limits.memory_bytes = 8 * 1024 * 1024;
    req.limits.timeout_ms = 5_000;
    abuse_req(&h, req, expect)
}

fn is_timeout(s: &Status) -> bool {
    *s == Status::Timeout
}
fn is_memory(s: &Status) -> bool {
    *s == Status::MemoryLimit
}
fn is_stack(s: &Status) -> bool {
    *s == Status::StackOverflow
}
fn is_host_error(s: &Status) -> bool {
    matches!(s, Status::HostError { .. })
}
fn is_script_error(s: &Status) -> bool {
    matches!(s, Status::ScriptError { .. })
}
fn is_ok(s: &Status) -> bool {
    *s == Status::Ok
}

// ---------- CPU ----------

#[test]
fn infinite_loop_times_out() {
    let r = abuse(
        "export default async function main() { while (true) {} }",
        is_timeout,
    );
    assert!(
        r.duration.as_millis() >= 1_000,
        "stopped before the deadline: {r:?}"
    );
}

#[test]
fn loop_in_finally_times_out() {
    abuse(
        "export default async function main() { try { while (1) {} } finally { while (1) {} } }",
        is_timeout,
    );
}

#[test]
fn catch_all_cannot_swallow_the_timeout() {
    abuse(
        "export default async function main() {
           for (;;) { try { while (1) {} } catch (e) { } finally { continue; } }
         }",
        is_timeout,
    );
}

#[test]
fn top_level_loop_times_out() {
    abuse(
        "while (true) {}\nexport default async function main() { return 1; }",
        is_timeout,
    );
}

#[test]
fn catastrophic_regex_times_out() {
    abuse(
        "export default async function main() { return /(a+)+$/.test('a'.repeat(64) + 'b'); }",
        is_timeout,
    );
}

#[test]
fn never_settling_promise_with_busy_jobs_times_out() {
    abuse(
        "export default async function main() {
           const p = Promise.resolve();
           const chain = () => p.then(chain);
           chain();
           return new Promise(() => {});
         }",
        is_timeout,
    );
}

#[test]
fn recursive_queue_microtask_flood_times_out() {
    abuse(
        "export default async function main() {
           (function loop() { queueMicrotask(loop); })();
           await new Promise(() => {});
         }",
        is_timeout,
    );
}

#[test]
fn promise_resolve_then_loop_times_out() {
    abuse(
        "export default async function main() {
           function spin() { Promise.resolve().then(spin); }
           spin();
           for (;;) { await null; }
         }",
        is_timeout,
    );
}

#[test]
fn promise_that_never_settles_is_reported() {
    let r = abuse(
        "export default async function main() { await new Promise(() => {}); }",
        is_script_error,
    );
    assert!(script_message(&r).contains("never settles"), "{r:?}");
}

#[test]
fn atomics_wait_is_not_available() {
    let r = abuse(
        "export default async function main() {
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
         }",
        is_script_error,
    );
    assert!(script_message(&r).contains("TypeError"), "{r:?}");
}

#[test]
fn native_loops_over_huge_array_likes_stop_at_the_deadline() {
    // Builtins iterating a huge `length` either poll the interrupt handler, run out of memory,
    // or throw; none may run past the deadline.
    for body in [
        "Array.prototype.join.call({ length: 2 ** 32 }, '')",
        "Array.prototype.lastIndexOf.call({ length: 2 ** 52 }, 1)",
        "Array.prototype.includes.call({ length: 2 ** 52 }, 1)",
        "Array.prototype.reverse.call({ length: 2 ** 40 })",
        "Array.prototype.fill.call({ length: 2 ** 40 }, 0)",
        "Array.prototype.copyWithin.call({ length: 2 ** 40 }, 0, 1)",
        "Array.prototype.sort.call({ length: 2 ** 32 })",
        "Array.prototype.slice.call({ length: 2 ** 32 })",
        "Array.prototype.splice.call({ length: 2 ** 40 }, 0, 1)",
        "Array.prototype.shift.call({ length: 2 ** 40 })",
        "Array.prototype.flat.call({ length: 2 ** 32 })",
        "[].concat({ length: 2 ** 32, [Symbol.isConcatSpreadable]: true })",
        "(() => { const a = []; a.length = 2 ** 32 - 1; return a.join(''); })()",
        "(() => { const a = []; a.length = 2 ** 32 - 1; return a.sort(); })()",
        "(() => { const a = []; a.length = 2 ** 32 - 1; return [].concat(a).length; })()",
        "Array.prototype.join.call(new Proxy({ length: 2 ** 32 }, {}), '')",
        "Array.prototype.join.call(new Proxy([], { get(t, k) { return k === 'length' ? 2 ** 32 : undefined; } }), '')",
        "Array.prototype.join.call({ get length() { return globalThis.n = (globalThis.n || 0) + 1 > 1 ? 2 ** 32 : 1; } }, '')",
        "'x'.repeat(2 ** 29).split('')",
        // Each conversion is a long native computation; the allocator stops the join loop.
        "Array(200).fill(10n ** 60000n).join()",
    ] {
        let src = format!("export default async function main() {{ return {body}; }}");
        eprintln!("native loop: {body}");
        let r = abuse(&src, |s| !s.is_ok());
        assert!(
            r.duration.as_secs() < 15,
            "{body} ran for {:?}: {r:?}",
            r.duration
        );
    }
}

// ---------- memory ----------

#[test]
fn growing_array_hits_memory_limit() {
    let r = abuse_small_heap(
        "export default async function main() {
           const a = [];
           for (;;) a.push(new Array(1000).fill(1));
         }",
        is_memory,
    );
    assert!(r.peak_memory_bytes <= 8 * 1024 * 1024, "{r:?}");
    assert!(r.peak_memory_bytes > 4 * 1024 * 1024, "{r:?}");
}

#[test]
fn string_doubling_hits_memory_limit() {
    abuse_small_heap(
        "export default async function main() {
           let s = 'x';
           for (;;) { s = s + s; s.charCodeAt(s.length - 1); }
         }",
        is_memory,
    );
}

#[test]
fn repeat_bomb_hits_memory_limit() {
    abuse_small_heap(
        "export default async function main() { return 'abc'.repeat(100 * 1024 * 1024).length; }",
        is_memory,
    );
}

#[test]
fn big_array_buffer_hits_memory_limit() {
    abuse_small_heap(
        "export default async function main() { return new ArrayBuffer(512 * 1024 * 1024).byteLength; }",
        is_memory,
    );
}

#[test]
fn big_typed_arrays_hit_memory_limit() {
    abuse_small_heap(
        "export default async function main() {
           const keep = [];
           for (;;) keep.push(new Float64Array(1024 * 1024));
         }",
        is_memory,
    );
}

#[test]
fn object_graph_with_cycles_hits_memory_limit() {
    abuse_small_heap(
        "export default async function main() {
           let head = {};
           for (;;) { const n = { prev: head, pad: new Array(256).fill(head) }; n.self = n; head = n; }
         }",
        is_memory,
    );
}

#[test]
fn caught_out_of_memory_still_reports_memory_limit_when_rethrown() {
    abuse_small_heap(
        "export default async function main() {
           try { const a = []; for (;;) a.push('y'.repeat(1024) + a.length); }
           catch (e) { throw new Error('gave up'); }
         }",
        is_memory,
    );
}

// ---------- stack ----------

#[test]
fn deep_recursion_hits_stack_limit() {
    abuse(
        "export default async function main() { function f(n) { return f(n + 1) + 1; } return f(0); }",
        is_stack,
    );
}

#[test]
fn recursion_through_getters_and_json_hits_stack_limit() {
    abuse(
        "export default async function main() {
           const o = { toJSON() { return [this]; } };
           return JSON.stringify(o);
         }",
        |s| is_stack(s) || is_memory(s),
    );
}

// ---------- isolation ----------

#[test]
fn prototype_pollution_is_refused_and_never_reaches_the_next_execution() {
    let h = harness();
    let polluter = r#"
      export default async function main() {
        const attempts = [
          () => { Object.prototype.polluted = 'yes'; },
          () => { Array.prototype.push = function () { return 'evil'; }; },
          () => { Array.prototype.map = () => 'evil'; },
          () => { Object.defineProperty(Object.prototype, 'polluted', { value: 1 }); },
          () => { Object.setPrototypeOf(Object.prototype, { polluted: 1 }); },
          () => { Function.prototype.call = () => 'evil'; },
          () => { JSON.parse = () => 'evil'; },
          () => { Math.random = () => 4; },
          () => { globalThis.leak = 'yes'; },
          () => { globalThis.fetch = () => 'evil'; },
          () => { console.log = () => {}; },
          () => { crypto.sha256 = () => 'evil'; },
          () => { secrets.get = () => 'evil'; },
          () => { Promise.prototype.then = () => 'evil'; },
          () => { String.prototype.trim = () => 'evil'; },
          () => { ({}).__proto__.polluted = 1; },
          () => { Object.getPrototypeOf(function* () {}).prototype.next = () => 'evil'; },
          () => { Object.getPrototypeOf(Uint8Array).prototype.set = () => 'evil'; },
          () => { delete Array.prototype.forEach; if (!Array.prototype.forEach) throw new Error('deleted'); else throw new TypeError('kept'); },
        ];
        let succeeded = [];
        attempts.forEach((f, i) => { try { f(); succeeded.push(i); } catch (e) { if (!(e instanceof TypeError)) succeeded.push('!' + i); } });
        // Things that are not frozen can be changed, but only inside this execution.
        Reflect.leaked = 'yes';
        Array.prototype.map.leaked = 'yes';
        return succeeded;
      }"#;
    let r = abuse_req(&h, request(polluter), is_ok);
    assert_eq!(r.result, Some(serde_json::json!([])), "{r:?}");
    let checker = r#"
      export default async function main() {
        return {
          polluted: ({}).polluted === undefined && !('polluted' in Object.prototype),
          push: [].push(1) === 1,
          map: [1].map((x) => x + 1)[0] === 2,
          leak: typeof leak === 'undefined' && !('leak' in globalThis),
          reflect: Reflect.leaked === undefined,
          fnprop: Array.prototype.map.leaked === undefined,
          random: Math.random() < 1,
        };
      }"#;
    let r = h.sandbox.execute(&request(checker));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let v = r.result.expect("result");
    for (k, ok) in v.as_object().expect("object") {
        assert_eq!(
            ok,
            &serde_json::json!(true),
            "{k} leaked into the next execution"
        );
    }
}

#[test]
fn instances_can_still_override_tamed_properties() {
    let r = abuse(
        "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }
         export default async function main() {
           const o = { toString() { return 'custom'; } };
           const p = {}; p.toString = () => 'assigned';
           try { throw new MyError('boom'); } catch (e) { return [String(o), String(p), e.name, String(e)]; }
         }",
        is_ok,
    );
    assert_eq!(
        r.result,
        Some(serde_json::json!([
            "custom",
            "assigned",
            "MyError",
            "MyError: boom"
        ]))
    );
}

/// The exact set of globals a script sees: ECMAScript builtins of QuickJS-ng plus the host API.
pub(crate) const EXPECTED_GLOBALS: &[&str] = &[
    "AggregateError",
    "Array",
    "ArrayBuffer",
    "AsyncDisposableStack",
    "Atomics",
    "BigInt",
    "BigInt64Array",
    "BigUint64Array",
    "Boolean",
    "DOMException",
    "DataView",
    "Date",
    "DisposableStack",
    "Error",
    "EvalError",
    "FinalizationRegistry",
    "Float16Array",
    "Float32Array",
    "Float64Array",
    "Function",
    "Infinity",
    "Int16Array",
    "Int32Array",
    "Int8Array",
    "InternalError",
    "Iterator",
    "JSON",
    "Map",
    "Math",
    "NaN",
    "Number",
    "Object",
    "Promise",
    "Proxy",
    "RangeError",
    "ReferenceError",
    "Reflect",
    "RegExp",
    "Set",
    "SharedArrayBuffer",
    "String",
    "SuppressedError",
    "Symbol",
    "SyntaxError",
    "TypeError",
    "URIError",
    "Uint16Array",
    "Uint32Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "WeakMap",
    "WeakRef",
    "WeakSet",
    "atob",
    "btoa",
    "console",
    "crypto",
    "decodeURI",
    "decodeURIComponent",
    "encodeURI",
    "encodeURIComponent",
    "escape",
    "eval",
    "fetch",
    "globalThis",
    "isFinite",
    "isNaN",
    "parseFloat",
    "parseInt",
    "performance",
    "queueMicrotask",
    "secrets",
    "undefined",
    "unescape",
];

#[test]
fn global_object_holds_only_builtins_and_the_documented_api() {
    let r = abuse(
        "export default async function main() {
           const names = Reflect.ownKeys(globalThis).map(String).sort();
           const enumerable = []; for (const k in globalThis) enumerable.push(k);
           const absent = ['require', 'process', 'std', 'os', 'print', 'setTimeout', 'setInterval',
             'setImmediate', 'module', 'exports', 'Deno', 'Bun', 'scriptArgs', 'bjson', 'gc',
             '__loadScript', 'XMLHttpRequest', 'WebSocket', 'importScripts']
             .filter((n) => typeof globalThis[n] !== 'undefined');
           return { names, enumerable, absent };
         }",
        is_ok,
    );
    let v = r.result.expect("result");
    let mut expected: Vec<String> = EXPECTED_GLOBALS.iter().map(|s| s.to_string()).collect();
    expected.push("Symbol(Symbol.toStringTag)".into());
    expected.sort();
    let names: Vec<String> = serde_json::from_value(v["names"].clone()).expect("names");
    let mut names_sorted = names.clone();
    names_sorted.sort();
    assert_eq!(names_sorted, expected);
    assert_eq!(v["enumerable"], serde_json::json!([]));
    assert_eq!(v["absent"], serde_json::json!([]));
}

#[test]
fn dynamic_import_is_refused() {
    let r = abuse(
        "export default async function main() {
           const out = [];
           for (const m of ['os', 'std', 'fs', 'node:fs', './function.js', 'nsl:prelude', 'https://example.com/x.js']) {
             try { const ns = await import(m); out.push(m + ':loaded:' + Object.keys(ns).join(',')); }
             catch (e) { out.push(m + ':refused'); }
           }
           return out;
         }",
        is_ok,
    );
    let out = r.result.expect("result");
    for entry in out.as_array().expect("array") {
        let entry = entry.as_str().expect("string");
        let harmless = entry.ends_with(":refused")
            // Importing an already-evaluated module yields its own namespace, nothing new.
            || entry == "./function.js:loaded:default"
            || entry == "nsl:prelude:loaded:default";
        assert!(harmless, "{entry}");
    }
}

#[test]
fn prelude_cannot_be_reinstalled_by_the_script() {
    let r = abuse(
        "import install from 'nsl:prelude';
         export default async function main() {
           try { install(() => 'evil', () => 'evil', () => true, () => '', () => '', () => null); return 'reinstalled'; }
           catch (e) { return String(e); }
         }",
        |s| is_ok(s) || is_script_error(s),
    );
    if r.status.is_ok() {
        assert_eq!(
            r.result,
            Some(serde_json::json!("TypeError: already installed"))
        );
    }
}

#[test]
fn static_import_of_host_modules_fails() {
    for m in ["os", "std", "fs"] {
        let src = format!(
            "import * as x from '{m}';\nexport default async function main() {{ return 1; }}"
        );
        abuse(&src, is_script_error);
    }
}

#[test]
fn function_constructor_and_eval_reach_only_the_sandbox() {
    let r = abuse(
        "export default async function main() {
           const g = Function('return this')();
           const e = (0, eval)('this');
           return [g === globalThis, e === globalThis, typeof g.process, Object.isFrozen(g)];
         }",
        is_ok,
    );
    assert_eq!(
        r.result,
        Some(serde_json::json!([true, true, "undefined", true]))
    );
}

// ---------- host API abuse ----------

#[test]
fn secrets_of_another_function_are_not_reachable() {
    let h = harness();
    // alice/fn-a has OTHER in the store but it is not granted; bob's API_KEY belongs to bob.
    let mut req = request(
        "export default async function main() {
           const out = [secrets.get('API_KEY')];
           for (const n of ['OTHER', 'bob/API_KEY', '../fn-b/API_KEY']) {
             try { out.push(secrets.get(n)); } catch (e) { out.push(e.name + ': ' + e.message); }
           }
           return out;
         }",
    );
    req.granted_secrets = vec!["API_KEY".into(), "bob/API_KEY".into()];
    let r = abuse_req(&h, req, is_ok);
    let out = r.result.expect("result");
    assert_eq!(out[0], "alice-key-123456");
    assert_eq!(
        out[1],
        "HostError: secret \"OTHER\" is not available to this function"
    );
    assert_eq!(
        out[2],
        "HostError: secret \"bob/API_KEY\" is not available to this function"
    );
    assert_eq!(
        out[3],
        "HostError: secret \"../fn-b/API_KEY\" is not available to this function"
    );
    let text = out.to_string();
    assert!(
        !text.contains("bob-key") && !text.contains("alice-other"),
        "{text}"
    );
    // The host was asked only for granted names, always in the caller's own scope.
    for (scope, name) in h.secrets.calls.lock().expect("lock").iter() {
        assert_eq!(scope.owner, "alice");
        assert!(name == "API_KEY" || name == "bob/API_KEY", "{name}");
    }
}

#[test]
fn uncaught_ungranted_secret_is_a_host_error_without_names_or_values() {
    let r = abuse(
        "export default async function main() { return secrets.get('OTHER'); }",
        is_host_error,
    );
    let Status::HostError { message } = &r.status else {
        unreachable!()
    };
    assert_eq!(
        message,
        "secret \"OTHER\" is not available to this function"
    );
}

#[test]
fn fetch_to_a_host_not_on_the_allowlist_is_refused_before_the_host() {
    let h = harness();
    for url in [
        "https://evil.example.net/",
        "https://api.example.com.evil.net/",
        "https://evil.net/?u=api.example.com",
        "https://api.example.com@evil.net/",
        "http://data.example.org/",
        "https://127.0.0.1/",
        "https://[::1]/",
    ] {
        let src =
            format!("export default async function main() {{ return await fetch({url:?}); }}");
        let r = abuse_req(&h, request(&src), is_host_error);
        let Status::HostError { message } = &r.status else {
            unreachable!()
        };
        assert!(message.contains("allowlist"), "{url}: {message}");
    }
    assert_eq!(
        h.fetch.calls(),
        0,
        "the host was called for a refused request"
    );
}

#[test]
fn fetch_count_is_capped() {
    let h = harness();
    let r = abuse_req(
        &h,
        request(
            "export default async function main() {
               for (let i = 0; i < 10; i++) await fetch('https://api.example.com/' + i);
             }",
        ),
        is_host_error,
    );
    let Status::HostError { message } = &r.status else {
        unreachable!()
    };
    assert!(message.contains("limit of 5 requests"), "{message}");
    assert_eq!(r.fetch_count, 5);
    assert_eq!(h.fetch.calls(), 5);
}

#[test]
fn oversized_fetch_request_is_refused_before_the_host() {
    let h = harness();
    let r = abuse_req(
        &h,
        request(
            "export default async function main() {
               return fetch('https://api.example.com/', { method: 'POST', body: 'x'.repeat(100000) });
             }",
        ),
        is_host_error,
    );
    assert_eq!(h.fetch.calls(), 0, "{r:?}");
}

#[test]
fn oversized_fetch_response_is_an_error() {
    let h = harness();
    *h.fetch.response_body.lock().expect("lock") = vec![b'a'; 2 * 1024 * 1024];
    abuse_req(
        &h,
        request(
            "export default async function main() { return (await fetch('https://api.example.com/')).status; }",
        ),
        is_host_error,
    );
}

#[test]
fn result_too_large_is_reported() {
    let r = abuse(
        "export default async function main() { return 'x'.repeat(100000); }",
        |s| matches!(s, Status::ResultTooLarge { limit: 65536, .. }),
    );
    assert!(r.result.is_none());
}

#[test]
fn log_flood_is_capped_with_a_marker() {
    let r = abuse(
        "export default async function main() { for (let i = 0; i < 1e4; i++) console.log('line ' + i, { i }); return 'done'; }",
        is_ok,
    );
    assert!(r.logs_truncated);
    let total: usize = r.logs.iter().map(|l| l.message.len()).sum();
    let marker = nsl_sandbox::LOG_TRUNCATED_MARKER;
    assert!(total <= 16 * 1024 + marker.len(), "{total}");
    assert_eq!(r.logs.last().map(|l| l.message.as_str()), Some(marker));
    assert_eq!(r.result, Some(serde_json::json!("done")));
}

#[test]
fn syntax_error_is_reported_with_a_message() {
    let r = abuse(
        "export default async function main( { return 1 }",
        is_script_error,
    );
    assert!(script_message(&r).contains("SyntaxError"), "{r:?}");
}

#[test]
fn thrown_values_of_every_shape_are_script_errors() {
    for thrown in [
        "null",
        "undefined",
        "42",
        "'plain string'",
        "{ code: 7 }",
        "new Proxy({}, { get() { throw new Error('trap'); } })",
        "Object.defineProperty(new Error('x'), 'message', { get() { while (1) {} } })",
    ] {
        let src = format!("export default async function main() {{ throw {thrown}; }}");
        abuse(&src, |s| is_script_error(s) || is_timeout(s));
    }
}

#[test]
fn tight_limits_never_crash_the_process() {
    // Out-of-memory and deadline refusals hit many different engine paths (context creation,
    // prelude, job queue, GC, JSON); every run must end with a report and leave the sandbox
    // usable. A leak on such a path would abort the process when the runtime is freed.
    let h = harness();
    let workloads = [
        "export default async function main() { const a = []; for (;;) a.push({ i: a.length, s: 'v' + a.length }); }",
        "export default async function main() { let p = Promise.resolve(); for (;;) p = p.then(() => [1, 2, 3]); }",
        "export default async function main() { const m = new Map(); for (let i = 0; ; i++) m.set(i, new WeakRef({ i })); }",
        "export default async function main() { return JSON.stringify(Array(1e6).fill({ a: [1, 2, 3] })); }",
        "export default async function main() { const f = new FinalizationRegistry(() => {}); for (;;) f.register({}, 1); }",
        "export default async function main() { for (;;) await Promise.all([1, 2, 3].map(async (x) => x * 2)); }",
        "export default async function main() { function r(n) { return n ? [r(n - 1), r(n - 1)] : 'leaf'; } return r(30); }",
        "export default async function main() { return fetch('https://api.example.com/' + 'x'.repeat(1000)); }",
        "export default async function main() { for (;;) console.log(new Error('e').stack); }",
        "export default async function main() { return /(x+x+)+y/.exec('x'.repeat(5000)); }",
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for (i, src) in workloads.iter().enumerate() {
        for (j, (mem_kib, timeout_ms)) in [(2048, 5), (2304, 50), (3072, 200), (6144, 20)]
            .into_iter()
            .enumerate()
        {
            let mut req = request(src);
            req.limits.memory_bytes = mem_kib * 1024;
            req.limits.timeout_ms = timeout_ms;
            let r = h.sandbox.execute(&req);
            assert!(
                !matches!(r.status, Status::Internal { .. }),
                "workload {i}/{j}: {r:?}"
            );
            kinds.insert(r.status.kind());
        }
        assert_normal_ok(&h);
    }
    assert!(
        kinds.contains("memory_limit") && kinds.contains("timeout"),
        "{kinds:?}"
    );
}
