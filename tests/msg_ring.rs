//! The lock-free ring of a message queue's simple mode (`src/sync/ring.rs`) seen through the
//! public API: the ring grows from 16 slots to 4096 and beyond that the queue goes to
//! complex mode, while the message count stays the kernel's (`msg_qnum < msg_qbytes`, not
//! the ring's size); an awaiting send on a full ring completes at once; `MSG_COPY` and
//! type selection across a grow; `IPC_SET` of `msg_qbytes` with messages in the ring; and
//! SPSC / MPMC runs on a multi-thread runtime with checksums. Sources: msgop(2), msgctl(2),
//! ipc/msg.c. `cargo test --test msg_ring`; under miri `scripts/miri.sh msg_ring`
//! (the counts shrink).
// Runtimes and threads: not for the loom build (loom-tests/ models the ring).
#![cfg(not(loom))]

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

use svipc::msg::MsqidSet;
use svipc::{Credentials, Key, MessageQueue, Namespace, Payload, Process, Select};

/// A payload of size 0 carrying a sequence number: the count limit, not the bytes, fills
/// the queue, and the order is checkable.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Zero(u64);

impl Payload for Zero {
    fn size(&self) -> usize {
        0
    }
}

fn root(ns: &Namespace) -> Process {
    ns.process(Credentials::new(0, 0).with_pid(100))
}

fn queue<T: Payload>(p: &Process, qbytes: u64) -> MessageQueue<T> {
    let q: MessageQueue<T> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
    q
}

fn counts<T: Payload>(q: &MessageQueue<T>) -> (u64, u64, u64) {
    let ds = q.stat().unwrap();
    (ds.qnum, ds.cbytes, ds.qbytes)
}

fn send_errno<T: Payload>(q: &MessageQueue<T>, mtype: i64, msg: T) -> i32 {
    q.try_send(mtype, msg).unwrap_err().error().errno()
}

/// 5000 messages pass the ring's 4096 slots (the queue goes on in complex mode), the count
/// limit is `qbytes` = 16384 messages of size 0, and the order is FIFO throughout.
#[test]
fn growth_past_the_ring_counts_qbytes() {
    // miri: 100 messages still grow the ring 16 -> 32 -> 64 -> 128, capped at qbytes
    let (qbytes, first): (u64, u64) = if cfg!(miri) { (100, 60) } else { (16384, 5000) };
    let ns = Namespace::new();
    let q: MessageQueue<Zero> = queue(&root(&ns), qbytes);
    for i in 0..first {
        q.try_send(1, Zero(i)).unwrap();
    }
    assert_eq!(counts(&q), (first, 0, qbytes));
    // a third of them back, in order
    let taken = first / 3;
    for i in 0..taken {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    assert_eq!(counts(&q), (first - taken, 0, qbytes));
    // fill to the kernel's limit: qbytes messages
    let mut next = first;
    while next - taken < qbytes {
        q.try_send(1, Zero(next)).unwrap();
        next += 1;
    }
    assert_eq!(counts(&q), (qbytes, 0, qbytes));
    assert_eq!(send_errno(&q, 1, Zero(u64::MAX)), libc::EAGAIN);
    assert_eq!(counts(&q), (qbytes, 0, qbytes));
    for i in taken..next {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    assert_eq!(q.try_recv(Select::Any).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(counts(&q), (0, 0, qbytes));
    // and the full count again, from empty
    for i in 0..qbytes {
        q.try_send(1, Zero(i)).unwrap();
    }
    assert_eq!(send_errno(&q, 1, Zero(0)), libc::EAGAIN);
    for i in 0..qbytes {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    assert_eq!(counts(&q), (0, 0, qbytes));
}

/// One-byte messages: the bytes and the count both stop at qbytes.
#[test]
fn growth_with_one_byte_messages() {
    let n: u64 = if cfg!(miri) { 40 } else { 5000 };
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), n);
    for i in 0..n {
        q.try_send(1, vec![i as u8]).unwrap();
    }
    assert_eq!(counts(&q), (n, n, n));
    assert_eq!(send_errno(&q, 1, vec![0]), libc::EAGAIN);
    for i in 0..n {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, vec![i as u8]));
    }
    assert_eq!(counts(&q), (0, 0, n));
}

/// qbytes below the ring's 16 initial slots: EAGAIN at exactly qbytes messages.
#[test]
fn qbytes_below_the_initial_ring() {
    let ns = Namespace::new();
    let q: MessageQueue<Zero> = queue(&root(&ns), 3);
    for i in 0..3 {
        q.try_send(1, Zero(i)).unwrap();
    }
    assert_eq!(send_errno(&q, 1, Zero(3)), libc::EAGAIN);
    assert_eq!(counts(&q), (3, 0, 3));
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(0)));
    q.try_send(1, Zero(3)).unwrap();
    assert_eq!(send_errno(&q, 1, Zero(4)), libc::EAGAIN);
    for i in 1..4 {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    assert_eq!(counts(&q), (0, 0, 3));
    // qbytes 1: one message
    let one: MessageQueue<Zero> = queue(&root(&ns), 1);
    one.try_send(1, Zero(9)).unwrap();
    assert_eq!(send_errno(&one, 1, Zero(10)), libc::EAGAIN);
    assert_eq!(one.try_recv(Select::Any).unwrap(), (1, Zero(9)));
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut f = pin!(f);
    f.as_mut().poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

/// A send on a queue whose ring is full (16, then 32 slots) while qbytes has room does not
/// wait: its first poll completes it, and so does an `.await` on tokio and on the futures
/// executor.
#[test]
fn awaiting_send_on_a_full_ring_completes() {
    let ns = Namespace::new();
    let q: MessageQueue<Zero> = queue(&root(&ns), 1000);
    for i in 0..16 {
        q.try_send(1, Zero(i)).unwrap();
    }
    assert!(matches!(poll_once(q.send(1, Zero(16))), Poll::Ready(Ok(()))));
    for i in 17..32 {
        q.try_send(1, Zero(i)).unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), q.send(1, Zero(32))).await.unwrap().unwrap();
    });
    for i in 33..64 {
        q.try_send(1, Zero(i)).unwrap();
    }
    futures::executor::block_on(q.send(1, Zero(64))).unwrap();
    assert_eq!(counts(&q), (65, 0, 1000));
    for i in 0..65 {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    // the same on a multi-thread runtime, a new queue
    let q: MessageQueue<Zero> = queue(&root(&ns), 1000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    rt.block_on(async {
        for i in 0..40 {
            tokio::time::timeout(std::time::Duration::from_secs(10), q.send(1, Zero(i)))
                .await
                .unwrap()
                .unwrap();
        }
    });
    assert_eq!(counts(&q), (40, 0, 1000));
    for i in 0..40 {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
}

/// `MSG_COPY` by index and receives by type across a grow (16 -> 32 slots, one type in the
/// ring), then with a second type (complex mode).
#[test]
fn peek_and_type_selection_across_a_grow() {
    let ns = Namespace::new();
    let q: MessageQueue<Zero> = queue(&root(&ns), 1000);
    for i in 0..20 {
        q.try_send(1, Zero(i)).unwrap();
    }
    for i in 0..20 {
        assert_eq!(q.peek(i as usize).unwrap(), (1, Zero(i)));
    }
    assert_eq!(q.peek(20).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::Type(2)).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::Except(1)).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::Except(2)).unwrap(), (1, Zero(0)));
    assert_eq!(q.try_recv(Select::Type(1)).unwrap(), (1, Zero(1)));
    assert_eq!(q.try_recv(Select::AtMost(1)).unwrap(), (1, Zero(2)));
    assert_eq!(q.peek(0).unwrap(), (1, Zero(3)));
    assert_eq!(q.peek(16).unwrap(), (1, Zero(19)));
    assert_eq!(counts(&q), (17, 0, 1000));
    // grow again (past 32) and add another type
    for i in 20..40 {
        q.try_send(1, Zero(i)).unwrap();
    }
    q.try_send(2, Zero(100)).unwrap();
    q.try_send(1, Zero(40)).unwrap();
    assert_eq!(q.peek(36).unwrap(), (1, Zero(39)));
    assert_eq!(q.peek(37).unwrap(), (2, Zero(100)));
    assert_eq!(q.peek(38).unwrap(), (1, Zero(40)));
    assert_eq!(q.peek(39).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::Type(2)).unwrap(), (2, Zero(100)));
    assert_eq!(q.try_recv(Select::Except(1)).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::Except(3)).unwrap(), (1, Zero(3)));
    for i in 4..41 {
        assert_eq!(q.try_recv(Select::Type(1)).unwrap(), (1, Zero(i)));
    }
    assert_eq!(counts(&q), (0, 0, 1000));
    // back to one type: the order holds through another fill and drain
    for i in 0..50 {
        q.try_send(3, Zero(i)).unwrap();
    }
    assert_eq!(q.peek(49).unwrap(), (3, Zero(49)));
    for i in 0..50 {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (3, Zero(i)));
    }
}

fn set_qbytes<T: Payload>(q: &MessageQueue<T>, qbytes: u64) {
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
}

/// `IPC_SET` lowering qbytes below the messages in the ring and raising it past the ring's
/// size: the counts stay exact and EAGAIN comes at the new limit.
#[test]
fn ipc_set_qbytes_with_messages_in_the_ring() {
    let ns = Namespace::new();
    let q: MessageQueue<Zero> = queue(&root(&ns), 1000);
    for i in 0..20 {
        q.try_send(1, Zero(i)).unwrap();
    }
    set_qbytes(&q, 10);
    assert_eq!(counts(&q), (20, 0, 10));
    assert_eq!(send_errno(&q, 1, Zero(99)), libc::EAGAIN);
    for i in 0..10 {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    assert_eq!(counts(&q), (10, 0, 10));
    assert_eq!(send_errno(&q, 1, Zero(99)), libc::EAGAIN);
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(10)));
    q.try_send(1, Zero(20)).unwrap();
    assert_eq!(send_errno(&q, 1, Zero(99)), libc::EAGAIN);
    assert_eq!(counts(&q), (10, 0, 10));
    // raise past the ring's 32 slots
    set_qbytes(&q, 70);
    assert_eq!(counts(&q), (10, 0, 70));
    for i in 21..81 {
        q.try_send(1, Zero(i)).unwrap();
    }
    assert_eq!(counts(&q), (70, 0, 70));
    assert_eq!(send_errno(&q, 1, Zero(99)), libc::EAGAIN);
    // lower again to exactly the count
    set_qbytes(&q, 70);
    assert_eq!(send_errno(&q, 1, Zero(99)), libc::EAGAIN);
    set_qbytes(&q, 71);
    q.try_send(1, Zero(81)).unwrap();
    assert_eq!(send_errno(&q, 1, Zero(99)), libc::EAGAIN);
    for i in 11..82 {
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, Zero(i)));
    }
    assert_eq!(counts(&q), (0, 0, 71));
}

/// `producers` tasks send `total` messages (u64, 8 bytes each: qbytes 512 holds 64) and
/// `consumers` tasks receive them, on a 2-worker runtime: every message exactly once, each
/// producer's in order at each consumer, the sums equal.
fn run(producers: u64, consumers: u64, total: u64) {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 512);
    let per = total / producers;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let got: Vec<Vec<u64>> = rt.block_on(async {
        let claimed = Arc::new(AtomicU64::new(0));
        let mut tx = Vec::new();
        for p in 0..producers {
            let q = q.clone();
            tx.push(tokio::spawn(async move {
                for i in 0..per {
                    q.send(1, p << 32 | i).await.unwrap();
                }
            }));
        }
        let mut rx = Vec::new();
        for _ in 0..consumers {
            let (q, claimed) = (q.clone(), claimed.clone());
            rx.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while claimed.fetch_add(1, SeqCst) < per * producers {
                    let (mtype, v) = q.recv(Select::Any).await.unwrap();
                    assert_eq!(mtype, 1);
                    got.push(v);
                }
                got
            }));
        }
        for t in tx {
            t.await.unwrap();
        }
        let mut got = Vec::new();
        for t in rx {
            got.push(t.await.unwrap());
        }
        got
    });
    let mut seen = HashSet::new();
    let mut sum = 0u64;
    for list in &got {
        let mut last = vec![None::<u64>; producers as usize];
        for &v in list {
            let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert!(last[p].is_none_or(|l| l < i), "producer {p}'s messages out of order");
            last[p] = Some(i);
            assert!(seen.insert(v), "message {v:#x} received twice");
            sum = sum.wrapping_add(v);
        }
    }
    let want: u64 = (0..producers).flat_map(|p| (0..per).map(move |i| p << 32 | i)).sum();
    assert_eq!((seen.len() as u64, sum), (per * producers, want));
    assert_eq!(counts(&q), (0, 0, 512));
}

#[test]
fn spsc_multi_thread() {
    run(1, 1, if cfg!(miri) { 200 } else { 50_000 });
}

#[test]
fn mpmc_multi_thread() {
    run(3, 3, if cfg!(miri) { 150 } else { 50_000 });
}
