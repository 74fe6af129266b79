//! The segment engine: `shmget`'s checks and creation (`newseg`, `shm_more_checks`), the
//! attachment count and the `SHM_DEST` life cycle (`do_shmat`, `shm_close`, `do_shm_rmid`,
//! `shm_destroy`), and `shmctl`'s `IPC_STAT`, `IPC_SET`, `SHM_LOCK` and `SHM_UNLOCK`.
//!
//! # Implementation
//!
//! One [`SegInner`] per segment, shared by the namespace's table and every handle. Its
//! bookkeeping (`shm_nattch`, the times, `shm_lpid`, the `SHM_DEST` decision and the memory
//! itself) sits in one `sync::Mutex` ([`SegState`]), the kernel's `shm_lock`. The lock
//! order is the namespace's: table lock → segment lock.
//!
//! * `IPC_RMID` runs [`IpcObject::remove`] with the table lock held and takes the segment
//!   lock: with attachments it sets `SHM_DEST` and answers [`Removal::Deferred`] (the
//!   namespace makes the key private); without, it marks the header deleted and lets the
//!   memory go ([`Removal::Now`]).
//! * A detach takes the segment lock, counts down, and if that was the last attachment of
//!   an `SHM_DEST` segment marks the header deleted *before* letting the lock go; only then
//!   does it ask the namespace to drop the id ([`Namespace::destroy`]). An attach takes the
//!   same lock and refuses a deleted header, so no attach can slip in between the decision
//!   and the table removal: the segment is destroyed exactly once and never while attached.
//! * A second `IPC_RMID` that lands in that window finds the header deleted and answers
//!   `Deferred` (nothing left to do), as if it had run just before the last detach.
//!
//! [`Namespace::destroy`]: crate::Namespace

use std::any::Any;

use super::attach::{page_size, Memory};
use super::ShmidDs;
use crate::error::{Detail, ErrorKind, Fault};
use crate::ipc::perm::{valid_id, READ};
use crate::ipc::{now, Capabilities, Credentials, Figures, Header, IpcKind, IpcObject, Limits, Ops, Removal};
use crate::sync::{Arc, Mutex};

/// `SHM_DEST` in `shm_perm.mode`: removed while attached, destroyed at the last detach.
pub(crate) const SHM_DEST: u32 = 0o1000;
/// `SHM_LOCKED` in `shm_perm.mode`: locked in memory by `SHM_LOCK`.
pub(crate) const SHM_LOCKED: u32 = 0o2000;

// ===== SegInner =====

/// A segment: the kernel's `struct shmid_kernel`.
#[derive(Debug)]
pub(crate) struct SegInner {
    header: Header,
    /// `shm_segsz`: the size asked for, not rounded.
    segsz: usize,
    /// `shm_cprid`: the creator's pid.
    cpid: i32,
    state: Mutex<SegState>,
    /// The host segment, in the placeholder of a handle whose home is the host kernel
    /// ([`placeholder`](Self::placeholder)); `None` for every segment of a namespace.
    #[cfg(all(target_os = "linux", not(loom)))]
    host: Option<crate::host::shm::Seg>,
}

/// What the segment lock guards.
#[derive(Debug)]
struct SegState {
    /// `shm_nattch`.
    nattch: u64,
    /// `shm_atim`.
    atime: i64,
    /// `shm_dtim`.
    dtime: i64,
    /// `shm_lprid`.
    lpid: i32,
    /// `IPC_RMID` came while attached; mirrored as [`SHM_DEST`] in the mode.
    dest: bool,
    /// `shm_creator`: the identity of the process that created it while that process
    /// lives ([`Process::token`](crate::Process)); 0 once it exited (an orphan).
    creator: u64,
    /// The memory; `None` once the segment is destroyed (`shm_destroy` frees it even while
    /// handles that are not attached live on). Some iff the header is not deleted.
    mem: Option<Arc<Memory>>,
}

impl SegState {
    /// A new segment's state: never attached, created by `creator` (0: none), with `mem`
    /// (`None`: already destroyed).
    fn new(creator: u64, mem: Option<Arc<Memory>>) -> SegState {
        SegState { nattch: 0, atime: 0, dtime: 0, lpid: 0, dest: false, creator, mem }
    }
}

impl SegInner {
    /// The engine side of a host segment's handle, carrying `host`: its id and size, in
    /// no namespace, already destroyed (no memory), so an engine call that reached it would
    /// answer `EINVAL`.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(crate) fn placeholder(host: crate::host::shm::Seg, creds: &Credentials) -> Arc<SegInner> {
        let perm = crate::ipc::perm::PermCell::new(crate::Key::PRIVATE, creds, 0, 0);
        let header = Header::new(host.id(), perm);
        header.mark_deleted();
        Arc::new(SegInner {
            header,
            segsz: host.size(),
            cpid: 0,
            state: Mutex::new(SegState::new(0, None)),
            host: Some(host),
        })
    }

    /// The host segment of a host handle's placeholder.
    #[cfg(all(target_os = "linux", not(loom)))]
    #[inline]
    pub(crate) fn host(&self) -> Option<&crate::host::shm::Seg> {
        self.host.as_ref()
    }

    /// The id.
    pub(crate) fn id(&self) -> i32 {
        self.header.id()
    }

    /// `shm_segsz`.
    pub(crate) fn segsz(&self) -> usize {
        self.segsz
    }

    /// Whether the segment is destroyed (its id dead).
    pub(crate) fn is_destroyed(&self) -> bool {
        self.header.is_deleted()
    }

    /// The header's liveness check: `EINVAL` once destroyed.
    pub(crate) fn check_live(&self) -> Result<(), ErrorKind> {
        self.header.check_live()
    }

    /// `do_shmat`: `EINVAL` for a destroyed segment, `EACCES` without read (and, for a
    /// read-write attach, write) permission; then `nattch++`, `atime = now`,
    /// `lpid = caller`. A segment marked `SHM_DEST` can still be attached (Linux).
    /// `access` is the permission asked: `READ`, `READ | WRITE`, and `EXEC` besides for
    /// `SHM_EXEC`.
    pub(crate) fn attach(&self, creds: &Credentials, access: u32) -> Result<Arc<Memory>, ErrorKind> {
        self.header.check_live()?;
        self.header.perm().check(creds, access)?;
        let mut st = self.state.lock();
        // Re-checked under the lock: the last detach decides destruction under it.
        let Some(mem) = st.mem.clone() else {
            return Err(ErrorKind::InvalidArgument);
        };
        st.nattch += 1;
        st.atime = now();
        st.lpid = creds.pid();
        Ok(mem)
    }

    /// `shm_close`: `nattch--`, `dtime = now`, `lpid = caller`. True when this was the last
    /// attachment and the segment may be destroyed (`shm_may_destroy`): it is marked
    /// `SHM_DEST`, or `shm_rmid_forced` is set (`forced`). The header is then already marked
    /// deleted and the caller must take the id out of the table.
    pub(crate) fn detach(&self, pid: i32, forced: bool) -> bool {
        let mut st = self.state.lock();
        st.nattch = st.nattch.saturating_sub(1);
        st.dtime = now();
        st.lpid = pid;
        if st.nattch == 0 && (st.dest || forced) {
            self.destroy(st);
            true
        } else {
            false
        }
    }

    /// `shm_destroy`: the id dies (the header is marked deleted) and the memory goes.
    fn destroy(&self, mut st: crate::sync::MutexGuard<'_, SegState>) {
        self.header.mark_deleted();
        let mem = st.mem.take();
        drop(st);
        drop(mem);
    }

    /// `exit_shm` for one segment: if the exiting process `creator` made it, it is an
    /// orphan from now on, and is destroyed if nobody is attached and `forced`
    /// (`shm_rmid_forced`). True when destroyed: the caller takes it out of the table.
    pub(crate) fn creator_exits(&self, creator: u64, forced: bool) -> bool {
        let mut st = self.state.lock();
        if st.creator != creator || st.mem.is_none() {
            return false;
        }
        st.creator = 0;
        if forced && st.nattch == 0 {
            self.destroy(st);
            return true;
        }
        false
    }

    /// `shm_try_destroy_orphaned`: destroys the segment if its creator has exited and
    /// nobody is attached. True when destroyed.
    pub(crate) fn destroy_if_orphan(&self) -> bool {
        let st = self.state.lock();
        if st.creator != 0 || st.nattch != 0 || st.mem.is_none() {
            return false;
        }
        self.destroy(st);
        true
    }

    /// `IPC_STAT`: `EINVAL` once destroyed, `EACCES` without read permission.
    pub(crate) fn stat(&self, creds: &Credentials) -> Result<ShmidDs, ErrorKind> {
        self.header.check_live()?;
        self.header.perm().check(creds, READ)?;
        self.ds()
    }

    /// The `shmid_ds` without a permission check; `EINVAL` once destroyed.
    fn ds(&self) -> Result<ShmidDs, ErrorKind> {
        let st = self.state.lock();
        if st.mem.is_none() {
            return Err(ErrorKind::InvalidArgument);
        }
        Ok(ShmidDs {
            shm_perm: self.header.perm().load(),
            shm_segsz: self.segsz,
            shm_atime: st.atime,
            shm_dtime: st.dtime,
            shm_ctime: self.header.ctime(),
            shm_cpid: self.cpid,
            shm_lpid: st.lpid,
            shm_nattch: st.nattch,
        })
    }

    /// `IPC_SET`: `EINVAL` once destroyed, `EPERM` unless owner, creator or
    /// `CAP_SYS_ADMIN`, `EINVAL` for an unmappable uid or gid; then uid, gid, the low 9 mode
    /// bits and ctime (`SHM_DEST` and `SHM_LOCKED` survive).
    pub(crate) fn set(&self, creds: &Credentials, uid: u32, gid: u32, mode: u32) -> Result<(), ErrorKind> {
        self.header.check_live()?;
        self.header.perm().check_owner(creds)?;
        if !valid_id(uid) || !valid_id(gid) {
            return Err(ErrorKind::InvalidArgument);
        }
        self.header.perm().set(uid, gid, mode);
        self.header.touch_ctime();
        Ok(())
    }

    /// `SHM_LOCK` (`lock == true`) or `SHM_UNLOCK`: `EINVAL` once destroyed; without
    /// `CAP_IPC_LOCK`, `EPERM` unless the caller's euid is the owner's or the creator's;
    /// `ENOMEM` when the system refuses the `mlock`. Sets or clears `SHM_LOCKED`; no read
    /// permission is asked and ctime does not change.
    pub(crate) fn lock(&self, creds: &Credentials, lock: bool) -> Result<(), ErrorKind> {
        self.header.check_live()?;
        if !creds.has(Capabilities::IPC_LOCK) {
            let p = self.header.perm().load();
            if creds.uid() != p.uid && creds.uid() != p.cuid {
                return Err(ErrorKind::NotPermitted);
            }
        }
        let st = self.state.lock();
        let Some(mem) = st.mem.as_ref() else {
            return Err(ErrorKind::InvalidArgument);
        };
        let locked = self.header.perm().load().mode & SHM_LOCKED != 0;
        if lock && !locked {
            mem.mlock()?;
            self.header.perm().update(|p| p.mode |= SHM_LOCKED);
        } else if !lock && locked {
            mem.munlock();
            self.header.perm().update(|p| p.mode &= !SHM_LOCKED);
        }
        Ok(())
    }

    fn nattch(&self) -> u64 {
        self.state.lock().nattch
    }
}

impl IpcObject for Arc<SegInner> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn figures(&self) -> Figures {
        let mode = self.header.perm().load().mode;
        Figures::SharedMemory {
            bytes: self.segsz as u64,
            nattch: self.nattch(),
            dest: mode & SHM_DEST != 0,
            locked: mode & SHM_LOCKED != 0,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stat_ds(&self) -> Result<Box<dyn Any + Send>, ErrorKind> {
        Ok(Box::new(self.ds()?))
    }

    /// `do_shm_rmid`.
    fn remove(&self) -> Removal {
        let mut st = self.state.lock();
        if st.nattch > 0 || self.header.is_deleted() {
            // Attached: mark it; the namespace makes the key private. (Deleted but still
            // in the table: the last detach is about to take it out.)
            st.dest = true;
            self.header.perm().update(|p| p.mode |= SHM_DEST);
            Removal::Deferred
        } else {
            self.header.mark_deleted();
            let mem = st.mem.take();
            drop(st);
            drop(mem);
            Removal::Now
        }
    }
}

// ===== ShmOps =====

/// `shmget`'s parameters, as the namespace's hooks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShmOps {
    /// The size asked for.
    pub(crate) size: usize,
    /// The caller's pid (`shm_cpid` of a new segment).
    pub(crate) pid: i32,
    /// The caller's identity (`shm_creator` of a new segment).
    pub(crate) creator: u64,
}

/// `size` in whole pages of `page` bytes, rounded up; `None` if the rounding overflows
/// (`newseg`'s `numpages << PAGE_SHIFT < size`).
pub(crate) fn pages(size: u64, page: u64) -> Option<u64> {
    size.checked_add(page - 1).map(|s| s / page)
}

impl Ops for ShmOps {
    type Handle = Arc<SegInner>;
    const KIND: IpcKind = IpcKind::SharedMemory;

    /// `shm_more_checks`: `EINVAL` if the existing segment is smaller than asked, compared
    /// with its unrounded `shm_segsz` (a size of 0 always passes).
    fn more_checks(&self, existing: &dyn IpcObject) -> Result<(), Fault> {
        match existing.as_any().downcast_ref::<Arc<SegInner>>() {
            Some(seg) if self.size > seg.segsz => {
                Err(Fault::new(ErrorKind::InvalidArgument, Detail::SizeAboveExisting))
            }
            _ => Ok(()),
        }
    }

    /// `newseg`'s checks, in its order: `EINVAL` below `SHMMIN` or above `SHMMAX`; `ENOSPC`
    /// when rounding up to pages overflows or the pages would pass `SHMALL`.
    fn units(&self, limits: &Limits, units_in_use: u64) -> Result<u64, Fault> {
        let size = self.size as u64;
        if size < limits.shmmin {
            let detail = if size == 0 { Detail::SizeZero } else { Detail::SizeBelowShmmin };
            return Err(Fault::new(ErrorKind::InvalidArgument, detail));
        }
        if size > limits.shmmax {
            return Err(Fault::new(ErrorKind::InvalidArgument, Detail::SizeAboveShmmax));
        }
        let pages = pages(size, page_size() as u64).ok_or(ErrorKind::NoSpace)?;
        match units_in_use.checked_add(pages) {
            Some(total) if total <= limits.shmall => Ok(pages),
            _ => Err(ErrorKind::NoSpace.into()),
        }
    }

    /// The zero-filled memory (one anonymous mapping, page-rounded) and the segment's
    /// initial fields: `cpid` the caller, `lpid`, `nattch`, `atime`, `dtime` 0, `ctime`
    /// now (the header's). A mapping the system refuses is `ENOMEM`.
    ///
    /// The namespace checks `SHMMNI` before calling this, so when both `SHMMNI` and the
    /// mapping would fail the caller sees `ENOSPC`; the kernel sets up the memory first and
    /// would report `ENOMEM`. Only that double failure tells the two orders apart.
    fn create(&self, header: Header) -> Result<(Box<dyn IpcObject>, Arc<SegInner>), ErrorKind> {
        let page = page_size();
        let mapped = pages(self.size as u64, page as u64)
            .and_then(|p| p.checked_mul(page as u64))
            .and_then(|m| usize::try_from(m).ok())
            .ok_or(ErrorKind::OutOfMemory)?;
        let mem = Memory::new(self.size, mapped)?;
        let seg = Arc::new(SegInner {
            header,
            segsz: self.size,
            cpid: self.pid,
            state: Mutex::new(SegState::new(self.creator, Some(Arc::new(mem)))),
            #[cfg(all(target_os = "linux", not(loom)))]
            host: None,
        });
        Ok((Box::new(seg.clone()), seg))
    }

    fn associate(&self, existing: &dyn IpcObject) -> Result<Arc<SegInner>, ErrorKind> {
        existing.as_any().downcast_ref::<Arc<SegInner>>().cloned().ok_or(ErrorKind::TypeMismatch)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ipc::perm::WRITE;
    use crate::Namespace;

    #[test]
    fn shm_pages_round_up_and_overflow() {
        assert_eq!(pages(1, 4096), Some(1));
        assert_eq!(pages(4096, 4096), Some(1));
        assert_eq!(pages(4097, 4096), Some(2));
        assert_eq!(pages(u64::MAX, 4096), None);
        assert_eq!(pages(u64::MAX - 4095, 4096), Some(u64::MAX / 4096));
    }

    #[test]
    fn shm_engine_life_cycle() {
        let ns = Namespace::new();
        let creds = Credentials::new(1000, 1000).with_pid(7);
        let ops = ShmOps { size: 10, pid: 7, creator: 1 };
        let key = crate::Key::PRIVATE;
        let flags = crate::ipc::OpenFlags { create: true, exclusive: false, mode: 0o600 };
        let seg = ns.ipcget(&creds, key, flags, &ops).unwrap();
        let mem = seg.attach(&creds, READ | WRITE).unwrap();
        assert_eq!(seg.nattch(), 1);
        assert_eq!(ns.remove(&creds, IpcKind::SharedMemory, seg.id()), Ok(()));
        assert!(!seg.is_destroyed());
        assert_eq!(seg.stat(&creds).unwrap().shm_perm.mode, 0o600 | SHM_DEST);
        assert!(seg.detach(7, false));
        assert!(seg.is_destroyed());
        // the id is still in the table until the caller takes it out, as `Segment` does
        assert_eq!(ns.table_info(IpcKind::SharedMemory).0, 1);
        ns.destroy(IpcKind::SharedMemory, seg.id());
        assert_eq!(ns.table_info(IpcKind::SharedMemory), (0, 0, 0));
        drop(mem);
        assert_eq!(seg.attach(&creds, READ).unwrap_err(), ErrorKind::InvalidArgument);
        assert_eq!(seg.stat(&creds).unwrap_err(), ErrorKind::InvalidArgument);
    }
}
