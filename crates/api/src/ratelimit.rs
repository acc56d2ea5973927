//! Token-bucket rate limits per client IP and per credential, by route group.
//!
//! ```text
//! request --> group middleware: bucket (group, ip or IPv6 /64)  empty? --> 429 + Retry-After
//!         --> auth extractor:   bucket (group, key | session)      empty? --> 429 + Retry-After
//!                               bucket (group, account)            empty? --> 429 + Retry-After
//! ```
//!
//! IPv6 clients are keyed by their network (`[rate_limit] ipv6_prefix_len`, default /64: one
//! subscriber usually holds a whole /64, so per-address buckets would give it 2^64 of them). The
//! account bucket sits above the per-key ones: all keys and sessions of an account share it, so
//! minting more keys does not multiply an account's rate.
//!
//! Each bucket holds at most `burst` tokens and refills at `rate_per_sec`; a request takes one. The
//! per-credential bucket is checked only after the credential is verified, so nobody can drain
//! another client's bucket by sending its key prefix.
//!
//! Memory is bounded: buckets live in a sharded map of at most `max_entries` entries. When a shard is
//! full, buckets that have refilled completely (judged with each bucket's own rate and burst) are
//! dropped first (they are indistinguishable from a new bucket); if none has, the least recently used bucket is dropped, which at worst hands that
//! client a fresh burst. State is per process: with several nodes behind a balancer, each node
//! enforces its own limits.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr};
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
    /// Per API key or session: [auth, read, write].
    pub per_key: [Option<BucketSpec>; 3],
    /// Per account, shared by its keys and sessions: [auth, read, write].
    pub per_account: [Option<BucketSpec>; 3],
    /// Bound on the number of buckets kept in memory.
    pub max_entries: usize,
    /// IPv6 clients are keyed by their network of this prefix length (0 is taken as 128).
    pub ipv6_prefix_len: u8,
}

/// Default bound on buckets kept in memory (about 100 bytes each).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

impl RateLimitPolicy {
    /// The policy of a `[rate_limit]` section (`enabled = false` disables every bucket).
    pub fn from_config(cfg: &nsl_config::RateLimitConfig) -> Self {
        let mut p = Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            ipv6_prefix_len: cfg.ipv6_prefix_len,
            ..Self::default()
        };
        if cfg.enabled {
            for g in RouteGroup::ALL {
                p.per_ip[group_index(g)] = Some(cfg.per_ip_for(g));
                p.per_key[group_index(g)] = Some(cfg.per_api_key_for(g));
                p.per_account[group_index(g)] = Some(cfg.per_account_for(g));
            }
        }
        p
    }
}

/// What a bucket is keyed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A client IP (IPv6: masked to the policy's prefix by the limiter).
    Ip(IpAddr),
    /// A credential: an API key id or a session (refresh-token family).
    Key(String),
    /// An account: shared by all its keys and sessions.
    Account(String),
}

impl Subject {
    fn scope(&self) -> &'static str {
        match self {
            Self::Ip(_) => "ip",
            Self::Key(_) => "key",
            Self::Account(_) => "account",
        }
    }
}

/// The address a client IP is keyed by: IPv4 (also IPv4-mapped IPv6) as is, IPv6 masked to its
/// `prefix_len` network.
pub fn ip_key(ip: IpAddr, prefix_len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let len = u32::from(if prefix_len == 0 {
                128
            } else {
                prefix_len.min(128)
            });
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// The bucket's own refill rate and size (eviction judges each bucket by its own spec).
    rate: f64,
    burst: f64,
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
        let (spec, subject) = match subject {
            Subject::Ip(ip) => (
                self.policy.per_ip[group_index(group)],
                Subject::Ip(ip_key(ip, self.policy.ipv6_prefix_len)),
            ),
            s @ Subject::Key(_) => (self.policy.per_key[group_index(group)], s),
            s @ Subject::Account(_) => (self.policy.per_account[group_index(group)], s),
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
            evict(&mut map, now);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
            rate,
            burst,
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

/// Make room in a full shard: drop buckets that have refilled completely (each judged with its own
/// rate and burst), else the least recently used one.
fn evict(map: &mut Shard, now: Instant) {
    let before = map.len();
    map.retain(|_, b| {
        b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * b.rate < b.burst
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
            per_account: [spec; 3],
            max_entries,
            ipv6_prefix_len: 64,
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
    fn ipv6_clients_share_a_bucket_per_64() {
        let l = limiter(2, 0.0001, 1000);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check(RouteGroup::Read, Subject::Ip(a)).is_ok());
        assert!(l.check(RouteGroup::Read, Subject::Ip(b)).is_ok());
        assert!(
            l.check(RouteGroup::Read, Subject::Ip(b)).is_err(),
            "another address of the same /64 draws from the same bucket"
        );
        assert!(l.check(RouteGroup::Read, Subject::Ip(other_net)).is_ok());
        // The prefix is configurable: per /128 every address has its own bucket.
        let mut p = l.policy().clone();
        p.ipv6_prefix_len = 128;
        let l = RateLimiter::new(p);
        for ip in [a, b] {
            assert!(l.check(RouteGroup::Read, Subject::Ip(ip)).is_ok());
            assert!(l.check(RouteGroup::Read, Subject::Ip(ip)).is_ok());
        }
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(
            ip_key("::ffff:192.0.2.1".parse().unwrap(), 64),
            IpAddr::from([192, 0, 2, 1])
        );
    }

    #[test]
    fn eviction_judges_each_bucket_by_its_own_spec() {
        // Two buckets per shard.
        let slow = BucketSpec {
            burst: 2,
            rate_per_sec: 0.001,
        };
        let fast = BucketSpec {
            burst: 1000,
            rate_per_sec: 1000.0,
        };
        let mut p = RateLimitPolicy {
            max_entries: 2 * SHARDS,
            ipv6_prefix_len: 64,
            ..Default::default()
        };
        p.per_ip = [Some(slow); 3];
        p.per_key = [Some(fast); 3];
        let l = RateLimiter::new(p);
        let shard_of =
            |g: RouteGroup, s: &Subject| l.hasher.hash_one(&(g, s.clone())) % SHARDS as u64;
        let target = shard_of(RouteGroup::Auth, &ip(1));
        let mut same_shard = (0..)
            .map(|i| Subject::Key(format!("k{i}")))
            .filter(|k| shard_of(RouteGroup::Read, k) == target);
        let (k1, k2) = (same_shard.next().unwrap(), same_shard.next().unwrap());
        let t0 = Instant::now();
        // A client drains its slow bucket (2 tokens, one per 1000 s).
        assert!(l.take(RouteGroup::Auth, ip(1), slow, t0).is_ok());
        assert!(l.take(RouteGroup::Auth, ip(1), slow, t0).is_ok());
        assert!(l.take(RouteGroup::Auth, ip(1), slow, t0).is_err());
        // A fast bucket fills the shard, then another one needs room two seconds later.
        assert!(
            l.take(RouteGroup::Read, k1, fast, t0 + Duration::from_millis(1))
                .is_ok()
        );
        let t1 = t0 + Duration::from_secs(2);
        assert!(l.take(RouteGroup::Read, k2, fast, t1).is_ok());
        // Judged with the fast spec the drained slow bucket would look refilled and be dropped,
        // handing the client a fresh burst; judged with its own it is kept (the refilled fast
        // bucket goes instead).
        assert!(
            l.take(RouteGroup::Auth, ip(1), slow, t1).is_err(),
            "the drained bucket survived eviction"
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
