//! Loom models of how a full queue wakes its waiting senders: `ss_wakeup` wakes only the
//! senders the freed room takes, promising them that room; while a woken sender is on its
//! way, receives that free more room do not lock to wake others, and the woken sender runs
//! `ss_wakeup` itself for that room whatever its outcome (sent, dropped). A lost pass-on
//! leaves a sender asleep on a queue with room, which loom reports as a deadlock.
//! `scripts/loom.sh loom_msg_wakeup`.
#![cfg(loom)]

use std::future::{poll_fn, Future};
use std::task::Poll;

use loom::future::block_on;
use loom::thread;
use svipc::Select;

mod common;
use common::{bounded, queue};

/// A full queue of two messages, two senders waiting, two receives back to back: the first
/// wakes one sender with one message of room; the second frees more room while that sender
/// is on its way and wakes nobody. The woken sender must pass that room on to the other.
#[test]
fn woken_sender_passes_on_room_freed_meanwhile() {
    bounded(|| {
        let q = queue(16);
        q.try_send(1, 1).unwrap();
        q.try_send(1, 2).unwrap();
        let (qa, qb) = (q.clone(), q.clone());
        let a = thread::spawn(move || block_on(qa.send(1, 10)).unwrap());
        let b = thread::spawn(move || block_on(qb.send(1, 20)).unwrap());
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
        a.join().unwrap();
        b.join().unwrap();
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (2, 16));
        let mut got = [q.try_recv(Select::Any).unwrap().1, q.try_recv(Select::Any).unwrap().1];
        got.sort_unstable();
        assert_eq!(got, [10, 20]);
    });
}

/// A sender polled once and dropped while a receive frees the one message of room: if the
/// wake-up (and the room promised with it) had gone to the dropped sender, its `Drop`
/// passes it on, and the other waiting sender completes.
#[test]
fn dropped_woken_sender_passes_its_promise_on() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let (qa, qb) = (q.clone(), q.clone());
        let a = thread::spawn(move || {
            let mut f = Box::pin(qa.send(1, 10));
            let first = block_on(poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))));
            first.is_ready()
        });
        let b = thread::spawn(move || block_on(qb.send(1, 20)).unwrap());
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
        let a_sent = a.join().unwrap();
        if a_sent {
            // A took the room; B waits for it: free it again.
            assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 10));
        }
        b.join().unwrap();
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 20));
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A queue that went to complex mode with a message queued goes back to simple mode at the
/// next locked send, moving the message into the ring with its sequence number; a
/// lock-free receive then races a send of another type (which drains the ring back into
/// the lanes): the oldest message still comes out first and nothing is lost.
#[test]
fn loaded_queue_back_to_simple_keeps_the_order() {
    bounded(|| {
        let q = queue(64);
        q.try_send(1, 10).unwrap();
        // A waiting receiver of another type puts the queue in complex mode; dropped, it
        // leaves the message of type 1 in its lane.
        {
            let mut r = Box::pin(q.recv(Select::Type(2)));
            let first = block_on(poll_fn(|cx| Poll::Ready(r.as_mut().poll(cx))));
            assert!(first.is_pending());
        }
        q.try_send(1, 11).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || q2.try_recv(Select::Any).unwrap());
        q.try_send(2, 30).unwrap();
        assert_eq!(t.join().unwrap(), (1, 10));
        let rest: Vec<_> = (0..2).map(|_| q.try_recv(Select::Any).unwrap().1).collect();
        assert_eq!(rest, [11, 30]);
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}
