//! Loom models of the message-queue engine, driven through the public API compiled under
//! `--cfg loom` (every lock and atomic of the crate is loom's): waiter registration against
//! a send, selection with two waiting receivers, a cancelled receive racing a send, removal
//! against waiters, a full queue's sender woken by a receive, and the split room counters
//! (a send collecting the room a receive gave back) against mode switches, waiting senders
//! and `IPC_STAT`, and a handle's memo of its permission checks against `IPC_SET`.
//! `scripts/loom.sh loom_msg`.
#![cfg(loom)]

use std::future::{poll_fn, Future};
use std::task::Poll;

use loom::future::block_on;
use loom::thread;
use svipc::msg::MsqidSet;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Select};

mod common;
use common::{bounded, queue};

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

/// The split room counters against a mode switch: a full queue (qbytes = two u64s), a
/// receive that gives room back to the receivers' word, a send that must collect it from
/// there, and `MSG_COPY` switching to complex mode in the middle. Whatever the order, every
/// message is there exactly once and counted once, and the room left is exactly what the
/// queue's contents leave: as many sends fit afterwards as the counts say.
#[test]
fn collect_races_receive_and_complex_switch() {
    bounded(|| {
        let q = queue(16);
        q.try_send(1, 1).unwrap();
        q.try_send(1, 2).unwrap();
        let (qr, qs) = (q.clone(), q.clone());
        let r = thread::spawn(move || qr.try_recv(Select::Any).unwrap());
        let s = thread::spawn(move || qs.try_send(1, 3).is_ok());
        let peeked = q.peek(0).ok();
        assert_eq!(r.join().unwrap(), (1, 1));
        let sent = s.join().unwrap();
        assert!(matches!(peeked, Some((1, 1)) | Some((1, 2))), "{peeked:?}");
        let ds = q.stat().unwrap();
        let queued = 1 + u64::from(sent);
        assert_eq!((ds.qnum, ds.cbytes), (queued, 8 * queued));
        let mut fill = 0;
        while q.try_send(1, 9).is_ok() {
            fill += 1;
        }
        assert_eq!(fill, 2 - queued);
        let mut got = Vec::new();
        while let Ok((_, v)) = q.try_recv(Select::Any) {
            got.push(v);
        }
        let mut want = vec![2];
        if sent {
            want.push(3);
        }
        want.extend(std::iter::repeat_n(9, fill as usize));
        assert_eq!(got, want);
    });
}

/// A sender waiting on a full queue while a receive gives room back and a second sender
/// (no-wait) collects that room: the waiting sender is never forgotten — if the second
/// sender took the room, the next receive wakes the first. Both messages arrive, each once.
#[test]
fn waiting_sender_vs_collecting_sender() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let waiter = thread::spawn(move || block_on(q1.send(1, 2)).unwrap());
        let nowait = thread::spawn(move || q2.try_send(1, 3).is_ok());
        assert_eq!(block_on(q.recv(Select::Any)).unwrap(), (1, 1));
        let sent = nowait.join().unwrap();
        let mut got = vec![block_on(q.recv(Select::Any)).unwrap().1];
        if sent {
            got.push(block_on(q.recv(Select::Any)).unwrap().1);
        }
        waiter.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, if sent { vec![2, 3] } else { vec![2] });
        assert_eq!(q.stat().unwrap().qnum, 0);
    });
}

/// `IPC_STAT` while a receive and a collecting send run: the counts are those of one
/// instant of the queue (0 or 1 messages of 8 bytes, never the room counted twice or lost).
#[test]
fn stat_during_collect() {
    bounded(|| {
        let q = queue(8);
        q.try_send(1, 1).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || {
            assert_eq!(q2.try_recv(Select::Any).unwrap(), (1, 1));
            q2.try_send(1, 2).unwrap();
        });
        let ds = q.stat().unwrap();
        assert!(ds.qnum <= 1 && ds.cbytes == 8 * ds.qnum, "{ds:?}");
        t.join().unwrap();
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (1, 8));
    });
}

/// A collect that takes more room than its own send needs, racing the receive that gave it
/// back: a sender waiting for the rest must be woken. (qbytes 12, an 8-byte message queued:
/// neither 5-byte send fits until the receive; afterwards both do.) Without the lock
/// holder's consolidation in `ss_wakeup`, the receive's wake-up can read both room words
/// while the collector holds the room between them, and the waiting sender sleeps forever.
#[test]
fn surplus_of_a_collect_wakes_waiting_sender() {
    bounded(|| {
        let ns = Namespace::new();
        let me = ns.process(Credentials::new(0, 0));
        let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 12 }).unwrap();
        q.try_send(1, vec![0; 8]).unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let waiter = thread::spawn(move || block_on(q1.send(1, vec![1; 5])).unwrap());
        let nowait = thread::spawn(move || q2.try_send(1, vec![2; 5]).is_ok());
        assert_eq!(q.try_recv(Select::Any).unwrap().1, vec![0; 8]);
        let sent = nowait.join().unwrap();
        waiter.join().unwrap();
        let ds = q.stat().unwrap();
        let queued = 1 + u64::from(sent);
        assert_eq!((ds.qnum, ds.cbytes), (queued, 5 * queued));
    });
}

/// Two waiting receivers and two sends: the first handoff goes through the queue's one
/// mailbox, the second — while the first is not yet collected — through the receiver's
/// wait-list entry (or the mailbox again, once emptied). Each receiver gets one message,
/// each message arrives once, and nothing stays queued.
#[test]
fn two_handoffs_share_one_mailbox() {
    bounded(|| {
        let q = queue(64);
        let (qa, qb) = (q.clone(), q.clone());
        let a = thread::spawn(move || block_on(qa.recv(Select::Any)).unwrap());
        let b = thread::spawn(move || block_on(qb.recv(Select::Any)).unwrap());
        q.try_send(1, 10).unwrap();
        q.try_send(1, 20).unwrap();
        let mut got = [a.join().unwrap(), b.join().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [(1, 10), (1, 20)]);
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (0, 0));
    });
}

/// A queue with mode 0606 made by root, and the same queue opened by another user (uid
/// 1000), who may read and write it through the "other" bits until an `IPC_SET` of 0600.
fn owner_and_other() -> (MessageQueue<u64>, MessageQueue<u64>) {
    let ns = Namespace::new();
    let root = ns.process(Credentials::new(0, 0));
    let q: MessageQueue<u64> = root.msg_queue(Key::PRIVATE).create(0o606).open().unwrap();
    let other = ns.process(Credentials::new(1000, 1000));
    let theirs = other.msg_queue_by_id(q.id()).unwrap();
    (q, theirs)
}

/// A receive by another user racing `IPC_SET` that takes its read permission away, then a
/// send: the message is sent after the revocation, so the receive can only fail with EACCES
/// — whether it checked before the `IPC_SET` and then waited (woken to re-check), or
/// reached the lock after it (a locked pass redoes the check when the permissions' version
/// moved) — and the message stays queued.
#[test]
fn recv_racing_permission_revocation() {
    bounded(|| {
        let (q, theirs) = owner_and_other();
        let t = thread::spawn(move || block_on(theirs.recv(Select::Any)).map_err(|e| e.kind()));
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 64 }).unwrap();
        q.try_send(1, 5).unwrap();
        assert_eq!(t.join().unwrap(), Err(ErrorKind::PermissionDenied));
        assert_eq!(q.stat().unwrap().qnum, 1);
    });
}

/// A send by another user racing `IPC_SET` that takes its write permission away: a send that
/// succeeds must have taken effect before the revocation — so a `stat` made right after the
/// `IPC_SET` already counts its message — and one that takes effect after fails with
/// EACCES and queues nothing. (That `stat` may count the failing send's room for a moment:
/// the documented deviation "a send undone after its room was taken", `src/msg/mod.rs`.)
#[test]
fn send_racing_permission_revocation() {
    bounded(|| {
        let (q, theirs) = owner_and_other();
        let t = thread::spawn(move || theirs.try_send(1, 5).map_err(|e| e.kind()));
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 64 }).unwrap();
        let after_set = q.stat().unwrap().qnum;
        let sent = t.join().unwrap();
        let at_end = q.stat().unwrap().qnum;
        match sent {
            Ok(()) => assert_eq!((after_set, at_end), (1, 1), "sent after the revocation"),
            Err(kind) => assert_eq!((kind, at_end), (ErrorKind::PermissionDenied, 0)),
        }
        assert_eq!(q.try_recv(Select::Any).ok().is_some(), at_end == 1);
    });
}

/// The handle's memo of its passed checks against `IPC_SET`: another user's handle sends
/// once (the write check's pass is remembered, at the permission version it read), then
/// races an `IPC_SET` that takes its write permission away with a second send. Once it has
/// seen the `IPC_SET` done (the flag), or after the join, its send is EACCES; every send
/// that succeeded is in the queue.
#[test]
fn a_send_after_an_ipc_set_that_revoked_write_is_denied_despite_the_handles_memo() {
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use std::sync::atomic::Ordering::{Acquire, Release};
    bounded(|| {
        let (q, theirs) = owner_and_other();
        let done = Arc::new(AtomicBool::new(false));
        let t = {
            let done = done.clone();
            thread::spawn(move || {
                let first = theirs.try_send(1, 1).is_ok(); // a pass is remembered
                let seen = done.load(Acquire);
                let second = theirs.try_send(1, 2).map_err(|e| e.kind());
                if seen {
                    assert_eq!(second, Err(ErrorKind::PermissionDenied), "the memo outlived IPC_SET");
                }
                (theirs, u64::from(first) + u64::from(second.is_ok()))
            })
        };
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 64 }).unwrap();
        done.store(true, Release);
        let (theirs, sent) = t.join().unwrap();
        assert_eq!(theirs.try_send(1, 3).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(q.stat().unwrap().qnum, sent);
    });
}

/// The ring growing under a racing lock-free receive. Under loom the ring starts at 2 slots
/// and the queue has room for 8 messages, so the third send finds every slot taken while
/// `msg_qbytes` has room: under the lock it drains the ring, doubles it and moves the
/// messages back, while the receive may pop, find the ring closed (and take the lock), or
/// pop from the grown ring. The receive gets the oldest message, the rest stay in order, the
/// counts are exact, and the queue then holds exactly `msg_qbytes` worth (growing again).
#[test]
fn ring_grows_under_a_racing_receive() {
    bounded(|| {
        let q = queue(64);
        q.try_send(1, 1).unwrap();
        q.try_send(1, 2).unwrap();
        let q2 = q.clone();
        let r = thread::spawn(move || q2.try_recv(Select::Any).ok());
        q.try_send(1, 3).unwrap();
        assert_eq!(r.join().unwrap(), Some((1, 1)));
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (2, 16));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 3));
        assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::NoMessage);
        for v in 0..8 {
            q.try_send(1, v).unwrap();
        }
        assert_eq!(q.try_send(1, 8).unwrap_err().kind(), ErrorKind::WouldBlock);
        for v in 0..8 {
            assert_eq!(q.try_recv(Select::Any).unwrap(), (1, v));
        }
    });
}

/// Two sends racing on a full two-slot ring (under loom) with room for 8 messages: each may
/// be the one that grows the ring, or find it growing (complex mode: the lock) or grown.
/// Neither gets EAGAIN, nothing is lost or counted twice, and the two earlier messages stay
/// first.
#[test]
fn two_sends_race_the_ring_growth() {
    bounded(|| {
        let q = queue(64);
        q.try_send(1, 1).unwrap();
        q.try_send(1, 2).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || q2.try_send(1, 20).map_err(|e| e.kind()));
        q.try_send(1, 30).unwrap();
        assert_eq!(t.join().unwrap(), Ok(()));
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (4, 32));
        let got: Vec<u64> = (0..4).map(|_| q.try_recv(Select::Any).unwrap().1).collect();
        assert!(got == [1, 2, 20, 30] || got == [1, 2, 30, 20], "{got:?}");
        assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::NoMessage);
    });
}
