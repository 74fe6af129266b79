//! The message-queue engine: per-type lanes, byte/count accounting against `msg_qbytes`,
//! and the waiting senders and receivers — `ipc/msg.c`'s `struct msg_queue` and its
//! `do_msgsnd`, `do_msgrcv`, `pipelined_send`, `ss_wakeup` and `freeque`.
//!
//! `async`-agnostic: poll functions over [`SendOp`], [`RecvOp`] and [`ReserveOp`] that the
//! facade's futures, streams and sinks drive; a `None` context means `IPC_NOWAIT`. See the
//! module docs of [`crate::msg`] for the design and the locking argument.

#![deny(unsafe_code)]

use std::any::Any;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::mem;
use std::task::{Context, Poll};

use super::select::Select;
use crate::error::ErrorKind;
use crate::ipc::perm::{valid_id, READ, WRITE};
use crate::ipc::{Capabilities, Credentials, Figures, Header, IpcObject, Removal};
use crate::sync::wait_list::{WaitList, WaiterId, WaiterState, WakeList};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use crate::ipc::now;
use crate::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, AtomicUsize};
use crate::sync::counters::{count, Event};
use crate::sync::mailbox::{mailbox, Mailbox, Postman};
use crate::sync::ring::{Pop, Ring};
use crate::sync::{backoff, Arc, Mutex, MutexGuard};
use crossbeam_utils::CachePadded;

/// Empty lanes kept (with their buffers) for reuse before one is dropped: a type that
/// comes and goes costs no allocation, and a selector's range scan skips at most this many.
const SPARE_LANES: usize = 8;

// ===== Msg =====

/// One queued message: the kernel's `struct msg_msg`.
#[derive(Debug)]
pub(crate) struct Msg<T> {
    /// Global send order: the queue's `next_seq` when the message was sent. Orders messages
    /// across lanes ("oldest") and places a put-back message where it was.
    pub(crate) seq: u64,
    /// `m_type`, always `>= 1`.
    pub(crate) mtype: i64,
    /// `m_ts`: the payload's size in bytes, as it reported it when sent.
    pub(crate) size: usize,
    pub(crate) payload: T,
}

// ===== waiters =====

/// What a waiting receiver has been handed (`msg_receiver.r_msg`).
#[derive(Debug)]
enum Handed<T> {
    /// Nothing yet.
    Nothing,
    /// A message, handed off by `pipelined_send` (it never entered the queue).
    Msg(Msg<T>),
    /// An error: `E2BIG` from `pipelined_send`, `EIDRM` from removal.
    Err(ErrorKind),
    /// `IPC_SET` happened: re-check permission and look again (the kernel's internal EAGAIN).
    Retry,
}

/// A waiting receiver (`struct msg_receiver`).
#[derive(Debug)]
struct Receiver<T> {
    select: Select,
    /// `r_maxsize`: the largest message it takes; `usize::MAX` under `MSG_NOERROR`.
    maxsize: usize,
    /// `r_tsk`'s pid, recorded as `msg_lrpid` on a handoff.
    pid: i32,
    /// Its tag for [`Queue::mailbox`].
    tag: u64,
    handed: Handed<T>,
}

/// A waiting sender or reservation (`struct msg_sender`): the room it needs.
#[derive(Debug, Clone, Copy)]
struct Sender {
    size: usize,
}

// ===== State =====

/// Everything behind the queue's lock.
///
/// # Safety
///
/// (Not `unsafe`, but the same discipline:) every field may only be accessed while holding
/// [`Queue::state`]'s lock; they change together, so a reader holding the lock sees one
/// consistent queue.
#[derive(Debug)]
struct State<T> {
    /// Per-type FIFO lanes. Up to [`SPARE_LANES`] of them may be empty (kept for their
    /// buffers); every other lane has a head.
    lanes: BTreeMap<i64, VecDeque<Msg<T>>>,
    /// How many lanes are empty.
    empty_lanes: usize,
    /// `(seq, mtype)` of every lane's head: the first element is the oldest message.
    heads: BTreeSet<(u64, i64)>,
    next_seq: u64,
    /// `q_cbytes`, `q_qnum`: the messages in the lanes.
    cbytes: usize,
    qnum: usize,
    /// Room held by unused [`ReserveOp`] permits: counted against `qbytes` like messages,
    /// but not shown in `msg_cbytes`/`msg_qnum`.
    reserved_bytes: usize,
    reserved_count: usize,
    /// `q_qbytes`.
    qbytes: usize,
    /// Whether the queue is in complex mode (mirrors [`COMPLEX`] in [`Queue::tx`] and the
    /// ring's closed bit, which only the lock holder changes). In simple mode the lanes,
    /// the counts above and the receiver list are empty; the messages are in
    /// [`Queue::ring`], counted by the room in [`Queue::tx`] and [`Queue::rx`].
    complex: bool,
    /// Set by `IPC_RMID` under the lock (the header's flag is set too, for lock-free
    /// `EINVAL` checks).
    removed: bool,
    /// The messages `IPC_RMID` took out of the lanes, dropped by `after_remove` once the
    /// namespace's table lock is released: a message's destructor may call back into the
    /// namespace (a payload holding the last handle of a `remove_on_drop` queue removes that
    /// queue), which under the table lock would deadlock.
    removed_lanes: BTreeMap<i64, VecDeque<Msg<T>>>,
    receivers: WaitList<Receiver<T>>,
    senders: WaitList<Sender>,
    /// The writer of [`Queue::mailbox`]: a handoff puts the message there when it is empty.
    postman: Postman<Msg<T>>,
}

impl<T> State<T> {
    /// `msg_fits_inqueue`: both the bytes and the count against `qbytes`.
    fn fits(&self, size: usize) -> bool {
        let bytes = self.cbytes.saturating_add(self.reserved_bytes).saturating_add(size);
        let count = self.qnum.saturating_add(self.reserved_count).saturating_add(1);
        bytes <= self.qbytes && count <= self.qbytes
    }

    /// The lane and sequence number of the message `select` takes (`find_msg`), oldest
    /// matching first.
    fn find(&self, select: Select) -> Option<i64> {
        if self.qnum == 0 {
            // Nothing queued (a receiver about to wait, in a ping-pong): no map to search.
            return None;
        }
        match select {
            Select::Any => self.heads.first().map(|&(_, t)| t),
            Select::Type(t) => self.lanes.get(&t).is_some_and(|l| !l.is_empty()).then_some(t),
            // Only one lane is excluded, so at most two heads are looked at.
            Select::Except(x) => self.heads.iter().map(|&(_, t)| t).find(|&t| t != x),
            // At most SPARE_LANES empty lanes are skipped.
            Select::AtMost(max) => self.lanes.range(..=max).find(|(_, l)| !l.is_empty()).map(|(&t, _)| t),
        }
    }

    /// Takes the head of lane `mtype` out of the queue, with the accounting.
    fn pop_lane(&mut self, mtype: i64) -> Option<Msg<T>> {
        let lane = self.lanes.get_mut(&mtype)?;
        let msg = lane.pop_front()?;
        self.heads.remove(&(msg.seq, mtype));
        match lane.front() {
            Some(next) => {
                self.heads.insert((next.seq, mtype));
            }
            None if self.empty_lanes < SPARE_LANES => self.empty_lanes += 1,
            None => {
                self.lanes.remove(&mtype);
            }
        }
        self.cbytes -= msg.size;
        self.qnum -= 1;
        Some(msg)
    }

    /// Puts `msg` into its lane at the place its sequence number gives it (at the tail for a
    /// new message), with the accounting.
    fn insert(&mut self, msg: Msg<T>) {
        self.cbytes += msg.size;
        self.qnum += 1;
        let mtype = msg.mtype;
        let seq = msg.seq;
        let lane = match self.lanes.entry(mtype) {
            Entry::Occupied(e) => {
                let lane = e.into_mut();
                if lane.is_empty() {
                    // a kept spare lane comes back into use
                    self.empty_lanes -= 1;
                }
                lane
            }
            Entry::Vacant(e) => e.insert(VecDeque::new()),
        };
        let pos = lane.partition_point(|m| m.seq < seq);
        if pos == 0 {
            if let Some(old) = lane.front() {
                self.heads.remove(&(old.seq, mtype));
            }
            self.heads.insert((seq, mtype));
        }
        lane.insert(pos, msg);
    }

    /// `pipelined_send`, then the enqueue: hands `msg` to the first waiting receiver whose
    /// selector matches and whose `maxsize` takes it, failing each too-small matching
    /// receiver met on the way with `E2BIG`; queues it if none takes it.
    fn deliver(&mut self, msg: Msg<T>, wakes: &mut WakeList) -> Option<i32> {
        let mut cur = self.receivers.front();
        while let Some(id) = cur {
            cur = self.receivers.next(id);
            let Some(r) = self.receivers.get_mut(id) else { continue };
            if !r.select.matches(msg.mtype) {
                continue;
            }
            if r.maxsize < msg.size {
                r.handed = Handed::Err(ErrorKind::TooBig);
                self.receivers.notify(id, wakes);
                continue;
            }
            let pid = r.pid;
            match self.postman.put(r.tag, msg) {
                Ok(()) => {
                    // In the mailbox: the receiver takes it there without the lock, so its
                    // entry goes now (the wake-up with it).
                    self.receivers.notify_remove(id, wakes);
                }
                Err(msg) => {
                    r.handed = Handed::Msg(msg);
                    self.receivers.notify(id, wakes);
                }
            }
            return Some(pid);
        }
        self.insert(msg);
        None
    }
}

// ===== Queue =====

// The two room words, each on its own cache line: `Queue::tx` (the senders' side) and
// `Queue::rx` (the receivers' side), 64 bits each, with the same layout:
//
//   bit  0      tx: COMPLEX     the queue is in complex mode; simple sends may not start
//                               (simple receives are stopped by the ring's closed bit)
//   bit  1      tx: COLLECTING  a sender is moving the room in `rx` over to `tx`
//               rx: SENDERS     the sender list is not empty: a simple operation that
//                               frees room must take the lock and run `ss_wakeup`
//   bits 2..16  unused (no simple operation keeps an in-flight count: its room does, see
//               `Queue::make_complex`)
//   bits 16..40 room count  tx: messages that may still be sent; rx: messages' room given
//                           back by receives and not yet collected by a sender
//   bits 40..64 room bytes  the same in bytes
//
// In simple mode the free room is the sum of the two words' room fields, plus what a
// collector holds while it moves it (at most one at a time, under COLLECTING): in bytes
// `qbytes - cbytes`, in messages `cap - qnum`, where `cap` (`Queue::cap`) is `qbytes`
// capped at the ring's capacity — a message needs a slot. No field can overflow: the room
// in both words and in flight never exceeds `qbytes`, at most `SIMPLE_QBYTES_MAX`.
//
// Keeping the *remaining room* (not the used amount) in `tx` means a simple send's CAS
// decides the fit from the word alone: a CAS that succeeds on a stale read found the same
// room, so the decision holds (no ABA through a qbytes change).
const COMPLEX: u64 = 1;
const COLLECTING: u64 = 2;
const SENDERS: u64 = 2;
const ROOM_COUNT: u64 = 1 << 16;
const ROOM_BYTES: u64 = 1 << 40;
/// Both room fields.
const ROOM_MASK: u64 = !0xffff;
/// The largest `qbytes` simple mode handles (the room fields are 24 bits).
const SIMPLE_QBYTES_MAX: usize = (1 << 24) - 1;

/// The ring's slots when a queue is created (a small ring exercises its wrap-around under
/// loom).
const RING_INITIAL: usize = if cfg!(loom) { 2 } else { 16 };
/// The most slots the ring grows to: beyond it, messages past this many wait in complex
/// mode's lanes (which have no such limit).
const RING_MAX: usize = 1 << 12;

/// The room words' value with `count` messages and `bytes` bytes of room.
fn room(count: usize, bytes: usize) -> u64 {
    count as u64 * ROOM_COUNT + bytes as u64 * ROOM_BYTES
}

/// The room one message of `size` bytes takes, as the room fields hold it. Only for a
/// `size` that fitted (at most `SIMPLE_QBYTES_MAX`).
fn room_of(size: usize) -> u64 {
    ROOM_COUNT + size as u64 * ROOM_BYTES
}

/// Whether one message of `size` bytes fits in the room of `a` and `b` together (each
/// field added on its own, so two words read at different instants cannot carry).
fn fits_in(a: u64, b: u64, size: usize) -> bool {
    room_count(a) + room_count(b) >= 1 && room_bytes(a) + room_bytes(b) >= size as u64
}

fn room_count(word: u64) -> u64 {
    (word >> 16) & 0xff_ffff
}

fn room_bytes(word: u64) -> u64 {
    word >> 40
}

/// Stores `pid` unless the field already holds it. A send and a receive on different
/// threads would otherwise write the same cache line once per message; a load leaves it
/// shared. (Each field is one atomic, as before; concurrent operations' stamps were never
/// ordered among themselves.)
fn stamp_pid(field: &AtomicI32, pid: i32) {
    if field.load(Relaxed) != pid {
        field.store(pid, Relaxed);
    }
}

/// [`stamp_pid`] for a time in seconds: stored once a second, not once a message.
fn stamp_time(field: &AtomicI64, t: i64) {
    if field.load(Relaxed) != t {
        field.store(t, Relaxed);
    }
}

/// What [`Queue::try_simple_send`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SimpleSend {
    /// Sent.
    Sent,
    /// The message does not fit (decided by a collect, see [`Queue::enter_send`]): nothing
    /// changed. `slots`: only the message count was short at the collect's instant, not the
    /// bytes — when the ring caps the count below `qbytes` ([`Queue::ring_limited`]), the
    /// queue itself had room then, so neither `EAGAIN` nor a wait may follow from it.
    Full { slots: bool },
    /// Complex mode: nothing changed.
    Busy,
    /// The FIFO holds another type: the room taken was given back, and `wake` says whether
    /// `SENDERS` was set then (someone must run `ss_wakeup`, under the lock).
    OtherType { wake: bool },
    /// The permissions changed since the caller's check: the room taken was given back (as
    /// for `OtherType`), and the locked path checks again.
    Recheck { wake: bool },
}

/// The shared object behind every handle on one queue: `struct msg_queue`.
///
/// See the module docs of [`crate::msg`], "Implementation", for the two modes.
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
    stime: AtomicI64,
    rtime: AtomicI64,
    lspid: AtomicI32,
    lrpid: AtomicI32,
    state: Mutex<State<T>>,
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

/// A `msgsnd` in progress.
#[derive(Debug)]
pub(crate) struct SendOp<T> {
    pub(crate) mtype: i64,
    pub(crate) size: usize,
    /// The message, until it is sent; an error leaves it here for the caller.
    pub(crate) msg: Option<T>,
    started: bool,
    waiter: Option<WaiterId>,
}

impl<T> SendOp<T> {
    pub(crate) fn new(mtype: i64, size: usize, msg: T) -> SendOp<T> {
        SendOp { mtype, size, msg: Some(msg), started: false, waiter: None }
    }
}

/// A `msgrcv` in progress.
#[derive(Debug)]
pub(crate) struct RecvOp {
    pub(crate) select: Select,
    pub(crate) maxsize: usize,
    started: bool,
    waiter: Option<WaiterId>,
    /// Its mailbox tag while it waits (see [`Queue::mailbox`]).
    tag: u64,
}

impl RecvOp {
    pub(crate) fn new(select: Select, maxsize: usize) -> RecvOp {
        RecvOp { select, maxsize, started: false, waiter: None, tag: 0 }
    }

    /// Whether it is registered as a waiter.
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiter.is_some()
    }
}

/// A `reserve` in progress: waits for room like a sender, then holds it.
#[derive(Debug)]
pub(crate) struct ReserveOp {
    pub(crate) size: usize,
    started: bool,
    waiter: Option<WaiterId>,
}

impl ReserveOp {
    pub(crate) fn new(size: usize) -> ReserveOp {
        ReserveOp { size, started: false, waiter: None }
    }
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
            stime: AtomicI64::new(0),
            rtime: AtomicI64::new(0),
            lspid: AtomicI32::new(0),
            lrpid: AtomicI32::new(0),
            state: Mutex::new(State {
                lanes: BTreeMap::new(),
                removed_lanes: BTreeMap::new(),
                empty_lanes: 0,
                heads: BTreeSet::new(),
                next_seq: 0,
                cbytes: 0,
                qnum: 0,
                reserved_bytes: 0,
                reserved_count: 0,
                qbytes,
                complex: !simple,
                removed: false,
                receivers: WaitList::new(),
                senders: WaitList::new(),
                postman,
            }),
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

    /// The lookup of a call's first poll: `EINVAL` once the queue is removed.
    fn start(&self, started: &mut bool) -> Result<(), ErrorKind> {
        if !*started {
            self.header.check_live()?;
            *started = true;
        }
        Ok(())
    }

    // ----- the two modes -----

    /// Gives back the room of one message of `size` bytes into `rx` (a receive's, or a send
    /// that must go back to the lock); returns whether `SENDERS` was set. AcqRel: the lock
    /// holder draining the ring sees the operation's effects once it sees the room, and a
    /// sender that set `SENDERS` before this RMW is seen (see [`Queue::poll_send`]).
    fn give_back(&self, size: usize) -> bool {
        // The room given back cannot overflow its fields (see the layout).
        self.rx.fetch_add(room_of(size), AcqRel) & SENDERS != 0
    }

    /// Starts a simple send of `size` bytes: a CAS on `tx` takes one message and `size`
    /// bytes of room — `msg_fits_inqueue`, both conditions in one step.
    ///
    /// A simple send keeps no in-flight count: taking room is its whole entry, and a mode
    /// switch waits for every message whose room was taken to be pushed or its room given
    /// back (see [`Queue::make_complex`]).
    ///
    /// When `tx` lacks the room, the sender **collects**: a CAS sets `COLLECTING` (a mode
    /// switch waits for it to clear) on a `tx` value whose room is short, one
    /// RMW takes all the room `rx` holds, and one RMW adds it to `tx` and clears
    /// `COLLECTING`; then it tries again. Only a collector decides that the message does
    /// not fit, and only when `tx`'s room at its CAS plus what it took from `rx` is short.
    /// That decision is right at the instant of its RMW on `rx`: while `COLLECTING` is set
    /// nothing adds room to `tx` (only a collector does, one at a time; give-backs go to
    /// `rx`), so the room then was at most what it counted. Other senders that find the
    /// room short while a collect runs wait for it (a few instructions, never blocking).
    /// [`Busy`](SimpleSend::Busy) in complex mode.
    fn enter_send(&self, size: usize) -> Result<(), SimpleSend> {
        let mut cur = self.tx.load(Relaxed);
        let mut spins = 0u32;
        loop {
            if cur & COMPLEX != 0 {
                return Err(SimpleSend::Busy);
            }
            if fits_in(cur, 0, size) {
                match self.tx.compare_exchange_weak(cur, cur - room_of(size), Acquire, Relaxed) {
                    Ok(_) => return Ok(()),
                    Err(now) => cur = now,
                }
                continue;
            }
            if cur & COLLECTING != 0 {
                backoff(&mut spins);
                cur = self.tx.load(Relaxed);
                continue;
            }
            if let Err(now) = self.tx.compare_exchange_weak(cur, cur + COLLECTING, Acquire, Relaxed) {
                cur = now;
                continue;
            }
            let (given, after) = self.collect_rx();
            let enough = fits_in(cur, given, size);
            let bytes = room_bytes(cur) + room_bytes(given) >= size as u64;
            cur = after;
            if !enough {
                return Err(SimpleSend::Full { slots: bytes });
            }
        }
    }

    /// Gathers the room `rx` holds into `tx`, as a collector does, for the lock holder in
    /// simple mode; returns `tx` just after. Every room freed before this call is then in
    /// the returned word or already taken by a send (see [`Queue::wake_senders`]).
    fn consolidate(&self) -> u64 {
        let mut cur = self.tx.load(Relaxed);
        let mut spins = 0u32;
        loop {
            // The lock holder in simple mode: nobody sets COMPLEX meanwhile.
            if cur & (COLLECTING | COMPLEX) != 0 {
                backoff(&mut spins);
                cur = self.tx.load(Relaxed);
                continue;
            }
            match self.tx.compare_exchange_weak(cur, cur + COLLECTING, Acquire, Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.collect_rx().1
    }

    /// The body of a collect, for the thread whose CAS set `COLLECTING` in `tx`: takes all
    /// the room `rx` holds, adds it to `tx` and clears `COLLECTING` in one RMW. Returns the
    /// room taken and `tx` just after. `tx`'s room plus the room taken is free room counted
    /// once, so it stays within the fields.
    fn collect_rx(&self) -> (u64, u64) {
        let given = self.rx.fetch_and(!ROOM_MASK, Relaxed) & ROOM_MASK;
        let back = given.wrapping_sub(COLLECTING);
        (given, self.tx.fetch_add(back, Release).wrapping_add(back))
    }

    /// Puts the queue in complex mode, under the lock: sets `COMPLEX` in `tx` (no simple
    /// send starts after it) and closes the ring (no simple receive claims a message after
    /// it), waits for a collect to finish, and drains the ring into its lane with fresh
    /// sequence numbers (the lanes are empty in simple mode). The room fields are dead
    /// until [`Queue::maybe_simplify`] stores them afresh.
    ///
    /// No simple operation keeps an in-flight count; its room does. Once `tx` is `COMPLEX`
    /// and no collect runs, its room is final, and each of the `cap` messages' worth of room
    /// of simple mode is free (in `tx` or `rx`), in the ring, or held by an operation still
    /// running: a send that has not pushed yet (or not yet given its room back, to `rx`), a
    /// receive that claimed its message before the close and has not yet given the room
    /// back. So the ring is drained until what it gave plus the two words' room make `cap`:
    /// then no simple operation is left running. (`rx` only grows meanwhile; a send pushes
    /// last, after its stamps, and a receive gives back last, so nothing of either runs
    /// after that.)
    fn make_complex(&self, st: &mut State<T>) {
        if st.complex {
            return;
        }
        st.complex = true;
        self.tx.fetch_or(COMPLEX, AcqRel);
        self.ring.close();
        let mut spins = 0u32;
        while self.tx.load(Acquire) & COLLECTING != 0 {
            backoff(&mut spins);
        }
        let cap = self.cap.load(Relaxed) as u64;
        let free = room_count(self.tx.load(Acquire));
        let mut moved = 0u64;
        spins = 0;
        loop {
            if let Some(mut msg) = self.ring.take_closed() {
                msg.seq = st.next_seq;
                st.next_seq += 1;
                st.insert(msg);
                moved += 1;
                continue;
            }
            // Acquire: a send that gave its room back did so after its type claim; a
            // receive, after its pop.
            if moved + free + room_count(self.rx.load(Acquire)) >= cap {
                break;
            }
            // An operation between its room and its push or give-back (a few
            // instructions, never blocking).
            backoff(&mut spins);
        }
    }

    /// Back to simple mode, under the lock, when nothing needs the full structure: no
    /// message queued, no room held, no receiver waiting, the queue alive and `qbytes`
    /// within the word's 24-bit room fields. The next simple send claims the ring's type.
    fn maybe_simplify(&self, st: &mut State<T>) {
        if st.complex && st.qnum == 0 && self.may_simplify(st) {
            self.simplify(st, None);
        }
    }

    /// What simple mode needs besides the lanes' contents: no room held by a permit, no
    /// receiver waiting, the queue alive and `qbytes` within the room fields.
    fn may_simplify(&self, st: &State<T>) -> bool {
        !st.removed && st.reserved_count == 0 && st.receivers.is_empty() && st.qbytes <= SIMPLE_QBYTES_MAX
    }

    /// A send found the ring full, under the lock in simple mode, while `qbytes` has room
    /// for more messages: doubles the ring (up to [`RING_MAX`]) and goes on in simple mode,
    /// the way a `Vec` grows — so a queue's ring ends up as large as its traffic needs,
    /// each message moved O(1) times on average. `false` when it is as large as it gets.
    fn grow_ring(&self, st: &mut State<T>) -> bool {
        let slots = self.ring.capacity();
        if slots >= RING_MAX || !self.may_simplify(st) {
            return false;
        }
        // Drains the ring into the one lane of its type, and stops every simple operation.
        self.make_complex(st);
        self.simplify(st, Some(slots * 2));
        true
    }

    /// Back to simple mode, under the lock, with the lanes holding messages of at most one
    /// type, no more than the ring (grown to `grow` slots if given) holds: they move into
    /// the ring, oldest first, before it reopens, so a receive sees all of them or the
    /// closed ring (and takes the lock). Then `rx` is stored with no room, and `tx` with the
    /// room the moved messages leave.
    fn simplify(&self, st: &mut State<T>, grow: Option<usize>) {
        if let Some(slots) = grow {
            // Closed and drained (`make_complex`), nothing pushing: cannot fail.
            self.ring.grow(slots);
        }
        let cap = st.qbytes.min(self.ring.capacity());
        let mtype = st.heads.first().map_or(0, |&(_, t)| t);
        let (count, bytes) = (st.qnum, st.cbytes);
        debug_assert!(count <= cap && st.heads.len() <= 1, "{count} messages, {} lanes", st.heads.len());
        while let Some(msg) = st.pop_lane(mtype) {
            self.ring.push(msg);
        }
        st.complex = false;
        self.qbytes.store(st.qbytes, Relaxed);
        self.cap.store(cap, Relaxed);
        self.simple_type.store(mtype, Relaxed);
        let senders = if st.senders.is_empty() { 0 } else { SENDERS };
        // Nothing else writes the words now: simple sends cannot start (COMPLEX) and none
        // is in flight, and the flags change only under the lock we hold. Release: a simple
        // operation that enters sees the stores above. `rx` first: receives may give room
        // back once the ring is open.
        self.rx.store(senders, Release);
        self.ring.reopen();
        self.tx.store(room(cap - count, st.qbytes - bytes), Release);
    }

    /// Whether simple mode's message count is capped by the ring rather than `qbytes`: then
    /// a send that finds no room may still fit the queue, in complex mode.
    fn ring_limited(&self) -> bool {
        self.cap.load(Relaxed) < self.qbytes.load(Relaxed)
    }

    /// The simple send: it fits (one CAS takes the room, after a collect if need be), the
    /// message's type is the ring's (or claims it), and it is pushed. Otherwise nothing
    /// changed and the locked path decides; see [`SimpleSend`].
    ///
    /// `checked` is the permissions' version the caller's write check passed at, for a
    /// call without the lock (`None` under it: `IPC_SET` cannot run then). The send
    /// linearizes at its CAS on `tx`, after the check: an `IPC_SET` in between — it runs
    /// in complex mode, so the CAS found the simple mode that came after it, and the
    /// version loaded after the CAS (Acquire) shows it — sends it back to the lock to check
    /// again ([`Recheck`](SimpleSend::Recheck)), so a write permission taken away is never
    /// ignored.
    fn try_simple_send(
        &self,
        pid: i32,
        checked: Option<u32>,
        mtype: i64,
        size: usize,
        payload: &mut Option<T>,
    ) -> SimpleSend {
        if payload.is_none() {
            // Polled again after it completed: nothing to send, no room to take.
            return SimpleSend::Sent;
        }
        if let Err(not_entered) = self.enter_send(size) {
            return not_entered;
        }
        let stale = checked.is_some_and(|v| !self.header.perm().unchanged_since(v));
        if stale || !self.claim_type(mtype) {
            // Give the room back, to `rx` where freed room goes (a mode switch waits for
            // it); a sender that saw it taken may be waiting for it.
            let wake = self.give_back(size);
            return if stale { SimpleSend::Recheck { wake } } else { SimpleSend::OtherType { wake } };
        }
        // Stamps first: the push is the send's last touch of the queue, so a mode switch
        // that has seen it knows the send is over.
        self.sent(pid);
        if let Some(payload) = payload.take() {
            // The room taken is a slot: the ring holds at most `cap` messages.
            self.ring.push(Msg { seq: 0, mtype, size, payload });
        }
        SimpleSend::Sent
    }

    /// Whether the ring takes `mtype`: its type already, or unclaimed and now claimed.
    fn claim_type(&self, mtype: i64) -> bool {
        match self.simple_type.load(Relaxed) {
            t if t == mtype => true,
            0 => match self.simple_type.compare_exchange(0, mtype, Relaxed, Relaxed) {
                Ok(_) => true,
                Err(cur) => cur == mtype,
            },
            _ => false,
        }
    }

    /// The simple receive: the ring's type matches `select` and the ring has a message; the
    /// RMW that ends it gives the room back. `Err(true)`: the ring is open and holds no
    /// matching message — every queued message is in the ring then, of its one type, so
    /// `IPC_NOWAIT` can answer `ENOMSG` without the lock (a send that completed before this
    /// call began had claimed the type and pushed before). `Err(false)`: complex mode.
    ///
    /// `checked` is the permissions' version the caller's read check passed at. The receive
    /// linearizes at its pop (or, finding nothing, at its read of the ring's head), after
    /// the check: an `IPC_SET` in between runs in complex mode, so the pop either fails on
    /// the closed ring or found the reopened one, whose head it read with Acquire after
    /// the `IPC_SET` changed the version. So the version is compared after that read —
    /// before the pop claims, and before `ENOMSG` is answered — and a change sends the call
    /// to the lock (`Err(false)`) to check again: a read permission taken away is never
    /// ignored.
    fn try_simple_recv(&self, pid: i32, checked: u32, select: Select) -> Result<Msg<T>, bool> {
        let perm = self.header.perm();
        // Called once the head message is seen written (Acquire), so the type its sender
        // claimed before pushing is seen.
        let accept = || {
            let t = self.simple_type.load(Relaxed);
            t != 0 && select.matches(t) && perm.unchanged_since(checked)
        };
        match self.ring.pop_if(accept) {
            Pop::Taken(msg) => {
                self.received(pid);
                if self.give_back(msg.size) {
                    self.wake_senders_locked();
                }
                Ok(msg)
            }
            Pop::Empty | Pop::Refused => Err(perm.unchanged_since(checked)),
            Pop::Closed => Err(false),
        }
    }

    /// `ss_wakeup` after a simple operation freed room with `SENDERS` set. Not while in
    /// flight: the lock holder may be draining us.
    fn wake_senders_locked(&self) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        self.wake_senders(&mut st, &mut wakes);
    }

    /// `ss_wakeup(.., kill = false)`: wakes every waiting sender whose own size fits the
    /// current state, moving the others to the tail.
    ///
    /// In simple mode the room is first [consolidated](Queue::consolidate) into `tx`: a
    /// plain read of both words could miss room a collector holds between them. Room freed
    /// after that finds `SENDERS` set (the list is not empty) and calls this again.
    fn wake_senders(&self, st: &mut State<T>, wakes: &mut WakeList) {
        if st.senders.is_empty() {
            return;
        }
        let room = if st.complex { 0 } else { self.consolidate() };
        for _ in 0..st.senders.len() {
            let Some(id) = st.senders.front() else { break };
            let size = st.senders.get(id).map_or(0, |s| s.size);
            // A ring-limited count is not the queue's: let the sender try (it goes to
            // complex mode when the ring is what is full).
            let fits = if st.complex {
                st.fits(size)
            } else {
                fits_in(room, 0, size) || (self.ring_limited() && room_bytes(room) >= size as u64)
            };
            if fits {
                st.senders.notify(id, wakes);
            } else {
                st.senders.move_to_back(id);
            }
        }
        self.sync_senders(st);
    }

    /// Keeps `SENDERS` equal to "the sender list is not empty" (under the lock). AcqRel: an
    /// RMW on `rx`, so it is ordered with every simple receive's `give_back`.
    ///
    /// A load first: the flag changes only under the lock, so when it already holds the
    /// right value no RMW is needed — and the argument in [`Queue::poll_send`] still holds,
    /// because the RMW that set it came before our load in `rx`'s order.
    fn sync_senders(&self, st: &State<T>) {
        let set = self.rx.load(Relaxed) & SENDERS != 0;
        if st.senders.is_empty() {
            if set {
                self.rx.fetch_and(!SENDERS, AcqRel);
            }
        } else if !set {
            self.rx.fetch_or(SENDERS, AcqRel);
        }
    }

    /// `msg_lspid`/`msg_stime` of a send.
    fn sent(&self, pid: i32) {
        stamp_pid(&self.lspid, pid);
        stamp_time(&self.stime, now());
    }

    /// `msg_lrpid`/`msg_rtime` of a receive.
    fn received(&self, pid: i32) {
        stamp_pid(&self.lrpid, pid);
        stamp_time(&self.rtime, now());
    }

    /// A locked send's stamps, and a handoff's too when `deliver` gave the message to the
    /// receiver `rpid`: one clock read for both, as the kernel's `pipelined_send` stamps
    /// `msg_rtime` and its caller `msg_stime` in the same call.
    fn sent_and_handed(&self, pid: i32, rpid: Option<i32>) {
        let t = now();
        stamp_pid(&self.lspid, pid);
        stamp_time(&self.stime, t);
        if let Some(rpid) = rpid {
            stamp_pid(&self.lrpid, rpid);
            stamp_time(&self.rtime, t);
        }
    }

    // ----- msgsnd -----

    /// Polls a send (`do_msgsnd`'s loop). `cx == None` is `IPC_NOWAIT`. On `Ready(Err)` the
    /// message is still in `op.msg`.
    pub(crate) fn poll_send(
        &self,
        creds: &Credentials,
        op: &mut SendOp<T>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        // The version of the permissions this poll checked: under the lock, an unchanged
        // version means the check still holds (IPC_SET changes them under the lock).
        let mut checked = None;
        if op.waiter.is_none() && !op.started {
            if let Err(e) = self.start(&mut op.started) {
                return Poll::Ready(Err(e));
            }
            match self.header.perm().check_versioned(creds, WRITE) {
                Ok(v) => checked = Some(v),
                Err(e) => return Poll::Ready(Err(e)),
            }
            match self.try_simple_send(creds.pid(), checked, op.mtype, op.size, &mut op.msg) {
                SimpleSend::Sent => return Poll::Ready(Ok(())),
                // the room it gave back may be what a waiting sender needs
                SimpleSend::OtherType { wake: true } | SimpleSend::Recheck { wake: true } => {
                    self.wake_senders_locked()
                }
                _ => {}
            }
        }
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        if let Some(done) =
            self.sender_pass(&mut st, creds, checked, &mut op.waiter, &mut op.started, cx.as_deref())
        {
            return done;
        }
        // A handoff leaves the queue in complex mode (below): the receiver it woke often waits
        // again soon (ping-pong), and a receiver that waits needs complex mode. The next
        // locked send that finds nobody waiting and nothing queued goes back to simple mode
        // first, so a burst after it runs lock-free again.
        self.maybe_simplify(&mut st);
        if !st.complex {
            // Simple mode under the lock: nobody waits to receive (that needs complex mode),
            // so the message goes to the ring — or, when it does not fit, this sender waits
            // without leaving simple mode. (A message of another type needs the lanes.)
            let mut outcome = self.try_simple_send(creds.pid(), None, op.mtype, op.size, &mut op.msg);
            let t = self.simple_type.load(Relaxed);
            let ours = t == 0 || t == op.mtype;
            // Full because every slot was taken while `qbytes` had room: not the queue's
            // "full", which only a collect that found the bytes (or the count at `qbytes`)
            // short decides.
            let slots_full = |o: SimpleSend| o == SimpleSend::Full { slots: true } && self.ring_limited();
            if ours && slots_full(outcome) && self.grow_ring(&mut st) {
                // The ring was full, not the queue: try again with more slots.
                outcome = self.try_simple_send(creds.pid(), None, op.mtype, op.size, &mut op.msg);
            }
            let queue_full = |o: SimpleSend| matches!(o, SimpleSend::Full { .. }) && !slots_full(o);
            if ours && queue_full(outcome) {
                let Some(cx) = cx.as_deref() else { return Poll::Ready(Err(ErrorKind::WouldBlock)) };
                let id = st.senders.push_back(Sender { size: op.size }, cx.waker());
                self.sync_senders(&st);
                // No lost wake-up with `try_simple_recv`, which gives room back in the RMW
                // on `rx` that ends it and that also reads `SENDERS`. `SENDERS` is set in
                // `rx` now, and then we try again: a send that finds the room short decides
                // so only through a collect, whose RMW on `rx` comes after ours. If the
                // receive's RMW came first, that collect (or the one it waited for) finds
                // the room; if ours came first, the receive sees `SENDERS` and runs
                // `ss_wakeup` under the lock after we release it.
                outcome = self.try_simple_send(creds.pid(), None, op.mtype, op.size, &mut op.msg);
                if queue_full(outcome) {
                    op.waiter = Some(id);
                    return Poll::Pending;
                }
                // Nobody notified it: that needs the lock, which we hold.
                st.senders.remove(id);
                self.sync_senders(&st);
            }
            match outcome {
                SimpleSend::Sent => return Poll::Ready(Ok(())),
                // (Recheck cannot happen under the lock.)
                SimpleSend::OtherType { wake } | SimpleSend::Recheck { wake } => {
                    self.make_complex(&mut st);
                    if wake {
                        // We hold the lock: `ss_wakeup` here, not through `wake_senders_locked`.
                        self.wake_senders(&mut st, &mut wakes);
                    }
                }
                // Full with another type in the ring, or a full ring that cannot grow: complex
                // mode's exact counts decide (Busy cannot happen: we hold the lock in simple
                // mode).
                SimpleSend::Full { .. } | SimpleSend::Busy => self.make_complex(&mut st),
            }
        }
        if st.fits(op.size) {
            let Some(payload) = op.msg.take() else { return Poll::Ready(Ok(())) };
            let seq = st.next_seq;
            st.next_seq += 1;
            let rpid = st.deliver(Msg { seq, mtype: op.mtype, size: op.size, payload }, &mut wakes);
            self.sent_and_handed(creds.pid(), rpid);
            // No `maybe_simplify`: handed off, the queue stays complex (see above); queued,
            // it is not empty.
            return Poll::Ready(Ok(()));
        }
        self.sender_waits(&mut st, op.size, &mut op.waiter, cx)
    }

    /// The head of every pass of `do_msgsnd`'s loop, for a send or a reservation: a woken
    /// sender comes off the wait list (`EIDRM` if the queue went meanwhile); then the
    /// liveness check of the first pass, the write permission (re-checked on every pass, as
    /// the kernel does) and removal. `Some` ends the poll: still waiting, or an error.
    fn sender_pass(
        &self,
        st: &mut MutexGuard<'_, State<T>>,
        creds: &Credentials,
        checked: Option<u32>,
        waiter: &mut Option<WaiterId>,
        started: &mut bool,
        cx: Option<&Context<'_>>,
    ) -> Option<Poll<Result<(), ErrorKind>>> {
        if let Some(id) = *waiter {
            let Some(cx) = cx else { return Some(Poll::Pending) };
            if let Some(WaiterState::Waiting) = st.senders.register(id, cx.waker()) {
                return Some(Poll::Pending);
            }
            st.senders.remove(id);
            self.sync_senders(st);
            *waiter = None;
            if st.removed {
                return Some(Poll::Ready(Err(ErrorKind::Removed)));
            }
        }
        if let Err(e) = self.start(started) {
            return Some(Poll::Ready(Err(e)));
        }
        if let Err(e) = self.header.perm().check_again(creds, WRITE, checked) {
            return Some(Poll::Ready(Err(e)));
        }
        if st.removed {
            return Some(Poll::Ready(Err(ErrorKind::Removed)));
        }
        None
    }

    /// A sender whose `size` does not fit: `EAGAIN` under `IPC_NOWAIT` (`cx == None`), else
    /// onto the senders' list until a receive, `IPC_SET` or removal wakes it.
    fn sender_waits(
        &self,
        st: &mut MutexGuard<'_, State<T>>,
        size: usize,
        waiter: &mut Option<WaiterId>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        match cx {
            None => {
                self.maybe_simplify(st);
                Poll::Ready(Err(ErrorKind::WouldBlock))
            }
            Some(cx) => {
                *waiter = Some(st.senders.push_back(Sender { size }, cx.waker()));
                self.sync_senders(st);
                Poll::Pending
            }
        }
    }

    /// A send future dropped while waiting: off the list; a wake-up it had taken passes on.
    pub(crate) fn cancel_send(&self, waiter: &mut Option<WaiterId>) {
        let Some(id) = waiter.take() else { return };
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        if let Some((_, WaiterState::Notified)) = st.senders.remove(id) {
            self.wake_senders(&mut st, &mut wakes);
        }
        self.sync_senders(&st);
    }

    pub(crate) fn cancel_send_op(&self, op: &mut SendOp<T>) {
        self.cancel_send(&mut op.waiter);
    }

    // ----- reserve -----

    /// Polls a reservation of `op.size` bytes and one message of room; `Ready(Ok)` means the
    /// room is held until [`Queue::send_reserved`] or [`Queue::release`].
    pub(crate) fn poll_reserve(
        &self,
        creds: &Credentials,
        op: &mut ReserveOp,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        let mut st = self.lock();
        self.make_complex(&mut st);
        if let Some(done) =
            self.sender_pass(&mut st, creds, None, &mut op.waiter, &mut op.started, cx.as_deref())
        {
            return done;
        }
        if st.fits(op.size) {
            st.reserved_bytes += op.size;
            st.reserved_count += 1;
            return Poll::Ready(Ok(()));
        }
        self.sender_waits(&mut st, op.size, &mut op.waiter, cx)
    }

    pub(crate) fn cancel_reserve(&self, op: &mut ReserveOp) {
        self.cancel_send(&mut op.waiter);
    }

    /// Sends through a held reservation of `reserved` bytes (`msg.size <= reserved`): cannot
    /// wait or fail. On a removed queue the message is dropped, as the queue's messages were.
    pub(crate) fn send_reserved(&self, pid: i32, reserved: usize, mtype: i64, size: usize, payload: T) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        self.make_complex(&mut st);
        st.reserved_bytes -= reserved;
        st.reserved_count -= 1;
        if st.removed {
            drop(st);
            drop(payload);
            return;
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let rpid = st.deliver(Msg { seq, mtype, size, payload }, &mut wakes);
        self.sent_and_handed(pid, rpid);
        if size < reserved {
            self.wake_senders(&mut st, &mut wakes);
        }
        self.maybe_simplify(&mut st);
    }

    /// Gives an unused reservation's room back and wakes the senders that now fit.
    pub(crate) fn release(&self, reserved: usize) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        self.make_complex(&mut st);
        st.reserved_bytes -= reserved;
        st.reserved_count -= 1;
        self.wake_senders(&mut st, &mut wakes);
        self.maybe_simplify(&mut st);
    }

    // ----- msgrcv -----

    /// Polls a receive (`do_msgrcv`'s loop). `cx == None` is `IPC_NOWAIT`.
    pub(crate) fn poll_recv(
        &self,
        creds: &Credentials,
        op: &mut RecvOp,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<Msg<T>, ErrorKind>> {
        // As in `poll_send`: the version this poll's permission check saw.
        let mut checked = None;
        if op.waiter.is_none() && !op.started {
            if let Err(e) = self.start(&mut op.started) {
                return Poll::Ready(Err(e));
            }
            let version = match self.header.perm().check_versioned(creds, READ) {
                Ok(v) => v,
                Err(e) => return Poll::Ready(Err(e)),
            };
            checked = Some(version);
            // A receive that may wait skips the lock-free attempt when the ring looks empty:
            // it would find nothing and take the lock anyway (an `IPC_NOWAIT` one still
            // tries, to answer `ENOMSG` without the lock).
            if op.maxsize == usize::MAX && (cx.is_none() || !self.ring.looks_empty()) {
                match self.try_simple_recv(creds.pid(), version, op.select) {
                    Ok(msg) => return Poll::Ready(Ok(msg)),
                    // `IPC_NOWAIT` on a simple-mode queue with nothing matching: no need to
                    // switch to complex mode (and back) just to find the lanes empty.
                    Err(true) if cx.is_none() => return Poll::Ready(Err(ErrorKind::NoMessage)),
                    Err(_) => {}
                }
            }
        }
        // Handed a message through the mailbox: no lock needed to collect it.
        if let Some(msg) = self.take_handed(op) {
            return Poll::Ready(Ok(msg));
        }
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        // Under the lock the mailbox is the whole truth: a handoff puts there under it.
        if let Some(msg) = self.take_handed(op) {
            return Poll::Ready(Ok(msg));
        }
        if let Some(id) = op.waiter {
            let Some(cx) = cx.as_deref() else { return Poll::Pending };
            match st.receivers.register(id, cx.waker()) {
                Some(WaiterState::Waiting) => return Poll::Pending,
                _ => {
                    op.waiter = None;
                    match st.receivers.remove(id).map(|(r, _)| r.handed) {
                        Some(Handed::Msg(m)) => return Poll::Ready(Ok(m)),
                        Some(Handed::Err(e)) => return Poll::Ready(Err(e)),
                        Some(Handed::Retry | Handed::Nothing) | None => {}
                    }
                }
            }
        }
        self.make_complex(&mut st);
        if let Err(e) = self.start(&mut op.started) {
            return Poll::Ready(Err(e));
        }
        if let Err(e) = self.header.perm().check_again(creds, READ, checked) {
            return Poll::Ready(Err(e));
        }
        if st.removed {
            return Poll::Ready(Err(ErrorKind::Removed));
        }
        if let Some(mtype) = st.find(op.select) {
            let size = st.lanes.get(&mtype).and_then(VecDeque::front).map_or(0, |m| m.size);
            if size > op.maxsize {
                return Poll::Ready(Err(ErrorKind::TooBig));
            }
            if let Some(msg) = st.pop_lane(mtype) {
                self.received(creds.pid());
                self.wake_senders(&mut st, &mut wakes);
                self.maybe_simplify(&mut st);
                return Poll::Ready(Ok(msg));
            }
        }
        match cx {
            None => {
                self.maybe_simplify(&mut st);
                Poll::Ready(Err(ErrorKind::NoMessage))
            }
            Some(cx) => {
                op.tag = st.postman.tag();
                let r = Receiver {
                    select: op.select,
                    maxsize: op.maxsize,
                    pid: creds.pid(),
                    tag: op.tag,
                    handed: Handed::Nothing,
                };
                op.waiter = Some(st.receivers.push_back(r, cx.waker()));
                Poll::Pending
            }
        }
    }

    /// The message a handoff left in the mailbox for `op`, which then waits no more.
    fn take_handed(&self, op: &mut RecvOp) -> Option<Msg<T>> {
        op.waiter?;
        let msg = self.mailbox.take(op.tag)?;
        op.waiter = None;
        Some(msg)
    }

    /// A receive future dropped while registered: off the list. A message it had been
    /// handed goes back — to the next matching receiver, or into the queue at its place
    /// (oldest first) — so nothing is lost or duplicated.
    pub(crate) fn cancel_recv(&self, op: &mut RecvOp) {
        let Some(id) = op.waiter.take() else { return };
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        // Handed a message through the mailbox (its entry is gone), or through the entry.
        let msg = match self.mailbox.take(op.tag) {
            Some(m) => m,
            None => match st.receivers.remove(id) {
                Some((Receiver { handed: Handed::Msg(m), .. }, _)) => m,
                _ => return,
            },
        };
        if st.removed {
            drop(st);
            drop(msg);
            return;
        }
        self.make_complex(&mut st);
        if let Some(pid) = st.deliver(msg, &mut wakes) {
            self.received(pid);
        }
        self.maybe_simplify(&mut st);
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
            self.maybe_simplify(&mut st);
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
        let mut cur = st.receivers.front();
        while let Some(id) = cur {
            cur = st.receivers.next(id);
            if let Some(r) = st.receivers.get_mut(id) {
                r.handed = Handed::Retry;
            }
            st.receivers.notify(id, &mut wakes);
        }
        self.wake_senders(&mut st, &mut wakes);
        self.maybe_simplify(&mut st);
        Ok(())
    }

    /// `freeque`: marks the queue removed, fails every waiter with `EIDRM` and frees the
    /// messages (dropped after the lock is released).
    fn free(&self) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        // Complex mode for good: simple operations in flight finish first (they linearize
        // before the removal), and none starts afterwards (`maybe_simplify` refuses).
        self.make_complex(&mut st);
        st.removed = true;
        self.header.mark_deleted();
        let mut cur = st.receivers.front();
        while let Some(id) = cur {
            cur = st.receivers.next(id);
            if let Some(r) = st.receivers.get_mut(id) {
                r.handed = Handed::Err(ErrorKind::Removed);
            }
            st.receivers.notify(id, &mut wakes);
        }
        st.senders.notify_all(&mut wakes);
        self.sync_senders(&st);
        st.removed_lanes = mem::take(&mut st.lanes);
        st.empty_lanes = 0;
        st.heads.clear();
        st.cbytes = 0;
        st.qnum = 0;
        drop(st);
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
    use super::*;

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
