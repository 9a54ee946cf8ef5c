//! IP parsing and the range-set operations must answer any input without a
//! panic, and keep their invariants: a parsed set contains what it was
//! parsed from, and its display parses back to the same set.
#![no_main]

use arbitrary::Arbitrary;
use bailiwick::domain::ipset::IpSet;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    items: Vec<String>,
    ranges: Vec<(u128, u128)>,
    probe: u128,
}

fuzz_target!(|input: Input| {
    if let Ok(set) = IpSet::parse_list("ips", &input.items) {
        let back = IpSet::parse_list("ips", &set.to_strings()).expect("display parses");
        assert_eq!(back, set);
    }
    for item in &input.items {
        if let Ok((a, b)) = IpSet::parse_item(item) {
            assert!(a <= b);
        }
    }
    let other = IpSet::from_ranges(input.ranges.clone());
    for w in other.ranges().windows(2) {
        assert!(w[0].1 < w[1].0 && w[1].0 - w[0].1 > 1, "normalised");
    }
    let parsed = IpSet::parse_list("ips", &input.items).unwrap_or_default();
    let union = parsed.union(&other);
    let diff = union.difference(&other);
    assert!(other.difference(&union).is_empty());
    assert_eq!(diff.intersection(&other), IpSet::new());
    let in_union = bailiwick::domain::ipset::contains_key(union.ranges(), input.probe);
    let in_parts = bailiwick::domain::ipset::contains_key(parsed.ranges(), input.probe)
        || bailiwick::domain::ipset::contains_key(other.ranges(), input.probe);
    assert_eq!(in_union, in_parts);
    let _ = union.count();
});
