//! Auto traits of the semaphore handles, futures and guards.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

use svipc::sem::{
    AcquireFuture, AcquireOwnedFuture, OwnedPermit, Permit, SemInfo, SemSetParams, SemidDs, SemopFuture,
};
use svipc::{SemOp, SemaphoreSet};

fn send_sync<T: Send + Sync>() {}
fn unpin<T: Unpin>() {}
fn clone_static<T: Clone + 'static>() {}

#[test]
fn smoke() {
    send_sync::<SemaphoreSet>();
}

#[test]
fn handles_futures_guards() {
    send_sync::<SemaphoreSet>();
    clone_static::<SemaphoreSet>();
    unpin::<SemaphoreSet>();
    send_sync::<SemopFuture<'static>>();
    unpin::<SemopFuture<'static>>();
    send_sync::<AcquireFuture<'static>>();
    unpin::<AcquireFuture<'static>>();
    send_sync::<Permit<'static>>();
    unpin::<Permit<'static>>();
    send_sync::<SemOp>();
    send_sync::<SemidDs>();
    send_sync::<SemInfo>();
    send_sync::<SemSetParams>();
    fn copy<T: Copy>() {}
    copy::<SemOp>();
    copy::<SemidDs>();
}

/// The owned forms exist to move into a spawned task: `'static + Send`, so
/// `tokio::spawn(async move { let _p = permit; })` compiles.
#[test]
fn owned_permits_are_static_and_send() {
    fn static_send<T: Send + Sync + Unpin + 'static>() {}
    static_send::<OwnedPermit>();
    static_send::<AcquireOwnedFuture>();
}

#[test]
fn futures_are_send_across_spawn() {
    fn is_send<T: Send>(_: &T) {}
    let ns = svipc::Namespace::new();
    let set = ns
        .process(svipc::Credentials::new(0, 0))
        .sem_set(svipc::Key::PRIVATE)
        .create(0o600)
        .nsems(1)
        .open()
        .unwrap();
    let ops = [SemOp::new(0, 1)];
    let f = set.semop(&ops);
    is_send(&f);
    let t = set.semop_timeout(&ops, std::time::Duration::from_secs(1));
    is_send(&t);
    let a = set.acquire(0, 1);
    is_send(&a);
}

#[test]
fn sizes_reported_in_benchmarks_md() {
    // Printed with `cargo test --test sem_auto_traits -- --nocapture sizes`; the bounds
    // keep the figures in BENCHMARKS.md honest.
    let sizes = [
        ("SemaphoreSet", std::mem::size_of::<SemaphoreSet>()),
        ("SemopFuture", std::mem::size_of::<SemopFuture<'static>>()),
        ("AcquireFuture", std::mem::size_of::<AcquireFuture<'static>>()),
        ("Permit", std::mem::size_of::<Permit<'static>>()),
        ("SemOp", std::mem::size_of::<SemOp>()),
    ];
    for (name, size) in sizes {
        println!("{name}: {size} bytes");
    }
    // One `Arc`: what the clones of an open share is behind it (a clone is one count).
    assert_eq!(std::mem::size_of::<SemaphoreSet>(), std::mem::size_of::<usize>());
    // The `tracing` feature adds one word to each future (when it first waited).
    let wait = if cfg!(feature = "tracing") { 8 } else { 0 };
    assert!(std::mem::size_of::<SemopFuture<'static>>() <= 48 + wait);
    assert_eq!(std::mem::size_of::<SemOp>(), 6);
}
