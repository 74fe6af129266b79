//! Model-checking your own protocol over svipc: a template to copy into your crate.
//!
//! Built with `RUSTFLAGS="--cfg loom"`, every lock, atomic and wait list inside svipc is
//! loom's, so loom explores every interleaving of *your* threads through svipc's calls and
//! fails the test on a lost wake-up, a deadlock, a data race on your own state or a broken
//! assertion. In your crate:
//!
//! ```toml
//! [target.'cfg(loom)'.dev-dependencies]
//! loom = { version = "0.7", features = ["futures"] }
//!
//! [lints.rust]
//! unexpected_cfgs = { level = "warn", check-cfg = ['cfg(loom)'] }
//! ```
//!
//! then `RUSTFLAGS="--cfg loom" cargo test --release --test your_model` (a separate
//! `CARGO_TARGET_DIR` keeps the normal build's cache). Here: `scripts/loom.sh user_protocol`.
//!
//! Three rules make a model work:
//! * Start each file with `#![cfg(loom)]`, so a normal `cargo test` builds it to nothing.
//! * Make your own shared state loom's too (`loom::cell::UnsafeCell`, `loom::sync::Arc`,
//!   loom atomics), through a small `cfg(loom)` switch in your crate as svipc has, so loom
//!   can see races on it; a plain `std` cell is invisible to it.
//! * Drive futures with `loom::future::block_on`: under loom there is no tokio runtime, and
//!   svipc's timed calls (`send_timeout`, `recv_timeout`, `semop_timeout`: loom has no clock)
//!   and `blocking_*` calls (they park a real thread) are not compiled. Model a deadline as
//!   a future polled once and dropped: that is what a timeout does to it, and svipc's futures
//!   are cancel-safe. `Process::current()` and `Namespace::global()` are absent too (no
//!   object may outlive one model run): make a `Namespace::new()` inside each model.
//!
//! Keep models small: two or three threads, a handful of operations, and a preemption bound
//! (`LOOM_MAX_PREEMPTIONS=2`, or `loom::model::Builder`) so a model finishes in seconds.
#![cfg(loom)]

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use svipc::{Credentials, Key, MessageQueue, Namespace, Payload, Select, SemOp, SemaphoreSet};

// ===== The protocol under test: a user's code, as it would be in their crate =====

/// A ledger whose balance is guarded by semaphore 0 of a set used as a lock (value 1), the
/// System V way to guard data that C code would keep in shared memory.
struct Ledger {
    lock: SemaphoreSet,
    balance: UnsafeCell<i64>,
}

// SAFETY (of the impl): `balance` is only accessed while semaphore 0's single unit is held,
// so at most one thread touches it at a time; the semop that takes the unit synchronizes
// with the one that gave it back.
unsafe impl Sync for Ledger {}

impl Ledger {
    fn new(ns: &Namespace) -> Ledger {
        let me = ns.process(Credentials::new(1000, 1000));
        let lock = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
        lock.set_val(0, 1).unwrap();
        Ledger { lock, balance: UnsafeCell::new(0) }
    }

    /// Correct: waits for the unit, and the permit gives it back when dropped.
    async fn deposit(&self, amount: i64) {
        let _held = self.lock.acquire(0, 1).await.unwrap();
        // SAFETY: the unit of semaphore 0 is held (`_held`), so no other access runs.
        self.balance.with_mut(|b| unsafe { *b += amount });
    }

    /// Broken on purpose: treats "would block" as "free" and goes ahead anyway.
    fn deposit_without_waiting(&self, amount: i64) {
        let took = self.lock.try_semop(&[SemOp::new(0, -1)]).is_ok();
        // SAFETY: none: this is the bug the model below must catch.
        self.balance.with_mut(|b| unsafe { *b += amount });
        if took {
            self.lock.try_semop(&[SemOp::new(0, 1)]).unwrap();
        }
    }

    fn balance(&self) -> i64 {
        // SAFETY: called after every other thread was joined.
        self.balance.with(|b| unsafe { *b })
    }
}

/// Request/reply by mtype: requests go to mtype 1 with the client's pid in them; the server
/// answers with `mtype = pid`.
const SERVER: i64 = 1;

/// A request (`x` to double) or a reply (`x` doubled), for client `pid`.
#[derive(Debug, PartialEq)]
struct Msg {
    pid: i32,
    x: u64,
}

impl Payload for Msg {
    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

async fn serve_one(q: &MessageQueue<Msg>) {
    let (_, req) = q.recv(Select::Type(SERVER)).await.unwrap();
    q.send(i64::from(req.pid), Msg { pid: req.pid, x: req.x * 2 }).await.unwrap();
}

async fn ask(q: &MessageQueue<Msg>, x: u64) -> u64 {
    let pid = q.process().pid();
    q.send(SERVER, Msg { pid, x }).await.unwrap();
    let (mtype, reply) = q.recv(Select::Type(i64::from(pid))).await.unwrap();
    assert_eq!((mtype, reply.pid), (i64::from(pid), pid), "a reply reached the wrong client");
    reply.x
}

// ===== The models =====

fn bounded(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// The README's and the crate docs' snippet, as it stands there: two acquires of one unit.
#[test]
fn two_acquires_share_one_unit() {
    loom::model(|| {
        let me = Namespace::new().process(Credentials::new(1000, 1000)); // one per model run
        let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
        set.set_val(0, 1).unwrap();
        let other = set.clone();
        let t = loom::thread::spawn(move || drop(loom::future::block_on(other.acquire(0, 1)).unwrap()));
        drop(loom::future::block_on(set.acquire(0, 1)).unwrap());
        t.join().unwrap();
        assert_eq!(set.get_val(0).unwrap(), 1);
    });
}

/// Two deposits race; in every interleaving both land and the balance is never touched by
/// two threads at once.
#[test]
fn deposits_under_the_semaphore_never_race() {
    bounded(|| {
        let ns = Namespace::new();
        let ledger = Arc::new(Ledger::new(&ns));
        let other = {
            let ledger = ledger.clone();
            thread::spawn(move || block_on(ledger.deposit(5)))
        };
        block_on(ledger.deposit(7));
        other.join().unwrap();
        assert_eq!(ledger.balance(), 12);
        assert_eq!(ledger.lock.get_val(0).unwrap(), 1);
    });
}

/// The broken variant: loom finds the interleaving where both threads write the balance at
/// once and fails the model. This test passes only because the model fails; it proves the
/// model above can catch the bug it is there for.
#[test]
#[should_panic(expected = "Causality violation")]
fn deposits_that_skip_the_wait_are_caught() {
    bounded(|| {
        let ns = Namespace::new();
        let ledger = Arc::new(Ledger::new(&ns));
        let other = {
            let ledger = ledger.clone();
            thread::spawn(move || ledger.deposit_without_waiting(5))
        };
        ledger.deposit_without_waiting(7);
        other.join().unwrap();
    });
}

/// A server thread and a client: the reply reaches the client whichever side runs first
/// (no lost wake-up), and nothing stays queued.
#[test]
fn request_reply_by_mtype() {
    bounded(|| {
        let ns = Namespace::new();
        let server = ns.process(Credentials::new(1000, 1000).with_pid(100));
        let q: MessageQueue<Msg> = server.msg_queue(Key::new(7)).create(0o600).open().unwrap();
        let t = {
            let q = q.clone();
            thread::spawn(move || block_on(serve_one(&q)))
        };
        let client = ns.process(Credentials::new(1000, 1000).with_pid(200));
        let mine: MessageQueue<Msg> = client.msg_queue(Key::new(7)).open().unwrap();
        assert_eq!(block_on(ask(&mine, 21)), 42);
        t.join().unwrap();
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A client gives up on its reply (a timeout, modelled as one poll and a drop) and asks
/// again later: the reply is not lost, whether the server answered before or after the
/// drop. This is the "poll once, then drop" check for your own use of a future.
#[test]
fn a_dropped_wait_for_the_reply_loses_nothing() {
    bounded(|| {
        let ns = Namespace::new();
        let server = ns.process(Credentials::new(1000, 1000).with_pid(100));
        let q: MessageQueue<Msg> = server.msg_queue(Key::new(7)).create(0o600).open().unwrap();
        let t = {
            let q = q.clone();
            thread::spawn(move || block_on(serve_one(&q)))
        };
        let client = ns.process(Credentials::new(1000, 1000).with_pid(200));
        let mine: MessageQueue<Msg> = client.msg_queue(Key::new(7)).open().unwrap();
        mine.try_send(SERVER, Msg { pid: 200, x: 4 }).unwrap();
        {
            let mut wait = pin!(mine.recv(Select::Type(200)));
            let first = block_on(poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))));
            if let Poll::Ready(reply) = first {
                assert_eq!(reply.unwrap(), (200, Msg { pid: 200, x: 8 }));
                t.join().unwrap();
                return;
            }
        } // dropped while waiting: the deadline passed
        assert_eq!(block_on(mine.recv(Select::Type(200))).unwrap(), (200, Msg { pid: 200, x: 8 }));
        t.join().unwrap();
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}
