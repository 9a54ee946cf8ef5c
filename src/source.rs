//! Source addresses: who a connection or request comes from, for the state
//! kept per source (connection caps, login limits, the hashing pool).
//!
//! The one thing to know: an IPv6 host usually owns a whole /64, so state
//! kept per source keys IPv6 addresses by their prefix
//! (`server.ipv6_prefix`); keyed by full address, one host could take a
//! fresh address for every attempt. And a forwarding header is believed only
//! from a configured trusted proxy (`server.trusted_proxies`): anyone else
//! could name any address in it.
//!
//! ```
//! use bailiwick::source::{TrustedProxies, key};
//! let a = "2001:db8::1".parse().unwrap();
//! let b = "2001:db8::ffff:2".parse().unwrap();
//! assert_eq!(key(a, 64), key(b, 64));
//! let proxies = TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap();
//! let client = proxies.client("10.0.0.5".parse().unwrap(), &["192.0.2.7"]);
//! assert_eq!(client.to_string(), "192.0.2.7");
//! ```

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The key of per-source state for `ip`: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 cut to its first `v6_prefix` bits.
pub fn key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask128(v6_prefix))),
        },
    }
}

fn mask128(bits: u8) -> u128 {
    match bits.min(128) {
        0 => 0,
        n => u128::MAX << (128 - u32::from(n)),
    }
}

/// An address block, `192.0.2.0/24` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    net: IpAddr,
    bits: u8,
}

impl Block {
    /// The error is the entry itself, for the operator to find.
    fn parse(text: &str) -> Result<Block, String> {
        let bad = || text.to_owned();
        let (addr, bits) = match text.trim().split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Block { net, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, unmap(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = match self.bits {
                    0 => 0,
                    n => u32::MAX << (32 - u32::from(n)),
                };
                net.to_bits() & mask == ip.to_bits() & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask128(self.bits);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            _ => false,
        }
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Proxies whose `X-Forwarded-For` is believed. Empty by default: then the
/// connection's own address is the client's.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// Parses `server.trusted_proxies`; the error is the first bad entry.
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| Block::parse(s))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// The client behind `peer`: from a trusted proxy, the nearest address
    /// in `X-Forwarded-For` (the header values in order) that is not itself a
    /// trusted proxy; from anyone else, `peer`. An unreadable entry ends the
    /// walk at the last address known to be a trusted proxy's.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = forwarded_for
            .iter()
            .rev()
            .flat_map(|v| v.rsplit(','))
            .map(str::trim);
        for hop in hops {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = unmap(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_sources_are_keyed_by_their_prefix() {
        assert_eq!(key(ip("2001:db8:1:2::1"), 64), ip("2001:db8:1:2::"));
        assert_eq!(
            key(ip("2001:db8:1:2:aaaa::7"), 64),
            key(ip("2001:db8:1:2:bbbb::9"), 64)
        );
        assert_ne!(
            key(ip("2001:db8:1:2::1"), 64),
            key(ip("2001:db8:1:3::1"), 64)
        );
        assert_eq!(key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(key(ip("2001:db8::1"), 48), ip("2001:db8::"));
        // IPv4, plain or mapped, stays one address per source.
        assert_eq!(key(ip("192.0.2.7"), 64), ip("192.0.2.7"));
        assert_eq!(key(ip("::ffff:192.0.2.7"), 64), ip("192.0.2.7"));
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.5"), &["192.0.2.7"]), ip("10.0.0.5"));
        let p = TrustedProxies::parse(&["10.0.0.0/8".into(), "2001:db8::1".into()]).unwrap();
        // Not from a proxy: the header is whatever the client wrote.
        assert_eq!(
            p.client(ip("192.0.2.9"), &["198.51.100.1"]),
            ip("192.0.2.9")
        );
        // From a proxy: the nearest untrusted hop, not the client's own claim.
        assert_eq!(
            p.client(ip("10.0.0.5"), &["198.51.100.1, 192.0.2.7, 10.0.0.9"]),
            ip("192.0.2.7")
        );
        assert_eq!(
            p.client(ip("10.0.0.5"), &["198.51.100.1", "192.0.2.7:4431"]),
            ip("192.0.2.7")
        );
        assert_eq!(
            p.client(ip("2001:db8::1"), &["[2001:db8::2]:80"]),
            ip("2001:db8::2")
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.5"), &[]), ip("10.0.0.5"));
        assert_eq!(p.client(ip("10.0.0.5"), &["unknown"]), ip("10.0.0.5"));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
    }
}
