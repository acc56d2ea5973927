//! One execution: fresh runtime and context, prelude, user module, job loop, classification.

use std::sync::Arc;

use std::sync::OnceLock;

use rquickjs::module::WriteOptions;
use rquickjs::{Context, Ctx, Function, Module, Promise, Runtime, Value, promise::PromiseState};

use crate::alloc::{AllocStats, LimitedAllocator};
use crate::api::{self, ExecState};
use crate::report::Status;

/// The prelude source (host API + freezing).
const PRELUDE: &str = include_str!("prelude.js");
/// Module name of the prelude.
const PRELUDE_NAME: &str = "nsl:prelude";
/// Prelude bytecode, compiled once per process (parsing it per execution would cost more than
/// creating the runtime).
static PRELUDE_BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();

fn compile_prelude() -> Result<Vec<u8>, String> {
    let rt = Runtime::new().map_err(|e| e.to_string())?;
    let ctx = Context::full(&rt).map_err(|e| e.to_string())?;
    ctx.with(|ctx| {
        let module = Module::declare(ctx.clone(), PRELUDE_NAME, PRELUDE).map_err(|e| {
            let thrown = ctx.catch();
            format!("prelude does not compile: {e}: {thrown:?}")
        })?;
        module
            .write(WriteOptions {
                strip_source: true,
                ..WriteOptions::default()
            })
            .map_err(|e| format!("prelude bytecode: {e}"))
    })
}
/// First cycle-collection threshold of a runtime.
const GC_THRESHOLD_BYTES: usize = 1024 * 1024;
/// Longest error message kept in a report.
const MAX_MESSAGE_BYTES: usize = 2048;
/// Most stack lines kept in a report.
const MAX_STACK_LINES: usize = 16;
/// Name under which the user's module is compiled (appears in stack traces).
pub(crate) const MODULE_NAME: &str = "function.js";

/// What the engine hands back to [`crate::Sandbox::execute`].
pub(crate) struct EngineOutcome {
    pub(crate) status: Status,
    pub(crate) result: Option<serde_json::Value>,
    pub(crate) peak_memory_bytes: usize,
    pub(crate) final_memory_bytes: usize,
}

/// Run `source` with `args_json` under `state`'s limits.
pub(crate) fn run(state: &Arc<ExecState>, source: &str, args_json: &str) -> EngineOutcome {
    let limits = state.limits;
    let stats = AllocStats::new(limits.memory_bytes, state.deadline);
    let outcome = |status, result, final_memory_bytes| EngineOutcome {
        status,
        result,
        peak_memory_bytes: stats.peak(),
        final_memory_bytes,
    };
    let rt = match Runtime::new_with_alloc(LimitedAllocator::new(stats.clone())) {
        Ok(rt) => rt,
        Err(e) => return outcome(internal(format!("cannot create runtime: {e}")), None, 0),
    };
    // Second fence: QuickJS's own accounting, set above ours so the allocator (which can tell
    // that it refused) normally triggers first.
    rt.set_memory_limit(
        limits
            .memory_bytes
            .saturating_add(limits.memory_bytes / 4)
            .saturating_add(1 << 20),
    );
    rt.set_max_stack_size(limits.stack_bytes);
    // Engine start-up alone allocates more than QuickJS's default first GC threshold (256 KiB);
    // starting at 1 MiB spares trivial executions a full cycle collection. QuickJS raises the
    // threshold by itself after each collection.
    rt.set_gc_threshold(GC_THRESHOLD_BYTES.min(limits.memory_bytes / 2));
    let watch = state.clone();
    rt.set_interrupt_handler(Some(Box::new(move || watch.check_deadline())));

    let ctx = match Context::full(&rt) {
        Ok(ctx) => ctx,
        Err(_) if stats.refused() => return outcome(Status::MemoryLimit, None, 0),
        Err(_) if stats.expired() => return outcome(Status::Timeout, None, 0),
        Err(e) => return outcome(internal(format!("cannot create context: {e}")), None, 0),
    };
    let (status, result) = ctx.with(|ctx| match run_in_ctx(&ctx, state, source, args_json) {
        Ok(v) => (Status::Ok, Some(v)),
        // A contract failure (e.g. "never settles") caused by a refused allocation is really
        // the memory limit or the deadline.
        Err(Failure::Status(Status::ScriptError { .. })) if stats.expired() => {
            (Status::Timeout, None)
        }
        Err(Failure::Status(Status::ScriptError { .. })) if stats.refused() => {
            (Status::MemoryLimit, None)
        }
        Err(Failure::Status(s)) => (s, None),
        Err(Failure::Thrown) => {
            let thrown = ctx.catch();
            (classify(&ctx, state, &stats, thrown), None)
        }
    });
    let final_memory = usize::try_from(rt.memory_usage().malloc_size).unwrap_or(0);
    drop(ctx);
    drop(rt);
    outcome(status, result, final_memory)
}

fn internal(message: String) -> Status {
    Status::Internal { message }
}

/// Why `run_in_ctx` stopped.
enum Failure {
    /// A JavaScript exception is pending on the context (take it with `ctx.catch()`).
    Thrown,
    /// Already classified.
    Status(Status),
}

impl From<rquickjs::Error> for Failure {
    fn from(e: rquickjs::Error) -> Self {
        match e {
            rquickjs::Error::Exception => Failure::Thrown,
            other => Failure::Status(Status::ScriptError {
                message: other.to_string(),
                stack: None,
            }),
        }
    }
}

fn script_error(message: impl Into<String>) -> Failure {
    Failure::Status(Status::ScriptError {
        message: message.into(),
        stack: None,
    })
}

fn run_in_ctx<'js>(
    ctx: &Ctx<'js>,
    state: &Arc<ExecState>,
    source: &str,
    args_json: &str,
) -> Result<serde_json::Value, Failure> {
    // 1. Host API and freezing.
    let bytecode = match PRELUDE_BYTECODE.get_or_init(compile_prelude) {
        Ok(b) => b.as_slice(),
        Err(e) => return Err(Failure::Status(internal(e.clone()))),
    };
    // SAFETY: the bytes were produced by `Module::write` of this very QuickJS build, in this
    // process, and live in a static for the rest of the process (ROM data may be referenced).
    let prelude = unsafe { Module::load(ctx.clone(), bytecode) }?;
    let (prelude, done) = prelude.eval()?;
    settle(ctx, state, &done)?;
    let install: Function<'js> = prelude.namespace()?.get("default")?;
    let [a, b, c, d, e, f, g] = api::natives(ctx, state)?;
    install.call::<_, ()>((a, b, c, d, e, f, g))?;

    // 2. The user's module: compile, evaluate (top-level await allowed), find the entry point.
    let module = Module::declare(ctx.clone(), MODULE_NAME, source)?;
    let (module, done) = module.eval()?;
    settle(ctx, state, &done)?;
    let entry: Value<'js> = module.namespace()?.get("default")?;
    let Some(entry) = entry.into_function() else {
        return Err(script_error(
            "the module must `export default` a function, e.g. \
             `export default async function main(args) { ... }`",
        ));
    };

    // 3. Call it with the arguments and wait for its promise.
    let args: Value<'js> = ctx.json_parse(args_json)?;
    let returned: Value<'js> = entry.call((args,))?;
    let value = match returned.clone().into_promise() {
        Some(p) => settle(ctx, state, &p)?,
        None => returned,
    };

    // 4. Serialize, cap, hand to Rust.
    let json = match ctx.json_stringify(value)? {
        Some(s) => s.to_string()?,
        None => "null".to_string(),
    };
    if json.len() > state.limits.max_result_bytes {
        return Err(Failure::Status(Status::ResultTooLarge {
            size: json.len(),
            limit: state.limits.max_result_bytes,
        }));
    }
    serde_json::from_str(&json)
        .map_err(|e| script_error(format!("result is not representable as JSON here: {e}")))
}

/// Run jobs until `promise` settles, the deadline passes, or nothing is left to run.
fn settle<'js>(
    ctx: &Ctx<'js>,
    state: &ExecState,
    promise: &Promise<'js>,
) -> Result<Value<'js>, Failure> {
    loop {
        match promise.state() {
            PromiseState::Resolved | PromiseState::Rejected => {
                return match promise.result::<Value<'js>>() {
                    Some(Ok(v)) => Ok(v),
                    Some(Err(e)) => Err(e.into()),
                    None => Err(script_error("promise settled without a result")),
                };
            }
            PromiseState::Pending => {}
        }
        if state.check_deadline() {
            return Err(Failure::Status(Status::Timeout));
        }
        // Exceptions escaping a job (interrupts, OOM inside the engine) are dropped here; the
        // deadline and allocator flags carry the information.
        if !ctx.execute_pending_job() {
            return Err(script_error(
                "the promise never settles: nothing is left to run \
                 (the sandbox has no timers or I/O other than fetch)",
            ));
        }
    }
}

/// Turn a thrown value into a status.
fn classify<'js>(
    ctx: &Ctx<'js>,
    state: &ExecState,
    stats: &AllocStats,
    thrown: Value<'js>,
) -> Status {
    if state.timed_out() || stats.expired() {
        return Status::Timeout;
    }
    let info = describe(ctx, &thrown);
    if stats.refused() || (info.name == "InternalError" && info.message == "out of memory") {
        return Status::MemoryLimit;
    }
    if (info.name == "RangeError" && info.message == "Maximum call stack size exceeded")
        || (info.name == "InternalError" && info.message == "stack overflow")
    {
        return Status::StackOverflow;
    }
    if info.name == "HostError" && state.is_host_error(&info.message) {
        return Status::HostError {
            message: state.redact(&info.message),
        };
    }
    let message = if info.name.is_empty() {
        info.message
    } else {
        format!("{}: {}", info.name, info.message)
    };
    Status::ScriptError {
        message: truncate(&state.redact(&message), MAX_MESSAGE_BYTES),
        stack: info.stack.map(|s| trim_stack(&state.redact(&s))),
    }
}

struct ErrorInfo {
    name: String,
    message: String,
    stack: Option<String>,
}

/// Read name/message/stack of a thrown value. Getters run user code, which is still under the
/// interrupt handler, so this is bounded by the deadline; failures give placeholders.
fn describe<'js>(ctx: &Ctx<'js>, thrown: &Value<'js>) -> ErrorInfo {
    if let Some(exc) = thrown.as_exception() {
        let obj = exc.as_object();
        let name = obj.get::<_, String>("name").unwrap_or_default();
        let message = obj
            .get::<_, String>("message")
            .unwrap_or_else(|_| "[unreadable message]".to_string());
        let stack = obj.get::<_, String>("stack").ok().filter(|s| !s.is_empty());
        // Reading a property may itself have thrown; don't leave that pending.
        if ctx.has_exception() {
            let _ = ctx.catch();
        }
        return ErrorInfo {
            name,
            message,
            stack,
        };
    }
    let message = if let Some(s) = thrown.as_string() {
        s.to_string().unwrap_or_default()
    } else if thrown.is_undefined() {
        "undefined".to_string()
    } else if thrown.is_null() {
        "null".to_string()
    } else {
        match ctx.json_stringify(thrown.clone()) {
            Ok(Some(s)) => s.to_string().unwrap_or_default(),
            _ => {
                if ctx.has_exception() {
                    let _ = ctx.catch();
                }
                format!("[thrown {}]", thrown.type_name())
            }
        }
    };
    ErrorInfo {
        name: String::new(),
        message,
        stack: None,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", s.get(..cut).unwrap_or_default())
}

fn trim_stack(stack: &str) -> String {
    let lines: Vec<&str> = stack.lines().take(MAX_STACK_LINES).collect();
    truncate(&lines.join("\n"), MAX_MESSAGE_BYTES)
}
