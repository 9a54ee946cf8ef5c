//! Moving and deleting a user that owns 10 000 objects (R7.4, R7.5), each
//! one durable transaction through the real store (R7.6), against a
//! baseline measured in the same run: one transaction that rewrites the
//! same 10 000 object records with no rules at all. The ratio is what the
//! rules, the response and the per-object activity entries cost on top of
//! the unavoidable writes. The in-memory decision alone is measured too.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bailiwick::domain::deletion::{Delete, delete_user};
use bailiwick::domain::moving::{Move, move_user};
use bailiwick::domain::testkit::World;
use bailiwick::domain::{Actor, Assignee, ObjectKind, OwnedObject, Role, State, Timestamp, Tx};
use bailiwick::store::{Options, Store};
use criterion::{Criterion, criterion_group, criterion_main};

const OBJECTS: usize = 10_000;

/// A subscription with units EU and US, and `victim`, a Unit Manager of
/// EU owning `OBJECTS` objects of every kind (a tenth of them tickets
/// assigned to it).
fn world() -> State {
    let mut w = World::new();
    for unit in ["EU", "US"] {
        w.unit_with_id(unit, unit);
    }
    w.user_with_id(
        "victim",
        "victim",
        Role::UnitManager,
        Some(&"EU".to_owned()),
    );
    for i in 0..OBJECTS {
        let kind = ObjectKind::ALL[i % ObjectKind::ALL.len()];
        let ip = format!("10.1.{}.{}", i / 250, i % 250);
        let id = w.object(kind, "victim", &[ip.as_str()]);
        w.with_object(&id, |o| {
            o.global = i % 3 == 0 && kind.may_be_global();
            o.assignee =
                (kind == ObjectKind::RemediationTicket).then(|| Assignee::User("victim".into()));
            o.valid = false;
        });
    }
    w.state
}

fn manager() -> Actor {
    Actor {
        user: Some("m1".into()),
        login: "admin".into(),
        business_unit: None,
        ip: None,
    }
}

/// A store on a fresh directory holding `state`.
fn store_with(state: &State) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        create: true,
        ..Options::default()
    };
    let store = Store::open(dir.path(), &opts, Arc::new(bailiwick::clock::SystemClock)).unwrap();
    let s = state.clone();
    store
        .write_blocking(Actor::operator(), move |tx| {
            tx.put_subscription(s.subscription.clone().unwrap());
            for u in s.users.values() {
                tx.put_user(u.clone());
            }
            for u in s.units.values() {
                tx.put_unit(u.clone());
            }
            for o in s.objects.values() {
                tx.put_object(o.clone());
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn to_us() -> Move {
    Move {
        business_unit: Some("US".into()),
        keep_configurations: true,
        keep_asset_groups: true,
    }
}

/// Times `write` on a fresh loaded store per iteration; setup is untimed.
fn durable(state: &State, iters: u64, write: impl Fn(&Store)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (_dir, store) = store_with(state);
        let start = Instant::now();
        write(&store);
        total += start.elapsed();
        store.close();
    }
    total
}

fn bench(c: &mut Criterion) {
    let state = world();
    let mut g = c.benchmark_group("lifecycle_10k_objects");
    g.sample_size(10).measurement_time(Duration::from_secs(20));

    g.bench_function(
        "baseline: rewrite 10k objects, one transaction, no rules",
        |b| {
            b.iter_custom(|iters| {
                durable(&state, iters, |store| {
                    let objects: Vec<OwnedObject> = state.objects.values().cloned().collect();
                    store
                        .write_blocking(Actor::operator(), move |tx| {
                            for mut o in objects {
                                o.business_unit = Some("US".into());
                                tx.put_object(o);
                            }
                            Ok(())
                        })
                        .unwrap();
                })
            })
        },
    );
    g.bench_function("delete, one durable transaction", |b| {
        b.iter_custom(|iters| {
            durable(&state, iters, |store| {
                let d = store
                    .write_blocking(manager(), |tx| delete_user(tx, "victim", Delete::default()))
                    .unwrap();
                assert!(d.outcomes.len() >= OBJECTS);
            })
        })
    });
    g.bench_function("move, one durable transaction", |b| {
        b.iter_custom(|iters| {
            durable(&state, iters, |store| {
                let m = store
                    .write_blocking(manager(), |tx| {
                        move_user(tx, "victim", to_us(), &mut || "copy".into())
                    })
                    .unwrap();
                assert!(m.outcomes.len() >= OBJECTS);
            })
        })
    });
    g.bench_function("delete, decision and apply in memory", |b| {
        b.iter_batched(
            || state.clone(),
            |mut s| {
                let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(9), manager());
                black_box(delete_user(&mut tx, "victim", Delete::default()).unwrap());
                black_box(tx.finish());
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
