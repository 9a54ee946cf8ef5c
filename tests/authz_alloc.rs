//! The permission index answers checks without allocating: a counting
//! global allocator watches a burst of checks of every kind.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use bailiwick::authz::{Action, Authz, Capability, Resource};
use bailiwick::domain::ipset::IpSet;
use bailiwick::domain::testkit::World;
use bailiwick::domain::{Permission, Role};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// The thread whose allocations count (its kernel thread id; 0: none). Other
/// threads of the test process (the harness's own) may allocate at any time,
/// more so on a loaded machine; they are not the checks under test.
static WATCHED: AtomicI32 = AtomicI32::new(0);

fn this_thread() -> i32 {
    // SAFETY: gettid takes nothing, always succeeds and touches no memory.
    unsafe { libc::gettid() }
}

// SAFETY: every call is passed unchanged to the system allocator, which
// upholds GlobalAlloc's contract; counting has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHED.load(Ordering::Relaxed) == this_thread() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from System.alloc with this layout (above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn checks_do_not_allocate() {
    // The first Manager `m1`, and a Scanner `s1` holding one group.
    let mut w = World::new();
    w.state.assets.ips = IpSet::parse_list("ips", &["10.0.0.0/16", "2001:db8::/48"]).unwrap();
    w.state.assets.domains = ["example.com".to_owned()].into();
    let g1 = w.group("G", &[], "m1", Role::Manager, &["10.0.0.0/24"]);
    if let Some(g) = w.state.asset_groups.get_mut(&g1) {
        g.assets.domains = ["example.com".to_owned()].into();
    }
    w.user_with_id("s1", "s1", Role::Scanner, None);
    w.assign("s1", &[&g1]);
    let state = w.state;
    let authz = Authz::new(&state);
    let ip = "10.0.0.7".parse().unwrap();
    let far = "10.0.9.7".parse().unwrap();
    let v6 = "2001:db8::1".parse().unwrap();
    let asks = [
        ("s1", Action::Scan, Resource::ip(ip)),
        ("s1", Action::Scan, Resource::ip(far)),
        ("m1", Action::Scan, Resource::ip(v6)),
        (
            "s1",
            Action::Map,
            Resource {
                domain: Some("EXAMPLE.com."),
                ..Resource::default()
            },
        ),
        ("s1", Action::Report, Resource::ip(ip)),
        (
            "s1",
            Action::Permission(Permission::AddAssets),
            Resource::default(),
        ),
        (
            "s1",
            Action::Capability(Capability::LaunchScans),
            Resource::default(),
        ),
        (
            "m1",
            Action::ViewUser,
            Resource {
                user: Some("s1"),
                ..Resource::default()
            },
        ),
        (
            "s1",
            Action::ManageUser,
            Resource {
                user: Some("m1"),
                ..Resource::default()
            },
        ),
        ("nobody", Action::Scan, Resource::ip(ip)),
    ];
    // Warm up (arc-swap may set up its thread-local debt list once).
    for (u, a, r) in &asks {
        authz.check(u, *a, r);
    }
    let index = authz.snapshot();
    WATCHED.store(this_thread(), Ordering::Relaxed);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut allowed = 0;
    for _ in 0..1000 {
        for (u, a, r) in &asks {
            allowed += usize::from(authz.check(u, *a, r).allowed);
            allowed += usize::from(index.check(u, *a, r).allowed);
        }
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    WATCHED.store(0, Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations during 20 000 checks");
    // Allowed: scan in group, the Manager's IPv6 scan, map, report,
    // launch_scans, view_user; six of ten, asked twice each round.
    assert_eq!(allowed, 1000 * 2 * 6);
}
