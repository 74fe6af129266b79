//! Loom models of the message queue's lock-free ring (`src/sync/ring.rs`, through
//! `svipc::__loom::ring`): pushes of two producers wrapping around a two-slot ring behind a
//! slow pop, two pops racing one push (an `Empty` only when the ring was empty), the closer
//! draining against a pop, close / drain / push / reopen against a stale pop, a grow
//! against a pop that loaded the old array, and `Drop` of queued values (loom checks its
//! objects for leaks). `scripts/loom.sh loom_ring`.
#![cfg(loom)]

use loom::sync::atomic::AtomicBool;
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::Ordering::{Acquire, Release};
use svipc::__loom::ring::{Popped, Ring};

mod common;
use common::bounded;

/// [`bounded`], but never deeper than 2 preemptions, for a model where two pops spin
/// (`yield_now`) on one push in flight: from 3 preemptions on, loom's scheduler can keep
/// alternating the two yielding spinners without running the pusher, and the model runs
/// past `LOOM_MAX_BRANCHES` (a model of just one push and two pops does so at 3 and
/// finishes in milliseconds at 2). The real ring has no such schedule: the pusher is a few
/// instructions from its stamp store and the spinners yield to it.
fn bounded_at_most_2(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(b.preemption_bound.map_or(2, |n| n.min(2)));
    b.check(f);
}

/// Pops until a value comes (the model's pushes are all going to happen).
fn pop_one(r: &Ring<u64>) -> u64 {
    loop {
        match r.pop() {
            Popped::Taken(v) => return v,
            Popped::Empty => thread::yield_now(),
            other => panic!("open ring answered {other:?}"),
        }
    }
}

/// Two producers, one consumer, two slots, three values (producer a's first pushed before
/// the threads start): the push that gets position 2 wraps to slot 0 and waits there until
/// the pop of position 0 has read the value and freed the slot. Every value comes out once, each producer's in its order.
#[test]
fn two_pushers_one_popper_wrap_around() {
    bounded(|| {
        let r = Arc::new(Ring::<u64>::new(2));
        // producer a's first value, at position 0
        r.push(10);
        let (ra, rb) = (r.clone(), r.clone());
        let a = thread::spawn(move || ra.push(11));
        let b = thread::spawn(move || rb.push(20));
        let got: Vec<u64> = (0..3).map(|_| pop_one(&r)).collect();
        a.join().unwrap();
        b.join().unwrap();
        let pos = |v| got.iter().position(|&g| g == v).unwrap();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [10, 11, 20]);
        assert!(pos(10) < pos(11), "producer a's values out of order: {got:?}");
        assert_eq!(r.pop(), Popped::Empty);
    });
}

/// One producer, two consumers each popping once. The producer sets a flag after both
/// pushes: a consumer that saw the flag found at least one value left (the other consumer
/// takes at most one), so it must not answer `Empty`. Each value is taken once, and the
/// rest is still queued, in order. At most 2 preemptions (see [`bounded_at_most_2`]).
#[test]
fn one_pusher_two_poppers() {
    bounded_at_most_2(|| {
        let r = Arc::new(Ring::<u64>::new(2));
        let pushed = Arc::new(AtomicBool::new(false));
        let (rp, fp) = (r.clone(), pushed.clone());
        let p = thread::spawn(move || {
            rp.push(1);
            rp.push(2);
            fp.store(true, Release);
        });
        let (rc, fc) = (r.clone(), pushed.clone());
        let c = thread::spawn(move || {
            let saw = fc.load(Acquire);
            (saw, rc.pop())
        });
        let saw = pushed.load(Acquire);
        let mine = r.pop();
        let (saw_c, theirs) = c.join().unwrap();
        p.join().unwrap();
        let mut got = Vec::new();
        for (saw, res) in [(saw, mine), (saw_c, theirs)] {
            match res {
                Popped::Taken(v) => got.push(v),
                Popped::Empty => assert!(!saw, "Empty after both pushes were done"),
                other => panic!("open ring answered {other:?}"),
            }
        }
        while let Popped::Taken(v) = r.pop() {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// The closer closes and drains with `take_closed` while a pop runs: the pop gets the
/// first value or `Closed`, the closer the rest in order; each value exactly once.
#[test]
fn close_and_take_closed_race_a_pop() {
    bounded(|| {
        let r = Arc::new(Ring::<u64>::new(2));
        r.push(1);
        r.push(2);
        let rp = r.clone();
        let p = thread::spawn(move || rp.pop());
        r.close();
        let mut drained = Vec::new();
        while let Some(v) = r.take_closed() {
            drained.push(v);
        }
        match p.join().unwrap() {
            Popped::Taken(v) => {
                // the pop's claim came before the close (even if its slot is not freed
                // yet, the closer looks at the next position, whose value is written)
                assert_eq!((v, drained), (1, vec![2]));
            }
            Popped::Closed => assert_eq!(drained, [1, 2]),
            other => panic!("the pop answered {other:?}"),
        }
        assert!(r.reopen());
        assert_eq!(r.pop(), Popped::Empty);
    });
}

/// A pop that read `head` before the close and retries after the closer drained, pushed
/// into the one-slot ring (the same slot, the next position) and reopened: no value is
/// taken twice, none lost, and `Empty` is impossible (a value is queued throughout).
#[test]
fn close_drain_reopen_race_a_stale_pop() {
    bounded(|| {
        let r = Arc::new(Ring::<u64>::new(1));
        r.push(1);
        let rp = r.clone();
        let p = thread::spawn(move || rp.pop());
        r.close();
        let drained = r.take_closed();
        if drained.is_some() {
            r.push(2);
        }
        assert!(r.reopen());
        let popped = p.join().unwrap();
        let mut got: Vec<u64> = drained.into_iter().collect();
        match popped {
            Popped::Taken(v) => got.push(v),
            Popped::Closed => {}
            other => panic!("the pop answered {other:?}"),
        }
        if let Popped::Taken(v) = r.pop() {
            got.push(v);
        }
        assert_eq!(r.pop(), Popped::Empty);
        got.sort_unstable();
        if drained.is_some() {
            assert_eq!(got, [1, 2]);
        } else {
            // the pop claimed 1 before the drain looked; nothing was pushed after
            assert_eq!((popped, got), (Popped::Taken(1), vec![1]));
        }
    });
}

/// A grow of the closed, drained ring (one slot to four) while a pop that may have loaded
/// the old array looks at it; the closer then pushes into the new array and reopens. The
/// pop gets `Empty`, `Closed` or the first new value, never anything from the old array;
/// the rest comes out in order.
#[test]
fn grow_races_a_stale_pop() {
    bounded(|| {
        let r = Arc::new(Ring::<u64>::new(1));
        r.push(1);
        assert_eq!(r.pop(), Popped::Taken(1));
        let rp = r.clone();
        let p = thread::spawn(move || rp.pop());
        r.close();
        assert!(r.grow(4));
        r.push(2);
        r.push(3);
        assert!(r.reopen());
        let popped = p.join().unwrap();
        let mut rest = Vec::new();
        while let Popped::Taken(v) = r.pop() {
            rest.push(v);
        }
        match popped {
            Popped::Taken(v) => assert_eq!((v, rest), (2, vec![3])),
            Popped::Empty | Popped::Closed => assert_eq!(rest, [2, 3]),
            Popped::Refused => panic!("the pop accepts"),
        }
        assert_eq!(r.capacity(), 4);
    });
}

/// The ring dropped with values still queued (one pushed by each of two threads, one
/// popped): exactly the queued one is dropped by the ring; loom fails the model if a
/// value leaked.
#[test]
fn drop_with_values_queued() {
    bounded(|| {
        let r = Arc::new(Ring::<Arc<u64>>::new(2));
        let mine = Arc::new(1);
        let theirs = Arc::new(2);
        let (rp, t) = (r.clone(), theirs.clone());
        let p = thread::spawn(move || rp.push(t));
        r.push(mine.clone());
        let popped = match r.pop() {
            Popped::Taken(v) => v,
            other => panic!("a value was queued: {other:?}"),
        };
        p.join().unwrap();
        drop(r);
        // the ring is gone: the value left in it was dropped, the popped one is ours
        assert!(*popped == 1 || *popped == 2);
        assert_eq!(Arc::strong_count(&mine) + Arc::strong_count(&theirs), 3);
        drop(popped);
        assert_eq!((Arc::strong_count(&mine), Arc::strong_count(&theirs)), (1, 1));
    });
}
