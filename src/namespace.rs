//! The IPC namespace: the three id tables, the limits, and the key/id layer that composes
//! the generic `ipc` module with the mechanisms (the kernel's `ipc/namespace.c` and the
//! `ipcget`/`ipcctl` parts of `ipc/util.c`).

use std::fmt;
#[cfg(test)]
use std::sync::atomic::Ordering::Relaxed;

use crate::error::{Error, ErrorKind, Fault, Op};
use crate::ipc::Ids;
use crate::ipc::{
    Credentials, Figures, Header, IpcKind, IpcObject, IpcPerm, Key, Limits, LimitsCell, OpenFlags, Ops,
    PermCell, Removal,
};
use crate::process::Process;
#[cfg(test)]
use crate::sync::atomic::AtomicI32;
use crate::sync::atomic::{AtomicBool, AtomicU64};
use crate::sync::{Arc, Mutex};

// ===== Namespace =====

type Table = Mutex<Ids<Box<dyn IpcObject>>>;

/// An IPC namespace (`ipc_namespace`): the message queues, semaphore sets and shared memory
/// segments that can find each other by key or id, and the limits they live under.
///
/// Cloning a `Namespace` gives another handle to the same namespace. Objects are opened
/// through a [`Process`] made with [`Namespace::process`]: the actor whose
/// [`Credentials`] every permission check reads.
///
/// [`Namespace::global`] is one namespace for the whole OS process; [`Namespace::new`]
/// makes an isolated one (what `unshare(CLONE_NEWIPC)` gives a C program), which is what
/// tests want.
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, IpcKind, Namespace};
///
/// let ns = Namespace::new();
/// let alice = ns.process(Credentials::new(1000, 1000));
/// assert_eq!(alice.credentials().uid(), 1000);
/// assert!(ns.ipcs().is_empty());
/// // ipcrm of an id nobody created
/// assert_eq!(alice.remove(IpcKind::MessageQueue, 0).unwrap_err().errno(), 22); // EINVAL
/// ```
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<NsInner>,
}

struct NsInner {
    limits: LimitsCell,
    /// `kernel.shm_rmid_forced`; the shared-memory mechanism gives it its meaning.
    shm_rmid_forced: AtomicBool,
    /// The last [`Process`] identity handed out (`Namespace::process`); 0 is nobody.
    processes: AtomicU64,
    /// Indexed by [`table_index`].
    tables: [Table; 3],
    /// Exits of processes made in this namespace (test builds only).
    #[cfg(test)]
    exits: AtomicI32,
}

fn table_index(kind: IpcKind) -> usize {
    match kind {
        IpcKind::MessageQueue => 0,
        IpcKind::SemaphoreSet => 1,
        IpcKind::SharedMemory => 2,
    }
}

impl Default for Namespace {
    fn default() -> Namespace {
        Namespace::new()
    }
}

impl Namespace {
    /// Whether `self` and `other` are handles on the same namespace.
    pub(crate) fn same(&self, other: &Namespace) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Namespace {
    /// A new, empty namespace with the default [`Limits`].
    pub fn new() -> Namespace {
        Namespace {
            inner: Arc::new(NsInner {
                limits: LimitsCell::new(Limits::default()),
                shm_rmid_forced: AtomicBool::new(false),
                processes: AtomicU64::new(0),
                tables: std::array::from_fn(|_| Mutex::new(Ids::new())),
                #[cfg(test)]
                exits: AtomicI32::new(0),
            }),
        }
    }

    /// The namespace shared by the whole OS process, made on first use.
    ///
    /// Not available under `cfg(loom)`, where no object may outlive one model run.
    #[cfg(not(loom))]
    pub fn global() -> &'static Namespace {
        static GLOBAL: crate::sync::OnceLock<Namespace> = crate::sync::OnceLock::new();
        GLOBAL.get_or_init(Namespace::new)
    }

    /// An actor in this namespace with these credentials. Every object is opened through
    /// one; see [`Process`].
    pub fn process(&self, credentials: Credentials) -> Process {
        let token = self.inner.processes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        Process::new(self.clone(), credentials, token)
    }

    /// `kernel.shm_rmid_forced`, as stored (its effects are the shared-memory mechanism's).
    pub(crate) fn shm_rmid_forced_flag(&self) -> bool {
        self.inner.shm_rmid_forced.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Stores `kernel.shm_rmid_forced`; the previous value.
    pub(crate) fn swap_shm_rmid_forced(&self, on: bool) -> bool {
        self.inner.shm_rmid_forced.swap(on, std::sync::atomic::Ordering::AcqRel)
    }

    /// Takes out of `kind`'s table every object for which `destroyed` answers true (it
    /// destroyed the object itself, under the object's lock), all under the table lock:
    /// the walks of `exit_shm` and `shm_destroy_orphaned`.
    pub(crate) fn destroy_where(&self, kind: IpcKind, mut destroyed: impl FnMut(&dyn IpcObject) -> bool) {
        let mut table = self.table(kind).lock();
        let dead: Vec<i32> =
            table.iter().filter(|(_, _, obj)| destroyed(&***obj)).map(|(id, _, _)| id).collect();
        let objs: Vec<_> = dead.into_iter().filter_map(|id| table.remove(id)).collect();
        drop(table);
        // Dropped outside the table lock, as in `remove`.
        drop(objs);
    }

    /// The current limits.
    pub fn limits(&self) -> Limits {
        self.inner.limits.load()
    }

    /// [`Limits::msgmax`] alone, one atomic load: what every send checks.
    #[inline]
    pub(crate) fn msgmax(&self) -> usize {
        self.inner.limits.msgmax()
    }

    /// [`Limits::semopm`] and [`Limits::semvmx`] alone, two atomic loads: what every
    /// `semop` checks.
    pub(crate) fn sem_op_limits(&self) -> (usize, i32) {
        self.inner.limits.sem_op()
    }

    /// [`Limits::semvmx`] alone, one atomic load.
    pub(crate) fn semvmx(&self) -> i32 {
        self.inner.limits.semvmx()
    }

    /// Sets the limits, as writing the `kernel.msg*`, `kernel.sem` and `kernel.shm*`
    /// sysctls does. Objects that already exist are not touched (a queue keeps its
    /// `msg_qbytes`); calls that start afterwards see the new values.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a value the sysctl would refuse: an
    /// `*mni` limit above 32768, an `int` sysctl above `i32::MAX`, `semvmx` outside
    /// `1..=32767`, `shmmin` of 0 or above `shmmax`. Nothing is changed then.
    pub fn set_limits(&self, limits: Limits) -> Result<(), Error> {
        limits.validate().map_err(|k| Error::new(Op::Sysctl, k))?;
        self.inner.limits.store(limits);
        Ok(())
    }

    /// The `kernel.msg_next_id`, `kernel.sem_next_id` or `kernel.shm_next_id` setting of
    /// `kind`: the id the next creation asks for, or -1 (the default) for none.
    pub fn next_id(&self, kind: IpcKind) -> i32 {
        self.table(kind).lock().next_id()
    }

    /// Writes the `kernel.{msg,sem,shm}_next_id` sysctl of `kind` (a checkpoint/restore
    /// tool's way to recreate an object under its old id).
    ///
    /// The next creation of that kind (`*get` with `IPC_CREAT` or `IPC_PRIVATE`) takes the
    /// id's sequence number and its index if that slot is free, else the first free index
    /// above it; then the setting is -1 again. It is consumed by the first creation that
    /// gets as far as allocating an id (past the argument checks and the object limit),
    /// whether or not that allocation succeeds (`ENOSPC` when no index at or above it is
    /// free), as in the kernel's `ipc_idr_alloc`. Nothing else unsets it: -1 is the value
    /// it starts and ends with, but not one that can be written.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a negative value (-1 included), as the
    /// sysctl's range `[0, INT_MAX]` refuses it; the setting is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, IpcKind, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// ns.set_next_id(IpcKind::SemaphoreSet, 3 << 15 | 5)?;
    /// let me = ns.process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// assert_eq!(set.id(), 98309); // 3 << 15 | 5
    /// assert_eq!(ns.next_id(IpcKind::SemaphoreSet), -1);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn set_next_id(&self, kind: IpcKind, id: i32) -> Result<(), Error> {
        if id < 0 {
            return Err(Error::new(Op::Sysctl, ErrorKind::InvalidArgument));
        }
        self.table(kind).lock().set_next_id(id);
        Ok(())
    }

    /// Runs `f` on the object in slot `index & 0x7fff` of `kind`'s table, with its full id,
    /// under the table lock: the lookup of the `*_STAT` commands (`EINVAL` for an empty
    /// slot).
    pub(crate) fn at_index<R>(
        &self,
        kind: IpcKind,
        index: i32,
        f: impl FnOnce(i32, &dyn IpcObject) -> Result<R, ErrorKind>,
    ) -> Result<R, ErrorKind> {
        let table = self.table(kind).lock();
        let (id, obj) = table.get_index(index).ok_or(ErrorKind::InvalidArgument)?;
        f(id, &**obj)
    }

    /// Runs `f` on the live object with this id, under the table lock (`EINVAL` for a
    /// stale or unknown id): the lookup of the calls that need no payload type.
    #[cfg_attr(loom, allow(dead_code))] // its caller, the C layer (`svipc::c`), is not built under loom
    pub(crate) fn at_id<R>(
        &self,
        kind: IpcKind,
        id: i32,
        f: impl FnOnce(&dyn IpcObject) -> Result<R, ErrorKind>,
    ) -> Result<R, ErrorKind> {
        let table = self.table(kind).lock();
        f(&**table.get(id)?)
    }

    /// What the namespace holds, untyped: kind, key, id, owner, creator, mode and each
    /// object's figures — what `ipcs(1)` prints (which is how `Display` prints it).
    pub fn ipcs(&self) -> Ipcs {
        let mut entries = Vec::new();
        for kind in [IpcKind::MessageQueue, IpcKind::SharedMemory, IpcKind::SemaphoreSet] {
            let table = self.table(kind).lock();
            entries.extend(table.iter().map(|(id, _, obj)| IpcsEntry {
                kind,
                id,
                perm: obj.header().perm().load(),
                figures: obj.figures(),
            }));
        }
        Ipcs { entries }
    }

    /// Folds `f` over the figures of one kind's objects, under that table's lock alone:
    /// what the `*_INFO` totals sum (`msgmap`, `msgtql`), without building the listing.
    pub(crate) fn fold_figures<A>(&self, kind: IpcKind, init: A, f: impl FnMut(A, Figures) -> A) -> A {
        self.table(kind).lock().iter().map(|(_, _, obj)| obj.figures()).fold(init, f)
    }

    fn table(&self, kind: IpcKind) -> &Table {
        &self.inner.tables[table_index(kind)]
    }

    /// `ipcget`: the get-or-create of `msgget`, `semget` and `shmget`, written once over the
    /// mechanism's hooks. The checks come in the kernel's order:
    ///
    /// 1. the mechanism's `precheck` (semget's `nsems` range: `EINVAL`);
    /// 2. `IPC_PRIVATE` always creates, ignoring `IPC_CREAT` and `IPC_EXCL`;
    /// 3. a public key not found: `ENOENT` without `IPC_CREAT`, else create;
    /// 4. found: `EEXIST` with `IPC_CREAT|IPC_EXCL`, then `more_checks` (`EINVAL`), then
    ///    `ipcperms` of the requested mode bits (`EACCES`), then `associate`;
    /// 5. creation: the mechanism's own argument checks and namespace-wide budget (`EINVAL`,
    ///    `ENOSPC` for SEMMNS/SHMALL), then the object limit (`ENOSPC`), then the object is
    ///    built and entered.
    pub(crate) fn ipcget<O: Ops>(
        &self,
        creds: &Credentials,
        key: Key,
        flags: OpenFlags,
        ops: &O,
    ) -> Result<O::Handle, Fault> {
        let limits = self.limits();
        ops.precheck(&limits)?;
        let mut table = self.table(O::KIND).lock();
        if !key.is_private() {
            if let Some((_, obj)) = table.find_key(key) {
                if flags.create && flags.exclusive {
                    return Err(ErrorKind::AlreadyExists.into());
                }
                ops.more_checks(&**obj)?;
                obj.header().perm().check(creds, flags.mode_bits())?;
                return Ok(ops.associate(&**obj)?);
            }
            if !flags.create {
                return Err(ErrorKind::NotFound.into());
            }
        }
        let units = ops.units(&limits, table.units())?;
        let new = table.reserve(limits.max_objects(O::KIND))?;
        let header = Header::new(new.id(), PermCell::new(key, creds, flags.mode_bits(), new.seq()));
        let (obj, handle) = ops.create(header)?;
        table.insert(new, key, units, obj);
        Ok(handle)
    }

    /// Opens an id that another actor handed over: `EINVAL` for a stale or unknown id, the
    /// mechanism's `associate` otherwise. No permission is asked here, as holding an id asks
    /// none in C: each later call checks its own.
    pub(crate) fn open_id<O: Ops>(&self, id: i32, ops: &O) -> Result<O::Handle, ErrorKind> {
        let table = self.table(O::KIND).lock();
        ops.associate(&**table.get(id)?)
    }

    /// `IPC_RMID` by id, whatever the payload type (`ipcrm -q/-s/-m`): `EINVAL` for a stale
    /// or unknown id, then `EPERM` unless the caller owns or created the object or has
    /// `CAP_SYS_ADMIN`. Then the mechanism removes it, at once or (a segment still
    /// attached) when its last attachment goes.
    pub(crate) fn remove(&self, creds: &Credentials, kind: IpcKind, id: i32) -> Result<(), ErrorKind> {
        let mut table = self.table(kind).lock();
        let obj = table.get(id)?;
        obj.header().perm().check_owner(creds)?;
        match obj.remove() {
            Removal::Now => {
                let obj = table.remove(id);
                drop(table);
                // Outside the table lock: the object's leftovers and, for the last
                // reference, its destructor may call back into the namespace.
                if let Some(obj) = &obj {
                    obj.after_remove();
                }
                drop(obj);
            }
            Removal::Deferred => {
                obj.header().perm().update(|p| p.key = Key::PRIVATE);
                table.make_private(id);
            }
        }
        Ok(())
    }

    /// Takes an object whose removal was deferred out of its table once the mechanism
    /// destroys it (a segment's last detach after `IPC_RMID`). Nothing happens if the id is
    /// no longer live.
    pub(crate) fn destroy(&self, kind: IpcKind, id: i32) {
        let obj = self.table(kind).lock().remove(id);
        drop(obj);
    }

    /// `(in_use, units, max_idx)` of a kind's table: what the `*_INFO` commands report.
    pub(crate) fn table_info(&self, kind: IpcKind) -> (usize, u64, i32) {
        let table = self.table(kind).lock();
        (table.in_use(), table.units(), table.max_idx())
    }

    #[cfg(test)]
    pub(crate) fn note_exit(&self) {
        self.inner.exits.fetch_add(1, Relaxed);
    }

    #[cfg(all(test, not(loom)))]
    fn exits(&self) -> i32 {
        self.inner.exits.load(Relaxed)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("limits", &self.limits()).finish_non_exhaustive()
    }
}

// ===== Listing =====

/// One object in the namespace listing ([`Namespace::ipcs`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct IpcsEntry {
    /// Message queue, semaphore set or segment.
    pub kind: IpcKind,
    /// The id (`msqid`, `semid`, `shmid`).
    pub id: i32,
    /// Key, owner, creator and mode.
    pub perm: IpcPerm,
    /// The kind's figures.
    pub figures: Figures,
}

/// The namespace listing: every object, message queues first, then segments, then
/// semaphore sets, each kind in index order — the order `ipcs(1)` prints.
///
/// `Display` prints the default `ipcs` table (uids for owners, as `ipcs` does for a uid
/// with no name); the alternate form `{:#}` prints `ipcs -c`'s creator/owner table.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Ipcs {
    entries: Vec<IpcsEntry>,
}

impl Ipcs {
    /// A listing of `entries`, in the order given (the host backend's, read from
    /// `/proc/sysvipc`).
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(crate) fn from_entries(entries: Vec<IpcsEntry>) -> Ipcs {
        Ipcs { entries }
    }

    /// The entries.
    pub fn entries(&self) -> &[IpcsEntry] {
        &self.entries
    }

    /// The entries of one kind.
    pub fn of_kind(&self, kind: IpcKind) -> impl Iterator<Item = &IpcsEntry> + '_ {
        self.entries.iter().filter(move |e| e.kind == kind)
    }

    /// Whether the namespace held nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many objects the namespace held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl fmt::Display for Ipcs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let creators = f.alternate();
        for kind in [IpcKind::MessageQueue, IpcKind::SharedMemory, IpcKind::SemaphoreSet] {
            let suffix = if creators { " Creators/Owners" } else { "" };
            writeln!(f, "\n------ {}{suffix} --------", kind.title())?;
            let id = match kind {
                IpcKind::MessageQueue => "msqid",
                IpcKind::SemaphoreSet => "semid",
                IpcKind::SharedMemory => "shmid",
            };
            if creators {
                writeln!(
                    f,
                    "{id:<10} {:<10} {:<10} {:<10} {:<10} {:<10}",
                    "perms", "cuid", "cgid", "uid", "gid"
                )?;
            } else {
                let cols = match kind {
                    IpcKind::MessageQueue => format!("{:<12} {:<12}", "used-bytes", "messages"),
                    IpcKind::SemaphoreSet => format!("{:<10}", "nsems"),
                    IpcKind::SharedMemory => format!("{:<10} {:<10} {:<12}", "bytes", "nattch", "status"),
                };
                writeln!(f, "{:<10} {id:<10} {:<10} {:<10} {cols}", "key", "owner", "perms")?;
            }
            for e in self.of_kind(kind) {
                let p = &e.perm;
                if creators {
                    writeln!(
                        f,
                        "{:<10} {:<10o} {:<10} {:<10} {:<10} {:<10}",
                        e.id,
                        p.mode & 0o777,
                        p.cuid,
                        p.cgid,
                        p.uid,
                        p.gid
                    )?;
                    continue;
                }
                let cols = match e.figures {
                    Figures::MessageQueue { used_bytes, messages } => {
                        format!("{used_bytes:<12} {messages:<12}")
                    }
                    Figures::SemaphoreSet { nsems } => format!("{nsems:<10}"),
                    Figures::SharedMemory { bytes, nattch, dest, locked } => {
                        let mut status = String::new();
                        if dest {
                            status.push_str("dest ");
                        }
                        if locked {
                            status.push_str("locked");
                        }
                        format!("{bytes:<10} {nattch:<10} {:<12}", status.trim_end())
                    }
                };
                writeln!(f, "{} {:<10} {:<10} {:<10o} {cols}", p.key, e.id, p.uid, p.mode & 0o777)?;
            }
        }
        Ok(())
    }
}

// ===== a minimal mechanism for the generic layer's own tests and loom models =====

/// A kind-less object with only a header: lets the unit tests and the loom models drive
/// `ipcget`, `open_id` and `remove` exactly as the mechanisms do.
#[cfg(any(test, loom))]
pub(crate) mod probe {
    use super::*;
    use std::any::Any;

    /// The probe's shared object.
    #[derive(Debug)]
    pub(crate) struct Probe {
        pub(crate) header: Header,
        /// "Payload type" tag, to exercise `TypeMismatch`.
        pub(crate) tag: u8,
        /// Units it was created with (`units` hook).
        pub(crate) size: u64,
    }

    impl IpcObject for Arc<Probe> {
        fn header(&self) -> &Header {
            &self.header
        }
        fn figures(&self) -> Figures {
            Figures::SemaphoreSet { nsems: self.size }
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn stat_ds(&self) -> Result<Box<dyn Any + Send>, ErrorKind> {
            Ok(Box::new(self.size))
        }
        fn remove(&self) -> Removal {
            self.header.mark_deleted();
            Removal::Now
        }
    }

    /// Open parameters: a tag and a size, checked like semget's nsems.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct ProbeOps {
        pub(crate) tag: u8,
        pub(crate) size: u64,
    }

    impl Ops for ProbeOps {
        type Handle = Arc<Probe>;
        const KIND: IpcKind = IpcKind::SemaphoreSet;

        fn precheck(&self, limits: &Limits) -> Result<(), Fault> {
            if self.size > limits.semmsl as u64 {
                return Err(ErrorKind::InvalidArgument.into());
            }
            Ok(())
        }
        fn more_checks(&self, existing: &dyn IpcObject) -> Result<(), Fault> {
            match existing.as_any().downcast_ref::<Arc<Probe>>() {
                Some(p) if self.size > p.size => Err(ErrorKind::InvalidArgument.into()),
                _ => Ok(()),
            }
        }
        fn units(&self, limits: &Limits, in_use: u64) -> Result<u64, Fault> {
            if self.size == 0 {
                return Err(ErrorKind::InvalidArgument.into());
            }
            if in_use + self.size > limits.semmns as u64 {
                return Err(ErrorKind::NoSpace.into());
            }
            Ok(self.size)
        }
        fn create(&self, header: Header) -> Result<(Box<dyn IpcObject>, Arc<Probe>), ErrorKind> {
            let obj = Arc::new(Probe { header, tag: self.tag, size: self.size });
            Ok((Box::new(obj.clone()), obj))
        }
        fn associate(&self, existing: &dyn IpcObject) -> Result<Arc<Probe>, ErrorKind> {
            match existing.as_any().downcast_ref::<Arc<Probe>>() {
                Some(p) if p.tag == self.tag => Ok(p.clone()),
                _ => Err(ErrorKind::TypeMismatch),
            }
        }
    }

    /// `get(key, flags)` with a probe of tag 0 and size 1.
    pub(crate) fn get(
        ns: &Namespace,
        creds: &Credentials,
        key: i32,
        create: bool,
        exclusive: bool,
        mode: u32,
    ) -> Result<Arc<Probe>, ErrorKind> {
        ns.ipcget(creds, Key::new(key), OpenFlags { create, exclusive, mode }, &ProbeOps { tag: 0, size: 1 })
            .map_err(|f| f.kind)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::probe::{get, Probe, ProbeOps};
    use super::*;
    use crate::ipc::ids::IPCMNI;
    use crate::ipc::Capabilities;

    const C: bool = true;
    const X: bool = true;

    fn root() -> Credentials {
        Credentials::new(0, 0)
    }

    fn user(uid: u32, gid: u32) -> Credentials {
        Credentials::new(uid, gid)
    }

    fn get_ops(
        ns: &Namespace,
        creds: &Credentials,
        key: i32,
        flags: OpenFlags,
        ops: ProbeOps,
    ) -> Result<Arc<Probe>, ErrorKind> {
        ns.ipcget(creds, Key::new(key), flags, &ops).map_err(|f| f.kind)
    }

    #[test]
    fn ids_in_a_fresh_namespace_and_after_removal() {
        let ns = Namespace::new();
        let a = get(&ns, &root(), 0, false, false, 0o600).unwrap();
        let b = get(&ns, &root(), 0, false, false, 0o600).unwrap();
        assert_eq!((a.header.id(), b.header.id()), (0, 1));
        ns.remove(&root(), IpcKind::SemaphoreSet, 0).unwrap();
        let c = get(&ns, &root(), 0, false, false, 0o600).unwrap();
        assert_eq!(c.header.id(), 2);
        assert!(a.header.is_deleted() && !b.header.is_deleted());
        assert_eq!(a.header.check_live(), Err(ErrorKind::InvalidArgument));
    }

    #[test]
    fn private_always_creates_and_is_never_found() {
        let ns = Namespace::new();
        // IPC_CREAT|IPC_EXCL are ignored for IPC_PRIVATE; only the mode bits count
        let a = get(&ns, &root(), 0, C, X, 0o1640).unwrap();
        let b = get(&ns, &root(), 0, C, X, 0o600).unwrap();
        assert_ne!(a.header.id(), b.header.id());
        assert_eq!(a.header.perm().load().mode, 0o640);
        assert_eq!(a.header.perm().load().key, Key::PRIVATE);
        // a public key 0 does not exist: key 0 *is* private
        assert_eq!(ns.ipcs().len(), 2);
    }

    #[test]
    fn public_key_rules() {
        let ns = Namespace::new();
        assert_eq!(get(&ns, &root(), 5, false, false, 0).unwrap_err(), ErrorKind::NotFound);
        assert_eq!(get(&ns, &root(), 5, false, X, 0).unwrap_err(), ErrorKind::NotFound, "IPC_EXCL alone");
        let a = get(&ns, &root(), 5, C, X, 0o600).unwrap();
        assert_eq!(get(&ns, &root(), 5, C, X, 0o600).unwrap_err(), ErrorKind::AlreadyExists);
        // IPC_CREAT on an existing key returns it and ignores the mode bits
        let b = get(&ns, &root(), 5, C, false, 0o777).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(b.header.perm().load().mode, 0o600);
        // IPC_EXCL without IPC_CREAT is ignored on an existing key
        assert!(get(&ns, &root(), 5, false, X, 0).is_ok());
        let p = a.header.perm().load();
        assert_eq!((p.key, p.uid, p.gid, p.cuid, p.cgid, p.seq), (Key::new(5), 0, 0, 0, 0, 0));
    }

    #[test]
    fn eexist_and_more_checks_come_before_eacces() {
        let ns = Namespace::new();
        let owner = user(1000, 1000);
        let other = user(2000, 2000);
        get(&ns, &owner, 7, C, X, 0o600).unwrap();
        assert_eq!(get(&ns, &other, 7, C, X, 0o600).unwrap_err(), ErrorKind::AlreadyExists);
        let big = ProbeOps { tag: 0, size: 2 };
        let flags = OpenFlags { create: false, exclusive: false, mode: 0o400 };
        assert_eq!(get_ops(&ns, &other, 7, flags, big).unwrap_err(), ErrorKind::InvalidArgument);
        assert_eq!(get(&ns, &other, 7, false, false, 0o400).unwrap_err(), ErrorKind::PermissionDenied);
        // mode 0 asks for nothing: the id of a root-only object is handed out
        assert!(get(&ns, &other, 7, false, false, 0).is_ok());
    }

    #[test]
    fn precheck_comes_before_lookup_and_type_mismatch_after_perms() {
        let ns = Namespace::new();
        let mut limits = ns.limits();
        limits.semmsl = 3;
        ns.set_limits(limits).unwrap();
        let flags = OpenFlags { create: false, exclusive: false, mode: 0 };
        assert_eq!(
            get_ops(&ns, &root(), 9, flags, ProbeOps { tag: 0, size: 4 }).unwrap_err(),
            ErrorKind::InvalidArgument
        );
        get(&ns, &root(), 9, C, false, 0o600).unwrap();
        assert_eq!(
            get_ops(&ns, &root(), 9, flags, ProbeOps { tag: 1, size: 1 }).unwrap_err(),
            ErrorKind::TypeMismatch
        );
        let other = user(5, 5);
        let read = OpenFlags { mode: 0o444, ..flags };
        assert_eq!(
            get_ops(&ns, &other, 9, read, ProbeOps { tag: 1, size: 1 }).unwrap_err(),
            ErrorKind::PermissionDenied
        );
        // creation with size 0 is EINVAL (semget nsems 0)
        let create = OpenFlags { create: true, exclusive: false, mode: 0o600 };
        assert_eq!(
            get_ops(&ns, &root(), 10, create, ProbeOps { tag: 0, size: 0 }).unwrap_err(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn enospc_for_objects_and_units() {
        let ns = Namespace::new();
        let mut limits = ns.limits();
        limits.semmni = 2;
        limits.semmns = 3;
        ns.set_limits(limits).unwrap();
        let create = OpenFlags { create: true, exclusive: false, mode: 0o600 };
        get_ops(&ns, &root(), 0, create, ProbeOps { tag: 0, size: 2 }).unwrap();
        assert_eq!(
            get_ops(&ns, &root(), 0, create, ProbeOps { tag: 0, size: 2 }).unwrap_err(),
            ErrorKind::NoSpace,
            "SEMMNS"
        );
        get_ops(&ns, &root(), 0, create, ProbeOps { tag: 0, size: 1 }).unwrap();
        assert_eq!(get(&ns, &root(), 11, C, false, 0o600).unwrap_err(), ErrorKind::NoSpace, "SEMMNI");
        // a failed creation changed nothing: the ids go on 2 after a removal
        ns.remove(&root(), IpcKind::SemaphoreSet, 0).unwrap();
        assert_eq!(get(&ns, &root(), 11, C, false, 0o600).unwrap().header.id(), 2);
        assert_eq!(ns.table_info(IpcKind::SemaphoreSet), (2, 2, 2));
    }

    #[test]
    fn remove_checks_einval_then_eperm() {
        let ns = Namespace::new();
        let owner = user(1000, 1000);
        let a = get(&ns, &owner, 0, false, false, 0).unwrap();
        let id = a.header.id();
        assert_eq!(ns.remove(&owner, IpcKind::SemaphoreSet, -1), Err(ErrorKind::InvalidArgument));
        assert_eq!(
            ns.remove(&owner, IpcKind::MessageQueue, id),
            Err(ErrorKind::InvalidArgument),
            "other table"
        );
        assert_eq!(ns.remove(&user(1001, 1000), IpcKind::SemaphoreSet, id), Err(ErrorKind::NotPermitted));
        let admin = user(1001, 1000).with_capabilities(Capabilities::SYS_ADMIN);
        // the owner with mode 0 may still remove; so may CAP_SYS_ADMIN
        ns.remove(&admin, IpcKind::SemaphoreSet, id).unwrap();
        assert_eq!(
            ns.remove(&owner, IpcKind::SemaphoreSet, id),
            Err(ErrorKind::InvalidArgument),
            "second IPC_RMID"
        );
        assert_eq!(ns.open_id(id, &ProbeOps { tag: 0, size: 1 }).unwrap_err(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn open_by_id_checks_liveness_and_type_only() {
        let ns = Namespace::new();
        let a = get(&ns, &root(), 3, C, false, 0o600).unwrap();
        let id = a.header.id();
        let b = ns.open_id(id, &ProbeOps { tag: 0, size: 1 }).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(ns.open_id(id, &ProbeOps { tag: 9, size: 1 }).unwrap_err(), ErrorKind::TypeMismatch);
        assert_eq!(
            ns.open_id(id + 32768, &ProbeOps { tag: 0, size: 1 }).unwrap_err(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(ns.open_id(-5, &ProbeOps { tag: 0, size: 1 }).unwrap_err(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn listing_prints_like_ipcs() {
        let ns = Namespace::new();
        get(&ns, &user(1000, 100), 42, C, false, 0o640).unwrap();
        let ipcs = ns.ipcs();
        assert_eq!(ipcs.len(), 1);
        let e = ipcs.entries()[0];
        assert_eq!(
            (e.kind, e.id, e.perm.key, e.perm.uid, e.perm.mode),
            (IpcKind::SemaphoreSet, 0, Key::new(42), 1000, 0o640)
        );
        let text = ipcs.to_string();
        assert!(text.contains("------ Semaphore Arrays"), "{text}");
        assert!(text.contains("0x0000002a 0          1000       640        1"), "{text}");
        let creators = format!("{ipcs:#}");
        assert!(
            creators.contains("0          640        1000       100        1000       100"),
            "{creators}"
        );
    }

    #[test]
    fn limits_validation() {
        let ns = Namespace::new();
        for bad in [
            Limits { msgmni: IPCMNI + 1, ..Limits::default() },
            Limits { semvmx: 32768, ..Limits::default() },
            Limits { semvmx: 0, ..Limits::default() },
            Limits { shmmin: 0, ..Limits::default() },
            Limits { shmmin: 10, shmmax: 9, ..Limits::default() },
            Limits { msgmax: i32::MAX as usize + 1, ..Limits::default() },
        ] {
            let err = ns.set_limits(bad).unwrap_err();
            assert_eq!((err.kind(), err.op()), (ErrorKind::InvalidArgument, Op::Sysctl));
        }
        assert_eq!(ns.limits(), Limits::default());
        let max = Limits { msgmni: IPCMNI, semmni: IPCMNI, shmmni: IPCMNI, ..Limits::default() };
        ns.set_limits(max).unwrap();
        assert_eq!(ns.limits(), max);
    }

    #[test]
    fn process_exits_when_its_last_clone_drops() {
        let ns = Namespace::new();
        let p = ns.process(user(1, 1));
        let q = p.clone();
        drop(p);
        assert_eq!(ns.exits(), 0);
        drop(q);
        assert_eq!(ns.exits(), 1);
    }

    #[test]
    fn global_is_one_namespace() {
        assert!(Arc::ptr_eq(&Namespace::global().inner, &Namespace::global().inner));
    }
}

/// The probe mechanism's API for the loom models (`loom-tests/tests/loom_ids.rs`); exists
/// only under `--cfg loom`.
#[cfg(loom)]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
pub mod loom_api {
    use super::probe::{self, Probe, ProbeOps};
    use super::*;

    /// A handle on a probe object.
    pub struct ProbeHandle(Arc<Probe>);

    impl ProbeHandle {
        pub fn id(&self) -> i32 {
            self.0.header.id()
        }
        pub fn is_deleted(&self) -> bool {
            self.0.header.is_deleted()
        }
        pub fn same(&self, other: &ProbeHandle) -> bool {
            Arc::ptr_eq(&self.0, &other.0)
        }
    }

    /// `*get(key, (create ? IPC_CREAT : 0) | (exclusive ? IPC_EXCL : 0) | 0600)`.
    pub fn get(
        ns: &Namespace,
        creds: &Credentials,
        key: i32,
        create: bool,
        exclusive: bool,
    ) -> Result<ProbeHandle, ErrorKind> {
        probe::get(ns, creds, key, create, exclusive, 0o600).map(ProbeHandle)
    }

    /// Open by id.
    pub fn open_id(ns: &Namespace, id: i32) -> Result<ProbeHandle, ErrorKind> {
        ns.open_id(id, &ProbeOps { tag: 0, size: 1 }).map(ProbeHandle)
    }

    /// `IPC_RMID`.
    pub fn remove(ns: &Namespace, creds: &Credentials, id: i32) -> Result<(), ErrorKind> {
        ns.remove(creds, IpcKind::SemaphoreSet, id)
    }

    /// Objects in the probe's table.
    pub fn in_use(ns: &Namespace) -> usize {
        ns.table_info(IpcKind::SemaphoreSet).0
    }
}
