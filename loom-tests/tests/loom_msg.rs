//! Loom models of the message-queue engine, driven through the public API compiled under
//! `--cfg loom` (every lock and atomic of the crate is loom's): waiter registration against
//! a send, selection with two waiting receivers, a cancelled receive racing a send, removal
//! against waiters, and a full queue's sender woken by a receive.
#![cfg(loom)]

use std::future::{poll_fn, Future};
use std::task::Poll;

use loom::future::block_on;
use loom::thread;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, MsqidSet, Namespace, Select};

fn queue(qbytes: u64) -> MessageQueue<u64> {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
    q
}

/// Runs a model at `LOOM_MAX_PREEMPTIONS`, or 2 when it is unset (every model here
/// finishes in seconds at 2).
fn bounded(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// A receiver blocks (registers as a waiter) while another thread sends: the receiver gets
/// the message whichever comes first — no lost wake-up.
#[test]
fn send_vs_recv_with_waiter_registration() {
    bounded(|| {
        let q = queue(64);
        let q2 = q.clone();
        let t = thread::spawn(move || block_on(q2.recv(Select::Any)).unwrap());
        q.try_send(3, 42).unwrap();
        assert_eq!(t.join().unwrap(), (3, 42));
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (0, 0));
    });
}

/// Two receivers with different selectors and sends of two types: each gets the message its
/// selector matches, whether it was waiting (handoff) or came later (queue).
#[test]
fn two_receivers_different_selectors() {
    bounded(|| {
        let q = queue(64);
        let (qa, qb) = (q.clone(), q.clone());
        let a = thread::spawn(move || block_on(qa.recv(Select::Type(1))).unwrap());
        let b = thread::spawn(move || block_on(qb.recv(Select::Any)).unwrap());
        q.try_send(2, 20).unwrap();
        q.try_send(1, 10).unwrap();
        assert_eq!(a.join().unwrap(), (1, 10));
        assert_eq!(b.join().unwrap(), (2, 20));
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A receive polled once and dropped, racing a send: the message is received exactly once —
/// by that receive if it completed, else it is still in the queue (put back if it had been
/// handed over).
#[test]
fn cancelled_recv_racing_send_loses_nothing() {
    bounded(|| {
        let q = queue(64);
        let q2 = q.clone();
        let t = thread::spawn(move || {
            let mut f = Box::pin(q2.recv(Select::Type(1)));
            block_on(poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))))
        });
        q.try_send(1, 7).unwrap();
        let got = match t.join().unwrap() {
            Poll::Ready(r) => Some(r.unwrap()),
            Poll::Pending => None,
        };
        let left = q.try_recv(Select::Any).ok();
        match (got, left) {
            (Some((1, 7)), None) | (None, Some((1, 7))) => {}
            other => panic!("lost or duplicated: {other:?}"),
        }
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// `IPC_RMID` against a waiting receiver and a waiting sender (qbytes 0: nothing fits):
/// each waiter fails with EIDRM; one that starts after the removal sees a dead id (EINVAL).
#[test]
fn remove_vs_waiting_receiver_and_sender() {
    bounded(|| {
        let q = queue(0);
        let (qr, qs) = (q.clone(), q.clone());
        let r = thread::spawn(move || block_on(qr.recv(Select::Any)).unwrap_err().kind());
        let s = thread::spawn(move || block_on(qs.send(1, 5)).unwrap_err().kind());
        q.remove().unwrap();
        for kind in [r.join().unwrap(), s.join().unwrap()] {
            assert!(matches!(kind, ErrorKind::Removed | ErrorKind::InvalidArgument), "{kind:?}");
        }
    });
}

/// A full queue (qbytes = one u64): a blocked sender is woken by the receive that makes
/// room, and its message arrives after the first.
#[test]
fn full_queue_sender_woken_by_receive() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || block_on(q2.send(1, 2)).unwrap());
        assert_eq!(block_on(q.recv(Select::Any)).unwrap(), (1, 1));
        t.join().unwrap();
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
    });
}

/// A reservation racing a receive that frees room, with the permit dropped unused: the room
/// comes back (a later send of the full size fits).
#[test]
fn reserve_woken_then_permit_dropped() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || {
            let permit = block_on(q2.reserve(1, 8)).unwrap();
            drop(permit);
        });
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
        t.join().unwrap();
        q.try_send(1, 3).unwrap();
    });
}

/// Two lock-free sends of different types: one claims simple mode's FIFO, the other must
/// switch the queue to complex mode (draining the first, moving its message into a lane).
/// Both messages are there exactly once, counted once.
#[test]
fn simple_sends_of_two_types_race_the_mode_switch() {
    bounded(|| {
        let q = queue(64);
        let q2 = q.clone();
        let t = thread::spawn(move || q2.try_send(2, 20).unwrap());
        q.try_send(1, 10).unwrap();
        t.join().unwrap();
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (2, 16));
        let mut got = [q.try_recv(Select::Any).unwrap(), q.try_recv(Select::Any).unwrap()];
        got.sort_unstable();
        assert_eq!(got, [(1, 10), (2, 20)]);
        assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::NoMessage);
    });
}

/// A lock-free receive racing a switch to complex mode (MSG_COPY needs the lanes) and a
/// locked receive: the one message is taken exactly once.
#[test]
fn simple_recv_races_complex_switch() {
    bounded(|| {
        let q = queue(64);
        q.try_send(1, 10).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || q2.try_recv(Select::Any).ok());
        let peeked = q.peek(0).ok();
        let mine = q.try_recv(Select::Type(1)).ok();
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            (Some((1, 10)), None) | (None, Some((1, 10))) => {}
            other => panic!("taken {other:?}"),
        }
        assert!(matches!(peeked, None | Some((1, 10))));
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A lock-free send racing `IPC_SET` lowering qbytes to 0: the send either fitted before
/// the change (and is queued) or gets EAGAIN after it; never queued past the new limit.
#[test]
fn simple_send_races_ipc_set() {
    bounded(|| {
        let q = queue(64);
        let q2 = q.clone();
        let t = thread::spawn(move || q2.try_send(1, 1).is_ok());
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 0 }).unwrap();
        let sent = t.join().unwrap();
        assert_eq!(q.stat().unwrap().qnum, u64::from(sent));
        assert_eq!(q.try_send(1, 2).unwrap_err().kind(), ErrorKind::WouldBlock);
    });
}
