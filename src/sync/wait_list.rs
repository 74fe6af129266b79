//! The waiter list shared by the blocking engines: FIFO, O(1) cancel-safe removal by id,
//! wake-ups collected under the lock and delivered after it is released.
//!
//! The message-queue engine keeps its blocked `msgsnd`/`msgrcv` callers here and the semaphore
//! engine its blocked `semop` callers, the way the kernel keeps `q_senders`/`q_receivers`
//! (`ipc/msg.c`) and `pending_alter`/`pending_const` (`ipc/sem.c`) under the object lock.
//!
//! # User-visible behaviour
//!
//! * **FIFO.** [`push_back`] appends; [`front`], [`next`], [`iter`], [`notify_front`] and
//!   [`notify_all`] go oldest first. [`push_front`] and [`move_to_back`] exist for the few
//!   places the kernel reorders (a receiver put back at the head, `ss_wakeup` moving a sender
//!   to the tail).
//! * **One waker per waiter.** The list stores exactly one [`Waker`] per waiting entry. A
//!   re-poll calls [`register`], which replaces the stored waker only when
//!   `!new.will_wake(&stored)`; wakers are never appended, so a future polled a thousand times
//!   costs one slot.
//! * **Two states.** A live entry is either [`WaiterState::Waiting`] — linked in FIFO order and
//!   holding its waker — or [`WaiterState::Notified`] — unlinked by [`notify`] (its waker moved
//!   into a [`WakeList`]) but still occupying its slot, so that the waiting future can come back
//!   and take its data, which the notifier may have filled in (a handed-off message, a
//!   performed semop). Only `Waiting` entries count in [`len`] and are seen by [`front`],
//!   [`next`] and [`iter`]; [`get`], [`get_mut`], [`state`] and [`remove`] see both.
//!
//! # Wake after unlock
//!
//! Waking a task under the object lock invites the woken task to run on another thread and
//! block straight away on that same lock. The notifier therefore only *collects* wakers while it
//! holds the lock and wakes them after releasing it (tokio's `WakeList`). Declare the
//! [`WakeList`] *before* taking the guard: locals drop in reverse order, so even an early
//! return or a panic releases the guard first, and [`WakeList`]'s `Drop` then wakes whatever a
//! forgotten [`wake_all`](WakeList::wake_all) left behind.
//!
//! ```ignore
//! use crate::sync::wait_list::{WaitList, WakeList};
//! use crate::sync::Mutex;
//!
//! struct State {
//!     permits: usize,
//!     /// `Some(())` once a permit has been handed to the waiter.
//!     waiters: WaitList<Option<()>>,
//! }
//!
//! fn release(state: &Mutex<State>) {
//!     let mut wakes = WakeList::new(); // before the guard: dropped after it
//!     let mut guard = state.lock();
//!     match guard.waiters.notify_front(&mut wakes) {
//!         // Hand the permit straight to the oldest waiter (no barging).
//!         Some(id) => *guard.waiters.get_mut(id).unwrap() = Some(()),
//!         None => guard.permits += 1,
//!     }
//!     drop(guard);
//!     wakes.wake_all(); // after the unlock
//! }
//! ```
//!
//! # Cancellation protocol
//!
//! The list knows nothing about what a notification *means*; the owning engine does. Each
//! waiting future owns its [`WaiterId`] and follows this protocol, always under the owner's lock:
//!
//! 1. First poll: if the operation can complete at once, do it; otherwise
//!    [`push_back`]`(data, cx.waker())`, keep the id, return `Pending`.
//! 2. Re-poll: [`register`]`(id, cx.waker())`. `Some(Waiting)` → `Pending` (the waker has been
//!    refreshed if needed). `Some(Notified)` → [`remove`]`(id)`, take the data, complete.
//! 3. Drop while still holding an id: [`remove`]`(id)`. If it reports
//!    [`WaiterState::Notified`], the wake-up was meant for this future and nobody else has been
//!    told: the engine must pass it on — notify the next eligible waiter, put a handed-off
//!    message back, undo a performed semop — or it is lost. If it reports `Waiting`, nothing
//!    more is needed.
//!
//! ```ignore
//! impl Drop for Acquire<'_> {
//!     fn drop(&mut self) {
//!         let Some(id) = self.id.take() else { return };
//!         let mut wakes = WakeList::new();
//!         let mut guard = self.state.lock();
//!         if let Some((Some(()), WaiterState::Notified)) = guard.waiters.remove(id) {
//!             // We were handed a permit we will never use: pass it on.
//!             match guard.waiters.notify_front(&mut wakes) {
//!                 Some(next) => *guard.waiters.get_mut(next).unwrap() = Some(()),
//!                 None => guard.permits += 1,
//!             }
//!         }
//!     } // guard dropped, then wakes: the wake-up happens after the unlock
//! }
//! ```
//!
//! # Implementation
//!
//! A slab — `Vec<Slot<T>>` plus a free list — threaded with an intrusive doubly-linked list of
//! `u32` slot indices (`head`/`tail` in the list, `prev`/`next` in each `Waiting` slot), so that
//! removal by id needs no search and no `unsafe`: the links are indices, not pointers. Each
//! slot carries a `generation` that is bumped (`wrapping_add`) whenever the slot is freed; a
//! [`WaiterId`] is `(index, generation)`, so an id kept past its [`remove`] is detected as stale
//! and every method answers `None`/`false` for it. Because the counter wraps, a stale id could
//! alias a new entry only after 2³² reuses of one slot while the old id is still held.
//!
//! Freed slots go onto a LIFO free list threaded through the vacant slots and are reused before
//! the `Vec` grows, so the slab never exceeds the peak number of live entries (`Waiting` +
//! `Notified`). It never shrinks either: the memory of a past peak is kept until the list is
//! dropped.
//!
//! The list is plain data: no atomics, no cells, no `unsafe`, not `Sync`-clever. It always lives
//! inside the `crate::sync::Mutex` of the object that owns it (the message queue's or the
//! semaphore set's state lock), and that lock guards every field here. Wakers stored in it are
//! cloned and, when replaced or removed, dropped under that lock; they are *woken* only through a
//! [`WakeList`], after it.
//!
//! | operation | cost |
//! | --- | --- |
//! | [`push_back`], [`push_front`] | O(1) amortized (O(1) when a freed slot is reused) |
//! | [`register`], [`state`], [`get`], [`get_mut`], [`front`], [`next`] | O(1) |
//! | [`notify`], [`notify_front`], [`move_to_back`], [`remove`] | O(1) |
//! | [`notify_all`] | O(n), n = `Waiting` entries |
//! | [`iter`] | O(1) per item |
//! | [`len`], [`is_empty`] | O(1) (a counter) |
//!
//! [`push_back`]: WaitList::push_back
//! [`push_front`]: WaitList::push_front
//! [`register`]: WaitList::register
//! [`state`]: WaitList::state
//! [`get`]: WaitList::get
//! [`get_mut`]: WaitList::get_mut
//! [`front`]: WaitList::front
//! [`next`]: WaitList::next
//! [`iter`]: WaitList::iter
//! [`notify`]: WaitList::notify
//! [`notify_front`]: WaitList::notify_front
//! [`notify_all`]: WaitList::notify_all
//! [`move_to_back`]: WaitList::move_to_back
//! [`remove`]: WaitList::remove
//! [`len`]: WaitList::len
//! [`is_empty`]: WaitList::is_empty

// The items are `pub` so that `crate::__loom` can re-export them under `cfg(loom)` (E0364
// forbids re-exporting a `pub(crate)` item); in normal builds they are crate-private in effect.
#![cfg_attr(not(loom), allow(unreachable_pub))]
// Until the msg and sem engines use every operation, normal builds see some of them unused.
#![cfg_attr(not(loom), allow(dead_code))]

use std::fmt;
use std::task::Waker;

/// Index sentinel: "no slot" in links and in the free list.
const NIL: u32 = u32::MAX;

// ===== WaiterId / WaiterState =====

/// Names one entry of a [`WaitList`]; returned by the `push_*` methods.
///
/// An id stays valid until it is passed to [`WaitList::remove`]; afterwards every method
/// treats it as stale (see the module's `# Implementation` on generation wrap-around).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct WaiterId {
    index: u32,
    generation: u32,
}

/// The state of a live [`WaitList`] entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WaiterState {
    /// Linked in FIFO order, holding its waker; not yet notified.
    Waiting,
    /// Notified: unlinked and its waker handed out, but the slot (and its data) are kept until
    /// [`WaitList::remove`].
    Notified,
}

// ===== WaitList =====

/// A FIFO list of waiters with O(1) removal by [`WaiterId`]; see the [module docs](self).
///
/// Not synchronized: it lives inside its owner's `crate::sync::Mutex`, and that lock guards it.
pub struct WaitList<T> {
    /// The slab. Slot `i` is named by `WaiterId { index: i, .. }`.
    slots: Vec<Slot<T>>,
    /// Head of the LIFO free list threaded through `Entry::Vacant`, or `NIL`.
    free: u32,
    /// Oldest `Waiting` entry, or `NIL`.
    head: u32,
    /// Newest `Waiting` entry, or `NIL`.
    tail: u32,
    /// Number of `Waiting` entries (the linked ones).
    len: usize,
}

struct Slot<T> {
    /// Bumped (wrapping) each time the slot is freed; part of every [`WaiterId`].
    generation: u32,
    entry: Entry<T>,
}

enum Entry<T> {
    /// Free; `next_free` continues the free list (`NIL` ends it).
    Vacant { next_free: u32 },
    /// Linked between `prev` and `next` (`NIL` at the ends), holding the one stored waker.
    Waiting { data: T, waker: Waker, prev: u32, next: u32 },
    /// Unlinked, its waker already handed to a [`WakeList`]; waiting for `remove`.
    Notified { data: T },
}

impl<T> WaitList<T> {
    /// Creates an empty list; allocates nothing until the first push.
    pub const fn new() -> Self {
        Self { slots: Vec::new(), free: NIL, head: NIL, tail: NIL, len: 0 }
    }

    /// The number of `Waiting` entries; `Notified` entries still awaiting `remove` are not
    /// counted.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no `Waiting` entry (`Notified` ones may remain).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a `Waiting` entry at the tail, storing a clone of `waker`.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` entries are live at once (memory runs out long before).
    pub fn push_back(&mut self, data: T, waker: &Waker) -> WaiterId {
        let id = self.alloc(data, waker);
        self.link_back(id.index);
        id
    }

    /// Inserts a `Waiting` entry at the head (it becomes the oldest), storing a clone of
    /// `waker`.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` entries are live at once (memory runs out long before).
    pub fn push_front(&mut self, data: T, waker: &Waker) -> WaiterId {
        let id = self.alloc(data, waker);
        self.link_front(id.index);
        id
    }

    /// Re-registers the waiter's interest on a re-poll and reports its state.
    ///
    /// For a `Waiting` entry the stored waker is replaced by a clone of `waker` only when
    /// `!waker.will_wake(stored)`; it is never appended. A `Notified` entry is left alone (its
    /// future is about to complete). Returns `None` for a stale id.
    pub fn register(&mut self, id: WaiterId, waker: &Waker) -> Option<WaiterState> {
        match self.entry_mut(id)? {
            Entry::Waiting { waker: stored, .. } => {
                if !waker.will_wake(stored) {
                    stored.clone_from(waker);
                }
                Some(WaiterState::Waiting)
            }
            Entry::Notified { .. } => Some(WaiterState::Notified),
            Entry::Vacant { .. } => None,
        }
    }

    /// The state of entry `id`, or `None` if the id is stale.
    pub fn state(&self, id: WaiterId) -> Option<WaiterState> {
        match self.entry(id)? {
            Entry::Waiting { .. } => Some(WaiterState::Waiting),
            Entry::Notified { .. } => Some(WaiterState::Notified),
            Entry::Vacant { .. } => None,
        }
    }

    /// The data of entry `id`, `Waiting` or `Notified`; `None` if the id is stale.
    pub fn get(&self, id: WaiterId) -> Option<&T> {
        match self.entry(id)? {
            Entry::Waiting { data, .. } | Entry::Notified { data } => Some(data),
            Entry::Vacant { .. } => None,
        }
    }

    /// The data of entry `id`, `Waiting` or `Notified`, mutably (a notifier fills in what it
    /// hands over); `None` if the id is stale.
    pub fn get_mut(&mut self, id: WaiterId) -> Option<&mut T> {
        match self.entry_mut(id)? {
            Entry::Waiting { data, .. } | Entry::Notified { data } => Some(data),
            Entry::Vacant { .. } => None,
        }
    }

    /// The oldest `Waiting` entry.
    pub fn front(&self) -> Option<WaiterId> {
        self.id_at(self.head)
    }

    /// The `Waiting` entry after `id` in FIFO order; `None` at the tail, or if `id` is not a
    /// `Waiting` entry (stale or `Notified`).
    pub fn next(&self, id: WaiterId) -> Option<WaiterId> {
        match self.entry(id)? {
            Entry::Waiting { next, .. } => self.id_at(*next),
            _ => None,
        }
    }

    /// The `Waiting` entries, oldest first, with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (WaiterId, &T)> {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let slot = &self.slots[cur as usize];
            let Entry::Waiting { data, next, .. } = &slot.entry else {
                unreachable!("linked slot {cur} is not Waiting");
            };
            let id = WaiterId { index: cur, generation: slot.generation };
            cur = *next;
            Some((id, data))
        })
    }

    /// Moves a `Waiting` entry to `Notified`: unlinks it and moves its waker into `wakes`,
    /// to be woken after the lock is released. The data stays for the future (or the
    /// engine's cancellation path) to [`remove`](Self::remove).
    ///
    /// Returns `false`, doing nothing, if `id` is stale or already `Notified`.
    pub fn notify(&mut self, id: WaiterId, wakes: &mut WakeList) -> bool {
        if self.state(id) != Some(WaiterState::Waiting) {
            return false;
        }
        self.unlink(id.index);
        self.notify_unlinked(id.index, wakes);
        true
    }

    /// [`notify`](Self::notify) and [`remove`](Self::remove) in one step, for a notifier that
    /// gives the waiter its result elsewhere (the message queue's mailbox): unlinks a
    /// `Waiting` entry, moves its waker into `wakes`, frees the slot (the id goes stale) and
    /// returns the data. `None`, changing nothing, unless the entry is `Waiting`.
    pub fn notify_remove(&mut self, id: WaiterId, wakes: &mut WakeList) -> Option<T> {
        if self.state(id) != Some(WaiterState::Waiting) {
            return None;
        }
        self.unlink(id.index);
        let Entry::Waiting { data, waker, .. } = self.free_slot(id.index) else {
            unreachable!("state() said the slot was Waiting");
        };
        wakes.push(waker);
        Some(data)
    }

    /// Notifies the oldest `Waiting` entry (see [`notify`](Self::notify)) and returns its id.
    pub fn notify_front(&mut self, wakes: &mut WakeList) -> Option<WaiterId> {
        let id = self.front()?;
        self.notify(id, wakes);
        Some(id)
    }

    /// Notifies every `Waiting` entry, oldest first (their wakers land in `wakes` in that
    /// order), and returns how many were notified.
    pub fn notify_all(&mut self, wakes: &mut WakeList) -> usize {
        let count = self.len;
        wakes.reserve(count);
        let mut cur = self.head;
        while cur != NIL {
            let Entry::Waiting { next, .. } = self.slots[cur as usize].entry else {
                unreachable!("linked slot {cur} is not Waiting");
            };
            self.notify_unlinked(cur, wakes);
            cur = next;
        }
        self.head = NIL;
        self.tail = NIL;
        self.len = 0;
        count
    }

    /// Moves a `Waiting` entry to the tail, as if it had just been pushed (the kernel's
    /// `ss_wakeup` re-queue of a sender). Returns `false` if `id` is stale or `Notified`.
    pub fn move_to_back(&mut self, id: WaiterId) -> bool {
        if self.state(id) != Some(WaiterState::Waiting) {
            return false;
        }
        if self.tail != id.index {
            self.unlink(id.index);
            self.link_back(id.index);
        }
        true
    }

    /// Removes entry `id` in either state, freeing its slot, and returns its data and the
    /// state it was in. A `Notified` answer means the entry had been handed a wake-up that it
    /// will now never act on: the caller must pass it on (module docs, "Cancellation
    /// protocol"). Returns `None` if the id is stale.
    ///
    /// A stored waker is dropped here, under the owner's lock.
    pub fn remove(&mut self, id: WaiterId) -> Option<(T, WaiterState)> {
        let state = self.state(id)?;
        if state == WaiterState::Waiting {
            self.unlink(id.index);
        }
        match self.free_slot(id.index) {
            Entry::Waiting { data, .. } | Entry::Notified { data } => Some((data, state)),
            Entry::Vacant { .. } => unreachable!("state() said the slot was live"),
        }
    }

    // ----- slab -----

    /// Puts the (unlinked, live) slot `index` on the free list, its generation bumped so its
    /// id goes stale, and returns what it held.
    fn free_slot(&mut self, index: u32) -> Entry<T> {
        let slot = &mut self.slots[index as usize];
        let entry = std::mem::replace(&mut slot.entry, Entry::Vacant { next_free: self.free });
        slot.generation = slot.generation.wrapping_add(1);
        self.free = index;
        entry
    }

    fn entry(&self, id: WaiterId) -> Option<&Entry<T>> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.generation == id.generation).then_some(&slot.entry)
    }

    fn entry_mut(&mut self, id: WaiterId) -> Option<&mut Entry<T>> {
        let slot = self.slots.get_mut(id.index as usize)?;
        (slot.generation == id.generation).then_some(&mut slot.entry)
    }

    /// The id of the (live) slot `index`, or `None` for `NIL`.
    fn id_at(&self, index: u32) -> Option<WaiterId> {
        (index != NIL).then(|| WaiterId { index, generation: self.slots[index as usize].generation })
    }

    /// Stores a new, not yet linked, `Waiting` entry in a free slot (or a new one).
    fn alloc(&mut self, data: T, waker: &Waker) -> WaiterId {
        let entry = Entry::Waiting { data, waker: waker.clone(), prev: NIL, next: NIL };
        if self.free != NIL {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            let Entry::Vacant { next_free } = slot.entry else {
                unreachable!("free-list slot {index} is live");
            };
            self.free = next_free;
            slot.entry = entry;
            WaiterId { index, generation: slot.generation }
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("WaitList: more than u32::MAX - 1 live entries");
            self.slots.push(Slot { generation: 0, entry });
            WaiterId { index, generation: 0 }
        }
    }

    /// Turns the already unlinked `Waiting` slot `index` into `Notified`, moving its waker
    /// into `wakes`.
    fn notify_unlinked(&mut self, index: u32, wakes: &mut WakeList) {
        let slot = &mut self.slots[index as usize];
        let Entry::Waiting { data, waker, .. } =
            std::mem::replace(&mut slot.entry, Entry::Vacant { next_free: NIL })
        else {
            unreachable!("notified slot {index} is not Waiting");
        };
        slot.entry = Entry::Notified { data };
        wakes.push(waker);
    }

    // ----- links -----

    /// `(prev, next)` of the `Waiting` slot `index`, mutably.
    fn links_mut(&mut self, index: u32) -> (&mut u32, &mut u32) {
        match &mut self.slots[index as usize].entry {
            Entry::Waiting { prev, next, .. } => (prev, next),
            _ => unreachable!("linked slot {index} is not Waiting"),
        }
    }

    fn link_back(&mut self, index: u32) {
        let tail = self.tail;
        let (prev, next) = self.links_mut(index);
        (*prev, *next) = (tail, NIL);
        if tail == NIL {
            self.head = index;
        } else {
            *self.links_mut(tail).1 = index;
        }
        self.tail = index;
        self.len += 1;
    }

    fn link_front(&mut self, index: u32) {
        let head = self.head;
        let (prev, next) = self.links_mut(index);
        (*prev, *next) = (NIL, head);
        if head == NIL {
            self.tail = index;
        } else {
            *self.links_mut(head).0 = index;
        }
        self.head = index;
        self.len += 1;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next) = self.links_mut(index);
        let (prev, next) = (std::mem::replace(prev, NIL), std::mem::replace(next, NIL));
        if prev == NIL {
            self.head = next;
        } else {
            *self.links_mut(prev).1 = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            *self.links_mut(next).0 = prev;
        }
        self.len -= 1;
    }
}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for WaitList<T> {
    /// Shows `len`, the `Waiting` entries in FIFO order and the `Notified` ones in slot
    /// order, as `id: data` maps; wakers are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Waiting<'a, T>(&'a WaitList<T>);
        impl<T: fmt::Debug> fmt::Debug for Waiting<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.iter()).finish()
            }
        }
        struct Notified<'a, T>(&'a WaitList<T>);
        impl<T: fmt::Debug> fmt::Debug for Notified<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let notified = self.0.slots.iter().enumerate().filter_map(|(i, slot)| match &slot.entry {
                    Entry::Notified { data } => {
                        Some((WaiterId { index: i as u32, generation: slot.generation }, data))
                    }
                    _ => None,
                });
                f.debug_map().entries(notified).finish()
            }
        }
        f.debug_struct("WaitList")
            .field("len", &self.len)
            .field("waiting", &Waiting(self))
            .field("notified", &Notified(self))
            .finish()
    }
}

// ===== WakeList =====

/// Wakers collected under a lock and woken after it is released (tokio's `WakeList`
/// pattern; see the module docs, "Wake after unlock").
///
/// Allocates nothing until the second push (the first waker is kept inline). Dropping it
/// wakes whatever is still in it, so a forgotten [`wake_all`](Self::wake_all) never loses a
/// wake-up — declare it before the guard so that this drop happens after the unlock.
#[derive(Debug, Default)]
pub struct WakeList {
    /// The first waker, kept inline: most notifiers wake one waiter, and a `Vec` would cost
    /// an allocation and a free per operation for it.
    first: Option<Waker>,
    /// The second and later ones.
    rest: Vec<Waker>,
}

impl WakeList {
    /// Creates an empty list.
    pub const fn new() -> Self {
        Self { first: None, rest: Vec::new() }
    }

    /// Adds a waker, to be woken by [`wake_all`](Self::wake_all) or on drop.
    pub fn push(&mut self, waker: Waker) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Makes room for `additional` more wakers, the inline slot counted: one waker into an
    /// empty list allocates nothing.
    pub fn reserve(&mut self, additional: usize) {
        let inline = usize::from(self.is_empty());
        self.rest.reserve(additional.saturating_sub(inline));
    }

    /// The number of wakers collected and not yet woken.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// Whether no waker is pending.
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    /// Wakes every collected waker in the order pushed and empties the list (its allocation is
    /// kept for reuse). Call it with no lock held.
    ///
    /// Should a waker panic, the ones after it are dropped without being woken, as in tokio.
    #[inline]
    pub fn wake_all(&mut self) {
        if let Some(waker) = self.first.take() {
            waker.wake();
        }
        // The spill is usually empty: no `Drain` to build and drop then.
        if !self.rest.is_empty() {
            for waker in self.rest.drain(..) {
                waker.wake();
            }
        }
    }
}

/// Pushes each waker in turn; with an `Option<Waker>`, the one a notifier returned, if any.
impl Extend<Waker> for WakeList {
    #[inline]
    fn extend<I: IntoIterator<Item = Waker>>(&mut self, wakers: I) {
        for waker in wakers {
            self.push(waker);
        }
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        self.wake_all();
    }
}

// ===== tests =====

#[cfg(all(test, not(loom)))]
#[allow(unsafe_code)] // a counting waker built from a raw vtable
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::{RawWaker, RawWakerVTable};

    /// Counters behind a test waker; one `static` per waker so nothing leaks.
    struct Counts {
        clones: AtomicUsize,
        wakes: AtomicUsize,
    }

    impl Counts {
        const fn new() -> Counts {
            Counts { clones: AtomicUsize::new(0), wakes: AtomicUsize::new(0) }
        }

        fn clones(&self) -> usize {
            self.clones.load(SeqCst)
        }

        fn wakes(&self) -> usize {
            self.wakes.load(SeqCst)
        }
    }

    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_raw, drop_raw);

    fn raw(counts: &'static Counts) -> RawWaker {
        RawWaker::new(std::ptr::from_ref(counts).cast(), &VTABLE)
    }

    fn counts(data: *const ()) -> &'static Counts {
        // SAFETY: every `RawWaker` built with `VTABLE` comes from `raw`, whose data pointer is
        // a `&'static Counts`.
        unsafe { &*data.cast::<Counts>() }
    }

    fn clone_raw(data: *const ()) -> RawWaker {
        let counts = counts(data);
        counts.clones.fetch_add(1, SeqCst);
        raw(counts)
    }

    fn wake_raw(data: *const ()) {
        counts(data).wakes.fetch_add(1, SeqCst);
    }

    fn drop_raw(_: *const ()) {}

    /// A waker counting its clones and wakes in `counts` (a test-local `static`).
    fn waker(counts: &'static Counts) -> Waker {
        // SAFETY: the vtable functions uphold the `RawWaker` contract: the data is a
        // `&'static Counts` (so `Send + Sync` and valid forever), `clone` returns a waker with
        // the same data and vtable, and nothing is ever freed.
        unsafe { Waker::from_raw(raw(counts)) }
    }

    fn noop() -> Waker {
        static N: Counts = Counts::new();
        waker(&N)
    }

    fn waiting<T: Copy>(list: &WaitList<T>) -> Vec<T> {
        list.iter().map(|(_, &d)| d).collect()
    }

    #[test]
    fn notify_front_is_fifo() {
        let mut list = WaitList::new();
        let ids: Vec<_> = (0..4).map(|i| list.push_back(i, &noop())).collect();
        assert_eq!(list.len(), 4);
        let mut wakes = WakeList::new();
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(list.front(), Some(id));
            assert_eq!(list.notify_front(&mut wakes), Some(id));
            assert_eq!(list.len(), 3 - i);
        }
        assert_eq!(list.notify_front(&mut wakes), None);
        assert!(list.is_empty());
        assert_eq!(wakes.len(), 4);
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(list.remove(id), Some((i, WaiterState::Notified)));
        }
    }

    #[test]
    fn notify_remove_unlinks_wakes_and_frees() {
        static C: Counts = Counts::new();
        let mut list = WaitList::new();
        let a = list.push_back(1, &noop());
        let b = list.push_back(2, &waker(&C));
        let c = list.push_back(3, &noop());
        let mut wakes = WakeList::new();
        assert_eq!(list.notify_remove(b, &mut wakes), Some(2));
        assert_eq!((list.len(), waiting(&list)), (2, vec![1, 3]));
        assert_eq!(list.state(b), None, "the id is stale");
        assert_eq!(list.notify_remove(b, &mut wakes), None);
        list.notify(a, &mut wakes);
        assert_eq!(list.notify_remove(a, &mut wakes), None, "only a Waiting entry");
        assert_eq!(list.state(a), Some(WaiterState::Notified));
        assert_eq!(wakes.len(), 2);
        wakes.wake_all();
        assert_eq!(C.wakes(), 1);
        // the freed slot is reused first
        let d = list.push_back(4, &noop());
        assert_eq!(d.index, b.index);
        assert_eq!(waiting(&list), vec![3, 4]);
        assert_eq!(list.remove(c), Some((3, WaiterState::Waiting)));
    }

    #[test]
    fn remove_keeps_order() {
        let mut list = WaitList::new();
        let ids: Vec<_> = (0..5).map(|i| list.push_back(i, &noop())).collect();
        assert_eq!(list.remove(ids[2]), Some((2, WaiterState::Waiting)));
        assert_eq!(waiting(&list), [0, 1, 3, 4]);
        assert_eq!(list.remove(ids[0]), Some((0, WaiterState::Waiting)));
        assert_eq!(waiting(&list), [1, 3, 4]);
        assert_eq!(list.remove(ids[4]), Some((4, WaiterState::Waiting)));
        assert_eq!(waiting(&list), [1, 3]);
        assert_eq!(list.front(), Some(ids[1]));
        assert_eq!(list.next(ids[1]), Some(ids[3]));
        assert_eq!(list.next(ids[3]), None);
        assert_eq!(list.len(), 2);
        // The tail is right: a push lands after 3.
        list.push_back(5, &noop());
        assert_eq!(waiting(&list), [1, 3, 5]);
        list.remove(ids[1]);
        list.remove(ids[3]);
        assert_eq!(waiting(&list), [5]);
        list.push_front(6, &noop());
        assert_eq!(waiting(&list), [6, 5]);
    }

    #[test]
    fn stale_id_after_remove_and_reuse() {
        let mut list = WaitList::new();
        let stale = list.push_back('a', &noop());
        assert_eq!(list.remove(stale), Some(('a', WaiterState::Waiting)));
        let reused = list.push_back('b', &noop());
        assert_eq!(reused.index, stale.index, "the freed slot is reused");
        assert_ne!(reused, stale);

        let mut wakes = WakeList::new();
        assert_eq!(list.state(stale), None);
        assert_eq!(list.get(stale), None);
        assert_eq!(list.get_mut(stale), None);
        assert_eq!(list.register(stale, &noop()), None);
        assert_eq!(list.next(stale), None);
        assert!(!list.move_to_back(stale));
        assert!(!list.notify(stale, &mut wakes));
        assert_eq!(list.remove(stale), None);
        // …and the live entry in that slot is untouched.
        assert_eq!(list.get(reused), Some(&'b'));
        assert_eq!(list.state(reused), Some(WaiterState::Waiting));
        assert_eq!(list.len(), 1);
        assert!(wakes.is_empty());
        // An id for a slot that never existed is stale too.
        assert_eq!(list.get(WaiterId { index: 7, generation: 0 }), None);
    }

    #[test]
    fn free_slots_are_reused_lifo() {
        let mut list = WaitList::new();
        let ids: Vec<_> = (0..3).map(|i| list.push_back(i, &noop())).collect();
        list.remove(ids[0]);
        list.remove(ids[2]);
        assert_eq!(list.push_back(9, &noop()).index, ids[2].index);
        assert_eq!(list.push_back(9, &noop()).index, ids[0].index);
        assert_eq!(list.slots.len(), 3, "no growth while freed slots exist");
    }

    #[test]
    fn generation_wraps() {
        let mut list = WaitList::new();
        let id = list.push_back((), &noop());
        list.slots[0].generation = u32::MAX;
        let id = WaiterId { generation: u32::MAX, ..id };
        list.remove(id);
        assert_eq!(list.push_back((), &noop()).generation, 0);
    }

    #[test]
    fn register_replaces_waker_only_if_not_will_wake() {
        static A: Counts = Counts::new();
        static B: Counts = Counts::new();
        let (a, b) = (waker(&A), waker(&B));
        let mut list = WaitList::new();
        let id = list.push_back((), &a);
        assert_eq!(A.clones(), 1, "push stores one clone");

        // Same waker again: nothing is cloned, nothing appended.
        for _ in 0..3 {
            assert_eq!(list.register(id, &a), Some(WaiterState::Waiting));
        }
        assert_eq!(A.clones(), 1);

        // A different waker replaces the stored one.
        assert_eq!(list.register(id, &b), Some(WaiterState::Waiting));
        assert_eq!(B.clones(), 1);
        assert_eq!(list.register(id, &b), Some(WaiterState::Waiting));
        assert_eq!(B.clones(), 1);

        let mut wakes = WakeList::new();
        assert!(list.notify(id, &mut wakes));
        assert_eq!(wakes.len(), 1, "exactly one stored waker");
        wakes.wake_all();
        assert_eq!((A.wakes(), B.wakes()), (0, 1), "the replacing waker is woken");

        // Once notified, register reports it and stores nothing.
        assert_eq!(list.register(id, &a), Some(WaiterState::Notified));
        assert_eq!(A.clones(), 1);
        assert!(!list.notify(id, &mut wakes));
        assert!(wakes.is_empty());
    }

    #[test]
    fn notify_all_in_fifo_order() {
        static W: [Counts; 3] = [Counts::new(), Counts::new(), Counts::new()];
        let mut list = WaitList::new();
        let ids: Vec<_> = W.iter().enumerate().map(|(i, c)| list.push_back(i, &waker(c))).collect();
        let mut wakes = WakeList::new();
        assert!(list.notify(ids[1], &mut wakes));
        assert_eq!(list.notify_all(&mut wakes), 2);
        assert!(list.is_empty());
        assert_eq!((list.front(), list.iter().count()), (None, 0));
        assert_eq!(wakes.len(), 3);
        let order: Vec<_> = wakes.first.iter().chain(&wakes.rest).map(|w| w.data()).collect();
        let expected: Vec<_> = [1, 0, 2].iter().map(|&i| waker(&W[i]).data()).collect();
        assert_eq!(order, expected);
        wakes.wake_all();
        assert!(W.iter().all(|c| c.wakes() == 1));
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(list.remove(id), Some((i, WaiterState::Notified)));
        }
        // The list is usable after notify_all.
        list.push_back(7, &noop());
        list.push_back(8, &noop());
        assert_eq!(waiting(&list), [7, 8]);
    }

    #[test]
    fn move_to_back() {
        let mut list = WaitList::new();
        let ids: Vec<_> = (0..3).map(|i| list.push_back(i, &noop())).collect();
        assert!(list.move_to_back(ids[0]));
        assert_eq!(waiting(&list), [1, 2, 0]);
        assert!(list.move_to_back(ids[2]));
        assert_eq!(waiting(&list), [1, 0, 2]);
        assert!(list.move_to_back(ids[2]), "already at the tail");
        assert_eq!(waiting(&list), [1, 0, 2]);
        let mut wakes = WakeList::new();
        list.notify(ids[0], &mut wakes);
        assert!(!list.move_to_back(ids[0]), "Notified entries are not moved");
        assert_eq!(waiting(&list), [1, 2]);
        assert_eq!(list.len(), 2);
        // Single element.
        let mut one = WaitList::new();
        let id = one.push_back(0, &noop());
        assert!(one.move_to_back(id));
        assert_eq!(waiting(&one), [0]);
    }

    #[test]
    fn wake_list_drop_wakes() {
        static A: Counts = Counts::new();
        static B: Counts = Counts::new();
        {
            let mut wakes = WakeList::new();
            wakes.push(waker(&A));
            wakes.push(waker(&B));
            assert_eq!(wakes.len(), 2);
        }
        assert_eq!((A.wakes(), B.wakes()), (1, 1));
        let mut wakes = WakeList::new();
        wakes.push(waker(&A));
        wakes.wake_all();
        assert!(wakes.is_empty());
        drop(wakes);
        assert_eq!(A.wakes(), 2, "wake_all empties the list; drop wakes nobody twice");
    }

    #[test]
    fn wake_list_allocates_lazily() {
        static A: Counts = Counts::new();
        let mut wakes = WakeList::new();
        assert_eq!(wakes.rest.capacity(), 0);
        wakes.push(waker(&A));
        assert_eq!((wakes.len(), wakes.rest.capacity()), (1, 0), "one waker is kept inline");
        wakes.push(waker(&A));
        assert_eq!(wakes.len(), 2);
        wakes.wake_all();
        assert_eq!((wakes.len(), A.wakes()), (0, 2));
    }

    /// `notify_all` of one waiter (its `reserve(1)`) allocates nothing: the inline slot takes it.
    #[test]
    fn wake_list_reserve_counts_the_inline_slot() {
        static A: Counts = Counts::new();
        let mut wakes = WakeList::new();
        wakes.reserve(1);
        assert_eq!(wakes.rest.capacity(), 0);
        wakes.reserve(3);
        assert!(wakes.rest.capacity() >= 2);
        let mut list = WaitList::new();
        list.push_back((), &waker(&A));
        let mut one = WakeList::new();
        assert_eq!(list.notify_all(&mut one), 1);
        assert_eq!((one.len(), one.rest.capacity()), (1, 0));
        one.wake_all();
        assert_eq!(A.wakes(), 1);
    }

    #[test]
    fn notified_entry_is_skipped_but_kept() {
        let mut list = WaitList::new();
        let ids: Vec<_> = (0..3).map(|i| list.push_back(i, &noop())).collect();
        let mut wakes = WakeList::new();
        assert!(list.notify(ids[1], &mut wakes));
        assert_eq!(list.len(), 2);
        assert_eq!(waiting(&list), [0, 2]);
        assert_eq!(list.next(ids[0]), Some(ids[2]));
        assert_eq!(list.next(ids[1]), None, "next of a Notified entry");
        assert!(list.notify(ids[0], &mut wakes));
        assert_eq!(list.front(), Some(ids[2]));
        // The notifier can fill in the data; the future finds it.
        *list.get_mut(ids[1]).unwrap() = 10;
        assert_eq!(list.state(ids[1]), Some(WaiterState::Notified));
        assert_eq!(list.get(ids[1]), Some(&10));
        assert_eq!(list.remove(ids[1]), Some((10, WaiterState::Notified)));
        assert_eq!(list.remove(ids[0]), Some((0, WaiterState::Notified)));
        assert_eq!(list.remove(ids[2]), Some((2, WaiterState::Waiting)));
        assert!(list.is_empty());
        assert_eq!(list.front(), None);
    }

    #[test]
    fn push_front() {
        let mut list = WaitList::new();
        let b = list.push_front('b', &noop());
        list.push_back('c', &noop());
        let a = list.push_front('a', &noop());
        assert_eq!(waiting(&list), ['a', 'b', 'c']);
        assert_eq!(list.front(), Some(a));
        assert_eq!(list.next(a), Some(b));
        let mut wakes = WakeList::new();
        assert_eq!(list.notify_front(&mut wakes), Some(a));
        assert_eq!(waiting(&list), ['b', 'c']);
    }

    #[test]
    fn debug_shows_entries_not_wakers() {
        let mut list = WaitList::new();
        let a = list.push_back("a", &noop());
        list.push_back("b", &noop());
        let mut wakes = WakeList::new();
        list.notify(a, &mut wakes);
        let s = format!("{list:?}");
        assert!(s.starts_with("WaitList { len: 1, waiting: {"), "{s}");
        assert!(s.contains(r#"generation: 0 }: "b"}, notified: {"#), "{s}");
        assert!(s.contains(r#": "a"}"#), "{s}");
        assert!(!s.contains("waker"), "{s}");
    }
}
