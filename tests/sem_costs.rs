//! The exact cost of a semaphore hand-off, in events (the `counters` feature): the releaser
//! performs the waiter's decrement under the set lock and the woken task collects the result
//! without taking the lock again, so a hand-off is two set locks and no allocation; a release
//! looks at no sleeper but the one it wakes; `acquire` and its guard's drop count exactly
//! what two `semop`s count.
//!
//! The counters sum every thread of the process, so this file holds one test that runs its
//! checks one after another, on the test's thread: nothing else counts meanwhile.
//!
//! ```text
//! cargo test --features counters --test sem_costs
//! ```
#![cfg(feature = "counters")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use svipc::counters::{self, Event, Snapshot};
use svipc::{Credentials, Key, Namespace, SemOp, SemaphoreSet};

fn one_unit() -> SemaphoreSet {
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
    set.set_val(0, 1).unwrap();
    set
}

fn counted(f: impl FnOnce()) -> Snapshot {
    let before = counters::snapshot();
    f();
    counters::snapshot().since(&before)
}

#[test]
fn hand_off_costs() {
    a_hand_off_takes_two_set_locks_and_no_allocation();
    a_release_looks_at_no_waiter_but_the_one_it_wakes();
    acquire_and_its_drop_cost_what_two_semops_cost();
}

fn a_hand_off_takes_two_set_locks_and_no_allocation() {
    let set = one_unit();
    let mut cx = Context::from_waker(Waker::noop());
    set.try_semop(&[SemOp::new(0, -1)]).unwrap(); // we hold the unit
    let take = [SemOp::new(0, -1)];
    let mut waiter = pin!(set.semop(&take));
    let d = counted(|| {
        assert!(waiter.as_mut().poll(&mut cx).is_pending()); // lock 1: it goes to sleep
        set.try_semop(&[SemOp::new(0, 1)]).unwrap(); // lock 2: performs the waiter's -1
        assert!(matches!(waiter.as_mut().poll(&mut cx), Poll::Ready(Ok(())))); // no lock
    });
    assert_eq!(set.get_val(0).unwrap(), 0, "the waiter holds the unit");
    assert_eq!(d.get(Event::SemLock), 2, "{d:?}");
    assert_eq!(d.get(Event::SemAlloc), 0, "{d:?}");
    assert_eq!((d.get(Event::SemWait), d.get(Event::SemWake)), (1, 1), "{d:?}");
    assert_eq!(d.get(Event::SemOpDone), 2, "{d:?}");
}

fn a_release_looks_at_no_waiter_but_the_one_it_wakes() {
    let set = one_unit();
    let mut cx = Context::from_waker(Waker::noop());
    set.try_semop(&[SemOp::new(0, -1)]).unwrap();
    let take = [SemOp::new(0, -1)];
    let mut waiters: Vec<_> = (0..8).map(|_| Box::pin(set.semop(&take))).collect();
    for w in &mut waiters {
        assert!(w.as_mut().poll(&mut cx).is_pending());
    }
    let d = counted(|| set.try_semop(&[SemOp::new(0, 1)]).unwrap());
    assert_eq!((d.get(Event::SemScan), d.get(Event::SemRetry)), (1, 0), "{d:?}");
    assert!(matches!(waiters[0].as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    assert!(waiters[1].as_mut().poll(&mut cx).is_pending());
}

fn acquire_and_its_drop_cost_what_two_semops_cost() {
    let set = one_unit();
    let semops = counted(|| {
        futures::executor::block_on(async {
            set.semop(&[SemOp::new(0, -1)]).await.unwrap();
            set.semop(&[SemOp::new(0, 1)]).await.unwrap();
        })
    });
    let acquire = counted(|| futures::executor::block_on(async { drop(set.acquire(0, 1).await.unwrap()) }));
    assert_eq!(semops.get(Event::SemOpDone), 2);
    assert_eq!(acquire, semops);
}
