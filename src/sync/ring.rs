//! A bounded lock-free FIFO over numbered positions, for the message-queue engine's simple
//! mode: Dmitry Vyukov's bounded MPMC queue (1024cores.net, "Bounded MPMC queue"; crossbeam
//! `ArrayQueue`'s per-slot stamps), written against [`crate::sync`] so that loom sees every
//! step of it, with three changes the engine needs.
//!
//! # The algorithm
//!
//! Every value pushed gets a *position*, a 64-bit counter that only grows; position `p`
//! lives in slot `p & mask` of a power-of-two array. Each slot has a **stamp** saying what
//! it holds: `p` — free for position `p`; `p + 1` — position `p`'s value is written; after
//! the value is taken the stamp becomes `p + cap`, free for the same slot's next lap. A
//! stamp is a whole position, so it can never be mistaken for another lap's.
//!
//! * **Push** takes a position with one `fetch_add` on `tail`, waits until the slot's stamp
//!   says "free for `p`" (it can only be a pop of the previous lap finishing its read: see
//!   below), writes the value and stores the stamp `p + 1` (Release).
//! * **Pop** reads `head` (position `p`), the slot's stamp, and when it says "written" claims
//!   the position with a CAS of `head` from `p` to `p + 1` — one RMW per value on each side,
//!   as in Vyukov's queue — then reads the value and stores the stamp `p + cap` (Release).
//!   When the stamp says "not written", `tail` decides: past `p`, a push holds the position
//!   and is a few instructions from done, so the pop waits; at `p`, the queue is empty.
//!
//! The changes:
//!
//! 1. **No full check in push.** The caller guarantees room: at most `capacity` values are
//!    pushed and not yet taken-and-freed. The engine's room counts (one unit a message, at
//!    most `capacity` units in all) give it that, and a push then only ever waits for a pop
//!    between its claim and its stamp store. Pushing past the room is not undefined
//!    behaviour: the push waits until a pop frees its slot.
//! 2. **A `CLOSED` bit in `head`** ([`Ring::close`]). Pops that expect an open ring fail on
//!    it, so the closer (the engine's lock holder, switching to complex mode) is then the
//!    one consumer: it drains with [`Ring::take_closed`], which claims positions with the
//!    same CAS, and it may push before [`Ring::reopen`] clears the bit with a CAS. A pop
//!    that read an open `head` before a close and tries its CAS after the reopen can only
//!    succeed when `head` is back at the same position — which means no pop claimed it
//!    meanwhile, and the stamp it saw says written, so the value is still there.
//! 3. **Growing** ([`Ring::grow`]): while closed and drained, a new, larger array takes
//!    over at the current position. Old arrays are kept until the ring drops (a pop that
//!    loaded the old pointer may still read a stamp there): at most twice the memory of
//!    the largest array.
//! 4. **A `WAITING` bit in `tail`** ([`Ring::set_waiting`], [`Ring::clear_waiting`]): the
//!    engine sets it while consumers sleep waiting for a value, and [`Ring::push`] returns
//!    it from the same `fetch_add` that gives the push its position. Because the flag and
//!    the positions are one word, every push is ordered against the RMW that set the flag:
//!    a push whose position comes after it sees the flag (and must see to the sleepers),
//!    and every position handed out before it is below the position `set_waiting` returns,
//!    which a [`Ring::pop_if`] that answers [`Pop::Empty`] afterwards has seen consumed. So a
//!    consumer that sets the flag and then finds the ring empty may sleep: no value pushed
//!    before its flag can be left behind (a store-buffering pattern on two words would need
//!    `SeqCst` fences, which loom does not model).
//!
//! # Why it is sound
//!
//! A slot's value is written only by the one push that holds its position (positions come
//! from `fetch_add`, so each is handed out once), after it saw the stamp "free for `p`" with
//! Acquire — the previous reader's Release store — and read only by the one pop whose CAS
//! claimed `p` (every claim is a CAS of `head` from `p` to `p + 1`, and `head` never goes
//! back), after it saw the stamp "written for `p`" with Acquire — the writer's Release store.
//! The position it claims is never claimed again, so a value is moved out exactly once.
//! Misuse — [`Ring::grow`], [`Ring::reopen`] or [`Ring::take_closed`] from several threads,
//! a push past the room — can leave a value unread (a leak) or make a push or a pop wait
//! for good, never read a value twice or race on it.

#![allow(unsafe_code)]

use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use crossbeam_utils::CachePadded;

use super::atomic::{AtomicPtr, AtomicU64};
use super::cell::UnsafeCell;
use super::counters::{count, Event};
use super::{backoff, Mutex};

/// Bit 0 of `head`: the ring is closed to [`Ring::pop_if`]. The position is `head >> 1`.
const CLOSED: u64 = 1;
/// Bit 0 of `tail`: consumers wait for a value (see the module docs, change 4). The
/// position is `tail >> 1`.
const WAITING: u64 = 1;

/// One slot: its stamp (see the module docs) and room for one value.
struct Slot<T> {
    stamp: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A power-of-two array of slots.
struct Slots<T> {
    mask: u64,
    slots: Box<[Slot<T>]>,
}

impl<T> Slots<T> {
    /// `cap` free slots (a power of two), stamped for positions `first..first + cap`.
    fn new(cap: usize, first: u64) -> Box<Slots<T>> {
        assert!(cap.is_power_of_two(), "ring capacity {cap} is not a power of two");
        let mask = cap as u64 - 1;
        let slots = (0..cap as u64)
            .map(|i| Slot {
                // the position in first..first + cap that maps to slot i
                stamp: AtomicU64::new(first + (i.wrapping_sub(first) & mask)),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Box::new(Slots { mask, slots })
    }

    fn slot(&self, pos: u64) -> &Slot<T> {
        &self.slots[(pos & self.mask) as usize]
    }

    fn cap(&self) -> u64 {
        self.mask + 1
    }
}

/// What [`Ring::pop_if`] found.
#[derive(Debug)]
pub(crate) enum Pop<T> {
    /// The oldest value, now the caller's.
    Taken(T),
    /// Nothing is queued (at the instant `head` was read).
    Empty,
    /// A value is queued, but the caller's check refused it; nothing changed.
    Refused,
    /// The ring is closed; nothing changed.
    Closed,
}

/// The bounded FIFO; see the module docs.
pub(crate) struct Ring<T> {
    /// The next position to pop, shifted left by one, with [`CLOSED`] in bit 0. The
    /// consumers' cache line.
    head: CachePadded<AtomicU64>,
    /// The next position to push, shifted left by one, with [`WAITING`] in bit 0. The
    /// producers' cache line.
    tail: CachePadded<AtomicU64>,
    /// The current array (a `Box<Slots<T>>` turned into a pointer). Replaced only by
    /// [`Ring::grow`]; the old one goes to `retired`.
    slots: AtomicPtr<Slots<T>>,
    /// Arrays replaced by a larger one, kept until the ring drops. Empty: their values were
    /// all taken before the swap. Raw pointers from `Box::into_raw`, turned back into boxes
    /// only in `drop`: a pop may still read through a reference to an array it loaded
    /// before the swap, and making a `Box` of it meanwhile would assert unique access (a
    /// retag, which miri reports as a data race with that read).
    retired: Mutex<Vec<*mut Slots<T>>>,
}

// SAFETY: a `Ring<T>` moves `T` values between threads (pushed on one, popped on
// another) and never hands out a shared reference to one, so `T: Send` is all it needs,
// for `Send` and for `Sync` alike (as crossbeam's `ArrayQueue`). Every slot access is
// exclusive by the position protocol in the module docs, and the arrays behind the raw
// pointer are owned by the ring.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: see the `Send` impl above.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// An empty, open ring of `cap` slots (a power of two).
    pub(crate) fn new(cap: usize) -> Ring<T> {
        Ring {
            head: CachePadded::new(AtomicU64::new(0)),
            tail: CachePadded::new(AtomicU64::new(0)),
            slots: AtomicPtr::new(Box::into_raw(Slots::new(cap, 0))),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The current array. Acquire: its stamps' initial values, written before the pointer
    /// was published.
    fn slots(&self) -> &Slots<T> {
        // SAFETY: the pointer comes from `Box::into_raw` and the array it names is freed
        // only in `drop`; an array replaced by `grow` moves to `retired`, which keeps it
        // alive as long as `self`.
        unsafe { &*self.slots.load(Acquire) }
    }

    /// The current array's number of slots.
    pub(crate) fn capacity(&self) -> usize {
        self.slots().cap() as usize
    }

    /// Appends `value`. The caller must hold room: fewer than [`capacity`](Ring::capacity)
    /// values pushed and not yet taken (see the module docs); then the only wait is for a
    /// pop of the previous lap to finish reading this slot. Returns whether [`WAITING`] was
    /// set when the push took its position: then a consumer may be asleep, and the caller
    /// must see to it once the value is written (see [`Ring::set_waiting`]).
    pub(crate) fn push(&self, value: T) -> bool {
        let old = self.tail.fetch_add(2, Relaxed);
        let pos = old >> 1;
        let slots = self.slots();
        let slot = slots.slot(pos);
        let mut spins = 0u32;
        // Acquire: the previous lap's reader is done with the value (its Release store).
        while slot.stamp.load(Acquire) != pos {
            backoff(&mut spins);
        }
        // SAFETY: position `pos` was handed out to this push alone (`fetch_add`), and the
        // stamp `pos` says no reader holds the slot: nothing else touches the cell until
        // the stamp below says it is written.
        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
        slot.stamp.store(pos + 1, Release);
        old & WAITING != 0
    }

    /// Sets [`WAITING`] in `tail`, in one RMW that every [`push`](Ring::push) is ordered
    /// against: a push that takes its position after it returns `true`, and every position
    /// taken before it is below the position it returns. A consumer that calls this and
    /// then gets [`Pop::Empty`] from [`pop_if`](Ring::pop_if) has seen every earlier value
    /// taken (`Empty` means `head` had reached `tail`, which is past all of them). AcqRel:
    /// the pop after it reads the values of those earlier pushes.
    pub(crate) fn set_waiting(&self) -> u64 {
        self.tail.fetch_or(WAITING, AcqRel) >> 1
    }

    /// Clears [`WAITING`] (the engine does when no consumer sleeps any more).
    pub(crate) fn clear_waiting(&self) {
        self.tail.fetch_and(!WAITING, AcqRel);
    }

    /// Whether [`WAITING`] is set.
    pub(crate) fn is_waiting(&self) -> bool {
        self.tail.load(Relaxed) & WAITING != 0
    }

    /// Takes the oldest value if `accept` (called after the value is seen written, before
    /// it is claimed) says so. [`Pop::Closed`] once [`close`](Ring::close) ran.
    ///
    /// Inlined into the receive, so that the value read from the slot goes to the caller's
    /// result without passing through the `Pop` in memory (a copy whose reload stalled on
    /// the stores before it; BENCHMARKS.md, round 8).
    #[inline]
    pub(crate) fn pop_if(&self, accept: impl Fn() -> bool) -> Pop<T> {
        let mut head = self.head.load(Acquire);
        let mut spins = 0u32;
        loop {
            if head & CLOSED != 0 {
                return Pop::Closed;
            }
            let pos = head >> 1;
            let slots = self.slots();
            if slots.slot(pos).written(pos) {
                if !accept() {
                    return Pop::Refused;
                }
                match self.claim(slots, head) {
                    Ok(value) => return Pop::Taken(value),
                    Err(now) => {
                        count(Event::MsgCasFailHead);
                        head = now;
                    }
                }
                continue;
            }
            if !self.pushed_past(pos) {
                return Pop::Empty;
            }
            // A push holds the position and is a few instructions from done.
            backoff(&mut spins);
            head = self.head.load(Acquire);
        }
    }

    /// For the closer: takes the oldest value of a closed ring, without waiting (`None`
    /// when it is not written yet, or the ring is open).
    pub(crate) fn take_closed(&self) -> Option<T> {
        let mut head = self.head.load(Acquire);
        while head & CLOSED != 0 {
            let pos = head >> 1;
            let slots = self.slots();
            if !slots.slot(pos).written(pos) {
                return None;
            }
            match self.claim(slots, head) {
                Ok(value) => return Some(value),
                Err(now) => head = now,
            }
        }
        None
    }

    /// Claims the position in `head`, whose value the caller saw written in `slots`, and
    /// takes the value; `Err` with `head`'s new value when the CAS lost to another change.
    #[inline]
    fn claim(&self, slots: &Slots<T>, head: u64) -> Result<T, u64> {
        let pos = head >> 1;
        let slot = slots.slot(pos);
        // AcqRel: the Release half orders our reads of the array before a closer's
        // `fetch_or` that follows this CAS in `head`'s order, so a `grow` that replaces
        // the array cannot have done so before we read it.
        self.head.compare_exchange_weak(head, head + 2, AcqRel, Acquire)?;
        // Our CAS moved `head` from `pos` to `pos + 1`: every claim is this CAS, and `head`'s
        // position never goes back. The stamp `pos + 1` the caller saw (Acquire, the writer's
        // Release) says the value is written in this array: a CAS that succeeds found `head`
        // at `pos`, so no `grow` (which needs `head` past every value written) replaced it.
        // SAFETY: so this pop alone claimed position `pos`, whose value is initialized here,
        // and nothing writes the slot again until the stamp below frees it.
        let value = slot.value.with(|cell| unsafe { ptr::read(cell).assume_init() });
        slot.stamp.store(pos + slots.cap(), Release);
        Ok(value)
    }

    /// Whether a push has taken position `pos` (Acquire: then its slot's stamp will say so).
    fn pushed_past(&self, pos: u64) -> bool {
        self.tail.load(Acquire) >> 1 > pos
    }

    /// Whether the next value to pop is not written yet (or the ring is closed): a cheap
    /// look, for a caller deciding whether an attempt is worth it.
    pub(crate) fn looks_empty(&self) -> bool {
        let head = self.head.load(Relaxed);
        head & CLOSED != 0 || !self.slots().slot(head >> 1).written(head >> 1)
    }

    /// Closes the ring to [`pop_if`](Ring::pop_if). AcqRel: a pop whose CAS came before
    /// this in `head`'s order is seen with its reads (see [`Ring::claim`]).
    ///
    /// Then one RMW on `tail` (adding nothing), so that a consumer that set [`WAITING`] and
    /// then read `head` is ordered with the close: either its [`set_waiting`] came first in
    /// `tail`'s order, and this RMW (and whoever the closer tells after it) sees the flag,
    /// or this RMW came first, and the consumer's `set_waiting` (AcqRel) sees the close, so
    /// its pop answers [`Pop::Closed`]. Plain loads on both sides would not be ordered (a
    /// store-buffering pattern).
    ///
    /// [`set_waiting`]: Ring::set_waiting
    pub(crate) fn close(&self) {
        self.head.fetch_or(CLOSED, AcqRel);
        self.tail.fetch_add(0, AcqRel);
    }

    /// Replaces the array of a closed ring whose every pushed value was taken (`head` has
    /// caught up with `tail`) by an empty one of `cap` slots (a power of two), starting at
    /// the current position. `false`, changing nothing, when it is open or a value is still
    /// to take. No push may be in flight or start until it returns: a push that took its
    /// position after the `tail` check here but loaded the old array would write there,
    /// and pops would wait for that position for good (the msg engine rules it out: every
    /// push holds room, which the switch to complex mode takes back before a grow).
    pub(crate) fn grow(&self, cap: usize) -> bool {
        let head = self.head.load(Acquire);
        if head & CLOSED == 0 || self.tail.load(Acquire) >> 1 != head >> 1 {
            return false;
        }
        let new = Box::into_raw(Slots::new(cap, head >> 1));
        let old = self.slots.swap(new, AcqRel);
        // `old` is no longer the current array; `retired` keeps it alive, untouched, for
        // pops that loaded it before the swap, until `drop` frees it.
        self.retired.lock().push(old);
        true
    }

    /// Reopens a closed ring to [`pop_if`](Ring::pop_if). The closer may have pushed into it
    /// first: pops see those values once it is open. `false` when it was open.
    pub(crate) fn reopen(&self) -> bool {
        let head = self.head.load(Relaxed);
        // Release: a pop that reads the open `head` sees the array and the values pushed
        // while closed.
        head & CLOSED != 0 && self.head.compare_exchange(head, head & !CLOSED, Release, Relaxed).is_ok()
    }
}

impl<T> Slot<T> {
    /// Whether the stamp says position `pos`'s value is written. Acquire: the writer's
    /// Release store, so the value may be read.
    fn written(&self, pos: u64) -> bool {
        self.stamp.load(Acquire) == pos + 1
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        let head = self.head.load(Relaxed) >> 1;
        let tail = self.tail.load(Relaxed) >> 1;
        // SAFETY: `&mut self`: no other thread uses the ring any more, and the pointer came
        // from `Box::into_raw`; it is not used after this.
        let slots = unsafe { Box::from_raw(self.slots.load(Relaxed)) };
        for old in self.retired.lock().drain(..) {
            // SAFETY: each came from `Box::into_raw` and was retired once by `grow`; `&mut
            // self` means no pop reads it any more. Empty arrays: no value to drop.
            drop(unsafe { Box::from_raw(old) });
        }
        for pos in head..tail {
            let slot = slots.slot(pos);
            if slot.stamp.load(Relaxed) == pos + 1 {
                // SAFETY: written and never claimed (it is at or after `head`): the value is
                // initialized and ours alone to drop, once.
                slot.value.with_mut(|cell| unsafe { (*cell).assume_init_drop() });
            }
        }
    }
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = self.head.load(Relaxed);
        f.debug_struct("Ring")
            .field("head", &(head >> 1))
            .field("closed", &(head & CLOSED != 0))
            .field("tail", &(self.tail.load(Relaxed) >> 1))
            .field("waiting", &self.is_waiting())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// Unit tests of the ring on `std` threads: order across wrap-arounds, the closed bit,
/// the closer's drain, growing, `Drop`, and a many-thread stress. `cargo test --lib
/// sync::ring`; under miri with `scripts/miri.sh lib:sync::ring` (the loops shrink).
#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Pop, Ring};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::thread;

    /// `Some(v)` for `Taken(v)`, `None` for the rest (each test asserts the exact variant
    /// with `matches!` where it is not a value).
    fn taken<T>(p: Pop<T>) -> Option<T> {
        match p {
            Pop::Taken(v) => Some(v),
            _ => None,
        }
    }

    fn pop(r: &Ring<u64>) -> Option<u64> {
        taken(r.pop_if(|| true))
    }

    /// The `WAITING` bit rides on `tail` without disturbing the positions: `set_waiting`
    /// returns the next position, every push after it (and only those) reports the flag,
    /// and a pop that answers `Empty` after it has seen every earlier value taken.
    #[test]
    fn waiting_flag_rides_on_the_positions() {
        let r = Ring::new(4);
        assert!(!r.push(10), "no flag yet");
        assert!(!r.is_waiting());
        assert_eq!(r.set_waiting(), 1, "one position handed out before the flag");
        assert!(r.is_waiting());
        assert_eq!(pop(&r), Some(10));
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
        assert!(r.push(11), "a push after the flag sees it");
        assert!(r.push(12));
        assert_eq!(r.set_waiting(), 3, "setting it again changes nothing");
        r.clear_waiting();
        assert!(!r.is_waiting());
        assert!(!r.push(13));
        assert_eq!([pop(&r), pop(&r), pop(&r), pop(&r)], [Some(11), Some(12), Some(13), None]);
        // a closed ring's drain and grow read the positions past the flag too
        r.set_waiting();
        r.close();
        assert!(r.is_waiting(), "the close's RMW on tail keeps the flag");
        assert!(r.grow(8));
        assert!(r.reopen());
        assert!(r.push(14));
        assert_eq!(pop(&r), Some(14));
    }

    #[test]
    fn fifo_across_many_wrap_arounds() {
        let r = Ring::new(4);
        assert_eq!(r.capacity(), 4);
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        // batches of 1..=4 values, so every slot is used at every offset, 250 laps and more
        for round in 0..1000u64 {
            let n = round % 4 + 1;
            for _ in 0..n {
                r.push(next_in);
                next_in += 1;
            }
            for _ in 0..n {
                assert_eq!(pop(&r), Some(next_out));
                next_out += 1;
            }
            assert!(matches!(r.pop_if(|| true), Pop::Empty));
        }
        assert_eq!(next_out, 2500);
        // a ring kept half full while it laps
        r.push(next_in);
        r.push(next_in + 1);
        next_in += 2;
        for _ in 0..100 {
            r.push(next_in);
            next_in += 1;
            assert_eq!(pop(&r), Some(next_out));
            next_out += 1;
        }
        assert_eq!(pop(&r), Some(next_out));
        assert_eq!(pop(&r), Some(next_out + 1));
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
    }

    #[test]
    fn refused_leaves_the_value() {
        let r = Ring::new(2);
        assert!(matches!(r.pop_if(|| false), Pop::Empty), "accept is not asked on an empty ring");
        r.push(7);
        r.push(8);
        assert!(matches!(r.pop_if(|| false), Pop::Refused));
        assert!(matches!(r.pop_if(|| false), Pop::Refused));
        assert!(!r.looks_empty());
        assert_eq!(pop(&r), Some(7));
        assert!(matches!(r.pop_if(|| false), Pop::Refused));
        assert_eq!(pop(&r), Some(8));
        assert!(r.looks_empty());
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
    }

    #[test]
    fn closed_after_close_and_take_closed_drains_in_order() {
        let r = Ring::new(4);
        r.push(1);
        r.push(2);
        r.push(3);
        // open: take_closed takes nothing
        assert_eq!(r.take_closed(), None);
        assert!(!r.looks_empty());
        r.close();
        assert!(matches!(r.pop_if(|| true), Pop::Closed));
        assert!(matches!(r.pop_if(|| false), Pop::Closed));
        assert!(r.looks_empty(), "a closed ring looks empty");
        // closing twice changes nothing
        r.close();
        assert_eq!(r.take_closed(), Some(1));
        assert_eq!(r.take_closed(), Some(2));
        assert_eq!(r.take_closed(), Some(3));
        assert_eq!(r.take_closed(), None);
        assert!(r.reopen());
        assert!(!r.reopen(), "reopen of an open ring is false");
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
        assert_eq!(r.take_closed(), None);
    }

    #[test]
    fn push_while_closed_then_reopen() {
        let r = Ring::new(4);
        r.push(1);
        assert_eq!(pop(&r), Some(1));
        r.close();
        r.push(5);
        r.push(6);
        assert!(matches!(r.pop_if(|| true), Pop::Closed));
        assert!(r.reopen());
        assert_eq!(pop(&r), Some(5));
        assert_eq!(pop(&r), Some(6));
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
        // the closer drains part of what it pushed, the rest goes to the pops
        r.close();
        r.push(7);
        r.push(8);
        assert_eq!(r.take_closed(), Some(7));
        assert!(r.reopen());
        assert_eq!(pop(&r), Some(8));
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
    }

    #[test]
    fn grow_refuses_while_open_or_not_drained_and_keeps_order() {
        let r = Ring::new(2);
        r.push(1);
        assert!(!r.grow(8), "open");
        r.close();
        assert!(!r.grow(8), "a value remains");
        assert_eq!(r.capacity(), 2);
        assert_eq!(r.take_closed(), Some(1));
        assert!(r.grow(8));
        assert_eq!(r.capacity(), 8);
        // still closed after the grow; fill the new array while closed
        assert!(matches!(r.pop_if(|| true), Pop::Closed));
        for v in 10..18 {
            r.push(v);
        }
        assert!(r.reopen());
        for v in 10..18 {
            assert_eq!(pop(&r), Some(v));
        }
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
        // wrap-arounds in the new array, which started at position 1
        for v in 0..100u64 {
            r.push(v);
            r.push(v + 1000);
            assert_eq!(pop(&r), Some(v));
            assert_eq!(pop(&r), Some(v + 1000));
        }
        // a second grow, with the values in flight drained by the closer
        r.push(50);
        r.close();
        assert!(!r.grow(16));
        assert_eq!(r.take_closed(), Some(50));
        assert!(r.grow(16));
        r.push(51);
        assert!(r.reopen());
        assert_eq!(pop(&r), Some(51));
        assert_eq!(r.capacity(), 16);
        assert!(matches!(r.pop_if(|| true), Pop::Empty));
    }

    /// Counts its drops in a shared counter.
    struct Counted(u64, Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn drop_drops_exactly_the_queued_values() {
        let drops = Arc::new(AtomicUsize::new(0));
        let c = |v| Counted(v, drops.clone());
        {
            let r = Ring::new(4);
            r.push(c(0));
            r.push(c(1));
            r.push(c(2));
            assert_eq!(taken(r.pop_if(|| true)).map(|v| v.0), Some(0));
            assert_eq!(drops.load(SeqCst), 1);
            // a refused value is not dropped
            assert!(matches!(r.pop_if(|| false), Pop::Refused));
            assert_eq!(drops.load(SeqCst), 1);
        }
        assert_eq!(drops.load(SeqCst), 3, "two values were queued at the drop");
        // wrapped: head and tail far from slot 0
        {
            let r = Ring::new(4);
            for v in 0..10 {
                r.push(c(v));
                drop(taken(r.pop_if(|| true)));
            }
            assert_eq!(drops.load(SeqCst), 13);
            r.push(c(10));
            r.push(c(11));
            r.push(c(12));
        }
        assert_eq!(drops.load(SeqCst), 16);
        // after a grow: the retired array holds no value, the new one holds three
        {
            let r = Ring::new(2);
            r.push(c(1));
            r.push(c(2));
            r.close();
            assert_eq!(r.take_closed().map(|v| v.0), Some(1));
            assert_eq!(r.take_closed().map(|v| v.0), Some(2));
            assert_eq!(drops.load(SeqCst), 18);
            assert!(r.grow(8));
            for v in 3..7 {
                r.push(c(v));
            }
            assert!(r.reopen());
            assert_eq!(taken(r.pop_if(|| true)).map(|v| v.0), Some(3));
            assert_eq!(drops.load(SeqCst), 19);
        }
        assert_eq!(drops.load(SeqCst), 22);
        // empty, closed, never used
        drop(Ring::<Counted>::new(2));
        let r = Ring::<Counted>::new(2);
        r.close();
        drop(r);
        assert_eq!(drops.load(SeqCst), 22);
    }

    /// Producers and consumers on std threads, the room (at most `cap` values pushed and
    /// not yet taken) held the way the engine holds it, with a counter taken before a push
    /// and given back after a pop: every value is received exactly once, each producer's
    /// values in order by each consumer, and the sums match.
    fn stress(producers: u64, consumers: usize, per_producer: u64) {
        const CAP: usize = 8;
        let ring = Arc::new(Ring::<u64>::new(CAP));
        let room = Arc::new(AtomicUsize::new(CAP));
        let received = Arc::new(AtomicU64::new(0));
        let total = producers * per_producer;
        let mut handles = Vec::new();
        for p in 0..producers {
            let (ring, room) = (ring.clone(), room.clone());
            handles.push(thread::spawn(move || {
                for i in 0..per_producer {
                    // take one unit of room
                    let mut r = room.load(SeqCst);
                    loop {
                        if r == 0 {
                            thread::yield_now();
                            r = room.load(SeqCst);
                        } else {
                            match room.compare_exchange_weak(r, r - 1, SeqCst, SeqCst) {
                                Ok(_) => break,
                                Err(now) => r = now,
                            }
                        }
                    }
                    ring.push(p << 32 | i);
                }
                Vec::new()
            }));
        }
        for _ in 0..consumers {
            let (ring, room, received) = (ring.clone(), room.clone(), received.clone());
            handles.push(thread::spawn(move || {
                let mut got = Vec::new();
                while received.load(SeqCst) < total {
                    match ring.pop_if(|| true) {
                        Pop::Taken(v) => {
                            room.fetch_add(1, SeqCst);
                            received.fetch_add(1, SeqCst);
                            got.push(v);
                        }
                        Pop::Empty => thread::yield_now(),
                        Pop::Refused | Pop::Closed => panic!("the ring is open and accepts"),
                    }
                }
                got
            }));
        }
        let mut seen = vec![vec![false; per_producer as usize]; producers as usize];
        let (mut count, mut sum) = (0u64, 0u64);
        for h in handles {
            let got = h.join().unwrap();
            let mut last = vec![None::<u64>; producers as usize];
            for v in got {
                let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                assert!(last[p].is_none_or(|l| l < i), "producer {p}'s values out of order");
                last[p] = Some(i);
                assert!(!seen[p][i as usize], "value {v:#x} received twice");
                seen[p][i as usize] = true;
                count += 1;
                sum = sum.wrapping_add(v);
            }
        }
        let want: u64 = (0..producers).flat_map(|p| (0..per_producer).map(move |i| p << 32 | i)).sum();
        assert_eq!((count, sum), (total, want));
        assert!(seen.iter().flatten().all(|&s| s));
        assert_eq!(room.load(SeqCst), CAP);
        assert!(matches!(ring.pop_if(|| true), Pop::Empty));
    }

    #[test]
    fn stress_two_producers_two_consumers() {
        stress(2, 2, if cfg!(miri) { 40 } else { 20_000 });
    }

    #[test]
    fn stress_four_producers_three_consumers() {
        stress(4, 3, if cfg!(miri) { 15 } else { 10_000 });
    }
}

/// The ring for the loom models in `loom-tests/tests/loom_ring.rs`: a thin public wrapper.
#[cfg(loom)]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
pub mod loom_api {
    use super::Pop;

    /// What a pop found ([`super::Pop`], public).
    #[derive(Debug, PartialEq, Eq)]
    pub enum Popped<T> {
        Taken(T),
        Empty,
        Refused,
        Closed,
    }

    pub struct Ring<T>(super::Ring<T>);

    impl<T> Ring<T> {
        pub fn new(cap: usize) -> Ring<T> {
            Ring(super::Ring::new(cap))
        }
        pub fn capacity(&self) -> usize {
            self.0.capacity()
        }
        pub fn push(&self, value: T) -> bool {
            self.0.push(value)
        }
        pub fn set_waiting(&self) -> u64 {
            self.0.set_waiting()
        }
        pub fn clear_waiting(&self) {
            self.0.clear_waiting()
        }
        /// `pop_if` accepting any value.
        pub fn pop(&self) -> Popped<T> {
            self.pop_if(true)
        }
        /// `pop_if` whose check answers `accept`.
        pub fn pop_if(&self, accept: bool) -> Popped<T> {
            match self.0.pop_if(|| accept) {
                Pop::Taken(v) => Popped::Taken(v),
                Pop::Empty => Popped::Empty,
                Pop::Refused => Popped::Refused,
                Pop::Closed => Popped::Closed,
            }
        }
        pub fn looks_empty(&self) -> bool {
            self.0.looks_empty()
        }
        pub fn close(&self) {
            self.0.close()
        }
        pub fn take_closed(&self) -> Option<T> {
            self.0.take_closed()
        }
        pub fn grow(&self, cap: usize) -> bool {
            self.0.grow(cap)
        }
        pub fn reopen(&self) -> bool {
            self.0.reopen()
        }
    }
}
