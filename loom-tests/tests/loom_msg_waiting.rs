//! Loom models of receivers that wait in simple mode: a `recv(Select::Any)` that finds the
//! lock-free ring empty joins the receiver list under the receivers' lock (not the queue's),
//! sets the ring's `WAITING` flag in `tail` and tries the ring once more; a simple send whose
//! push finds the flag hands the ring's oldest message to the oldest waiting receiver; a
//! switch to complex mode hands the messages it drains to the receivers still waiting. A
//! lost wake-up leaves a receiver asleep with a message queued, which loom reports as a
//! deadlock. `scripts/loom.sh loom_msg_waiting`.
#![cfg(loom)]

use std::future::{poll_fn, Future};
use std::task::Poll;

use loom::future::block_on;
use loom::thread;
use svipc::Select;

mod common;
use common::{bounded, queue};

/// A receive waits on an empty queue while a send pushes: the push may take its position
/// before the receiver's flag (the receiver's second look at the ring must find it) or
/// after (the send must hand it over). Either way the receiver gets the message, and
/// nothing is left queued.
#[test]
fn waiting_receiver_gets_a_message_pushed_around_its_flag() {
    bounded(|| {
        let q = queue(64);
        let qr = q.clone();
        let r = thread::spawn(move || block_on(qr.recv(Select::Any)).unwrap());
        q.try_send(1, 5).unwrap();
        assert_eq!(r.join().unwrap(), (1, 5));
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (0, 0));
    });
}

/// A receive waits in simple mode; a send of type 1 pushes (and may find the flag) while a
/// send of type 2 switches the queue to complex mode, draining the ring. The receiver gets
/// the oldest message whichever way it travelled — handed by the first send, taken on its
/// second look, or handed by the switch — and the other stays queued.
#[test]
fn switch_to_complex_hands_drained_messages_to_waiting_receivers() {
    bounded(|| {
        let q = queue(64);
        let (qr, qs) = (q.clone(), q.clone());
        let r = thread::spawn(move || block_on(qr.recv(Select::Any)).unwrap());
        let s = thread::spawn(move || qs.try_send(1, 10).unwrap());
        q.try_send(2, 20).unwrap();
        s.join().unwrap();
        let got = r.join().unwrap();
        let rest = q.try_recv(Select::Any).unwrap();
        let mut both = [got, rest];
        both.sort_unstable();
        assert_eq!(both, [(1, 10), (2, 20)]);
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A receive waits in simple mode; a send of type 1 pushes (and may find the flag) while a
/// `MSG_COPY` that finds nothing (`peek`) switches the queue to complex mode and straight
/// back, moving the drained message back into the ring: a push whose hand-off found the
/// ring closed left its message to the switch, which must hand it to the waiting receiver
/// (no later send comes to do it).
#[test]
fn switch_and_back_hands_a_drained_message_to_the_waiting_receiver() {
    bounded(|| {
        let q = queue(64);
        let (qr, qs) = (q.clone(), q.clone());
        let r = thread::spawn(move || block_on(qr.recv(Select::Any)).unwrap());
        let s = thread::spawn(move || qs.try_send(1, 10).unwrap());
        assert_eq!(q.peek(1).unwrap_err().kind(), svipc::ErrorKind::NoMessage);
        s.join().unwrap();
        assert_eq!(r.join().unwrap(), (1, 10));
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A receive of any message registers in simple mode while another thread's receive of
/// type 2 switches the queue to complex mode (and waits there), then sends a message of
/// type 1 under the queue's lock: that send must see the first receiver waiting — the
/// switch's RMW on the ring's `tail` after it closes the ring orders the two; with plain
/// loads the receiver could read the ring open and the send read no flag — and hand it the
/// message.
#[test]
fn switch_racing_a_simple_registration_still_sees_the_receiver() {
    bounded(|| {
        let q = queue(64);
        let (qa, qb) = (q.clone(), q.clone());
        let a = thread::spawn(move || block_on(qa.recv(Select::Any)).unwrap());
        let b = thread::spawn(move || {
            let mut f = Box::pin(qb.recv(Select::Type(2)));
            let first = block_on(poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))));
            assert!(first.is_pending());
            qb.try_send(1, 10).unwrap();
        });
        b.join().unwrap();
        assert_eq!(a.join().unwrap(), (1, 10));
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// A receive polled once (it may wait in simple mode, or take the message) and dropped
/// while a send runs: a message handed to it goes back into the queue, so exactly one
/// message comes out in all.
#[test]
fn dropped_simple_waiter_puts_its_handed_message_back() {
    bounded(|| {
        let q = queue(64);
        let qr = q.clone();
        let r = thread::spawn(move || {
            let mut f = Box::pin(qr.recv(Select::Any));
            match block_on(poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx)))) {
                Poll::Ready(got) => Some(got.unwrap()),
                Poll::Pending => None,
            }
        });
        q.try_send(1, 7).unwrap();
        let got = r.join().unwrap();
        match got {
            Some(m) => assert_eq!(m, (1, 7)),
            None => assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 7)),
        }
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// Two receivers wait; two sends follow: each receiver gets one message (a send's hand-off
/// may take the other send's message, the older one; no message is left in the ring while
/// a receiver sleeps).
#[test]
fn two_waiting_receivers_two_sends() {
    bounded(|| {
        let q = queue(64);
        let (qa, qb) = (q.clone(), q.clone());
        let a = thread::spawn(move || block_on(qa.recv(Select::Any)).unwrap().1);
        let b = thread::spawn(move || block_on(qb.recv(Select::Any)).unwrap().1);
        q.try_send(1, 1).unwrap();
        q.try_send(1, 2).unwrap();
        let mut got = [a.join().unwrap(), b.join().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}
