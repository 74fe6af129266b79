//! `semget`: [`Process::sem_set`] and [`Process::sem_set_by_id`], the [`OpenOptions`]
//! parameter [`SemSetParams`] and the `ipcget` hooks of a semaphore set.

#![deny(unsafe_code)]

use super::set::Set;
use super::{Extra, SemaphoreSet};
use crate::error::{Detail, Error, ErrorKind, Fault, Op};
use crate::ipc::Limits;
use crate::ipc::{Header, IpcKind, IpcObject, Ops};
use crate::lifetime::RemoveOnDrop;
use crate::process::{OpenOptions, Process};
use crate::sync::Arc;
use crate::Key;

// ===== semget =====

/// The `semget` parameter carried by [`OpenOptions`]: `nsems`, set with
/// [`OpenOptions::nsems`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SemSetParams {
    nsems: u16,
    remove_on_drop: bool,
}

struct SemOps {
    nsems: usize,
}

impl Ops for SemOps {
    type Handle = Arc<Set>;
    const KIND: IpcKind = IpcKind::SemaphoreSet;

    fn precheck(&self, limits: &Limits) -> Result<(), Fault> {
        if self.nsems > limits.semmsl {
            return Err(Fault::new(ErrorKind::InvalidArgument, Detail::NsemsAboveSemmsl));
        }
        Ok(())
    }

    fn more_checks(&self, existing: &dyn IpcObject) -> Result<(), Fault> {
        match existing.as_any().downcast_ref::<Arc<Set>>() {
            Some(set) if self.nsems > set.nsems() => {
                Err(Fault::new(ErrorKind::InvalidArgument, Detail::NsemsAboveExisting))
            }
            _ => Ok(()),
        }
    }

    fn units(&self, limits: &Limits, in_use: u64) -> Result<u64, Fault> {
        if self.nsems == 0 {
            return Err(Fault::new(ErrorKind::InvalidArgument, Detail::NsemsZero));
        }
        if in_use + self.nsems as u64 > limits.semmns as u64 {
            return Err(ErrorKind::NoSpace.into());
        }
        Ok(self.nsems as u64)
    }

    fn create(&self, header: Header) -> Result<(Box<dyn IpcObject>, Arc<Set>), ErrorKind> {
        let set = Arc::new(Set::new(header, self.nsems));
        Ok((Box::new(set.clone()), set))
    }

    fn associate(&self, existing: &dyn IpcObject) -> Result<Arc<Set>, ErrorKind> {
        existing.as_any().downcast_ref::<Arc<Set>>().cloned().ok_or(ErrorKind::TypeMismatch)
    }
}

impl<'p> OpenOptions<'p, SemSetParams> {
    /// `nsems`: the number of semaphores of a new set, or, for an existing one, the least
    /// it must have (`0`, the default, means "don't care", as in C).
    pub fn nsems(mut self, nsems: u16) -> Self {
        self.params.nsems = nsems;
        self
    }

    /// Opts in to a lifetime: the set is removed (`IPC_RMID`, with this process's
    /// credentials) when the last handle made from this open drops — the handle `open`
    /// returns, its clones and the owned permits made from them. Sleeping `semop`s of other
    /// handles then fail with `EIDRM`, later calls with `EINVAL`; both are
    /// [`is_removed`](Error::is_removed). Handles opened separately, by key or id, do not
    /// keep the set alive. A removal this process may not make (`EPERM`) does nothing.
    /// System V has no such flag; without it a set lives until `IPC_RMID`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).remove_on_drop().open()?;
    /// assert_eq!(ns.ipcs().len(), 1);
    /// drop(set);
    /// assert!(ns.ipcs().is_empty());
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn remove_on_drop(mut self) -> Self {
        self.params.remove_on_drop = true;
        self
    }

    /// `semget(key, nsems, flags)`: opens the set, creating it as the flags say. A new set
    /// has `nsems` semaphores, all 0, `sem_otime` 0 and `sem_ctime` now.
    ///
    /// # Errors
    ///
    /// First, svipc's own: `EINVAL` for [`Key::PRIVATE`](crate::Key::PRIVATE) without
    /// `create`, or a mode above `0o777` (see [`OpenOptions`]'s
    /// [two checks](OpenOptions#two-checks-c-does-not-make)). Then in the kernel's order:
    /// * [`ErrorKind::InvalidArgument`] (EINVAL): `nsems` above `SEMMSL`, even for an existing
    ///   key.
    /// * [`ErrorKind::NotFound`] (ENOENT): no set has the key and `create` was not given.
    /// * [`ErrorKind::AlreadyExists`] (EEXIST): `create` + `exclusive` and the key exists.
    /// * [`ErrorKind::InvalidArgument`] (EINVAL): the existing set has fewer than `nsems`
    ///   semaphores (before the permission check), or `nsems` is 0 on creation.
    /// * [`ErrorKind::PermissionDenied`] (EACCES): the mode asks for access the caller lacks.
    /// * [`ErrorKind::NoSpace`] (ENOSPC): creating would pass `SEMMNS` semaphores or
    ///   `SEMMNI` sets.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let set = me.sem_set(Key::new(7)).create(0o600).nsems(3).open()?; // semget(7, 3, IPC_CREAT|0600)
    /// assert_eq!(set.nsems(), 3);
    /// assert_eq!(set.get_all()?, [0, 0, 0]);
    /// let again = me.sem_set(Key::new(7)).open()?; // semget(7, 0, 0)
    /// assert_eq!(again.id(), set.id());
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn open(self) -> Result<SemaphoreSet, Error> {
        let ops = SemOps { nsems: usize::from(self.params.nsems) };
        let set = self.ipcget(&ops, Op::SemGet);
        crate::trace::get!(
            Op::SemGet,
            self.key().raw(),
            self.process.pid(),
            set.as_ref().map(|s| s.header().id())
        );
        let set = set?;
        let extra = self.params.remove_on_drop.then(|| {
            let object: Box<dyn IpcObject> = Box::new(set.clone());
            Extra::Life(RemoveOnDrop::new(self.process.clone(), IpcKind::SemaphoreSet, object))
        });
        Ok(SemaphoreSet::new(set, self.process.clone(), extra))
    }
}

impl Process {
    /// `semget(key, nsems, flags)` as a builder: set the flags and
    /// [`nsems`](OpenOptions::nsems), then [`open`](OpenOptions::open).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// // semget(0x2a, 0, 0): no such key
    /// assert_eq!(me.sem_set(Key::new(0x2a)).open().unwrap_err().errno(), 2); // ENOENT
    /// // semget(0x2a, 2, IPC_CREAT | IPC_EXCL | 0600)
    /// let set = me.sem_set(Key::new(0x2a)).create(0o600).exclusive().nsems(2).open()?;
    /// assert_eq!(set.nsems(), 2);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn sem_set(&self, key: Key) -> OpenOptions<'_, SemSetParams> {
        OpenOptions::new(self, key, SemSetParams::default())
    }

    /// Opens the semaphore set with id `semid`, as a C program that was handed the id uses
    /// it; no permission is asked here (every later call checks its own).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): no live set has this id.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// let other = ns.process(Credentials::new(0, 0).with_pid(9));
    /// assert_eq!(other.sem_set_by_id(set.id())?.nsems(), 1);
    /// assert_eq!(other.sem_set_by_id(set.id() + 1).unwrap_err().errno(), 22); // EINVAL
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn sem_set_by_id(&self, semid: i32) -> Result<SemaphoreSet, Error> {
        let set =
            self.namespace().open_id(semid, &SemOps { nsems: 0 }).map_err(|k| Error::new(Op::SemGet, k))?;
        Ok(SemaphoreSet::new(set, self.clone(), None))
    }
}
