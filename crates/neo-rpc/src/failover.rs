//! Several endpoints behind one [`crate::RpcClient`]: preference order, a circuit breaker per
//! endpoint and a background health check.
//!
//! ```text
//!            success                      failure (threshold reached)
//!   ┌──────── Closed ◀─────────────┐  Closed ─────────────────────────▶ Open { until }
//!   │                              │                                       │ now >= until
//!   │  probe fails: cooldown × 2   │ probe succeeds                        ▼ (one call or health check
//!   └──▶ Open ◀──────────────── HalfOpen ◀─────────────────────────────────┘  is the probe)
//! ```
//!
//! Invariants:
//! - A call tries the endpoints in configured order, closed breakers first (lagging ones after
//!   the others), then half-open ones, then open ones: a call that could succeed is never
//!   refused. Probing a half-open endpoint is the health check's job; a call probes one only
//!   when every closed endpoint failed.
//! - Every endpoint must serve the same chain: the health check reads each endpoint's chain
//!   identity (network magic from `getversion`, genesis hash from `getblockhash 0`) once; the
//!   first endpoint in configured order to answer sets the client's chain, and an endpoint of
//!   another chain is never used (not even as a last resort): failing over to another chain
//!   would make its blocks look like ours.
//! - Only transport failures (connection, timeout, HTTP 5xx/429) count against an endpoint and
//!   move the call on; a JSON-RPC error object is the node's answer and is returned as is.
//! - URLs are shown (logs, errors, metrics labels, `Debug`) only in redacted form: no user info,
//!   no query, no fragment.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Failover settings of a client with several endpoints (see [`crate::RpcClient::with_endpoints`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverConfig {
    /// Consecutive transport failures that open an endpoint's breaker. Default 3.
    pub breaker_threshold: u32,
    /// How long an opened breaker keeps the endpoint out before one probe. Default 1 s.
    pub breaker_cooldown: Duration,
    /// Ceiling of the cooldown, which doubles after each failed probe. Default 30 s.
    pub breaker_max_cooldown: Duration,
    /// An endpoint whose block count is more than this many blocks behind the best endpoint's
    /// is used only after the others. Default 5.
    pub lag_threshold: u32,
    /// Pause between two health checks (`getblockcount` on every endpoint whose breaker lets a
    /// call through). `Duration::ZERO` disables the check. Default 1 s.
    pub health_interval: Duration,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(1),
            breaker_max_cooldown: Duration::from_secs(30),
            lag_threshold: 5,
            health_interval: Duration::from_secs(1),
        }
    }
}

/// State of an endpoint's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Too many consecutive failures: the endpoint is skipped until its cooldown ends.
    Open,
    /// The cooldown ended: one probe call decides between closed and open again.
    HalfOpen,
}

/// One endpoint as the client sees it ([`crate::RpcClient::endpoint_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    /// The URL without user info, query or fragment.
    pub url: String,
    /// The breaker's state.
    pub state: BreakerState,
    /// Behind the best endpoint by more than [`FailoverConfig::lag_threshold`] blocks at the last
    /// health check.
    pub lagging: bool,
    /// Block count at the last successful health check.
    pub block_count: Option<u32>,
    /// Serves another chain than the client's (network magic or genesis hash differs): never
    /// used.
    pub wrong_network: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_until: Instant },
}

/// A circuit breaker driven by explicit instants (no clock inside, so tests step time).
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    threshold: u32,
    base_cooldown: Duration,
    max_cooldown: Duration,
    cooldown: Duration,
    failures: u32,
    state: State,
}

/// What a failure or success did to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Opened,
    Closed,
}

impl Breaker {
    pub(crate) fn new(cfg: &FailoverConfig) -> Self {
        Self {
            threshold: cfg.breaker_threshold.max(1),
            base_cooldown: cfg.breaker_cooldown,
            max_cooldown: cfg.breaker_max_cooldown.max(cfg.breaker_cooldown),
            cooldown: cfg.breaker_cooldown,
            failures: 0,
            state: State::Closed,
        }
    }

    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go to the endpoint now. After the cooldown the first caller becomes
    /// the probe; others are refused until the probe reports or `probe_timeout` passes (a probe
    /// whose caller went away must not block the endpoint for ever).
    pub(crate) fn try_acquire(&mut self, now: Instant, probe_timeout: Duration) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until } | State::HalfOpen { probe_until: until } if now >= until => {
                self.state = State::HalfOpen {
                    probe_until: now + probe_timeout,
                };
                true
            }
            State::Open { .. } | State::HalfOpen { .. } => false,
        }
    }

    pub(crate) fn success(&mut self) -> Transition {
        let was = self.state;
        self.failures = 0;
        self.cooldown = self.base_cooldown;
        self.state = State::Closed;
        if was == State::Closed {
            Transition::None
        } else {
            Transition::Closed
        }
    }

    pub(crate) fn failure(&mut self, now: Instant) -> Transition {
        match self.state {
            State::Closed => {
                self.failures = self.failures.saturating_add(1);
                if self.failures >= self.threshold {
                    self.state = State::Open {
                        until: now + self.cooldown,
                    };
                    Transition::Opened
                } else {
                    Transition::None
                }
            }
            State::HalfOpen { .. } => {
                self.cooldown = (self.cooldown * 2).min(self.max_cooldown);
                self.state = State::Open {
                    until: now + self.cooldown,
                };
                Transition::Opened
            }
            // A last-resort call to an open endpoint failed: the cooldown stands.
            State::Open { .. } => Transition::None,
        }
    }
}

/// One configured endpoint.
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) redacted: String,
    pub(crate) breaker: Mutex<Breaker>,
    pub(crate) lagging: AtomicBool,
    /// Block count at the last health check; 0 = unknown.
    pub(crate) block_count: AtomicU32,
    /// Chain identity (network magic, genesis block hash), once read.
    pub(crate) chain_id: std::sync::OnceLock<ChainId>,
    /// Its identity differs from the client's chain.
    pub(crate) wrong_network: AtomicBool,
}

impl Endpoint {
    pub(crate) fn new(url: String, cfg: &FailoverConfig) -> Self {
        let redacted = redact_url(&url);
        Self {
            url,
            redacted,
            breaker: Mutex::new(Breaker::new(cfg)),
            lagging: AtomicBool::new(false),
            block_count: AtomicU32::new(0),
            chain_id: std::sync::OnceLock::new(),
            wrong_network: AtomicBool::new(false),
        }
    }

    fn with_breaker<T>(&self, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut b = self
            .breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut b)
    }

    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        self.with_breaker(|b| b.state(now))
    }

    pub(crate) fn try_acquire(&self, now: Instant, probe_timeout: Duration) -> bool {
        self.with_breaker(|b| b.try_acquire(now, probe_timeout))
    }

    pub(crate) fn record_success(&self) {
        if self.with_breaker(Breaker::success) == Transition::Closed {
            tracing::info!(target: "neo_rpc", endpoint = %self.redacted, "RPC endpoint back: breaker closed");
            self.publish_up(true);
        }
    }

    pub(crate) fn record_failure(&self, now: Instant, error: &dyn std::fmt::Display) {
        if self.with_breaker(|b| b.failure(now)) == Transition::Opened {
            tracing::warn!(target: "neo_rpc", endpoint = %self.redacted, %error,
                "RPC endpoint failing: breaker open");
            self.publish_up(false);
        }
    }

    pub(crate) fn publish_up(&self, up: bool) {
        metrics::gauge!("nsl_rpc_endpoint_up", "endpoint" => self.redacted.clone()).set(if up {
            1.0
        } else {
            0.0
        });
    }

    pub(crate) fn status(&self, now: Instant) -> EndpointStatus {
        let count = self.block_count.load(Ordering::Relaxed);
        EndpointStatus {
            url: self.redacted.clone(),
            state: self.state(now),
            lagging: self.lagging.load(Ordering::Relaxed),
            block_count: (count > 0).then_some(count),
            wrong_network: self.wrong_network.load(Ordering::Relaxed),
        }
    }
}

/// The order in which a call tries `endpoints`: healthy ones in configured order, then lagging
/// ones, then half-open ones (cooldown over, not yet probed), then open ones (last resort);
/// endpoints of another chain not at all. Pure: nothing is acquired.
pub(crate) fn preference(endpoints: &[Endpoint], now: Instant) -> Vec<usize> {
    // A half-open endpoint comes after every closed one: its probe is the health check's job, so
    // a call does not wait on an endpoint that may still be dead (a blackholed one costs the
    // whole timeout) while a working one is there.
    let rank = |e: &Endpoint| match (e.state(now), e.lagging.load(Ordering::Relaxed)) {
        (BreakerState::Closed, false) => 0,
        (BreakerState::Closed, true) => 1,
        (BreakerState::HalfOpen, _) => 2,
        (BreakerState::Open, _) => 3,
    };
    let mut order: Vec<usize> = (0..endpoints.len())
        .filter(|&i| !endpoints[i].wrong_network.load(Ordering::Relaxed))
        .collect();
    order.sort_by_key(|&i| rank(&endpoints[i]));
    order
}

/// A chain's identity: network magic and genesis block hash.
pub(crate) type ChainId = (u32, String);

/// Fix the client's chain (the identity of the first endpoint, in configured order, that has
/// answered) and mark endpoints of another chain.
pub(crate) fn update_network(endpoints: &[Endpoint], network: &std::sync::OnceLock<ChainId>) {
    let Some(reference) = network.get().or_else(|| {
        endpoints
            .iter()
            .find_map(|e| e.chain_id.get().cloned())
            .map(|m| network.get_or_init(|| m))
    }) else {
        return;
    };
    for e in endpoints {
        let wrong = e.chain_id.get().is_some_and(|m| m != reference);
        if wrong && !e.wrong_network.swap(true, Ordering::Relaxed) {
            tracing::error!(target: "neo_rpc", endpoint = %e.redacted, chain = ?e.chain_id.get(),
                expected = ?reference, "RPC endpoint serves another chain: never used");
            e.publish_up(false);
        }
    }
}

/// Mark endpoints lagging behind the best block count by more than `threshold`.
pub(crate) fn update_lag(endpoints: &[Endpoint], threshold: u32) {
    let best = endpoints
        .iter()
        .map(|e| e.block_count.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    for e in endpoints {
        let count = e.block_count.load(Ordering::Relaxed);
        let lagging = count > 0 && best.saturating_sub(count) > threshold;
        if e.lagging.swap(lagging, Ordering::Relaxed) != lagging {
            tracing::info!(target: "neo_rpc", endpoint = %e.redacted, block_count = count,
                best, lagging, "RPC endpoint lag changed");
        }
    }
}

/// A URL without user info, query or fragment, for errors, logs and metrics labels (credentials
/// never printed): `http://user:pw@h:1/p?key=x` → `http://h:1/p`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.split_once('/') {
        Some((auth, path)) => format!("{}/{path}", auth.rsplit('@').next().unwrap_or(auth)),
        None => rest.rsplit('@').next().unwrap_or(rest).to_owned(),
    };
    if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> FailoverConfig {
        FailoverConfig {
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(1),
            breaker_max_cooldown: Duration::from_secs(4),
            ..FailoverConfig::default()
        }
    }

    const PROBE: Duration = Duration::from_secs(10);

    #[test]
    fn opens_after_threshold_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&cfg());
        assert_eq!(b.failure(t0), Transition::None);
        assert_eq!(b.failure(t0), Transition::None);
        // A success in between resets the count.
        assert_eq!(b.success(), Transition::None);
        assert_eq!(b.failure(t0), Transition::None);
        assert_eq!(b.failure(t0), Transition::None);
        assert_eq!(b.state(t0), BreakerState::Closed);
        assert!(b.try_acquire(t0, PROBE));
        assert_eq!(b.failure(t0), Transition::Opened);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(!b.try_acquire(t0 + Duration::from_millis(999), PROBE));
    }

    #[test]
    fn one_probe_after_cooldown_then_closed_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&cfg());
        for _ in 0..3 {
            b.failure(t0);
        }
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        assert!(b.try_acquire(t1, PROBE), "the first caller is the probe");
        assert!(!b.try_acquire(t1, PROBE), "one probe at a time");
        assert_eq!(b.success(), Transition::Closed);
        assert_eq!(b.state(t1), BreakerState::Closed);
        assert!(b.try_acquire(t1, PROBE));
    }

    #[test]
    fn failed_probes_double_the_cooldown_up_to_the_ceiling() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&cfg());
        for _ in 0..3 {
            b.failure(t0);
        }
        let mut now = t0;
        let mut cooldowns = Vec::new();
        let mut cooldown = Duration::from_secs(1);
        for _ in 0..4 {
            now += cooldown;
            assert!(b.try_acquire(now, PROBE));
            assert_eq!(b.failure(now), Transition::Opened);
            // Find the new cooldown: closed to probes just before, open to them at it.
            let next = (cooldown * 2).min(Duration::from_secs(4));
            assert!(
                !b.clone()
                    .try_acquire(now + next - Duration::from_millis(1), PROBE)
            );
            assert!(b.clone().try_acquire(now + next, PROBE));
            cooldowns.push(next);
            cooldown = next;
        }
        assert_eq!(
            cooldowns,
            [2, 4, 4, 4].map(Duration::from_secs).to_vec(),
            "doubling capped at breaker_max_cooldown"
        );
        // Success resets the cooldown to the base value.
        now += cooldown;
        assert!(b.try_acquire(now, PROBE));
        b.success();
        for _ in 0..3 {
            b.failure(now);
        }
        assert!(b.clone().try_acquire(now + Duration::from_secs(1), PROBE));
    }

    #[test]
    fn an_abandoned_probe_does_not_block_the_endpoint_for_ever() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&cfg());
        for _ in 0..3 {
            b.failure(t0);
        }
        let t1 = t0 + Duration::from_secs(1);
        assert!(b.try_acquire(t1, PROBE));
        // The probe's caller never reports back.
        assert!(!b.try_acquire(t1 + PROBE - Duration::from_millis(1), PROBE));
        assert!(b.try_acquire(t1 + PROBE, PROBE));
    }

    #[test]
    fn a_failed_last_resort_call_keeps_the_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&cfg());
        for _ in 0..3 {
            b.failure(t0);
        }
        assert_eq!(b.failure(t0 + Duration::from_millis(500)), Transition::None);
        assert!(b.try_acquire(t0 + Duration::from_secs(1), PROBE));
        // ...and a successful one closes the breaker.
        let mut b2 = Breaker::new(&cfg());
        for _ in 0..3 {
            b2.failure(t0);
        }
        assert_eq!(b2.success(), Transition::Closed);
    }

    #[test]
    fn preference_puts_healthy_first_then_lagging_then_open() {
        let c = cfg();
        let eps: Vec<Endpoint> = (0..4)
            .map(|i| Endpoint::new(format!("http://h{i}:1"), &c))
            .collect();
        let now = Instant::now();
        assert_eq!(preference(&eps, now), [0, 1, 2, 3]);
        for _ in 0..3 {
            eps[0].record_failure(now, &"refused");
        }
        eps[1].lagging.store(true, Ordering::Relaxed);
        assert_eq!(preference(&eps, now), [2, 3, 1, 0]);
        // Cooldown over: endpoint 0 may be probed, but after every endpoint known to work.
        let later = now + Duration::from_secs(1);
        assert_eq!(preference(&eps, later), [2, 3, 1, 0]);
        // A successful probe puts it back in its configured place.
        assert!(eps[0].try_acquire(later, Duration::from_secs(5)));
        eps[0].record_success();
        assert_eq!(preference(&eps, later), [0, 2, 3, 1]);
    }

    #[test]
    fn endpoints_of_another_network_are_never_used() {
        let c = cfg();
        let eps: Vec<Endpoint> = (0..3)
            .map(|i| Endpoint::new(format!("http://h{i}:1"), &c))
            .collect();
        let network = std::sync::OnceLock::new();
        // Nothing known yet: nothing decided.
        update_network(&eps, &network);
        assert_eq!(network.get(), None);
        // Endpoint 0 has not answered; 1 and 2 disagree: the first in configured order wins.
        let a: ChainId = (7, "0xa".into());
        eps[1].chain_id.set(a.clone()).unwrap();
        eps[2].chain_id.set((7, "0xb".into())).unwrap();
        update_network(&eps, &network);
        assert_eq!(network.get(), Some(&a));
        assert!(eps[2].wrong_network.load(Ordering::Relaxed));
        // Endpoint 0 answers later with the other magic: the network stays the one fixed.
        eps[0].chain_id.set((8, "0xa".into())).unwrap();
        update_network(&eps, &network);
        assert_eq!(network.get(), Some(&a));
        assert!(eps[0].wrong_network.load(Ordering::Relaxed));
        assert!(!eps[1].wrong_network.load(Ordering::Relaxed));
        let now = Instant::now();
        assert_eq!(preference(&eps, now), [1]);
        // Even with endpoint 1 failing, the others are not a last resort.
        for _ in 0..3 {
            eps[1].record_failure(now, &"refused");
        }
        assert_eq!(preference(&eps, now), [1]);
    }

    #[test]
    fn lag_is_measured_against_the_best_endpoint() {
        let c = cfg();
        let eps: Vec<Endpoint> = (0..3)
            .map(|i| Endpoint::new(format!("http://h{i}:1"), &c))
            .collect();
        eps[0].block_count.store(100, Ordering::Relaxed);
        eps[1].block_count.store(95, Ordering::Relaxed);
        eps[2].block_count.store(94, Ordering::Relaxed);
        update_lag(&eps, 5);
        let lag: Vec<bool> = eps
            .iter()
            .map(|e| e.lagging.load(Ordering::Relaxed))
            .collect();
        assert_eq!(lag, [false, false, true]);
        // Unknown heights (never answered) are not called lagging: the breaker handles them.
        eps[2].block_count.store(0, Ordering::Relaxed);
        update_lag(&eps, 5);
        assert!(!eps[2].lagging.load(Ordering::Relaxed));
    }

    #[test]
    fn redaction_drops_user_info_query_and_fragment() {
        assert_eq!(
            redact_url("https://user:s3cret@node.example:443/rpc?apikey=k#f"),
            "https://node.example:443/rpc"
        );
        assert_eq!(redact_url("http://u:p@h:1"), "http://h:1");
        assert_eq!(redact_url("http://h:1/"), "http://h:1/");
        let s = format!(
            "{:?}",
            Endpoint::new("http://u:pw@h:1/?token=t".into(), &cfg()).status(Instant::now())
        );
        assert!(!s.contains("pw") && !s.contains("token"), "{s}");
    }
}
