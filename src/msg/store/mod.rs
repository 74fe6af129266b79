//! The message-queue engine: per-type lanes, byte/count accounting against `msg_qbytes`,
//! and the waiting senders and receivers — `ipc/msg.c`'s `struct msg_queue` and its
//! `do_msgsnd`, `do_msgrcv`, `pipelined_send`, `ss_wakeup` and `freeque`.
//!
//! `async`-agnostic: poll functions over [`SendOp`], [`RecvOp`] and [`ReserveOp`] that the
//! facade's futures, streams and sinks drive; a `None` context means `IPC_NOWAIT`.
//!
//! # Design
//!
//! Two modes, after `ipc/sem.c`'s simple/complex operations: **simple mode**, lock-free,
//! when every queued message has one type and no receiver waits that needs complex mode
//! (`room.rs`: the ring, the two room words, the collects, the switches between the modes,
//! and receivers of any message that wait and are handed messages without the queue's
//! lock), and **complex mode**, under the queue's lock, for everything else (`lanes.rs`:
//! the per-type lanes, the accounting and the wait lists). The receivers of any message
//! wait in a list with a lock of its own (`lanes.rs`, `Waiting`), so that waiting in simple
//! mode and a hand-off to such a receiver take no queue lock; the waiting senders, in a list
//! with a lock of its own too (`lanes.rs`, `Senders`), so that a full queue's waiting
//! senders are registered, woken and leave the list without the queue's lock. `poll.rs` holds the `msgsnd`, `msgrcv` and reservation
//! state machines over both; this file, the shared object, the stamps and `msgctl`.
//!
//! Memory ordering: in simple mode a message travels through the ring's Release stamp and
//! the pop's Acquire (and the Acquire/Release on the room words); a handoff through the
//! mailbox's Release/Acquire or the queue's lock; in complex mode through the queue's lock.
//!
//! `msg_stime`/`msg_lspid`/`msg_rtime`/`msg_lrpid` are atomics, each stored only when its
//! value changes (a load first): the times have one-second resolution and the pid is
//! usually the same, so a sender and a receiver on two threads do not write a shared cache
//! line once per message (that false sharing cost about 30% of multi-thread throughput).
//!
//! **Lock order:** namespace table lock → queue lock → receivers' lock or senders' lock
//! (never both) → (the ring's and the mailbox's own synchronization, which never blocks).
//! A simple send's hand-off and a simple receiver's registration take the receivers' lock
//! alone; a simple sender's registration, a lock-free `ss_wakeup` and a woken sender's
//! leaving the list take the senders' lock alone.
//! The permission seqlock is read without a lock and written by `IPC_SET` under the queue
//! lock, so a receiver that checked permission and registered is always woken by a later
//! `IPC_SET`. The loom models in `loom-tests/tests/loom_msg.rs` check the handoff (and the
//! mailbox shared by two), the selectors, cancellation, removal, the full-queue wake-up,
//! the mode switches, the split room words (collects against receives, mode switches,
//! waiting senders and `IPC_STAT`) and lock-free calls racing a permission change; under
//! loom the ring starts at 2 slots, so they wrap it and grow it. `loom_ring.rs` checks the
//! ring alone; `loom_msg_waiting.rs` the receivers that wait in simple mode (the flag
//! against pushes before and after it, the hand-off, a switch to complex mode and back
//! while one waits, a dropped waiter); `loom_msg_sending.rs` the senders that wait in
//! simple mode (a registration against the receive that frees room, a switch to complex
//! mode and back meanwhile, a registration across the switch back, two waiting senders,
//! removal).

#![deny(unsafe_code)]

mod lanes;
mod poll;
mod room;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::mem;
use std::sync::atomic::Ordering::Relaxed;

pub(crate) use self::lanes::Msg;
use self::lanes::{notify_all_with, Handed, Senders, State, Waiting};
pub(crate) use self::poll::{RecvOp, ReserveOp, SendOp};
use self::room::{room, room_bytes, room_count, COMPLEX, RING_INITIAL, SIMPLE_QBYTES_MAX};
use crate::error::ErrorKind;
use crate::ipc::now;
use crate::ipc::perm::{valid_id, READ};
use crate::ipc::{Capabilities, Credentials, Figures, Header, IpcObject, Removal};
use crate::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, AtomicUsize};
use crate::sync::counters::{count, Event};
use crate::sync::mailbox::{mailbox, Mailbox};
use crate::sync::ring::Ring;
use crate::sync::wait_list::{WaitList, WakeList};
use crate::sync::{Arc, Mutex, MutexGuard};
use crossbeam_utils::CachePadded;

/// Stores `pid` unless the field already holds it. A send and a receive on different
/// threads would otherwise write the same cache line once per message; a load leaves it
/// shared. (Each field is one atomic, as before; concurrent operations' stamps were never
/// ordered among themselves.)
#[inline]
fn stamp_pid(field: &AtomicI32, pid: i32) {
    if field.load(Relaxed) != pid {
        field.store(pid, Relaxed);
    }
}

/// [`stamp_pid`] for a time in seconds: stored once a second, not once a message.
#[inline]
fn stamp_time(field: &AtomicI64, t: i64) {
    if field.load(Relaxed) != t {
        field.store(t, Relaxed);
    }
}

/// The shared object behind every handle on one queue: `struct msg_queue`.
///
/// See the module docs, "Design", for the two modes.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    header: Header,
    /// The senders' room word (layout above). A simple send is a CAS that takes its room,
    /// failing if `COMPLEX` is set, and then its push; the lock holder sets `COMPLEX` and
    /// waits until every taken room is pushed or given back (sem.c's complex_mode, with the
    /// room as the count). Its own cache line: in SPSC only the producer's core writes it.
    tx: CachePadded<AtomicU64>,
    /// The receivers' room word: a simple receive ends with one RMW that gives the room
    /// back here and reads `SENDERS`.
    rx: CachePadded<AtomicU64>,
    /// Simple mode only: `msg_qbytes` when simple mode began (`IPC_SET` runs in complex
    /// mode), to turn the room into `msg_cbytes`.
    qbytes: AtomicUsize,
    /// Simple mode only: the messages' room count when simple mode began — `qbytes`, at
    /// most the ring's capacity — to turn the room into `msg_qnum`.
    cap: AtomicUsize,
    /// Simple mode only: the one type the ring holds; 0 until the first simple send claims
    /// it.
    simple_type: AtomicI64,
    /// The messages of simple mode, oldest first, all of type `simple_type`; closed in
    /// complex mode. A receive's pop from it is the receive's linearization point.
    ring: Ring<Msg<T>>,
    /// Where a handoff leaves a message for its waiting receiver, who takes it without the
    /// lock ([`crate::sync::mailbox`]); one at a time, else the receiver's wait-list entry.
    mailbox: Mailbox<Msg<T>>,
    /// The same for the receivers of any message that wait in [`Waiting`], whose handoffs
    /// are made under the receivers' lock (one writer per mailbox).
    mailbox_any: Mailbox<Msg<T>>,
    /// The next waiting receiver's ticket: its mailbox tag and its place in the arrival
    /// order across the two receiver lists (0 and `u64::MAX` are never tags).
    tickets: AtomicU64,
    /// The next message sequence number (0 is `UNNUMBERED`): an atomic, because a simple
    /// send that hands a message from the ring to a waiting receiver numbers it without
    /// the queue's lock (see `room.rs`, "Receivers that wait in simple mode").
    seq: AtomicU64,
    stime: AtomicI64,
    rtime: AtomicI64,
    lspid: AtomicI32,
    lrpid: AtomicI32,
    state: Mutex<State<T>>,
    /// The waiting receivers of any message and `mailbox_any`'s postman, under their own
    /// lock (taken after `state`'s when both are held); see `lanes.rs`.
    waiting: Mutex<Waiting<T>>,
    /// The waiting senders and reservations, under their own lock (taken after `state`'s
    /// when both are held, never with `waiting`'s); see `lanes.rs` and `room.rs`, "Senders
    /// that wait in simple mode".
    senders: Mutex<Senders>,
}

/// The `msqid_ds` figures read under the lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Figs {
    pub(crate) stime: i64,
    pub(crate) rtime: i64,
    pub(crate) cbytes: usize,
    pub(crate) qnum: usize,
    pub(crate) qbytes: usize,
    pub(crate) lspid: i32,
    pub(crate) lrpid: i32,
}

impl<T: Send + 'static> Queue<T> {
    /// A new queue (`newque`): empty, `msg_qbytes = qbytes` (the namespace's MSGMNB).
    pub(crate) fn new(header: Header, qbytes: usize) -> Queue<T> {
        // A new queue starts in simple mode with all its room (unless qbytes is too large for
        // the word's room fields: MSGMNB above 16 MiB).
        let simple = qbytes <= SIMPLE_QBYTES_MAX;
        let cap = qbytes.min(RING_INITIAL);
        let ring = Ring::new(RING_INITIAL);
        if !simple {
            ring.close();
        }
        let (postman_any, mailbox_any) = mailbox();
        let (postman, mailbox) = mailbox();
        Queue {
            header,
            tx: CachePadded::new(AtomicU64::new(if simple { room(cap, qbytes) } else { COMPLEX })),
            rx: CachePadded::new(AtomicU64::new(0)),
            qbytes: AtomicUsize::new(qbytes),
            cap: AtomicUsize::new(cap),
            simple_type: AtomicI64::new(0),
            ring,
            mailbox,
            mailbox_any,
            tickets: AtomicU64::new(1),
            // 0 is `UNNUMBERED`.
            seq: AtomicU64::new(1),
            stime: AtomicI64::new(0),
            rtime: AtomicI64::new(0),
            lspid: AtomicI32::new(0),
            lrpid: AtomicI32::new(0),
            state: Mutex::new(State {
                lanes: BTreeMap::new(),
                removed_lanes: BTreeMap::new(),
                empty_lanes: 0,
                heads: BTreeSet::new(),
                cbytes: 0,
                qnum: 0,
                reserved_bytes: 0,
                reserved_count: 0,
                qbytes,
                complex: !simple,
                complex_passes: 0,
                removed: false,
                receivers: WaitList::new(),
                postman,
            }),
            waiting: Mutex::new(Waiting::new(postman_any)),
            senders: Mutex::new(Senders::new()),
        }
    }
}

impl<T> Queue<T> {
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        count(Event::MsgLock);
        self.state.lock()
    }

    /// The receivers' lock ([`Queue::waiting`]); after the queue's when both are taken.
    fn lock_waiting(&self) -> MutexGuard<'_, Waiting<T>> {
        count(Event::MsgLockWaiting);
        self.waiting.lock()
    }

    /// The senders' lock ([`Queue::senders`]); after the queue's when both are taken.
    fn lock_senders(&self) -> MutexGuard<'_, Senders> {
        count(Event::MsgLockSenders);
        self.senders.lock()
    }

    /// A new message sequence number.
    fn number(&self) -> u64 {
        self.seq.fetch_add(1, Relaxed)
    }

    /// A waiting receiver's ticket (its mailbox tag), taken under the lock of the list it
    /// joins, so that each list's order is its tickets' order.
    fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Relaxed)
    }

    /// Keeps the ring's `WAITING` flag equal to "a receiver waits" (under the receivers'
    /// lock): a simple send that finds it set hands a message to a waiting receiver.
    fn sync_waiting(&self, w: &Waiting<T>) {
        let want = !w.receivers.is_empty();
        if want != self.ring.is_waiting() {
            if want {
                self.ring.set_waiting();
            } else {
                self.ring.clear_waiting();
            }
        }
    }

    /// The lookup of a call's first poll: `EINVAL` once the queue is removed.
    fn start(&self, started: &mut bool) -> Result<(), ErrorKind> {
        if !*started {
            self.header.check_live()?;
            *started = true;
        }
        Ok(())
    }

    /// `msg_lspid`/`msg_stime` of a send.
    pub(super) fn sent(&self, pid: i32) {
        stamp_pid(&self.lspid, pid);
        stamp_time(&self.stime, now());
    }

    /// `msg_lrpid`/`msg_rtime` of a receive.
    pub(super) fn received(&self, pid: i32) {
        stamp_pid(&self.lrpid, pid);
        stamp_time(&self.rtime, now());
    }

    /// A locked send's stamps, and a handoff's too when `deliver` gave the message to the
    /// receiver `rpid`: one clock read for both, as the kernel's `pipelined_send` stamps
    /// `msg_rtime` and its caller `msg_stime` in the same call.
    pub(super) fn sent_and_handed(&self, pid: i32, rpid: Option<i32>) {
        let t = now();
        stamp_pid(&self.lspid, pid);
        stamp_time(&self.stime, t);
        if let Some(rpid) = rpid {
            stamp_pid(&self.lrpid, rpid);
            stamp_time(&self.rtime, t);
        }
    }

    /// `MSG_COPY`: a clone of the `index`-th message (0 = oldest), changing nothing. `E2BIG`
    /// (or `EINVAL` with `no_error`, as `copy_msg` does) when it exceeds `maxsize`.
    pub(crate) fn peek(
        &self,
        creds: &Credentials,
        index: usize,
        maxsize: usize,
        no_error: bool,
    ) -> Result<(i64, T), ErrorKind>
    where
        T: Clone,
    {
        self.header.check_live()?;
        let mut st = self.lock();
        // Under the lock, as `stat`: the copy is of messages the caller may read.
        self.header.perm().check(creds, READ)?;
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        self.make_complex(&mut st);
        if index >= st.qnum {
            self.make_simple_if_idle(&mut st);
            return Err(ErrorKind::NoMessage);
        }
        // The index-th message in global send order: a k-way walk over the lane heads.
        let mut cursors: BTreeSet<(u64, i64, usize)> =
            st.lanes.iter().filter_map(|(&t, lane)| lane.front().map(|m| (m.seq, t, 0))).collect();
        let mut left = index;
        while let Some((_, t, i)) = cursors.pop_first() {
            let Some(lane) = st.lanes.get(&t) else { break };
            if left == 0 {
                let m = &lane[i];
                if m.size > maxsize {
                    return Err(if no_error { ErrorKind::InvalidArgument } else { ErrorKind::TooBig });
                }
                return Ok((m.mtype, m.payload.clone()));
            }
            left -= 1;
            if let Some(next) = lane.get(i + 1) {
                cursors.insert((next.seq, t, i + 1));
            }
        }
        Err(ErrorKind::NoMessage)
    }

    // ----- msgctl -----

    /// `IPC_STAT`'s figures, after the read-permission check.
    ///
    /// The check runs under the lock, with the reading: `IPC_SET` changes the permissions
    /// under it, so the figures are never those of a time the caller could not read them.
    pub(crate) fn stat(&self, creds: &Credentials) -> Result<Figs, ErrorKind> {
        self.header.check_live()?;
        let st = self.lock();
        self.header.perm().check(creds, READ)?;
        let (cbytes, qnum) = self.counts(&st);
        Ok(Figs {
            stime: self.stime.load(Relaxed),
            rtime: self.rtime.load(Relaxed),
            cbytes,
            qnum,
            qbytes: st.qbytes,
            lspid: self.lspid.load(Relaxed),
            lrpid: self.lrpid.load(Relaxed),
        })
    }

    /// `(msg_cbytes, msg_qnum)`: the lanes' counts in complex mode; in simple mode `qbytes`
    /// less the room, [consolidated](Queue::consolidate) into `tx` first so that no room is
    /// counted twice or missed (each simple operation changes the room in one atomic step).
    fn counts(&self, st: &State<T>) -> (usize, usize) {
        if st.complex {
            (st.cbytes, st.qnum)
        } else {
            let word = self.consolidate();
            let q = self.qbytes.load(Relaxed) as u64;
            let cap = self.cap.load(Relaxed) as u64;
            ((q - room_bytes(word)) as usize, (cap - room_count(word)) as usize)
        }
    }

    /// `IPC_SET` (`msgctl_down`), in the kernel's order: `EINVAL` (dead id), `EPERM`
    /// (ownership), `EPERM` (qbytes above `msgmnb` without `CAP_SYS_RESOURCE`), `EINVAL`
    /// (uid/gid). Then every receiver re-checks and the senders that now fit are woken.
    pub(crate) fn set(
        &self,
        creds: &Credentials,
        msgmnb: usize,
        uid: u32,
        gid: u32,
        mode: u32,
        qbytes: usize,
    ) -> Result<(), ErrorKind> {
        self.header.check_live()?;
        self.header.perm().check_owner(creds)?;
        if qbytes > msgmnb && !creds.has(Capabilities::SYS_RESOURCE) {
            return Err(ErrorKind::NotPermitted);
        }
        if !valid_id(uid) || !valid_id(gid) {
            return Err(ErrorKind::InvalidArgument);
        }
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        if st.removed {
            return Err(ErrorKind::InvalidArgument);
        }
        // Complex mode first: no simple send may check the old qbytes after this one.
        self.make_complex(&mut st);
        st.qbytes = qbytes;
        self.header.perm().set(uid, gid, mode);
        self.header.touch_ctime();
        // expunge_all(msq, -EAGAIN): every receiver loops again and re-checks permission.
        notify_all_with(&mut st.receivers, || Handed::Retry, &mut wakes);
        {
            let mut w = self.lock_waiting();
            notify_all_with(&mut w.receivers, || Handed::Retry, &mut wakes);
            self.sync_waiting(&w);
        }
        self.wake_senders(&mut st, &mut wakes);
        self.make_simple_if_idle(&mut st);
        Ok(())
    }

    /// `freeque`: marks the queue removed and fails every waiter with `EIDRM`; the messages
    /// are dropped by `after_remove`, outside every lock.
    fn free(&self) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        // Complex mode for good: simple operations in flight finish first (they linearize
        // before the removal), and none starts afterwards (`make_simple_if_idle` refuses).
        self.make_complex(&mut st);
        st.removed = true;
        self.header.mark_deleted();
        notify_all_with(&mut st.receivers, || Handed::Err(ErrorKind::Removed), &mut wakes);
        {
            let mut w = self.lock_waiting();
            notify_all_with(&mut w.receivers, || Handed::Err(ErrorKind::Removed), &mut wakes);
            self.sync_waiting(&w);
        }
        {
            let mut s = self.lock_senders();
            s.removed = true;
            s.list.notify_all(&mut wakes);
            self.sync_senders(&s);
        }
        st.removed_lanes = mem::take(&mut st.lanes);
        st.empty_lanes = 0;
        st.heads.clear();
        st.cbytes = 0;
        st.qnum = 0;
    }
}

impl<T: Send + 'static> IpcObject for Arc<Queue<T>> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn figures(&self) -> Figures {
        let st = self.lock();
        let (cbytes, qnum) = self.counts(&st);
        Figures::MessageQueue { used_bytes: cbytes as u64, messages: qnum as u64 }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stat_ds(&self) -> Result<Box<dyn Any + Send>, ErrorKind> {
        let st = self.lock();
        let (cbytes, qnum) = self.counts(&st);
        Ok(Box::new(super::MsqidDs {
            perm: self.header.perm().load(),
            stime: self.stime.load(Relaxed),
            rtime: self.rtime.load(Relaxed),
            ctime: self.header.ctime(),
            cbytes: cbytes as u64,
            qnum: qnum as u64,
            qbytes: st.qbytes as u64,
            lspid: self.lspid.load(Relaxed),
            lrpid: self.lrpid.load(Relaxed),
        }))
    }

    fn remove(&self) -> Removal {
        self.free();
        Removal::Now
    }

    fn after_remove(&self) {
        let lanes = mem::take(&mut self.lock().removed_lanes);
        drop(lanes); // the messages' destructors, outside every lock
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::lanes::Receiver;
    use super::*;
    use std::task::{Context, Poll};

    /// A `SendFuture` polled again after it completed sends nothing and takes no room: the
    /// locked path used to take a message's room for the missing payload and never give it
    /// back (`msg_qnum`/`msg_cbytes` stayed up, and the queue fitted one message less).
    #[test]
    fn send_polled_after_completion_takes_no_room() {
        use crate::msg::MsqidSet;
        use crate::{Credentials, Key, MessageQueue, Namespace, Select};
        use std::future::Future;

        let ns = Namespace::new();
        let me = ns.process(Credentials::new(0, 0));
        let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 16 }).unwrap();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut fut = q.send(1, 7);
        assert!(matches!(std::pin::Pin::new(&mut fut).poll(&mut cx), Poll::Ready(Ok(()))));
        assert!(matches!(std::pin::Pin::new(&mut fut).poll(&mut cx), Poll::Ready(Ok(()))));
        drop(fut);
        let ds = q.stat().unwrap();
        assert_eq!((ds.qnum, ds.cbytes), (1, 8));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 7));
        q.try_send(1, 1).unwrap();
        q.try_send(1, 2).unwrap();
        assert_eq!(q.stat().unwrap().qnum, 2);
    }

    /// The memory a queued message and a waiter cost (reported in BENCHMARKS.md); a
    /// regression past these bounds fails here.
    #[test]
    fn sizes() {
        let msg = mem::size_of::<Msg<u64>>();
        let receiver = mem::size_of::<Receiver<u64>>();
        let slot = mem::size_of::<(u32, Receiver<u64>, std::task::Waker, u32, u32)>();
        let queue = mem::size_of::<Queue<u64>>();
        println!("Msg<u64> {msg}, Receiver<u64> {receiver}, wait-list slot ~{slot}, Queue<u64> {queue}");
        // The ring's 16 first slots (a stamp and a `Msg` each) and the mailbox (a state word
        // and a `Msg`, behind an `Arc`) are allocated with the queue.
        assert!(queue <= 1152, "{queue}");
        assert_eq!(msg, 32, "seq, mtype, size, payload");
        assert!(receiver <= 80, "{receiver}");
        assert!(slot <= 112, "{slot}");
    }
}
