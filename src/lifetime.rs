//! The opt-in lifetime of an object: removed when the last handle made from one open drops.
//!
//! System V objects outlive every user: a queue nobody removes stays listed by `ipcs` until
//! the namespace goes, and a `Key::PRIVATE` one can no longer be found by anybody. A
//! service that wants its object to go with its handles opts in at the open
//! (`OpenOptions::remove_on_drop` for a queue or a set); the handle then carries a shared
//! [`RemoveOnDrop`] guard, and so does every clone of it, every `with_process` copy, every
//! stream, sink and owned permit made from it. When the last of them drops, the guard makes
//! the object's `IPC_RMID` with the opener's credentials: waiting calls of other handles
//! get `EIDRM`, later ones `EINVAL` (with `Error::is_removed`), as after any removal.
//!
//! Handles opened separately — by key or by id, even in the same process — do not keep the
//! object alive: the guard counts one open's handles, as a tokio `Sender` counts its
//! clones. A removal the opener may not make (`EPERM`: it neither owns nor created the
//! object) or that someone already made does nothing.

use crate::ipc::{IpcKind, IpcObject};
use crate::process::Process;

/// Removes its object when dropped, unless it is already removed; shared (`Arc`) by the
/// handles of one open.
pub(crate) struct RemoveOnDrop {
    /// The opener: the namespace and the credentials of the `IPC_RMID`.
    process: Process,
    kind: IpcKind,
    /// The object itself, so the guard never removes another object that took the id.
    object: Box<dyn IpcObject>,
}

impl RemoveOnDrop {
    pub(crate) fn new(process: Process, kind: IpcKind, object: Box<dyn IpcObject>) -> RemoveOnDrop {
        RemoveOnDrop { process, kind, object }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let header = self.object.header();
        if !header.is_deleted() {
            // Nothing to report to: EPERM or a removal racing this one leave it as it is.
            let _ = self.process.namespace().remove(self.process.credentials(), self.kind, header.id());
        }
    }
}

impl std::fmt::Debug for RemoveOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoveOnDrop")
            .field("kind", &self.kind)
            .field("id", &self.object.header().id())
            .finish()
    }
}
