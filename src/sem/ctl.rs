//! `semctl` on a [`SemaphoreSet`]: the values, pids and wait counts of its semaphores
//! (`GETVAL`, `GETPID`, `GETNCNT`, `GETZCNT`, `GETALL`, `SETVAL`, `SETALL`) and the set's
//! own `IPC_STAT`, `IPC_SET` and `IPC_RMID`. The `semop` side is the parent module's.

use super::*;

impl SemaphoreSet {
    /// `semctl(semid, num, GETVAL)`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a removed set, then
    /// [`ErrorKind::PermissionDenied`] (EACCES) without read permission, then EINVAL for
    /// `num >= sem_nsems`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// set.try_semop(&[SemOp::new(1, 3)])?;
    /// assert_eq!((set.get_val(0)?, set.get_val(1)?), (0, 3));
    /// assert_eq!(set.get_val(2).unwrap_err().errno(), 22); // EINVAL: no such semaphore
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn get_val(&self, num: u16) -> Result<u16, Error> {
        on_host!(self, Op::SemCtl, h => h.get_val(num));
        let r = self.get_val_call(num);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn get_val_call(&self, num: u16) -> Result<u16, Error> {
        self.get_checks(num)?;
        // A value is within `0..=SEMVMX` (at most 32767): the cast never truncates.
        self.h.set.get_val(usize::from(num)).map(|v| v as u16).map_err(|k| self.ctl_err(k))
    }

    /// `semctl(semid, num, GETPID)`: the pid of the last operation on semaphore `num`.
    ///
    /// # Errors
    ///
    /// As [`get_val`](Self::get_val).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// assert_eq!(set.get_pid(0)?, 0); // never operated on
    /// set.try_semop(&[SemOp::new(0, 0)])?; // even a wait-for-zero sets it
    /// assert_eq!(set.get_pid(0)?, 42);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn get_pid(&self, num: u16) -> Result<i32, Error> {
        on_host!(self, Op::SemCtl, h => h.get_pid(num));
        let r = self.get_pid_call(num);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn get_pid_call(&self, num: u16) -> Result<i32, Error> {
        self.get_checks(num)?;
        self.h.set.get_pid(usize::from(num)).map_err(|k| self.ctl_err(k))
    }

    /// `semctl(semid, num, GETNCNT)`: sleeping `semop`s currently blocked on a decrement of
    /// `num`.
    ///
    /// # Errors
    ///
    /// As [`get_val`](Self::get_val).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// let ops = [SemOp::new(0, -1)];
    /// let mut waiting = Box::pin(set.semop(&ops));
    /// assert!(futures::FutureExt::now_or_never(waiting.as_mut()).is_none()); // asleep
    /// assert_eq!(set.get_ncnt(0)?, 1);
    /// drop(waiting);
    /// assert_eq!(set.get_ncnt(0)?, 0);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn get_ncnt(&self, num: u16) -> Result<u32, Error> {
        on_host!(self, Op::SemCtl, h => h.get_ncnt(num));
        let r = self.get_ncnt_call(num);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn get_ncnt_call(&self, num: u16) -> Result<u32, Error> {
        self.get_checks(num)?;
        self.h.set.get_cnt(usize::from(num), false).map(|n| n as u32).map_err(|k| self.ctl_err(k))
    }

    /// `semctl(semid, num, GETZCNT)`: sleeping `semop`s currently blocked waiting for `num`
    /// to be zero.
    ///
    /// # Errors
    ///
    /// As [`get_val`](Self::get_val).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// set.set_val(1, 1)?;
    /// let ops = [SemOp::new(1, 0)];
    /// let mut waiting = Box::pin(set.semop(&ops));
    /// assert!(futures::FutureExt::now_or_never(waiting.as_mut()).is_none()); // asleep
    /// assert_eq!(set.get_zcnt(1)?, 1);
    /// set.set_val(1, 0)?; // completes it
    /// assert_eq!(set.get_zcnt(1)?, 0);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn get_zcnt(&self, num: u16) -> Result<u32, Error> {
        on_host!(self, Op::SemCtl, h => h.get_zcnt(num));
        let r = self.get_zcnt_call(num);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn get_zcnt_call(&self, num: u16) -> Result<u32, Error> {
        self.get_checks(num)?;
        self.h.set.get_cnt(usize::from(num), true).map(|n| n as u32).map_err(|k| self.ctl_err(k))
    }

    fn get_checks(&self, num: u16) -> Result<(), Error> {
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.ctl_err(k))?;
        header.perm().check(self.h.process.credentials(), READ).map_err(|k| self.ctl_err(k))?;
        if usize::from(num) >= self.h.set.nsems() {
            return Err(ctl(ErrorKind::InvalidArgument).with(Detail::NumBeyondSet));
        }
        Ok(())
    }

    /// `semctl(semid, 0, GETALL, array)`: every value, as one snapshot.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a removed set, then
    /// [`ErrorKind::PermissionDenied`] (EACCES) without read permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// set.try_semop(&[SemOp::new(0, 1), SemOp::new(1, 2)])?;
    /// assert_eq!(set.get_all()?, [1, 2]);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn get_all(&self) -> Result<Vec<u16>, Error> {
        on_host!(self, Op::SemCtl, h => h.get_all());
        let r = self.get_all_call();
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn get_all_call(&self) -> Result<Vec<u16>, Error> {
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.ctl_err(k))?;
        header.perm().check(self.h.process.credentials(), READ).map_err(|k| self.ctl_err(k))?;
        self.h.set.get_all(self.limits().semvmx).map_err(|k| self.ctl_err(k))
    }

    /// `semctl(semid, num, SETVAL, val)`: sets one value, zeroes every process's `semadj`
    /// for it, sets `sempid` and `sem_ctime`, and wakes the sleepers that can now proceed
    /// (`sem_otime` changes only if one completes).
    ///
    /// # Errors
    ///
    /// In the kernel's order: [`ErrorKind::OutOfRange`] (ERANGE) for `val` above `SEMVMX`
    /// (before the id is even looked at); [`ErrorKind::InvalidArgument`] (EINVAL)
    /// for a removed set, then for `num >= sem_nsems`; [`ErrorKind::PermissionDenied`]
    /// (EACCES) without alter permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// set.set_val(0, 5)?;
    /// assert_eq!(set.get_val(0)?, 5);
    /// assert_eq!(set.set_val(0, 32768).unwrap_err().errno(), 34); // ERANGE: above SEMVMX
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn set_val(&self, num: u16, val: u16) -> Result<(), Error> {
        on_host!(self, Op::SemCtl, h => h.set_val(num, val));
        let r = self.set_val_call(num, val);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn set_val_call(&self, num: u16, val: u16) -> Result<(), Error> {
        let limits = self.limits();
        let val = i32::from(val);
        if val > limits.semvmx {
            return Err(ctl(ErrorKind::OutOfRange).with(Detail::ValAboveSemvmx));
        }
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.ctl_err(k))?;
        if usize::from(num) >= self.h.set.nsems() {
            return Err(ctl(ErrorKind::InvalidArgument).with(Detail::NumBeyondSet));
        }
        header.perm().check(self.h.process.credentials(), WRITE).map_err(|k| self.ctl_err(k))?;
        self.h.set.set_val(usize::from(num), val, self.pid(), limits.semvmx).map_err(|k| self.ctl_err(k))
    }

    /// `semctl(semid, 0, SETALL, array)`: sets every value (and every `sempid` to the
    /// caller), zeroes every `semadj` of the set, sets `sem_ctime`, and wakes sleepers.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a removed set;
    /// [`ErrorKind::PermissionDenied`] (EACCES) without alter permission;
    /// [`ErrorKind::OutOfRange`] (ERANGE) for a value above `SEMVMX`; and EINVAL when
    /// `vals` does not have `sem_nsems` entries (C's array has no length to check).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// set.try_semop(&[SemOp::new(0, 1)])?;
    /// set.set_all(&[4, 5])?; // values replaced, every semadj zeroed
    /// assert_eq!(set.get_all()?, [4, 5]);
    /// assert_eq!(set.set_all(&[40000, 0]).unwrap_err().errno(), 34); // ERANGE
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn set_all(&self, vals: &[u16]) -> Result<(), Error> {
        on_host!(self, Op::SemCtl, h => h.set_all(vals));
        let r = self.set_all_call(vals);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn set_all_call(&self, vals: &[u16]) -> Result<(), Error> {
        let limits = self.limits();
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.ctl_err(k))?;
        header.perm().check(self.h.process.credentials(), WRITE).map_err(|k| self.ctl_err(k))?;
        if vals.iter().any(|&v| i32::from(v) > limits.semvmx) {
            return Err(ctl(ErrorKind::OutOfRange).with(Detail::ValAboveSemvmx));
        }
        if vals.len() != self.h.set.nsems() {
            return Err(ctl(ErrorKind::InvalidArgument).with(Detail::ValsLength));
        }
        self.h.set.set_all(vals, self.pid(), limits.semvmx).map_err(|k| self.ctl_err(k))
    }

    /// `semctl(semid, 0, IPC_STAT, &buf)`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a removed set, then
    /// [`ErrorKind::PermissionDenied`] (EACCES) without read permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// let ds = set.stat()?;
    /// assert_eq!((ds.nsems, ds.otime, ds.perm.mode), (2, 0, 0o600));
    /// set.try_semop(&[SemOp::new(0, 0)])?;
    /// assert!(set.stat()?.otime > 0);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn stat(&self) -> Result<SemidDs, Error> {
        on_host!(self, Op::SemCtl, h => h.stat());
        let r = self.stat_call();
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn stat_call(&self) -> Result<SemidDs, Error> {
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.ctl_err(k))?;
        header.perm().check(self.h.process.credentials(), READ).map_err(|k| self.ctl_err(k))?;
        Ok(SemidDs {
            perm: header.perm().load(),
            otime: self.h.set.otime(),
            ctime: header.ctime(),
            nsems: self.nsems(),
        })
    }

    /// `semctl(semid, 0, IPC_SET, &buf)`: the owner's uid and gid and the low 9 mode bits;
    /// `sem_ctime` is set. Sleeping `semop`s keep the permission they were checked with.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a removed set;
    /// [`ErrorKind::NotPermitted`] (EPERM) unless the caller is owner, creator or has
    /// `CAP_SYS_ADMIN`; EINVAL for a uid or gid of `u32::MAX` (`(uid_t)-1`).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// set.set(1000, 1000, 0o640)?;
    /// set.try_semop(&[SemOp::new(0, 1)])?; // root: CAP_IPC_OWNER
    /// let perm = set.stat()?.perm;
    /// assert_eq!((perm.uid, perm.gid, perm.mode, perm.cuid), (1000, 1000, 0o640, 0));
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn set(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        on_host!(self, Op::SemCtl, h => h.set(uid, gid, mode));
        let r = self.set_call(uid, gid, mode);
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn set_call(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.ctl_err(k))?;
        header.perm().check_owner(self.h.process.credentials()).map_err(|k| self.ctl_err(k))?;
        if !valid_id(uid) || !valid_id(gid) {
            return Err(ctl(ErrorKind::InvalidArgument));
        }
        header.perm().set(uid, gid, mode);
        header.touch_ctime();
        // The version moved: fill this handle's memo again here rather than at each of its
        // users' next calls (`PermCache::prime`).
        self.h.perm.prime(header.perm(), self.h.process.credentials());
        Ok(())
    }

    /// `semctl(semid, 0, IPC_RMID)`: removes the set. Every sleeping `semop` fails with
    /// `EIDRM`, the undo records are dropped, and every later call fails with `EINVAL`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) if already removed;
    /// [`ErrorKind::NotPermitted`] (EPERM) unless the caller is owner, creator or has
    /// `CAP_SYS_ADMIN`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0).with_pid(42));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    /// set.remove()?;
    /// assert_eq!(set.try_semop(&[SemOp::new(0, 1)]).unwrap_err().errno(), 22);
    /// assert_eq!(set.get_val(0).unwrap_err().errno(), 22); // EINVAL from now on
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn remove(&self) -> Result<(), Error> {
        on_host!(self, Op::SemCtl, h => h.remove());
        let r = self.remove_call();
        trace::call!(Op::SemCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn remove_call(&self) -> Result<(), Error> {
        self.h
            .process
            .namespace()
            .remove(self.h.process.credentials(), IpcKind::SemaphoreSet, self.id())
            .map_err(|k| self.ctl_err(k))
    }
}
