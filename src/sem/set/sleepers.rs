//! The set's sleeping `semop`s in arrival order (the kernel's `pending_alter` and
//! `pending_const` lists, as views of one list): a slab of slots linked in FIFO order, with
//! O(1) removal by [`SleeperId`].
//!
//! The same states and rules as the crate's generic `sync::wait_list::WaitList` (a `Waiting`
//! entry is linked and holds a waker; a `Notified` one is unlinked, its waker handed to a
//! [`WakeList`], its data kept until [`remove`](Sleepers::remove); an id goes stale when its
//! slot is freed, by the slot's generation), specialized to the one payload the set stores,
//! [`Waiter`]. What the specialization buys is the hand-off's cost: every method is small
//! and inlined into the engine, the waiter is written into its slot where it stays (a slot
//! keeps its fields in place instead of one enum that is replaced whole on each change of
//! state), and [`notify_remove`](Sleepers::notify_remove) frees the slot without moving
//! the waiter out to its caller, who reads what it needs before.
//!
//! Not synchronized: it lives in the set's `State`, under the set lock.
//!
//! # Decision: the sleepers live here, not in their futures
//!
//! tokio's `Semaphore` keeps each waiter in an intrusive node inside its `Acquire` future,
//! so a sleep costs no slot. That design was built for this engine with every rule kept
//! (a sleeper of one decrement on a node, moved into this slab when `merge_queues` orders
//! it among complex ops; `IPC_RMID`, `GETNCNT` and the cancellation inverse over nodes) and
//! measured against this slab: the node saves the engine about 50 instructions per hand-off
//! (queueing and completing a node is cheaper than a slot and the mailbox) and costs the
//! futures more than that (a `semop` future three times larger to build and move, a node to
//! drop), sleeping or not: the contended pair 2,364 → 2,462 instructions, the uncontended
//! pair 16% slower, and the futures `!Unpin`. So a slot it is; what made tokio's shape
//! cheaper was its flat locked path, which `set/one.rs` has. The figures are in
//! BENCHMARKS.md, "Semaphores under contention", round 10.

use std::task::Waker;

use super::Waiter;
use crate::sync::wait_list::{WaiterState, WakeList};

/// "No slot": the end of a link or of the free list.
const NIL: u32 = u32::MAX;

/// Names one sleeper of a [`Sleepers`] list; stale once its slot is freed (`remove`,
/// `notify_remove`): its generation no longer matches the slot's.
///
/// One word, the slot's index in the low half and its generation in the high half: a
/// [`Ticket`](super::Ticket) (this id and a tag) is then two words, which the calling
/// convention returns in two registers. As two `u32` fields beside the tag, the ticket came
/// back from `enqueue` through memory, where the caller read it in overlapping unaligned
/// pieces (store-forwarding stalls on every `semop` that sleeps: 220 → 200 ns of CPU per
/// contended pair).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SleeperId(u64);

impl SleeperId {
    #[inline]
    fn new(index: u32, generation: u32) -> SleeperId {
        SleeperId(u64::from(index) | (u64::from(generation) << 32))
    }

    #[inline]
    fn index(self) -> u32 {
        self.0 as u32
    }

    #[inline]
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// One slot: `Waiting` while `waker` is `Some` (and then linked), `Notified` while only
/// `data` is, vacant (on the free list, through `next`) while `data` is `None`.
#[derive(Debug)]
struct Slot {
    /// Bumped (wrapping) each time the slot is freed; part of every [`SleeperId`].
    generation: u32,
    /// The previous `Waiting` slot, or [`NIL`].
    prev: u32,
    /// The next `Waiting` slot, or [`NIL`]; for a vacant slot, the next free one.
    next: u32,
    waker: Option<Waker>,
    data: Option<Waiter>,
}

/// The set's sleepers; see the [module docs](self).
#[derive(Debug)]
pub(super) struct Sleepers {
    slots: Vec<Slot>,
    /// Head of the LIFO free list, or [`NIL`].
    free: u32,
    /// The oldest `Waiting` slot, or [`NIL`].
    head: u32,
    /// The newest `Waiting` slot, or [`NIL`].
    tail: u32,
    /// How many slots are `Waiting`.
    len: usize,
}

impl Sleepers {
    /// An empty list; allocates nothing until the first push.
    pub(super) const fn new() -> Sleepers {
        Sleepers { slots: Vec::new(), free: NIL, head: NIL, tail: NIL, len: 0 }
    }

    /// The live slot `id` names, `Waiting` or `Notified`.
    #[inline]
    fn slot(&self, id: SleeperId) -> Option<&Slot> {
        let slot = self.slots.get(id.index() as usize)?;
        (slot.generation == id.generation() && slot.data.is_some()).then_some(slot)
    }

    /// [`slot`](Self::slot), writable.
    #[inline]
    fn slot_mut(&mut self, id: SleeperId) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(id.index() as usize)?;
        (slot.generation == id.generation() && slot.data.is_some()).then_some(slot)
    }

    /// The id of the live slot `index`, or `None` for [`NIL`].
    #[inline]
    fn id_at(&self, index: u32) -> Option<SleeperId> {
        (index != NIL).then(|| SleeperId::new(index, self.slots[index as usize].generation))
    }

    /// Appends a `Waiting` sleeper at the tail, storing a clone of `waker`.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` sleepers are live at once (memory runs out long before).
    ///
    /// Inlined into the callers: the entry is written into its slot where it is built,
    /// without the copy through the stack and the call's frame (15 instructions per
    /// contended hand-off pair, BENCHMARKS.md, round 11).
    #[inline(always)]
    pub(super) fn push_back(&mut self, data: Waiter, waker: &Waker) -> SleeperId {
        let tail = self.tail;
        let index = if self.free != NIL {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            self.free = slot.next;
            slot.prev = tail;
            slot.next = NIL;
            slot.waker = Some(waker.clone());
            slot.data = Some(data);
            index
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("Sleepers: more than u32::MAX - 1 live sleepers");
            self.slots.push(Slot {
                generation: 0,
                prev: tail,
                next: NIL,
                waker: Some(waker.clone()),
                data: Some(data),
            });
            index
        };
        match tail {
            NIL => self.head = index,
            t => self.slots[t as usize].next = index,
        }
        self.tail = index;
        self.len += 1;
        SleeperId::new(index, self.slots[index as usize].generation)
    }

    /// Re-registers a sleeper's interest on a re-poll and reports its state: a `Waiting`
    /// one's waker is replaced by a clone of `waker` unless it would wake the same task; a
    /// `Notified` one is left alone. `None` for a stale id.
    #[inline]
    pub(super) fn register(&mut self, id: SleeperId, waker: &Waker) -> Option<WaiterState> {
        match &mut self.slot_mut(id)?.waker {
            Some(stored) => {
                if !waker.will_wake(stored) {
                    stored.clone_from(waker);
                }
                Some(WaiterState::Waiting)
            }
            None => Some(WaiterState::Notified),
        }
    }

    /// The sleeper `id` names, `Waiting` or `Notified`; `None` for a stale id.
    #[inline]
    pub(super) fn get(&self, id: SleeperId) -> Option<&Waiter> {
        self.slot(id)?.data.as_ref()
    }

    /// [`get`](Self::get), writable.
    #[inline]
    pub(super) fn get_mut(&mut self, id: SleeperId) -> Option<&mut Waiter> {
        self.slot_mut(id)?.data.as_mut()
    }

    /// The oldest `Waiting` sleeper.
    #[inline]
    pub(super) fn front(&self) -> Option<SleeperId> {
        self.id_at(self.head)
    }

    /// The `Waiting` sleeper after `id`; `None` at the tail, or if `id` is not `Waiting`.
    #[inline]
    pub(super) fn next(&self, id: SleeperId) -> Option<SleeperId> {
        let slot = self.slot(id)?;
        slot.waker.as_ref()?;
        self.id_at(slot.next)
    }

    /// The `Waiting` sleepers, oldest first, with their ids.
    pub(super) fn iter(&self) -> impl Iterator<Item = (SleeperId, &Waiter)> {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let slot = &self.slots[cur as usize];
            let id = SleeperId::new(cur, slot.generation);
            cur = slot.next;
            slot.data.as_ref().map(|data| (id, data))
        })
    }

    /// Takes the `Waiting` slot `index` out of the FIFO links.
    #[inline]
    fn unlink(&mut self, index: u32) {
        let slot = &self.slots[index as usize];
        let (prev, next) = (slot.prev, slot.next);
        self.link_past(prev, next);
    }

    /// Links `prev` and `next`, the neighbours of a slot leaving the FIFO links (read by
    /// the caller, who has the slot at hand), past it.
    #[inline]
    fn link_past(&mut self, prev: u32, next: u32) {
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
        self.len -= 1;
    }

    /// Links the unlinked slot `index` at the tail.
    #[inline]
    fn link_back(&mut self, index: u32) {
        let tail = self.tail;
        let slot = &mut self.slots[index as usize];
        slot.prev = tail;
        slot.next = NIL;
        match tail {
            NIL => self.head = index,
            t => self.slots[t as usize].next = index,
        }
        self.tail = index;
        self.len += 1;
    }

    /// Puts the unlinked live slot `index` on the free list, its generation bumped (its ids
    /// go stale); what it still holds is dropped in place, not moved out.
    #[inline]
    fn free_slot(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.next = self.free;
        slot.waker = None;
        slot.data = None;
        self.free = index;
    }

    /// Moves a `Waiting` sleeper to `Notified`: unlinked, its waker returned (to be woken
    /// after the lock is released), its data kept for [`remove`](Self::remove). `None`,
    /// doing nothing, unless `id` is `Waiting`.
    #[inline]
    pub(super) fn notify(&mut self, id: SleeperId) -> Option<Waker> {
        let waker = self.slot_mut(id).and_then(|slot| slot.waker.take())?;
        self.unlink(id.index());
        Some(waker)
    }

    /// [`notify`](Self::notify) and [`remove`](Self::remove) in one step, for a sleeper
    /// whose outcome went elsewhere (the set's mailbox): unlinked, its waker returned, its
    /// slot freed with its data (the id goes stale). `None`, doing nothing, unless `id` is
    /// `Waiting`.
    ///
    /// The slot is looked up once: its links read, its waker taken and the slot freed in
    /// that one access (as [`free_slot`](Self::free_slot) does, without storing `None`
    /// over the waker just taken), then its neighbours linked past it.
    #[inline]
    pub(super) fn notify_remove(&mut self, id: SleeperId) -> Option<Waker> {
        let index = id.index();
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != id.generation() || slot.data.is_none() {
            return None;
        }
        let waker = slot.waker.take()?;
        let (prev, next) = (slot.prev, slot.next);
        slot.generation = slot.generation.wrapping_add(1);
        slot.next = self.free;
        slot.data = None;
        self.free = index;
        self.link_past(prev, next);
        Some(waker)
    }

    /// Notifies every `Waiting` sleeper, oldest first (their wakers land in `wakes` in that
    /// order).
    pub(super) fn notify_all(&mut self, wakes: &mut WakeList) {
        wakes.reserve(self.len);
        let mut cur = self.head;
        while cur != NIL {
            let slot = &mut self.slots[cur as usize];
            if let Some(waker) = slot.waker.take() {
                wakes.push(waker);
            }
            cur = slot.next;
        }
        self.head = NIL;
        self.tail = NIL;
        self.len = 0;
    }

    /// Moves a `Waiting` sleeper to the tail, as if it had just been pushed. `false` unless
    /// `id` is `Waiting`.
    pub(super) fn move_to_back(&mut self, id: SleeperId) -> bool {
        if self.slot(id).is_none_or(|slot| slot.waker.is_none()) {
            return false;
        }
        if self.tail != id.index() {
            self.unlink(id.index());
            self.link_back(id.index());
        }
        true
    }

    /// Removes sleeper `id` in either state, freeing its slot, and returns its data and the
    /// state it was in (a `Waiting` one's waker is dropped here). `None` for a stale id.
    #[inline]
    pub(super) fn remove(&mut self, id: SleeperId) -> Option<(Waiter, WaiterState)> {
        let slot = self.slot_mut(id)?;
        let state = match slot.waker {
            Some(_) => WaiterState::Waiting,
            None => WaiterState::Notified,
        };
        let data = slot.data.take()?;
        if state == WaiterState::Waiting {
            self.unlink(id.index());
        }
        self.free_slot(id.index());
        Some((data, state))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sem::op::{OpList, SemOp};
    use std::task::Waker;

    fn waiter(tag: u64) -> Waiter {
        Waiter {
            sops: OpList::of(&[SemOp::new(0, -1)]),
            pid: 1,
            undo: None,
            alter: true,
            blocking: 0,
            tag,
            outcome: None,
        }
    }

    fn tags(list: &Sleepers) -> Vec<u64> {
        list.iter().map(|(_, w)| w.tag).collect()
    }

    #[test]
    fn fifo_links_through_removal_and_reuse() {
        let waker = Waker::noop();
        let mut list = Sleepers::new();
        let a = list.push_back(waiter(1), waker);
        let b = list.push_back(waiter(2), waker);
        let c = list.push_back(waiter(3), waker);
        assert_eq!(tags(&list), [1, 2, 3]);
        assert_eq!(list.front(), Some(a));
        assert_eq!(list.next(a), Some(b));
        assert_eq!(list.next(c), None);
        let (w, state) = list.remove(b).unwrap();
        assert_eq!((w.tag, state), (2, WaiterState::Waiting));
        assert_eq!(list.get(b).map(|w| w.tag), None);
        assert_eq!(list.next(a), Some(c));
        // The freed slot is reused under a new generation: the old id stays stale.
        let d = list.push_back(waiter(4), waker);
        assert_eq!(d.index(), b.index());
        assert_ne!(d, b);
        assert_eq!(list.get(b).map(|w| w.tag), None);
        assert_eq!(tags(&list), [1, 3, 4]);
        assert!(list.move_to_back(a));
        assert_eq!(tags(&list), [3, 4, 1]);
        assert_eq!((list.front(), list.len), (Some(c), 3));
    }

    #[test]
    fn notify_keeps_the_data_and_notify_remove_frees_it() {
        let waker = Waker::noop();
        let mut list = Sleepers::new();
        let a = list.push_back(waiter(1), waker);
        let b = list.push_back(waiter(2), waker);
        let c = list.push_back(waiter(3), waker);
        let mut wakes = WakeList::new();
        wakes.extend(list.notify(b));
        assert_eq!(wakes.len(), 1);
        assert!(list.notify(b).is_none());
        assert_eq!(wakes.len(), 1);
        assert_eq!(tags(&list), [1, 3]);
        assert_eq!(list.register(b, waker), Some(WaiterState::Notified));
        assert_eq!(list.get(b).map(|w| w.tag), Some(2));
        assert_eq!(list.next(b), None);
        wakes.extend(list.notify_remove(a));
        assert_eq!(wakes.len(), 2);
        assert!(list.notify_remove(a).is_none());
        assert_eq!(list.register(a, waker), None);
        assert_eq!(wakes.len(), 2);
        assert_eq!(tags(&list), [3]);
        assert_eq!(list.register(c, waker), Some(WaiterState::Waiting));
        let (w, state) = list.remove(b).unwrap();
        assert_eq!((w.tag, state), (2, WaiterState::Notified));
        list.notify_all(&mut wakes);
        assert_eq!((wakes.len(), list.len, list.front()), (3, 0, None));
        assert_eq!(list.remove(c).map(|(w, s)| (w.tag, s)), Some((3, WaiterState::Notified)));
        assert!(list.iter().next().is_none());
    }
}
