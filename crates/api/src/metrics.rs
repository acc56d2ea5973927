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

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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
