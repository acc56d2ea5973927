//! Stage 2 of an answer: the JSONPath filter, as Neo's reference oracle nodes apply it.
//!
//! - No filter (`None`) or an empty filter: the body is returned unchanged (C# Neo's
//!   `string.IsNullOrEmpty(filter)` rule; see `docs/oracle.md` for neo-go's divergence on `""`).
//! - Otherwise the filter is a path in the dialect of neo-go's `pkg/services/oracle/jsonpath` and
//!   C# Neo's `JPath` ([`path`] has the grammar): `$`, `.name`, `.*`, `..name`, `[*]`,
//!   `[index]`, `[i,j]`, `['name']`, `['a','b']`, `[start:end]`. No filter selectors (`?()`), no
//!   whitespace, no sub-queries: a filter costs at most [`MAX_FILTER_DEPTH`] steps over at most
//!   [`MAX_FILTER_MATCHES`] values, so no filter can make a body expensive to answer.
//! - The body is decoded as neo-go decodes it ([`json`]: the first JSON value, members in
//!   document order, duplicates kept, numbers as doubles, no nesting limit).
//! - The result is the JSON array of the selected values, serialized compactly exactly as neo-go
//!   serializes it (its `go-ordered-json` encoder, which mirrors C# Neo's output):
//!   - object members keep the order they had in the body;
//!   - numbers are IEEE-754 doubles printed like Go's `encoding/json` (`50`, `99.95`, `1e+21`,
//!     `1e-7`): `1.0` in the body becomes `1`, integers beyond 2^53 lose precision;
//!   - strings escape `"` `&` `'` `+` `<` `>` `` ` ``, DEL and control characters as `\u00XX`
//!     (uppercase hex), `\\ \b \f \n \r \t` as themselves, U+2028/U+2029 as `\u2028`/`\u2029`,
//!     and every other non-ASCII character as `\uXXXX` (uppercase hex, UTF-16 surrogate pairs
//!     above U+FFFF);
//! - a path that matches nothing gives `[]`.
//! - Errors (response code `Error`): a path outside the dialect, a filter longer than
//!   [`MAX_FILTER_LEN`] bytes, a body that is not UTF-8 JSON, a path deeper than the depth budget,
//!   more than [`MAX_FILTER_MATCHES`] values at any step, a slice starting before its array. A
//!   result over [`MAX_RESULT_SIZE`] bytes is `ResponseTooLarge` (writing stops at the limit).
//!
//! The work is CPU-bound: the service runs it with [`apply_filter_bounded`], on blocking threads,
//! a few at a time, with a deadline.

mod json;
mod path;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::code::MAX_RESULT_SIZE;
use json::{Doc, WriteStop, write_array};
use path::{Eval, Segment};

/// Longest filter the native OracleContract accepts, in bytes.
pub const MAX_FILTER_LEN: usize = 128;

/// Most values a filter may select at any step (neo-go's `maxObjects`): more is an error, so that
/// a short path cannot multiply a response.
pub const MAX_FILTER_MATCHES: usize = 1024;

/// Depth budget of a path (neo-go's `maxNestingDepth`): each segment spends one level, `..name`
/// one per document level it walks.
pub const MAX_FILTER_DEPTH: usize = 6;

/// How long the service lets one filter run before it answers `Error` (see
/// [`apply_filter_bounded`]). Every accepted filter finishes far sooner on a 64 KB body; the
/// deadline is a backstop.
pub const FILTER_DEADLINE: Duration = Duration::from_secs(5);

/// Why a filter could not be applied. [`FilterError::ResultTooLarge`] is answered with
/// `ResponseTooLarge`, every other variant with `Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter is longer than [`MAX_FILTER_LEN`] bytes.
    #[error("filter is {len} bytes long, at most {MAX_FILTER_LEN} are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The filter is not a path of the accepted dialect.
    #[error("invalid JSONPath filter: {0}")]
    InvalidPath(String),
    /// The body is not UTF-8.
    #[error("response body is not UTF-8")]
    NotUtf8,
    /// The body is not a JSON document.
    #[error("response body is not JSON: {0}")]
    NotJson(String),
    /// The path goes deeper than the depth budget ([`MAX_FILTER_DEPTH`]).
    #[error("filter goes deeper than {MAX_FILTER_DEPTH} levels")]
    TooDeep,
    /// A step selects more than [`MAX_FILTER_MATCHES`] values.
    #[error("filter selects more than {MAX_FILTER_MATCHES} values")]
    TooManyMatches,
    /// A slice starts before the beginning of an array (`[-10:]` on 3 items).
    #[error("filter slices before the start of an array")]
    SliceBeforeStart,
    /// The filtered result is larger than [`MAX_RESULT_SIZE`] bytes.
    #[error("filtered result is larger than {MAX_RESULT_SIZE} bytes")]
    ResultTooLarge,
    /// The filter ran past its deadline and was stopped.
    #[error("filter did not finish within its deadline")]
    Cancelled,
}

/// A parsed, length-checked filter.
#[derive(Debug, Clone)]
pub struct Filter {
    segments: Vec<Segment>,
}

impl Filter {
    /// Parse `filter` (non-empty) as a path of at most [`MAX_FILTER_LEN`] bytes.
    pub fn parse(filter: &str) -> Result<Self, FilterError> {
        if filter.len() > MAX_FILTER_LEN {
            return Err(FilterError::TooLong { len: filter.len() });
        }
        let segments = path::parse(filter)?;
        Ok(Self { segments })
    }

    /// Apply the filter to a JSON `body`: the compact JSON array of the matches (see the module
    /// docs for the exact serialization).
    pub fn apply(&self, body: &[u8]) -> Result<Vec<u8>, FilterError> {
        self.apply_until(body, &|| false)
    }

    /// [`Filter::apply`], checking `cancelled` now and then; once it says `true` the answer is
    /// [`FilterError::Cancelled`].
    pub fn apply_until(
        &self,
        body: &[u8],
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<u8>, FilterError> {
        std::str::from_utf8(body).map_err(|_| FilterError::NotUtf8)?;
        let doc = Doc::parse(body).map_err(FilterError::NotJson)?;
        let selected = Eval::new(&doc, cancelled).run(&self.segments)?;
        let mut out = Vec::with_capacity(64);
        write_array(&doc, &selected, MAX_RESULT_SIZE, cancelled, &mut out).map_err(|stop| {
            match stop {
                WriteStop::TooLarge => FilterError::ResultTooLarge,
                WriteStop::Cancelled => FilterError::Cancelled,
            }
        })?;
        Ok(out)
    }
}

/// Apply Neo's filter rule: `None` or `""` returns `body` unchanged, anything else is parsed as a
/// path and applied with [`Filter::apply`].
pub fn apply_filter(body: &[u8], filter: Option<&str>) -> Result<Vec<u8>, FilterError> {
    apply_filter_until(body, filter, &|| false)
}

fn apply_filter_until(
    body: &[u8],
    filter: Option<&str>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<u8>, FilterError> {
    match filter {
        None | Some("") => Ok(body.to_vec()),
        Some(f) => Filter::parse(f)?.apply_until(body, cancelled),
    }
}

/// Check a filter without a body (length and syntax). `None` and `""` are valid. A filter that
/// passes may still fail on a body (depth budget, object limit).
pub fn validate_filter(filter: Option<&str>) -> Result<(), FilterError> {
    match filter {
        None | Some("") => Ok(()),
        Some(f) => Filter::parse(f).map(|_| ()),
    }
}

/// Filters running at once on blocking threads, process-wide (the CPU cores, at most 4): more
/// requests wait for a slot instead of taking every core the API and the chain follower share.
fn filter_slots() -> &'static Arc<Semaphore> {
    static SLOTS: std::sync::OnceLock<Arc<Semaphore>> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(cores.clamp(1, 4)))
    })
}

/// [`apply_filter`] off the async runtime: on a blocking thread, at most a few at once
/// (process-wide), and within `deadline` (waiting for a slot included). When the deadline
/// passes the answer is [`FilterError::Cancelled`] and the running filter is told to stop at its
/// next check.
pub async fn apply_filter_bounded(
    body: Vec<u8>,
    filter: Option<String>,
    deadline: Duration,
) -> Result<Vec<u8>, FilterError> {
    if matches!(filter.as_deref(), None | Some("")) {
        return Ok(body);
    }
    run_bounded(deadline, move |cancelled| {
        apply_filter_until(&body, filter.as_deref(), cancelled)
    })
    .await
}

/// Run `job` on a blocking thread under the filter slots and `deadline`; `job` gets a check that
/// turns `true` once the deadline passed.
async fn run_bounded<F>(deadline: Duration, job: F) -> Result<Vec<u8>, FilterError>
where
    F: FnOnce(&dyn Fn() -> bool) -> Result<Vec<u8>, FilterError> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let work = async move {
        let permit = filter_slots()
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FilterError::Cancelled)?;
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            if flag.load(Ordering::Relaxed) {
                return Err(FilterError::Cancelled);
            }
            job(&|| flag.load(Ordering::Relaxed))
        });
        handle.await.unwrap_or(Err(FilterError::Cancelled))
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result,
        Err(_) => {
            stop.store(true, Ordering::Relaxed);
            Err(FilterError::Cancelled)
        }
    }
}
