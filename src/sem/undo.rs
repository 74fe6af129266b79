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
//! The process's list is its [`ExitHook`]: registered with the [`Process`](crate::Process)
//! on the first `SEM_UNDO` operation, it runs `exit_sem` when the process exits.
//!
//! An undo id names a slot *and a generation* (see `set.rs`): once a process has exited, its
//! record's slot may be handed to another process, and a `semop` of the exited process that
//! is still queued (its future leaked with `mem::forget`) then finds a generation that is no
//! longer live and fails with `EIDRM` — the kernel's answer when the undo record went away
//! (`un->semid == -1`) — instead of writing its `semadj` into the other process's record.
//!
//! Lock order: the process's list lock, then a set lock (`find_alloc_undo` then `semop`;
//! `exit_sem`); never the other way round.

use std::any::Any;

use super::set::Set;
use crate::error::ErrorKind;
use crate::namespace::Namespace;
use crate::process::ExitHook;
use crate::sync::{Arc, Mutex};

/// One record: the set and the undo id (slot and generation) of the record in it.
type Record = (Arc<Set>, u64);

/// A process's undo records (`struct sem_undo_list`), shared by its clones; a handle.
#[derive(Clone, Debug)]
pub(crate) struct UndoLists {
    lists: Arc<Mutex<Vec<Record>>>,
}

impl ExitHook for UndoLists {
    /// `exit_sem`: the adjustments go back, clamped to `[0, SEMVMX]`.
    fn exit(&self, pid: i32, ns: &Namespace) {
        self.exit_all(pid, ns.limits().semvmx);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl UndoLists {
    pub(crate) fn new() -> UndoLists {
        UndoLists { lists: Arc::new(Mutex::new(Vec::new())) }
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
    fn exit_all(&self, pid: i32, semvmx: i32) {
        let lists = std::mem::take(&mut *self.lists.lock());
        for (set, id) in lists {
            set.exit_undo(id, pid, semvmx);
        }
    }
}
