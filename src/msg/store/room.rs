//! Simple mode: the lock-free room-word protocol over the ring, the collects, and the
//! switches between the two modes.
//!
//! # Design
//!
//! **Simple mode** — every queued message has one type and no receiver waits that needs
//! complex mode (receivers of `Select::Any` without a size limit may wait, below): a send
//! or a receive of that type takes no lock. The messages sit in a bounded lock-free ring
//! (`sync::ring`: Vyukov's MPMC queue with 64-bit positions and per-slot stamps, written
//! against the `sync` shim so loom sees every step), and the room in two 64-bit *room
//! words*, each on its own cache line (`CachePadded`), one per side, so that a producer and
//! a consumer on two cores do not bounce one line per message:
//!
//! * `tx`, the senders' word: a `COMPLEX` flag, a `COLLECTING` flag and the **room**
//!   senders may still take, in messages and bytes;
//! * `rx`, the receivers' word: `SENDERS` (the sender list is not empty) and the room
//!   receives have **given back** and no sender has collected yet.
//!
//! The free room — `qbytes - cbytes` bytes, `cap - qnum` messages, where `cap` is `qbytes`
//! capped at the ring's slots — is the sum of the two words' room, plus what one collector
//! (below) holds for a moment. A send is **one CAS on `tx`** that fails on `COMPLEX` and
//! takes one message and its bytes of room — `msg_fits_inqueue`, both conditions, in the
//! same atomic step — then claims the ring's type (the first simple send after the queue
//! emptied does so with a CAS; another type gives the room back to `rx` and takes the lock),
//! stamps `msg_stime`/`msg_lspid` and, last, pushes: **one `fetch_add`** on the ring's tail
//! gives it a position, and the room it took guarantees the slot (the ring holds at most
//! `cap` messages), so the push only ever waits for a receive of the slot's previous lap
//! to finish reading it. A receive whose selector matches the ring's type claims the head
//! position with **one CAS** — its linearization point — reads the message, frees the slot
//! and ends with **one RMW on `rx`** that gives the room back and reads `SENDERS`. Four
//! RMWs per message, two per side, each on its own side's lines while the consumer keeps
//! up. No operation keeps an in-flight count: a mode switch closes the ring (a bit in its
//! head, on which a receive's CAS fails) and waits for the room that operations in flight
//! still hold (below). A `try_recv` that finds nothing in simple mode answers `ENOMSG` from
//! that attempt (every queued message is in the ring then, of its one type); a receive that
//! may wait skips the attempt when the ring looks empty and goes to the lock.
//!
//! **The ring grows.** It starts at 16 slots. A send whose collect found only the message
//! count short — the bytes fit, and the ring caps the count below `qbytes`, so every slot
//! is taken while the queue has room (never a reason for `EAGAIN` or a wait) — takes the
//! lock, drains the ring, doubles it (up to 4096 slots; older arrays
//! are kept until the queue drops, for receives that may still read a stamp there) and
//! moves the messages back, staying in simple mode; past 4096 messages the queue goes to
//! complex mode's lanes, which have no such limit. So a queue's ring ends up as large as
//! its traffic needs, and each message is moved O(1) times on average.
//!
//! Keeping the *remaining* room in `tx` makes a CAS that succeeds on a stale read safe: it
//! found the same room, so its decision holds whatever `IPC_SET` did in between.
//!
//! **Collecting.** A send whose CAS finds `tx`'s room short does not give up: it
//! *collects*, the way a ring buffer's producer re-reads the consumer's index only when its
//! cached view says full. A CAS sets `COLLECTING` on a `tx` whose room is
//! short, one RMW takes all the room `rx` holds, and one RMW adds it to `tx` and clears
//! `COLLECTING`; then the send tries again. Only a collector decides that a message does not
//! fit, and only when `tx`'s room at its CAS plus what it took from `rx` is short. That is
//! right at the instant of its RMW on `rx`: while `COLLECTING` is set nothing adds room to
//! `tx` (only the collector does, one at a time; a send that gives room back puts it in
//! `rx`), and `tx`'s room only shrinks by sends that took it, so the free room then was at
//! most what it counted. Other sends that find the room short while a collect runs wait
//! for it (a few instructions, never blocking). So `EAGAIN` or a wait is never decided on
//! a queue with room, and no field overflows: the room in both words and in flight never
//! exceeds `qbytes`. While the consumer keeps up, a send touches only `tx` and a receive
//! only `rx`; on a full queue each send collects the one message of room a receive gave
//! back, so `rx`'s line still travels once per message.
//!
//!
//! **A sender that does not fit waits without leaving simple mode**: under the senders'
//! lock (see "Senders that wait in simple mode" below; the queue's lock on the locked path)
//! it joins the sender list, sets `SENDERS` in `rx` (an RMW) and then tries the send again —
//! through a collect, whose RMW on `rx` comes after its own. A simple receive gives room
//! back in the RMW on `rx` that ends it, which also returns `SENDERS`. The RMWs on `rx` are
//! ordered: either the receive's came first, and the sender's collect (or the one it waited
//! for) finds that room; or the sender's came first, and the receive sees `SENDERS` and runs
//! `ss_wakeup` under the senders' lock. There `ss_wakeup` first *consolidates* — collects `rx` into
//! `tx` itself, waiting for a collect in progress — before it compares the room with each
//! waiting sender's size: reading the two words plainly could miss room a collector holds
//! between them, more than its own send needs, and leave a sender asleep on a queue with
//! room (the loom model `surplus_of_a_collect_wakes_waiting_sender` fails that way). Room
//! freed after the consolidation finds `SENDERS` set and runs `ss_wakeup` again — or, while
//! a woken sender's promise keeps `SENDERS` clear (below), is passed on by that sender when
//! it runs. No lost wake-up. `IPC_STAT` and `MSG_INFO` consolidate too, so their counts in
//! simple mode are those of one instant.
//!
//! **Switching.** Only the lock holder changes modes. To complex: set `COMPLEX` in `tx` (no
//! simple send starts after it) and close the ring (no simple receive claims a message
//! after it), wait for a collect to clear `COLLECTING`, then drain the ring into its lane
//! (the lanes are empty in simple mode) until the messages moved plus the room in `tx`
//! (now final) and `rx` make `cap`: every message's worth of room is then free, or in a
//! lane — none still held by a send that has not pushed yet or not yet given its room
//! back, nor by a receive that claimed its message before the close and has not yet given
//! the room back (each simple operation is a handful of atomics, never blocking). A message
//! a simple send pushed gets its sequence number then (`UNNUMBERED` until that moment);
//! one that went back into the ring from a lane keeps its own. The room fields are dead
//! from then on.
//!
//! Back to simple, at the end of a locked operation (and at the start of a locked send),
//! **as soon as nothing needs the lanes** — not only when the queue is idle: the queued
//! messages have at most one type and fit the ring, no room is held by a permit, no
//! receiver waits that needs complex mode, the queue is alive and `qbytes` fits the words'
//! 24-bit room fields (16 MiB). The lane's messages move into the ring, oldest first, with their sequence
//! numbers (so a message a dropped receive puts back still goes before them); then the
//! ring's type is set, `rx` stored with no room and `SENDERS` as the sender list needs,
//! the ring reopened and `tx` stored with the room the messages leave (Release). (Growing
//! the ring is the same switch with a larger array.) Waiting for an empty queue, as this
//! engine first did, kept a loaded queue in complex mode for good: one receiver that waited
//! once, and a backlog that never drained, made every later operation take the lock.
//! A handoff in complex mode leaves the queue there, because the receiver it woke is likely
//! to wait again (ping-pong, whose selectors need complex mode); the next locked operation
//! that finds nobody waiting who needs it switches back.
//! The price: each switch moves the backlog (at most the ring's 4096 slots) one way. So the
//! switch back also waits until the complex episode has made at least
//! `PASSES_PER_MOVED_MESSAGE` (64) locked passes per queued message: the moves stay a small,
//! fixed fraction of the locked work, whatever the pattern. A woken receiver's small backlog
//! goes back at once; a selective receive behind a large backlog of another type (which
//! needs complex mode on every call) no longer moves the backlog out and back per call —
//! that cost `recv(Type(1))` behind 100 messages of type 2 70x its time before the rule.
//! A simple operation in flight when the switch begins finishes first and so linearizes
//! before it; every other operation linearizes inside the lock or at its one CAS, so
//! `recv(Any)` returns the oldest matching message fully sent before it.
//!
//! **Waking senders, one per room.** The kernel's `ss_wakeup` wakes every waiting sender
//! whose message fits the free room on its own: with room for one message and seven
//! senders waiting, seven tasks wake, lock, and six go back to sleep — and every receive
//! from a full queue locks to do it again. Here `ss_wakeup` wakes, oldest first, only as
//! many senders as the free room takes together, less the room already promised to
//! senders it woke that have not yet taken their entries off the list
//! (`Senders::promised_count`/`promised_bytes`). While such a promise is out, `SENDERS` stays
//! clear, so a receive that frees room takes no lock; the woken sender, once it runs, takes
//! its entry off (its promise with it, and `SENDERS` comes back if others wait) and runs
//! `ss_wakeup` itself over the room freed meanwhile, whatever its outcome: after it sent or
//! reserved, before it waits again (the room went to a newer sender), on an error, or from
//! its `Drop`. So no sender sleeps on a queue with room for it, and a full queue costs one
//! `ss_wakeup` per woken sender, not one per freed message (loom models in
//! `loom_msg_wakeup.rs`); in simple mode it takes the senders' lock, not the queue's
//! (below).
//!
//! **Receivers that wait in simple mode.** A receiver of `Select::Any` without a size limit
//! takes any message whole, so it needs none of complex mode's lanes to wait: it joins a
//! receiver list of its kind, under a lock of its own, with a mailbox of its own
//! (`lanes.rs`, `Waiting`; the lock is taken after the queue's when both are held), and the
//! queue stays lock-free. Until this change
//! such a receiver put the queue in complex mode for as long as it waited, and every send
//! meanwhile locked the queue to hand it the message: with consumers waiting in turn
//! (MPMC 8x8), one lock per hand-off and the convoy issue 12 measured on 16 cores.
//!
//! * **Registering** (`Queue::wait_simple`, under the receivers' lock): the receiver joins
//!   the list, sets the ring's `WAITING` flag — bit 0 of the ring's `tail`, one RMW — and
//!   looks at the ring once more. The ring hands out positions with a `fetch_add` on that
//!   same word, so every push is ordered against the flag: a push whose position came
//!   before it is below the position the flag's RMW returns, and the second look answers
//!   `Empty` only once `head` has passed every such position (the message was taken, by
//!   this look or another receive); a push whose position comes after it gets the flag
//!   back from its `fetch_add`. The same argument with two separate words would be a
//!   store-buffering pattern, which needs `SeqCst` fences (and which loom does not model).
//!   A closed ring (complex mode) or a permission change since the caller's check sends
//!   the receiver to the queue's lock instead.
//! * **Handing over** (`Queue::hand_from_ring`): a simple send whose push got the flag
//!   takes the receivers' lock after its push, pops the ring's head — the oldest message,
//!   its own or an older one — and hands it to the oldest waiting receiver through the
//!   mailbox (its entry leaves the list), as `pipelined_send` would: it numbers it, so that
//!   a dropped receive puts it back at its place; stamps `msg_lrpid`/`msg_rtime`; and gives
//!   its room back to `rx` like a receive (running `ss_wakeup` if `SENDERS` says so). When
//!   the ring is empty by then, a receive took that message and the receiver sleeps on:
//!   each push after the flag makes its own attempt, so no message stays in the ring while
//!   a receiver sleeps. The woken receiver takes its message from the mailbox without a
//!   lock (from its entry, under the receivers' lock, when the mailbox was full).
//! * **The flag equals "a receiver waits"** under the receivers' lock: set by a
//!   registration, cleared by whoever takes the last waiting receiver off. So a locked send
//!   in complex mode skips the receivers' lock when the flag is clear.
//! * **Switching to complex mode** closes the ring and then makes one RMW on `tail`: a
//!   registering receiver either finds the ring closed on its second look, or its flag is
//!   seen by the switch and everyone after it (without that RMW, the loom model
//!   `switch_racing_a_simple_registration_still_sees_the_receiver` finds a locked send that
//!   reads no flag and queues its message while the receiver sleeps). The switch numbers the messages it drained
//!   only once every simple operation is done (a hand-off numbers its message before it
//!   gives the room back, which the drain waits for), and hands them, oldest first, to the
//!   receivers still waiting: a push whose hand-off found the ring closed left its message
//!   there (the loom model `switch_and_back_hands_a_drained_message_to_the_waiting_receiver`
//!   deadlocks without it).
//! * **A receive that reaches the lock in simple mode** — it found the ring closed for a
//!   moment, while a send grew the ring under the lock — tries the ring there, and a
//!   receive of any message waits in simple mode (`Queue::recv_simple_locked`), instead of
//!   switching the queue to complex mode on entry as the locked receive path does: with a
//!   backlog queued, that switch kept every operation on the lock until the locked passes
//!   paid for moving the backlog back (BENCHMARKS.md, "Senders wait without the queue's
//!   lock", has the runs).
//! * **What still needs complex mode**: a receiver with a type selector or a size limit,
//!   since each message must be offered to it in turn, with `E2BIG` for a too-small one. It
//!   waits in the queue's own list (`State::receivers`, under the queue's lock, as before),
//!   and simple mode needs that list empty. A handoff under the queue's lock goes to the
//!   older (by ticket, the receivers' mailbox tags from one counter) of the first matching
//!   receiver there and the oldest receiver of any message, so the arrival order holds
//!   across the two lists; a ping-pong between type selectors takes no second lock (one
//!   shared list cost it 15% more instructions per round trip). `IPC_SET` and `IPC_RMID`
//!   run in complex mode and notify both lists.
//!
//! Cost: a hand-off takes the receivers' lock once (the send's), a wait once (the
//! registration), and the queue's lock never; a lock held for a few list operations, not
//! for the queue's work. The order among receivers is the kernel's — the oldest waiting one
//! gets the oldest message — except against a receive that runs while a send is between
//! its push and its hand-off: that receive may take the message first (the send has not
//! returned yet, so no caller can tell it from the receive coming first).
//!
//! **Senders that wait in simple mode.** The waiting senders (and reservations) are one
//! list under a lock of their own (`lanes.rs`, `Senders`; taken after the queue's when both
//! are held, never with the receivers' lock), in both modes, so they keep one FIFO order
//! whichever mode each began waiting in. Until this change a sender that found the queue
//! full registered under the queue's lock, the receive that freed room took it to run
//! `ss_wakeup`, and the woken sender took it again to leave the list: three queue locks per
//! message on a full queue with producers waiting in turn.
//!
//! * **Registering** (`Queue::sender_waits_free`): a simple send that a collect found not
//!   to fit joins the list under the senders' lock, which sets `SENDERS` (an RMW on `rx`),
//!   and after the lock tries again — the argument above, with the senders' lock for the
//!   queue's. A second try that finds complex mode, the ring's other type, only the ring's
//!   slots short or the permissions changed takes the entry off again (passing on a
//!   wake-up it got meanwhile) and goes to the queue's lock, which decides.
//! * **Waking** (`Queue::wake_senders_free`): a receive whose give-back returned `SENDERS`
//!   takes the senders' lock, consolidates and wakes, oldest first, the senders the room
//!   takes, each promised its room (below). The consolidation fails on `COMPLEX`: in complex
//!   mode the room is the lanes' counts, so it goes to the queue's lock
//!   (`Queue::wake_senders_locked`). While its collect holds `COLLECTING` no switch can
//!   begin its drain, so the room it counts and the ring's `cap` it reads are one simple
//!   episode's; a promise made just before a switch is counted by complex mode's
//!   `ss_wakeup` like any other.
//! * **Leaving** (`Queue::woken_sender`): a woken sender takes its entry (and its promise)
//!   off under the senders' lock, reads `IPC_RMID`'s flag there (`EIDRM`), checks the
//!   write permission again and sends on the lock-free path; then it passes on the room
//!   freed while it was on its way, as before. One that finds the queue full again (a
//!   newer send took the room) passes its promise on and registers again, at the tail.
//! * **The switch back to simple mode** stores `SENDERS` from the list with the senders'
//!   lock held across its stores of `rx` and `tx`, so a registration is wholly before them
//!   (its entry is seen) or after them (it finds simple mode and the flag is its own).
//!   `IPC_RMID` sets the flag and notifies every sender under both locks; a sender that
//!   registers afterwards finds complex mode on its second try and the removal under the
//!   queue's lock. A locked sender whose entry a lock-free `ss_wakeup` woke takes the
//!   promise with it and passes it on.
//!
//! Cost on a full queue with producers waiting in turn: no queue lock; the senders' lock
//! four times per message (the receive's wake-up, the woken sender leaving, its pass-on,
//! the next sender's registration), each held for a few list operations (loom models in
//! `loom_msg_sending.rs`).
//!
//! **Permissions and lock-free calls.** A lock-free send or receive checks permission, then
//! makes its one atomic step; an `IPC_SET` in between is seen — it runs in complex mode, so
//! the step finds the simple mode after it and the permissions' version it changed — and
//! sends the call to the lock to check again. So a call never succeeds on a permission that
//! an `IPC_SET` which completed before its atomic step had taken away (loom models
//! `recv_racing_permission_revocation`, `send_racing_permission_revocation`).

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use std::task::{Context, Poll};

use super::super::select::Select;
use super::lanes::{Handed, Msg, Receiver, Senders, State};
use super::Queue;
use crate::sync::backoff;
use crate::sync::counters::{count, Event};
use crate::sync::ring::Pop;
use crate::sync::wait_list::{WaiterId, WaiterState, WakeList};

// The two room words, each on its own cache line: `Queue::tx` (the senders' side) and
// `Queue::rx` (the receivers' side), 64 bits each, with the same layout:
//
//   bit  0      tx: COMPLEX     the queue is in complex mode; simple sends may not start
//                               (simple receives are stopped by the ring's closed bit)
//   bit  1      tx: COLLECTING  a sender is moving the room in `rx` over to `tx`
//               rx: SENDERS     the sender list is not empty: a simple operation that
//                               frees room must run `ss_wakeup` (senders' lock)
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
pub(super) const COMPLEX: u64 = 1;
pub(super) const COLLECTING: u64 = 2;
pub(super) const SENDERS: u64 = 2;
pub(super) const ROOM_COUNT: u64 = 1 << 16;
pub(super) const ROOM_BYTES: u64 = 1 << 40;
/// Both room fields.
pub(super) const ROOM_MASK: u64 = !0xffff;
/// The largest `qbytes` simple mode handles (the room fields are 24 bits).
pub(super) const SIMPLE_QBYTES_MAX: usize = (1 << 24) - 1;

/// The sequence number of a message a simple send pushed: it gets its number when a switch
/// to complex mode drains the ring (numbers start at 1).
pub(super) const UNNUMBERED: u64 = 0;

/// The ring's slots when a queue is created (a small ring exercises its wrap-around under
/// loom).
pub(super) const RING_INITIAL: usize = if cfg!(loom) { 2 } else { 16 };
/// The most slots the ring grows to: beyond it, messages past this many wait in complex
/// mode's lanes (which have no such limit).
pub(super) const RING_MAX: usize = 1 << 12;
/// How many locked passes of a complex episode pay for moving one queued message back into
/// the ring when the queue returns to simple mode ([`Queue::make_simple_if_idle`]). A pass
/// takes the lock and walks a wait list; a move pops a lane, numbers the message and pushes
/// a slot, which measured close to a pass's cost: at 8 passes per message `recv(Type(1))`
/// behind 100 messages of type 2 still took 1.2x its time without moves (103-118 ns
/// against 80-91), at 64 it is level (87-88 ns). Under contention the counters showed no
/// difference between 8 and 64 (MPMC 8x8 on 8 workers, two cores). Under loom it is 0, the eager
/// switch, so that the models' few operations still reach the switch back and its races.
pub(super) const PASSES_PER_MOVED_MESSAGE: usize = if cfg!(loom) { 0 } else { 64 };

/// The room words' value with `count` messages and `bytes` bytes of room.
pub(super) fn room(count: usize, bytes: usize) -> u64 {
    count as u64 * ROOM_COUNT + bytes as u64 * ROOM_BYTES
}

/// The room one message of `size` bytes takes, as the room fields hold it. Only for a
/// `size` that fitted (at most `SIMPLE_QBYTES_MAX`).
pub(super) fn room_of(size: usize) -> u64 {
    ROOM_COUNT + size as u64 * ROOM_BYTES
}

/// Whether one message of `size` bytes fits in the room of `a` and `b` together (each
/// field added on its own, so two words read at different instants cannot carry).
pub(super) fn fits_in(a: u64, b: u64, size: usize) -> bool {
    room_count(a) + room_count(b) >= 1 && room_bytes(a) + room_bytes(b) >= size as u64
}

pub(super) fn room_count(word: u64) -> u64 {
    (word >> 16) & 0xff_ffff
}

pub(super) fn room_bytes(word: u64) -> u64 {
    word >> 40
}

/// What [`Queue::try_simple_send`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum SimpleSend {
    /// Sent. `wake`: it handed a message from the ring to a waiting receiver, giving back
    /// that message's room while `SENDERS` was set (someone must run `ss_wakeup`, under the
    /// lock).
    Sent { wake: bool },
    /// The message does not fit (decided by a collect, see [`Queue::enter_send`]): nothing
    /// changed. `slots`: only the message count was short at the collect's instant, not the
    /// bytes — when the ring caps the count below `qbytes` ([`Queue::ring_limited`]), the
    /// queue itself had room then, so neither `EAGAIN` nor a wait may follow from it.
    Full { slots: bool },
    /// Complex mode: nothing changed.
    Busy,
    /// The FIFO holds another type: the room taken was given back, and `wake` says whether
    /// `SENDERS` was set then (someone must run `ss_wakeup`: [`Queue::wake_senders_free`]).
    OtherType { wake: bool },
    /// The permissions changed since the caller's check: the room taken was given back (as
    /// for `OtherType`), and the locked path checks again.
    Recheck { wake: bool },
}

impl<T> Queue<T> {
    /// Gives back the room of one message of `size` bytes into `rx` (a receive's, or a send
    /// that must go back to the lock); returns whether `SENDERS` was set. AcqRel: the lock
    /// holder draining the ring sees the operation's effects once it sees the room, and a
    /// sender that set `SENDERS` before this RMW is seen (see [`Queue::poll_send`]).
    pub(super) fn give_back(&self, size: usize) -> bool {
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
    pub(super) fn enter_send(&self, size: usize) -> Result<(), SimpleSend> {
        let mut cur = self.tx.load(Relaxed);
        let mut spins = 0u32;
        loop {
            if cur & COMPLEX != 0 {
                return Err(SimpleSend::Busy);
            }
            if fits_in(cur, 0, size) {
                match self.tx.compare_exchange_weak(cur, cur - room_of(size), Acquire, Relaxed) {
                    Ok(_) => return Ok(()),
                    Err(now) => {
                        count(Event::MsgCasFailTx);
                        cur = now;
                    }
                }
                continue;
            }
            if cur & COLLECTING != 0 {
                backoff(&mut spins);
                cur = self.tx.load(Relaxed);
                continue;
            }
            if let Err(now) = self.tx.compare_exchange_weak(cur, cur + COLLECTING, Acquire, Relaxed) {
                count(Event::MsgCasFailTx);
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
    pub(super) fn consolidate(&self) -> u64 {
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
    pub(super) fn collect_rx(&self) -> (u64, u64) {
        let given = self.rx.fetch_and(!ROOM_MASK, Relaxed) & ROOM_MASK;
        let back = given.wrapping_sub(COLLECTING);
        (given, self.tx.fetch_add(back, Release).wrapping_add(back))
    }

    /// Puts the queue in complex mode, under the lock: sets `COMPLEX` in `tx` (no simple
    /// send starts after it) and closes the ring (no simple receive claims a message after
    /// it), waits for a collect to finish, and drains the ring into its lane with fresh
    /// sequence numbers (the lanes are empty in simple mode). The room fields are dead
    /// until [`Queue::make_simple_if_idle`] stores them afresh.
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
    pub(super) fn make_complex(&self, st: &mut State<T>) {
        if st.complex {
            return;
        }
        st.complex = true;
        st.complex_passes = 0;
        count(Event::MsgToLocked);
        self.tx.fetch_or(COMPLEX, AcqRel);
        self.ring.close();
        let mut spins = 0u32;
        while self.tx.load(Acquire) & COLLECTING != 0 {
            backoff(&mut spins);
        }
        let cap = self.cap.load(Relaxed) as u64;
        let free = room_count(self.tx.load(Acquire));
        let mut drained = Vec::new();
        spins = 0;
        loop {
            if let Some(msg) = self.ring.take_closed() {
                drained.push(msg);
                continue;
            }
            // Acquire: a send that gave its room back did so after its type claim; a
            // receive, after its pop (and a send that handed a message from the ring, after
            // it numbered it).
            if drained.len() as u64 + free + room_count(self.rx.load(Acquire)) >= cap {
                break;
            }
            // An operation between its room and its push or give-back (a few
            // instructions, never blocking).
            backoff(&mut spins);
        }
        // A simple send's message gets its number now, once no simple operation runs: a
        // send that handed the ring's head to a waiting receiver numbered it before giving
        // its room back, so every number given here is larger, as the messages are younger.
        // One that `make_simple` moved into the ring keeps its own, older than every message
        // behind it and still ordered against a handed message that a dropped receive may
        // put back.
        for mut msg in drained {
            if msg.seq == UNNUMBERED {
                msg.seq = self.number();
            }
            st.insert(msg);
        }
        // A receiver that waited in simple mode while a send it should have been handed was
        // still between its push and its hand-off (which then found the ring closed): it
        // gets the oldest messages now, as a complex-mode send would have handed them.
        if st.qnum > 0 && self.ring.is_waiting() {
            let mut wakes = WakeList::new();
            let mut w = self.lock_waiting();
            let mut handed = false;
            // (Simple mode had no receiver in `st.receivers`: these are the oldest.)
            while let (Some(mtype), Some(oldest)) = (st.find(Select::Any), w.oldest()) {
                let Some(msg) = st.pop_lane(mtype) else { break };
                let pid = w.give(oldest, msg, &mut wakes);
                self.received(pid);
                handed = true;
            }
            self.sync_waiting(&w);
            drop(w);
            if handed {
                // The room those messages held, to the senders that wait for it.
                self.wake_senders(st, &mut wakes);
            }
        }
    }

    /// Back to simple mode, under the lock, as soon as nothing needs the full structure and
    /// the move has been paid for — not only when the queue is idle: the queued messages
    /// have at most one type and fit the ring (they move into it, oldest first), no room is
    /// held by a permit, no receiver waits that needs complex mode, the queue is alive,
    /// `qbytes` is within the
    /// words' 24-bit room fields, and this complex episode has made at least
    /// `PASSES_PER_MOVED_MESSAGE` locked passes per queued message (every call of this
    /// function in complex mode counts one). The next simple send of an empty queue claims
    /// the ring's type.
    ///
    /// Waiting until the queue was empty kept a loaded queue locked for good: one receiver
    /// that waited once (complex mode) and a backlog that never drains made every later
    /// operation take the lock (BENCHMARKS.md, "Message queues under contention").
    pub(super) fn make_simple_if_idle(&self, st: &mut State<T>) {
        if !st.complex {
            return;
        }
        st.complex_passes = st.complex_passes.saturating_add(1);
        if !self.simple_allowed(st) || st.heads.len() > 1 {
            return;
        }
        // The move costs one step per queued message, so it waits until the locked passes of
        // this complex episode number at least `PASSES_PER_MOVED_MESSAGE` per message: the
        // moves stay a fixed fraction of the locked work. A small backlog (a woken receiver
        // just left) goes back at once; a large one that a selective receive keeps in complex
        // mode (`recv(Type(1))` behind messages of type 2) no longer crosses over and back on
        // every call.
        if st.complex_passes < st.qnum.saturating_mul(PASSES_PER_MOVED_MESSAGE) {
            return;
        }
        let cap = st.qbytes.min(self.ring.capacity());
        if st.qnum <= cap && st.cbytes <= st.qbytes {
            self.make_simple(st, None);
        }
    }

    /// What simple mode needs besides the lanes' contents: no room held by a permit, no
    /// receiver waiting that needs complex mode (one of `Select::Any` without a size limit
    /// may wait in simple mode), the queue alive and `qbytes` within the room fields.
    pub(super) fn simple_allowed(&self, st: &State<T>) -> bool {
        !st.removed && st.reserved_count == 0 && st.receivers.is_empty() && st.qbytes <= SIMPLE_QBYTES_MAX
    }

    /// A send found the ring full, under the lock in simple mode, while `qbytes` has room
    /// for more messages: doubles the ring (up to [`RING_MAX`]) and goes on in simple mode,
    /// the way a `Vec` grows — so a queue's ring ends up as large as its traffic needs,
    /// each message moved O(1) times on average. `false` when it is as large as it gets.
    pub(super) fn grow_ring(&self, st: &mut State<T>) -> bool {
        let slots = self.ring.capacity();
        if slots >= RING_MAX || !self.simple_allowed(st) {
            return false;
        }
        // Drains the ring into the one lane of its type, and stops every simple operation.
        self.make_complex(st);
        self.make_simple(st, Some(slots * 2));
        true
    }

    /// Back to simple mode, under the lock, with the lanes holding messages of at most one
    /// type, no more than the ring (grown to `grow` slots if given) holds: they move into
    /// the ring, oldest first, before it reopens, so a receive sees all of them or the
    /// closed ring (and takes the lock). Then `rx` is stored with no room, and `tx` with the
    /// room the moved messages leave.
    pub(super) fn make_simple(&self, st: &mut State<T>, grow: Option<usize>) {
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
        crate::sync::counters::count(Event::MsgToLockFree);
        self.qbytes.store(st.qbytes, Relaxed);
        self.cap.store(cap, Relaxed);
        self.simple_type.store(mtype, Relaxed);
        // The senders' lock across the stores: `SENDERS` changes only under it, and a sender
        // that registers without the queue's lock does so before or after all of them (one
        // before sees `SENDERS` stored from its entry; one after finds simple mode).
        let senders = self.lock_senders();
        let flag = if senders.list.is_empty() { 0 } else { SENDERS };
        // Nothing else writes the words now: simple sends cannot start (COMPLEX) and none
        // is in flight, and the flags change only under the locks we hold. Release: a simple
        // operation that enters sees the stores above. `rx` first: receives may give room
        // back once the ring is open.
        self.rx.store(flag, Release);
        self.ring.reopen();
        self.tx.store(room(cap - count, st.qbytes - bytes), Release);
        drop(senders);
    }

    /// Whether simple mode's message count is capped by the ring rather than `qbytes`: then
    /// a send that finds no room may still fit the queue, in complex mode.
    pub(super) fn ring_limited(&self) -> bool {
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
    pub(super) fn try_simple_send(
        &self,
        pid: i32,
        checked: Option<u32>,
        mtype: i64,
        size: usize,
        payload: &mut Option<T>,
    ) -> SimpleSend {
        if payload.is_none() {
            // Polled again after it completed: nothing to send, no room to take.
            return SimpleSend::Sent { wake: false };
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
            if self.ring.push(Msg { seq: UNNUMBERED, mtype, size, payload }) {
                // A receiver waits: the oldest message goes to it (see "Receivers that wait
                // in simple mode").
                return SimpleSend::Sent { wake: self.hand_from_ring() };
            }
        }
        SimpleSend::Sent { wake: false }
    }

    /// After a simple push that found the ring's `WAITING` flag: under the receivers' lock,
    /// pops the ring's oldest message and hands it to the oldest waiting receiver —
    /// `pipelined_send` one step late, without the queue's lock. The message gets its
    /// sequence number here (a dropped receive may put it back in its place); the room it
    /// held goes back to `rx`, as a receive's does, after the lock is released. Returns
    /// whether `SENDERS` was set then: the caller runs `ss_wakeup` (lock-free,
    /// [`Queue::wake_senders_free`], or under the queue's lock if it holds it).
    ///
    /// Nothing to do when no receiver waits any more, or when the ring is empty (a receive
    /// took the message: the receiver stays asleep for the next push, which sees the flag
    /// too) or closed (the switch to complex mode hands the drained messages to the
    /// waiting receivers, `Queue::make_complex`).
    #[inline(never)]
    fn hand_from_ring(&self) -> bool {
        let mut wakes = WakeList::new();
        let mut w = self.lock_waiting();
        let mut freed = None;
        // The oldest waiting receiver of all: while the ring is open no receiver waits in
        // `State::receivers` (one registers there only after a switch closed the ring, and a
        // switch cannot end while a pop of ours holds room).
        if let Some(oldest) = w.oldest() {
            if let Pop::Taken(mut msg) = self.ring.pop_if(|| true) {
                msg.seq = self.number();
                freed = Some(msg.size);
                let pid = w.give(oldest, msg, &mut wakes);
                self.received(pid);
            }
        }
        self.sync_waiting(&w);
        drop(w);
        freed.is_some_and(|size| self.give_back(size))
    }

    /// A receive of `Select::Any` without a size limit that found the simple ring empty,
    /// and may wait: it waits **without the queue's lock and without leaving simple mode**.
    /// Under the receivers' lock it joins the list, sets the ring's `WAITING` flag (one RMW
    /// on the ring's `tail`, which every push is ordered against) and then tries the ring
    /// once more: a message pushed before the flag is taken now (or by another receive:
    /// `Pop::Empty` means `head` reached every position handed out before the flag), and a
    /// push after it sees the flag and hands its message over ([`Queue::hand_from_ring`]).
    ///
    /// `None` when it must go to the queue's lock instead: the ring is closed (complex mode,
    /// or a switch under way), or the permissions changed since the caller's check at
    /// `checked` (an `IPC_SET` that ran before we registered; one that runs after finds us
    /// on the list and wakes us to check again).
    #[inline(never)]
    pub(super) fn wait_simple(
        &self,
        pid: i32,
        checked: u32,
        maxsize: usize,
        tag: &mut u64,
        waiter: &mut Option<WaiterId>,
        cx: &Context<'_>,
    ) -> Option<Poll<Msg<T>>> {
        let mut w = self.lock_waiting();
        *tag = self.ticket();
        let r = Receiver { select: Select::Any, maxsize, pid, tag: *tag, handed: Handed::Nothing };
        let id = w.receivers.push_back(r, cx.waker());
        self.ring.set_waiting();
        let perm = self.header.perm();
        match self.ring.pop_if(|| perm.unchanged_since(checked)) {
            Pop::Empty if perm.unchanged_since(checked) => {
                count(Event::MsgWait);
                *waiter = Some(id);
                Some(Poll::Pending)
            }
            Pop::Taken(msg) => {
                w.receivers.remove(id);
                self.sync_waiting(&w);
                drop(w);
                self.received(pid);
                if self.give_back(msg.size) {
                    self.wake_senders_free();
                }
                Some(Poll::Ready(msg))
            }
            _ => {
                w.receivers.remove(id);
                self.sync_waiting(&w);
                None
            }
        }
    }

    /// Whether the ring takes `mtype`: its type already, or unclaimed and now claimed.
    pub(super) fn claim_type(&self, mtype: i64) -> bool {
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
    #[inline]
    pub(super) fn try_simple_recv(&self, pid: i32, checked: u32, select: Select) -> Result<Msg<T>, bool> {
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
                    self.wake_senders_free();
                }
                Ok(msg)
            }
            Pop::Empty | Pop::Refused => Err(perm.unchanged_since(checked)),
            Pop::Closed => Err(false),
        }
    }

    /// `ss_wakeup` after a simple operation freed room with `SENDERS` set. Not while in
    /// flight: the lock holder may be draining us. The fallback of
    /// [`Queue::wake_senders_free`] in complex mode.
    pub(super) fn wake_senders_locked(&self) {
        let mut wakes = WakeList::new();
        count(Event::MsgLockWakeSenders);
        let mut st = self.lock();
        self.wake_senders(&mut st, &mut wakes);
    }

    /// `ss_wakeup` after a simple operation freed room with `SENDERS` set (or a woken
    /// sender passes on room it does not use), **without the queue's lock**: under the
    /// senders' lock alone, the room is [consolidated](Queue::try_consolidate) and the
    /// senders it takes are woken, as [`Queue::wake_senders`] does. In complex mode (the
    /// consolidation finds `COMPLEX`) the room is the lanes' counts, under the queue's lock:
    /// [`Queue::wake_senders_locked`]. Not while in flight, as that one.
    pub(super) fn wake_senders_free(&self) {
        let mut wakes = WakeList::new();
        let mut s = self.lock_senders();
        if s.list.is_empty() {
            self.sync_senders(&s);
            return;
        }
        match self.try_consolidate() {
            Some((room, ring_limited)) => {
                let count = if ring_limited { usize::MAX } else { room_count(room) as usize };
                self.wake_fitting(&mut s, count, room_bytes(room) as usize, &mut wakes);
            }
            None => {
                drop(s);
                self.wake_senders_locked();
            }
        }
    }

    /// [`Queue::consolidate`] for a caller without the queue's lock: `None` once it finds
    /// `COMPLEX` (a switch under way or done; the caller goes to the lock). Otherwise `tx`
    /// just after the collect, and whether simple mode's count is ring-limited, read while
    /// the collect's `COLLECTING` holds off every switch (a switch to complex mode waits for
    /// it to clear, so the `cap` and `qbytes` read are this simple episode's).
    pub(super) fn try_consolidate(&self) -> Option<(u64, bool)> {
        let mut cur = self.tx.load(Relaxed);
        let mut spins = 0u32;
        loop {
            if cur & COMPLEX != 0 {
                return None;
            }
            if cur & COLLECTING != 0 {
                backoff(&mut spins);
                cur = self.tx.load(Relaxed);
                continue;
            }
            match self.tx.compare_exchange_weak(cur, cur + COLLECTING, Acquire, Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        let ring_limited = self.ring_limited();
        Some((self.collect_rx().1, ring_limited))
    }

    /// `ss_wakeup(.., kill = false)`: wakes every waiting sender whose own size fits the
    /// current state, moving the others to the tail. Under the queue's lock (the senders'
    /// lock taken inside).
    ///
    /// In simple mode the room is first [consolidated](Queue::consolidate) into `tx`: a
    /// plain read of both words could miss room a collector holds between them. Room freed
    /// after that finds `SENDERS` set (the list is not empty) and calls this again.
    pub(super) fn wake_senders(&self, st: &mut State<T>, wakes: &mut WakeList) {
        let mut s = self.lock_senders();
        if s.list.is_empty() {
            return;
        }
        // The free room, less what senders woken earlier and not yet back were promised.
        let (count, bytes) = if st.complex {
            let used = st.qnum.saturating_add(st.reserved_count);
            (
                st.qbytes.saturating_sub(used),
                st.qbytes.saturating_sub(st.cbytes.saturating_add(st.reserved_bytes)),
            )
        } else {
            let room = self.consolidate();
            // A ring-limited count is not the queue's: let the sender try (it goes to
            // complex mode when the ring is what is full).
            let count = if self.ring_limited() { usize::MAX } else { room_count(room) as usize };
            (count, room_bytes(room) as usize)
        };
        self.wake_fitting(&mut s, count, bytes, wakes);
    }

    /// The body of `ss_wakeup` over a free room of `count` messages and `bytes` bytes:
    /// less the room already promised, wakes the oldest senders that fit, each promised its
    /// room, and moves the others to the tail; then [`Queue::sync_senders`].
    fn wake_fitting(&self, s: &mut Senders, count: usize, bytes: usize, wakes: &mut WakeList) {
        let mut count = count.saturating_sub(s.promised_count);
        let mut bytes = bytes.saturating_sub(s.promised_bytes);
        for _ in 0..s.list.len() {
            let Some(id) = s.list.front() else { break };
            let Some(sender) = s.list.get_mut(id) else { break };
            let size = sender.size;
            if count >= 1 && bytes >= size {
                sender.promised = true;
                count -= 1;
                bytes -= size;
                s.promised_count += 1;
                s.promised_bytes += size;
                s.list.notify(id, wakes);
            } else {
                s.list.move_to_back(id);
            }
        }
        self.sync_senders(s);
    }

    /// Takes a sender's entry off the list, with the room it was promised if `ss_wakeup`
    /// woke it; returns the state it was in and whether it had been promised room (`None`:
    /// a stale id).
    pub(super) fn remove_sender(&self, s: &mut Senders, id: WaiterId) -> Option<(WaiterState, bool)> {
        let (sender, state) = s.list.remove(id)?;
        if sender.promised {
            s.promised_count -= 1;
            s.promised_bytes -= sender.size;
        }
        Some((state, sender.promised))
    }

    /// Keeps `SENDERS` equal to "a sender waits and none that `ss_wakeup` woke is still on
    /// its way" (under the senders' lock). AcqRel: an RMW on `rx`, so it is ordered with
    /// every simple receive's `give_back`.
    ///
    /// While a woken sender with room promised has not run yet, a receive that frees room
    /// does not take a lock to wake another: the woken sender, when it runs, takes its
    /// entry off the list (so `SENDERS` comes back if others wait) and then runs `ss_wakeup`
    /// itself, whatever its outcome — after its send, before it waits again, on an error, or
    /// from its `Drop` — over the room freed meanwhile, consolidated. So a full queue with
    /// many waiting senders costs one `ss_wakeup` per woken sender, not one per
    /// message a receive frees (BENCHMARKS.md, "Message queues under contention").
    ///
    /// A load first: the flag changes only under the senders' lock, so when it already
    /// holds the right value no RMW is needed — and the argument in
    /// [`Queue::send_simple_locked`] (and `Queue::sender_waits_free`) still holds, because the RMW that set it came before our load in `rx`'s order.
    pub(super) fn sync_senders(&self, s: &Senders) {
        let set = self.rx.load(Relaxed) & SENDERS != 0;
        let want = !s.list.is_empty() && s.promised_count == 0;
        if !want {
            if set {
                self.rx.fetch_and(!SENDERS, AcqRel);
            }
        } else if !set {
            self.rx.fetch_or(SENDERS, AcqRel);
        }
    }
}
