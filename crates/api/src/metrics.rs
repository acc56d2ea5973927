//! Prometheus metrics.
//!
//! The process has one metrics registry: the global recorder of the [`metrics`] facade, installed
//! once by [`Metrics::install`]. Any crate of the node adds its own service metrics with the plain
//! facade macros (`metrics::counter!("nsl_oracle_requests_total", "outcome" => "ok").increment(1)`)
//! and they appear on `GET /metrics` beside the HTTP ones. Names: `nsl_<area>_<what>[_unit]`.
//!
//! Metrics of this crate:
//! - `nsl_http_requests_total{method,route,status}`: requests by route template (never the raw path,
//!   unknown routes are `route="unmatched"`) and status;
//! - `nsl_http_request_duration_seconds{method,route,status}`: latency histogram;
//! - `nsl_http_requests_in_flight`: gauge;
//! - `nsl_rate_limit_rejections_total{group,scope}`: 429s by route group and bucket scope (ip/key).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::RwLock;

/// Request counter name.
pub const HTTP_REQUESTS: &str = "nsl_http_requests_total";
/// Latency histogram name.
pub const HTTP_DURATION: &str = "nsl_http_request_duration_seconds";
/// In-flight gauge name.
pub const HTTP_IN_FLIGHT: &str = "nsl_http_requests_in_flight";
/// Rate limit rejection counter name.
pub const RATE_LIMIT_REJECTIONS: &str = "nsl_rate_limit_rejections_total";

/// Latency histogram buckets, in seconds (0.5 ms .. 10 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Handle to the process-wide metrics registry; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

impl Metrics {
    /// Install the Prometheus recorder as the global `metrics` recorder (first call) and return the
    /// handle; later calls return the same handle. If some other recorder was installed first, the
    /// API still works but `/metrics` shows only an empty registry.
    pub fn install() -> Metrics {
        GLOBAL
            .get_or_init(|| {
                let builder = PrometheusBuilder::new().set_buckets_for_metric(
                    Matcher::Full(HTTP_DURATION.to_owned()),
                    LATENCY_BUCKETS,
                );
                let recorder = match builder {
                    Ok(b) => b.build_recorder(),
                    // Only fails for an empty bucket list, which LATENCY_BUCKETS is not.
                    Err(_) => PrometheusBuilder::new().build_recorder(),
                };
                let handle = recorder.handle();
                if metrics::set_global_recorder(recorder).is_err() {
                    tracing::warn!(
                        "a metrics recorder was already installed; /metrics will be empty"
                    );
                }
                describe();
                Metrics { handle }
            })
            .clone()
    }

    /// Render the registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// Spawn the periodic upkeep task (drains histogram buffers so memory stays bounded between
    /// scrapes). Call once from a Tokio runtime.
    pub fn spawn_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        })
    }
}

/// (method, route template, status) of one HTTP series.
type SeriesKey = (&'static str, Arc<str>, u16);

/// Handles of the HTTP series, cached so the hot path does not rebuild label sets. Label values are
/// bounded: methods outside the standard set are `other`, routes are templates or `unmatched`,
/// statuses are three-digit codes.
pub(crate) struct HttpSeries {
    by_key: RwLock<HashMap<SeriesKey, (Counter, Histogram)>>,
    in_flight: Gauge,
}

impl HttpSeries {
    /// The process-wide series (register after [`Metrics::install`]).
    pub(crate) fn get() -> &'static HttpSeries {
        static HTTP: OnceLock<HttpSeries> = OnceLock::new();
        HTTP.get_or_init(|| HttpSeries {
            by_key: RwLock::new(HashMap::new()),
            in_flight: metrics::gauge!(HTTP_IN_FLIGHT),
        })
    }

    /// The in-flight gauge.
    pub(crate) fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// Count one finished request and its latency.
    pub(crate) fn record(&self, method: &'static str, route: &Arc<str>, status: u16, seconds: f64) {
        let key = (method, route.clone(), status);
        if let Some((c, h)) = self.by_key.read().get(&key) {
            c.increment(1);
            h.record(seconds);
            return;
        }
        let status_label = status.to_string();
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_string()),
            ("status", status_label),
        ];
        let c = metrics::counter!(HTTP_REQUESTS, &labels);
        let h = metrics::histogram!(HTTP_DURATION, &labels);
        c.increment(1);
        h.record(seconds);
        self.by_key.write().insert(key, (c, h));
    }
}

/// Metric label of an HTTP method (bounded set).
pub(crate) fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, route template and status"
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency by method, route template and status"
    );
    metrics::describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being served");
    metrics::describe_counter!(
        RATE_LIMIT_REJECTIONS,
        "requests rejected with 429 by group and scope"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(method_label(&http::Method::GET), "GET");
        let odd = http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
