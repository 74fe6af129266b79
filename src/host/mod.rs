//! svipc's second home: the host kernel's own System V IPC, through the real system calls,
//! so a tokio service talks to C programs (and to other Rust processes) with the same typed,
//! async, cancel-safe calls as in-process.
//!
//! ```no_run
//! use svipc::host::Host;
//! use svipc::{Key, Select};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let me = Host::current(); // in-process: `Process::current()`
//! let q = me.msg_queue::<String>(Key::new(0x5157)).create(0o600).open()?;
//! q.send(1, "hello".to_string()).await?;
//! let (mtype, text) = q.recv(Select::Type(2)).await?; // a C peer's reply
//! println!("{mtype}: {text}");
//! # Ok(()) }
//! ```
//!
//! | System V | host | in-process |
//! |---|---|---|
//! | `msgget` | [`Host::msg_queue`]`::<T>(key).create(mode).open()` | `Process::msg_queue` |
//! | `msgsnd` / `msgrcv` | [`MessageQueue`]`::send`, `recv`, `try_*`, `blocking_*`, `*_timeout`, `stream`, `sink` | the same type |
//! | `semget` / `semop` / `semctl` | [`Host::sem_set`]`(key).nsems(n)…` → [`SemaphoreSet`]`::semop`, `acquire`, `get_val`, … | the same type |
//! | `shmget` / `shmat` / `shmctl` | [`Host::shm_segment`]`(key).size(n)…` → [`Segment`]`::attach`, `read_at`, `write_at`, `read`, `write`, `atomic`, … | the same type |
//!
//! # Where things stand (the plan)
//!
//! **Message queues are unified:** [`Host::msg_queue`] returns the crate's own
//! [`MessageQueue<T>`], so code written against it runs on either home with the one line
//! that picks `me` changed (`tests/host.rs`, `one_api_two_homes`, runs one function on
//! both). Every call dispatches to the host queue ([`MessageQueue::host`] gives it, for the
//! host's richer receive errors). How it fits the in-process handle:
//!
//! * **Handle size.** `MessageQueue<T>` is one word (asserted by
//!   `tests/msg_auto_traits.rs`), a pointer to what an open's handles share: beside the
//!   engine queue and process, one `Option<Arc<..>>` to either the optional
//!   `remove_on_drop` guard or the host queue (a host handle has no `remove_on_drop`), and
//!   the permission memo. Its engine fields hold a placeholder that no call reaches: an engine
//!   queue in no namespace, marked removed, and a process of a private namespace with this
//!   process's credentials ([`MessageQueue::process`] returns it). A [`msg::Queue<T>`] keeps
//!   `T`'s [`Wire`] functions from its open, so the handle's methods need no `Wire` bound.
//! * **Future size.** `RecvFuture` is at its 64-byte bound; its host form is one `Box` in an
//!   enum whose engine variant's niches hold the discriminant, so it stays 64 bytes.
//!   `SendFuture` gains one word (72 of its 80).
//! * **Decode failures.** `MessageQueue::recv` returns the crate's `Error`, which cannot carry
//!   bytes: a host message that does not decode as `T` is sent back to the queue (its tail)
//!   and the call fails with [`ErrorKind::TypeMismatch`]; the host queue's own `recv`
//!   ([`RecvError::Decode`]) gives the bytes.
//! * **`is_removed`.** Through a host handle, the kernel's `EINVAL` after svipc's own
//!   argument checks can only mean a dead id, so it is marked
//!   [`is_removed`](Error::is_removed) as in-process, and a stream ends with its queue.
//! * **Tracing.** With the `tracing` feature a host call emits the same event as the
//!   in-process one (`call`, `id`, `pid`, `result`); the futures report their waits, the
//!   direct `blocking_*` and `*_timeout` dispatches report one event at completion.
//! * **Size-limited receives.** `recv_limited` and `try_recv_limited` are the kernel's
//!   `msgrcv` with a buffer of the [`Limit`](crate::msg::Limit): a longer message fails
//!   with `E2BIG` and stays queued (a waiting one is woken with `E2BIG` by the send that
//!   passes it on), as in-process. Under `no_error` the buffer is the whole message, with
//!   `MSG_NOERROR`, and the payload is then truncated as in-process (a `String` at a char
//!   boundary, which the kernel's cut of the bytes would not respect).
//! * **`peek` and `peek_limited`** are the kernel's `msgrcv` with `MSG_COPY`, which exists
//!   only in kernels built with `CONFIG_CHECKPOINT_RESTORE` (most distributions' are);
//!   elsewhere they answer `EINVAL` with a [`detail`](crate::Error::detail) naming it. A
//!   message that does not decode as `T` stays where it is (`TypeMismatch`).
//! * **What the host cannot do** on a `MessageQueue` answers `EINVAL` (`InvalidArgument`)
//!   with a [`detail`](crate::Error::detail): `reserve`, `reserve_owned` and `try_reserve`
//!   (no room can be held in the kernel); `with_process` answers `EPERM`.
//!
//! **Semaphore sets are unified** the same way: [`Host::sem_set`] returns the crate's
//! [`SemaphoreSet`] (its lifetime word carries the host set, so the handle grows by nothing;
//! [`SemaphoreSet::host`]),
//! whose `semop` and `acquire` futures make the host's `semop` at their first poll (one
//! boxed variant of their internal stage: `SemopFuture` stays 48 bytes), and whose permits
//! give their units back with the host's `semop`.
//!
//! **Segments are unified:** [`Host::shm_segment`] returns the crate's [`Segment`]
//! ([`Segment::is_host`] tells the homes apart), whose `stat`, `set`, `remove`, `lock`,
//! `unlock`, `attach` and `attach_read_only` dispatch to `shmctl`/`shmat`. The handle keeps
//! one word for the host segment (`None` in-process) beside the engine fields, which hold
//! a placeholder as a queue's do. The attachments are the crate's [`Attached`] and
//! [`AttachedMut`] over this process's own `shmat` mapping, detached (`shmdt`) on drop:
//!
//! * `read_at` / `write_at` copy with relaxed atomic accesses, with the in-process errors
//!   (`EINVAL` out of range, reported as from `shmat`);
//! * the atomic views ([`AttachedMut::atomic`], [`Attached::load`]) are the same real atomics
//!   in the mapping, with the same range and alignment errors, and synchronize with C11
//!   atomics on the same word;
//! * the slice views cannot borrow memory another process writes, so on the host
//!   [`read`](crate::shm::Attached::read) is a **snapshot** taken when the view is made, and
//!   [`write`](crate::shm::AttachedMut::write) a **private copy written back on drop**, only the bytes
//!   it changed. The [`shm`](crate::shm#on-the-host) module docs give the exact ordering.
//!
//! [`Attached`]: crate::shm::Attached
//! [`AttachedMut`]: crate::shm::AttachedMut
//! [`AttachedMut::atomic`]: crate::shm::AttachedMut::atomic
//! [`Attached::load`]: crate::shm::Attached::load
//! [`Segment::is_host`]: crate::Segment::is_host

//! # What is the kernel's
//!
//! Everything: ids, keys ([`Key::ftok`] is glibc's), permissions (checked
//! against the process's real credentials), `stat`, `set`, `remove`, the limits
//! (`/proc/sys/kernel/msg*`, `sem`, `shm*`), and the errno of every error: each failure is
//! the kernel's errno as an [`ErrorKind`] (an errno outside that table,
//! which System V calls do not return on Linux, is reported as `InvalidArgument`). The
//! builders make the same two checks of their arguments before the call as in-process (mode
//! bits above `0o777`, and [`Key::PRIVATE`] without `create`, both
//! `EINVAL` with a [`detail`](crate::Error::detail)), so a program behaves the same on both
//! homes.
//!
//! # Differences from the in-process home
//!
//! * **Credentials.** The host checks the process's own credentials; there is no
//!   other [`Credentials`] to act as: a queue's `with_process` ([`msg::Queue::with_process`])
//!   answers `EPERM` ([`ErrorKind::NotPermitted`]). A host handle's `process()` is a
//!   placeholder with the process's own credentials and pid, in a namespace of its own:
//!   objects opened through it are in-process ones.
//! * **Limits** are the IPC namespace's sysctls, set by an administrator; they are not set
//!   from Rust ([`Host::set_limits`] answers `EPERM`).
//! * **Typed messages.** A message crosses processes as bytes, so `T` is also a [`Wire`] type,
//!   encoded into the message's text ([`wire`] documents the C layout). A message that does
//!   not decode as `T` is returned in the error with its bytes ([`DecodeError`]), never
//!   lost.
//! * **Cancellation.** As in-process, a dropped future loses nothing, but the kernel cannot
//!   put a message back at its place: a received message whose future was dropped is sent
//!   back to the **tail** of its queue ([`msg`](self::msg#cancellation)); a completed
//!   `semop` is undone by its inverse, as in-process ([`sem`]).
//! * **Shared memory** is never borrowed as a `&[u8]`: another process may write at any
//!   moment. The copies and atomic views behave as in-process; the slice views
//!   (`read`, `write`) are private copies — a snapshot, and a copy written back on drop
//!   (its changed bytes only) — and their lock excludes only the views of the same
//!   attachment, not other attachments or processes ([`shm`](crate::shm#on-the-host) has
//!   the memory model).
//! * **Handles** are ids: dropping one never removes the object (there is no
//!   `remove_on_drop`); objects outlive the process until `remove` or `ipcrm`.
//! * **`SEM_UNDO`** adjustments belong to the OS process and are applied by the kernel when
//!   it exits, not when a `Process` value drops.
//!
//! * **`SETALL` with a slice of the wrong length**, which C's array cannot express, is the
//!   crate's own check on both homes, in the same order: a dead id's `EINVAL`, then
//!   `ERANGE` for a value above `SEMVMX`, then `EINVAL`. On the host, a wrong length is
//!   refused after `IPC_STAT`, so without read permission it is `EACCES` (in-process: without
//!   alter permission).
//!
//! Nothing else differs in what a test from one process can see: `tests/host.rs` runs the
//! semantic checks of the in-process suite that need neither other credentials nor other
//! limits (open rules, selection, `msg_qbytes`, size limits, the errno of every error and
//! its order, `stat` fields other than times and pids, the wake order of waiting receivers
//! and semops, the `semadj` range, random calls; `tests/host/same.rs`) on both homes and
//! compares them step by step. What it cannot compare: permission errors for another
//! user, per-namespace limits, and `SEM_UNDO` applied at exit (one OS process).
//!
//! # Waiting
//!
//! The kernel gives System V objects no readiness descriptor. A call first runs with
//! `IPC_NOWAIT` on the polling thread (the fast path: one system call), then again at its
//! next 16 polls; only if the kernel would still sleep does it move to a waiter thread,
//! which sleeps in the kernel and wakes the future. A dropped future interrupts its thread's call with a thread-directed signal
//! (`SIGURG` by default, [`set_interrupt_signal`]). The design, the alternatives measured
//! and the figures are in [`wait`] and BENCHMARKS.md ("Host kernel").

#[doc(hidden)]
pub mod msg;
#[doc(hidden)]
pub mod sem;
pub(crate) mod shm;
mod sys;
pub mod wait;
pub mod wire;

use std::fmt;
use std::marker::PhantomData;

#[cfg(doc)]
use crate::{Credentials, OpenOptions, Process, Select, SemOp};
use crate::{MessageQueue, Payload, Segment, SemaphoreSet};

pub use self::msg::RecvError;
pub use self::wait::{set_interrupt_signal, waiter_threads};
#[cfg(feature = "serde")]
pub use self::wire::Serde;
pub use self::wire::{DecodeError, DecodeReason, Wire};
use crate::error::{Detail, Error, ErrorKind, Op};
use crate::ipc::{Figures, IpcKind, IpcPerm, Key};
use crate::namespace::{Ipcs, IpcsEntry};

/// The kernel's errno as the crate's [`Error`] from the call `op`.
pub(crate) fn os_error(op: Op, errno: i32) -> Error {
    Error::new(op, ErrorKind::from_errno(errno).unwrap_or(ErrorKind::InvalidArgument))
}

/// A kernel `struct ipc_perm` as the crate's [`IpcPerm`].
pub(crate) fn perm_of(p: &libc::ipc_perm) -> IpcPerm {
    IpcPerm {
        key: Key::new(p.__key),
        uid: p.uid,
        gid: p.gid,
        cuid: p.cuid,
        cgid: p.cgid,
        mode: u32::from(p.mode),
        seq: u32::from(p.__seq),
    }
}

/// The host kernel as the namespace: where [`Process::current`]
/// opens in-process objects, `Host::current()` opens the host's.
///
/// It holds nothing: every call goes to the kernel, in the IPC namespace of the calling
/// thread, with the process's credentials.
#[derive(Clone, Copy, Debug, Default)]
pub struct Host {
    _private: (),
}

impl Host {
    /// The calling process on the host kernel.
    pub fn current() -> Host {
        Host { _private: () }
    }

    /// The process id (`getpid`): what `msg_lspid`, `sem` `GETPID` and `shm_lpid` show.
    pub fn pid(&self) -> i32 {
        sys::getpid()
    }

    /// `msgget(key, flags)`, built: [`create`](HostOpen::create),
    /// [`exclusive`](HostOpen::exclusive), [`mode`](HostOpen::mode), then
    /// [`open`](HostOpen::open).
    pub fn msg_queue<T: Payload + Wire>(&self, key: Key) -> HostOpen<QueueParams<T>> {
        HostOpen::new(key, QueueParams(PhantomData))
    }

    /// A queue by id (a `msqid` handed over by another process). Checked with `IPC_STAT`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id that names no queue; `EACCES` without read permission.
    pub fn msg_queue_by_id<T: Payload + Wire>(&self, msqid: i32) -> Result<MessageQueue<T>, Error> {
        sys::msgctl_stat(msqid).map_err(|e| os_error(Op::MsgCtl, e))?;
        Ok(MessageQueue::on_host(msg::Queue::from_id(msqid)))
    }

    /// `semget(key, nsems, flags)`, built; [`nsems`](HostOpen::nsems) sets `nsems`.
    pub fn sem_set(&self, key: Key) -> HostOpen<SetParams> {
        HostOpen::new(key, SetParams { nsems: 0 })
    }

    /// A semaphore set by id.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id that names no set; `EACCES` without read permission.
    pub fn sem_set_by_id(&self, semid: i32) -> Result<SemaphoreSet, Error> {
        sem::SemSet::from_id(semid).map(SemaphoreSet::on_host)
    }

    /// `shmget(key, size, flags)`, built; [`size`](HostOpen::size) sets `size`.
    pub fn shm_segment(&self, key: Key) -> HostOpen<SegParams> {
        HostOpen::new(key, SegParams { size: 0 })
    }

    /// A segment by id.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id that names no segment; `EACCES` without read permission.
    pub fn shm_segment_by_id(&self, shmid: i32) -> Result<Segment, Error> {
        shm::Seg::from_id(shmid).map(Segment::on_host)
    }

    /// The host's `ipcs`: every object of the calling thread's IPC namespace, message
    /// queues first, then segments, then semaphore sets, each kind in index order, as
    /// `/proc/sysvipc/{msg,shm,sem}` list them (and as `Namespace::ipcs` lists the
    /// in-process ones). `Display` prints the `ipcs` table.
    ///
    /// # Errors
    ///
    /// An I/O error if `/proc/sysvipc` cannot be read (procfs not mounted).
    pub fn ipcs(&self) -> std::io::Result<Ipcs> {
        let mut entries = Vec::new();
        for (file, kind) in
            [("msg", IpcKind::MessageQueue), ("shm", IpcKind::SharedMemory), ("sem", IpcKind::SemaphoreSet)]
        {
            let text = std::fs::read_to_string(format!("/proc/sysvipc/{file}"))?;
            for row in text.lines().skip(1) {
                if let Some(entry) = ipcs_row(kind, row) {
                    entries.push(entry);
                }
            }
        }
        Ok(Ipcs::from_entries(entries))
    }

    /// In-process, `Namespace::set_limits` sets the namespace's limits; the host's are its
    /// sysctls (`kernel.msgmax`, `kernel.sem`, …), an administrator's to set. Always
    /// `EPERM`.
    ///
    /// # Errors
    ///
    /// Always [`ErrorKind::NotPermitted`] (`EPERM`), from `sysctl`.
    pub fn set_limits(&self) -> Result<(), Error> {
        Err(Error::new(Op::Sysctl, ErrorKind::NotPermitted))
    }
}

/// One row of `/proc/sysvipc/{msg,shm,sem}` (the kernel's `sysvipc_*_proc_show`): `None`
/// for a row that does not parse.
fn ipcs_row(kind: IpcKind, row: &str) -> Option<IpcsEntry> {
    let f: Vec<&str> = row.split_whitespace().collect();
    let num = |i: usize| -> Option<u64> { f.get(i)?.parse().ok() };
    let key = Key::new(f.first()?.parse().ok()?);
    let id: i32 = f.get(1)?.parse().ok()?;
    let mode = u32::from_str_radix(f.get(2)?, 8).ok()?;
    // The owner columns: after cbytes qnum lspid lrpid (msg), size cpid lpid nattch (shm),
    // nsems (sem).
    let (figures, owner) = match kind {
        IpcKind::MessageQueue => (Figures::MessageQueue { used_bytes: num(3)?, messages: num(4)? }, 7),
        IpcKind::SharedMemory => (
            Figures::SharedMemory {
                bytes: num(3)?,
                nattch: num(6)?,
                dest: mode & crate::shm::ShmidDs::SHM_DEST != 0,
                locked: mode & crate::shm::ShmidDs::SHM_LOCKED != 0,
            },
            7,
        ),
        IpcKind::SemaphoreSet => (Figures::SemaphoreSet { nsems: num(3)? }, 4),
    };
    let ids = |i: usize| -> Option<u32> { f.get(owner + i)?.parse().ok() };
    let perm = IpcPerm {
        key,
        uid: ids(0)?,
        gid: ids(1)?,
        cuid: ids(2)?,
        cgid: ids(3)?,
        mode,
        seq: (id as u32) >> 15,
    };
    Some(IpcsEntry { kind, id, perm, figures })
}

/// The payload type of a host `msgget` being built.
pub struct QueueParams<T>(PhantomData<fn() -> T>);

impl<T> fmt::Debug for QueueParams<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueParams")
    }
}

/// The `nsems` of a host `semget` being built.
#[derive(Debug)]
pub struct SetParams {
    nsems: u16,
}

/// The `size` of a host `shmget` being built.
#[derive(Debug)]
pub struct SegParams {
    size: usize,
}

/// A host `*get` call being built: the host's counterpart of
/// [`OpenOptions`], with the same methods.
#[derive(Debug)]
#[must_use = "nothing is opened until `open()` is called"]
pub struct HostOpen<P> {
    key: Key,
    create: bool,
    exclusive: bool,
    mode: u32,
    params: P,
}

impl<P> HostOpen<P> {
    fn new(key: Key, params: P) -> HostOpen<P> {
        HostOpen { key, create: false, exclusive: false, mode: 0, params }
    }

    /// `IPC_CREAT | mode`: create the object if the key names none.
    pub fn create(mut self, mode: u32) -> Self {
        self.create = true;
        self.mode = mode;
        self
    }

    /// `IPC_EXCL`: with [`create`](Self::create), fail with `EEXIST` if the key names an
    /// object.
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// The mode bits alone: the access requested when opening an existing object.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// The key being opened.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The flags word, after the two checks the in-process builder makes.
    fn flags(&self, op: Op) -> Result<i32, Error> {
        let invalid = |detail| Error::new(op, ErrorKind::InvalidArgument).with(detail);
        if self.mode & !0o777 != 0 {
            return Err(invalid(Detail::ModeBits));
        }
        if self.key.is_private() && !self.create {
            return Err(invalid(Detail::PrivateWithoutCreate));
        }
        let mut flags = self.mode as i32;
        if self.create {
            flags |= libc::IPC_CREAT;
        }
        if self.exclusive {
            flags |= libc::IPC_EXCL;
        }
        Ok(flags)
    }
}

impl<T: Payload + Wire> HostOpen<QueueParams<T>> {
    /// `msgget(key, flags)`.
    ///
    /// # Errors
    ///
    /// The kernel's: `ENOENT` (no queue, no `create`), `EEXIST` (`exclusive`), `EACCES`,
    /// `ENOSPC` (`MSGMNI`); and `EINVAL` for mode bits above `0o777` or
    /// [`Key::PRIVATE`] without `create`.
    pub fn open(self) -> Result<MessageQueue<T>, Error> {
        let flags = self.flags(Op::MsgGet)?;
        let id = sys::msgget(self.key.raw(), flags).map_err(|e| os_error(Op::MsgGet, e))?;
        Ok(MessageQueue::on_host(msg::Queue::from_id(id)))
    }
}

impl HostOpen<SetParams> {
    /// `nsems`: semaphores in a new set (at most the existing set's when opening one; `0`
    /// accepts any).
    pub fn nsems(mut self, nsems: u16) -> Self {
        self.params.nsems = nsems;
        self
    }

    /// `semget(key, nsems, flags)`.
    ///
    /// # Errors
    ///
    /// The kernel's: `ENOENT`, `EEXIST`, `EACCES`, `ENOSPC` (`SEMMNI`, `SEMMNS`), `EINVAL`
    /// for `nsems` of 0 on a new set or above `SEMMSL` or the existing set's; and the
    /// builder's two checks, as [`msg_queue`](Host::msg_queue)'s.
    pub fn open(self) -> Result<SemaphoreSet, Error> {
        let flags = self.flags(Op::SemGet)?;
        let id = sys::semget(self.key.raw(), i32::from(self.params.nsems), flags)
            .map_err(|e| os_error(Op::SemGet, e))?;
        sem::SemSet::from_id(id).map(SemaphoreSet::on_host)
    }
}

impl HostOpen<SegParams> {
    /// `size`: bytes of a new segment (at most the existing segment's when opening one;
    /// `0` accepts any).
    pub fn size(mut self, size: usize) -> Self {
        self.params.size = size;
        self
    }

    /// `shmget(key, size, flags)`.
    ///
    /// # Errors
    ///
    /// The kernel's: `ENOENT`, `EEXIST`, `EACCES`, `ENOSPC` (`SHMMNI`, `SHMALL`), `EINVAL`
    /// for a size below `SHMMIN` or above `SHMMAX` or the existing segment's; and the
    /// builder's two checks.
    pub fn open(self) -> Result<Segment, Error> {
        let flags = self.flags(Op::ShmGet)?;
        let id = sys::shmget(self.key.raw(), self.params.size, flags).map_err(|e| os_error(Op::ShmGet, e))?;
        shm::Seg::from_id(id).map(Segment::on_host)
    }
}
