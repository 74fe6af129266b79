//! Shared memory segments: `shmget`, `shmat`, `shmdt` and `shmctl` (the kernel's
//! `ipc/shm.c`), with a safe API over memory that several guards alias.
//!
//! # User-visible behaviour
//!
//! * **shmget** is [`Process::shm_segment`]`(key).size(n)….open()`. A new segment's memory
//!   is `n` rounded up to whole pages and zero-filled, but `shm_segsz` is `n` as asked.
//!   `EINVAL` below `SHMMIN` or above `SHMMAX`; `ENOSPC` when the pages would pass `SHMALL`
//!   (or their rounding overflows) and at `SHMMNI` segments; `ENOMEM` if the system refuses
//!   the mapping. On an existing key the order is `EEXIST` (create + exclusive), then
//!   `EINVAL` if the segment is smaller than asked — compared with the *unrounded*
//!   `shm_segsz`, so `segsz + 1` fails even within the last page, and a size of 0 always
//!   passes — then `EACCES`.
//! * **shmat** is [`Segment::attach`] (read-write: needs read and write permission) or
//!   [`Segment::attach_read_only`] (`SHM_RDONLY`: read permission). Each returns a guard and
//!   sets `shm_nattch += 1`, `shm_atime`, `shm_lpid`. **shmdt** is dropping the guard:
//!   `shm_nattch -= 1`, `shm_dtime`, `shm_lpid`. A guard keeps the memory alive; so does
//!   its [`Process`] (a process detaches everything when it exits, and a guard holds its
//!   process).
//! * **IPC_RMID** ([`Segment::remove`], or [`Process::remove`] by id) with guards attached
//!   marks the segment `SHM_DEST` (0o1000 in the mode) and makes its key private — a new
//!   `shmget` of that key makes a new segment — while the id stays valid: it can still be
//!   attached (Linux allows it), stat-ed, set and removed again. The last detach destroys it.
//!   Without guards it is destroyed at once. A destroyed segment's id, and every handle on
//!   it, then answers `EINVAL`, and its pages leave `SHM_INFO`'s `shm_tot`.
//! * **shmctl**: [`Segment::stat`] (`IPC_STAT`, [`ShmidDs`]), [`Segment::set`] (`IPC_SET`,
//!   which keeps `SHM_DEST` and `SHM_LOCKED`), [`Segment::lock`] / [`Segment::unlock`]
//!   (`SHM_LOCK` / `SHM_UNLOCK`: owner, creator or `CAP_IPC_LOCK`, else `EPERM`; an `mlock`
//!   the system refuses is `ENOMEM`; `SHM_LOCKED` 0o2000 in the mode), and
//!   [`Namespace::shm_info`] / [`Namespace::shm_ipc_info`] (`SHM_INFO` / `IPC_INFO`), and
//!   by slot index [`Process::shm_stat`] / [`Process::shm_stat_any`] (`SHM_STAT`,
//!   `SHM_STAT_ANY`).
//! * **`shm_rmid_forced`** ([`Namespace::set_shm_rmid_forced`]): a segment remembers the
//!   process that created it until that process exits (`exit_shm`, a hook on the
//!   [`Process`]); with the setting on, the last detach destroys any segment, a creator's
//!   exit destroys its unattached segments, and switching it on destroys the unattached
//!   orphans — the kernel's `shm_may_destroy`.
//!
//! Not applicable in-process: attach addresses (`shmaddr`, `SHM_RND`, `SHM_REMAP`; the C
//! layer's `shmat` checks them as the kernel does and then refuses a non-zero address),
//! `SHM_HUGETLB`, `RLIMIT_MEMLOCK` (a caller without `CAP_IPC_LOCK` is not refused for a
//! zero limit; the real `mlock` may still be refused, which is `ENOMEM`). `SHM_EXEC` (C
//! layer) asks for execute permission as the kernel does; the memory is never executable.
//! A guard's views cover `shm_segsz` bytes, not the rest of the last page.
//!
//! # Reading and writing the bytes
//!
//! In C every attachment is a pointer to the same memory and the program keeps readers and
//! writers apart with a semaphore. In Rust a plain read racing a write is undefined
//! behaviour, and so are racing atomic accesses of different sizes to the same bytes, so
//! svipc gives two levels:
//!
//! * **Safe views, under one reader-writer lock per segment.**
//!   [`Attached::read`] gives a [`ShmRead`] that derefs to `&[u8]`;
//!   [`AttachedMut::write`] gives a [`ShmWrite`] that derefs to `&mut [u8]` — zero-copy, at
//!   `memcpy` speed. Ranged forms ([`read_range`](Attached::read_range),
//!   [`write_range`](AttachedMut::write_range)), copying forms
//!   ([`read_at`](Attached::read_at), [`write_at`](AttachedMut::write_at)) and non-waiting
//!   forms (`try_*`, `EAGAIN`) exist too. This is the shm-plus-semaphore idiom made safe:
//!   the lock *is* the semaphore. A read-only attachment has no writing method at all: it is
//!   refused by type.
//! * **`unsafe` access** for the cases the lock does not fit (a lock-free ring buffer, a
//!   counter shared with a `SemaphoreSet` protocol): raw pointers
//!   ([`Attached::as_ptr`], [`AttachedMut::as_mut_ptr`]) and atomic views
//!   ([`AttachedMut::atomic`], [`Attached::load`]) that are real `core::sync::atomic`
//!   types in the mapping. Their `# Safety` sections state the contract: no access may race
//!   a conflicting access to the same bytes (writers synchronize through the views' lock, a
//!   semaphore's release/acquire `semop`, or atomics throughout), atomics keep one size per
//!   location, and no view covers bytes used atomically.
//!
//! Every offset, length, range and alignment is checked: a bad one is `EINVAL`
//! ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)), never a panic.
//!
//! # On the host
//!
//! A [`Segment`] opened through [`Host::shm_segment`](crate::host::Host::shm_segment) is a
//! `shmid` of the host kernel, and its attachments are this process's own `shmat` mappings
//! ([`Segment::is_host`]). Another process — a C program — may write any byte at any
//! moment, and no lock of this process can stop it, so no `&[u8]` into that memory is ever
//! made. The same methods work, with the same errors (`EINVAL` for a bad range or
//! alignment), as follows:
//!
//! * [`read_at`](Attached::read_at) / [`write_at`](AttachedMut::write_at) copy out and in
//!   with **relaxed atomic** accesses (8-byte words where aligned, single bytes at the
//!   edges). A copy racing another writer is not undefined behaviour; it may see some bytes
//!   old and some new (a torn value), as C's `memcpy` would.
//! * The atomic views ([`AttachedMut::atomic`], [`Attached::load`]) are real atomics in the
//!   mapping. Rust's atomics and C11's `_Atomic`/`<stdatomic.h>` (or GCC's `__atomic`
//!   builtins) on the same aligned word are the same instructions and the same memory
//!   model, so they synchronize. Their `# Safety` contract stands, with the C side's part:
//!   a word used atomically is accessed atomically, at one size, by every process.
//! * [`read`](Attached::read) (and `try_read`, `read_range`) gives a view of a private
//!   **snapshot**, copied (as `read_at` does) when the view is made: it does not change while
//!   it lives, whoever writes the segment.
//! * [`write`](AttachedMut::write) (and `try_write`, `write_range`) gives a view of a private
//!   **copy**, taken when the view is made; on drop, the bytes the view changed — those that
//!   differ from the copy's snapshot — are written back, each run of them with relaxed atomic
//!   stores, and **no other byte is stored**. So a concurrent writer's bytes that the view
//!   did not change survive; a byte both changed ends with whichever store came last. The
//!   write-back happens in the view's drop, before it releases its lock, and in program order
//!   before anything the thread does after the drop.
//! * The views' lock is the **attachment's**: views of one attachment exclude each other as
//!   in-process (`try_*` answers `EAGAIN`), but views of other attachments, even in this
//!   process, and other processes are not excluded.
//!
//! **Ordering.** Every store above is relaxed, so ordering comes from the usual
//! release/acquire pair, as between two C threads: the C writer fills the data with plain
//! stores, then `atomic_store_explicit(&flag, 1, memory_order_release)`; the Rust reader
//! waits for `load::<AtomicU32>(flag, Ordering::Acquire) == 1`, after which `read_at` or a
//! `read()` view made then sees every byte written before the release store. The other way
//! round: `write_at` (or drop the `write()` view), then store the flag with
//! `Ordering::Release`, and C's `memory_order_acquire` load. Plain C stores to bytes Rust
//! copies concurrently are a data race in C's model; in practice they are single stores and
//! the relaxed loads see either value. Data shared with a C writer **while both run**
//! belongs in the atomic views (or behind such a flag, or a host semaphore); the slice views
//! suit data whose writer is done, or that only this attachment writes.
//!
//!
//! `segment.rs` is the engine: one `SegInner` per segment, shared by the namespace's table
//! and every handle, its bookkeeping (`nattch`, times, `lpid`, the `SHM_DEST` decision, the
//! memory) under one `sync::Mutex` — the kernel's `shm_lock` — taken after the table lock,
//! never before. The last detach decides destruction and marks the header deleted under
//! that lock, so an attach by id racing it either comes first (and the segment lives on) or
//! finds it deleted (`EINVAL`): destroyed exactly once, never while attached. `attach.rs`
//! holds the mapping (`memmap2` anonymous map) and the guards, and is the only file here
//! where `unsafe` is allowed.
//!
//! ## Memory-model argument
//!
//! The mapped bytes are reached through one raw base pointer, taken once from the mapping.
//! A `&[u8]` to them exists only inside a [`ShmRead`], which holds the segment's lock shared;
//! a `&mut [u8]` only inside a [`ShmWrite`], which holds it exclusively. So no `&mut` ever
//! coexists with another reference to the same bytes (Rust's aliasing rule), and any two
//! safe accesses of which one writes are ordered by the lock's release/acquire (no data
//! race); atomic views are `UnsafeCell`s and so may be shared. The lock is the one
//! `crate::sync` gives, so it is `std`'s `RwLock` (loom's under `cfg(loom)`); the mapping
//! outlives every view because each view borrows a guard that holds the mapping's `Arc`.

mod attach;
mod segment;

use std::fmt;

use crate::home::on_host;

#[cfg(not(loom))]
pub(crate) use self::attach::page_size;
pub use self::attach::{Attached, AttachedMut, ShmAtomic, ShmRead, ShmWrite};
use self::segment::{SegInner, ShmOps};
use crate::error::{Error, Op};
use crate::ipc::perm::{READ, WRITE};
use crate::ipc::{IpcKind, IpcPerm, Key};
use crate::namespace::Namespace;
use crate::process::{ExitHook, OpenOptions, Process};
use crate::sync::Arc;

// ===== Segment =====

/// A handle on a shared memory segment: what a `shmid` is to a C program.
///
/// Opened with [`Process::shm_segment`] (`shmget`) or [`Process::shm_segment_by_id`]; it
/// holds its [`Process`], whose credentials every call is checked with. Cloning is cheap and
/// gives another handle on the same segment. A handle alone does not keep the memory: only
/// attach guards do ([`attach`](Self::attach)).
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, Key, Namespace};
///
/// let ns = Namespace::new();
/// let me = ns.process(Credentials::new(1000, 1000));
/// // shmget(0x5eed, 100, IPC_CREAT | 0600)
/// let seg = me.shm_segment(Key::new(0x5eed)).size(100).create(0o600).open()?;
/// let guard = seg.attach()?; // shmat
/// guard.write_at(0, b"shared")?;
/// seg.remove()?; // shmctl(IPC_RMID): marked SHM_DEST, the key is private now
/// assert!(seg.stat()?.is_dest());
/// drop(guard); // shmdt: the last detach destroys it
/// assert_eq!(seg.stat().unwrap_err().errno(), 22); // EINVAL
/// # Ok::<(), svipc::Error>(())
/// ```
#[derive(Clone)]
pub struct Segment {
    /// In-process, the segment; on the host, a placeholder that carries the host segment
    /// ([`SegInner::host`]): every call dispatches to it first.
    inner: Arc<SegInner>,
    process: Process,
}

#[cfg(all(target_os = "linux", not(loom)))]
use crate::host::shm::Seg as HostSeg;

#[cfg(all(target_os = "linux", not(loom)))]
impl Segment {
    /// A handle whose home is the host segment `host`. The engine fields get a
    /// placeholder: a segment of the same id and size in no namespace, marked destroyed,
    /// and a process of a private namespace with this process's credentials.
    pub(crate) fn on_host(host: HostSeg) -> Segment {
        static HOME: std::sync::OnceLock<Process> = std::sync::OnceLock::new();
        let process = HOME.get_or_init(|| Namespace::new().process(crate::Credentials::current())).clone();
        let inner = SegInner::placeholder(host, process.credentials());
        Segment { inner, process }
    }

    /// The host segment, for a handle whose home is the host.
    #[inline]
    fn host(&self) -> Option<&HostSeg> {
        self.inner.host()
    }
}

impl Segment {
    /// The error of a call the segment refused, marked [`is_removed`](Error::is_removed)
    /// when it is the `EINVAL` of this handle's own segment having been destroyed.
    fn error(&self, op: Op, kind: crate::error::ErrorKind) -> Error {
        Error::of_handle(op, kind, self.inner.is_destroyed())
    }

    /// The id (`shmid`).
    pub fn id(&self) -> i32 {
        self.inner.id()
    }

    /// `shm_segsz`: the size asked for at creation (not rounded up to pages).
    pub fn size(&self) -> usize {
        self.inner.segsz()
    }

    /// Whether this handle's home is the host kernel
    /// ([`Host::shm_segment`](crate::host::Host::shm_segment)) rather than an in-process
    /// [`Namespace`].
    pub fn is_host(&self) -> bool {
        #[cfg(all(target_os = "linux", not(loom)))]
        return self.host().is_some();
        #[cfg(not(all(target_os = "linux", not(loom))))]
        false
    }

    /// The process whose credentials this handle's calls use (on the host, a placeholder
    /// with this process's credentials and pid in a namespace of its own: the kernel checks
    /// the real ones, and objects opened through it are in-process ones).
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// `shmat(shmid, NULL, 0)`: attach for reading and writing. Dropping the guard is
    /// `shmdt`.
    ///
    /// Sets `shm_nattch += 1`, `shm_atime = now`, `shm_lpid = ` the process's pid. A
    /// segment marked `SHM_DEST` (removed while attached) can still be attached, as Linux
    /// allows.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed.
    /// * [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (EACCES): the
    ///   mode does not grant the caller both read and write (and it lacks
    ///   `CAP_IPC_OWNER`).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000).with_pid(42));
    /// let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o400).open()?;
    /// assert!(seg.attach().unwrap_err().is_permission_denied()); // 0400: no write
    /// let ro = seg.attach_read_only()?;
    /// let ds = seg.stat()?;
    /// assert_eq!((ds.shm_nattch, ds.shm_lpid), (1, 42));
    /// # drop(ro);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn attach(&self) -> Result<AttachedMut, Error> {
        self.attach_access(READ | WRITE).map(AttachedMut::new)
    }

    /// `shmat` on the host: the guard over the host mapping.
    #[cfg(all(target_os = "linux", not(loom)))]
    fn attach_host(&self, host: &HostSeg, access: u32) -> Result<Attached, Error> {
        let map = host.attach(access & WRITE == 0);
        crate::trace::call!(Op::ShmAt, self.id(), self.process.pid(), &map);
        Ok(Attached::on_host(map?, self.clone()))
    }

    /// `shmat(shmid, NULL, SHM_RDONLY)`: attach for reading only. Dropping the guard is
    /// `shmdt`. The same field updates as [`attach`](Self::attach).
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed.
    /// * [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (EACCES): the
    ///   mode does not grant the caller read (and it lacks `CAP_IPC_OWNER`).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let owner = ns.process(Credentials::new(1000, 1000));
    /// let _seg = owner.shm_segment(Key::new(3)).size(8).create(0o604).open()?;
    /// let guest = ns.process(Credentials::new(2000, 2000));
    /// let theirs = guest.shm_segment(Key::new(3)).mode(0o004).open()?; // asks for read
    /// let ro = theirs.attach_read_only()?; // other may read (4) ...
    /// assert!(ro.is_read_only());
    /// assert!(theirs.attach().unwrap_err().is_permission_denied()); // ... but not write
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn attach_read_only(&self) -> Result<Attached, Error> {
        self.attach_access(READ)
    }

    /// `do_shmat` with the permission `access` asks (`READ`, with `WRITE` for a read-write
    /// attach, with `EXEC` for `SHM_EXEC`): the guard, writable when `access` has `WRITE`.
    pub(crate) fn attach_access(&self, access: u32) -> Result<Attached, Error> {
        on_host!(self, host => self.attach_host(host, access));
        let mem = self.inner.attach(self.process.credentials(), access).map_err(|k| self.error(Op::ShmAt, k));
        crate::trace::call!(Op::ShmAt, self.id(), self.process.pid(), &mem);
        Ok(Attached::new(mem?, self.clone(), access & WRITE != 0))
    }

    /// `shmdt` of a guard of this segment (called by the guards' `Drop`).
    pub(crate) fn detach(&self) {
        #[cfg(all(target_os = "linux", not(loom)))]
        if self.host().is_some() {
            // The mapping's own drop is the host's `shmdt`.
            crate::trace::call!(Op::ShmDt, self.id(), self.process.pid(), &Ok::<(), Error>(()));
            return;
        }
        let forced = self.process.namespace().shm_rmid_forced_flag();
        if self.inner.detach(self.process.pid(), forced) {
            self.process.namespace().destroy(IpcKind::SharedMemory, self.inner.id());
        }
        crate::trace::call!(Op::ShmDt, self.id(), self.process.pid(), &Ok::<(), Error>(()));
    }

    /// `shmctl(shmid, IPC_STAT, &buf)`.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed.
    /// * [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (EACCES): no
    ///   read permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 100).with_pid(9));
    /// let seg = me.shm_segment(Key::new(7)).size(10).create(0o640).open()?;
    /// let ds = seg.stat()?;
    /// assert_eq!(ds.shm_segsz, 10); // as asked, not rounded
    /// assert_eq!((ds.shm_cpid, ds.shm_lpid, ds.shm_nattch, ds.shm_atime, ds.shm_dtime), (9, 0, 0, 0, 0));
    /// assert_eq!((ds.shm_perm.key, ds.shm_perm.uid, ds.shm_perm.mode), (Key::new(7), 1000, 0o640));
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn stat(&self) -> Result<ShmidDs, Error> {
        let r = self.stat_call();
        crate::trace::call!(Op::ShmCtl, self.id(), self.process.pid(), &r);
        r
    }

    #[inline]
    fn stat_call(&self) -> Result<ShmidDs, Error> {
        on_host!(self, host => host.stat());
        self.inner.stat(self.process.credentials()).map_err(|k| self.error(Op::ShmCtl, k))
    }

    /// `shmctl(shmid, IPC_SET, &buf)`: sets `shm_perm.uid`, `shm_perm.gid` and the low 9
    /// bits of `shm_perm.mode` (`SHM_DEST` and `SHM_LOCKED` survive), and `shm_ctime`.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed; or `uid` or `gid` is `u32::MAX` (`(uid_t)-1`, unmappable).
    /// * [`ErrorKind::NotPermitted`](crate::ErrorKind::NotPermitted) (EPERM): the caller is
    ///   neither owner nor creator and lacks `CAP_SYS_ADMIN`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open()?;
    /// seg.set(2000, 2000, 0o7640)?; // only the low 9 bits of the mode count
    /// let p = seg.stat()?.shm_perm; // the creator keeps owner rights through cuid
    /// assert_eq!((p.uid, p.gid, p.cuid, p.mode), (2000, 2000, 1000, 0o640));
    /// assert_eq!(seg.set(u32::MAX, 0, 0o600).unwrap_err().errno(), 22); // EINVAL
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn set(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        let r = self.set_call(uid, gid, mode);
        crate::trace::call!(Op::ShmCtl, self.id(), self.process.pid(), &r);
        r
    }

    #[inline]
    fn set_call(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        on_host!(self, host => host.set(uid, gid, mode));
        self.inner.set(self.process.credentials(), uid, gid, mode).map_err(|k| self.error(Op::ShmCtl, k))
    }

    /// `shmctl(shmid, IPC_RMID, NULL)`: with guards attached, marks the segment `SHM_DEST`
    /// and makes its key private (the id stays valid until the last guard drops, then the
    /// segment is destroyed); otherwise destroys it now.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed.
    /// * [`ErrorKind::NotPermitted`](crate::ErrorKind::NotPermitted) (EPERM): the caller is
    ///   neither owner nor creator and lacks `CAP_SYS_ADMIN`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let key = Key::new(0x77);
    /// let seg = me.shm_segment(key).size(8).create(0o600).open()?;
    /// let guard = seg.attach()?;
    /// seg.remove()?; // attached: marked SHM_DEST, key private, id still valid
    /// assert_eq!(me.shm_segment(key).open().unwrap_err().kind(), ErrorKind::NotFound);
    /// let again = me.shm_segment_by_id(seg.id())?.attach()?; // Linux allows this
    /// seg.remove()?; // a second IPC_RMID is fine too
    /// drop((guard, again)); // the last detach destroys it
    /// assert_eq!(seg.remove().unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn remove(&self) -> Result<(), Error> {
        let r = self.remove_call();
        crate::trace::call!(Op::ShmCtl, self.id(), self.process.pid(), &r);
        r
    }

    #[inline]
    fn remove_call(&self) -> Result<(), Error> {
        on_host!(self, host => host.remove());
        let op = |k| self.error(Op::ShmCtl, k);
        self.inner.check_live().map_err(op)?;
        self.process
            .namespace()
            .remove(self.process.credentials(), IpcKind::SharedMemory, self.id())
            .map_err(op)
    }

    /// `shmctl(shmid, SHM_LOCK, NULL)`: `mlock`s the memory and sets `SHM_LOCKED` (0o2000)
    /// in the mode. No read permission is needed and `shm_ctime` does not change. Locking a
    /// locked segment does nothing. The lock goes with the segment.
    ///
    /// Unlike the kernel's `shmem_lock`, `mlock` faults every page in.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed.
    /// * [`ErrorKind::NotPermitted`](crate::ErrorKind::NotPermitted) (EPERM): the caller
    ///   lacks `CAP_IPC_LOCK` and its euid is neither the owner's nor the creator's.
    /// * [`ErrorKind::OutOfMemory`](crate::ErrorKind::OutOfMemory) (ENOMEM): the system
    ///   refused the `mlock` (`RLIMIT_MEMLOCK` of the real process, memory).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(4096).create(0o666).open()?;
    /// let stranger = ns.process(Credentials::new(2000, 2000));
    /// let theirs = stranger.shm_segment_by_id(seg.id())?;
    /// assert_eq!(theirs.lock().unwrap_err().kind(), ErrorKind::NotPermitted); // EPERM
    /// match seg.lock() {
    ///     Ok(()) => {
    ///         assert!(seg.stat()?.is_locked()); // SHM_LOCKED in the mode
    ///         seg.unlock()?;
    ///     }
    ///     // this OS process may not mlock (RLIMIT_MEMLOCK): a typed error
    ///     Err(e) => assert_eq!(e.kind(), ErrorKind::OutOfMemory),
    /// }
    /// assert!(!seg.stat()?.is_locked());
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn lock(&self) -> Result<(), Error> {
        let r = self.lock_call();
        crate::trace::call!(Op::ShmCtl, self.id(), self.process.pid(), &r);
        r
    }

    #[inline]
    fn lock_call(&self) -> Result<(), Error> {
        on_host!(self, host => host.lock(true));
        self.inner.lock(self.process.credentials(), true).map_err(|k| self.error(Op::ShmCtl, k))
    }

    /// `shmctl(shmid, SHM_UNLOCK, NULL)`: `munlock`s the memory and clears `SHM_LOCKED`.
    /// Unlocking an unlocked segment does nothing.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   segment is destroyed.
    /// * [`ErrorKind::NotPermitted`](crate::ErrorKind::NotPermitted) (EPERM): as for
    ///   [`lock`](Self::lock).
    pub fn unlock(&self) -> Result<(), Error> {
        let r = self.unlock_call();
        crate::trace::call!(Op::ShmCtl, self.id(), self.process.pid(), &r);
        r
    }

    #[inline]
    fn unlock_call(&self) -> Result<(), Error> {
        on_host!(self, host => host.lock(false));
        self.inner.lock(self.process.credentials(), false).map_err(|k| self.error(Op::ShmCtl, k))
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("id", &self.id())
            .field("size", &self.size())
            .field("host", &self.is_host())
            .finish_non_exhaustive()
    }
}

// ===== ShmidDs =====

/// `struct shmid_ds`, as `shmctl(IPC_STAT)` fills it (shmctl(2), svipc(7)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct ShmidDs {
    /// `shm_perm`: owner, creator, mode (with [`SHM_DEST`](Self::SHM_DEST) and
    /// [`SHM_LOCKED`](Self::SHM_LOCKED)), and the key — 0 once `IPC_RMID` marked it.
    pub shm_perm: IpcPerm,
    /// `shm_segsz`: the size asked for at creation, in bytes (not page-rounded).
    pub shm_segsz: usize,
    /// `shm_atime`: seconds since the epoch of the last attach; 0 if none.
    pub shm_atime: i64,
    /// `shm_dtime`: of the last detach; 0 if none.
    pub shm_dtime: i64,
    /// `shm_ctime`: of creation or the last `IPC_SET`.
    pub shm_ctime: i64,
    /// `shm_cpid`: the creator's pid.
    pub shm_cpid: i32,
    /// `shm_lpid`: the pid of the last attach or detach; 0 if none.
    pub shm_lpid: i32,
    /// `shm_nattch`: current attachments (live guards).
    pub shm_nattch: u64,
}

impl ShmidDs {
    /// `SHM_DEST` (0o1000) in `shm_perm.mode`: removed while attached, destroyed at the last
    /// detach.
    pub const SHM_DEST: u32 = segment::SHM_DEST;
    /// `SHM_LOCKED` (0o2000) in `shm_perm.mode`: locked by `SHM_LOCK`.
    pub const SHM_LOCKED: u32 = segment::SHM_LOCKED;

    /// Whether `SHM_DEST` is set.
    pub fn is_dest(&self) -> bool {
        self.shm_perm.mode & Self::SHM_DEST != 0
    }

    /// Whether `SHM_LOCKED` is set.
    pub fn is_locked(&self) -> bool {
        self.shm_perm.mode & Self::SHM_LOCKED != 0
    }
}

// ===== Process: shmget =====

/// `shmget`'s size argument, carried by [`OpenOptions`] (see [`Process::shm_segment`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ShmParams {
    size: usize,
}

impl Process {
    /// `shmget(key, size, flags)` as a builder: set the size with
    /// [`size`](OpenOptions::size), the flags with [`create`](OpenOptions::create),
    /// [`exclusive`](OpenOptions::exclusive) and [`mode`](OpenOptions::mode), then
    /// [`open`](OpenOptions::open). The size defaults to 0, which is "any size" for an
    /// existing segment and `EINVAL` for a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let key = Key::new(0x51);
    /// let seg = me.shm_segment(key).size(10).create(0o600).exclusive().open()?;
    /// // the same key, any size up to shm_segsz: the same segment
    /// assert_eq!(me.shm_segment(key).size(10).open()?.id(), seg.id());
    /// assert_eq!(me.shm_segment(key).open()?.id(), seg.id()); // size 0: don't care
    /// // one byte more than asked at creation is EINVAL, although the page has room
    /// assert_eq!(me.shm_segment(key).size(11).open().unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn shm_segment(&self, key: Key) -> OpenOptions<'_, ShmParams> {
        OpenOptions::new(self, key, ShmParams::default())
    }

    /// A handle on the segment with this id, as a C program holding a `shmid` has one. No
    /// permission is asked here; each call checks its own.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL, reported
    /// as from `shmat`, the usual first call on an id): no live segment has this id (never
    /// handed out, destroyed, or negative).
    pub fn shm_segment_by_id(&self, id: i32) -> Result<Segment, Error> {
        let ops = ShmOps { size: 0, pid: self.pid(), creator: self.token() };
        let inner = self.namespace().open_id(id, &ops).map_err(|k| Error::new(Op::ShmAt, k))?;
        Ok(Segment { inner, process: self.clone() })
    }
}

impl OpenOptions<'_, ShmParams> {
    /// `shmget`'s `size`, in bytes: a new segment's `shm_segsz`, or the least size an
    /// existing one must have.
    pub fn size(mut self, size: usize) -> Self {
        self.params.size = size;
        self
    }

    /// `shmget`: opens or creates the segment.
    ///
    /// # Errors
    ///
    /// First, svipc's own: `EINVAL` for [`Key::PRIVATE`](crate::Key::PRIVATE) without
    /// `create`, or a mode above `0o777` (see [`OpenOptions`]'s
    /// [two checks](OpenOptions#two-checks-c-does-not-make)). Then in the kernel's order:
    ///
    /// * [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) (ENOENT): no segment has the
    ///   key and [`create`](OpenOptions::create) was not given.
    /// * [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) (EEXIST): create and
    ///   [`exclusive`](OpenOptions::exclusive) on a key that has a segment.
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): the
    ///   existing segment's `shm_segsz` is smaller than `size`; or, creating, `size` is below
    ///   `SHMMIN` (so 0) or above `SHMMAX`.
    /// * [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (EACCES): the
    ///   existing segment's mode denies the access requested by the mode bits.
    /// * [`ErrorKind::NoSpace`](crate::ErrorKind::NoSpace) (ENOSPC): creating would pass
    ///   `SHMALL` pages (or the page rounding overflows), or `SHMMNI` segments exist.
    /// * [`ErrorKind::OutOfMemory`](crate::ErrorKind::OutOfMemory) (ENOMEM): the system
    ///   refused the mapping.
    pub fn open(self) -> Result<Segment, Error> {
        let process = self.process;
        if self.flags.create || self.key.is_private() {
            // It may create: the segment's creator must be told when this process exits.
            process.exit_hook(|| ShmCreator { token: process.token() });
        }
        let ops = ShmOps { size: self.params.size, pid: process.pid(), creator: process.token() };
        let inner = self.ipcget(&ops, Op::ShmGet);
        crate::trace::get!(Op::ShmGet, self.key.raw(), process.pid(), inner.as_ref().map(|s| s.id()));
        Ok(Segment { inner: inner?, process: process.clone() })
    }
}

// ===== exit_shm, shm_rmid_forced =====

/// `exit_shm`: the exit work of a process that may have created segments. Its segments
/// become orphans; with `shm_rmid_forced` set, those nobody is attached to are destroyed.
#[derive(Clone, Debug)]
struct ShmCreator {
    token: u64,
}

impl ExitHook for ShmCreator {
    fn exit(&self, _pid: i32, ns: &Namespace) {
        let forced = ns.shm_rmid_forced_flag();
        ns.destroy_where(IpcKind::SharedMemory, |obj| {
            obj.as_any()
                .downcast_ref::<Arc<SegInner>>()
                .is_some_and(|seg| seg.creator_exits(self.token, forced))
        });
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Namespace {
    /// `kernel.shm_rmid_forced`: whether segments are destroyed as soon as nobody is
    /// attached; see [`set_shm_rmid_forced`](Self::set_shm_rmid_forced). Default false.
    pub fn shm_rmid_forced(&self) -> bool {
        self.shm_rmid_forced_flag()
    }

    /// Writes `kernel.shm_rmid_forced` (0 or 1). While it is set, as in the kernel
    /// (`shm_may_destroy`):
    ///
    /// * the **last detach** of any segment destroys it, marked `SHM_DEST` or not;
    /// * a **process that exits** (its last [`Process`] clone, handle or guard drops)
    ///   destroys the segments it created that nobody is attached to; the others become
    ///   orphans (without the setting they all become orphans and live on);
    /// * **setting it** (from false to true) destroys the orphans nobody is attached to
    ///   at that moment (`shm_destroy_orphaned`).
    ///
    /// A destroyed segment's id is dead (`EINVAL`), as after `IPC_RMID`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let creator = ns.process(Credentials::new(1000, 1000));
    /// let id = creator.shm_segment(Key::PRIVATE).size(64).create(0o600).open()?.id();
    /// drop(creator); // exits: the segment is an orphan, and lives on
    /// assert_eq!(ns.shm_info().used_ids, 1);
    /// ns.set_shm_rmid_forced(true); // destroys the orphans nobody is attached to
    /// assert_eq!(ns.shm_info().used_ids, 0);
    /// let me = ns.process(Credentials::new(0, 0));
    /// assert_eq!(me.shm_segment_by_id(id).unwrap_err().errno(), 22);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn set_shm_rmid_forced(&self, on: bool) {
        let was = self.swap_shm_rmid_forced(on);
        if on && !was {
            self.destroy_where(IpcKind::SharedMemory, |obj| {
                obj.as_any().downcast_ref::<Arc<SegInner>>().is_some_and(|seg| seg.destroy_if_orphan())
            });
        }
    }
}

// ===== Namespace: SHM_INFO, IPC_INFO =====

/// `struct shm_info`, as `shmctl(SHM_INFO)` fills it, with the call's return value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct ShmInfo {
    /// `used_ids`: segments in the namespace (including those marked `SHM_DEST`).
    pub used_ids: usize,
    /// `shm_tot`: their pages, `Σ ceil(shm_segsz / PAGE_SIZE)`.
    pub shm_tot: u64,
    /// `shm_rss`: resident pages. svipc maps each segment's memory whole when it is
    /// created, so it counts every page of every segment: `shm_tot`. (The kernel counts
    /// the pages touched so far.)
    pub shm_rss: u64,
    /// `shm_swp`: swapped pages; always 0 here (the memory is anonymous, and svipc does
    /// not ask the OS what it swapped).
    pub shm_swp: u64,
    /// The return value: the highest index in use, 0 if none.
    pub max_idx: i32,
}

/// `struct shminfo`, as `shmctl(IPC_INFO)` fills it, with the call's return value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct ShmIpcInfo {
    /// `shmmax`: the largest segment, in bytes.
    pub shmmax: u64,
    /// `shmmin`: the smallest segment, in bytes.
    pub shmmin: u64,
    /// `shmmni`: the most segments.
    pub shmmni: usize,
    /// `shmseg`: the most attachments per process; the kernel reports `shmmni`.
    pub shmseg: usize,
    /// `shmall`: the most pages in all segments.
    pub shmall: u64,
    /// The return value: the highest index in use, 0 if none.
    pub max_idx: i32,
}

impl Process {
    /// `shmctl(index, SHM_STAT, &buf)`: the segment in slot `index` of the table (what
    /// `ipcs -m` walks), its full `shmid` and its [`ShmidDs`]; read permission is checked.
    ///
    /// # Errors
    ///
    /// In this order: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// (EINVAL) for a negative index or an empty slot;
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (EACCES) without
    /// read permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let seg = me.shm_segment(Key::PRIVATE).size(100).create(0o600).open()?;
    /// let (id, ds) = me.shm_stat(0)?;
    /// assert_eq!((id, ds.shm_segsz, ds.shm_nattch), (seg.id(), 100, 0));
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn shm_stat(&self, index: i32) -> Result<(i32, ShmidDs), Error> {
        self.stat_index(IpcKind::SharedMemory, index, false, Op::ShmCtl)
    }

    /// `shmctl(index, SHM_STAT_ANY, &buf)`: [`shm_stat`](Self::shm_stat) without the read
    /// permission check.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL) for a
    /// negative index or an empty slot.
    pub fn shm_stat_any(&self, index: i32) -> Result<(i32, ShmidDs), Error> {
        self.stat_index(IpcKind::SharedMemory, index, true, Op::ShmCtl)
    }
}

impl Namespace {
    /// `shmctl(0, SHM_INFO, &buf)`: segments in use, their pages, the highest index.
    ///
    /// `shm_rss` counts every page (the memory is mapped whole at creation), `shm_swp` is
    /// 0, as are the C struct's two swap counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(10).create(0o600).open()?;
    /// let info = ns.shm_info();
    /// assert_eq!((info.used_ids, info.shm_tot, info.max_idx), (1, 1, 0)); // 10 bytes: 1 page
    /// seg.remove()?; // not attached: destroyed at once
    /// assert_eq!(ns.shm_info().shm_tot, 0);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn shm_info(&self) -> ShmInfo {
        let (used_ids, shm_tot, max_idx) = self.table_info(IpcKind::SharedMemory);
        ShmInfo { used_ids, shm_tot, shm_rss: shm_tot, shm_swp: 0, max_idx }
    }

    /// `shmctl(0, IPC_INFO, &buf)`: the limits, and the highest index in use.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::Namespace;
    ///
    /// let info = Namespace::new().shm_ipc_info();
    /// assert_eq!((info.shmmin, info.shmmni, info.shmseg, info.max_idx), (1, 4096, 4096, 0));
    /// ```
    pub fn shm_ipc_info(&self) -> ShmIpcInfo {
        let l = self.limits();
        let (_, _, max_idx) = self.table_info(IpcKind::SharedMemory);
        ShmIpcInfo {
            shmmax: l.shmmax,
            shmmin: l.shmmin,
            shmmni: l.shmmni,
            shmseg: l.shmmni,
            shmall: l.shmall,
            max_idx,
        }
    }
}
