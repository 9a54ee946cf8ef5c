//! Authorization checks on the permission index against two baselines
//! measured in the same run: a naive linear scan over the user's groups'
//! ranges (what answering from `State` directly costs), and a per-group
//! `BTreeMap` range lookup. Then one user's incremental index update
//! against a full rebuild. Read the ratios; absolute times depend on the
//! machine.
//!
//! Shape: 10 000 users, 500 groups of 400 ranges each in 10.0.0.0/8, five
//! groups per user (about 2 000 ranges per user after merging).

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bailiwick::authz::{Action, Index, Resource};
use bailiwick::domain::bootstrap::{Bootstrap, initialise};
use bailiwick::domain::ipset::{IpSet, key};
use bailiwick::domain::{
    Access, Actor, AssetGroup, AssetSet, Key, Role, State, Timestamp, Tx, User, UserStatus,
};
use criterion::{Criterion, criterion_group, criterion_main};

const USERS: usize = 10_000;
const GROUPS: usize = 500;
const RANGES: usize = 400;
const PER_USER: usize = 5;

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

fn world() -> State {
    let mut state = State::default();
    let mut tx = Tx::new(
        &mut state,
        Timestamp::from_unix_micros(1),
        Actor::operator(),
    );
    initialise(
        &mut tx,
        &Bootstrap::default_subscription("admin"),
        "m1".into(),
    )
    .unwrap();
    drop(tx);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let mut all = Vec::new();
    for g in 0..GROUPS {
        let ranges: Vec<(u128, u128)> = (0..RANGES)
            .map(|_| {
                let start = base + (rng.next() % (1 << 24)) as u32;
                let len = (rng.next() % 16) as u32;
                let a = key(v4(start));
                (a, a + u128::from(len))
            })
            .collect();
        let ips = IpSet::from_ranges(ranges);
        all.extend_from_slice(ips.ranges());
        let id = format!("g{g:04}");
        state.asset_groups.insert(
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
    state.assets.ips = IpSet::from_ranges(all);
    for u in 0..USERS {
        let id = format!("u{u:05}");
        let groups = (0..PER_USER)
            .map(|_| format!("g{:04}", rng.next() as usize % GROUPS))
            .collect();
        state.logins.insert(id.clone(), id.clone());
        state.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                login: id.clone(),
                email: format!("{id}@example.com"),
                first_name: String::new(),
                last_name: String::new(),
                role: Role::Scanner,
                business_unit: None,
                status: UserStatus::Active,
                asset_groups: groups,
                permissions: BTreeSet::new(),
                access: Access::UiAndApi,
                external_id: None,
                created_at: Timestamp::from_unix_micros(1),
                last_login_at: None,
                notification_opt_outs: Default::default(),
            },
        );
    }
    state
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

fn probes(n: usize) -> Vec<(String, IpAddr)> {
    let mut rng = Rng(42);
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    (0..n)
        .map(|_| {
            let user = format!("u{:05}", rng.next() as usize % USERS);
            let ip = v4(base + (rng.next() % (1 << 24)) as u32);
            (user, ip)
        })
        .collect()
}

fn checks(c: &mut Criterion) {
    let state = world();
    let index = Index::build(&state);
    let maps: BTreeMap<String, BTreeMap<u128, u128>> = state
        .asset_groups
        .iter()
        .map(|(id, g)| (id.clone(), g.assets.ips.ranges().iter().copied().collect()))
        .collect();
    let probes = probes(4096);
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
    let state = world();
    let index = Index::build(&state);
    // One user's groups change: the writer hands the index that key.
    let mut changed = state.clone();
    let user = changed.users.get_mut("u00042").unwrap();
    user.asset_groups = vec!["g0001".into(), "g0002".into()];
    let keys: BTreeSet<Key> = [Key::User("u00042".into())].into();
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

criterion_group!(benches, checks, updates);
criterion_main!(benches);
