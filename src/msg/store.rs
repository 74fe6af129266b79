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
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::sys::coarse_now as now;

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
    stime: i64,
    rtime: i64,
    lspid: i32,
    lrpid: i32,
    /// Set by `IPC_RMID` under the lock (the header's flag is set too, for lock-free
    /// `EINVAL` checks).
    removed: bool,
    receivers: WaitList<Receiver<T>>,
    senders: WaitList<Sender>,
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
    fn deliver(&mut self, msg: Msg<T>, wakes: &mut WakeList) {
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
            r.handed = Handed::Msg(msg);
            self.receivers.notify(id, wakes);
            self.lrpid = pid;
            self.rtime = now();
            return;
        }
        self.insert(msg);
    }

    /// `ss_wakeup(.., kill = false)`: wakes every waiting sender whose own size fits the
    /// current state, moving the others to the tail.
    fn wake_senders(&mut self, wakes: &mut WakeList) {
        for _ in 0..self.senders.len() {
            let Some(id) = self.senders.front() else { break };
            let size = self.senders.get(id).map_or(0, |s| s.size);
            if self.fits(size) {
                self.senders.notify(id, wakes);
            } else {
                self.senders.move_to_back(id);
            }
        }
    }
}

// ===== Queue =====

/// The shared object behind every handle on one queue: `struct msg_queue`.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    header: Header,
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
}

impl RecvOp {
    pub(crate) fn new(select: Select, maxsize: usize) -> RecvOp {
        RecvOp { select, maxsize, started: false, waiter: None }
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
        Queue {
            header,
            state: Mutex::new(State {
                lanes: BTreeMap::new(),
                empty_lanes: 0,
                heads: BTreeSet::new(),
                next_seq: 0,
                cbytes: 0,
                qnum: 0,
                reserved_bytes: 0,
                reserved_count: 0,
                qbytes,
                stime: 0,
                rtime: 0,
                lspid: 0,
                lrpid: 0,
                removed: false,
                receivers: WaitList::new(),
                senders: WaitList::new(),
            }),
        }
    }
}

impl<T> Queue<T> {
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
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

    // ----- msgsnd -----

    /// Polls a send (`do_msgsnd`'s loop). `cx == None` is `IPC_NOWAIT`. On `Ready(Err)` the
    /// message is still in `op.msg`.
    pub(crate) fn poll_send(
        &self,
        creds: &Credentials,
        op: &mut SendOp<T>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        let mut woken = false;
        if let Some(id) = op.waiter {
            let Some(cx) = cx.as_deref() else { return Poll::Pending };
            match st.senders.register(id, cx.waker()) {
                Some(WaiterState::Waiting) => return Poll::Pending,
                _ => {
                    st.senders.remove(id);
                    op.waiter = None;
                    woken = true;
                }
            }
        }
        if woken && st.removed {
            return Poll::Ready(Err(ErrorKind::Removed));
        }
        if let Err(e) = self.start(&mut op.started) {
            return Poll::Ready(Err(e));
        }
        if let Err(e) = self.header.perm().check(creds, WRITE) {
            return Poll::Ready(Err(e));
        }
        if st.removed {
            return Poll::Ready(Err(ErrorKind::Removed));
        }
        if st.fits(op.size) {
            let Some(payload) = op.msg.take() else { return Poll::Ready(Ok(())) };
            let seq = st.next_seq;
            st.next_seq += 1;
            st.lspid = creds.pid();
            st.stime = now();
            st.deliver(Msg { seq, mtype: op.mtype, size: op.size, payload }, &mut wakes);
            return Poll::Ready(Ok(()));
        }
        match cx {
            None => Poll::Ready(Err(ErrorKind::WouldBlock)),
            Some(cx) => {
                op.waiter = Some(st.senders.push_back(Sender { size: op.size }, cx.waker()));
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
            st.wake_senders(&mut wakes);
        }
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
        let mut woken = false;
        if let Some(id) = op.waiter {
            let Some(cx) = cx.as_deref() else { return Poll::Pending };
            match st.senders.register(id, cx.waker()) {
                Some(WaiterState::Waiting) => return Poll::Pending,
                _ => {
                    st.senders.remove(id);
                    op.waiter = None;
                    woken = true;
                }
            }
        }
        if woken && st.removed {
            return Poll::Ready(Err(ErrorKind::Removed));
        }
        if let Err(e) = self.start(&mut op.started) {
            return Poll::Ready(Err(e));
        }
        if let Err(e) = self.header.perm().check(creds, WRITE) {
            return Poll::Ready(Err(e));
        }
        if st.removed {
            return Poll::Ready(Err(ErrorKind::Removed));
        }
        if st.fits(op.size) {
            st.reserved_bytes += op.size;
            st.reserved_count += 1;
            return Poll::Ready(Ok(()));
        }
        match cx {
            None => Poll::Ready(Err(ErrorKind::WouldBlock)),
            Some(cx) => {
                op.waiter = Some(st.senders.push_back(Sender { size: op.size }, cx.waker()));
                Poll::Pending
            }
        }
    }

    pub(crate) fn cancel_reserve(&self, op: &mut ReserveOp) {
        self.cancel_send(&mut op.waiter);
    }

    /// Sends through a held reservation of `reserved` bytes (`msg.size <= reserved`): cannot
    /// wait or fail. On a removed queue the message is dropped, as the queue's messages were.
    pub(crate) fn send_reserved(&self, pid: i32, reserved: usize, mtype: i64, size: usize, payload: T) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        st.reserved_bytes -= reserved;
        st.reserved_count -= 1;
        if st.removed {
            drop(st);
            drop(payload);
            return;
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.lspid = pid;
        st.stime = now();
        st.deliver(Msg { seq, mtype, size, payload }, &mut wakes);
        if size < reserved {
            st.wake_senders(&mut wakes);
        }
    }

    /// Gives an unused reservation's room back and wakes the senders that now fit.
    pub(crate) fn release(&self, reserved: usize) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        st.reserved_bytes -= reserved;
        st.reserved_count -= 1;
        st.wake_senders(&mut wakes);
    }

    // ----- msgrcv -----

    /// Polls a receive (`do_msgrcv`'s loop). `cx == None` is `IPC_NOWAIT`.
    pub(crate) fn poll_recv(
        &self,
        creds: &Credentials,
        op: &mut RecvOp,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<Msg<T>, ErrorKind>> {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
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
        if let Err(e) = self.start(&mut op.started) {
            return Poll::Ready(Err(e));
        }
        if let Err(e) = self.header.perm().check(creds, READ) {
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
                st.rtime = now();
                st.lrpid = creds.pid();
                st.wake_senders(&mut wakes);
                return Poll::Ready(Ok(msg));
            }
        }
        match cx {
            None => Poll::Ready(Err(ErrorKind::NoMessage)),
            Some(cx) => {
                let r = Receiver {
                    select: op.select,
                    maxsize: op.maxsize,
                    pid: creds.pid(),
                    handed: Handed::Nothing,
                };
                op.waiter = Some(st.receivers.push_back(r, cx.waker()));
                Poll::Pending
            }
        }
    }

    /// A receive future dropped while registered: off the list. A message it had been
    /// handed goes back — to the next matching receiver, or into the queue at its place
    /// (oldest first) — so nothing is lost or duplicated.
    pub(crate) fn cancel_recv(&self, op: &mut RecvOp) {
        let Some(id) = op.waiter.take() else { return };
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        let msg = match st.receivers.remove(id) {
            Some((Receiver { handed: Handed::Msg(m), .. }, _)) => m,
            _ => return,
        };
        if st.removed {
            drop(st);
            drop(msg);
            return;
        }
        st.deliver(msg, &mut wakes);
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
        self.header.perm().check(creds, READ)?;
        let st = self.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        if index >= st.qnum {
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
    pub(crate) fn stat(&self, creds: &Credentials) -> Result<Figs, ErrorKind> {
        self.header.check_live()?;
        self.header.perm().check(creds, READ)?;
        Ok(self.figs())
    }

    fn figs(&self) -> Figs {
        let st = self.lock();
        Figs {
            stime: st.stime,
            rtime: st.rtime,
            cbytes: st.cbytes,
            qnum: st.qnum,
            qbytes: st.qbytes,
            lspid: st.lspid,
            lrpid: st.lrpid,
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
        st.wake_senders(&mut wakes);
        Ok(())
    }

    /// `freeque`: marks the queue removed, fails every waiter with `EIDRM` and frees the
    /// messages (dropped after the lock is released).
    fn free(&self) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
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
        let lanes = mem::take(&mut st.lanes);
        st.empty_lanes = 0;
        st.heads.clear();
        st.cbytes = 0;
        st.qnum = 0;
        drop(st);
        drop(lanes);
    }
}

impl<T: Send + 'static> IpcObject for Arc<Queue<T>> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn figures(&self) -> Figures {
        let st = self.lock();
        Figures::MessageQueue { used_bytes: st.cbytes as u64, messages: st.qnum as u64 }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn remove(&self) -> Removal {
        self.free();
        Removal::Now
    }
}
