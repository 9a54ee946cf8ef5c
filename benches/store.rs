//! Durable writes through the store's single writer: one caller at a time
//! (one fsync each) against many concurrent callers sharing commits (group
//! commit). Both in the same run, so the ratio is what to read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bailiwick::clock::SystemClock;
use bailiwick::domain::bootstrap::{Bootstrap, initialise};
use bailiwick::domain::{Actor, Feature, subscription};
use bailiwick::store::{Options, Store};
use criterion::{Criterion, criterion_group, criterion_main};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        create: true,
        ..Options::default()
    };
    let store = Store::open(dir.path(), &opts, Arc::new(SystemClock)).unwrap();
    store
        .write_blocking(Actor::operator(), |tx| {
            initialise(tx, &Bootstrap::default_subscription("admin"), "u1".into())
        })
        .unwrap();
    (dir, store)
}

fn flip(
    i: u64,
) -> impl FnOnce(&mut bailiwick::domain::Tx<'_>) -> Result<bool, bailiwick::domain::Refusal> {
    move |tx| subscription::set_feature(tx, Feature::KbOnlyRole, i.is_multiple_of(2))
}

fn durable_writes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_dir, store) = open();
    let mut group = c.benchmark_group("store_durable_write");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("sequential_one_fsync_each", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            rt.block_on(async {
                for i in 0..iters {
                    store.write(Actor::operator(), flip(i)).await.unwrap();
                }
            });
            started.elapsed()
        })
    });
    group.bench_function("concurrent_64_group_commit", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            rt.block_on(async {
                let mut done = 0;
                while done < iters {
                    let n = (iters - done).min(64);
                    let tasks: Vec<_> = (0..n)
                        .map(|i| {
                            let s = store.clone();
                            tokio::spawn(async move { s.write(Actor::operator(), flip(i)).await })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap().unwrap();
                    }
                    done += n;
                }
            });
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, durable_writes);
criterion_main!(benches);
