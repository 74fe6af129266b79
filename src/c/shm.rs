//! `shmget`, `shmat`, `shmdt`, `shmctl` with C arguments (`ipc/shm.c`'s `ksys_shm*`,
//! `do_shmat`).

use super::{
    as_op, fail, int, open_flags, shm_info, shmid_ds, shminfo, ShmctlBuf, IPC_INFO, IPC_RMID, IPC_SET,
    IPC_STAT, SHM_EXEC, SHM_INFO, SHM_LOCK, SHM_RDONLY, SHM_REMAP, SHM_RND, SHM_STAT, SHM_STAT_ANY,
    SHM_UNLOCK,
};
use crate::error::{Error, ErrorKind, Op};
use crate::ipc::perm::{EXEC, READ, WRITE};
use crate::ipc::{IpcKind, Key};
use crate::process::Process;
use crate::shm::{page_size, Attached, AttachedMut, ShmInfo, ShmIpcInfo, ShmidDs};

impl From<ShmidDs> for shmid_ds {
    fn from(ds: ShmidDs) -> shmid_ds {
        shmid_ds {
            shm_perm: ds.shm_perm.into(),
            shm_segsz: ds.shm_segsz,
            shm_atime: ds.shm_atime,
            shm_dtime: ds.shm_dtime,
            shm_ctime: ds.shm_ctime,
            shm_cpid: ds.shm_cpid,
            shm_lpid: ds.shm_lpid,
            shm_nattch: ds.shm_nattch,
        }
    }
}

impl From<ShmIpcInfo> for shminfo {
    fn from(i: ShmIpcInfo) -> shminfo {
        shminfo {
            shmmax: i.shmmax,
            shmmin: i.shmmin,
            shmmni: i.shmmni as u64,
            shmseg: i.shmseg as u64,
            shmall: i.shmall,
        }
    }
}

impl From<ShmInfo> for shm_info {
    fn from(i: ShmInfo) -> shm_info {
        shm_info {
            used_ids: int(i.used_ids as u64),
            shm_tot: i.shm_tot,
            shm_rss: i.shm_rss,
            shm_swp: i.shm_swp,
            swap_attempts: 0,
            swap_successes: 0,
        }
    }
}

/// What `shmat` gives: the typed layer's attach guard, read-only with `SHM_RDONLY`. It
/// stands for the C call's address: the memory is reached through the guard's views, and
/// dropping it (or passing it to [`Process::shmdt`]) is `shmdt`.
#[derive(Debug)]
#[must_use = "dropping the guard detaches the segment at once"]
pub enum ShmAttach {
    /// `shmat(.., SHM_RDONLY)`.
    ReadOnly(Attached),
    /// `shmat(.., 0)`.
    ReadWrite(AttachedMut),
}

impl ShmAttach {
    /// The read view every attach has.
    pub fn attached(&self) -> &Attached {
        match self {
            ShmAttach::ReadOnly(a) => a,
            ShmAttach::ReadWrite(a) => a,
        }
    }

    /// The writable guard, unless attached with `SHM_RDONLY`.
    pub fn writable(&self) -> Option<&AttachedMut> {
        match self {
            ShmAttach::ReadOnly(_) => None,
            ShmAttach::ReadWrite(a) => Some(a),
        }
    }
}

impl Process {
    /// `shmget(key, size, shmflg)`: the id of the segment of `key`, created with `size`
    /// bytes if `shmflg` has `IPC_CREAT` (see [`Process::msgget`] for the flags).
    /// `SHM_HUGETLB` and `SHM_NORESERVE` are accepted and change nothing here.
    ///
    /// # Errors
    ///
    /// In the kernel's order: `ENOENT`, `EEXIST`; `EINVAL` when the existing segment is
    /// smaller than `size`; `EACCES`; on creation `EINVAL` for `size` outside
    /// `[SHMMIN, SHMMAX]` (a `(size_t)-1` included), `ENOSPC` (`SHMALL`, `SHMMNI`).
    pub fn shmget(&self, key: i32, size: usize, shmflg: i32) -> Result<i32, Error> {
        crate::trace::c_get!(Op::ShmGet, key, self.pid(), || self.shmget_call(key, size, shmflg))
    }

    fn shmget_call(&self, key: i32, size: usize, shmflg: i32) -> Result<i32, Error> {
        let seg = self.shm_segment(Key::new(key)).size(size).flags(open_flags(key, shmflg)).open()?;
        Ok(seg.id())
    }

    /// `shmat(shmid, shmaddr, shmflg)`: attaches the segment, read-only with `SHM_RDONLY`,
    /// and returns the guard ([`ShmAttach`]) that stands for the address.
    ///
    /// `shmaddr` must be 0: svipc chooses where the memory is. A non-zero address first gets
    /// the kernel's checks (misaligned without `SHM_RND`: `EINVAL`; rounded down to 0 with
    /// `SHM_REMAP`: `EINVAL`) and is then refused with `EINVAL`, as no placement can be
    /// honoured. `SHM_EXEC` asks for execute permission besides (the memory is never
    /// executable in-process).
    ///
    /// # Errors
    ///
    /// In the kernel's order: `EINVAL` for `shmid < 0`; the address checks above;
    /// `EINVAL` for `SHM_REMAP` without an address; then `EINVAL` (stale id), `EACCES`
    /// (read, and write unless `SHM_RDONLY`, and execute with `SHM_EXEC`).
    pub fn shmat(&self, shmid: i32, shmaddr: usize, shmflg: i32) -> Result<ShmAttach, Error> {
        crate::trace::c_call!(Op::ShmAt, shmid, self.pid(), || self.shmat_call(shmid, shmaddr, shmflg))
    }

    fn shmat_call(&self, shmid: i32, shmaddr: usize, shmflg: i32) -> Result<ShmAttach, Error> {
        const OP: Op = Op::ShmAt;
        if shmid < 0 {
            return fail(OP, ErrorKind::InvalidArgument);
        }
        if shmaddr != 0 {
            // SHMLBA is the page size on the architectures svipc runs on.
            let shmlba = page_size();
            let mut addr = shmaddr;
            if addr & (shmlba - 1) != 0 {
                if shmflg & SHM_RND == 0 {
                    return fail(OP, ErrorKind::InvalidArgument);
                }
                addr &= !(shmlba - 1);
                if addr == 0 && shmflg & SHM_REMAP != 0 {
                    return fail(OP, ErrorKind::InvalidArgument);
                }
            }
            // A place the kernel would map at: svipc cannot.
            return fail(OP, ErrorKind::InvalidArgument);
        } else if shmflg & SHM_REMAP != 0 {
            return fail(OP, ErrorKind::InvalidArgument);
        }
        let mut access = if shmflg & SHM_RDONLY != 0 { READ } else { READ | WRITE };
        if shmflg & SHM_EXEC != 0 {
            access |= EXEC;
        }
        let seg = self.shm_segment_by_id(shmid).map_err(as_op(OP))?;
        let guard = seg.attach_access(access)?;
        Ok(if access & WRITE != 0 {
            ShmAttach::ReadWrite(AttachedMut::new(guard))
        } else {
            ShmAttach::ReadOnly(guard)
        })
    }

    /// `shmdt(shmaddr)`: detaches the attachment `shmaddr` stands for (dropping the guard
    /// does the same). Never fails: the guard is the proof of an attachment, so the C
    /// call's `EINVAL` for an address with nothing attached cannot arise.
    ///
    /// # Errors
    ///
    /// None; the `Result` is C's return value.
    pub fn shmdt(&self, shmaddr: ShmAttach) -> Result<(), Error> {
        #[cfg(feature = "tracing")]
        let id = shmaddr.attached().segment().id();
        crate::trace::c_call!(Op::ShmDt, id, self.pid(), || self.shmdt_call(shmaddr))
    }

    fn shmdt_call(&self, shmaddr: ShmAttach) -> Result<(), Error> {
        drop(shmaddr);
        Ok(())
    }

    /// `shmctl(shmid, cmd, buf)`: `IPC_STAT`, `IPC_SET`, `IPC_RMID`, `SHM_LOCK`,
    /// `SHM_UNLOCK`, `IPC_INFO`, `SHM_INFO`, `SHM_STAT`, `SHM_STAT_ANY`. Returns what C
    /// returns: the highest index in use for `IPC_INFO`/`SHM_INFO`, the full id for
    /// `SHM_STAT`/`SHM_STAT_ANY` (whose `shmid` is a slot index), else 0.
    ///
    /// # Errors
    ///
    /// In the kernel's order: `EINVAL` for `shmid < 0` or `cmd < 0`; then per command —
    /// `IPC_STAT`, `SHM_STAT`: `EINVAL`, `EACCES` (not for `SHM_STAT_ANY`); `IPC_SET`: the
    /// buffer, `EINVAL`, `EPERM`, `EINVAL`; `IPC_RMID`: `EINVAL`, `EPERM`; `SHM_LOCK` and
    /// `SHM_UNLOCK`: the typed [`lock`](crate::Segment::lock)'s; any other command:
    /// `EINVAL`. A buffer variant that does not fit the command is `EINVAL` (C: `EFAULT`)
    /// where the kernel would touch it.
    pub fn shmctl(&self, shmid: i32, cmd: i32, buf: ShmctlBuf<'_>) -> Result<i32, Error> {
        crate::trace::c_call!(Op::ShmCtl, shmid, self.pid(), || self.shmctl_call(shmid, cmd, buf))
    }

    fn shmctl_call(&self, shmid: i32, cmd: i32, buf: ShmctlBuf<'_>) -> Result<i32, Error> {
        const OP: Op = Op::ShmCtl;
        let einval = || Error::new(OP, ErrorKind::InvalidArgument);
        if shmid < 0 || cmd < 0 {
            return Err(einval());
        }
        let open = || self.shm_segment_by_id(shmid).map_err(as_op(OP));
        match cmd {
            IPC_INFO => {
                let info = self.namespace().shm_ipc_info();
                let ShmctlBuf::Info(out) = buf else { return Err(einval()) };
                *out = info.into();
                Ok(info.max_idx)
            }
            SHM_INFO => {
                let info = self.namespace().shm_info();
                let ShmctlBuf::ShmInfo(out) = buf else { return Err(einval()) };
                *out = info.into();
                Ok(info.max_idx)
            }
            IPC_STAT => {
                let ds: ShmidDs = self.stat_id(IpcKind::SharedMemory, shmid, OP)?;
                let ShmctlBuf::Ds(out) = buf else { return Err(einval()) };
                *out = ds.into();
                Ok(0)
            }
            SHM_STAT | SHM_STAT_ANY => {
                let (id, ds) =
                    if cmd == SHM_STAT { self.shm_stat(shmid)? } else { self.shm_stat_any(shmid)? };
                let ShmctlBuf::Ds(out) = buf else { return Err(einval()) };
                *out = ds.into();
                Ok(id)
            }
            IPC_SET => {
                let ShmctlBuf::Ds(ds) = buf else { return Err(einval()) };
                let p = &ds.shm_perm;
                open()?.set(p.uid, p.gid, p.mode)?;
                Ok(0)
            }
            IPC_RMID => {
                self.namespace()
                    .remove(self.credentials(), IpcKind::SharedMemory, shmid)
                    .map_err(|k| Error::new(OP, k))?;
                Ok(0)
            }
            SHM_LOCK => open()?.lock().map(|()| 0),
            SHM_UNLOCK => open()?.unlock().map(|()| 0),
            _ => Err(einval()),
        }
    }
}
