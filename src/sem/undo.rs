//! `SEM_UNDO`: the adjustments of one [`Process`](crate::Process), one record per set.
//!
//! The kernel keeps a process's `struct sem_undo` records on two lists: the process's
//! (`ulp->list_proc`, walked by `exit_sem`) and the set's (`sma->list_id`, walked by
//! `SETVAL`, `SETALL` and `IPC_RMID`). Here the `semadj` arrays live in the set, under its
//! lock, keyed by an undo id (the set's view); the process keeps `(set, undo id)` pairs (the
//! process's view). So the set reaches every process's adjustments without holding any
//! `Process`, and the process reaches its records without a back-pointer from the set: no
//! reference cycle, and no `Weak` (which loom lacks).
//!
//! Lock order: the process's list lock, then a set lock (`find_alloc_undo` then `semop`;
//! `exit_sem`); never the other way round.

use super::set::Set;
use crate::error::ErrorKind;
use crate::sync::{Arc, Mutex};

/// A process's undo records (`struct sem_undo_list`), shared by its clones.
#[derive(Debug)]
pub(crate) struct UndoLists {
    lists: Mutex<Vec<(Arc<Set>, u64)>>,
}

impl UndoLists {
    pub(crate) fn new() -> UndoLists {
        UndoLists { lists: Mutex::new(Vec::new()) }
    }

    /// `find_alloc_undo`: this process's record for `set`, made (zeroed) on first use.
    /// Records of removed sets are pruned on the way.
    pub(crate) fn find_alloc(&self, set: &Arc<Set>) -> Result<u64, ErrorKind> {
        let mut lists = self.lists.lock();
        if let Some((_, id)) = lists.iter().find(|(s, _)| Arc::ptr_eq(s, set)) {
            return Ok(*id);
        }
        lists.retain(|(s, _)| !s.is_removed());
        let id = set.new_undo()?;
        lists.push((set.clone(), id));
        Ok(id)
    }

    /// `exit_sem`: applies every record, one set after another (not atomically), clamped to
    /// `[0, semvmx]`; sets already removed are skipped.
    pub(crate) fn exit(&self, pid: i32, semvmx: i32) {
        let lists = std::mem::take(&mut *self.lists.lock());
        for (set, id) in lists {
            set.exit_undo(id, pid, semvmx);
        }
    }
}
