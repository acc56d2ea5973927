//! Logging setup: `tracing` with human or JSON lines, filtered by level or `RUST_LOG` syntax.
//!
//! What is logged per request: method, route template, status, latency, request id (the span opened
//! by [`crate::middleware::finalize`]). What is never logged: tokens, API keys, `Authorization`
//! headers, refresh tokens, signatures, request bodies. Handlers log ids (account id, key prefix), not
//! credentials.

use std::io;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

pub use nsl_config::LogFormat;

/// Errors of logging setup.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter directive does not parse.
    #[error("invalid log filter {0:?}: {1}")]
    Filter(String, String),
    /// A global subscriber was already installed.
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Install the global subscriber for a `[log]` section, writing to stderr. `level` is a level
/// (`info`) or `RUST_LOG`-style directives (`info,sqlx=warn`); the `RUST_LOG` environment variable,
/// if set, wins.
pub fn init_logging(cfg: &nsl_config::LogConfig) -> Result<(), TelemetryError> {
    init_logging_to(cfg.format, &cfg.level, io::stderr)
}

/// As [`init_logging`], writing to `writer`.
pub fn init_logging_to<W>(format: LogFormat, filter: &str, writer: W) -> Result<(), TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let sub = subscriber(format, filter, writer)?;
    tracing::subscriber::set_global_default(sub).map_err(|_| TelemetryError::AlreadyInstalled)
}

/// The subscriber [`init_logging`] installs, writing to `writer` (tests capture output with it via
/// `tracing::subscriber::set_default`).
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Result<Box<dyn Subscriber + Send + Sync>, TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => {
            EnvFilter::try_new(&env).map_err(|e| TelemetryError::Filter(env, e.to_string()))?
        }
        _ => EnvFilter::try_new(filter)
            .map_err(|e| TelemetryError::Filter(filter.to_owned(), e.to_string()))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_span_events(FmtSpan::NONE);
    Ok(match format {
        LogFormat::Human => Box::new(builder.with_ansi(false).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    })
}
