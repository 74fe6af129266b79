//! `Process`: the actor through which objects are opened — its credentials, and the exit
//! work the mechanisms hang on it, run when its last clone drops (the kernel's `do_exit`
//! calling `exit_sem`).
//!
//! # Exit hooks
//!
//! `Process` knows no mechanism. A mechanism that keeps per-process state registers an
//! [`ExitHook`] with [`Process::exit_hook`] the first time the process needs it (the
//! semaphore module: its `SEM_UNDO` records, on the first open of a set) and gets the same
//! value back on every later call; when the process exits, every registered hook runs once,
//! in registration order. So the dependency points one way — mechanisms import `process`,
//! never the reverse — as the kernel's `ipc/` code plugs into `do_exit` through
//! `exit_sem()`/`exit_shm()`.

use std::any::Any;
use std::fmt;

use crate::error::{Detail, Error, ErrorKind, Op};
use crate::ipc::perm::READ;
use crate::ipc::{Credentials, IpcKind, Key, OpenFlags, Ops};
use crate::namespace::Namespace;
use crate::sync::{Arc, Mutex};

/// Per-process work of a mechanism, run once when the process exits; see the module docs.
///
/// The hook value is also the mechanism's per-process state: [`Process::exit_hook`] hands a
/// clone back, found by its type, so an implementor is a cheap handle (an `Arc`).
pub(crate) trait ExitHook: Any + Send + Sync {
    /// The process exits: `pid` is its pid, `ns` its namespace.
    fn exit(&self, pid: i32, ns: &Namespace);

    /// The hook as `Any`, to find it again by type.
    fn as_any(&self) -> &dyn Any;
}

/// An actor in a [`Namespace`]: what a process is to the kernel's IPC code.
///
/// A `Process` carries the [`Credentials`] that every permission check reads and that
/// `msg_lspid`, `sempid` and `shm_lpid` record. Objects are opened through it, and every
/// handle and attach guard opened through it holds a clone. Clones share one identity, as
/// the threads of one process do.
///
/// The process **exits** when its last clone — handle, guard or `Process` value — drops,
/// the moment the kernel's `exit_sem` runs; the semaphore mechanism applies the `SEM_UNDO`
/// adjustments then. One `Process` per task is the pattern: a task that panics or is
/// cancelled drops its handles and so gives its semaphores back.
///
/// | C call | by key | by id |
/// |---|---|---|
/// | `msgget` | [`msg_queue`](Process::msg_queue) | [`msg_queue_by_id`](Process::msg_queue_by_id) |
/// | `semget` | [`sem_set`](Process::sem_set) | [`sem_set_by_id`](Process::sem_set_by_id) |
/// | `shmget` | [`shm_segment`](Process::shm_segment) | [`shm_segment_by_id`](Process::shm_segment_by_id) |
/// | `ipcrm` (`IPC_RMID` without knowing the payload type) | | [`remove`](Process::remove) |
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, Namespace};
///
/// let ns = Namespace::new();
/// let worker = ns.process(Credentials::new(1000, 1000).with_pid(7));
/// let same_worker = worker.clone(); // another thread of the same process
/// assert_eq!(same_worker.pid(), 7);
/// ```
#[derive(Clone)]
pub struct Process {
    inner: Arc<ProcessInner>,
}

struct ProcessInner {
    ns: Namespace,
    creds: Credentials,
    /// This process's identity in its namespace, unique there (pids need not be): what a
    /// segment records as its creator (`shm_creator`).
    token: u64,
    /// The mechanisms' exit work and per-process state (the semaphore module's
    /// `struct sem_undo_list`), shared by every clone as threads share theirs
    /// (`CLONE_SYSVSEM`); run in `Drop`.
    hooks: Mutex<Vec<Box<dyn ExitHook>>>,
}

impl Process {
    pub(crate) fn new(ns: Namespace, creds: Credentials, token: u64) -> Process {
        Process { inner: Arc::new(ProcessInner { ns, creds, token, hooks: Mutex::new(Vec::new()) }) }
    }

    /// The process's identity in its namespace (never 0).
    pub(crate) fn token(&self) -> u64 {
        self.inner.token
    }

    /// The registered hook of type `H`, or `make()` registered now: a mechanism's
    /// per-process state, made on first use and run at exit. One lock of a short list;
    /// callers keep the clone they get (a handle does, from its open on).
    pub(crate) fn exit_hook<H: ExitHook + Clone>(&self, make: impl FnOnce() -> H) -> H {
        let mut hooks = self.inner.hooks.lock();
        if let Some(hook) = hooks.iter().find_map(|h| h.as_any().downcast_ref::<H>()) {
            return hook.clone();
        }
        let hook = make();
        hooks.push(Box::new(hook.clone()));
        hook
    }

    /// `getpid()` and friends: the running OS process as an actor — a `Process` in
    /// [`Namespace::global`] with [`Credentials::current`] (the real pid, effective uid and
    /// gid, supplementary groups and capabilities). The short way in when one actor is
    /// enough; for several actors, or a namespace of your own, use
    /// [`Namespace::process`].
    ///
    /// Each call makes a new actor: its `SEM_UNDO` adjustments are applied when the last
    /// clone of *that* value drops, not at the end of the OS process. Keep one and clone it.
    ///
    /// Not available under `cfg(loom)`, where no object may outlive one model run.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Key, MessageQueue, Namespace, Process, Select};
    ///
    /// let me = Process::current();
    /// assert_eq!(me.pid(), std::process::id() as i32);
    ///
    /// let q: MessageQueue<String> = me.msg_queue(Key::PRIVATE).create(0o600).open()?; // msgget
    /// assert!(Namespace::global().ipcs().entries().iter().any(|e| e.id == q.id())); // ipcs sees it
    /// q.try_send(1, "hello".to_string())?;                                           // msgsnd
    /// assert_eq!(q.try_recv(Select::Any)?, (1, "hello".to_string()));                // msgrcv
    /// q.remove()?; // the global namespace lives as long as the OS process: clean up
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn current() -> Process {
        Namespace::global().process(Credentials::current())
    }

    /// The credentials every call of this actor is checked with.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.creds
    }

    /// The pid its calls record.
    pub fn pid(&self) -> i32 {
        self.inner.creds.pid()
    }

    /// The namespace it lives in.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.ns
    }

    /// The `*_STAT` and `*_STAT_ANY` commands (`msgctl`, `semctl`, `shmctl`) written once:
    /// the object in slot `index & 0x7fff` of `kind`'s table, its full id and its `*_ds`
    /// (`D`, the mechanism's struct). In the kernel's order: `EINVAL` for a negative index
    /// (the syscall's `id < 0` check) or an empty slot, then — unless `any` (`*_STAT_ANY`)
    /// — `EACCES` without read permission.
    pub(crate) fn stat_index<D: 'static>(
        &self,
        kind: IpcKind,
        index: i32,
        any: bool,
        op: Op,
    ) -> Result<(i32, D), Error> {
        let e = |k| Error::new(op, k);
        let r = if index < 0 {
            Err(e(ErrorKind::InvalidArgument))
        } else {
            self.inner
                .ns
                .at_index(kind, index, |id, obj| {
                    if !any {
                        obj.header().perm().check(&self.inner.creds, READ)?;
                    }
                    let ds = obj.stat_ds()?.downcast::<D>().map_err(|_| ErrorKind::InvalidArgument)?;
                    Ok((id, *ds))
                })
                .map_err(e)
        };
        // The event's id: the full id found, or the index asked for.
        crate::trace::call!(op, r.as_ref().map_or(index, |r| r.0), self.pid(), &r);
        r
    }

    /// `IPC_STAT` by id whatever the payload type: `EINVAL` for a stale or unknown id, then
    /// `EACCES` without read permission, then the mechanism's `*_ds` (`D`).
    #[cfg_attr(loom, allow(dead_code))] // its caller, the C layer (`svipc::c`), is not built under loom
    pub(crate) fn stat_id<D: 'static>(&self, kind: IpcKind, id: i32, op: Op) -> Result<D, Error> {
        self.inner
            .ns
            .at_id(kind, id, |obj| {
                obj.header().perm().check(&self.inner.creds, READ)?;
                obj.stat_ds()?.downcast::<D>().map(|ds| *ds).map_err(|_| ErrorKind::InvalidArgument)
            })
            .map_err(|k| Error::new(op, k))
    }

    /// `ipcrm -q/-s/-m ID`: `IPC_RMID` by id without knowing the payload type
    /// (`msgctl`, `semctl` or `shmctl` with `IPC_RMID`).
    ///
    /// Waiters on a removed queue or set fail with `EIDRM`; a segment that is still attached
    /// is only marked (`SHM_DEST`, its key made private) and goes with its last detach.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL): no
    ///   live object of that kind has this id (it was never handed out, or was removed).
    /// * [`ErrorKind::NotPermitted`](crate::ErrorKind::NotPermitted) (EPERM): the caller is
    ///   neither owner nor creator and lacks `CAP_SYS_ADMIN`.
    pub fn remove(&self, kind: IpcKind, id: i32) -> Result<(), Error> {
        let r = self.inner.ns.remove(&self.inner.creds, kind, id).map_err(|k| Error::new(Op::IpcRm, k));
        // The event names the C call it is: `msgctl`, `semctl` or `shmctl` with `IPC_RMID`.
        crate::trace::call!(
            match kind {
                IpcKind::MessageQueue => Op::MsgCtl,
                IpcKind::SemaphoreSet => Op::SemCtl,
                IpcKind::SharedMemory => Op::ShmCtl,
            },
            id,
            self.pid(),
            &r
        );
        r
    }
}

impl Drop for ProcessInner {
    /// The process exits: every registered hook runs once (`exit_sem`).
    fn drop(&mut self) {
        let hooks = std::mem::take(&mut *self.hooks.lock());
        for hook in hooks {
            hook.exit(self.creds.pid(), &self.ns);
        }
        #[cfg(test)]
        self.ns.note_exit();
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process").field("credentials", &self.inner.creds).finish_non_exhaustive()
    }
}

// ===== OpenOptions =====

/// The flags of a `msgget`, `semget` or `shmget` call, as a builder; the mechanism's
/// parameters (a payload type, `nsems`, a size) ride along in `P`, and the mechanism
/// provides `open()`.
///
/// Made by the `Process` methods that name a mechanism (`msg_queue`, `sem_set`,
/// `shm_segment`). Without [`create`](Self::create) the key must name an existing object
/// (`ENOENT` otherwise); [`mode`](Self::mode) is then the access requested, as in
/// `msgget(key, 0400)`.
///
/// # Two checks C does not make
///
/// `open()` refuses two calls the kernel accepts, each with
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (`EINVAL`) and an
/// [`Error::detail`] naming the mistake, before anything else is checked:
///
/// * **[`Key::PRIVATE`] without [`create`](Self::create).** The kernel's `IPC_PRIVATE`
///   always creates, so `msgget(IPC_PRIVATE, 0)` makes a queue of mode 0 that only root
///   can use: a program that forgot the mode fails later, with `EACCES`, and only when it
///   does not run as root. Here a private object needs `.create(mode)`, so the mode is
///   always chosen.
/// * **A mode with bits above `0o777`.** C's flag word carries `IPC_CREAT` and `IPC_EXCL`
///   above the nine permission bits and the kernel keeps only those nine; the builder has
///   methods for the flags, so a higher bit can only be a mistake — most often a decimal
///   `600` (which is `0o1130`) for `0o600`.
///
/// ```
/// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace};
///
/// let me = Namespace::new().process(Credentials::new(1000, 1000));
/// let e = me.msg_queue::<Vec<u8>>(Key::PRIVATE).open().unwrap_err();
/// assert_eq!((e.kind(), e.detail()), (ErrorKind::InvalidArgument, Some("Key::PRIVATE always creates: call .create(mode)")));
/// let e = me.msg_queue::<Vec<u8>>(Key::PRIVATE).create(600).open().unwrap_err();
/// assert_eq!(e.to_string(), "msgget: invalid argument (EINVAL): mode has bits outside 0o777");
/// let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
/// assert_eq!(q.stat()?.perm.mode, 0o600);
/// # Ok::<(), svipc::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "nothing is opened until `open()` is called"]
pub struct OpenOptions<'p, P> {
    pub(crate) process: &'p Process,
    pub(crate) key: Key,
    pub(crate) flags: OpenFlags,
    pub(crate) params: P,
}

impl<'p, P> OpenOptions<'p, P> {
    pub(crate) fn new(process: &'p Process, key: Key, params: P) -> Self {
        OpenOptions { process, key, flags: OpenFlags::default(), params }
    }

    /// `IPC_CREAT | mode`: create the object if the key names none, with permissions
    /// `mode` (at most `0o777`: see [the checks C does not make](Self#two-checks-c-does-not-make)).
    /// On an existing object the mode is the access requested.
    pub fn create(mut self, mode: u32) -> Self {
        self.flags.create = true;
        self.flags.mode = mode;
        self
    }

    /// `IPC_EXCL`: with [`create`](Self::create), fail with `EEXIST` if the key already names
    /// an object. Ignored without it and for [`Key::PRIVATE`], as in the kernel.
    pub fn exclusive(mut self) -> Self {
        self.flags.exclusive = true;
        self
    }

    /// The mode bits alone: the access requested when opening an existing object (`0` asks
    /// for nothing; `0o400` asks for read), or the permissions of a new one.
    pub fn mode(mut self, mode: u32) -> Self {
        self.flags.mode = mode;
        self
    }

    /// The key being opened.
    pub fn key(&self) -> Key {
        self.key
    }

    /// All the flags at once, as a C `*get` call passes them.
    #[cfg_attr(loom, allow(dead_code))] // its caller, the C layer (`svipc::c`), is not built under loom
    pub(crate) fn flags(mut self, flags: OpenFlags) -> Self {
        self.flags = flags;
        self
    }

    /// The `*get` call every mechanism's `open()` makes: the two svipc-only checks (see the
    /// type docs), then the kernel's `ipcget` with the mechanism's hooks; errors name `op`.
    pub(crate) fn ipcget<O: Ops>(&self, ops: &O, op: Op) -> Result<O::Handle, Error> {
        let invalid = |detail| Error::new(op, ErrorKind::InvalidArgument).with(detail);
        if self.flags.mode & !0o777 != 0 {
            return Err(invalid(Detail::ModeBits));
        }
        if self.key.is_private() && !self.flags.create {
            return Err(invalid(Detail::PrivateWithoutCreate));
        }
        self.process
            .namespace()
            .ipcget(self.process.credentials(), self.key, self.flags, ops)
            .map_err(|f| f.at(op))
    }
}
