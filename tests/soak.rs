//! Soak: dozens of tasks on a multi-thread runtime drive all three mechanisms at once for a
//! given time, with random cancellation and removal mid-flight, then check conservation
//! exactly and print operations per second.
//!
//! ```console
//! cargo test --release --test soak -- --ignored --nocapture                       # 60 s
//! SVIPC_SOAK_SECS=600 nice cargo test --release --test soak -- --ignored --nocapture  # the long run
//! SVIPC_SOAK_SECS=5 cargo test --test soak -- --ignored --nocapture               # what CI runs
//! ```
//!
//! `SVIPC_SOAK_SECS` is the duration (default 60); `SVIPC_SOAK_SEED` (hex) is the seed every
//! task's generator derives from, printed by each run. A run cannot be replayed exactly: the
//! schedule decides which task draws which derived seed.
//! `smoke` (not ignored) runs the same machinery for a fraction of a second in every
//! `cargo test`, so the soak cannot rot between long runs.
//!
//! Each mechanism runs in epochs: objects are created, tasks hammer them, and the epoch ends
//! either gracefully or by a removal mid-flight, then checks what the tasks recorded:
//!
//! * **Message queues** (`u64`, `Vec<u8>` and `String` payloads): producers send uniquely
//!   numbered messages (`send`, `try_send`, `reserve` + `Permit::send`, `send_timeout`, the
//!   `Sink`), consumers receive with random selectors (`recv`, `try_recv`, the `Stream`,
//!   `recv_timeout`), most calls cancelled at random (dropped after one poll, or by
//!   `tokio::time::timeout`). A message counts as sent only when its call said so. At a
//!   graceful end the queue is drained; at a removal the producers stop, the consumers park
//!   on a type nobody sends (with a sender parked on `reserve`), the queue is then
//!   quiescent and its messages are listed with `peek` before `IPC_RMID`. Either way every
//!   message sent was received exactly once, or is in the drained or the listed set — an
//!   equality of id sets, not a bound — and the parked waiters see `EIDRM`, later calls
//!   `EINVAL`.
//! * **Semaphore sets**: transfers (`{a, -k}, {b, +k}`, conserving the sum whether performed,
//!   cancelled or inverted), counted increments and decrements (a cancelled decrement has no
//!   effect: its inverse, an increment, always applies), wait-for-zero, `acquire_many`
//!   guards held across awaits; and `SEM_UNDO` actors that exit mid-way holding units, which
//!   their exit gives back. At the end the transfer set's sum is its start plus the counted
//!   changes, the undo set is back at its start exactly, `GETNCNT`/`GETZCNT` are 0. A third
//!   set is removed under parked waiters (`EIDRM`, then `EINVAL`).
//! * **Shared memory**: workers attach and detach (read-write and read-only), move guards to
//!   each other through channels, bump their own counter through the write views, the
//!   copying forms and an atomic view, and read them back; `IPC_RMID` comes while attached.
//!   At the end the counters are what the workers did, `nattch` is exactly the driver's one
//!   guard, and after it drops the segment is gone from the listing.
//!
//! The namespace is empty at the end (`ipcs`, `SHM_INFO`, `MSG_INFO`, `SEM_INFO`).
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engines).
#![cfg(not(loom))]

mod rng;

use rng::Rng;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::{Sink, StreamExt};
use svipc::msg::MsqidSet;
use svipc::msg::{RecvStream, SendSink};
use svipc::shm::{Attached, AttachedMut};
use svipc::{
    Credentials, Error, ErrorKind, IpcKind, Key, MessageQueue, Namespace, Payload, Process, Select, SemOp,
    SemaphoreSet,
};

// ===== shared pieces =====

/// What every driver shares: the namespace, the clock, the counters printed at the end.
struct Ctx {
    ns: Namespace,
    deadline: Instant,
    seed: u64,
    next_seed: AtomicU64,
    next_pid: AtomicI32,
    next_msg: AtomicU64,
    msg: MsgStats,
    sem: SemStats,
    shm: ShmStats,
}

#[derive(Default)]
struct MsgStats {
    ops: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
    drained: AtomicU64,
    removed_with_queue: AtomicU64,
    epochs: AtomicU64,
    removals: AtomicU64,
    eidrm: AtomicU64,
}

#[derive(Default)]
struct SemStats {
    ops: AtomicU64,
    epochs: AtomicU64,
    undo_exits: AtomicU64,
    eidrm: AtomicU64,
}

#[derive(Default)]
struct ShmStats {
    ops: AtomicU64,
    epochs: AtomicU64,
    removals: AtomicU64,
    moved: AtomicU64,
}

impl Ctx {
    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// A seed for one more task.
    fn rng(&self) -> Rng {
        Rng::new(self.seed ^ self.next_seed.fetch_add(1, Relaxed).wrapping_mul(0x1000_0000_01b3))
    }

    /// A new actor with a pid of its own (uid/gid 1000: every object is made 0600 by one).
    fn process(&self) -> Process {
        self.ns.process(Credentials::new(1000, 1000).with_pid(self.next_pid.fetch_add(1, Relaxed)))
    }
}

/// Polls `f` once; drops it (a cancellation) if it is not ready then.
async fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    std::future::poll_fn(|cx| {
        Poll::Ready(match f.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

/// Runs `f` to completion or cancels it: after one poll, after a few microseconds, or after
/// a few milliseconds. `None` means it was cancelled (dropped before completing).
async fn cancellable<F: Future>(rng: &mut Rng, f: F) -> Option<F::Output> {
    match rng.below(4) {
        0 => poll_once(f).await,
        1 => tokio::time::timeout(rng.micros(200), f).await.ok(),
        _ => tokio::time::timeout(Duration::from_millis(1 + rng.below(5)), f).await.ok(),
    }
}

/// An epoch's length.
fn epoch_len(rng: &mut Rng, short: bool) -> Duration {
    if short {
        Duration::from_millis(5 + rng.below(20))
    } else {
        Duration::from_millis(20 + rng.below(280))
    }
}

fn kind<T>(r: Result<T, Error>) -> ErrorKind {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

// ===== message queues =====

const TYPES: u64 = 8;
/// The type the parked receivers wait for: no producer ever sends it.
const PARK_TYPE: i64 = 1000;

/// Producers stop; consumers go on (so producers' waits can complete).
const RUN: u8 = 0;
const STOP_PRODUCERS: u8 = 1;
/// Consumers return (graceful end).
const STOP_CONSUMERS: u8 = 2;
/// Consumers park on `PARK_TYPE` (removal).
const PARK: u8 = 3;

/// A payload that carries its id (and is checked whole on receipt).
trait Item: Payload + Clone + PartialEq + std::fmt::Debug + Sync {
    fn make(id: u64) -> Self;
    fn id(&self) -> u64;
}

impl Item for u64 {
    fn make(id: u64) -> u64 {
        id
    }

    fn id(&self) -> u64 {
        *self
    }
}

impl Item for Vec<u8> {
    fn make(id: u64) -> Vec<u8> {
        let mut v = id.to_le_bytes().to_vec();
        v.resize(8 + (id >> 4) as usize % 41, id as u8);
        v
    }

    fn id(&self) -> u64 {
        u64::from_le_bytes(self[..8].try_into().unwrap())
    }
}

impl Item for String {
    fn make(id: u64) -> String {
        format!("{id}:{}", "é".repeat((id >> 4) as usize % 13))
    }

    fn id(&self) -> u64 {
        self.split(':').next().unwrap().parse().unwrap()
    }
}

/// A fresh message id carrying its type in the low four bits, so a receiver can check the
/// type travelled with it.
fn new_id(ctx: &Ctx, mtype: i64) -> u64 {
    (ctx.next_msg.fetch_add(1, Relaxed) << 4) | mtype as u64
}

fn random_type(rng: &mut Rng) -> i64 {
    1 + rng.below(TYPES) as i64
}

fn random_select(rng: &mut Rng) -> Select {
    let t = random_type(rng);
    match rng.below(5) {
        0 | 1 => Select::Any,
        2 => Select::Type(t),
        3 => Select::Except(t),
        _ => Select::AtMost(t),
    }
}

fn matches(select: Select, mtype: i64) -> bool {
    match select {
        Select::Any => true,
        Select::Type(t) => mtype == t,
        Select::Except(t) => mtype != t,
        Select::AtMost(t) => mtype <= t,
    }
}

/// Sends until told to stop; returns the ids whose sends reported success.
async fn producer<T: Item>(ctx: Arc<Ctx>, q: MessageQueue<T>, state: Arc<AtomicU8>) -> Vec<u64> {
    let mut rng = ctx.rng();
    let mut acked = Vec::new();
    let mut sink: Option<(i64, SendSink<T>)> = None;
    while state.load(SeqCst) == RUN {
        let mtype = random_type(&mut rng);
        let id = new_id(&ctx, mtype);
        let msg = T::make(id);
        let sent = match rng.below(6) {
            0 => cancellable(&mut rng, q.send(mtype, msg)).await.map(|r| r.unwrap()).is_some(),
            1 => match q.try_send(mtype, msg) {
                Ok(()) => true,
                Err(e) => {
                    assert_eq!((e.kind(), e.into_inner().id()), (ErrorKind::WouldBlock, id));
                    false
                }
            },
            2 => match cancellable(&mut rng, q.reserve(mtype, msg.size())).await {
                Some(permit) => {
                    let permit = permit.unwrap();
                    assert_eq!((permit.mtype(), permit.size()), (mtype, msg.size()));
                    if rng.below(8) == 0 {
                        drop(permit); // gives the room back unused
                        false
                    } else {
                        permit.send(msg).map_err(|e| e.kind()).unwrap();
                        true
                    }
                }
                None => false,
            },
            3 => match q.send_timeout(mtype, msg, rng.micros(2000)).await {
                Ok(()) => true,
                Err(e) => {
                    assert!(e.is_timeout(), "{e:?}");
                    assert_eq!(e.into_inner().id(), id);
                    false
                }
            },
            4 => {
                // the Sink, whose type is fixed: the id takes the sink's type
                let (st, s) = sink.get_or_insert_with(|| {
                    let st = random_type(&mut rng);
                    (st, q.sink(st))
                });
                let id = new_id(&ctx, *st);
                // nothing is buffered between items (each one is flushed or the sink dropped)
                let mut s = Pin::new(s);
                std::future::poll_fn(|cx| s.as_mut().poll_ready(cx)).await.map_err(|e| e.kind()).unwrap();
                s.as_mut().start_send(T::make(id)).map_err(|e| e.kind()).unwrap();
                let mut flushed = false;
                loop {
                    let flush = std::future::poll_fn(|cx| s.as_mut().poll_flush(cx));
                    match cancellable(&mut rng, flush).await {
                        Some(r) => {
                            r.map_err(|e| e.kind()).unwrap();
                            flushed = true;
                            break;
                        }
                        None if state.load(SeqCst) != RUN || rng.below(3) == 0 => break,
                        None => continue,
                    }
                }
                if flushed {
                    acked.push(id);
                    ctx.msg.ops.fetch_add(1, Relaxed);
                } else {
                    // dropping the sink with the item buffered drops the item unsent
                    sink = None;
                }
                if rng.below(16) == 0 {
                    sink = None;
                }
                continue;
            }
            _ => tokio::time::timeout(Duration::from_millis(20), q.send(mtype, msg))
                .await
                .map(|r| r.unwrap())
                .is_ok(),
        };
        if sent {
            acked.push(id);
            ctx.msg.ops.fetch_add(1, Relaxed);
        }
        if rng.below(32) == 0 {
            tokio::task::yield_now().await;
        }
    }
    acked
}

fn check_received<T: Item>(select: Select, mtype: i64, m: &T) -> u64 {
    let id = m.id();
    assert!(matches(select, mtype), "{select:?} returned type {mtype}");
    assert_eq!(mtype, (id & 0xf) as i64, "the type travels with message {id}");
    assert_eq!(*m, T::make(id), "payload of message {id} intact");
    id
}

/// Receives until told to stop or park; returns the ids received.
async fn consumer<T: Item>(
    ctx: Arc<Ctx>,
    q: MessageQueue<T>,
    state: Arc<AtomicU8>,
    parked: tokio::sync::mpsc::UnboundedSender<()>,
) -> Vec<u64> {
    let mut rng = ctx.rng();
    let mut got = Vec::new();
    let mut stream: Option<(Select, RecvStream<T>)> = None;
    loop {
        match state.load(SeqCst) {
            STOP_CONSUMERS => break,
            PARK => {
                drop(stream.take()); // cancel-safe: a message it held goes back
                park(&ctx, &q, rng.below(2) == 0, &parked).await;
                break;
            }
            _ => {}
        }
        let mut select = random_select(&mut rng);
        let r = match rng.below(5) {
            0 => cancellable(&mut rng, q.recv(select)).await,
            1 => match q.try_recv(select) {
                Err(e) if e.kind() == ErrorKind::NoMessage => None,
                r => Some(r),
            },
            2 => {
                let (sel, st) = stream.get_or_insert_with(|| (select, q.stream(select)));
                select = *sel;
                let r = cancellable(&mut rng, st.next()).await.map(|item| item.expect("the stream goes on"));
                if rng.below(8) == 0 {
                    stream = None;
                }
                r
            }
            3 => match q.recv_timeout(select, rng.micros(2000)).await {
                Err(e) if e.is_timeout() => None,
                r => Some(r),
            },
            _ => tokio::time::timeout(Duration::from_millis(20), q.recv(select)).await.ok(),
        };
        if let Some(r) = r {
            let (mtype, m) = r.unwrap();
            got.push(check_received(select, mtype, &m));
            ctx.msg.ops.fetch_add(1, Relaxed);
        }
        if rng.below(32) == 0 {
            tokio::task::yield_now().await;
        }
    }
    got
}

/// Waits for `PARK_TYPE` (which never comes) until the queue is removed: registered first,
/// then reported parked, then `EIDRM` (a stream: its end); afterwards every call is `EINVAL`.
async fn park<T: Item>(
    ctx: &Ctx,
    q: &MessageQueue<T>,
    use_stream: bool,
    parked: &tokio::sync::mpsc::UnboundedSender<()>,
) {
    if use_stream {
        let mut st = q.stream(Select::Type(PARK_TYPE));
        assert!(poll_once(st.next()).await.is_none(), "nothing of type {PARK_TYPE} is ever sent");
        parked.send(()).unwrap();
        assert!(st.next().await.is_none(), "the stream ends (None, no error item) on removal");
        assert!(st.next().await.is_none(), "and stays ended");
    } else {
        let mut f = pin!(q.recv(Select::Type(PARK_TYPE)));
        assert!(futures::poll!(f.as_mut()).is_pending(), "nothing of type {PARK_TYPE} is ever sent");
        parked.send(()).unwrap();
        assert_eq!(kind(f.await), ErrorKind::Removed);
    }
    ctx.msg.eidrm.fetch_add(1, Relaxed);
    assert_eq!(kind(q.try_recv(Select::Any)), ErrorKind::InvalidArgument);
    assert_eq!(q.try_send(1, T::make(1)).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// `sent` must be exactly `received` plus `left` (drained, or listed just before removal),
/// with no id twice.
fn check_exact(what: &str, mut sent: Vec<u64>, mut got: Vec<u64>) {
    sent.sort_unstable();
    got.sort_unstable();
    let dup = got.windows(2).find(|w| w[0] == w[1]);
    assert!(dup.is_none(), "{what}: message {:?} received twice", dup.map(|w| w[0]));
    if sent != got {
        let missing: Vec<_> = sent.iter().filter(|id| got.binary_search(id).is_err()).take(10).collect();
        let extra: Vec<_> = got.iter().filter(|id| sent.binary_search(id).is_err()).take(10).collect();
        panic!(
            "{what}: {} sent, {} accounted for; lost {missing:?}, received without a successful send {extra:?}",
            sent.len(),
            got.len()
        );
    }
}

/// One queue after another until the deadline.
async fn msg_driver<T: Item>(ctx: Arc<Ctx>, producers: usize, consumers: usize, qbytes: (u64, u64)) {
    let mut rng = ctx.rng();
    let mut first = true;
    while first || ctx.running() {
        first = false;
        let owner = ctx.process();
        let q: MessageQueue<T> = owner.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        let qb = qbytes.0 + rng.below(qbytes.1 - qbytes.0 + 1);
        q.set(MsqidSet { qbytes: qb, ..MsqidSet::from(&q.stat().unwrap()) }).unwrap();
        let state = Arc::new(AtomicU8::new(RUN));
        let (parked_tx, mut parked_rx) = tokio::sync::mpsc::unbounded_channel();
        let prod: Vec<_> = (0..producers)
            .map(|_| {
                let q = ctx.process().msg_queue_by_id::<T>(q.id()).unwrap();
                tokio::spawn(producer(ctx.clone(), q, state.clone()))
            })
            .collect();
        let cons: Vec<_> = (0..consumers)
            .map(|_| {
                let q = ctx.process().msg_queue_by_id::<T>(q.id()).unwrap();
                tokio::spawn(consumer(ctx.clone(), q, state.clone(), parked_tx.clone()))
            })
            .collect();
        tokio::time::sleep(epoch_len(&mut rng, ctx.deadline <= Instant::now())).await;
        let remove = rng.below(3) == 0;

        state.store(STOP_PRODUCERS, SeqCst);
        let mut sent = Vec::new();
        for p in prod {
            sent.extend(p.await.unwrap());
        }
        let mut got = Vec::new();
        if !remove {
            state.store(STOP_CONSUMERS, SeqCst);
            for c in cons {
                got.extend(c.await.unwrap());
            }
            let received = got.len() as u64;
            loop {
                match q.try_recv(Select::Any) {
                    Ok((mtype, m)) => got.push(check_received(Select::Any, mtype, &m)),
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::NoMessage);
                        break;
                    }
                }
            }
            let ds = q.stat().unwrap();
            assert_eq!((ds.qnum, ds.cbytes), (0, 0), "drained");
            ctx.msg.received.fetch_add(received, Relaxed);
            ctx.msg.drained.fetch_add(got.len() as u64 - received, Relaxed);
            ctx.msg.sent.fetch_add(sent.len() as u64, Relaxed);
            check_exact("graceful end", sent, got);
            q.remove().unwrap();
        } else {
            state.store(PARK, SeqCst);
            for _ in 0..consumers {
                parked_rx.recv().await.unwrap();
            }
            // Every consumer waits for PARK_TYPE now, so nothing frees room: a sender that
            // must wait for room to hold the whole qbytes waits until the removal (EIDRM).
            // If the queue is empty it gets the room at once and gives it back.
            let reserver = {
                let q = ctx.process().msg_queue_by_id::<T>(q.id()).unwrap();
                let parked = parked_tx.clone();
                tokio::spawn(async move {
                    let mut f = pin!(q.reserve(1, qb as usize));
                    match futures::poll!(f.as_mut()) {
                        Poll::Ready(permit) => {
                            drop(permit.unwrap());
                            parked.send(()).unwrap();
                            false
                        }
                        Poll::Pending => {
                            parked.send(()).unwrap();
                            assert_eq!(kind(f.await), ErrorKind::Removed);
                            true
                        }
                    }
                })
            };
            parked_rx.recv().await.unwrap();
            // quiescent now: no producer left, every consumer waits for PARK_TYPE
            let ds = q.stat().unwrap();
            let mut left = Vec::new();
            let mut bytes = 0;
            for i in 0..ds.qnum as usize {
                let (mtype, m) = q.peek(i).unwrap();
                bytes += m.size() as u64;
                left.push(check_received(Select::Any, mtype, &m));
            }
            assert_eq!(kind(q.peek(ds.qnum as usize)), ErrorKind::NoMessage);
            assert_eq!(bytes, ds.cbytes);
            q.remove().unwrap();
            for c in cons {
                got.extend(c.await.unwrap());
            }
            if reserver.await.unwrap() {
                ctx.msg.eidrm.fetch_add(1, Relaxed);
            }
            ctx.msg.received.fetch_add(got.len() as u64, Relaxed);
            ctx.msg.removed_with_queue.fetch_add(left.len() as u64, Relaxed);
            ctx.msg.sent.fetch_add(sent.len() as u64, Relaxed);
            got.extend(left);
            check_exact("removal mid-flight", sent, got);
            ctx.msg.removals.fetch_add(1, Relaxed);
        }
        // later calls: EINVAL
        assert_eq!(kind(q.stat()), ErrorKind::InvalidArgument);
        assert_eq!(kind(owner.msg_queue_by_id::<T>(q.id())), ErrorKind::InvalidArgument);
        assert_eq!(q.try_send(1, T::make(1)).unwrap_err().kind(), ErrorKind::InvalidArgument);
        ctx.msg.epochs.fetch_add(1, Relaxed);
    }
}

// ===== semaphore sets =====

/// The transfer set: its sum moves only by the counted increments and decrements.
const NT: u16 = 8;
const T_INIT: u16 = 10;
/// The undo set: back at its start once every actor has exited.
const NU: u16 = 4;
const U_INIT: u16 = 4;

fn two(rng: &mut Rng, n: u16) -> (u16, u16) {
    let a = rng.below(u64::from(n)) as u16;
    let b = (a + 1 + rng.below(u64::from(n) - 1) as u16) % n;
    (a, b)
}

/// `{a, -k}, {b, +k}`: the sum stays, whether the call is performed, cancelled before, or
/// inverted (or left standing) after.
async fn transferer(ctx: Arc<Ctx>, set: SemaphoreSet, stop: Arc<AtomicBool>) {
    let mut rng = ctx.rng();
    while !stop.load(SeqCst) {
        let (a, b) = two(&mut rng, NT);
        let k = 1 + rng.below(3) as i16;
        let ops = if rng.below(2) == 0 {
            [SemOp::new(a, -k), SemOp::new(b, k)]
        } else {
            [SemOp::new(b, k), SemOp::new(a, -k)]
        };
        let done = match rng.below(3) {
            0 => match set.try_semop(&ops) {
                Ok(()) => true,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::WouldBlock);
                    false
                }
            },
            1 => cancellable(&mut rng, set.semop(&ops)).await.map(|r| r.unwrap()).is_some(),
            _ => match set.semop_timeout(&ops, rng.micros(2000)).await {
                Ok(()) => true,
                Err(e) => {
                    assert!(e.is_timeout(), "{e:?}");
                    false
                }
            },
        };
        if done {
            ctx.sem.ops.fetch_add(1, Relaxed);
        }
    }
}

/// Counted changes on the transfer set: returns their net sum. A cancelled decrement had no
/// effect (performed for it, it is inverted, and an increment always applies).
async fn counter(ctx: Arc<Ctx>, set: SemaphoreSet, stop: Arc<AtomicBool>) -> i64 {
    let mut rng = ctx.rng();
    let mut net = 0i64;
    while !stop.load(SeqCst) {
        let (a, b) = two(&mut rng, NT);
        let k = 1 + rng.below(3) as i16;
        let (ops, delta): (Vec<SemOp>, i64) = match rng.below(5) {
            0 | 1 => (vec![SemOp::new(a, k)], i64::from(k)),
            2 => (vec![SemOp::new(a, -k)], -i64::from(k)),
            3 => (vec![SemOp::new(a, -1), SemOp::new(b, -1)], -2),
            _ => (vec![SemOp::new(a, 0)], 0), // wait for zero
        };
        let done = if delta > 0 && rng.below(2) == 0 {
            set.try_semop(&ops).unwrap(); // an increment never waits
            true
        } else {
            cancellable(&mut rng, set.semop(&ops)).await.map(|r| r.unwrap()).is_some()
        };
        if done {
            net += delta;
            ctx.sem.ops.fetch_add(1, Relaxed);
        }
    }
    net
}

/// `acquire_many` guards, held across awaits, given back on drop.
async fn acquirer(ctx: Arc<Ctx>, set: SemaphoreSet, stop: Arc<AtomicBool>) {
    let mut rng = ctx.rng();
    while !stop.load(SeqCst) {
        let (a, b) = two(&mut rng, NT);
        let units = [(a, 1 + rng.below(2) as u16), (b, 1)];
        let Some(permit) = cancellable(&mut rng, set.acquire_many(&units)).await else { continue };
        let permit = permit.unwrap();
        ctx.sem.ops.fetch_add(1, Relaxed);
        match rng.below(3) {
            0 => tokio::task::yield_now().await,
            1 => tokio::time::sleep(rng.micros(300)).await,
            _ => {}
        }
        drop(permit);
    }
}

/// Actors with `SEM_UNDO` on the undo set: each takes and gives back units, with and without
/// undo (the plain ones always given back), and exits holding what it holds — which its exit
/// gives back. Never gives back more than it took, so no exit is clamped.
async fn undoer(ctx: Arc<Ctx>, id: i32, stop: Arc<AtomicBool>) {
    let mut rng = ctx.rng();
    while !stop.load(SeqCst) {
        let set = ctx.process().sem_set_by_id(id).unwrap(); // the actor's only handle
        let mut held = [0i16; NU as usize];
        let mut plain = [0i16; NU as usize];
        for _ in 0..1 + rng.below(24) {
            if stop.load(SeqCst) {
                break;
            }
            let (a, b) = two(&mut rng, NU);
            let (ai, bi) = (usize::from(a), usize::from(b));
            match rng.below(5) {
                0 | 1 => {
                    let k = 1 + rng.below(2) as i16;
                    if let Some(r) = cancellable(&mut rng, set.semop(&[SemOp::new(a, -k).undo()])).await {
                        r.unwrap();
                        held[ai] += k;
                    }
                }
                2 if held[ai] > 0 => {
                    let r = 1 + rng.below(held[ai] as u64) as i16;
                    set.try_semop(&[SemOp::new(a, r).undo()]).unwrap();
                    held[ai] -= r;
                }
                3 => {
                    let ops = [SemOp::new(a, -1).undo(), SemOp::new(b, -1).undo()];
                    if let Some(r) = cancellable(&mut rng, set.semop(&ops)).await {
                        r.unwrap();
                        held[ai] += 1;
                        held[bi] += 1;
                    }
                }
                _ => {
                    if let Some(r) = cancellable(&mut rng, set.semop(&[SemOp::new(a, -1)])).await {
                        r.unwrap();
                        plain[ai] += 1;
                    }
                }
            }
            ctx.sem.ops.fetch_add(1, Relaxed);
            if rng.below(4) == 0 {
                tokio::task::yield_now().await;
            }
        }
        for (n, &p) in plain.iter().enumerate() {
            if p > 0 {
                set.try_semop(&[SemOp::new(n as u16, p)]).unwrap();
            }
        }
        if held.iter().any(|&h| h > 0) {
            ctx.sem.undo_exits.fetch_add(1, Relaxed);
        }
        drop(set); // exit: the adjustments (`held`) are added back
    }
}

/// A set removed under parked waiters (decrements with undo, waits for zero): `EIDRM`,
/// then `EINVAL`; the undo records of the removed set are skipped at exit.
async fn doomed_set(ctx: &Arc<Ctx>, owner: &Process) {
    let d = owner.sem_set(Key::PRIVATE).create(0o600).nsems(2).open().unwrap();
    d.set_val(1, 1).unwrap();
    const WAITERS: usize = 4;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|i| {
            let set = ctx.process().sem_set_by_id(d.id()).unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                // an undo record on the doomed set, to be skipped at exit
                set.try_semop(&[SemOp::new(1, 1).undo()]).unwrap();
                let ops = if i % 2 == 0 { [SemOp::new(0, -1).undo()] } else { [SemOp::new(1, 0)] };
                let mut f = pin!(set.semop(&ops));
                assert!(futures::poll!(f.as_mut()).is_pending());
                tx.send(()).unwrap();
                assert_eq!(kind(f.await), ErrorKind::Removed);
                assert_eq!(kind(set.try_semop(&[SemOp::new(0, 1)])), ErrorKind::InvalidArgument);
                assert_eq!(kind(set.get_val(0)), ErrorKind::InvalidArgument);
            })
        })
        .collect();
    for _ in 0..WAITERS {
        rx.recv().await.unwrap();
    }
    assert_eq!((d.get_ncnt(0).unwrap(), d.get_zcnt(1).unwrap()), (2, 2));
    assert_eq!(d.get_val(1).unwrap(), 1 + WAITERS as u16);
    d.remove().unwrap();
    for w in waiters {
        w.await.unwrap();
    }
    ctx.sem.eidrm.fetch_add(WAITERS as u64, Relaxed);
    assert_eq!(kind(d.get_val(0)), ErrorKind::InvalidArgument);
}

async fn sem_driver(ctx: Arc<Ctx>) {
    let mut rng = ctx.rng();
    let mut first = true;
    while first || ctx.running() {
        first = false;
        let owner = ctx.process();
        let t = owner.sem_set(Key::PRIVATE).create(0o600).nsems(NT).open().unwrap();
        t.set_all(&[T_INIT; NT as usize]).unwrap();
        let u = owner.sem_set(Key::PRIVATE).create(0o600).nsems(NU).open().unwrap();
        u.set_all(&[U_INIT; NU as usize]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = |set: &SemaphoreSet| ctx.process().sem_set_by_id(set.id()).unwrap();
        let mut others = Vec::new();
        for _ in 0..3 {
            others.push(tokio::spawn(transferer(ctx.clone(), handle(&t), stop.clone())));
        }
        for _ in 0..2 {
            others.push(tokio::spawn(acquirer(ctx.clone(), handle(&t), stop.clone())));
        }
        for _ in 0..5 {
            others.push(tokio::spawn(undoer(ctx.clone(), u.id(), stop.clone())));
        }
        let counters: Vec<_> =
            (0..3).map(|_| tokio::spawn(counter(ctx.clone(), handle(&t), stop.clone()))).collect();
        let short = ctx.deadline <= Instant::now();
        tokio::time::sleep(epoch_len(&mut rng, short) / 2).await;
        doomed_set(&ctx, &owner).await;
        tokio::time::sleep(epoch_len(&mut rng, short) / 2).await;
        stop.store(true, SeqCst);
        for h in others {
            h.await.unwrap();
        }
        let mut net = 0;
        for c in counters {
            net += c.await.unwrap();
        }
        let sum: i64 = t.get_all().unwrap().iter().map(|&v| i64::from(v)).sum();
        assert_eq!(sum, i64::from(NT * T_INIT) + net, "transfer set: start + counted changes");
        assert_eq!(u.get_all().unwrap(), [U_INIT; NU as usize], "undo set: every exit gave back");
        for (set, n) in [(&t, NT), (&u, NU)] {
            for i in 0..n {
                assert_eq!((set.get_ncnt(i).unwrap(), set.get_zcnt(i).unwrap()), (0, 0), "sem {i}");
            }
        }
        t.remove().unwrap();
        u.remove().unwrap();
        assert_eq!(kind(t.try_semop(&[SemOp::new(0, 1)])), ErrorKind::InvalidArgument);
        ctx.sem.epochs.fetch_add(1, Relaxed);
    }
}

// ===== shared memory =====

const SEG: usize = 4096;
/// Bytes `0..VIEW` are used through the views (worker `w`'s counter at `8 * w`), bytes
/// `ATOM..` only as `AtomicU64`s (worker `w`'s at `ATOM + 8 * w`): no view covers those.
const VIEW: usize = 2048;
const ATOM: usize = 2048;
const WORKERS: usize = 5;

enum Guard {
    Rw(AttachedMut),
    Ro(Attached),
}

impl Guard {
    fn reader(&self) -> &Attached {
        match self {
            Guard::Rw(g) => g,
            Guard::Ro(g) => g,
        }
    }
}

fn read_u64(g: &Attached, off: usize) -> u64 {
    let mut b = [0; 8];
    g.read_at(off, &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn load_atomic(g: &Attached, w: usize) -> u64 {
    // SAFETY: bytes ATOM.. are only ever accessed as AtomicU64s at these offsets, and no view
    // covers them (views stay within 0..VIEW).
    unsafe { g.load::<std::sync::atomic::AtomicU64>(ATOM + 8 * w, Relaxed) }.unwrap()
}

/// Attaches, detaches, passes guards on, bumps counter `w`; returns (view bumps, atomic bumps).
async fn shm_worker(
    ctx: Arc<Ctx>,
    w: usize,
    id: i32,
    next: tokio::sync::mpsc::UnboundedSender<Guard>,
    mut mine: tokio::sync::mpsc::UnboundedReceiver<Guard>,
    stop: Arc<AtomicBool>,
    all_stopped: Arc<tokio::sync::Barrier>,
) -> (u64, u64) {
    let mut rng = ctx.rng();
    let seg = ctx.process().shm_segment_by_id(id).unwrap();
    let mut guards: Vec<Guard> = Vec::new();
    let (mut views, mut atoms) = (0u64, 0u64);
    let off = 8 * w;
    while !stop.load(SeqCst) {
        while let Ok(g) = mine.try_recv() {
            guards.push(g);
        }
        if guards.len() < 2 || rng.below(8) == 0 {
            guards.push(if rng.below(3) == 0 {
                Guard::Ro(seg.attach_read_only().unwrap())
            } else {
                Guard::Rw(seg.attach().unwrap())
            });
        }
        let writer = guards.iter().position(|g| matches!(g, Guard::Rw(_)));
        let pick = rng.below(guards.len() as u64) as usize;
        match (rng.below(7), writer) {
            (0, Some(i)) => {
                let Guard::Rw(g) = &guards[i] else { unreachable!() };
                let mut v = g.write_range(0..VIEW).unwrap();
                let x = u64::from_le_bytes(v[off..off + 8].try_into().unwrap());
                assert_eq!(x, views, "worker {w}'s view counter");
                v[off..off + 8].copy_from_slice(&(x + 1).to_le_bytes());
                views += 1;
            }
            (1, Some(i)) => {
                let Guard::Rw(g) = &guards[i] else { unreachable!() };
                assert_eq!(read_u64(g, off), views);
                g.write_at(off, &(views + 1).to_le_bytes()).unwrap();
                views += 1;
            }
            (2, Some(i)) => {
                let Guard::Rw(g) = &guards[i] else { unreachable!() };
                // SAFETY: as in `load_atomic`: these bytes are only ever this AtomicU64.
                let a = unsafe { g.atomic::<std::sync::atomic::AtomicU64>(ATOM + off) }.unwrap();
                assert_eq!(a.fetch_add(1, Relaxed), atoms, "worker {w}'s atomic counter");
                atoms += 1;
            }
            (3, _) => {
                let g = guards[pick].reader();
                let v = g.read_range(0..VIEW).unwrap();
                assert_eq!(u64::from_le_bytes(v[off..off + 8].try_into().unwrap()), views);
                drop(v);
                assert_eq!(load_atomic(g, w), atoms);
            }
            (4, _) => drop(guards.swap_remove(pick)), // shmdt
            (5, _) => {
                assert!(next.send(guards.swap_remove(pick)).is_ok(), "the neighbour is still receiving");
                ctx.shm.moved.fetch_add(1, Relaxed);
            }
            _ => {
                // hold the guards across an await point
                if rng.below(2) == 0 {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(rng.micros(200)).await;
                }
                continue;
            }
        }
        ctx.shm.ops.fetch_add(1, Relaxed);
    }
    all_stopped.wait().await; // nobody sends guards any more
    mine.close();
    while let Ok(g) = mine.try_recv() {
        drop(g);
    }
    drop(guards);
    (views, atoms)
}

async fn shm_driver(ctx: Arc<Ctx>, d: i32) {
    let mut rng = ctx.rng();
    let mut first = true;
    let mut epoch = 0;
    while first || ctx.running() {
        first = false;
        epoch += 1;
        let owner = ctx.process();
        let key = Key::new(0x50ac_0000 + d * 0x1_0000 + epoch % 0x1_0000);
        let seg = owner.shm_segment(key).size(SEG).create(0o600).exclusive().open().unwrap();
        let keeper = seg.attach().unwrap(); // holds the segment to the end, for the counters
        let stop = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(tokio::sync::Barrier::new(WORKERS));
        let (txs, rxs): (Vec<_>, Vec<_>) =
            (0..WORKERS).map(|_| tokio::sync::mpsc::unbounded_channel()).unzip();
        let workers: Vec<_> = rxs
            .into_iter()
            .enumerate()
            .map(|(w, rx)| {
                let next = txs[(w + 1) % WORKERS].clone();
                tokio::spawn(shm_worker(ctx.clone(), w, seg.id(), next, rx, stop.clone(), barrier.clone()))
            })
            .collect();
        drop(txs);
        let short = ctx.deadline <= Instant::now();
        tokio::time::sleep(epoch_len(&mut rng, short) / 2).await;
        let remove = rng.below(2) == 0;
        if remove {
            seg.remove().unwrap(); // IPC_RMID while attached
            let ds = seg.stat().unwrap();
            assert!(ds.is_dest() && ds.shm_nattch >= 1 && ds.shm_perm.key.is_private(), "{ds:?}");
            assert_eq!(kind(owner.shm_segment(key).open()), ErrorKind::NotFound);
            ctx.shm.removals.fetch_add(1, Relaxed);
        }
        tokio::time::sleep(epoch_len(&mut rng, short) / 2).await;
        stop.store(true, SeqCst);
        let mut counts = Vec::new();
        for h in workers {
            counts.push(h.await.unwrap());
        }
        let ds = seg.stat().unwrap();
        assert_eq!((ds.shm_nattch, ds.is_dest()), (1, remove), "only the keeper is attached");
        for (w, &(views, atoms)) in counts.iter().enumerate() {
            assert_eq!((read_u64(&keeper, 8 * w), load_atomic(&keeper, w)), (views, atoms), "worker {w}");
        }
        drop(keeper);
        if !remove {
            assert_eq!(seg.stat().unwrap().shm_nattch, 0);
            seg.remove().unwrap();
        }
        assert_eq!(kind(seg.stat()), ErrorKind::InvalidArgument);
        assert_eq!(kind(owner.shm_segment_by_id(seg.id())), ErrorKind::InvalidArgument);
        assert!(ctx.ns.ipcs().of_kind(IpcKind::SharedMemory).all(|e| e.id != seg.id()), "gone from ipcs");
        ctx.shm.epochs.fetch_add(1, Relaxed);
    }
}

// ===== the run =====

async fn soak(duration: Duration, seed: u64) {
    let start = Instant::now();
    let ctx = Arc::new(Ctx {
        ns: Namespace::new(),
        deadline: start + duration,
        seed,
        next_seed: AtomicU64::new(0),
        next_pid: AtomicI32::new(100),
        next_msg: AtomicU64::new(1),
        msg: MsgStats::default(),
        sem: SemStats::default(),
        shm: ShmStats::default(),
    });
    let mut drivers = vec![
        tokio::spawn(msg_driver::<u64>(ctx.clone(), 3, 3, (64, 256))),
        tokio::spawn(msg_driver::<u64>(ctx.clone(), 3, 3, (8, 64))),
        tokio::spawn(msg_driver::<Vec<u8>>(ctx.clone(), 3, 3, (256, 1024))),
        tokio::spawn(msg_driver::<Vec<u8>>(ctx.clone(), 3, 3, (64, 256))),
        tokio::spawn(msg_driver::<String>(ctx.clone(), 3, 3, (128, 512))),
        tokio::spawn(sem_driver(ctx.clone())),
    ];
    for d in 0..2 {
        drivers.push(tokio::spawn(shm_driver(ctx.clone(), d)));
    }
    // 5 queues x (3 + 3 + a parked sender), 3 + 2 + 5 + 3 sem tasks + 4 doomed waiters, 2 x 5 shm workers
    let tasks = 5 * 7 + 17 + 2 * WORKERS + drivers.len();
    for d in drivers {
        d.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();

    // nothing left anywhere
    let ns = &ctx.ns;
    assert!(ns.ipcs().is_empty(), "left over:\n{}", ns.ipcs());
    let (mi, si, shi) = (ns.msg_info(), ns.sem_info(), ns.shm_info());
    assert_eq!((mi.msgpool, mi.msgmap, mi.msgtql), (0, 0, 0));
    assert_eq!((si.semusz, si.semaem), (0, 0));
    assert_eq!((shi.used_ids, shi.shm_tot), (0, 0));

    let (m, s, h) = (&ctx.msg, &ctx.sem, &ctx.shm);
    let ld = |a: &AtomicU64| a.load(Relaxed);
    let (mo, so, ho) = (ld(&m.ops), ld(&s.ops), ld(&h.ops));
    let rate = |n: u64| n as f64 / secs;
    println!("soak: {secs:.1} s, seed {seed:#x}, up to {tasks} tasks at once");
    println!(
        "  msg: {mo} ops ({:.0}/s); {} queues ({} removed mid-flight); {} sent = {} received + {} drained + {} removed with their queue; {} waiters saw EIDRM",
        rate(mo),
        ld(&m.epochs),
        ld(&m.removals),
        ld(&m.sent),
        ld(&m.received),
        ld(&m.drained),
        ld(&m.removed_with_queue),
        ld(&m.eidrm)
    );
    println!(
        "  sem: {so} ops ({:.0}/s); {} epochs, each: transfer sum = start + counted changes, undo set back at start, ncnt/zcnt 0; {} exits with undo, {} waiters saw EIDRM",
        rate(so),
        ld(&s.epochs),
        ld(&s.undo_exits),
        ld(&s.eidrm)
    );
    println!(
        "  shm: {ho} ops ({:.0}/s); {} segments ({} IPC_RMID while attached), {} guards moved across tasks; counters exact, nattch 0",
        rate(ho),
        ld(&h.epochs),
        ld(&h.removals),
        ld(&h.moved)
    );
    println!("  total: {} ops ({:.0}/s)", mo + so + ho, rate(mo + so + ho));
    assert_eq!(ld(&m.sent), ld(&m.received) + ld(&m.drained) + ld(&m.removed_with_queue));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_time().build().unwrap()
}

fn seed() -> u64 {
    match std::env::var("SVIPC_SOAK_SEED") {
        Ok(s) => {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).expect("SVIPC_SOAK_SEED is hex")
        }
        Err(_) => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        }
    }
}

/// One short epoch of everything: the soak's checks run in every `cargo test`.
#[test]
fn smoke() {
    runtime().block_on(soak(Duration::from_millis(200), seed()));
}

#[test]
#[ignore = "runs for SVIPC_SOAK_SECS (default 60); see the file header"]
fn soak_all_mechanisms() {
    let secs = match std::env::var("SVIPC_SOAK_SECS") {
        Ok(s) => s.parse().expect("SVIPC_SOAK_SECS is a number of seconds"),
        Err(_) => 60,
    };
    runtime().block_on(soak(Duration::from_secs(secs), seed()));
}
