//! Loom models of senders that wait in simple mode: a send whose message does not fit joins
//! the sender list under the senders' lock (not the queue's), which sets `SENDERS` in the
//! receivers' room word, and tries once more; a lock-free receive that gives room back and
//! finds `SENDERS` runs `ss_wakeup` under the senders' lock alone, and the woken sender
//! leaves the list and sends on the lock-free path. A lost wake-up leaves a sender asleep on
//! a queue with room, which loom reports as a deadlock. `scripts/loom.sh loom_msg_sending`.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use svipc::msg::MsqidSet;
use svipc::{ErrorKind, Select};

mod common;
use common::{bounded, bounded_at_least, queue};

/// A full queue (room for one u64): a sender registers in simple mode while a receive
/// frees the room. Either the receive's give-back comes first in the receivers' word (the
/// sender's second try collects it) or the registration's flag does (the receive wakes the
/// sender, without the queue's lock); the message arrives either way, once.
#[test]
fn sender_waiting_lock_free_gets_room_freed_around_its_registration() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let qs = q.clone();
        let s = thread::spawn(move || block_on(qs.send(1, 2)).unwrap());
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
        s.join().unwrap();
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (1, 8));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
    });
}

/// The same race with `IPC_SET` (same figures) switching the queue to complex mode and back
/// in the middle: a lock-free `ss_wakeup` that finds the switch goes to the queue's lock, a
/// sender that registered in one mode is found by a wake-up in the other, and the switch
/// back stores `SENDERS` from the list under the senders' lock. The sender completes, and
/// the counts are exact.
#[test]
fn waiting_sender_races_a_receive_and_a_mode_switch() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let (qs, qc) = (q.clone(), q.clone());
        let s = thread::spawn(move || block_on(qs.send(1, 2)).unwrap());
        let c = thread::spawn(move || qc.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 8 }).unwrap());
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
        s.join().unwrap();
        c.join().unwrap();
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (1, 8));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
    });
}

/// Two senders wait on a full queue with room for two; two receives free the room one
/// message at a time. Each receive's lock-free `ss_wakeup` wakes one sender (the room
/// promised to it), a woken sender passes on room freed while it was on its way, and a
/// sender that registers while a promise is out (so `SENDERS` stays clear) is woken by the
/// woken one. Both messages arrive, and nothing is counted twice.
#[test]
fn two_waiting_senders_and_two_receives() {
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
    });
}

/// `IPC_RMID` against a sender waiting in simple mode on a full queue: it fails with
/// `EIDRM` (or, started after the removal, `EINVAL`), whether it is woken while it waits or
/// registers while the removal runs.
#[test]
fn removal_fails_a_sender_waiting_lock_free() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let qs = q.clone();
        let s = thread::spawn(move || block_on(qs.send(1, 2)).unwrap_err().kind());
        q.remove().unwrap();
        let kind = s.join().unwrap();
        assert!(matches!(kind, ErrorKind::Removed | ErrorKind::InvalidArgument), "{kind:?}");
    });
}

/// A sender registers in simple mode while `IPC_SET` (same figures) switches the full
/// queue to complex mode and back: the switch back stores `SENDERS` from the list, so the
/// registration must come wholly before that store (its entry is seen) or after it (its
/// own RMW sets the flag). Then a receive frees the room and must wake the sender. The race
/// takes three preemptions (the sender's first try, the switch's read of the list, the
/// registration in between), so this model runs at 3 (about a second).
#[test]
fn sender_registering_across_the_switch_back_is_woken() {
    bounded_at_least(3, || {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let qs = q.clone();
        let s = thread::spawn(move || block_on(qs.send(1, 2)).unwrap());
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 8 }).unwrap();
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
        s.join().unwrap();
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
    });
}
