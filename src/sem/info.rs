//! The semaphore calls an `ipcs`-style walk and the C-shaped layer need beyond the typed
//! handle: `semctl(IPC_INFO)`, `SEM_STAT`/`SEM_STAT_ANY` by slot index, and the checks
//! `SETALL` makes before it reads its array.

use super::{ctl, SemInfo, SemaphoreSet, SemidDs};
use crate::error::{Error, Op};
use crate::ipc::perm::WRITE;
use crate::ipc::{IpcKind, IpcObject};
use crate::namespace::Namespace;
use crate::process::Process;

impl Namespace {
    /// `semctl(0, 0, IPC_INFO, &buf)`: [`sem_info`](Self::sem_info)'s limits with the
    /// constants `SEMUSZ` (20) and `SEMAEM` (32767) in `semusz` and `semaem`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::Namespace;
    ///
    /// let info = Namespace::new().sem_ipc_info();
    /// assert_eq!((info.semusz, info.semaem, info.semume, info.semmnu), (20, 32767, 500, 1_024_000_000));
    /// ```
    pub fn sem_ipc_info(&self) -> SemInfo {
        SemInfo { semusz: 20, semaem: 32767, ..self.sem_info() }
    }
}

impl Process {
    /// `semctl(index, 0, SEM_STAT, &buf)`: the set in slot `index` of the table (what
    /// `ipcs -s` walks), its full `semid` and its [`SemidDs`]; read permission is checked.
    ///
    /// # Errors
    ///
    /// In this order: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL) for a negative index or an
    /// empty slot; [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (EACCES) without read permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(3).open()?;
    /// let (id, ds) = me.sem_stat(0)?;
    /// assert_eq!((id, ds.nsems), (set.id(), 3));
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn sem_stat(&self, index: i32) -> Result<(i32, SemidDs), Error> {
        self.stat_index(IpcKind::SemaphoreSet, index, false, Op::SemCtl)
    }

    /// `semctl(index, 0, SEM_STAT_ANY, &buf)`: [`sem_stat`](Self::sem_stat) without the
    /// read permission check.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL) for a negative index or an empty slot.
    pub fn sem_stat_any(&self, index: i32) -> Result<(i32, SemidDs), Error> {
        self.stat_index(IpcKind::SemaphoreSet, index, true, Op::SemCtl)
    }
}

impl SemaphoreSet {
    /// `semctl_main`'s checks before it reads a `SETALL` array: the set is live (`EINVAL`)
    /// and the caller may alter it (`EACCES`). For the C layer, whose array may be short.
    #[cfg_attr(loom, allow(dead_code))] // its caller, the C layer (`svipc::c`), is not built under loom
    pub(crate) fn setall_checks(&self) -> Result<(), Error> {
        let header = self.h.set.header();
        header.check_live().map_err(ctl)?;
        header.perm().check(self.h.process.credentials(), WRITE).map_err(ctl)
    }
}
