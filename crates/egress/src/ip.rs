//! Classification of IP addresses: which ones the egress client may dial.
//!
//! The rule is an allowlist in spirit: an IPv4 address must be outside every special-purpose range of
//! the IANA registry that is not globally reachable (plus a few that are reachable but never a data
//! source, such as multicast); an IPv6 address must be global unicast (`2000::/3`) and outside the
//! special blocks inside it, except for the two forms that carry an IPv4 address that the kernel or a
//! translator will actually reach (IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`) and 6to4
//! (`2002::/16`): for those the embedded IPv4 address is classified. Teredo (`2001::/32`) and the
//! deprecated IPv4-compatible form (`::/96`) are refused outright.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an address is not public: the special-purpose range it falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockedClass {
    /// `0.0.0.0/8` ("this network"; `0.0.0.0` reaches the local host on Linux).
    ThisNetwork,
    /// `::` (unspecified).
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT shared address space (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16` (cloud metadata lives here), `fe80::/10`.
    LinkLocal,
    /// `192.0.0.0/24`, `2001::/23` (IETF protocol assignments).
    IetfProtocolAssignment,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// `240.0.0.0/4`, `192.88.99.0/24` (old 6to4 relay anycast), `5f00::/16` (SRv6 SIDs).
    Reserved,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `fc00::/7` unique local addresses.
    UniqueLocal,
    /// `fec0::/10` deprecated site-local addresses.
    SiteLocal,
    /// `100::/64` discard-only prefix.
    DiscardOnly,
    /// `2001::/32` Teredo tunnels (embedded addresses are obfuscated; refused outright).
    Teredo,
    /// `::/96` deprecated IPv4-compatible addresses (refused outright).
    Ipv4Compatible,
    /// `64:ff9b:1::/48` local-use NAT64 prefix.
    Nat64LocalUse,
    /// Any other IPv6 address outside global unicast `2000::/3`.
    NotGlobalUnicast,
}

impl BlockedClass {
    /// Stable lower-case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThisNetwork => "this-network",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared-address-space",
            Self::LinkLocal => "link-local",
            Self::IetfProtocolAssignment => "ietf-protocol-assignment",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::UniqueLocal => "unique-local",
            Self::SiteLocal => "site-local",
            Self::DiscardOnly => "discard-only",
            Self::Teredo => "teredo",
            Self::Ipv4Compatible => "ipv4-compatible",
            Self::Nat64LocalUse => "nat64-local-use",
            Self::NotGlobalUnicast => "not-global-unicast",
        }
    }
}

/// How an IPv4 address was carried inside an IPv6 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ipv4Embedding {
    /// `::ffff:a.b.c.d`.
    Ipv4Mapped,
    /// `64:ff9b::a.b.c.d` (NAT64 well-known prefix).
    Nat64,
    /// `2002:AABB:CCDD::/48` (6to4).
    SixToFour,
}

impl Ipv4Embedding {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4Mapped => "ipv4-mapped",
            Self::Nat64 => "nat64",
            Self::SixToFour => "6to4",
        }
    }
}

/// The verdict on a refused address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockReason {
    /// The special-purpose range that was hit.
    pub class: BlockedClass,
    /// Set when the range was hit by an IPv4 address embedded in an IPv6 address.
    pub embedded: Option<(Ipv4Embedding, Ipv4Addr)>,
}

impl BlockReason {
    fn direct(class: BlockedClass) -> Self {
        Self {
            class,
            embedded: None,
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            None => write!(f, "{} address", self.class.as_str()),
            Some((form, v4)) => write!(
                f,
                "{} address {v4} embedded in a {} IPv6 address",
                self.class.as_str(),
                form.as_str()
            ),
        }
    }
}

/// Classify an address: `None` if it is public (may be dialled), otherwise why not.
pub fn blocked_reason(ip: IpAddr) -> Option<BlockReason> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(BlockReason::direct),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// `true` if the address is public, i.e. [`blocked_reason`] is `None`.
pub fn is_public(ip: IpAddr) -> bool {
    blocked_reason(ip).is_none()
}

/// `(network, prefix length, class)`; more specific entries first where they overlap.
const V4_BLOCKS: &[([u8; 4], u8, BlockedClass)] = &[
    ([255, 255, 255, 255], 32, BlockedClass::Broadcast),
    ([0, 0, 0, 0], 8, BlockedClass::ThisNetwork),
    ([10, 0, 0, 0], 8, BlockedClass::Private),
    ([100, 64, 0, 0], 10, BlockedClass::SharedAddressSpace),
    ([127, 0, 0, 0], 8, BlockedClass::Loopback),
    ([169, 254, 0, 0], 16, BlockedClass::LinkLocal),
    ([172, 16, 0, 0], 12, BlockedClass::Private),
    ([192, 0, 0, 0], 24, BlockedClass::IetfProtocolAssignment),
    ([192, 0, 2, 0], 24, BlockedClass::Documentation),
    ([192, 88, 99, 0], 24, BlockedClass::Reserved),
    ([192, 168, 0, 0], 16, BlockedClass::Private),
    ([198, 18, 0, 0], 15, BlockedClass::Benchmarking),
    ([198, 51, 100, 0], 24, BlockedClass::Documentation),
    ([203, 0, 113, 0], 24, BlockedClass::Documentation),
    ([224, 0, 0, 0], 4, BlockedClass::Multicast),
    ([240, 0, 0, 0], 4, BlockedClass::Reserved),
];

fn classify_v4(ip: Ipv4Addr) -> Option<BlockedClass> {
    let addr = u32::from(ip);
    V4_BLOCKS
        .iter()
        .find(|(net, len, _)| prefix_match_u32(addr, u32::from_be_bytes(*net), *len))
        .map(|(_, _, class)| *class)
}

/// IPv6 blocks checked before the "must be in 2000::/3" rule; most specific first.
const V6_BLOCKS: &[(u128, u8, BlockedClass)] = &[
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        BlockedClass::Nat64LocalUse,
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        BlockedClass::DiscardOnly,
    ),
    (
        0x2001_0002_0000_0000_0000_0000_0000_0000,
        48,
        BlockedClass::Benchmarking,
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        32,
        BlockedClass::Teredo,
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        23,
        BlockedClass::IetfProtocolAssignment,
    ),
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        BlockedClass::Documentation,
    ),
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        BlockedClass::Documentation,
    ),
    (
        0x5f00_0000_0000_0000_0000_0000_0000_0000,
        16,
        BlockedClass::Reserved,
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        BlockedClass::UniqueLocal,
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        BlockedClass::LinkLocal,
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        BlockedClass::SiteLocal,
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        BlockedClass::Multicast,
    ),
];

const V4_MAPPED: (u128, u8) = (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96);
const NAT64_WKP: (u128, u8) = (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96);
const SIX_TO_FOUR: (u128, u8) = (0x2002_0000_0000_0000_0000_0000_0000_0000, 16);
const V4_COMPATIBLE: (u128, u8) = (0, 96);
const GLOBAL_UNICAST: (u128, u8) = (0x2000_0000_0000_0000_0000_0000_0000_0000, 3);

fn classify_v6(ip: Ipv6Addr) -> Option<BlockReason> {
    let addr = u128::from(ip);
    if ip.is_unspecified() {
        return Some(BlockReason::direct(BlockedClass::Unspecified));
    }
    if ip.is_loopback() {
        return Some(BlockReason::direct(BlockedClass::Loopback));
    }
    let embedded = |form: Ipv4Embedding, v4: Ipv4Addr| {
        classify_v4(v4).map(|class| BlockReason {
            class,
            embedded: Some((form, v4)),
        })
    };
    // The low 32 bits as IPv4 (mapped, NAT64) or bits 16..48 (6to4). Truncating casts are the point.
    let low32 = Ipv4Addr::from(addr as u32);
    if prefix_match_u128(addr, V4_MAPPED.0, V4_MAPPED.1) {
        return embedded(Ipv4Embedding::Ipv4Mapped, low32);
    }
    if prefix_match_u128(addr, NAT64_WKP.0, NAT64_WKP.1) {
        return embedded(Ipv4Embedding::Nat64, low32);
    }
    if prefix_match_u128(addr, SIX_TO_FOUR.0, SIX_TO_FOUR.1) {
        let v4 = Ipv4Addr::from((addr >> 80) as u32);
        return embedded(Ipv4Embedding::SixToFour, v4);
    }
    if prefix_match_u128(addr, V4_COMPATIBLE.0, V4_COMPATIBLE.1) {
        return Some(BlockReason::direct(BlockedClass::Ipv4Compatible));
    }
    if let Some((_, _, class)) = V6_BLOCKS
        .iter()
        .find(|(net, len, _)| prefix_match_u128(addr, *net, *len))
    {
        return Some(BlockReason::direct(*class));
    }
    if !prefix_match_u128(addr, GLOBAL_UNICAST.0, GLOBAL_UNICAST.1) {
        return Some(BlockReason::direct(BlockedClass::NotGlobalUnicast));
    }
    None
}

fn prefix_match_u32(addr: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    addr & mask == net & mask
}

fn prefix_match_u128(addr: u128, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    };
    addr & mask == net & mask
}

/// An IP network in CIDR notation (`127.0.0.2/32`, `10.1.0.0/16`, `fd00::/8`; a bare address means a
/// single host). Host bits below the prefix are cleared when parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

/// A CIDR string that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid IP network `{0}`: expected ADDRESS or ADDRESS/PREFIX")]
pub struct IpNetworkParseError(String);

impl IpNetwork {
    /// A network from an address and a prefix length (`None` if the length is too long).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                let mask = if prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(prefix))
                };
                Some(Self {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask)),
                    prefix,
                })
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                let mask = if prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(prefix))
                };
                Some(Self {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)),
                    prefix,
                })
            }
            _ => None,
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network. An IPv4-mapped IPv6 address is matched as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                prefix_match_u32(u32::from(a), u32::from(net), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_match_u128(u128::from(a), u128::from(net), self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = IpNetworkParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IpNetworkParseError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| err())?
            }
            Some(_) => return Err(err()),
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Self::new(addr, prefix).ok_or_else(err)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpNetwork {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn class(s: &str) -> Option<BlockedClass> {
        blocked_reason(ip(s)).map(|r| r.class)
    }

    fn assert_blocked(s: &str, expected: BlockedClass) {
        assert_eq!(class(s), Some(expected), "{s}");
    }

    fn assert_public(s: &str) {
        assert_eq!(class(s), None, "{s} should be public");
    }

    #[test]
    fn ipv4_special_ranges_are_blocked_at_both_ends() {
        use BlockedClass::*;
        let cases: &[(&str, &str, BlockedClass)] = &[
            ("0.0.0.0", "0.255.255.255", ThisNetwork),
            ("10.0.0.0", "10.255.255.255", Private),
            ("100.64.0.0", "100.127.255.255", SharedAddressSpace),
            ("127.0.0.0", "127.255.255.255", Loopback),
            ("169.254.0.0", "169.254.255.255", LinkLocal),
            ("172.16.0.0", "172.31.255.255", Private),
            ("192.0.0.0", "192.0.0.255", IetfProtocolAssignment),
            ("192.0.2.0", "192.0.2.255", Documentation),
            ("192.88.99.0", "192.88.99.255", Reserved),
            ("192.168.0.0", "192.168.255.255", Private),
            ("198.18.0.0", "198.19.255.255", Benchmarking),
            ("198.51.100.0", "198.51.100.255", Documentation),
            ("203.0.113.0", "203.0.113.255", Documentation),
            ("224.0.0.0", "239.255.255.255", Multicast),
            ("240.0.0.0", "255.255.255.254", Reserved),
            ("255.255.255.255", "255.255.255.255", Broadcast),
        ];
        for (first, last, expected) in cases {
            assert_blocked(first, *expected);
            assert_blocked(last, *expected);
        }
        assert_blocked("169.254.169.254", LinkLocal);
        assert_blocked("100.64.0.1", SharedAddressSpace);
    }

    #[test]
    fn ipv4_neighbours_of_blocked_ranges_are_public() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
        ] {
            assert_public(s);
        }
    }

    #[test]
    fn ipv6_special_ranges_are_blocked() {
        use BlockedClass::*;
        assert_blocked("::", Unspecified);
        assert_blocked("::1", Loopback);
        assert_blocked("fc00::1", UniqueLocal);
        assert_blocked("fdff:ffff::1", UniqueLocal);
        assert_blocked("fe80::1", LinkLocal);
        assert_blocked("febf:ffff::1", LinkLocal);
        assert_blocked("fec0::1", SiteLocal);
        assert_blocked("ff00::", Multicast);
        assert_blocked("ff02::1", Multicast);
        assert_blocked("100::1", DiscardOnly);
        assert_blocked("2001:db8::1", Documentation);
        assert_blocked("3fff::1", Documentation);
        assert_blocked("2001:2::1", Benchmarking);
        assert_blocked("2001:10::1", IetfProtocolAssignment);
        assert_blocked("2001:1ff::1", IetfProtocolAssignment);
        assert_blocked("5f00::1", Reserved);
        assert_blocked("64:ff9b:1::1", Nat64LocalUse);
        assert_blocked("4000::1", NotGlobalUnicast);
        assert_blocked("e000::1", NotGlobalUnicast);
        assert_blocked("::ffff:0:7f00:1", NotGlobalUnicast);
    }

    #[test]
    fn ipv6_global_unicast_is_public() {
        for s in [
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2001:200::1",
            "3ffe::1",
            "2002:0808:0808::1",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
        ] {
            assert_public(s);
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_classified_by_their_ipv4() {
        let r = blocked_reason(ip("::ffff:127.0.0.1"));
        assert_eq!(
            r,
            Some(BlockReason {
                class: BlockedClass::Loopback,
                embedded: Some((Ipv4Embedding::Ipv4Mapped, Ipv4Addr::new(127, 0, 0, 1)))
            })
        );
        assert_blocked("::ffff:7f00:1", BlockedClass::Loopback);
        assert_blocked("::ffff:10.0.0.1", BlockedClass::Private);
        assert_blocked("::ffff:169.254.169.254", BlockedClass::LinkLocal);
        assert_blocked("::ffff:0.0.0.0", BlockedClass::ThisNetwork);
        assert_blocked("::ffff:100.64.0.1", BlockedClass::SharedAddressSpace);
    }

    #[test]
    fn ipv4_compatible_addresses_are_refused_outright() {
        assert_blocked("::127.0.0.1", BlockedClass::Ipv4Compatible);
        assert_blocked("::8.8.8.8", BlockedClass::Ipv4Compatible);
        assert_blocked("::0.0.0.2", BlockedClass::Ipv4Compatible);
    }

    #[test]
    fn nat64_addresses_are_classified_by_their_ipv4() {
        assert_blocked("64:ff9b::7f00:1", BlockedClass::Loopback);
        assert_blocked("64:ff9b::127.0.0.1", BlockedClass::Loopback);
        assert_blocked("64:ff9b::a9fe:a9fe", BlockedClass::LinkLocal);
        assert_blocked("64:ff9b::192.168.1.1", BlockedClass::Private);
        let r = blocked_reason(ip("64:ff9b::10.0.0.1"));
        assert_eq!(
            r.and_then(|r| r.embedded),
            Some((Ipv4Embedding::Nat64, Ipv4Addr::new(10, 0, 0, 1)))
        );
    }

    #[test]
    fn six_to_four_addresses_are_classified_by_their_ipv4() {
        assert_blocked("2002:7f00:1::1", BlockedClass::Loopback);
        assert_blocked("2002:c0a8:0101::", BlockedClass::Private);
        assert_blocked("2002:a9fe:a9fe:1234::1", BlockedClass::LinkLocal);
        assert_blocked("2002:0a00:0001::", BlockedClass::Private);
        assert_blocked("2002:6440:0001::", BlockedClass::SharedAddressSpace);
    }

    #[test]
    fn teredo_is_refused_outright() {
        // Server 65.54.227.120, client obfuscated public address (RFC 4380 example form).
        assert_blocked("2001:0:4136:e378:8000:63bf:3fff:fdd2", BlockedClass::Teredo);
        // Client 127.0.0.1 obfuscated (xor 0xffffffff = 80ff:fffe).
        assert_blocked("2001:0:4136:e378::80ff:fffe", BlockedClass::Teredo);
        assert_blocked("2001::1", BlockedClass::Teredo);
    }

    #[test]
    fn display_names_the_class_and_embedding() {
        let r = blocked_reason(ip("::ffff:10.0.0.1"));
        let text = r.map(|r| r.to_string()).unwrap_or_default();
        assert_eq!(
            text,
            "private address 10.0.0.1 embedded in a ipv4-mapped IPv6 address"
        );
    }

    #[test]
    fn networks_parse_and_match() {
        let n: IpNetwork = "127.0.0.2/32".parse().unwrap();
        assert!(n.contains(ip("127.0.0.2")));
        assert!(!n.contains(ip("127.0.0.1")));
        assert!(n.contains(ip("::ffff:127.0.0.2")));

        let n: IpNetwork = "10.1.2.3/16".parse().unwrap();
        assert_eq!(n.to_string(), "10.1.0.0/16");
        assert!(n.contains(IpAddr::V4(Ipv4Addr::new(10, 1, 255, 255))));
        assert!(!n.contains(IpAddr::V4(Ipv4Addr::new(10, 2, 0, 0))));

        let n: IpNetwork = "fd00::/8".parse().unwrap();
        assert!(n.contains(ip("fdab::1")));
        assert!(!n.contains(IpAddr::V4(Ipv4Addr::new(10, 2, 0, 0))));

        let host: IpNetwork = "::1".parse().unwrap();
        assert_eq!(host.prefix(), 128);

        for bad in [
            "",
            "/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "example.com/8",
            "10.0.0/8",
        ] {
            assert!(
                bad.parse::<IpNetwork>().is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn embedded_forms_agree_with_their_ipv4(bits: u32) {
            let v4 = Ipv4Addr::from(bits);
            let direct = classify_v4(v4);
            let mapped = Ipv6Addr::from((0xffff_u128 << 32) | u128::from(bits));
            let nat64 = Ipv6Addr::from(NAT64_WKP.0 | u128::from(bits));
            let six_to_four = Ipv6Addr::from(SIX_TO_FOUR.0 | (u128::from(bits) << 80) | 1);
            for v6 in [mapped, nat64, six_to_four] {
                let got = classify_v6(v6);
                proptest::prop_assert_eq!(got.map(|r| r.class), direct, "{}", v6);
                if let Some(r) = got {
                    proptest::prop_assert_eq!(r.embedded.map(|(_, a)| a), Some(v4));
                }
            }
            // IPv4-compatible and Teredo forms are refused whatever they carry.
            let compatible = Ipv6Addr::from(u128::from(bits));
            proptest::prop_assert!(classify_v6(compatible).is_some());
            let teredo = Ipv6Addr::from((0x2001_u128 << 112) | u128::from(bits));
            proptest::prop_assert!(classify_v6(teredo).is_some());
        }

        #[test]
        fn everything_outside_2000_slash_3_is_refused(bits: u128) {
            let v6 = Ipv6Addr::from(bits);
            let in_global = prefix_match_u128(bits, GLOBAL_UNICAST.0, GLOBAL_UNICAST.1);
            let embeds = prefix_match_u128(bits, V4_MAPPED.0, V4_MAPPED.1)
                || prefix_match_u128(bits, NAT64_WKP.0, NAT64_WKP.1);
            if !in_global && !embeds {
                proptest::prop_assert!(classify_v6(v6).is_some(), "{}", v6);
            }
        }
    }

    #[test]
    fn networks_deserialize_from_strings() {
        let v: Vec<IpNetwork> = serde_json::from_str(r#"["127.0.0.2/32", "fd00::/8"]"#).unwrap();
        assert_eq!(v.len(), 2);
        assert!(serde_json::from_str::<Vec<IpNetwork>>(r#"["nope"]"#).is_err());
    }
}
