//! Token-bucket rate limits per client IP and per credential, by route group.
//!
//! ```text
//! request --> group middleware: bucket (group, ip)          empty? --> 429 + Retry-After
//!         --> auth extractor:   bucket (group, key|account) empty? --> 429 + Retry-After
//! ```
//!
//! Each bucket holds at most `burst` tokens and refills at `rate_per_sec`; a request takes one. The
//! per-credential bucket is checked only after the credential is verified, so nobody can drain
//! another client's bucket by sending its key prefix.
//!
//! Memory is bounded: buckets live in a sharded map of at most `max_entries` entries. When a shard is
//! full, buckets that have refilled completely are dropped first (they are indistinguishable from a
//! new bucket); if none has, the least recently used bucket is dropped, which at worst hands that
//! client a fresh burst. State is per process: with several nodes behind a balancer, each node
//! enforces its own limits.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use nsl_config::{Bucket as BucketSpec, RouteGroup};

fn group_index(g: RouteGroup) -> usize {
    match g {
        RouteGroup::Auth => 0,
        RouteGroup::Read => 1,
        RouteGroup::Write => 2,
    }
}

/// Limits by group; `None` disables that bucket.
#[derive(Debug, Clone, Default)]
pub struct RateLimitPolicy {
    /// Per client IP: [auth, read, write].
    pub per_ip: [Option<BucketSpec>; 3],
    /// Per API key or account: [auth, read, write].
    pub per_key: [Option<BucketSpec>; 3],
    /// Bound on the number of buckets kept in memory.
    pub max_entries: usize,
}

/// Default bound on buckets kept in memory (about 100 bytes each).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

impl RateLimitPolicy {
    /// The policy of a `[rate_limit]` section (`enabled = false` disables every bucket).
    pub fn from_config(cfg: &nsl_config::RateLimitConfig) -> Self {
        let mut p = Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            ..Self::default()
        };
        if cfg.enabled {
            for g in RouteGroup::ALL {
                p.per_ip[group_index(g)] = Some(cfg.per_ip_for(g));
                p.per_key[group_index(g)] = Some(cfg.per_api_key_for(g));
            }
        }
        p
    }
}

/// What a bucket is keyed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A client IP.
    Ip(IpAddr),
    /// A credential: an API key id or an account id (for JWT sessions).
    Key(String),
}

impl Subject {
    fn scope(&self) -> &'static str {
        match self {
            Self::Ip(_) => "ip",
            Self::Key(_) => "key",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

type Shard = HashMap<(RouteGroup, Subject), Bucket>;

const SHARDS: usize = 16;

/// The limiter: thread-safe, shared by all requests of a router.
#[derive(Debug)]
pub struct RateLimiter {
    policy: RateLimitPolicy,
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hasher: RandomState,
}

impl RateLimiter {
    /// A limiter enforcing `policy`.
    pub fn new(policy: RateLimitPolicy) -> Self {
        let per_shard = policy.max_entries.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self {
            policy,
            shards,
            per_shard,
            hasher: RandomState::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RateLimitPolicy {
        &self.policy
    }

    /// Take one token for `subject` in `group`. `Err(retry_after)` when the bucket is empty; the
    /// rejection is counted in `nsl_rate_limit_rejections_total`.
    pub fn check(&self, group: RouteGroup, subject: Subject) -> Result<(), Duration> {
        let spec = match &subject {
            Subject::Ip(_) => self.policy.per_ip[group_index(group)],
            Subject::Key(_) => self.policy.per_key[group_index(group)],
        };
        let Some(spec) = spec else { return Ok(()) };
        let scope = subject.scope();
        let res = self.take(group, subject, spec, Instant::now());
        if res.is_err() {
            metrics::counter!(crate::metrics::RATE_LIMIT_REJECTIONS, "group" => group.as_str(), "scope" => scope)
                .increment(1);
        }
        res
    }

    fn take(
        &self,
        group: RouteGroup,
        subject: Subject,
        spec: BucketSpec,
        now: Instant,
    ) -> Result<(), Duration> {
        let burst = f64::from(spec.burst.max(1));
        let rate = if spec.rate_per_sec.is_finite() && spec.rate_per_sec > 0.0 {
            spec.rate_per_sec
        } else {
            1e-9
        };
        let key = (group, subject);
        // The modulo keeps the index in range, so `get` cannot fail.
        let idx = (self.hasher.hash_one(&key) % SHARDS as u64) as usize;
        let Some(shard) = self.shards.get(idx) else {
            return Ok(());
        };
        let mut map = shard.lock();
        if !map.contains_key(&key) && map.len() >= self.per_shard {
            evict(&mut map, now, rate, burst);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / rate;
            Err(Duration::from_secs_f64(wait.min(86_400.0)))
        }
    }

    /// Number of buckets currently held (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Make room in a full shard: drop refilled buckets, else the least recently used one.
fn evict(map: &mut Shard, now: Instant, rate: f64, burst: f64) {
    let before = map.len();
    map.retain(|_, b| {
        b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
    });
    if map.len() < before {
        return;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, b)| b.last)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        map.remove(&k);
    }
}

/// Seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(burst: u32, per_second: f64, max_entries: usize) -> RateLimiter {
        let spec = Some(BucketSpec {
            burst,
            rate_per_sec: per_second,
        });
        RateLimiter::new(RateLimitPolicy {
            per_ip: [spec; 3],
            per_key: [spec; 3],
            max_entries,
        })
    }

    fn ip(n: u8) -> Subject {
        Subject::Ip(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn burst_then_reject_then_refill() {
        let l = limiter(3, 2.0, 100);
        let t0 = Instant::now();
        let spec = BucketSpec {
            burst: 3,
            rate_per_sec: 2.0,
        };
        for _ in 0..3 {
            assert!(l.take(RouteGroup::Read, ip(1), spec, t0).is_ok());
        }
        let wait = l.take(RouteGroup::Read, ip(1), spec, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert_eq!(retry_after_secs(wait), 1);
        // Another IP and another group have their own buckets.
        assert!(l.take(RouteGroup::Read, ip(2), spec, t0).is_ok());
        assert!(l.take(RouteGroup::Write, ip(1), spec, t0).is_ok());
        // Half a second later one token is back.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.take(RouteGroup::Read, ip(1), spec, t1).is_ok());
        assert!(l.take(RouteGroup::Read, ip(1), spec, t1).is_err());
    }

    #[test]
    fn disabled_group_never_limits() {
        let mut p = RateLimitPolicy {
            max_entries: 10,
            ..Default::default()
        };
        p.per_ip[group_index(RouteGroup::Auth)] = Some(BucketSpec {
            burst: 1,
            rate_per_sec: 0.001,
        });
        let l = RateLimiter::new(p);
        for _ in 0..100 {
            assert!(l.check(RouteGroup::Read, ip(1)).is_ok());
        }
        assert!(l.check(RouteGroup::Auth, ip(1)).is_ok());
        assert!(l.check(RouteGroup::Auth, ip(1)).is_err());
        assert!(
            l.check(RouteGroup::Auth, Subject::Key("k".into())).is_ok(),
            "per-key auth disabled"
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let l = limiter(1, 0.0001, 64);
        for i in 0..10_000u32 {
            let s = Subject::Ip(IpAddr::from(i.to_be_bytes()));
            let _ = l.check(RouteGroup::Read, s);
        }
        assert!(l.len() <= 64 + SHARDS, "held {}", l.len());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
