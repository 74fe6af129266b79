//! The host backend of [`Segment`](crate::Segment): a `shmid` of the host kernel, and
//! `shmget`/`shmat`/`shmctl` on it. A host `Segment` carries one [`Seg`]; its attachments
//! are the crate's own [`Attached`](crate::shm::Attached) over a [`Mapping`] (the memory
//! model is in the [`shm`](crate::shm#on-the-host) module docs).

pub(crate) use super::sys::Mapping;
use super::{os_error, perm_of, sys};
use crate::error::{Error, ErrorKind, Op};
use crate::shm::ShmidDs;

/// A shared memory segment of the host kernel: its id and `shm_segsz`.
#[derive(Debug)]
pub(crate) struct Seg {
    id: i32,
    size: usize,
}

/// The error of `op` on a host segment: the kernel's errno, marked
/// [`is_removed`](Error::is_removed) for `EINVAL` (after the crate's own argument checks,
/// a dead id), as in-process.
pub(crate) fn seg_error(op: Op, errno: i32) -> Error {
    Error::of_handle(op, ErrorKind::from_errno(errno).unwrap_or(ErrorKind::InvalidArgument), true)
}

impl Seg {
    /// The segment `id`, checked (and its size read) with `IPC_STAT`.
    pub(crate) fn from_id(id: i32) -> Result<Seg, Error> {
        let ds = sys::shmctl_stat(id).map_err(|e| os_error(Op::ShmCtl, e))?;
        Ok(Seg { id, size: ds.shm_segsz })
    }

    /// The id (`shmid`).
    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    /// `shm_segsz`.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// `shmat(shmid, NULL, read_only ? SHM_RDONLY : 0)`: `EACCES` without the permission,
    /// `EINVAL` for a dead id, `ENOMEM`.
    pub(crate) fn attach(&self, read_only: bool) -> Result<Mapping, Error> {
        Mapping::attach(self.id, self.size, read_only).map_err(|e| seg_error(Op::ShmAt, e))
    }

    /// `shmctl(shmid, IPC_STAT)`.
    #[allow(clippy::unnecessary_cast)] // time_t and the counters are 32 bits on some targets
    pub(crate) fn stat(&self) -> Result<ShmidDs, Error> {
        let ds = sys::shmctl_stat(self.id).map_err(|e| seg_error(Op::ShmCtl, e))?;
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
    pub(crate) fn set(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        sys::shmctl_set(self.id, uid, gid, mode).map_err(|e| seg_error(Op::ShmCtl, e))
    }

    /// `shmctl(shmid, IPC_RMID)`: `SHM_DEST` while attached, destroyed at the last detach.
    pub(crate) fn remove(&self) -> Result<(), Error> {
        sys::shmctl_cmd(self.id, libc::IPC_RMID).map_err(|e| seg_error(Op::ShmCtl, e))
    }

    /// `shmctl(shmid, SHM_LOCK)` (`lock`) or `SHM_UNLOCK`.
    pub(crate) fn lock(&self, lock: bool) -> Result<(), Error> {
        let cmd = if lock { libc::SHM_LOCK } else { libc::SHM_UNLOCK };
        sys::shmctl_cmd(self.id, cmd).map_err(|e| seg_error(Op::ShmCtl, e))
    }
}
