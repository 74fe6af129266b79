//! A one-value mailbox between an object's lock holder and one waiting future, so that a
//! future handed a value collects it without taking the lock again.
//!
//! The message-queue engine hands a message straight to a waiting receiver
//! (`pipelined_send`). Through the wait list alone, the woken receiver must lock the queue a
//! second time to take the message out of its entry: one lock pair per handoff, a third of
//! a ping-pong round trip's locking. With a mailbox the sender (holding the lock) puts the
//! message here, tagged for that receiver, and removes its entry; the receiver takes it with
//! one CAS. One mailbox per queue: when it is full (a handed message not yet collected), the
//! sender uses the wait-list entry as before.
//!
//! # Protocol
//!
//! * [`mailbox`] makes the two halves: the [`Postman`] (the only writer; not `Clone`, kept
//!   under the owner's lock, which also issues the tags) and the [`Mailbox`] (the readers).
//! * [`Postman::tag`] gives a waiter its tag, unique for the postman's life (a `u64` count).
//! * [`Postman::put`] stores a value for a tag if the box is empty: a load, the write, a
//!   Release store of the tag. It gives the value back when the box is full.
//! * [`Mailbox::take`] takes the value if it is tagged for the caller: a CAS from the tag to
//!   `TAKING` (so one taker at most, whatever tags callers pass), the read, a Release store
//!   of `EMPTY`. The owner must look again under its lock before deciding the value is not
//!   there: a `put` is made under the lock.
//!
//! # Why it is sound
//!
//! The cell is written only by the one `Postman` (it takes `&mut self`, and there is one per
//! mailbox), and only after it saw `EMPTY` with Acquire — the last taker's Release, after its
//! read — so no read of the previous value is in flight. It is read only by the caller whose
//! CAS moved the state from its tag to `TAKING`, which happens once per put (the state
//! leaves the tag in that CAS); the Acquire of the CAS pairs with the put's Release.

#![allow(unsafe_code)]

use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::atomic::AtomicU64;
use super::cell::UnsafeCell;
use super::Arc;

/// The box holds nothing.
const EMPTY: u64 = 0;
/// A taker is reading the value.
const TAKING: u64 = u64::MAX;

/// The shared cell: the state (`EMPTY`, `TAKING` or the tag the value is for) and the value.
struct Inner<T> {
    state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the cell moves a `T` from the putting thread to the taking one and never shares a
// reference to it, so `T: Send` suffices for both (as a channel's); every access to the
// cell is exclusive by the protocol in the module docs.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: see the `Send` impl above.
unsafe impl<T: Send> Sync for Inner<T> {}

/// The readers' half: [`Mailbox::take`].
pub(crate) struct Mailbox<T>(Arc<Inner<T>>);

/// The writer's half: [`Postman::tag`] and [`Postman::put`]. One per mailbox.
pub(crate) struct Postman<T> {
    inner: Arc<Inner<T>>,
    /// The last tag given out.
    last_tag: u64,
}

/// An empty mailbox and its postman.
pub(crate) fn mailbox<T>() -> (Postman<T>, Mailbox<T>) {
    let inner =
        Arc::new(Inner { state: AtomicU64::new(EMPTY), value: UnsafeCell::new(MaybeUninit::uninit()) });
    (Postman { inner: inner.clone(), last_tag: EMPTY }, Mailbox(inner))
}

impl<T> Postman<T> {
    /// A tag no other waiter of this mailbox has had (never `EMPTY` or `TAKING`: a `u64`
    /// count does not reach `u64::MAX`).
    pub(crate) fn tag(&mut self) -> u64 {
        self.last_tag += 1;
        self.last_tag
    }

    /// Puts `value` for the waiter tagged `tag`, if the box is empty; `Err(value)` when it
    /// holds a value not yet taken.
    pub(crate) fn put(&mut self, tag: u64, value: T) -> Result<(), T> {
        debug_assert!(tag != EMPTY && tag != TAKING);
        // Acquire: the last taker's read of the cell is done (its Release store of EMPTY).
        if self.inner.state.load(Acquire) != EMPTY {
            return Err(value);
        }
        // SAFETY: the state is EMPTY and only this postman (`&mut self`, one per mailbox)
        // moves it away from EMPTY: no taker can claim the cell until the store below, and
        // the last one has finished reading (Acquire above).
        self.inner.value.with_mut(|cell| unsafe { (*cell).write(value) });
        // Release: a taker that sees the tag sees the value.
        self.inner.state.store(tag, Release);
        Ok(())
    }
}

impl<T> Mailbox<T> {
    /// The value put for `tag`, if there is one (and `tag` is not `EMPTY`).
    pub(crate) fn take(&self, tag: u64) -> Option<T> {
        if tag == EMPTY || tag == TAKING {
            return None;
        }
        let state = &self.0.state;
        // A load first: the box is usually empty or someone else's when this is asked.
        if state.load(Relaxed) != tag {
            return None;
        }
        // Acquire: the put's Release, so the value is written.
        state.compare_exchange(tag, TAKING, Acquire, Relaxed).ok()?;
        // SAFETY: our CAS moved the state from `tag` to TAKING: the put for `tag` wrote the
        // value (Acquire), no other taker can claim it (the state left `tag` in our CAS), and
        // the postman does not write until it sees EMPTY, stored below after the read.
        let value = self.0.value.with(|cell| unsafe { ptr::read(cell).assume_init() });
        state.store(EMPTY, Release);
        Some(value)
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        let state = self.state.load(Relaxed);
        if state != EMPTY && state != TAKING {
            // SAFETY: `&mut self`, the last reference: a put value nobody took is initialized
            // and ours to drop, once.
            self.value.with_mut(|cell| unsafe { (*cell).assume_init_drop() });
        }
    }
}

impl<T> fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox").field("state", &self.0.state.load(Relaxed)).finish()
    }
}

impl<T> fmt::Debug for Postman<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postman").field("last_tag", &self.last_tag).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its drops, to show a value is dropped exactly once.
    struct Counted<'a>(&'a AtomicUsize);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn put_then_take_by_its_tag_only() {
        let (mut postman, mailbox) = mailbox::<u64>();
        let (a, b) = (postman.tag(), postman.tag());
        assert_ne!(a, b);
        assert_eq!(mailbox.take(a), None);
        postman.put(a, 7).unwrap();
        assert_eq!(postman.put(b, 8), Err(8), "full: the value comes back");
        assert_eq!(mailbox.take(b), None);
        assert_eq!(mailbox.take(EMPTY), None);
        assert_eq!(mailbox.take(TAKING), None);
        assert_eq!(mailbox.take(a), Some(7));
        assert_eq!(mailbox.take(a), None, "taken once");
        postman.put(b, 9).unwrap();
        assert_eq!(mailbox.take(b), Some(9));
    }

    #[test]
    fn a_value_left_in_the_box_is_dropped_once() {
        let drops = AtomicUsize::new(0);
        {
            let (mut postman, mailbox) = mailbox();
            let tag = postman.tag();
            postman.put(tag, Counted(&drops)).ok().unwrap();
            drop(postman);
            assert_eq!(drops.load(Relaxed), 0);
            drop(mailbox);
        }
        assert_eq!(drops.load(Relaxed), 1);
        {
            let (mut postman, mailbox) = mailbox();
            let tag = postman.tag();
            postman.put(tag, Counted(&drops)).ok().unwrap();
            drop(mailbox.take(tag));
            assert_eq!(drops.load(Relaxed), 2);
        }
        assert_eq!(drops.load(Relaxed), 2, "taken values are not dropped again");
    }

    #[test]
    fn one_taker_across_threads() {
        let rounds = if cfg!(miri) { 20 } else { 500 };
        let (mut postman, mailbox) = mailbox::<u64>();
        let mailbox = Arc::new(mailbox);
        let taken = Arc::new(AtomicUsize::new(0));
        for round in 0..rounds {
            let tag = postman.tag();
            postman.put(tag, round).unwrap();
            let takers: Vec<_> = (0..2)
                .map(|_| {
                    let (mailbox, taken) = (mailbox.clone(), taken.clone());
                    std::thread::spawn(move || {
                        if let Some(v) = mailbox.take(tag) {
                            taken.fetch_add(1, Relaxed);
                            v
                        } else {
                            0
                        }
                    })
                })
                .collect();
            let got: u64 = takers.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(got, round);
            assert_eq!(taken.swap(0, Relaxed), 1, "round {round}: exactly one taker");
        }
    }
}
