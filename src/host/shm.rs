//! A shared memory segment of the host kernel: [`Seg`], `shmget`/`shmat`/`shmctl`, and the
//! attachments [`Attached`] (read-only) and [`AttachedMut`] (read-write), detached on drop.
//!
//! # Memory model: a Rust reader and a C writer
//!
//! Another process may write any byte of the segment at any moment, so no `&[u8]` into it
//! is ever handed out: it would promise Rust that the bytes do not change. Instead:
//!
//! * [`read_at`](Attached::read_at) / [`write_at`](AttachedMut::write_at) copy bytes out and
//!   in with **relaxed atomic** accesses (8-byte words where aligned, single bytes at the
//!   edges). A copy that races with a writer is not undefined behaviour; it may see some
//!   bytes old and some new (a torn value), as C's `memcpy` would.
//! * [`atomic_u32`](AttachedMut::atomic_u32) / [`atomic_u64`](AttachedMut::atomic_u64)
//!   give a `&AtomicU32` / `&AtomicU64` at an aligned offset, for counters and flags
//!   ([`load_u32`](Attached::load_u32) on a read-only attachment). Rust's atomics and C11's
//!   `_Atomic`/`<stdatomic.h>` (or GCC's `__atomic` builtins) on the same aligned word are
//!   the same machine instructions and the same memory model, so they synchronize.
//! * **Publication** is the usual release/acquire pair: the C writer fills the data with
//!   plain stores, then `atomic_store_explicit(&flag, 1, memory_order_release)`; the Rust
//!   reader waits for `flag.load(Ordering::Acquire) == 1`, then `read_at` sees every byte
//!   written before the release store. The other way round: `write_at`, then
//!   `flag.store(1, Ordering::Release)`, and C's `memory_order_acquire` load.
//!
//! Plain (non-atomic) C stores to bytes that Rust reads concurrently are a data race in C's
//! model; in practice they are single stores and the relaxed loads on the Rust side see
//! either value. Use the flag to order them.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::sys::{self, Mapping};
use super::{os_error, perm_of};
use crate::error::{Error, ErrorKind, Op};
use crate::shm::ShmidDs;

/// A shared memory segment of the host kernel: a `shmid`.
///
/// Opened by [`Host::shm_segment`](super::Host::shm_segment). The handle is the id:
/// cloning copies it, dropping it removes nothing; attachments detach on their own drop.
#[derive(Clone, Debug)]
pub struct Seg {
    id: i32,
    size: usize,
}

fn ctl_err(e: i32) -> Error {
    os_error(Op::ShmCtl, e)
}

impl Seg {
    pub(crate) fn from_id(id: i32) -> Result<Seg, Error> {
        let ds = sys::shmctl_stat(id).map_err(ctl_err)?;
        Ok(Seg { id, size: ds.shm_segsz })
    }

    /// The segment's id (`shmid`).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// `shm_segsz`: its size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// `shmat(shmid, NULL, 0)`: a read-write attachment.
    ///
    /// # Errors
    ///
    /// `EACCES` without read and write permission; `EINVAL` for a dead id; `ENOMEM`.
    pub fn attach(&self) -> Result<AttachedMut, Error> {
        let map = Mapping::attach(self.id, self.size, false).map_err(|e| os_error(Op::ShmAt, e))?;
        Ok(AttachedMut(Attached { map, id: self.id }))
    }

    /// `shmat(shmid, NULL, SHM_RDONLY)`: a read-only attachment.
    ///
    /// # Errors
    ///
    /// `EACCES` without read permission; `EINVAL` for a dead id; `ENOMEM`.
    pub fn attach_read_only(&self) -> Result<Attached, Error> {
        let map = Mapping::attach(self.id, self.size, true).map_err(|e| os_error(Op::ShmAt, e))?;
        Ok(Attached { map, id: self.id })
    }

    /// `shmctl(shmid, IPC_STAT)`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a dead id; `EACCES` without read permission.
    #[allow(clippy::unnecessary_cast)] // time_t and the counters are 32 bits on some targets
    pub fn stat(&self) -> Result<ShmidDs, Error> {
        let ds = sys::shmctl_stat(self.id).map_err(ctl_err)?;
        Ok(ShmidDs {
            shm_perm: perm_of(&ds.shm_perm),
            shm_segsz: ds.shm_segsz,
            shm_atime: ds.shm_atime as i64,
            shm_dtime: ds.shm_dtime as i64,
            shm_ctime: ds.shm_ctime as i64,
            shm_cpid: ds.shm_cpid,
            shm_lpid: ds.shm_lpid,
            shm_nattch: ds.shm_nattch as u64,
        })
    }

    /// `shmctl(shmid, IPC_SET)`: owner and mode.
    ///
    /// # Errors
    ///
    /// `EPERM` for a caller who is neither owner, creator nor privileged; `EINVAL` for a
    /// dead id.
    pub fn set(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        sys::shmctl_set(self.id, uid, gid, mode).map_err(ctl_err)
    }

    /// `shmctl(shmid, IPC_RMID)`: marks the segment for destruction at its last detach
    /// (`SHM_DEST`).
    ///
    /// # Errors
    ///
    /// `EPERM` for a caller who is neither owner, creator nor privileged; `EINVAL` for a
    /// dead id.
    pub fn remove(&self) -> Result<(), Error> {
        sys::shmctl_cmd(self.id, libc::IPC_RMID).map_err(ctl_err)
    }

    /// `shmctl(shmid, SHM_LOCK)`.
    ///
    /// # Errors
    ///
    /// `EPERM` without `CAP_IPC_LOCK` (and not the owner within `RLIMIT_MEMLOCK`); `ENOMEM`.
    pub fn lock(&self) -> Result<(), Error> {
        sys::shmctl_cmd(self.id, libc::SHM_LOCK).map_err(ctl_err)
    }

    /// `shmctl(shmid, SHM_UNLOCK)`.
    ///
    /// # Errors
    ///
    /// As [`lock`](Self::lock).
    pub fn unlock(&self) -> Result<(), Error> {
        sys::shmctl_cmd(self.id, libc::SHM_UNLOCK).map_err(ctl_err)
    }
}

/// A read-only attachment (`shmat` with `SHM_RDONLY`); `shmdt` on drop. Reads copy out
/// through atomic loads (see the [module docs](self)).
pub struct Attached {
    map: Mapping,
    id: i32,
}

impl fmt::Debug for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attached")
            .field("id", &self.id)
            .field("len", &self.map.len())
            .field("writable", &self.map.is_writable())
            .finish()
    }
}

fn range_error(_: i32) -> Error {
    Error::new(Op::ShmAt, ErrorKind::InvalidArgument)
}

impl Attached {
    /// Bytes of the segment (`shm_segsz`).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the segment has no bytes (never, for a segment the kernel made).
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// Whether the attachment is read-only (`SHM_RDONLY`).
    pub fn is_read_only(&self) -> bool {
        !self.map.is_writable()
    }

    /// Copies `buf.len()` bytes at `offset` out of the segment (relaxed atomic loads).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`) if `offset + buf.len()` is beyond
    /// [`len`](Self::len), as in-process.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.map.read(offset, buf).map_err(range_error)
    }

    /// `len` bytes at `offset`, copied out.
    ///
    /// # Errors
    ///
    /// As [`read_at`](Self::read_at).
    pub fn to_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>, Error> {
        let mut v = vec![0; len];
        self.read_at(offset, &mut v)?;
        Ok(v)
    }

    /// An atomic load of the `u32` at `offset` (4-aligned).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `offset` is misaligned or out of range.
    pub fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, Error> {
        self.map.load_u32(offset, order).map_err(range_error)
    }

    /// An atomic load of the `u64` at `offset` (8-aligned).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `offset` is misaligned or out of range.
    pub fn load_u64(&self, offset: usize, order: Ordering) -> Result<u64, Error> {
        self.map.load_u64(offset, order).map_err(range_error)
    }
}

/// A read-write attachment (`shmat` without `SHM_RDONLY`); `shmdt` on drop. Everything an
/// [`Attached`] does (it derefs to one), plus copies in and atomic views.
pub struct AttachedMut(Attached);

impl fmt::Debug for AttachedMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::ops::Deref for AttachedMut {
    type Target = Attached;

    fn deref(&self) -> &Attached {
        &self.0
    }
}

impl AttachedMut {
    /// Copies `data` into the segment at `offset` (relaxed atomic stores).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`) if `offset + data.len()` is beyond
    /// [`len`](Attached::len), as in-process.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.0.map.write(offset, data).map_err(range_error)
    }

    /// The `u32` at `offset` (4-aligned) as an atomic, shared with C's atomics on the same
    /// word. Safe here, where the in-process `atomic` is `unsafe`: the host attachment
    /// hands out no non-atomic view of the bytes, so within this process every access to
    /// them is atomic (the C side's part is the contract in the [module docs](self)).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `offset` is misaligned or out of range.
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32, Error> {
        self.0.map.atomic_u32(offset).map_err(range_error)
    }

    /// The `u64` at `offset` (8-aligned) as an atomic; see [`atomic_u32`](Self::atomic_u32).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `offset` is misaligned or out of range.
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, Error> {
        self.0.map.atomic_u64(offset).map_err(range_error)
    }
}
