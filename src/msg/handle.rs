//! A [`MessageQueue`] handle: what the handles of one open share (the engine queue, the
//! process, the optional lifetime guard or host queue, the permission memo), one `Arc` per
//! open, and how a handle is made, cloned and pointed at the host.

use std::marker::PhantomData;

use super::store::Queue;
use super::MessageQueue;
#[cfg(all(target_os = "linux", not(loom)))]
use super::Payload;
use crate::ipc::perm::{Caller, PermCache};
#[cfg(all(target_os = "linux", not(loom)))]
use crate::ipc::{Header, Key};
use crate::lifetime::RemoveOnDrop;
#[cfg(all(target_os = "linux", not(loom)))]
use crate::namespace::Namespace;
use crate::process::Process;
use crate::sync::Arc;

/// What a [`MessageQueue`] and its clones share: one allocation per open (and per
/// [`with_process`](MessageQueue::with_process)), so that a clone is one reference count.
///
/// Decision: as for `SemaphoreSet` (whose handle was made the same way first), a handle was
/// its queue, process and lifetime itself, and a clone bumped two or three counts; and a
/// handle had nowhere to remember the permission checks that passed, so every send and
/// every receive read the permission seqlock and ran `ipcperms` in full, about 75
/// instructions each, a fifth of a simple send or receive. One shared `Handle` costs each
/// call one more load (its fields behind the pointer, a line only clones and drops write)
/// and gives the open's handles one memo.
pub(super) struct Handle<T> {
    pub(super) queue: Arc<Queue<T>>,
    pub(super) process: Process,
    /// The opt-in lifetime ([`OpenOptions::remove_on_drop`]), shared by this open's handles
    /// (across [`with_process`](MessageQueue::with_process) too, hence its own count); or,
    /// for a handle on the host kernel, the host queue.
    pub(super) extra: Option<Arc<Extra<T>>>,
    /// The permission checks that passed for `process`'s credentials, and the permission
    /// version they passed at: a later send or receive re-reads the permissions only after
    /// an `IPC_SET` changed them (see `PermCache`).
    pub(super) perm: PermCache,
}

impl<T> MessageQueue<T> {
    /// The handle of an open: `queue` as `process` opened it, its memo primed with what
    /// `process` may do on it now (`PermCache::primed`).
    pub(super) fn new(
        queue: Arc<Queue<T>>,
        process: Process,
        extra: Option<Arc<Extra<T>>>,
    ) -> MessageQueue<T> {
        let perm = PermCache::primed(queue.header().perm(), process.credentials());
        MessageQueue { h: Arc::new(Handle { queue, process, extra, perm }) }
    }

    /// Who this handle's calls are made as: its process's credentials, checked through the
    /// handle's memo.
    #[inline]
    pub(super) fn caller(&self) -> Caller<'_> {
        Caller::new(self.h.process.credentials(), &self.h.perm)
    }
}

/// What a handle carries beyond its engine queue and process.
pub(super) enum Extra<T> {
    /// The opt-in lifetime: the queue is removed when the last handle drops. (The marker
    /// names `T` where the host variant is not built.)
    // Only read by its own `Drop`.
    #[allow(dead_code)]
    Life(RemoveOnDrop, PhantomData<fn() -> T>),
    /// The handle's home is the host kernel: every call goes to this queue, and the engine
    /// fields hold a removed placeholder that no call reaches (`svipc::host`).
    #[cfg(all(target_os = "linux", not(loom)))]
    Host(crate::host::msg::Queue<T>),
}

impl<T> Clone for MessageQueue<T> {
    /// Another handle to the same queue, with the same process and the memo of the
    /// permission checks: one reference count.
    #[inline]
    fn clone(&self) -> Self {
        MessageQueue { h: self.h.clone() }
    }
}

impl<T> MessageQueue<T> {
    /// The host queue, when this handle's home is the host kernel ([`crate::host`]): its own
    /// calls return the host's richer errors (a message that does not decode comes back
    /// with its bytes).
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn host(&self) -> Option<&crate::host::msg::Queue<T>> {
        match self.h.extra.as_deref() {
            Some(Extra::Host(h)) => Some(h),
            _ => None,
        }
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
impl<T: Payload> MessageQueue<T> {
    /// A handle whose home is the host queue `host`. The engine fields get a placeholder:
    /// an engine queue that belongs to no namespace, marked removed, and a process of a
    /// private namespace with this process's credentials; no call reaches them (every call
    /// dispatches first), and one that did would answer `EINVAL`.
    pub(crate) fn on_host(host: crate::host::msg::Queue<T>) -> MessageQueue<T> {
        static HOME: std::sync::OnceLock<Process> = std::sync::OnceLock::new();
        let process = HOME.get_or_init(|| Namespace::new().process(crate::Credentials::current())).clone();
        let perm = crate::ipc::perm::PermCell::new(Key::PRIVATE, process.credentials(), 0, 0);
        let queue = Arc::new(Queue::new(Header::new(host.id(), perm), 0));
        queue.header().mark_deleted();
        MessageQueue::new(queue, process, Some(Arc::new(Extra::Host(host))))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The figures of BENCHMARKS.md's memory table
    /// (`cargo test --lib msg::handle::tests::handle_size -- --nocapture`): one allocation per open,
    /// its two counts and the [`Handle`].
    #[test]
    fn handle_size() {
        let shared = std::mem::size_of::<Handle<u64>>() + 2 * std::mem::size_of::<usize>();
        println!(
            "one open's shared handle: {shared} bytes; a handle: {} bytes",
            std::mem::size_of::<MessageQueue<u64>>()
        );
        assert_eq!(std::mem::size_of::<MessageQueue<u64>>(), std::mem::size_of::<usize>());
        assert!(shared <= 64, "{shared}");
    }
}
