//! Sets of IP addresses (R6.1): IPv4 and IPv6 singles, ranges `a-b` and
//! CIDR blocks, kept as sorted, merged inclusive ranges.
//!
//! The one thing to know: every address is a point on one `u128` line. IPv6
//! addresses are themselves; an IPv4 address `a.b.c.d` is its IPv4-mapped
//! IPv6 address `::ffff:a.b.c.d`, so `10.0.0.1` and `::ffff:10.0.0.1` are the
//! same asset and one binary search answers "is this address in the set?"
//! for both families. A set is always normalised: ranges sorted, no two
//! overlapping or touching, so equality of sets is equality of vectors.
//!
//! Parsing is strict: `010.0.0.1`, `10.0.0.1/24` (host bits set), `b-a`
//! with `b < a`, mixed families in one range, zones and whitespace inside an
//! item are refused, each with a message naming the item.
//!
//! ```
//! use bailiwick_domain::ipset::IpSet;
//! let s = IpSet::parse_list("ips", &["10.0.0.0/24", "10.0.1.0-10.0.1.255", "::1"]).unwrap();
//! assert_eq!(s.to_strings(), ["::1", "10.0.0.0/23"]);
//! assert!(s.contains("10.0.1.7".parse().unwrap()));
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// Where IPv4 lives on the `u128` line: `::ffff:0.0.0.0/96`.
pub const V4_BASE: u128 = 0xffff_0000_0000;
/// The key of `255.255.255.255`.
pub const V4_LAST: u128 = V4_BASE + u32::MAX as u128;

/// At most this many items in one list (one request).
pub const MAX_ITEMS: usize = 10_000;
/// At most this many characters in one item.
const MAX_ITEM_LEN: usize = 100;

/// A normalised set of addresses: sorted, disjoint, non-adjacent inclusive
/// ranges. Deserialising normalises too, so stored or hostile input cannot
/// break the invariant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<(u128, u128)>", into = "Vec<(u128, u128)>")]
pub struct IpSet {
    ranges: Vec<(u128, u128)>,
}

impl From<Vec<(u128, u128)>> for IpSet {
    fn from(v: Vec<(u128, u128)>) -> IpSet {
        IpSet::from_ranges(v)
    }
}

impl From<IpSet> for Vec<(u128, u128)> {
    fn from(s: IpSet) -> Self {
        s.ranges
    }
}

/// The point of an address on the `u128` line.
pub fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => V4_BASE + u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn is_v4(k: u128) -> bool {
    (V4_BASE..=V4_LAST).contains(&k)
}

fn addr(k: u128) -> IpAddr {
    if is_v4(k) {
        IpAddr::V4(Ipv4Addr::from((k - V4_BASE) as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(k))
    }
}

impl IpSet {
    /// The empty set: no addresses.
    pub fn new() -> IpSet {
        IpSet::default()
    }

    /// Normalises any list of inclusive ranges; a range with `end < start`
    /// is read as `end..=start`.
    pub fn from_ranges(mut v: Vec<(u128, u128)>) -> IpSet {
        for r in &mut v {
            if r.1 < r.0 {
                *r = (r.1, r.0);
            }
        }
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                // Overlapping or touching (`a == last.1 + 1`): extend.
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        IpSet { ranges: out }
    }

    /// One address.
    pub fn single(ip: IpAddr) -> IpSet {
        let k = key(ip);
        IpSet {
            ranges: vec![(k, k)],
        }
    }

    /// The inclusive ranges of keys, sorted, disjoint and not touching, for
    /// indexes that search them directly.
    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.ranges
    }

    /// Whether it holds no address at all.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of addresses, saturating at `u128::MAX` (all of IPv6).
    pub fn count(&self) -> u128 {
        self.ranges.iter().fold(0u128, |n, &(a, b)| {
            n.saturating_add((b - a).saturating_add(1))
        })
    }

    /// Whether `ip` is in the set; an IPv4 address and its IPv4-mapped IPv6
    /// form answer alike.
    pub fn contains(&self, ip: IpAddr) -> bool {
        contains_key(&self.ranges, key(ip))
    }

    /// Whether every address of `other` is in `self` (the proptests' oracle).
    #[cfg(test)]
    pub(crate) fn covers(&self, other: &IpSet) -> bool {
        other.difference(self).is_empty()
    }

    /// The addresses in either set.
    pub fn union(&self, other: &IpSet) -> IpSet {
        let mut v = Vec::with_capacity(self.ranges.len() + other.ranges.len());
        v.extend_from_slice(&self.ranges);
        v.extend_from_slice(&other.ranges);
        IpSet::from_ranges(v)
    }

    /// The addresses of `self` that are not in `other`.
    pub fn difference(&self, other: &IpSet) -> IpSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(a, b) in &self.ranges {
            let mut start = a;
            let mut done = false;
            // Skip the ranges of `other` that end before this one starts.
            while j < other.ranges.len() && other.ranges[j].1 < start {
                j += 1;
            }
            let mut k = j;
            while k < other.ranges.len() && other.ranges[k].0 <= b {
                let (oa, ob) = other.ranges[k];
                if oa > start {
                    out.push((start, oa - 1));
                }
                if ob >= b {
                    done = true;
                    break;
                }
                start = ob + 1;
                k += 1;
            }
            if !done {
                out.push((start, b));
            }
        }
        IpSet { ranges: out }
    }

    /// The addresses in both sets.
    pub fn intersection(&self, other: &IpSet) -> IpSet {
        self.difference(&self.difference(other))
    }

    /// Parses one item: `10.0.0.1`, `10.0.0.0/24`, `10.0.0.1-10.0.0.9`,
    /// and the same in IPv6. The error says what is wrong with it.
    pub fn parse_item(item: &str) -> Result<(u128, u128), String> {
        if item.is_empty() {
            return Err("is empty".into());
        }
        if item.len() > MAX_ITEM_LEN {
            return Err(format!("is longer than {MAX_ITEM_LEN} characters"));
        }
        if item.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains spaces; give one address, range or CIDR per item".into());
        }
        if let Some((a, b)) = item.split_once('-') {
            let a = parse_addr(a)?;
            let b = parse_addr(b)?;
            if a.is_ipv4() != b.is_ipv4() {
                return Err("mixes IPv4 and IPv6 in one range".into());
            }
            let (ka, kb) = (key(a), key(b));
            if kb < ka {
                return Err(format!("ends ({b}) before it starts ({a})"));
            }
            return Ok((ka, kb));
        }
        if let Some((a, len)) = item.split_once('/') {
            let ip = parse_addr(a)?;
            let bits: u32 = if ip.is_ipv4() { 32 } else { 128 };
            let ok_digits = !len.is_empty()
                && len.len() <= 3
                && len.bytes().all(|c| c.is_ascii_digit())
                && (len == "0" || !len.starts_with('0'));
            let prefix: u32 = ok_digits
                .then(|| len.parse().ok())
                .flatten()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("has prefix length {len:?}; use 0 to {bits}"))?;
            let host_bits = bits - prefix;
            let k = key(ip);
            let mask: u128 = if host_bits == 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            let net = if ip.is_ipv4() {
                V4_BASE + ((k - V4_BASE) & !mask)
            } else {
                k & !mask
            };
            if net != k {
                return Err(format!(
                    "has host bits set; the network is {}/{prefix}",
                    addr(net)
                ));
            }
            return Ok((k, k + mask));
        }
        let k = key(parse_addr(item)?);
        Ok((k, k))
    }

    /// Parses a list of items into one set; `field` names the list in
    /// errors (`ips: item 2 "10.0.0.300" is not an IP address`).
    pub fn parse_list<S: AsRef<str>>(field: &str, items: &[S]) -> Result<IpSet, String> {
        if items.len() > MAX_ITEMS {
            return Err(format!("{field}: at most {MAX_ITEMS} items per request"));
        }
        let mut v = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item = item.as_ref();
            let r = IpSet::parse_item(item).map_err(|why| {
                let shown: String = item.chars().take(MAX_ITEM_LEN).collect();
                format!("{field}: item {} {shown:?} {why}", i + 1)
            })?;
            v.push(r);
        }
        Ok(IpSet::from_ranges(v))
    }

    /// The set as the API shows it: singles, CIDR blocks where a range is
    /// exactly one, `a-b` otherwise; IPv4 where the addresses are IPv4.
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            // A range that crosses into or out of the IPv4 part is shown in pieces.
            let mut cuts = vec![(a, b)];
            if a < V4_BASE && b >= V4_BASE {
                cuts = vec![(a, V4_BASE - 1), (V4_BASE, b)];
            }
            if let Some(&(x, y)) = cuts.last()
                && x <= V4_LAST
                && y > V4_LAST
            {
                cuts.pop();
                cuts.push((x, V4_LAST));
                cuts.push((V4_LAST + 1, y));
            }
            for (x, y) in cuts {
                out.push(show(x, y));
            }
        }
        out
    }
}

fn show(a: u128, b: u128) -> String {
    if a == b {
        return addr(a).to_string();
    }
    let v4 = is_v4(a);
    let (base, bits) = if v4 { (V4_BASE, 32u32) } else { (0, 128u32) };
    let (x, y) = (a - base, b - base);
    let size = (y - x).wrapping_add(1);
    // A CIDR block: a power-of-two size, aligned at its start.
    let whole = y - x == u128::MAX;
    if whole || (size.is_power_of_two() && x % size == 0) {
        let host_bits = if whole { 128 } else { size.trailing_zeros() };
        if host_bits <= bits {
            return format!("{}/{}", addr(a), bits - host_bits);
        }
    }
    format!("{}-{}", addr(a), addr(b))
}

/// Binary search over sorted, disjoint ranges: the hot path of every
/// authorization check, so it allocates nothing.
pub fn contains_key(ranges: &[(u128, u128)], k: u128) -> bool {
    let i = ranges.partition_point(|&(a, _)| a <= k);
    i > 0 && ranges[i - 1].1 >= k
}

fn parse_addr(s: &str) -> Result<IpAddr, String> {
    // std's parsers are strict: no leading zeros in IPv4 octets, no zones.
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Ok(IpAddr::V4(a));
    }
    if s.contains(':')
        && let Ok(a) = s.parse::<Ipv6Addr>()
    {
        return Ok(IpAddr::V6(a));
    }
    Err(format!("is not an IP address ({s:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set(items: &[&str]) -> IpSet {
        IpSet::parse_list("ips", items).unwrap()
    }

    #[test]
    fn r6_1_singles_ranges_and_cidrs_in_both_families() {
        let cases: &[(&str, &str, &str)] = &[
            ("10.0.0.1", "10.0.0.1", "10.0.0.1"),
            ("10.0.1.0/24", "10.0.1.0", "10.0.1.255"),
            ("10.0.2.1-10.0.2.9", "10.0.2.1", "10.0.2.9"),
            ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
            (
                "2001:db8::/32",
                "2001:db8::",
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            ("::1-::9", "::1", "::9"),
            ("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("10.0.0.5/32", "10.0.0.5", "10.0.0.5"),
        ];
        for &(item, lo, hi) in cases {
            let (a, b) = IpSet::parse_item(item).unwrap();
            assert_eq!(
                (addr(a), addr(b)),
                (lo.parse().unwrap(), hi.parse().unwrap()),
                "{item}"
            );
        }
    }

    #[test]
    fn r6_1_bad_items_are_refused_naming_the_item() {
        let bad = [
            "",
            "10.0.0",
            "10.0.0.256",
            "010.0.0.1",
            "10.0.0.1/24",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/024",
            "10.0.0.0/",
            "10.0.0.9-10.0.0.1",
            "10.0.0.1-::1",
            "10.0.0.1 - 10.0.0.2",
            "fe80::1%eth0",
            "::1/129",
            "example.com",
            "1-2-3",
            "10.0.0.1/24/8",
            "+1.2.3.4",
        ];
        for item in bad {
            let err = IpSet::parse_list("ips", &["10.9.9.9", item]).unwrap_err();
            assert!(err.starts_with("ips: item 2 "), "{item}: {err}");
            let shown = format!("{item:?}");
            assert!(err.contains(&shown), "{item}: {err}");
        }
        let long = "1".repeat(500);
        assert!(IpSet::parse_item(&long).is_err());
        let many = vec!["10.0.0.1"; MAX_ITEMS + 1];
        assert!(IpSet::parse_list("ips", &many).is_err());
    }

    #[test]
    fn r6_1_host_bits_error_names_the_network() {
        let err = IpSet::parse_item("10.0.1.5/24").unwrap_err();
        assert_eq!(err, "has host bits set; the network is 10.0.1.0/24");
    }

    #[test]
    fn ipv4_and_mapped_ipv6_are_one_address() {
        let s = set(&["::ffff:10.0.0.1"]);
        assert!(s.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(s.to_strings(), ["10.0.0.1"]);
    }

    #[test]
    fn normalised_display() {
        let s = set(&[
            "10.0.0.0/25",
            "10.0.0.128/25",
            "10.0.1.3",
            "10.0.1.1-10.0.1.2",
            "2001:db8::1",
        ]);
        assert_eq!(
            s.to_strings(),
            ["10.0.0.0/24", "10.0.1.1-10.0.1.3", "2001:db8::1"]
        );
        // A range through the IPv4 part is shown in its three pieces.
        let all = set(&["::/0"]);
        assert_eq!(
            all.to_strings(),
            [
                "::-::fffe:ffff:ffff",
                "0.0.0.0/0",
                "::1:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
            ]
        );
        assert_eq!(all.count(), u128::MAX);
        for text in all.to_strings().into_iter().chain(s.to_strings()) {
            IpSet::parse_item(&text).unwrap();
        }
    }

    #[test]
    fn counts() {
        assert_eq!(set(&["10.0.0.0/24", "10.0.0.7"]).count(), 256);
        assert_eq!(set(&[]).count(), 0);
    }

    #[test]
    fn deserialising_normalises() {
        let s: IpSet = vec![(5u128, 9u128), (1, 3), (4, 4)].into();
        assert_eq!(s.ranges(), &[(1, 9)]);
    }

    fn model(ranges: &[(u128, u128)]) -> BTreeSet<u128> {
        ranges
            .iter()
            .flat_map(|&(a, b)| a.min(b)..=a.max(b))
            .collect()
    }

    fn ranges() -> impl Strategy<Value = Vec<(u128, u128)>> {
        proptest::collection::vec((0u128..200, 0u128..12), 0..12)
            .prop_map(|v| v.into_iter().map(|(a, l)| (a, a + l)).collect())
    }

    proptest! {
        #[test]
        fn merge_and_contains_agree_with_a_naive_set(r in ranges()) {
            let s = IpSet::from_ranges(r.clone());
            let m = model(&r);
            for w in s.ranges().windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0, "sorted, disjoint, not touching");
            }
            for k in 0u128..220 {
                prop_assert_eq!(contains_key(s.ranges(), k), m.contains(&k));
            }
            prop_assert_eq!(s.count(), m.len() as u128);
        }

        #[test]
        fn union_difference_intersection_agree(a in ranges(), b in ranges()) {
            let (sa, sb) = (IpSet::from_ranges(a.clone()), IpSet::from_ranges(b.clone()));
            let (ma, mb) = (model(&a), model(&b));
            let u: BTreeSet<u128> = ma.union(&mb).copied().collect();
            let d: BTreeSet<u128> = ma.difference(&mb).copied().collect();
            let i: BTreeSet<u128> = ma.intersection(&mb).copied().collect();
            prop_assert_eq!(model(sa.union(&sb).ranges()), u);
            prop_assert_eq!(model(sa.difference(&sb).ranges()), d.clone());
            prop_assert_eq!(model(sa.intersection(&sb).ranges()), i);
            prop_assert_eq!(sa.covers(&sb), mb.is_subset(&ma));
            let diff = sa.difference(&sb);
            prop_assert_eq!(IpSet::from_ranges(diff.ranges().to_vec()), diff);
        }

        #[test]
        fn display_parses_back_to_the_same_set(r in ranges(), shift in 0u128..3) {
            let base = [0, V4_BASE, V4_LAST - 100][shift as usize];
            let s = IpSet::from_ranges(r.into_iter().map(|(a, b)| (a + base, b + base)).collect());
            let back = IpSet::parse_list("ips", &s.to_strings()).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = IpSet::parse_item(&s);
        }
    }
}
