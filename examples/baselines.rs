//! Raw baselines of this machine, for the ratios in BENCHMARKS.md: what the
//! hardware gives before the daemon adds anything.
//!
//! ```text
//! cargo run --release --example baselines -- --dir DIR [--seconds 5] [--read-mib 512] [--json]
//! ```
//! - argon2id verifies/s on every core with the daemon's default parameters
//!   (the whole cost of a login);
//! - fsync/s: append 4 KiB then `fdatasync`, in a loop, in `DIR` (put it on
//!   the data directory's filesystem; every acknowledged write waits for one);
//! - sequential read MB/s of a `--read-mib` file in `DIR`, evicted from the
//!   page cache before each pass so the disk is read, not memory.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    dir: PathBuf,
    seconds: f64,
    read_mib: usize,
    json: bool,
}

fn args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir(),
        seconds: 5.0,
        read_mib: 512,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--json" => a.json = true,
            "--dir" => a.dir = it.next().expect("--dir DIR").into(),
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--read-mib" => {
                a.read_mib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--read-mib N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Appends 4 KiB and waits for `fdatasync`, for `seconds`; returns syncs/s.
fn fsyncs(dir: &Path, seconds: f64) -> f64 {
    let path = dir.join(format!("baseline-fsync-{}", std::process::id()));
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .expect("create the fsync file");
    let block = [0x5au8; 4096];
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    while Instant::now() < stop {
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    rate
}

/// Drops `f`'s pages from the page cache (they are clean after a sync).
fn evict(f: &File) {
    // SAFETY: a valid open descriptor; the call only advises the kernel.
    // SAFETY: the descriptor is open for the duration of the call; the
    // call only advises the kernel.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}

/// Writes a `mib` MiB file, then reads it sequentially in 1 MiB reads from
/// a cold cache, pass after pass for `seconds`; returns MB/s (10^6 bytes).
fn sequential_read(dir: &Path, mib: usize, seconds: f64) -> f64 {
    let path = dir.join(format!("baseline-read-{}", std::process::id()));
    let mut buf = vec![0u8; 1 << 20];
    {
        let mut f = File::create_new(&path).expect("create the read file");
        let mut rng = common::Rng::new(7);
        // Incompressible content, in case the virtual disk compresses.
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        for _ in 0..mib {
            f.write_all(&buf).unwrap();
        }
        f.sync_all().unwrap();
        evict(&f);
    }
    let start = Instant::now();
    let mut bytes = 0u64;
    loop {
        let mut f = File::open(&path).unwrap();
        evict(&f);
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
        if start.elapsed().as_secs_f64() >= seconds {
            break;
        }
    }
    let rate = bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
    let _ = std::fs::remove_file(&path);
    rate
}

/// User plus system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    // SAFETY: rusage is plain integers, for which all zeroes is valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

fn main() {
    let a = args();
    let cores = common::cores();
    let cpu0 = cpu_seconds();
    let (verifies, wall) = common::verify_run(a.seconds);
    let argon2 = verifies as f64 / wall;
    // Per CPU-second (counting the one hash made first): what one core gives
    // when nothing else wants it. On a shared machine the wall-clock rate
    // moves with the other load; this one much less.
    let argon2_cpu = (verifies + 1) as f64 / (cpu_seconds() - cpu0);
    let fsync = fsyncs(&a.dir, a.seconds);
    let read = sequential_read(&a.dir, a.read_mib, a.seconds);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "cores": cores,
                "argon2_verifies_per_s": argon2,
                "argon2_verifies_per_cpu_s": argon2_cpu,
                "fsyncs_per_s": fsync,
                "sequential_read_mb_per_s": read,
            })
        );
    } else {
        println!(
            "argon2id verify, default parameters, {cores} cores: {argon2:.1}/s ({:.1}/s per core)",
            argon2 / cores as f64
        );
        println!("argon2id verify per CPU-second (one idle core): {argon2_cpu:.1}");
        println!("append 4 KiB + fdatasync: {fsync:.0}/s");
        println!(
            "sequential read, cold cache, {} MiB file: {read:.0} MB/s",
            a.read_mib
        );
    }
}
