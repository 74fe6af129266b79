//! Which waiting senders a freed message wakes: as many as the free room takes, oldest
//! first, and a woken sender that does not use its room passes the wake-up on (the `msg`
//! module docs, "Waking senders"); which waiting receivers a send wakes: the oldest one that
//! takes the message, handed it directly. Each future is polled by hand with a waker that
//! counts its wake-ups, so the tests see exactly which tasks were woken. With the `counters`
//! feature, the last tests check that a loaded queue leaves the locked mode once no receiver
//! waits that needs it (no lock per message afterwards), and that receivers of any message
//! waiting in turn cost no lock of the queue's.
//!
//! The tests that pin counts (feature `counters`) read process-wide counters, so CI runs
//! this file with `--test-threads=1`: another test's locks would land in their window.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use svipc::msg::MsqidSet;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Select};

fn queue(qbytes: u64) -> MessageQueue<u64> {
    let me = Namespace::new().process(Credentials::new(0, 0));
    let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
    q
}

/// A waker that counts how often it was woken.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future with its own counting waker.
struct Task<F> {
    fut: Pin<Box<F>>,
    wakes: Arc<Counter>,
}

impl<F: Future> Task<F> {
    fn new(fut: F) -> Self {
        Task { fut: Box::pin(fut), wakes: Arc::default() }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        let waker = Waker::from(Arc::clone(&self.wakes));
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }

    fn woken(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }
}

impl<F: Future<Output = Result<V, svipc::Error>>, V> Task<F> {
    /// The error kind it completes with now, if it does.
    fn poll_err(&mut self) -> Option<ErrorKind> {
        match self.poll() {
            Poll::Ready(Err(e)) => Some(e.kind()),
            _ => None,
        }
    }
}

#[test]
fn smoke() {
    let q = queue(8);
    q.try_send(1, 1).unwrap();
    let mut s = Task::new(q.send(1, 2));
    assert!(s.poll().is_pending());
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
    assert_eq!(s.woken(), 1);
    assert!(s.poll().is_ready());
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
}

#[test]
fn one_freed_message_wakes_one_sender_the_oldest() {
    let q = queue(8);
    q.try_send(1, 0).unwrap();
    let mut senders: Vec<_> = (1..=4).map(|v| Task::new(q.send(1, v))).collect();
    for s in &mut senders {
        assert!(s.poll().is_pending());
    }
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 0));
    let woken: Vec<_> = senders.iter().map(Task::woken).collect();
    assert_eq!(woken, [1, 0, 0, 0], "the kernel would wake all four; one fits");
    assert!(matches!(senders[0].poll(), Poll::Ready(Ok(()))));
    // The next freed message wakes the next sender.
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
    let woken: Vec<_> = senders.iter().map(Task::woken).collect();
    assert_eq!(woken, [1, 1, 0, 0]);
    assert!(matches!(senders[1].poll(), Poll::Ready(Ok(()))));
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
}

#[test]
fn room_freed_while_a_woken_sender_is_on_its_way_goes_on_when_it_runs() {
    let q = queue(16);
    q.try_send(1, 0).unwrap();
    q.try_send(1, 1).unwrap();
    let mut a = Task::new(q.send(1, 10));
    let mut b = Task::new(q.send(1, 20));
    let mut c = Task::new(q.send(1, 30));
    for s in [&mut a, &mut b, &mut c] {
        assert!(s.poll().is_pending());
    }
    q.try_recv(Select::Any).unwrap();
    q.try_recv(Select::Any).unwrap();
    // The second receive found a woken sender on its way and woke nobody else.
    assert_eq!((a.woken(), b.woken(), c.woken()), (1, 0, 0));
    assert!(a.poll().is_ready());
    // A passed on the second message's room: B, and only B.
    assert_eq!((b.woken(), c.woken()), (1, 0));
    assert!(b.poll().is_ready());
    assert!(c.poll().is_pending());
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (2, 16));
}

#[test]
fn dropped_woken_sender_wakes_the_next() {
    let q = queue(8);
    q.try_send(1, 0).unwrap();
    let mut a = Task::new(q.send(1, 10));
    let mut b = Task::new(q.send(1, 20));
    assert!(a.poll().is_pending() && b.poll().is_pending());
    q.try_recv(Select::Any).unwrap();
    assert_eq!((a.woken(), b.woken()), (1, 0));
    drop(a);
    assert_eq!(b.woken(), 1);
    assert!(b.poll().is_ready());
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 20));
}

#[test]
fn woken_sender_that_lost_its_room_waits_and_wakes_one_that_fits() {
    // Vec payloads of different sizes: the woken sender (8 bytes) loses its room to a
    // newer sender; the 3-byte one behind it fits what is left and must be woken.
    let me = Namespace::new().process(Credentials::new(0, 0));
    let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 10 }).unwrap();
    q.try_send(1, vec![0; 10]).unwrap();
    let mut big = Task::new(q.send(1, vec![0; 8]));
    let mut small = Task::new(q.send(1, vec![0; 3]));
    assert!(big.poll().is_pending() && small.poll().is_pending());
    q.try_recv(Select::Any).unwrap();
    assert_eq!((big.woken(), small.woken()), (1, 0), "8 + 3 > 10: one promise");
    q.try_send(2, vec![0; 4]).unwrap();
    assert!(big.poll().is_pending());
    assert_eq!(small.woken(), 1);
    assert!(small.poll().is_ready());
    assert_eq!(q.stat().unwrap().cbytes, 7);
}

#[test]
fn ipc_nowait_send_still_fails_on_a_full_queue_while_a_sender_is_woken() {
    let q = queue(8);
    q.try_send(1, 0).unwrap();
    let mut a = Task::new(q.send(1, 10));
    assert!(a.poll().is_pending());
    q.try_recv(Select::Any).unwrap();
    // A newer sender may pass the woken one (as in the kernel): it takes the room.
    q.try_send(1, 99).unwrap();
    assert_eq!(q.try_send(1, 98).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(a.poll().is_pending());
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 99));
    assert_eq!(a.woken(), 2);
    assert!(a.poll().is_ready());
}

/// A receiver that waited put the queue in the locked mode; once it is gone and the
/// messages are of one type, the queue runs without the lock again, backlog and all — after
/// its locked operations have paid for moving the backlog: at most 64 locked passes per
/// queued message (`PASSES_PER_MOVED_MESSAGE` in the engine), never one move per operation.
#[cfg(feature = "counters")]
#[test]
fn loaded_queue_leaves_the_locked_mode_once_no_receiver_waits() {
    use svipc::counters::{self, Event};

    let q = queue(8192);
    for v in 0..100 {
        q.try_send(1, v).unwrap();
    }
    {
        let mut r = Task::new(q.recv(Select::Type(2)));
        assert!(r.poll().is_pending());
    }
    // The backlog stays at 100-101 messages: each pair is a send and a receive.
    let start = counters::snapshot();
    let mut next = 0;
    for v in 100..5000 {
        q.try_send(1, v).unwrap();
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, next));
        next += 1;
    }
    let transition = counters::snapshot().since(&start);
    // Every pass of the transition counted; the switch comes once they reach 64 per message.
    assert!(transition.get(Event::MsgLock) <= 64 * 101 + 1, "{transition:?}");
    assert_eq!(transition.get(Event::MsgToLockFree), 1, "{transition:?}");
    let before = counters::snapshot();
    // ... and from then on no send or receive takes the lock.
    for v in 5000..6000 {
        q.try_send(1, v).unwrap();
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, next));
        next += 1;
    }
    let d = counters::snapshot().since(&before);
    assert_eq!(d.get(Event::MsgLock), 0);
    assert_eq!(q.stat().unwrap().qnum, 100);
}

/// Receivers of any message wait without putting the queue in its locked mode, and a send
/// still hands its message to the oldest of them directly (`pipelined_send`): it never
/// enters the queue, and the next send goes to the next receiver.
#[test]
fn waiting_receivers_of_any_message_are_handed_messages_oldest_first() {
    let q = queue(64);
    let mut a = Task::new(q.recv(Select::Any));
    let mut b = Task::new(q.recv(Select::Any));
    assert!(a.poll().is_pending() && b.poll().is_pending());
    q.try_send(1, 10).unwrap();
    assert_eq!((a.woken(), b.woken()), (1, 0));
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (0, 0), "handed off, never queued");
    assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::NoMessage);
    q.try_send(3, 20).unwrap();
    assert_eq!((a.woken(), b.woken()), (1, 1));
    assert!(matches!(b.poll(), Poll::Ready(Ok((3, 20)))));
    assert!(matches!(a.poll(), Poll::Ready(Ok((1, 10)))));
    q.try_send(1, 30).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 1, "nobody waits: queued");
}

/// A receiver of any message that was handed one and is dropped before it returned it puts
/// it back at its place: before the messages sent after it.
#[test]
fn dropped_waiting_receiver_of_any_message_puts_it_back_first() {
    let q = queue(64);
    let mut a = Task::new(q.recv(Select::Any));
    assert!(a.poll().is_pending());
    q.try_send(1, 7).unwrap(); // handed to a
    q.try_send(1, 8).unwrap(); // queued
    q.try_send(1, 9).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 2);
    drop(a);
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (3, 24));
    let order: Vec<_> = (0..3).map(|_| q.try_recv(Select::Any).unwrap().1).collect();
    assert_eq!(order, [7, 8, 9]);
}

/// A receiver that needs the locked mode (a type selector) arriving behind receivers of any
/// message: the next message goes to the oldest receiver that matches, whatever the mode.
#[test]
fn selective_receiver_behind_receivers_of_any_message() {
    let q = queue(64);
    let mut any = Task::new(q.recv(Select::Any));
    let mut two = Task::new(q.recv(Select::Type(2)));
    assert!(any.poll().is_pending() && two.poll().is_pending());
    q.try_send(2, 1).unwrap();
    assert_eq!((any.woken(), two.woken()), (1, 0));
    q.try_send(2, 2).unwrap();
    assert_eq!(two.woken(), 1);
    assert!(matches!(any.poll(), Poll::Ready(Ok((2, 1)))));
    assert!(matches!(two.poll(), Poll::Ready(Ok((2, 2)))));
    assert_eq!(q.stat().unwrap().qnum, 0);
}

/// The arrival order holds across the two kinds of receiver: an older receiver with a
/// type selector or a size limit is offered a message before a younger receiver of any
/// message (a too-small one fails with `E2BIG` first, as in `pipelined_send`), and a
/// younger one is not offered it at all.
#[test]
fn arrival_order_across_selective_and_any_receivers() {
    let me = Namespace::new().process(Credentials::new(0, 0));
    let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let mut small = Task::new(q.recv_limited(Select::Any, svipc::msg::Limit::bytes(2)));
    let mut two = Task::new(q.recv(Select::Type(2)));
    let mut any = Task::new(q.recv(Select::Any));
    let mut small_late = Task::new(q.recv_limited(Select::Any, svipc::msg::Limit::bytes(2)));
    assert!(small.poll().is_pending());
    assert!(two.poll().is_pending());
    assert!(any.poll().is_pending());
    assert!(small_late.poll().is_pending());
    q.try_send(2, vec![0; 4]).unwrap();
    assert_eq!((small.woken(), two.woken(), any.woken(), small_late.woken()), (1, 1, 0, 0));
    assert_eq!(small.poll_err(), Some(ErrorKind::TooBig));
    assert!(matches!(two.poll(), Poll::Ready(Ok((2, ref v))) if v.len() == 4));
    q.try_send(1, vec![0; 4]).unwrap();
    assert_eq!((any.woken(), small_late.woken()), (1, 0), "the oldest takes it; no E2BIG behind it");
    assert!(matches!(any.poll(), Poll::Ready(Ok((1, _)))));
    assert!(small_late.poll().is_pending());
    assert_eq!(q.stat().unwrap().qnum, 0);
}

/// Four receivers of any message waiting in turn and a producer (issue 12's MPMC steady
/// state, made deterministic): each send hands its message to the oldest waiting receiver,
/// which takes it from the mailbox and waits again. The queue's lock is never taken: the
/// hand-off and the new registration take the receivers' lock once each.
#[cfg(feature = "counters")]
#[test]
fn waiting_receivers_of_any_message_take_no_queue_lock() {
    use svipc::counters::{self, Event};

    let q = queue(8192);
    let mut waiting: std::collections::VecDeque<_> = (0..4).map(|_| Task::new(q.recv(Select::Any))).collect();
    for r in &mut waiting {
        assert!(r.poll().is_pending());
    }
    let before = counters::snapshot();
    for v in 0..1000 {
        q.try_send(1, v).unwrap();
        let mut oldest = waiting.pop_front().unwrap();
        assert_eq!(oldest.woken(), 1);
        assert!(matches!(oldest.poll(), Poll::Ready(Ok((1, got))) if got == v));
        let mut again = Task::new(q.recv(Select::Any));
        assert!(again.poll().is_pending());
        waiting.push_back(again);
    }
    let d = counters::snapshot().since(&before);
    assert_eq!(d.get(Event::MsgLock), 0, "{d:?}");
    assert_eq!(d.get(Event::MsgToLocked), 0, "{d:?}");
    assert_eq!(d.get(Event::MsgHandoff), 1000, "{d:?}");
    assert_eq!(d.get(Event::MsgLockWaiting), 2000, "{d:?}");
    assert_eq!(d.get(Event::MsgWait), 1000, "{d:?}");
    assert_eq!(q.stat().unwrap().qnum, 0);
}

/// The driver for instruction counts (BENCHMARKS.md, "Message queues under contention"):
/// one of the two-worker bench shapes of `benches/msg.rs`, on a current-thread runtime (so
/// a run is the same sequence of polls every time) or on `MSG_WORKERS` workers, and checks
/// what came out. `MSG_DRIVER` is `spsc`, `mpsc` (4:1), `mpmc` (4x4), `ping` (round trips,
/// `Type(1)` out, `Type(2)` back) or `behind` (`try_send` + `try_recv(Type(1))` behind 100
/// messages of type 2); `MSG_OPS` messages (default 100,000). Instructions per message are
/// the difference of two runs' counts over the difference of their `MSG_OPS`:
///
/// ```console
/// cargo test --release --test msg_wakeup --no-run
/// MSG_DRIVER=spsc MSG_OPS=50000 valgrind --tool=callgrind target/release/deps/msg_wakeup-<hash> --ignored --exact driver
/// ```
#[test]
#[ignore = "a driver for valgrind --tool=callgrind, run by hand"]
fn driver() {
    let shape = std::env::var("MSG_DRIVER").unwrap_or_else(|_| "spsc".into());
    let ops: u64 = std::env::var("MSG_OPS").map_or(100_000, |v| v.parse().unwrap());
    let workers: usize = std::env::var("MSG_WORKERS").map_or(0, |v| v.parse().unwrap());
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).build().unwrap()
    };
    let q = queue(1024 * 8);
    let sum = match shape.as_str() {
        "spsc" => rt.block_on(flow(&q, 1, 1, ops)),
        "mpsc" => rt.block_on(flow(&q, 4, 1, ops)),
        "mpmc" => rt.block_on(flow(&q, 4, 4, ops)),
        "ping" => rt.block_on(async {
            let echo = q.clone();
            let h = tokio::spawn(async move {
                for _ in 0..ops {
                    let (_, v) = echo.recv(Select::Type(1)).await.unwrap();
                    echo.send(2, v).await.unwrap();
                }
            });
            let mut sum = 0;
            for v in 0..ops {
                q.send(1, v).await.unwrap();
                sum += q.recv(Select::Type(2)).await.unwrap().1;
            }
            h.await.unwrap();
            sum
        }),
        "behind" => {
            for v in 0..100 {
                q.try_send(2, v).unwrap();
            }
            let mut sum = 0;
            for v in 0..ops {
                q.try_send(1, v).unwrap();
                sum += q.try_recv(Select::Type(1)).unwrap().1;
            }
            assert_eq!(q.stat().unwrap().qnum, 100);
            sum
        }
        other => panic!("MSG_DRIVER: unknown shape {other:?}"),
    };
    assert_eq!(sum, ops * (ops - 1) / 2, "{shape}: every message once");
}

/// `p` producers and `c` consumers (`ops` a multiple of both), `Select::Any`: the sum of
/// the values received (each producer sends `0..ops / p`, offset so the values are
/// `0..ops` in all).
async fn flow(q: &MessageQueue<u64>, p: u64, c: u64, ops: u64) -> u64 {
    let mut hs = Vec::new();
    for i in 0..p {
        let q = q.clone();
        hs.push(tokio::spawn(async move {
            for v in 0..ops / p {
                q.send(1, i * (ops / p) + v).await.unwrap();
            }
            0
        }));
    }
    for _ in 0..c {
        let q = q.clone();
        hs.push(tokio::spawn(async move {
            let mut sum = 0;
            for _ in 0..ops / c {
                sum += q.recv(Select::Any).await.unwrap().1;
            }
            sum
        }));
    }
    let mut sum = 0;
    for h in hs {
        sum += h.await.unwrap();
    }
    sum
}
