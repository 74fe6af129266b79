//! The queue's poll state machines: `msgsnd`, `msgrcv` and the reservation, each a loop
//! of polls that the facade's futures drive, and their cancellation.
//!
//! # Design
//!
//! * **The mailbox.** A handoff puts the message into the queue's one-message mailbox
//!   (`sync::mailbox`), tagged for that receiver, and removes the receiver's entry; the
//!   woken receiver takes it with one CAS, without locking the queue again — a third of a
//!   ping-pong round trip's locking. The mailbox has one writer, the lock holder (its
//!   `Postman` lives in the locked state and issues the tags); when it holds a message not
//!   yet collected, the handoff goes through the entry as before. A receive re-polled or
//!   dropped looks in the mailbox first (under the lock the mailbox is the whole truth,
//!   since puts are made under it), so a handed message is never lost or taken twice.

use std::collections::VecDeque;
use std::mem;
use std::task::{Context, Poll};

use super::super::select::Select;
use super::lanes::{give, Handed, Msg, Receiver, Sender, State};
use super::room::{fits_in, room_bytes, room_count, SimpleSend};
use super::Queue;
use crate::error::ErrorKind;
use crate::ipc::perm::{Caller, READ, WRITE};
use crate::sync::counters::{count, Event};
use crate::sync::wait_list::{WaiterId, WaiterState, WakeList};
use crate::sync::MutexGuard;
use std::sync::atomic::Ordering::Relaxed;

/// A `msgsnd` in progress.
#[derive(Debug)]
pub(crate) struct SendOp<T> {
    pub(crate) mtype: i64,
    pub(crate) size: usize,
    /// The message, until it is sent; an error leaves it here for the caller.
    pub(crate) msg: Option<T>,
    pass: SenderLoop,
}

impl<T> SendOp<T> {
    pub(crate) fn new(mtype: i64, size: usize, msg: T) -> SendOp<T> {
        SendOp { mtype, size, msg: Some(msg), pass: SenderLoop::default() }
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
    /// It waits in the receivers' list of [`Waiting`](super::lanes::Waiting) (a receiver of
    /// any message, with [`Queue::mailbox_any`]), not in the queue's.
    any: bool,
}

impl RecvOp {
    pub(crate) fn new(select: Select, maxsize: usize) -> RecvOp {
        RecvOp { select, maxsize, started: false, waiter: None, tag: 0, any: false }
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
    pass: SenderLoop,
}

impl ReserveOp {
    pub(crate) fn new(size: usize) -> ReserveOp {
        ReserveOp { size, pass: SenderLoop::default() }
    }
}

/// What `do_msgsnd`'s loop keeps between polls, for a send or a reservation.
#[derive(Debug, Default)]
struct SenderLoop {
    /// The first pass's liveness check is done.
    started: bool,
    /// Its entry in the sender list while it waits.
    waiter: Option<WaiterId>,
    /// This poll took off an entry that `ss_wakeup` had promised room: if the sender waits
    /// again, that room goes to the others first (see [`Queue::sender_waits`]).
    promised: bool,
}

impl<T> Queue<T> {
    /// Polls a send (`do_msgsnd`'s loop). `cx == None` is `IPC_NOWAIT`. On `Ready(Err)` the
    /// message is still in `op.msg`.
    pub(crate) fn poll_send(
        &self,
        who: Caller<'_>,
        op: &mut SendOp<T>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        let before = op.pass.waiter;
        let done = self.poll_send_pass(who, op, cx);
        count_rewait(before, op.pass.waiter);
        if done.is_ready() && matches!(done, Poll::Ready(Ok(()))) {
            count(Event::MsgSent);
        }
        done
    }

    /// One poll of a send; see [`Queue::poll_send`].
    fn poll_send_pass(
        &self,
        who: Caller<'_>,
        op: &mut SendOp<T>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        // The version of the permissions this poll checked: under the lock, an unchanged
        // version means the check still holds (IPC_SET changes them under the lock).
        let mut checked = None;
        if op.pass.waiter.is_some() {
            // Woken, or polled while waiting: the senders' lock alone says which, and a
            // woken sender tries the lock-free send first.
            match self.woken_sender(who, op, cx.as_deref()) {
                Ok(done) => return done,
                Err(v) => checked = v,
            }
        } else if !op.pass.started {
            if let Err(e) = self.start(&mut op.pass.started) {
                return Poll::Ready(Err(e));
            }
            let v = match who.check(self.header.perm(), WRITE) {
                Ok(v) => v,
                Err(e) => return Poll::Ready(Err(e)),
            };
            checked = Some(v);
            match self.try_simple_send(who.pid(), checked, op.mtype, op.size, &mut op.msg) {
                SimpleSend::Sent { wake } => {
                    if wake {
                        self.wake_senders_free();
                    }
                    return Poll::Ready(Ok(()));
                }
                // the room it gave back may be what a waiting sender needs
                SimpleSend::OtherType { wake: true } | SimpleSend::Recheck { wake: true } => {
                    self.wake_senders_free()
                }
                SimpleSend::Full { slots } if !(slots && self.ring_limited()) => {
                    // The queue is full: the sender waits in simple mode (`IPC_NOWAIT` goes to
                    // the lock, which answers `EAGAIN` from a consolidated count).
                    if let Some(cx) = cx.as_deref() {
                        if let Some(done) = self.sender_waits_free(who.pid(), v, op, false, cx) {
                            return done;
                        }
                    }
                }
                _ => {}
            }
        }
        let mut wakes = WakeList::new();
        count(Event::MsgLockSend);
        let mut st = self.lock();
        if let Some(done) = self.sender_pass(&mut st, who, checked, &mut op.pass, cx.as_deref(), &mut wakes) {
            return done;
        }
        // A handoff leaves the queue in complex mode (below): the receiver it woke often waits
        // again soon (ping-pong), and a receiver that waits needs complex mode. The next
        // locked send that finds nobody waiting and nothing queued goes back to simple mode
        // first, so a burst after it runs lock-free again.
        self.make_simple_if_idle(&mut st);
        if !st.complex {
            if let Some(done) = self.send_simple_locked(&mut st, who.pid(), op, cx.as_deref(), &mut wakes) {
                return done;
            }
        }
        if st.fits(op.size) {
            let Some(payload) = op.msg.take() else { return Poll::Ready(Ok(())) };
            let seq = self.number();
            let rpid =
                self.deliver(&mut st, Msg { seq, mtype: op.mtype, size: op.size, payload }, &mut wakes);
            if op.pass.promised {
                self.wake_senders(&mut st, &mut wakes);
            }
            self.sent_and_handed(who.pid(), rpid);
            // No `make_simple_if_idle`: handed off, the queue stays complex (see above); queued,
            // it is not empty.
            return Poll::Ready(Ok(()));
        }
        self.sender_waits(&mut st, op.size, &mut op.pass, cx, &mut wakes)
    }

    /// A locked send in simple mode, decided once. Nobody waits to receive (that needs
    /// complex mode), so the message goes to the ring, or its sender waits without leaving
    /// simple mode; `None` when the queue went to complex mode instead, for the lanes.
    ///
    /// The decision comes from the room [consolidated](Queue::consolidate) under the lock —
    /// a collect, so it is the free room at one instant:
    ///
    /// * the ring holds another type: the lanes (one switch to complex mode);
    /// * only the slots are short (every slot taken while `qbytes` has room, which is never
    ///   a reason for `EAGAIN` or a wait): the ring grows once and the send tries it, or, if
    ///   the ring cannot grow or lock-free sends filled it again, the lanes;
    /// * the message fits: the send tries the ring;
    /// * it does not: `EAGAIN` under `IPC_NOWAIT`; otherwise the sender joins the list,
    ///   which sets `SENDERS`, and then tries. No lost wake-up with `try_simple_recv`, which
    ///   gives room back in the RMW on `rx` that ends it and that also reads `SENDERS`: a
    ///   send that finds the room short decides so only through a collect, whose RMW on `rx`
    ///   comes after ours. If the receive's RMW came first, that collect (or the one it
    ///   waited for) finds the room; if ours came first, the receive sees `SENDERS` and runs
    ///   `ss_wakeup` under the senders' lock after our registration released it.
    ///
    /// Lock-free sends still run meanwhile, so a send that found room may find it taken at
    /// its CAS: it then joins the list and tries once more, as in the last case. So at most
    /// two attempts and one mode switch per locked pass.
    fn send_simple_locked(
        &self,
        st: &mut MutexGuard<'_, State<T>>,
        pid: i32,
        op: &mut SendOp<T>,
        cx: Option<&Context<'_>>,
        wakes: &mut WakeList,
    ) -> Option<Poll<Result<(), ErrorKind>>> {
        let t = self.simple_type.load(Relaxed);
        if t != 0 && t != op.mtype {
            self.make_complex(st);
            return None;
        }
        let room = self.consolidate();
        let size = op.size;
        let bytes_fit = room_bytes(room) >= size as u64;
        let slots_short = room_count(room) == 0 && bytes_fit && self.ring_limited();
        if slots_short && !self.grow_ring(st) {
            self.make_complex(st);
            return None;
        }
        let mut waiter = None;
        let promised = op.pass.promised;
        let mut register = |st: &mut MutexGuard<'_, State<T>>, waiter: &mut Option<WaiterId>| {
            let Some(cx) = cx else { return false };
            *waiter = Some(self.sender_joins(st, size, promised, cx, wakes));
            true
        };
        if !slots_short && !fits_in(room, 0, size) && !register(st, &mut waiter) {
            return Some(Poll::Ready(Err(ErrorKind::WouldBlock)));
        }
        let mut outcome = self.try_simple_send(pid, None, op.mtype, size, &mut op.msg);
        // Full because the slots ran out while `qbytes` had room is not the queue's "full",
        // which only a collect that found the bytes (or the count at `qbytes`) short decides.
        let queue_full =
            |o: SimpleSend| matches!(o, SimpleSend::Full { slots } if !slots || !self.ring_limited());
        if queue_full(outcome) && waiter.is_none() && !slots_short {
            // Lock-free sends took the room this pass found.
            if !register(st, &mut waiter) {
                return Some(Poll::Ready(Err(ErrorKind::WouldBlock)));
            }
            outcome = self.try_simple_send(pid, None, op.mtype, size, &mut op.msg);
        }
        if let Some(id) = waiter {
            if queue_full(outcome) {
                op.pass.waiter = Some(id);
                return Some(Poll::Pending);
            }
            // A lock-free `ss_wakeup` may have woken it meanwhile (under the senders' lock
            // alone): the room it was promised then goes on, as a woken sender's does.
            let mut s = self.lock_senders();
            if let Some((_, true)) = self.remove_sender(&mut s, id) {
                op.pass.promised = true;
            }
            self.sync_senders(&s);
        }
        match outcome {
            SimpleSend::Sent { wake } => {
                if op.pass.promised || wake {
                    // Room freed while it was on its way went to nobody else: pass it on.
                    self.wake_senders(st, wakes);
                }
                return Some(Poll::Ready(Ok(())));
            }
            // (Recheck cannot happen under the lock.)
            SimpleSend::OtherType { wake } | SimpleSend::Recheck { wake } => {
                self.make_complex(st);
                if wake {
                    // We hold the lock: `ss_wakeup` here, not through `wake_senders_locked`.
                    self.wake_senders(st, wakes);
                }
            }
            // The ring full again after it grew, or another type claimed it: complex mode's
            // exact counts decide (Busy cannot happen: we hold the lock in simple mode).
            SimpleSend::Full { .. } | SimpleSend::Busy => self.make_complex(st),
        }
        None
    }

    /// The head of every pass of `do_msgsnd`'s loop, for a send or a reservation: a woken
    /// sender comes off the wait list (`EIDRM` if the queue went meanwhile); then the
    /// liveness check of the first pass, the write permission (re-checked on every pass, as
    /// the kernel does) and removal. `Some` ends the poll: still waiting, or an error.
    fn sender_pass(
        &self,
        st: &mut MutexGuard<'_, State<T>>,
        who: Caller<'_>,
        checked: Option<u32>,
        pass: &mut SenderLoop,
        cx: Option<&Context<'_>>,
        wakes: &mut WakeList,
    ) -> Option<Poll<Result<(), ErrorKind>>> {
        if let Some(id) = pass.waiter {
            let Some(cx) = cx else { return Some(Poll::Pending) };
            let mut s = self.lock_senders();
            if let Some(WaiterState::Waiting) = s.list.register(id, cx.waker()) {
                return Some(Poll::Pending);
            }
            count(Event::MsgWake);
            pass.promised = self.remove_sender(&mut s, id).is_some_and(|(_, promised)| promised);
            self.sync_senders(&s);
            drop(s);
            pass.waiter = None;
            if st.removed {
                return Some(Poll::Ready(Err(ErrorKind::Removed)));
            }
        }
        if let Err(e) = self.start(&mut pass.started) {
            return Some(Poll::Ready(Err(e)));
        }
        if let Err(e) = who.check_again(self.header.perm(), WRITE, checked) {
            if pass.promised {
                // It leaves the room it was promised unused: to the others.
                self.wake_senders(st, wakes);
            }
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
        pass: &mut SenderLoop,
        cx: Option<&mut Context<'_>>,
        wakes: &mut WakeList,
    ) -> Poll<Result<(), ErrorKind>> {
        match cx {
            None => {
                self.make_simple_if_idle(st);
                Poll::Ready(Err(ErrorKind::WouldBlock))
            }
            Some(cx) => {
                let promised = mem::take(&mut pass.promised);
                pass.waiter = Some(self.sender_joins(st, size, promised, cx, wakes));
                Poll::Pending
            }
        }
    }

    /// Puts a sender of `size` bytes on the list. One that `ss_wakeup` had woken with room
    /// promised (`promised`) and that waits again — others took the room first — first
    /// runs `ss_wakeup` itself: the room it was promised may fit senders behind it, whom the
    /// kernel would have woken with it (it wakes every sender that fits, where we wake only
    /// as many as the room takes).
    fn sender_joins(
        &self,
        st: &mut MutexGuard<'_, State<T>>,
        size: usize,
        promised: bool,
        cx: &Context<'_>,
        wakes: &mut WakeList,
    ) -> WaiterId {
        if promised {
            self.wake_senders(st, wakes);
        }
        let mut s = self.lock_senders();
        let id = s.list.push_back(Sender { size, promised: false }, cx.waker());
        count(Event::MsgWait);
        self.sync_senders(&s);
        id
    }

    /// A woken sender (`op.pass.waiter` set), or one polled while it waits, **without the
    /// queue's lock**: under the senders' lock it is still waiting (`Pending`) or takes its
    /// entry off, with the room `ss_wakeup` promised it; then `EIDRM` if the queue was
    /// removed, the write permission checked again, and the lock-free send. One that still
    /// does not fit waits again in simple mode ([`Queue::sender_waits_free`]), passing its
    /// promised room on first; one that sent passes on the room freed while it was on its
    /// way ([`Queue::wake_senders_free`]), as the locked path does.
    ///
    /// `Err(checked)`: the locked path decides (complex mode, the ring's other type, the
    /// ring's slots short), with the permissions' version checked here and
    /// `op.pass.promised` set if it was promised room.
    fn woken_sender(
        &self,
        who: Caller<'_>,
        op: &mut SendOp<T>,
        cx: Option<&Context<'_>>,
    ) -> Result<Poll<Result<(), ErrorKind>>, Option<u32>> {
        let Some(id) = op.pass.waiter else { return Err(None) };
        let Some(cx) = cx else { return Ok(Poll::Pending) };
        let mut s = self.lock_senders();
        if let Some(WaiterState::Waiting) = s.list.register(id, cx.waker()) {
            return Ok(Poll::Pending);
        }
        count(Event::MsgWake);
        let promised = self.remove_sender(&mut s, id).is_some_and(|(_, promised)| promised);
        self.sync_senders(&s);
        let removed = s.removed;
        drop(s);
        op.pass.waiter = None;
        op.pass.promised = false;
        if removed {
            return Ok(Poll::Ready(Err(ErrorKind::Removed)));
        }
        let v = match who.check(self.header.perm(), WRITE) {
            Ok(v) => v,
            Err(e) => {
                if promised {
                    // It leaves the room it was promised unused: to the others.
                    self.wake_senders_free();
                }
                return Ok(Poll::Ready(Err(e)));
            }
        };
        match self.try_simple_send(who.pid(), Some(v), op.mtype, op.size, &mut op.msg) {
            SimpleSend::Sent { wake } => {
                if promised || wake {
                    // Room freed while it was on its way went to nobody else: pass it on.
                    self.wake_senders_free();
                }
                Ok(Poll::Ready(Ok(())))
            }
            SimpleSend::Full { slots } if !(slots && self.ring_limited()) => {
                match self.sender_waits_free(who.pid(), v, op, promised, cx) {
                    Some(done) => Ok(done),
                    None => Err(Some(v)),
                }
            }
            outcome => {
                if matches!(
                    outcome,
                    SimpleSend::OtherType { wake: true } | SimpleSend::Recheck { wake: true }
                ) {
                    self.wake_senders_free();
                }
                op.pass.promised = promised;
                Err(Some(v))
            }
        }
    }

    /// A sender whose message did not fit in simple mode (a collect decided it) waits
    /// **without the queue's lock**: one that was promised room and lost it passes that
    /// room on first ([`Queue::sender_joins`]'s rule); then, under the senders' lock, it
    /// joins the list, which sets `SENDERS` in `rx` (an RMW), and after the lock it tries
    /// the send again — through a collect, whose RMW on `rx` comes after its own. Either a
    /// receive's give-back came first in `rx`'s order, and that collect (or the one it
    /// waited for) finds the room; or the registration came first, and the receive sees
    /// `SENDERS` and runs `ss_wakeup` (under the senders' lock, after ours: it finds the
    /// entry). The same argument as the locked registration of
    /// [`Queue::send_simple_locked`], with the senders' lock for the queue's.
    ///
    /// `Some(Pending)`: it waits (`op.pass.waiter`). `Some(Ready(Ok))`: the second try
    /// sent it. `None`: the second try found complex mode, the ring's other type, the ring's
    /// slots short or the permissions changed — the entry is off the list again (a wake-up
    /// it got meanwhile passed on) and the locked path decides.
    fn sender_waits_free(
        &self,
        pid: i32,
        checked: u32,
        op: &mut SendOp<T>,
        promised: bool,
        cx: &Context<'_>,
    ) -> Option<Poll<Result<(), ErrorKind>>> {
        if promised {
            self.wake_senders_free();
        }
        let id = {
            let mut s = self.lock_senders();
            let id = s.list.push_back(Sender { size: op.size, promised: false }, cx.waker());
            self.sync_senders(&s);
            id
        };
        let outcome = self.try_simple_send(pid, Some(checked), op.mtype, op.size, &mut op.msg);
        if matches!(outcome, SimpleSend::Full { slots } if !(slots && self.ring_limited())) {
            count(Event::MsgWait);
            op.pass.waiter = Some(id);
            return Some(Poll::Pending);
        }
        // Not waiting after all: off the list; a wake-up it got meanwhile goes on.
        let notified = {
            let mut s = self.lock_senders();
            let notified = matches!(self.remove_sender(&mut s, id), Some((WaiterState::Notified, true)));
            self.sync_senders(&s);
            notified
        };
        let gave_back = matches!(
            outcome,
            SimpleSend::Sent { wake: true }
                | SimpleSend::OtherType { wake: true }
                | SimpleSend::Recheck { wake: true }
        );
        if notified || gave_back {
            self.wake_senders_free();
        }
        match outcome {
            SimpleSend::Sent { .. } => Some(Poll::Ready(Ok(()))),
            _ => None,
        }
    }

    /// A send future dropped while waiting: off the list; a wake-up it had taken passes on.
    ///
    /// The test for a wait is inlined into the futures' drops (every completed send's drop
    /// makes it, and finds none); the rest is a call of its own.
    #[inline]
    pub(crate) fn cancel_send(&self, waiter: &mut Option<WaiterId>) {
        if let Some(id) = waiter.take() {
            self.cancel_waiting_send(id);
        }
    }

    /// [`cancel_send`](Self::cancel_send) of a sender that waits as `id`.
    #[inline(never)]
    fn cancel_waiting_send(&self, id: WaiterId) {
        // The senders' lock alone: a wake-up it had taken passes on through a lock-free
        // `ss_wakeup` (which goes to the queue's lock in complex mode).
        let notified = {
            let mut s = self.lock_senders();
            let notified = matches!(self.remove_sender(&mut s, id), Some((WaiterState::Notified, _)));
            self.sync_senders(&s);
            notified
        };
        if notified {
            self.wake_senders_free();
        }
    }

    #[inline]
    pub(crate) fn cancel_send_op(&self, op: &mut SendOp<T>) {
        self.cancel_send(&mut op.pass.waiter);
    }

    // ----- reserve -----

    /// Polls a reservation of `op.size` bytes and one message of room; `Ready(Ok)` means the
    /// room is held until [`Queue::send_reserved`] or [`Queue::release`].
    pub(crate) fn poll_reserve(
        &self,
        who: Caller<'_>,
        op: &mut ReserveOp,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), ErrorKind>> {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        self.make_complex(&mut st);
        if let Some(done) = self.sender_pass(&mut st, who, None, &mut op.pass, cx.as_deref(), &mut wakes) {
            return done;
        }
        if st.fits(op.size) {
            st.reserved_bytes += op.size;
            st.reserved_count += 1;
            if op.pass.promised {
                self.wake_senders(&mut st, &mut wakes);
            }
            return Poll::Ready(Ok(()));
        }
        self.sender_waits(&mut st, op.size, &mut op.pass, cx, &mut wakes)
    }

    pub(crate) fn cancel_reserve(&self, op: &mut ReserveOp) {
        self.cancel_send(&mut op.pass.waiter);
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
        let seq = self.number();
        let rpid = self.deliver(&mut st, Msg { seq, mtype, size, payload }, &mut wakes);
        count(Event::MsgSent);
        self.sent_and_handed(pid, rpid);
        if size < reserved {
            self.wake_senders(&mut st, &mut wakes);
        }
        self.make_simple_if_idle(&mut st);
    }

    /// Gives an unused reservation's room back and wakes the senders that now fit.
    pub(crate) fn release(&self, reserved: usize) {
        let mut wakes = WakeList::new();
        let mut st = self.lock();
        self.make_complex(&mut st);
        st.reserved_bytes -= reserved;
        st.reserved_count -= 1;
        self.wake_senders(&mut st, &mut wakes);
        self.make_simple_if_idle(&mut st);
    }

    // ----- msgrcv -----

    /// Polls a receive (`do_msgrcv`'s loop). `cx == None` is `IPC_NOWAIT`.
    #[inline]
    pub(crate) fn poll_recv(
        &self,
        who: Caller<'_>,
        op: &mut RecvOp,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<Msg<T>, ErrorKind>> {
        let before = op.waiter;
        let done = self.poll_recv_pass(who, op, cx);
        count_rewait(before, op.waiter);
        if let Poll::Ready(Ok(_)) = done {
            count(Event::MsgReceived);
        }
        done
    }

    /// One poll of a receive; see [`Queue::poll_recv`].
    ///
    /// The first pass's checks and lock-free attempt; everything else is
    /// [`poll_recv_rest`](Self::poll_recv_rest), a call of its own. So the message the
    /// lock-free receive popped is this function's one `Ok` and is written into the result
    /// where it is: with the other paths' messages in the same function, the compiler joined
    /// them in one copy through the stack, whose reload stalled on the stores before it
    /// (a store-forwarding stall on every message; BENCHMARKS.md, round 8).
    #[inline]
    fn poll_recv_pass(
        &self,
        who: Caller<'_>,
        op: &mut RecvOp,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<Msg<T>, ErrorKind>> {
        if op.waiter.is_some() || op.started {
            return self.poll_recv_rest(who, op, cx, None);
        }
        if let Err(e) = self.start(&mut op.started) {
            return Poll::Ready(Err(e));
        }
        let version = match who.check(self.header.perm(), READ) {
            Ok(v) => v,
            Err(e) => return Poll::Ready(Err(e)),
        };
        // A receive that may wait skips the lock-free attempt when the ring looks empty
        // (an `IPC_NOWAIT` one still tries, to answer `ENOMSG` without the lock); a
        // receive of any message then waits in simple mode (`Queue::wait_simple`).
        let found_none = if op.maxsize == usize::MAX && (cx.is_none() || !self.ring.looks_empty()) {
            match self.try_simple_recv(who.pid(), version, op.select) {
                Ok(msg) => return Poll::Ready(Ok(msg)),
                Err(found_none) => Some(found_none),
            }
        } else {
            None
        };
        self.poll_recv_rest(who, op, cx, Some((version, found_none)))
    }

    /// [`poll_recv_pass`](Self::poll_recv_pass) after its lock-free attempt. `first`: on the
    /// first pass, the version its permission check saw and what its attempt found
    /// (`Some(true)`: nothing to take, the permissions unchanged; `Some(false)`: go to the
    /// lock; `None`: no attempt).
    #[inline(never)]
    fn poll_recv_rest(
        &self,
        who: Caller<'_>,
        op: &mut RecvOp,
        cx: Option<&mut Context<'_>>,
        first: Option<(u32, Option<bool>)>,
    ) -> Poll<Result<Msg<T>, ErrorKind>> {
        // As in `poll_send`: the version this poll's permission check saw.
        let mut checked = None;
        if let Some((version, found_none)) = first {
            checked = Some(version);
            match found_none {
                // `IPC_NOWAIT` on a simple-mode queue with nothing matching: no need to
                // switch to complex mode (and back) just to find the lanes empty.
                Some(true) if cx.is_none() => return Poll::Ready(Err(ErrorKind::NoMessage)),
                Some(false) => {}
                Some(true) | None => {
                    if let Some(p) = self.wait_simple_if_any(who.pid(), version, op, cx.as_deref()) {
                        return p.map(Ok);
                    }
                }
            }
        }
        // Handed a message through the mailbox: no lock needed to collect it.
        if let Some(msg) = self.take_handed(op) {
            return Poll::Ready(Ok(msg));
        }
        if let (Some(id), true) = (op.waiter, op.any) {
            // Still waiting, or woken: the receivers' lock alone says which.
            let Some(cx) = cx.as_deref() else { return Poll::Pending };
            let mut w = self.lock_waiting();
            // Under the receivers' lock `mailbox_any` is the whole truth: a handoff puts
            // there under it.
            if let Some(msg) = self.take_handed(op) {
                return Poll::Ready(Ok(msg));
            }
            if let Some(WaiterState::Waiting) = w.receivers.register(id, cx.waker()) {
                return Poll::Pending;
            }
            count(Event::MsgWake);
            op.waiter = None;
            let handed = w.receivers.remove(id).map(|(r, _)| r.handed);
            self.sync_waiting(&w);
            drop(w);
            match handed {
                Some(Handed::Msg(m)) => return Poll::Ready(Ok(m)),
                Some(Handed::Err(e)) => return Poll::Ready(Err(e)),
                // `IPC_SET`: a new pass, which checks the permission again.
                Some(Handed::Retry | Handed::Nothing) | None => {}
            }
        }
        let mut wakes = WakeList::new();
        count(Event::MsgLockRecv);
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
                    count(Event::MsgWake);
                    op.waiter = None;
                    match st.receivers.remove(id).map(|(r, _)| r.handed) {
                        Some(Handed::Msg(m)) => return Poll::Ready(Ok(m)),
                        Some(Handed::Err(e)) => return Poll::Ready(Err(e)),
                        Some(Handed::Retry | Handed::Nothing) | None => {}
                    }
                }
            }
        }
        // (A selective receive on an empty ring would only find that it must wait in complex
        // mode: it goes there at once, as a ping-pong's receives do.)
        if !st.complex && op.maxsize == usize::MAX && (op.select == Select::Any || !self.ring.looks_empty()) {
            if let Some(done) = self.recv_simple_locked(who, op, cx.as_deref()) {
                return done;
            }
        }
        self.make_complex(&mut st);
        if let Err(e) = self.start(&mut op.started) {
            return Poll::Ready(Err(e));
        }
        if let Err(e) = who.check_again(self.header.perm(), READ, checked) {
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
            // Taken apart and built again: moved whole out of the `Option`, the message was
            // copied into the returned `Poll` through a temporary written and read at
            // offsets one byte apart (a store-forwarding stall on every locked receive).
            if let Some(Msg { seq, mtype, size, payload }) = st.pop_lane(mtype) {
                self.received(who.pid());
                self.wake_senders(&mut st, &mut wakes);
                self.make_simple_if_idle(&mut st);
                return Poll::Ready(Ok(Msg { seq, mtype, size, payload }));
            }
        }
        let Some(cx) = cx else {
            self.make_simple_if_idle(&mut st);
            return Poll::Ready(Err(ErrorKind::NoMessage));
        };
        let mut r = Receiver {
            select: op.select,
            maxsize: op.maxsize,
            pid: who.pid(),
            tag: 0,
            handed: Handed::Nothing,
        };
        count(Event::MsgWait);
        if r.needs_complex() {
            op.tag = self.ticket();
            r.tag = op.tag;
            op.waiter = Some(st.receivers.push_back(r, cx.waker()));
            op.any = false;
        } else {
            // A receiver of any message joins the receivers' list, which needs no complex
            // mode: with nothing queued (`find` found nothing), the queue may go back to simple
            // mode at once.
            let mut w = self.lock_waiting();
            op.tag = self.ticket();
            r.tag = op.tag;
            op.waiter = Some(w.receivers.push_back(r, cx.waker()));
            op.any = true;
            self.sync_waiting(&w);
            drop(w);
            self.make_simple_if_idle(&mut st);
        }
        Poll::Pending
    }

    /// A receive without a size limit that reached the queue's lock in simple mode: it tries
    /// the ring again under the lock (and a receive of any message waits in simple mode),
    /// rather than switching the queue to complex mode. It comes here when the ring was
    /// closed for a moment — a send growing the ring holds the lock with the ring closed —
    /// and such a switch, with a backlog queued, kept every operation on the lock until the
    /// locked passes paid 64 per queued message for the move back. `None`: complex mode
    /// decides (a selector the ring's type does not match, or that needs complex mode to
    /// wait).
    ///
    /// Under the queue's lock in simple mode no `IPC_SET` runs, so a fresh permission check
    /// holds for the pop; and `COMPLEX` stays clear, so a lock-free `ss_wakeup` that the
    /// pop's give-back runs never goes to the lock we hold.
    fn recv_simple_locked(
        &self,
        who: Caller<'_>,
        op: &mut RecvOp,
        cx: Option<&Context<'_>>,
    ) -> Option<Poll<Result<Msg<T>, ErrorKind>>> {
        if let Err(e) = self.start(&mut op.started) {
            return Some(Poll::Ready(Err(e)));
        }
        let v = match who.check(self.header.perm(), READ) {
            Ok(v) => v,
            Err(e) => return Some(Poll::Ready(Err(e))),
        };
        match self.try_simple_recv(who.pid(), v, op.select) {
            Ok(msg) => Some(Poll::Ready(Ok(msg))),
            Err(true) if cx.is_none() => Some(Poll::Ready(Err(ErrorKind::NoMessage))),
            Err(true) => self.wait_simple_if_any(who.pid(), v, op, cx).map(|p| p.map(Ok)),
            Err(false) => None,
        }
    }

    /// [`Queue::wait_simple`] for a receive of any message without a size limit that may
    /// wait (`cx`), found the ring open and empty or looking empty: `None` for any other
    /// receive, or when it must go to the queue's lock.
    fn wait_simple_if_any(
        &self,
        pid: i32,
        checked: u32,
        op: &mut RecvOp,
        cx: Option<&Context<'_>>,
    ) -> Option<Poll<Msg<T>>> {
        let cx = cx?;
        if op.select != Select::Any || op.maxsize != usize::MAX {
            return None;
        }
        let p = self.wait_simple(pid, checked, op.maxsize, &mut op.tag, &mut op.waiter, cx)?;
        op.any = true;
        Some(p)
    }

    /// The message a handoff left in `op`'s mailbox for it, which then waits no more.
    pub(super) fn take_handed(&self, op: &mut RecvOp) -> Option<Msg<T>> {
        op.waiter?;
        let mailbox = if op.any { &self.mailbox_any } else { &self.mailbox };
        let msg = mailbox.take(op.tag)?;
        count(Event::MsgWake);
        op.waiter = None;
        Some(msg)
    }

    /// A receive future dropped while registered: off the list. A message it had been
    /// handed goes back — to the next matching receiver, or into the queue at its place
    /// (oldest first) — so nothing is lost or duplicated.
    ///
    /// The test for a wait is inlined into the futures' drops, as
    /// [`cancel_send`](Self::cancel_send)'s.
    #[inline]
    pub(crate) fn cancel_recv(&self, op: &mut RecvOp) {
        if let Some(id) = op.waiter.take() {
            self.cancel_waiting_recv(op, id);
        }
    }

    /// [`cancel_recv`](Self::cancel_recv) of a receiver that waited as `id`.
    #[inline(never)]
    fn cancel_waiting_recv(&self, op: &RecvOp, id: WaiterId) {
        let mut wakes = WakeList::new();
        if op.any {
            let mut w = self.lock_waiting();
            // Handed a message through the mailbox (its entry is gone), or through the entry.
            let msg = match self.mailbox_any.take(op.tag) {
                Some(m) => Some(m),
                None => match w.receivers.remove(id) {
                    Some((Receiver { handed: Handed::Msg(m), .. }, _)) => Some(m),
                    _ => None,
                },
            };
            self.sync_waiting(&w);
            drop(w);
            if let Some(msg) = msg {
                self.put_back(self.lock(), msg, &mut wakes);
            }
            return;
        }
        let mut st = self.lock();
        let msg = match self.mailbox.take(op.tag) {
            Some(m) => m,
            None => match st.receivers.remove(id) {
                Some((Receiver { handed: Handed::Msg(m), .. }, _)) => m,
                _ => return,
            },
        };
        self.put_back(st, msg, &mut wakes);
    }

    /// A message handed to a receive that will not take it: to the next matching receiver,
    /// or into the queue at its place (oldest first), under the queue's lock.
    fn put_back(&self, mut st: MutexGuard<'_, State<T>>, msg: Msg<T>, wakes: &mut WakeList) {
        if st.removed {
            // Dropped as the queue's messages were, outside the lock.
            drop(st);
            drop(msg);
            return;
        }
        self.make_complex(&mut st);
        if let Some(pid) = self.deliver(&mut st, msg, wakes) {
            self.received(pid);
        }
        self.make_simple_if_idle(&mut st);
    }

    /// `pipelined_send`, then the enqueue, under the queue's lock: offers `msg` to the
    /// waiting receivers in arrival order — each one whose selector matches but whose
    /// `maxsize` is too small fails with `E2BIG` — and hands it to the first that takes it,
    /// or queues it. The receiver's pid when handed.
    ///
    /// The receivers of any message (in [`Waiting`](super::lanes::Waiting)) take every
    /// message, so only their oldest counts: the message goes to it unless a matching
    /// receiver of the queue's own list is older (by ticket). The ring's `WAITING` flag says
    /// whether that list has anyone (it changes under the receivers' lock; a receiver that
    /// joined it under the queue's lock, which we hold, set it before, and the switch to
    /// complex mode ordered us after any other, see `Ring::close`): no one, no second lock.
    pub(super) fn deliver(&self, st: &mut State<T>, msg: Msg<T>, wakes: &mut WakeList) -> Option<i32> {
        if self.ring.is_waiting() {
            return self.deliver_with_any(st, msg, wakes);
        }
        match offer(st, msg, u64::MAX, wakes) {
            Ok(pid) => Some(pid),
            Err(msg) => {
                st.insert(msg);
                None
            }
        }
    }

    /// [`Queue::deliver`] while receivers of any message wait: the oldest of them takes the
    /// message unless an older receiver of the queue's list does.
    #[inline(never)]
    fn deliver_with_any(&self, st: &mut State<T>, msg: Msg<T>, wakes: &mut WakeList) -> Option<i32> {
        let mut w = self.lock_waiting();
        let oldest_any = w.oldest();
        let msg = match offer(st, msg, oldest_any.map_or(u64::MAX, |(_, ticket, _)| ticket), wakes) {
            Ok(pid) => return Some(pid),
            Err(msg) => msg,
        };
        let Some(oldest) = oldest_any else {
            st.insert(msg);
            return None;
        };
        let pid = w.give(oldest, msg, wakes);
        self.sync_waiting(&w);
        Some(pid)
    }
}

/// `pipelined_send` over the queue's own receiver list, up to the receivers that arrived
/// before ticket `before`: each one whose selector matches but whose `maxsize` is too small
/// fails with `E2BIG`; the first that takes `msg` gets it (its pid). The message back when
/// none does.
#[inline(always)]
fn offer<T>(st: &mut State<T>, msg: Msg<T>, before: u64, wakes: &mut WakeList) -> Result<i32, Msg<T>> {
    let mut cur = st.receivers.front();
    while let Some(id) = cur {
        cur = st.receivers.next(id);
        let Some(r) = st.receivers.get_mut(id) else { continue };
        if r.tag > before {
            break;
        }
        if !r.select.matches(msg.mtype) {
            continue;
        }
        if r.maxsize < msg.size {
            r.handed = Handed::Err(ErrorKind::TooBig);
            st.receivers.notify(id, wakes);
            continue;
        }
        let (tag, pid) = (r.tag, r.pid);
        give(&mut st.receivers, &mut st.postman, id, tag, msg, wakes);
        return Ok(pid);
    }
    Err(msg)
}

/// Counts a waiter that was woken and is waiting again (a new entry): a wake-up that found
/// nothing.
fn count_rewait(before: Option<WaiterId>, after: Option<WaiterId>) {
    if before.is_some() && after.is_some() && before != after {
        count(Event::MsgWakeEmpty);
    }
}
