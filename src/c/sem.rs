//! `semget`, `semop`, `semtimedop`, `semctl` with C arguments (`ipc/sem.c`'s `ksys_sem*`).

use std::time::Duration;

use super::{
    as_op, fail, int, open_flags, sembuf, semid_ds, seminfo, semun, timespec, CallFuture, GETALL, GETNCNT,
    GETPID, GETVAL, GETZCNT, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SETALL,
    SETVAL,
};
use crate::error::{Error, ErrorKind, Op};
use crate::ipc::{IpcKind, Key};
use crate::process::Process;
use crate::sem::{SemInfo, SemOp, SemidDs};

impl From<SemidDs> for semid_ds {
    fn from(ds: SemidDs) -> semid_ds {
        semid_ds {
            sem_perm: ds.perm.into(),
            sem_otime: ds.otime,
            sem_ctime: ds.ctime,
            sem_nsems: u64::from(ds.nsems),
        }
    }
}

impl From<SemInfo> for seminfo {
    fn from(i: SemInfo) -> seminfo {
        let n = |v: usize| int(v as u64);
        seminfo {
            semmap: n(i.semmap),
            semmni: n(i.semmni),
            semmns: n(i.semmns),
            semmnu: n(i.semmnu),
            semmsl: n(i.semmsl),
            semopm: n(i.semopm),
            semume: n(i.semume),
            semusz: n(i.semusz),
            semvmx: i.semvmx,
            semaem: int(i.semaem),
        }
    }
}

impl From<sembuf> for SemOp {
    fn from(b: sembuf) -> SemOp {
        SemOp::from_raw(b.sem_num, b.sem_op, b.sem_flg)
    }
}

/// A semaphore number as the typed calls take it: one that no set has (65535, at or past
/// every set's `nsems`) for a negative or too large C `semnum`, so the typed call answers
/// `EINVAL` at the kernel's place, after the lookup and the permission check.
fn semnum(semnum: i32) -> u16 {
    u16::try_from(semnum).unwrap_or(u16::MAX)
}

impl Process {
    /// `semget(key, nsems, semflg)`: the id of the set of `key`, created with `nsems`
    /// semaphores if `semflg` has `IPC_CREAT` (see [`Process::msgget`] for the flags). A
    /// set holds at most 65535 semaphores here (`sem_num` is a `u16`): a larger `nsems` is
    /// `EINVAL` even where `SEMMSL` was raised above it.
    ///
    /// # Errors
    ///
    /// In the kernel's order: `EINVAL` for `nsems < 0` or above `SEMMSL` (before the
    /// lookup); `ENOENT`, `EEXIST`; `EINVAL` when the existing set has fewer than `nsems`;
    /// `EACCES`; on creation `EINVAL` for `nsems == 0`, `ENOSPC` (`SEMMNS`, `SEMMNI`).
    pub fn semget(&self, key: i32, nsems: i32, semflg: i32) -> Result<i32, Error> {
        crate::trace::c_get!(Op::SemGet, key, self.pid(), || self.semget_call(key, nsems, semflg))
    }

    fn semget_call(&self, key: i32, nsems: i32, semflg: i32) -> Result<i32, Error> {
        // Negative, above SEMMSL, or above the 65535 a set can hold here: EINVAL, before the
        // key is looked up.
        let Ok(n) = u16::try_from(nsems) else {
            return fail(Op::SemGet, ErrorKind::InvalidArgument);
        };
        let set = self.sem_set(Key::new(key)).nsems(n).flags(open_flags(key, semflg)).open()?;
        Ok(set.id())
    }

    /// `semop(semid, sops, nsops)`: the first `nsops` operations of `sops`, all or nothing;
    /// sleeps until they can proceed unless the operation it would block on has
    /// `IPC_NOWAIT`. `SEM_UNDO` records the operation in this process's adjustments.
    ///
    /// # Errors
    ///
    /// [`semtimedop`](Self::semtimedop)'s, without the timeout's.
    pub fn semop<'a>(&'a self, semid: i32, sops: &'a [sembuf], nsops: usize) -> CallFuture<'a, ()> {
        self.semtimedop(semid, sops, nsops, None)
    }

    /// `semtimedop(semid, sops, nsops, timeout)`: [`semop`](Self::semop) giving up after
    /// `timeout` (`EAGAIN`, [`Error::is_timeout`]); `None` is `NULL`, no limit.
    ///
    /// # Errors
    ///
    /// Before the lookup, in the kernel's order: `E2BIG` for `nsops > SEMOPM` (whatever the
    /// id); `EINVAL` for `nsops == 0`; `EINVAL` for `sops` shorter than `nsops` (C:
    /// `EFAULT`); `EINVAL` for `semid < 0`; `EINVAL` for a `timeout` with `tv_sec < 0` or
    /// `tv_nsec` outside `[0, 999999999]`. Then the typed [`semop`](crate::SemaphoreSet::semop)'s:
    /// `EINVAL` (stale id), `EFBIG` (`sem_num >= nsems`), `EACCES`, `ERANGE`, `EAGAIN`,
    /// `EIDRM`.
    pub fn semtimedop<'a>(
        &'a self,
        semid: i32,
        sops: &'a [sembuf],
        nsops: usize,
        timeout: Option<&timespec>,
    ) -> CallFuture<'a, ()> {
        const OP: Op = Op::SemOp;
        let timeout = timeout.copied();
        CallFuture::new(OP, async move {
            if nsops > self.namespace().limits().semopm {
                return fail(OP, ErrorKind::TooBig);
            }
            if nsops == 0 {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            let Some(sops) = sops.get(..nsops) else {
                return fail(OP, ErrorKind::InvalidArgument);
            };
            if semid < 0 {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            let limit = match timeout {
                None => None,
                Some(ts) if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) => {
                    return fail(OP, ErrorKind::InvalidArgument);
                }
                Some(ts) => Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)),
            };
            let ops: Vec<SemOp> = sops.iter().map(|&b| b.into()).collect();
            let set = self.sem_set_by_id(semid).map_err(as_op(OP))?;
            match limit {
                None => set.semop(&ops).await,
                Some(limit) => set.semop_timeout(&ops, limit).await,
            }
        })
        .traced(semid, self.pid())
    }

    /// `semctl(semid, semnum, cmd, arg)`: `GETVAL`, `SETVAL`, `GETALL`, `SETALL`, `GETPID`,
    /// `GETNCNT`, `GETZCNT`, `IPC_STAT`, `IPC_SET`, `IPC_RMID`, `IPC_INFO`, `SEM_INFO`,
    /// `SEM_STAT`, `SEM_STAT_ANY`. Returns what C returns: the value, pid or count for the
    /// `GET*` commands; the highest index in use for `IPC_INFO`/`SEM_INFO`; the full id
    /// for `SEM_STAT`/`SEM_STAT_ANY` (whose `semid` is a slot index); else 0.
    ///
    /// # Errors
    ///
    /// In the kernel's order: `EINVAL` for `semid < 0`; then per command — `SETVAL`:
    /// `ERANGE` for a value outside `[0, SEMVMX]` *before the lookup*, then `EINVAL`
    /// (lookup, then `semnum`), `EACCES`; `GETVAL`/`GETPID`/`GETNCNT`/`GETZCNT`: `EINVAL`
    /// (lookup), `EACCES`, `EINVAL` (`semnum`); `GETALL`/`SETALL`: `EINVAL`, `EACCES`, the
    /// array (shorter than `nsems`: `EINVAL`, C: `EFAULT`), `ERANGE` (`SETALL` above
    /// `SEMVMX`); `IPC_STAT`, `SEM_STAT`: `EINVAL`, `EACCES` (not for `SEM_STAT_ANY`);
    /// `IPC_SET`: the buffer, `EINVAL`, `EPERM`, `EINVAL`; `IPC_RMID`: `EINVAL`, `EPERM`;
    /// any other command: `EINVAL`. An `arg` variant that does not fit the command is
    /// `EINVAL` (C: `EFAULT`) where the kernel would touch it.
    pub fn semctl(&self, semid: i32, semnum: i32, cmd: i32, arg: semun<'_>) -> Result<i32, Error> {
        crate::trace::c_call!(Op::SemCtl, semid, self.pid(), || self.semctl_call(semid, semnum, cmd, arg))
    }

    fn semctl_call(&self, semid: i32, semnum: i32, cmd: i32, arg: semun<'_>) -> Result<i32, Error> {
        const OP: Op = Op::SemCtl;
        let einval = || Error::new(OP, ErrorKind::InvalidArgument);
        if semid < 0 {
            return Err(einval());
        }
        let open = || self.sem_set_by_id(semid).map_err(as_op(OP));
        match cmd {
            IPC_INFO | SEM_INFO => {
                let ns = self.namespace();
                let info = if cmd == IPC_INFO { ns.sem_ipc_info() } else { ns.sem_info() };
                let semun::Info(out) = arg else { return Err(einval()) };
                *out = info.into();
                Ok(info.max_index)
            }
            IPC_STAT => {
                let ds: SemidDs = self.stat_id(IpcKind::SemaphoreSet, semid, OP)?;
                let semun::Buf(out) = arg else { return Err(einval()) };
                *out = ds.into();
                Ok(0)
            }
            SEM_STAT | SEM_STAT_ANY => {
                let (id, ds) =
                    if cmd == SEM_STAT { self.sem_stat(semid)? } else { self.sem_stat_any(semid)? };
                let semun::Buf(out) = arg else { return Err(einval()) };
                *out = ds.into();
                Ok(id)
            }
            GETVAL => open()?.get_val(self::semnum(semnum)).map(i32::from),
            GETPID => open()?.get_pid(self::semnum(semnum)),
            GETNCNT => open()?.get_ncnt(self::semnum(semnum)).map(|n| int(u64::from(n))),
            GETZCNT => open()?.get_zcnt(self::semnum(semnum)).map(|n| int(u64::from(n))),
            GETALL => {
                let vals = open()?.get_all()?;
                let semun::Array(out) = arg else { return Err(einval()) };
                let out = out.get_mut(..vals.len()).ok_or_else(einval)?;
                out.copy_from_slice(&vals);
                Ok(0)
            }
            SETALL => {
                let set = open()?;
                // The permission check comes before the array is read (semctl_main).
                set.setall_checks()?;
                let semun::Array(vals) = arg else { return Err(einval()) };
                let vals = vals.get(..usize::from(set.nsems())).ok_or_else(einval)?;
                set.set_all(vals)?;
                Ok(0)
            }
            SETVAL => {
                let semun::Val(val) = arg else { return Err(einval()) };
                if !(0..=self.namespace().limits().semvmx).contains(&val) {
                    return Err(Error::new(OP, ErrorKind::OutOfRange));
                }
                // In [0, SEMVMX], which fits a u16.
                open()?.set_val(self::semnum(semnum), val as u16)?;
                Ok(0)
            }
            IPC_SET => {
                let semun::Buf(ds) = arg else { return Err(einval()) };
                let p = &ds.sem_perm;
                open()?.set(p.uid, p.gid, p.mode)?;
                Ok(0)
            }
            IPC_RMID => {
                self.namespace()
                    .remove(self.credentials(), IpcKind::SemaphoreSet, semid)
                    .map_err(|k| Error::new(OP, k))?;
                Ok(0)
            }
            _ => Err(einval()),
        }
    }
}
