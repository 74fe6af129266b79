//! Complex mode's storage: the per-type lanes and the byte and count accounting against
//! `msg_qbytes`, behind the queue's lock; the waiting receivers of any message and the
//! waiting senders, each behind a lock of their own.
//!
//! # Design
//!
//! **Complex mode** — everything else: a second type, a waiting receiver with a type
//! selector or a size limit, a size-limited receive, `MSG_COPY`, `IPC_SET`, `IPC_RMID`, a reservation. The queue's `sync::Mutex`
//! guards the full structure:
//!
//! * **Per-type lanes.** `BTreeMap<mtype, VecDeque<Msg>>`, each message stamped with a
//!   global sequence number, plus a `BTreeSet<(seq, mtype)>` of the lanes' heads.
//!   `Type(t)` is one map lookup (O(log lanes)) whatever the backlog of other types — the
//!   kernel scans; `Any` is the first head; `Except(t)` looks at most at two heads;
//!   `AtMost(t)` is the first non-empty lane of the range `..=t` (up to 8 empty lanes are
//!   kept with their buffers, so a type that comes and goes allocates nothing). Every
//!   selector takes a lane's head, so the lanes are plain FIFOs; the stamp puts a cancelled
//!   receiver's message back at its place and orders [`peek`](MessageQueue::peek)'s walk.
//! * **Accounting.** `cbytes`, `qnum` and the room held by permits, checked against
//!   `qbytes` in the same critical section as the enqueue or handoff.
//! * **Waiters.** Two `WaitList`s (`sync::wait_list`: receivers with selector, size
//!   limit, pid and handed-over result; senders and reservations with their size, the
//!   latter in [`Senders`] under its own lock), with wakers collected under the lock and
//!   woken after it. A waiter is notified only with its
//!   result filled in (a message, `E2BIG`, `EIDRM`, or "retry" after `IPC_SET`), and it
//!   registers in the same critical section in which it found nothing, so no wake-up is
//!   lost. A `Drop` that finds its entry `Notified` passes on what it was handed (a message
//!   back through the handoff path, a sender wake-up through `ss_wakeup`).
//! * **Two receiver lists.** Receivers of `Select::Any` without a size limit wait in
//!   [`Waiting`], under a lock of their own (`Queue::waiting`; lock order: the queue's
//!   lock, then this one) with a mailbox of their own: they wait in simple mode, and a
//!   simple send hands them a message, without the queue's lock (see `room.rs`, "Receivers
//!   that wait in simple mode"). Every other receiver needs complex mode to wait and waits
//!   in [`State::receivers`], under the queue's lock, as before — so a ping-pong between
//!   type selectors takes no second lock. A ticket per receiver keeps the arrival order
//!   across the two lists: a handoff goes to the oldest receiver that takes the message.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::super::select::Select;
use crate::error::ErrorKind;
use crate::sync::counters::{count, Event};
use crate::sync::mailbox::Postman;
use crate::sync::wait_list::{WaitList, WaiterId, WakeList};

/// Empty lanes kept (with their buffers) for reuse before one is dropped: a type that
/// comes and goes costs no allocation, and a selector's range scan skips at most this many.
pub(super) const SPARE_LANES: usize = 8;

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

impl<T> Msg<T> {
    /// A message the host kernel's `msgrcv` returned, as the engine's receive would: only
    /// its type and payload are read from it (`MessageQueue::try_recv`), so it has no
    /// sequence number (`UNNUMBERED`) and no size.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(crate) fn from_host(mtype: i64, payload: T) -> Msg<T> {
        Msg { seq: super::room::UNNUMBERED, mtype, size: 0, payload }
    }
}

// ===== waiters =====

/// What a waiting receiver has been handed (`msg_receiver.r_msg`).
#[derive(Debug)]
pub(super) enum Handed<T> {
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
pub(super) struct Receiver<T> {
    pub(super) select: Select,
    /// `r_maxsize`: the largest message it takes; `usize::MAX` under `MSG_NOERROR`.
    pub(super) maxsize: usize,
    /// `r_tsk`'s pid, recorded as `msg_lrpid` on a handoff.
    pub(super) pid: i32,
    /// Its tag for [`Queue::mailbox`] (or [`Queue::mailbox_any`], in [`Waiting`]): a ticket
    /// from [`Queue::tickets`], unique in the queue and taken under the lock of the list it
    /// joins, so it is also its place in the arrival order across the two lists.
    pub(super) tag: u64,
    pub(super) handed: Handed<T>,
}

impl<T> Receiver<T> {
    /// Whether it may wait in simple mode: `Select::Any` without a size limit matches any
    /// message the ring holds and takes it whole. Every other receiver needs complex mode
    /// while it waits, where each message is offered to it.
    pub(super) fn needs_complex(&self) -> bool {
        self.select != Select::Any || self.maxsize != usize::MAX
    }
}

/// A waiting sender or reservation (`struct msg_sender`): the room it needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sender {
    pub(super) size: usize,
    /// Woken by `ss_wakeup` with room promised to it (counted in [`Senders::promised_count`]
    /// and [`Senders::promised_bytes`] until its entry is removed).
    pub(super) promised: bool,
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
pub(super) struct State<T> {
    /// Per-type FIFO lanes. Up to [`SPARE_LANES`] of them may be empty (kept for their
    /// buffers); every other lane has a head.
    pub(super) lanes: BTreeMap<i64, VecDeque<Msg<T>>>,
    /// How many lanes are empty.
    pub(super) empty_lanes: usize,
    /// `(seq, mtype)` of every lane's head: the first element is the oldest message.
    pub(super) heads: BTreeSet<(u64, i64)>,
    /// `q_cbytes`, `q_qnum`: the messages in the lanes.
    pub(super) cbytes: usize,
    pub(super) qnum: usize,
    /// Room held by unused [`ReserveOp`] permits: counted against `qbytes` like messages,
    /// but not shown in `msg_cbytes`/`msg_qnum`.
    pub(super) reserved_bytes: usize,
    pub(super) reserved_count: usize,
    /// `q_qbytes`.
    pub(super) qbytes: usize,
    /// Whether the queue is in complex mode (mirrors [`COMPLEX`] in [`Queue::tx`] and the
    /// ring's closed bit, which only the lock holder changes). In simple mode the lanes
    /// and the counts above are empty, and only receivers that need no complex mode wait;
    /// the messages are in [`Queue::ring`], counted by the room in [`Queue::tx`] and
    /// [`Queue::rx`].
    pub(super) complex: bool,
    /// Locked passes since the queue last entered complex mode: what pays for moving the
    /// backlog back into the ring (see [`Queue::make_simple_if_idle`]).
    pub(super) complex_passes: usize,
    /// Set by `IPC_RMID` under the lock (the header's flag is set too, for lock-free
    /// `EINVAL` checks).
    pub(super) removed: bool,
    /// The messages `IPC_RMID` took out of the lanes, dropped by `after_remove` once the
    /// namespace's table lock is released: a message's destructor may call back into the
    /// namespace (a payload holding the last handle of a `remove_on_drop` queue removes that
    /// queue), which under the table lock would deadlock.
    pub(super) removed_lanes: BTreeMap<i64, VecDeque<Msg<T>>>,
    /// The waiting receivers that [need complex mode](Receiver::needs_complex); those of any
    /// message wait in [`Waiting`]. Simple mode needs this list empty.
    pub(super) receivers: WaitList<Receiver<T>>,
    /// The writer of [`Queue::mailbox`]: a handoff to a receiver of this list puts the
    /// message there when it is empty.
    pub(super) postman: Postman<Msg<T>>,
}

/// The receivers of any message that wait, behind their own lock ([`Queue::waiting`]),
/// taken after the queue's when both are held: a simple send hands a message to one, and a
/// woken one collects it, without the queue's lock. Receivers that need complex mode wait
/// in [`State::receivers`] instead.
#[derive(Debug)]
pub(super) struct Waiting<T> {
    /// Receivers of `Select::Any` without a size limit: each takes any message whole, so
    /// the oldest one is always the one a message goes to.
    pub(super) receivers: WaitList<Receiver<T>>,
    /// The writer of [`Queue::mailbox_any`]: a handoff to one of these receivers puts the
    /// message there when it is empty.
    pub(super) postman: Postman<Msg<T>>,
}

impl<T> Waiting<T> {
    pub(super) fn new(postman: Postman<Msg<T>>) -> Waiting<T> {
        Waiting { receivers: WaitList::new(), postman }
    }

    /// The oldest waiting receiver: its id, ticket (its mailbox tag) and pid.
    pub(super) fn oldest(&self) -> Option<(WaiterId, u64, i32)> {
        let id = self.receivers.front()?;
        let r = self.receivers.get(id)?;
        Some((id, r.tag, r.pid))
    }

    /// Hands `msg` to the oldest waiting receiver, found by [`Waiting::oldest`] under the
    /// same lock; returns its pid.
    pub(super) fn give(
        &mut self,
        (id, tag, pid): (WaiterId, u64, i32),
        msg: Msg<T>,
        wakes: &mut WakeList,
    ) -> i32 {
        give(&mut self.receivers, &mut self.postman, id, tag, msg, wakes);
        pid
    }
}

/// The waiting senders and reservations, behind their own lock ([`Queue::senders`]), taken
/// after the queue's when both are held (and never together with the receivers' lock): in
/// simple mode a sender that does not fit waits, a receive that frees room wakes the senders
/// it takes (`ss_wakeup`), and a woken sender leaves the list, all without the queue's lock
/// (see `room.rs`, "Senders that wait in simple mode"). One list for both modes, so the
/// senders keep one FIFO order whichever mode they started waiting in.
#[derive(Debug)]
pub(super) struct Senders {
    pub(super) list: WaitList<Sender>,
    /// Room that `ss_wakeup` promised to the senders it woke and that have not yet taken
    /// their entries off the list: a later `ss_wakeup` wakes only senders that fit the room
    /// beyond it, so one freed message wakes one sender, not every sender that fits it.
    pub(super) promised_count: usize,
    pub(super) promised_bytes: usize,
    /// Set by `IPC_RMID` (under the queue's lock too) before it notifies every sender: a
    /// woken sender that finds it answers `EIDRM` without the queue's lock.
    pub(super) removed: bool,
}

impl Senders {
    pub(super) fn new() -> Senders {
        Senders { list: WaitList::new(), promised_count: 0, promised_bytes: 0, removed: false }
    }
}

/// Notifies every `Waiting` receiver of `list` with `handed` (`IPC_SET`'s retry, removal's
/// `EIDRM`).
pub(super) fn notify_all_with<T>(
    list: &mut WaitList<Receiver<T>>,
    handed: impl Fn() -> Handed<T>,
    wakes: &mut WakeList,
) {
    let mut cur = list.front();
    while let Some(id) = cur {
        cur = list.next(id);
        if let Some(r) = list.get_mut(id) {
            r.handed = handed();
        }
        list.notify(id, wakes);
    }
}

/// Hands `msg` to the `Waiting` receiver `id` of `list`, whose mailbox tag is `tag`, which
/// takes it: through the `postman`'s mailbox when it is empty (the entry goes), else in the
/// entry. The caller found `id` live under the lock it holds.
#[inline]
pub(super) fn give<T>(
    list: &mut WaitList<Receiver<T>>,
    postman: &mut Postman<Msg<T>>,
    id: WaiterId,
    tag: u64,
    msg: Msg<T>,
    wakes: &mut WakeList,
) {
    match postman.put(tag, msg) {
        Ok(()) => {
            // In the mailbox: the receiver takes it there without a lock, so its entry goes
            // now (the wake-up with it).
            list.notify_remove(id, wakes);
        }
        Err(msg) => {
            if let Some(r) = list.get_mut(id) {
                r.handed = Handed::Msg(msg);
            }
            list.notify(id, wakes);
        }
    }
    count(Event::MsgHandoff);
}

impl<T> State<T> {
    /// `msg_fits_inqueue`: both the bytes and the count against `qbytes`.
    pub(super) fn fits(&self, size: usize) -> bool {
        let bytes = self.cbytes.saturating_add(self.reserved_bytes).saturating_add(size);
        let count = self.qnum.saturating_add(self.reserved_count).saturating_add(1);
        bytes <= self.qbytes && count <= self.qbytes
    }

    /// The lane and sequence number of the message `select` takes (`find_msg`), oldest
    /// matching first.
    pub(super) fn find(&self, select: Select) -> Option<i64> {
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
    pub(super) fn pop_lane(&mut self, mtype: i64) -> Option<Msg<T>> {
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
    pub(super) fn insert(&mut self, msg: Msg<T>) {
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
}
