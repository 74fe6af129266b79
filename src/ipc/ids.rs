//! `Ids<T>`: one kind's id table, with the kernel's id allocation (`ipc_idr_alloc`,
//! `idr_alloc_cyclic`, `ipc_obtain_object_check`).
//!
//! # User-visible behaviour
//!
//! * An id is `seq << 15 | idx`: the slot index in bits 0–14, the table's sequence number in
//!   bits 15–30.
//! * Indexes are handed out cyclically over `[0, max(in_use * 3 / 2, 64))` (capped at
//!   32768 slots): a cursor starts one past the last index handed out and wraps to 0 when
//!   nothing is free above it. The sequence number goes up by one each time the new index is
//!   at or below the previous one (a wrap), and back to 0 at 65535 (`INT_MAX >> 15`). So a
//!   fresh table hands out 0, 1, 2, …; a removed id is not reused at once; and after 64
//!   creations the first free slot comes back with `+ 32768`.
//! * A lookup of a negative id, an empty slot, or a slot whose sequence number differs from
//!   the id's is `EINVAL`: a stale id never finds the object that has since taken its slot.
//! * `IPC_PRIVATE` objects are never entered in the key map, so no key finds them.
//!
//! # Implementation
//!
//! Plain data, guarded by the namespace's per-kind lock. Slots are a `Vec` grown on demand
//! plus a bitmap of used indexes, so finding the next free index scans 64 slots per word.

use std::collections::HashMap;

use super::key::Key;
use crate::error::ErrorKind;

/// `IPCMNI`: id slots per kind; the index takes the low 15 bits of an id.
pub(crate) const IPCMNI: usize = 1 << SEQ_SHIFT;
/// `ipcmni_seq_shift()`.
const SEQ_SHIFT: u32 = 15;
/// `ipcid_seq_max()`: `INT_MAX >> 15`.
const SEQ_MAX: u32 = (i32::MAX as u32) >> SEQ_SHIFT;
/// `ipc_min_cycle` (`RADIX_TREE_MAP_SIZE`): the smallest range the cursor cycles through.
const MIN_CYCLE: usize = 64;

/// The index and sequence number a new object will get; see [`Ids::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NewId {
    idx: u32,
    seq: u32,
}

impl NewId {
    /// The id: `seq << 15 | idx`.
    pub(crate) fn id(self) -> i32 {
        ((self.seq << SEQ_SHIFT) | self.idx) as i32
    }

    /// The sequence number (`ipc_perm.__seq`).
    pub(crate) fn seq(self) -> u32 {
        self.seq
    }
}

#[derive(Debug)]
struct Slot<T> {
    seq: u32,
    key: Key,
    units: u64,
    obj: T,
}

/// One kind's table of live objects.
#[derive(Debug)]
pub(crate) struct Ids<T> {
    slots: Vec<Option<Slot<T>>>,
    /// Bit `i % 64` of word `i / 64` is set while slot `i` is in use.
    used: Vec<u64>,
    keys: HashMap<Key, u32>,
    in_use: usize,
    /// `ids->seq`.
    seq: u32,
    /// `ids->last_idx`; `None` is the kernel's -1.
    last_idx: Option<u32>,
    /// `idr->idr_next`: where the cyclic search starts.
    next: u32,
    /// The sum of the objects' units (semaphores for SEMMNS, pages for SHMALL).
    units: u64,
}

impl<T> Default for Ids<T> {
    fn default() -> Self {
        Ids::new()
    }
}

impl<T> Ids<T> {
    pub(crate) fn new() -> Ids<T> {
        Ids {
            slots: Vec::new(),
            used: Vec::new(),
            keys: HashMap::new(),
            in_use: 0,
            seq: 0,
            last_idx: None,
            next: 0,
            units: 0,
        }
    }

    /// Objects in the table (`ids->in_use`).
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }

    /// The sum of the live objects' units.
    pub(crate) fn units(&self) -> u64 {
        self.units
    }

    /// The highest index in use, or 0 when the table is empty (`ipc_get_maxidx`, what
    /// `IPC_INFO` and `*_INFO` return).
    pub(crate) fn max_idx(&self) -> i32 {
        self.used
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)
            .map_or(0, |(i, w)| (i * 64 + 63 - w.leading_zeros() as usize) as i32)
    }

    /// The object a public key names, with its id.
    pub(crate) fn find_key(&self, key: Key) -> Option<(i32, &T)> {
        let idx = *self.keys.get(&key)?;
        let slot = self.slots[idx as usize].as_ref()?;
        Some((make_id(slot.seq, idx), &slot.obj))
    }

    /// `ipc_obtain_object_check`: the object with this id, or `EINVAL` for a negative id, an
    /// empty slot, or a stale sequence number.
    pub(crate) fn get(&self, id: i32) -> Result<&T, ErrorKind> {
        let slot = self.slot(id).ok_or(ErrorKind::InvalidArgument)?;
        Ok(&slot.obj)
    }

    /// The key an id is entered under ([`Key::PRIVATE`] if none).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn key_of(&self, id: i32) -> Option<Key> {
        self.slot(id).map(|s| s.key)
    }

    fn slot(&self, id: i32) -> Option<&Slot<T>> {
        if id < 0 {
            return None;
        }
        let idx = id as usize & (IPCMNI - 1);
        let slot = self.slots.get(idx)?.as_ref()?;
        (slot.seq == (id as u32) >> SEQ_SHIFT).then_some(slot)
    }

    /// Picks the index and sequence number the next object will get, changing nothing, so
    /// that the kind's constructor can still fail; [`insert`](Self::insert) commits it.
    ///
    /// `ENOSPC` when `limit` objects (capped at `IPCMNI`) are in use (`ipc_addid`).
    pub(crate) fn reserve(&self, limit: usize) -> Result<NewId, ErrorKind> {
        if self.in_use >= limit.min(IPCMNI) {
            return Err(ErrorKind::NoSpace);
        }
        let max_idx = (self.in_use * 3 / 2).clamp(MIN_CYCLE, IPCMNI) as u32;
        let idx = match self.find_free(self.next, max_idx) {
            Some(idx) => idx,
            None if self.next > 0 => self.find_free(0, max_idx).ok_or(ErrorKind::NoSpace)?,
            None => return Err(ErrorKind::NoSpace),
        };
        let mut seq = self.seq;
        if self.last_idx.is_some_and(|last| idx <= last) {
            seq += 1;
            if seq >= SEQ_MAX {
                seq = 0;
            }
        }
        Ok(NewId { idx, seq })
    }

    /// The lowest free index in `[from, end)`.
    fn find_free(&self, from: u32, end: u32) -> Option<u32> {
        let mut i = from;
        while i < end {
            let word = self.used.get(i as usize / 64).copied().unwrap_or(0);
            let free = !word & (u64::MAX << (i % 64));
            if free != 0 {
                let idx = (i / 64) * 64 + free.trailing_zeros();
                return (idx < end).then_some(idx);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    /// Enters an object under an id from [`reserve`](Self::reserve), which must be the last
    /// reservation made since the table last changed. A public key is entered in the key map.
    pub(crate) fn insert(&mut self, new: NewId, key: Key, units: u64, obj: T) {
        let idx = new.idx as usize;
        if self.slots.len() <= idx {
            self.slots.resize_with(idx + 1, || None);
        }
        if self.used.len() <= idx / 64 {
            self.used.resize(idx / 64 + 1, 0);
        }
        debug_assert!(self.slots[idx].is_none(), "reserved slot taken");
        self.slots[idx] = Some(Slot { seq: new.seq, key, units, obj });
        self.used[idx / 64] |= 1 << (idx % 64);
        if !key.is_private() {
            self.keys.insert(key, new.idx);
        }
        self.in_use += 1;
        self.units += units;
        self.seq = new.seq;
        self.last_idx = Some(new.idx);
        self.next = new.idx + 1;
    }

    /// Takes an object out of the table (`ipc_rmid`); its id is dead from now on. `None` if
    /// the id is not live.
    pub(crate) fn remove(&mut self, id: i32) -> Option<T> {
        self.slot(id)?;
        let idx = id as usize & (IPCMNI - 1);
        let slot = self.slots[idx].take()?;
        self.used[idx / 64] &= !(1 << (idx % 64));
        if self.keys.get(&slot.key) == Some(&(idx as u32)) {
            self.keys.remove(&slot.key);
        }
        self.in_use -= 1;
        self.units -= slot.units;
        Some(slot.obj)
    }

    /// Takes an id's key out of the key map while the id stays live (`ipc_set_key_private`,
    /// a segment removed while attached): a later lookup of the key finds nothing.
    pub(crate) fn make_private(&mut self, id: i32) {
        let idx = id as usize & (IPCMNI - 1);
        if self.slot(id).is_none() {
            return;
        }
        if let Some(slot) = self.slots[idx].as_mut() {
            if self.keys.get(&slot.key) == Some(&(idx as u32)) {
                self.keys.remove(&slot.key);
            }
            slot.key = Key::PRIVATE;
        }
    }

    /// Live objects in index order, with their ids and keys.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i32, Key, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(idx, s)| s.as_ref().map(|s| (make_id(s.seq, idx as u32), s.key, &s.obj)))
    }
}

fn make_id(seq: u32, idx: u32) -> i32 {
    ((seq << SEQ_SHIFT) | idx) as i32
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn create(ids: &mut Ids<u32>, key: i32) -> i32 {
        let new = ids.reserve(32000).unwrap();
        ids.insert(new, Key::new(key), 1, 0);
        new.id()
    }

    #[test]
    fn fresh_table_counts_up_and_skips_removed() {
        let mut ids = Ids::new();
        assert_eq!(create(&mut ids, 0), 0);
        assert_eq!(create(&mut ids, 0), 1);
        assert!(ids.remove(0).is_some());
        assert_eq!(create(&mut ids, 0), 2, "a removed id is not reused at once");
    }

    #[test]
    fn wrap_bumps_sequence_like_the_probe() {
        // docs/kernel-rules.md §1 (ids): 0, 1; remove 0; create 2. With two objects alive, create and
        // remove repeatedly: ..., 61, 62, 63, then 32768, then 32771.
        let mut ids = Ids::new();
        create(&mut ids, 0);
        create(&mut ids, 0);
        ids.remove(0);
        assert_eq!(create(&mut ids, 0), 2);
        let mut seen = Vec::new();
        for _ in 0..63 {
            let id = create(&mut ids, 0);
            seen.push(id);
            ids.remove(id);
        }
        assert_eq!(&seen[..3], &[3, 4, 5]);
        assert_eq!(&seen[58..], &[61, 62, 63, 32768, 32771]);
    }

    #[test]
    fn sequence_wraps_to_zero_at_seq_max() {
        let mut ids: Ids<u32> = Ids::new();
        ids.seq = SEQ_MAX - 1;
        ids.last_idx = Some(5);
        let new = ids.reserve(10).unwrap();
        assert_eq!((new.idx, new.seq), (0, 0));
    }

    #[test]
    fn stale_and_unknown_ids_are_einval() {
        let mut ids = Ids::new();
        let a = create(&mut ids, 7);
        assert_eq!(ids.get(a), Ok(&0));
        assert_eq!(ids.get(-1), Err(ErrorKind::InvalidArgument));
        assert_eq!(ids.get(a + 1), Err(ErrorKind::InvalidArgument));
        assert_eq!(ids.get(a + 32768), Err(ErrorKind::InvalidArgument), "wrong seq");
        ids.remove(a);
        assert_eq!(ids.get(a), Err(ErrorKind::InvalidArgument));
        assert!(ids.find_key(Key::new(7)).is_none());
        assert!(ids.remove(a).is_none(), "second removal finds nothing");
    }

    #[test]
    fn private_objects_are_never_found_by_key() {
        let mut ids = Ids::new();
        let id = create(&mut ids, 0);
        assert!(ids.find_key(Key::PRIVATE).is_none());
        assert_eq!(ids.key_of(id), Some(Key::PRIVATE));
        let pub_id = create(&mut ids, 9);
        assert_eq!(ids.find_key(Key::new(9)).map(|(id, _)| id), Some(pub_id));
        ids.make_private(pub_id);
        assert!(ids.find_key(Key::new(9)).is_none());
        assert_eq!(ids.get(pub_id), Ok(&0), "the id stays live");
    }

    #[test]
    fn limit_and_units_and_max_idx() {
        let mut ids = Ids::new();
        assert_eq!(ids.max_idx(), 0);
        for _ in 0..3 {
            let new = ids.reserve(3).unwrap();
            ids.insert(new, Key::PRIVATE, 10, 0);
        }
        assert_eq!(ids.reserve(3), Err(ErrorKind::NoSpace));
        assert_eq!(ids.reserve(usize::MAX).map(|n| n.idx), Ok(3));
        assert_eq!((ids.in_use(), ids.units(), ids.max_idx()), (3, 30, 2));
        ids.remove(1);
        assert_eq!((ids.in_use(), ids.units(), ids.max_idx()), (2, 20, 2));
        ids.remove(2);
        assert_eq!(ids.max_idx(), 0);
    }

    #[test]
    fn full_table_of_ipcmni_slots() {
        let mut ids = Ids::new();
        for i in 0..IPCMNI {
            let new = ids.reserve(usize::MAX).unwrap();
            assert_eq!(new.idx as usize, i);
            ids.insert(new, Key::PRIVATE, 0, 0u32);
        }
        assert_eq!(ids.reserve(usize::MAX), Err(ErrorKind::NoSpace));
        assert_eq!(ids.max_idx(), IPCMNI as i32 - 1);
        ids.remove(100);
        let new = ids.reserve(usize::MAX).unwrap();
        assert_eq!((new.idx, new.seq), (100, 1));
    }
}
