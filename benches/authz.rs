//! Authorization checks on the permission index against baselines
//! measured in the same run, then one user's incremental index update
//! against a full rebuild. Read the ratios; absolute times depend on the
//! machine.
//!
//! Two shapes:
//! - 10 000 users, 500 groups of 400 ranges each in 10.0.0.0/8, five
//!   groups per user (about 2 000 ranges per user after merging), against a
//!   naive linear scan and a per-group `BTreeMap` (criterion);
//! - both that shape and the largest subscriptions (100 000 users, 10 000
//!   groups of 100 ranges, two groups per user) against the plainest layout
//!   with the same answers: each user's merged ranges in a `Vec`, the user
//!   found in a `HashMap`, binary search. For each: the memory the index and
//!   the baseline hold (counted by this binary's allocator), build time,
//!   and p50/p99 of single checks, half of them inside the user's reach.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bailiwick::authz::{Action, Index, Resource};
use bailiwick::domain::ipset::{IpSet, contains_key, key};
use bailiwick::domain::testkit::World;
use bailiwick::domain::{AssetGroup, AssetSet, Key, Role, State, Timestamp};
use criterion::{Criterion, criterion_group, criterion_main};

/// Counts the bytes live on the heap, so that a structure's memory is the
/// difference before and after building it.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc` is passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Clone, Copy)]
struct Shape {
    users: usize,
    groups: usize,
    ranges: usize,
    per_user: usize,
}

const SMALL: Shape = Shape {
    users: 10_000,
    groups: 500,
    ranges: 400,
    per_user: 5,
};

const LARGE: Shape = Shape {
    users: 100_000,
    groups: 10_000,
    ranges: 100,
    per_user: 2,
};

/// A small deterministic generator, so every run measures the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

fn world(shape: Shape) -> State {
    let mut w = World::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let mut all = Vec::new();
    for g in 0..shape.groups {
        let ranges: Vec<(u128, u128)> = (0..shape.ranges)
            .map(|_| {
                let start = base + (rng.next() % (1 << 24)) as u32;
                let len = (rng.next() % 16) as u32;
                let a = key(v4(start));
                (a, a + u128::from(len))
            })
            .collect();
        let ips = IpSet::from_ranges(ranges);
        all.extend_from_slice(ips.ranges());
        let id = format!("g{g:05}");
        w.state.asset_groups.insert(
            id.clone(),
            AssetGroup {
                id,
                title: format!("Group {g}"),
                assets: AssetSet {
                    ips,
                    ..AssetSet::default()
                },
                business_units: BTreeSet::new(),
                owner: "m1".into(),
                created_by_role: Role::Manager,
                created_at: Timestamp::from_unix_micros(1),
            },
        );
    }
    w.state.assets.ips = IpSet::from_ranges(all);
    for u in 0..shape.users {
        let id = format!("u{u:06}");
        let groups: Vec<String> = (0..shape.per_user)
            .map(|_| format!("g{:05}", rng.next() as usize % shape.groups))
            .collect();
        w.user_with_id(&id, &id, Role::Scanner, None);
        w.assign(&id, &groups.iter().collect::<Vec<_>>());
    }
    w.state
}

/// The naive answer: walk the user's groups and their ranges.
fn linear(state: &State, user: &str, ip: IpAddr) -> bool {
    let k = key(ip);
    let Some(u) = state.users.get(user) else {
        return false;
    };
    u.asset_groups.iter().any(|g| {
        state
            .asset_groups
            .get(g)
            .is_some_and(|g| g.assets.ips.ranges().iter().any(|&(a, b)| a <= k && k <= b))
    })
}

/// Per-group ordered maps of range starts: a lookup per group of the user.
fn btree_lookup(
    maps: &BTreeMap<String, BTreeMap<u128, u128>>,
    state: &State,
    user: &str,
    ip: IpAddr,
) -> bool {
    let k = key(ip);
    let Some(u) = state.users.get(user) else {
        return false;
    };
    u.asset_groups.iter().any(|g| {
        maps.get(g)
            .and_then(|m| m.range(..=k).next_back())
            .is_some_and(|(_, &end)| k <= end)
    })
}

fn probes(n: usize, users: usize) -> Vec<(String, IpAddr)> {
    let mut rng = Rng(42);
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    (0..n)
        .map(|_| {
            let user = format!("u{:06}", rng.next() as usize % users);
            let ip = v4(base + (rng.next() % (1 << 24)) as u32);
            (user, ip)
        })
        .collect()
}

fn checks(c: &mut Criterion) {
    let state = world(SMALL);
    let index = Index::build(&state);
    let maps: BTreeMap<String, BTreeMap<u128, u128>> = state
        .asset_groups
        .iter()
        .map(|(id, g)| (id.clone(), g.assets.ips.ranges().iter().copied().collect()))
        .collect();
    let probes = probes(4096, SMALL.users);
    // All three must agree before their speed means anything.
    for (u, ip) in &probes {
        let want = linear(&state, u, *ip);
        assert_eq!(btree_lookup(&maps, &state, u, *ip), want);
        assert_eq!(
            index.check(u, Action::Scan, &Resource::ip(*ip)).allowed,
            want
        );
    }
    let mut group = c.benchmark_group("authz_check");
    group.measurement_time(Duration::from_secs(4));
    let mut i = 0;
    group.bench_function("index", |b| {
        b.iter(|| {
            let (u, ip) = &probes[i % probes.len()];
            i += 1;
            black_box(index.check(u, Action::Scan, &Resource::ip(*ip)))
        })
    });
    group.bench_function("baseline_btreemap_per_group", |b| {
        b.iter(|| {
            let (u, ip) = &probes[i % probes.len()];
            i += 1;
            black_box(btree_lookup(&maps, &state, u, *ip))
        })
    });
    group.bench_function("baseline_linear_scan", |b| {
        b.iter(|| {
            let (u, ip) = &probes[i % probes.len()];
            i += 1;
            black_box(linear(&state, u, *ip))
        })
    });
    group.finish();

    let per_check = |f: &dyn Fn(&str, IpAddr) -> bool| {
        let rounds = 20;
        let started = Instant::now();
        for _ in 0..rounds {
            for (u, ip) in &probes {
                black_box(f(u, *ip));
            }
        }
        started.elapsed().as_secs_f64() / (rounds * probes.len()) as f64
    };
    let ix = per_check(&|u, ip| index.check(u, Action::Scan, &Resource::ip(ip)).allowed);
    let bt = per_check(&|u, ip| btree_lookup(&maps, &state, u, ip));
    let lin = per_check(&|u, ip| linear(&state, u, ip));
    println!(
        "ratio: index {:.2} µs/check; btreemap baseline {:.1}x slower, linear baseline {:.1}x slower",
        ix * 1e6,
        bt / ix,
        lin / ix
    );
}

fn updates(c: &mut Criterion) {
    let state = world(SMALL);
    let index = Index::build(&state);
    // One user's groups change: the writer hands the index that key.
    let mut changed = state.clone();
    let user = changed.users.get_mut("u000042").unwrap();
    user.asset_groups = vec!["g00001".into(), "g00002".into()];
    let keys: BTreeSet<Key> = [Key::User("u000042".into())].into();
    let after = index.apply(&changed, &keys);
    assert!(after.same_answers(&Index::build(&changed)));
    let mut group = c.benchmark_group("authz_update");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("one_user_incremental", |b| {
        b.iter(|| black_box(index.apply(&changed, &keys)))
    });
    group.bench_function("full_rebuild", |b| {
        b.iter(|| black_box(Index::build(&changed)))
    });
    group.finish();
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..5 {
            f();
        }
        started.elapsed().as_secs_f64() / 5.0
    };
    let inc = time(&|| {
        black_box(index.apply(&changed, &keys));
    });
    let full = time(&|| {
        black_box(Index::build(&changed));
    });
    println!(
        "ratio: one user's update {:.1} µs; full rebuild {:.1}x slower",
        inc * 1e6,
        full / inc
    );
}

/// The plainest layout with the index's answers for IPs: each user's
/// merged ranges in a `Vec`, found through a `HashMap`.
fn plain(state: &State) -> HashMap<String, Vec<(u128, u128)>> {
    state
        .users
        .values()
        .map(|u| {
            let ranges = u
                .asset_groups
                .iter()
                .filter_map(|g| state.asset_groups.get(g))
                .flat_map(|g| g.assets.ips.ranges().iter().copied())
                .collect();
            (u.id.clone(), IpSet::from_ranges(ranges).ranges().to_vec())
        })
        .collect()
}

/// Random users; for half of them an address inside one of their ranges,
/// for the other half a random one (almost always outside).
fn mixed_probes(state: &State, n: usize, users: usize) -> Vec<(String, IpAddr)> {
    let mut rng = Rng(7);
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    (0..n)
        .map(|i| {
            let user = format!("u{:06}", rng.next() as usize % users);
            let u = &state.users[&user];
            let inside = i % 2 == 0;
            let ip = match u
                .asset_groups
                .get(rng.next() as usize % u.asset_groups.len())
                .and_then(|g| state.asset_groups.get(g))
            {
                Some(g) if inside => {
                    let r = g.assets.ips.ranges();
                    let (a, b) = r[rng.next() as usize % r.len()];
                    let k = a + u128::from(rng.next()) % (b - a + 1);
                    v4((k - key(v4(0))) as u32)
                }
                _ => v4(base + (rng.next() % (1 << 24)) as u32),
            };
            (user, ip)
        })
        .collect()
}

/// p50 and p99 of single calls, in nanoseconds, over `rounds` passes.
fn percentiles(
    probes: &[(String, IpAddr)],
    rounds: usize,
    f: &dyn Fn(&str, IpAddr) -> bool,
) -> (f64, f64) {
    let mut times = Vec::with_capacity(probes.len() * rounds);
    for _ in 0..rounds {
        for (u, ip) in probes {
            let t = Instant::now();
            black_box(f(black_box(u), black_box(*ip)));
            times.push(t.elapsed().as_nanos() as f64);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

/// Memory, build time and check latency of the index against the plain
/// layout, at both shapes.
fn scale(_: &mut Criterion) {
    for (name, shape) in [("10k", SMALL), ("100k", LARGE)] {
        let state = world(shape);
        let ranges: usize = state
            .asset_groups
            .values()
            .map(|g| g.assets.ips.ranges().len())
            .sum();
        let raw = ranges * std::mem::size_of::<(u128, u128)>();

        let before = LIVE.load(Ordering::Relaxed);
        let t = Instant::now();
        let index = Index::build(&state);
        let index_build = t.elapsed();
        let index_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);

        let before = LIVE.load(Ordering::Relaxed);
        let t = Instant::now();
        let plain = plain(&state);
        let plain_build = t.elapsed();
        let plain_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);

        let probes = mixed_probes(&state, 50_000, shape.users);
        let plain_check =
            |u: &str, ip: IpAddr| plain.get(u).is_some_and(|r| contains_key(r, key(ip)));
        let index_check =
            |u: &str, ip: IpAddr| index.check(u, Action::Scan, &Resource::ip(ip)).allowed;
        let inside = probes.iter().filter(|(u, ip)| plain_check(u, *ip)).count();
        for (u, ip) in &probes {
            assert_eq!(index_check(u, *ip), plain_check(u, *ip), "{u} {ip}");
        }
        // Alternate, so that both see the same machine.
        let (mut ix, mut pl) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            ix.push(percentiles(&probes, 2, &index_check));
            pl.push(percentiles(&probes, 2, &plain_check));
        }
        let median = |v: &mut Vec<(f64, f64)>, p99: bool| {
            let mut x: Vec<f64> = v.iter().map(|t| if p99 { t.1 } else { t.0 }).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        let (i50, i99, p50, p99) = (
            median(&mut ix, false),
            median(&mut ix, true),
            median(&mut pl, false),
            median(&mut pl, true),
        );

        // One user's change, and one group's, applied incrementally.
        let mut changed = state.clone();
        changed.users.get_mut("u000042").unwrap().asset_groups =
            vec!["g00001".into(), "g00002".into()];
        let keys: BTreeSet<Key> = [Key::User("u000042".into())].into();
        let t = Instant::now();
        for _ in 0..100 {
            black_box(index.apply(&changed, &keys));
        }
        let one_user = t.elapsed() / 100;
        let g = changed.asset_groups.get_mut("g00003").unwrap();
        let r = g.assets.ips.ranges()[1..].to_vec();
        g.assets.ips = IpSet::from_ranges(r);
        let keys: BTreeSet<Key> = [Key::AssetGroup("g00003".into())].into();
        let t = Instant::now();
        for _ in 0..20 {
            black_box(index.apply(&changed, &keys));
        }
        let one_group = t.elapsed() / 20;
        let holders = changed
            .users
            .values()
            .filter(|u| u.asset_groups.iter().any(|g| g == "g00003"))
            .count();

        println!(
            "scale {name}: {} users, {} groups, {ranges} ranges ({:.1} MB as u128 pairs); {inside} of {} probes inside",
            shape.users,
            shape.groups,
            raw as f64 / 1e6,
            probes.len()
        );
        println!(
            "  memory: index {:.1} MB, plain {:.1} MB; bound 2 x raw + 200 B/user = {:.1} MB",
            index_bytes as f64 / 1e6,
            plain_bytes as f64 / 1e6,
            (2 * raw + 200 * shape.users) as f64 / 1e6
        );
        println!(
            "  build: index {:.2} s, plain {:.2} s",
            index_build.as_secs_f64(),
            plain_build.as_secs_f64()
        );
        println!(
            "  check p50/p99: index {i50:.0}/{i99:.0} ns, plain {p50:.0}/{p99:.0} ns; ratio {:.2}/{:.2}",
            i50 / p50,
            i99 / p99
        );
        println!(
            "  update: one user {:.1} us, one group of {holders} holders {:.1} us",
            one_user.as_secs_f64() * 1e6,
            one_group.as_secs_f64() * 1e6
        );
        drop(plain);
        drop(index);
    }
}

criterion_group!(benches, scale, checks, updates);
criterion_main!(benches);
