//! The generic layer under the three mechanisms: keys, ids, permissions, credentials — the
//! kernel's `ipc/util.c` and `util.h` in Rust. It imports no mechanism; `namespace.rs` and
//! `process.rs` compose it with them.
//!
//! # General locking scheme
//!
//! (Our version of the header comment of `ipc/util.c`.)
//!
//! * **The id tables.** Each kind (message queues, semaphore sets, segments) has one
//!   [`Ids`] table in the [`Namespace`](crate::Namespace), behind its own `sync::Mutex` —
//!   the kernel's `ids->rwsem`. It is taken by the `*get` calls (lookup by key and creation
//!   are one critical section, so two racing `IPC_CREAT|IPC_EXCL` calls cannot both create),
//!   by opening an id, by `IPC_RMID`, by the namespace listing and by the `*_INFO` figures.
//!   It is never taken by `msgsnd`, `msgrcv`, `semop`, `shmat` or the other per-object calls:
//!   a handle holds its object directly.
//! * **Removal.** `IPC_RMID` takes the table lock, checks ownership, marks the object's
//!   header deleted (the kernel's `ipcp->deleted`), takes it out of the table and lets the
//!   mechanism fail its waiters with `EIDRM`. From then on the id is unknown (`EINVAL`), and
//!   every handle still bound to the object sees the deleted flag and answers `EINVAL` too,
//!   exactly like a C caller still holding the old id. Only a call that was already waiting
//!   gets `EIDRM` (`ipc_valid_object` after sleeping).
//! * **Permissions** are read without a lock, from a seqlock ([`PermCell`]); `IPC_SET` writes
//!   them. See `perm.rs`.
//! * **Per-object state** (messages, semaphore values, waiters, attachments) belongs to the
//!   mechanism, with its own lock-free fast paths and, where it must wait, its own lock. The
//!   lock order is table lock → object lock; no code takes them the other way round.

pub(crate) mod cred;
pub(crate) mod ids;
pub(crate) mod key;
pub(crate) mod limits;
pub(crate) mod perm;

use std::any::Any;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::error::{ErrorKind, Fault};
use crate::sync::atomic::{AtomicBool, AtomicI64};

pub use self::cred::{Capabilities, Credentials};
pub(crate) use self::ids::Ids;
pub use self::key::Key;
pub(crate) use self::key::OpenFlags;
pub use self::limits::Limits;
pub(crate) use self::limits::LimitsCell;
pub use self::perm::IpcPerm;
pub(crate) use self::perm::PermCell;

/// The three kinds of System V IPC object.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum IpcKind {
    /// A message queue (`msgget`).
    MessageQueue,
    /// A semaphore set (`semget`).
    SemaphoreSet,
    /// A shared memory segment (`shmget`).
    SharedMemory,
}

impl IpcKind {
    /// The `ipcs(1)` section title of this kind.
    pub const fn title(self) -> &'static str {
        match self {
            IpcKind::MessageQueue => "Message Queues",
            IpcKind::SemaphoreSet => "Semaphore Arrays",
            IpcKind::SharedMemory => "Shared Memory Segments",
        }
    }
}

/// Seconds since the Unix epoch: the clock of every `*_time` field
/// (`ktime_get_real_seconds`), one coarse realtime clock for all of them (`sys::coarse_now`),
/// so no two fields set at the same moment disagree.
///
/// Under loom it is a constant: the wall clock is outside the model, and code such as the
/// message queue's stamp-only-when-changed would otherwise make the number of atomic
/// operations depend on when the second ticks, which loom reports as a non-deterministic
/// model ("Reached unexpected exploration state").
#[cfg(not(loom))]
#[inline]
pub(crate) fn now() -> i64 {
    crate::sys::coarse_now()
}

/// The loom build's constant clock; see [`now`] above.
#[cfg(loom)]
pub(crate) fn now() -> i64 {
    1
}

/// What every object has, whatever its kind: the kernel's `kern_ipc_perm` plus the `ctime`
/// that all three `*_ds` structs carry.
#[derive(Debug)]
pub(crate) struct Header {
    id: i32,
    perm: PermCell,
    /// `ipcp->deleted`: set once by `IPC_RMID` (or a segment's destruction), never cleared.
    deleted: AtomicBool,
    ctime: AtomicI64,
}

impl Header {
    /// The header of an object being created now.
    pub(crate) fn new(id: i32, perm: PermCell) -> Header {
        Header { id, perm, deleted: AtomicBool::new(false), ctime: AtomicI64::new(now()) }
    }

    /// The object's id.
    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    /// The permissions.
    #[inline]
    pub(crate) fn perm(&self) -> &PermCell {
        &self.perm
    }

    /// Whether `IPC_RMID` has removed the object (`!ipc_valid_object`).
    #[inline]
    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted.load(Acquire)
    }

    /// Marks the object removed; true for the one call that did it.
    pub(crate) fn mark_deleted(&self) -> bool {
        !self.deleted.swap(true, Release)
    }

    /// `EINVAL` once the object is removed: what a C call with the dead id would get.
    #[inline]
    pub(crate) fn check_live(&self) -> Result<(), ErrorKind> {
        if self.is_deleted() {
            Err(ErrorKind::InvalidArgument)
        } else {
            Ok(())
        }
    }

    /// The `*_ctime` field.
    pub(crate) fn ctime(&self) -> i64 {
        self.ctime.load(Relaxed)
    }

    /// Sets `*_ctime` to now (creation, `IPC_SET`, `SETVAL`, `SETALL`).
    pub(crate) fn touch_ctime(&self) {
        self.ctime.store(now(), Relaxed);
    }
}

/// The per-kind figures of the namespace listing: the columns `ipcs(1)` prints after the
/// permissions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Figures {
    /// A message queue: `msg_cbytes` and `msg_qnum`.
    MessageQueue {
        /// Bytes of all queued messages (`used-bytes`).
        used_bytes: u64,
        /// Queued messages (`messages`).
        messages: u64,
    },
    /// A semaphore set: `sem_nsems`.
    SemaphoreSet {
        /// Semaphores in the set (`nsems`).
        nsems: u64,
    },
    /// A shared memory segment: `shm_segsz`, `shm_nattch`, and the mode's `SHM_DEST` and
    /// `SHM_LOCKED` bits, which give `ipcs`'s status column.
    SharedMemory {
        /// Size asked for at creation (`bytes`).
        bytes: u64,
        /// Attachments (`nattch`).
        nattch: u64,
        /// `SHM_DEST`: removed while attached, destroyed at the last detach (`dest`).
        dest: bool,
        /// `SHM_LOCKED`: locked in memory by `SHM_LOCK` (`locked`).
        locked: bool,
    },
}

/// An object in an id table, seen without knowing its payload type: what the namespace
/// listing and `ipcrm` need. Each mechanism implements it for its shared object.
pub(crate) trait IpcObject: Send + Sync + 'static {
    /// The generic header.
    fn header(&self) -> &Header;

    /// The listing's figures.
    fn figures(&self) -> Figures;

    /// For typed opening: the concrete object, to be downcast by the mechanism.
    fn as_any(&self) -> &dyn Any;

    /// `IPC_STAT`'s figures without the permission check, whatever the payload type: the
    /// mechanism's `*_ds` struct (`MsqidDs`, `SemidDs`, `ShmidDs`), boxed, which the
    /// mechanism's own `*_STAT`-by-index code downcasts. It is how a `MSG_STAT` walk reads a
    /// queue opened with any payload type.
    /// `EINVAL` when the object is being destroyed (a segment between its last detach and
    /// leaving the table).
    fn stat_ds(&self) -> Result<Box<dyn Any + Send>, ErrorKind>;

    /// `IPC_RMID`, called with the table lock held, after the ownership check and with the
    /// header not yet marked. Returns [`Removal::Now`] when the id dies at once (the table
    /// drops it and marks the header deleted), or [`Removal::Deferred`] when it stays live
    /// until a later event (a segment with attachments: its key is made private).
    fn remove(&self) -> Removal;

    /// Called by `IPC_RMID` after [`remove`](IpcObject::remove) returned [`Removal::Now`],
    /// once the table lock is released: where an object drops what it held for its users
    /// (a queue's messages), whose destructors may call back into the namespace.
    fn after_remove(&self) {}
}

/// What `IPC_RMID` did to an object; see [`IpcObject::remove`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Removal {
    /// The id is dead now.
    Now,
    /// The id stays live, its key private, until the mechanism destroys it later.
    Deferred,
}

/// A mechanism's hooks into the generic get-or-create (the kernel's `struct ipc_ops`), so
/// that [`Namespace`](crate::Namespace) writes `ipcget` once.
pub(crate) trait Ops {
    /// What a successful open gives the caller.
    type Handle;

    /// Which table.
    const KIND: IpcKind;

    /// Checks made before the key is looked up, so they apply to existing keys too (semget's
    /// `nsems` range).
    fn precheck(&self, _limits: &Limits) -> Result<(), Fault> {
        Ok(())
    }

    /// `more_checks` on an existing object, before the permission check (semget's `nsems`
    /// and shmget's `size` against the existing object: `EINVAL`).
    fn more_checks(&self, _existing: &dyn IpcObject) -> Result<(), Fault> {
        Ok(())
    }

    /// The units a new object takes from the kind's namespace-wide budget (semaphores for
    /// SEMMNS, pages for SHMALL), after validating the creation arguments. `units_in_use` is
    /// the kind's current total.
    fn units(&self, _limits: &Limits, _units_in_use: u64) -> Result<u64, Fault> {
        Ok(0)
    }

    /// `getnew`: builds the object under `header`; it is entered in the table by the caller.
    fn create(&self, header: Header) -> Result<(Box<dyn IpcObject>, Self::Handle), ErrorKind>;

    /// `associate`: the caller's handle on an existing object (`TypeMismatch` when it holds
    /// another payload type).
    fn associate(&self, existing: &dyn IpcObject) -> Result<Self::Handle, ErrorKind>;
}
