//! Semaphore sets: `semget`, `semop`/`semtimedop` and `semctl` (the kernel's `ipc/sem.c`),
//! with futures where the kernel sleeps.
//!
//! The handle is [`SemaphoreSet`] and an operation [`SemOp`] (both also at the crate root);
//! [`SemopFuture`] and [`AcquireFuture`] are the futures of [`SemaphoreSet::semop`] and
//! [`SemaphoreSet::acquire`], [`Permit`] the guard an acquire returns, [`SemidDs`] and
//! [`SemInfo`] what `IPC_STAT` and `SEM_INFO` report. [`SemaphoreSet::acquire_owned`] and
//! [`SemaphoreSet::acquire_many_owned`] give an [`OwnedPermit`] that holds a clone of the
//! handle, so it is `'static` and moves into a spawned task (tokio's `acquire_owned`);
//! [`SemaphoreSet::try_acquire`] and [`SemaphoreSet::try_acquire_many`] are the
//! `IPC_NOWAIT` forms.
//!
//! # Integer types
//!
//! C's own, the same in every call, so a value read by one call can be passed to another
//! without a cast:
//!
//! | quantity | type | C | where |
//! |---|---|---|---|
//! | a semaphore's number | `u16` | `unsigned short sem_num` | [`SemOp::new`], [`SemaphoreSet::get_val`] and every per-semaphore `semctl`, [`SemaphoreSet::acquire`] |
//! | a semaphore's value | `u16` | `unsigned short` (`GETALL`/`SETALL`'s array) | [`SemaphoreSet::get_val`], [`SemaphoreSet::set_val`], [`SemaphoreSet::get_all`], [`SemaphoreSet::set_all`] |
//! | the number of semaphores | `u16` | `nsems` (one more than the largest `sem_num`) | [`OpenOptions::nsems`](crate::OpenOptions::nsems), [`SemaphoreSet::nsems`], [`SemidDs::nsems`] |
//! | an operation's delta | `i16` | `short sem_op` | [`SemOp::new`], [`SemOp::op`] |
//! | units to acquire | `u16` | a decrement's magnitude | [`SemaphoreSet::acquire`], [`SemaphoreSet::acquire_many`] |
//! | a count of sleepers | `u32` | `GETNCNT`/`GETZCNT`'s return | [`SemaphoreSet::get_ncnt`], [`SemaphoreSet::get_zcnt`] |
//! | a pid | `i32` | `pid_t` | [`SemaphoreSet::get_pid`] |
//!
//! A value is never negative and never above `SEMVMX` (at most 32767), so `u16` holds every
//! value and no more than C's `unsigned short` array does; a value above `SEMVMX` passed to
//! `SETVAL` or `SETALL` is still `ERANGE`, as in the kernel. A set has at most 65536
//! semaphores addressable by a `sem_num`, so `nsems` is a `u16` too (`SEMMSL` may be set
//! higher, but no `sembuf` could name the semaphores beyond).
//!
#![doc = include_str!("behaviour.md")]
//!
//! # Implementation
//!
//! `set.rs` is the engine and this file the facade (tokio's `batch_semaphore` under
//! `Semaphore`).
//!
//! * **Checks before the lock.** `semop` reads its ops once for the checks (the highest
//!   `sem_num`, whether one alters, whether one has `SEM_UNDO`) and reports their errors in
//!   the kernel's order. The permission check is remembered per open (the clones of a
//!   handle share it): the open keeps the permission version its last passing checks read
//!   and the bits they asked for
//!   (`PermCache` in `ipc/perm.rs`), so a later `semop` costs one load and a compare until
//!   an `IPC_SET` moves the version; then the check is made again. The memo is filled at
//!   the open, and again by the handle that made the `IPC_SET`, so that it is only read by
//!   the calls in between (as a message queue's is).
//! * **Per-semaphore word.** Each semaphore's value lives in one `AtomicU32` together with two
//!   flag bits: `SLOW` (bit 31, "owned by the set lock") and `BUSY` (bit 30, "held by a
//!   lock-free multi-op"). Its `sempid` and `sem_otime` are separate atomics written after
//!   the value (`sem_otime` from `CLOCK_REALTIME_COARSE`: a few nanoseconds, not thirty).
//! * **Fast path, one op (no lock):** a `semop` of one operation without `SEM_UNDO` loads the
//!   word; if both flags are clear it computes the new value and publishes it with **one
//!   compare-and-swap** (AcqRel) expecting them clear; `sempid` and `sem_otime` follow as
//!   plain stores. If the operation would block or gives `ERANGE` while the flags are clear,
//!   the load is its linearization point and `EAGAIN`/`ERANGE` need no lock either.
//! * **Fast path, up to four ops (no lock):** a multi-op `semop` without `SEM_UNDO` takes
//!   `BUSY` on each semaphore it names, each by a compare-and-swap that finds both flags
//!   clear (on any conflict it gives back what it took and uses the lock: no waiting, so no
//!   deadlock between two of them), evaluates on the values it read, then stores the new
//!   values (or the old ones on failure) with Release, which clears `BUSY`. All its locks are
//!   taken before any is released (two-phase locking), so it is atomic; `SLOW` was clear on
//!   all of them, so no sleeper names them and there is nobody to wake.
//! * **Slow path (the set's `sync::Mutex`):** everything else. It first sets `SLOW` on every
//!   semaphore it will read or write (a compare-and-swap that waits out `BUSY`, AcqRel) — a
//!   lock-free change made before is thereby acquired, and none can follow — then evaluates
//!   and writes all values, and clears `SLOW` at the end of the critical section on those
//!   semaphores no sleeper names. A word that already has `SLOW` is left as it is (only a
//!   lock holder sets or clears it, and nothing else writes the word meanwhile), so a
//!   contended semaphore, whose sleepers keep it set, costs the lock and no
//!   read-modify-write. `SLOW` stays set while any sleeping operation names the
//!   semaphore (a per-semaphore count under the lock). Hence the fast paths can never see or
//!   leave a half-applied multi-operation semop, never miss a sleeper to wake (a semaphore
//!   with sleepers is always slow), and all multi-semaphore reads (`GETALL`, the wake-up
//!   scans) see one consistent state; `GETVAL` waits out `BUSY` too. This is the kernel's
//!   complex mode made per-semaphore: sem.c takes every per-semaphore spinlock (or waits
//!   them out) before a complex op; here `SLOW` and `BUSY` are those per-semaphore locks and
//!   the single-op CAS is the fast path's `spin_lock` + `spin_unlock`.
//! * **Waiters** are one list in arrival order under the set lock (`set/sleepers.rs`: the
//!   generic `sync::wait_list` specialized to the set's sleeper, with every step inlined and
//!   each sleeper written once into its slot); the kernel's four queue kinds (per-semaphore
//!   and global, alter and const) are views of it filtered by shape, with `merge_queues`
//!   done by reordering.
//! * **Hand-off:** the caller whose change lets a sleeper proceed performs the sleeper's
//!   operation under the lock (as the kernel does) and leaves the outcome in the set's
//!   one-value mailbox, removing the sleeper's entry; the woken future takes it with one
//!   compare-and-swap, without the lock: two set locks per hand-off, as tokio's `Semaphore`,
//!   and no allocation for a one-sop sleeper. With the mailbox occupied the outcome stays in
//!   the entry. The design is in `set/wake.rs`.
//! * **One sop under the lock:** a `semop` of one operation that needs the lock (the
//!   contended semaphore's every call) runs one flat function (`set/one.rs`): it queues a
//!   decrement that must sleep, and an increment hands the unit to the oldest sleeper when
//!   that takes the value to exactly 0 (decided before the increment, so `+k` meeting `-k`
//!   at 0 writes no value), without the generic section's set-up, scans, dispatch and list
//!   of wakers; every other case continues in the generic section under the same lock, at
//!   the point where the generic path would decide, so outcomes and wake order are the
//!   generic path's.
//! * **Undo** records live in the set (its `list_id`), the process keeps (set, record) pairs;
//!   see `undo.rs`.
//! * **Cancellation:** `SETVAL`/`SETALL` bump a per-semaphore generation; a performed
//!   waiter remembers the generation of its completion; its dropped future compares them
//!   to decide rule 3 above.
#![deny(unsafe_code)]

mod ctl;
mod info;
mod op;
mod open;
mod owned;
mod set;
mod undo;

use std::fmt;

use crate::home::on_host;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use self::op::OpList;
pub use self::op::SemOp;
pub use self::open::SemSetParams;
pub use self::owned::{AcquireOwnedFuture, OwnedPermit};
use self::set::{Fast, Set, Ticket};
use self::undo::UndoLists;
use crate::error::{Detail, Error, ErrorKind, Op};
use crate::ipc::perm::{valid_id, PermCache, READ, WRITE};
use crate::ipc::{IpcKind, IpcObject, IpcPerm, Limits};
use crate::lifetime::RemoveOnDrop;
use crate::namespace::Namespace;
use crate::process::Process;
use crate::sync::counters::{count, Event};
use crate::sync::Arc;
use crate::trace;

// ===== SEM_INFO =====

/// What `semctl(0, 0, SEM_INFO, &seminfo)` and `semctl(0, 0, IPC_INFO, &seminfo)` report:
/// the limits, and (`SEM_INFO`) the usage of the namespace's semaphore sets.
///
/// `semmap`, `semmnu` (both `SEMMNS`, 1,024,000,000) and `semume` (`SEMOPM`, 500) are the
/// kernel's compile-time constants in both; `semusz` and `semaem` are the sets and
/// semaphores in use with `SEM_INFO`, and the constants `SEMUSZ` (20) and `SEMAEM` (32767)
/// with `IPC_INFO`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct SemInfo {
    /// The call's return value: the highest index in use in the set table (0 if none).
    pub max_index: i32,
    /// `semmap`: `SEMMAP`, 1,024,000,000 (unused by the kernel).
    pub semmap: usize,
    /// `semmnu`: `SEMMNU`, 1,024,000,000 (unused by the kernel).
    pub semmnu: usize,
    /// `semume`: `SEMUME`, 500 (unused by the kernel).
    pub semume: usize,
    /// `semmni`: the most sets.
    pub semmni: usize,
    /// `semmns`: the most semaphores in all sets.
    pub semmns: usize,
    /// `semmsl`: the most semaphores per set.
    pub semmsl: usize,
    /// `semopm`: the most operations per `semop`.
    pub semopm: usize,
    /// `semvmx`: the largest value.
    pub semvmx: i32,
    /// `semusz`: with `SEM_INFO`, the number of sets in use; with `IPC_INFO`, 20.
    pub semusz: usize,
    /// `semaem`: with `SEM_INFO`, the number of semaphores in use; with `IPC_INFO`, 32767.
    pub semaem: u64,
}

/// `SEMMNS` of `<linux/sem.h>` (`SEMMNI * SEMMSL`), behind `SEMMAP` and `SEMMNU`.
const SEMMNS_CONST: usize = 32000 * 32000;

impl Namespace {
    /// `semctl(0, 0, SEM_INFO, &buf)`: the limits with `semusz` = sets in use and
    /// `semaem` = semaphores in use, and the highest used index.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// me.sem_set(Key::PRIVATE).create(0o600).nsems(4).open()?;
    /// let info = ns.sem_info();
    /// assert_eq!((info.semusz, info.semaem, info.max_index), (1, 4, 0));
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn sem_info(&self) -> SemInfo {
        let l = self.limits();
        let (in_use, units, max_index) = self.table_info(IpcKind::SemaphoreSet);
        SemInfo {
            max_index,
            semmap: SEMMNS_CONST,
            semmnu: SEMMNS_CONST,
            semume: 500,
            semmni: l.semmni,
            semmns: l.semmns,
            semmsl: l.semmsl,
            semopm: l.semopm,
            semvmx: l.semvmx,
            semusz: in_use,
            semaem: units,
        }
    }
}

// ===== SemaphoreSet =====

/// A handle on a semaphore set, bound to the [`Process`] that opened it: the `semid` of
/// `semget`, with `semop` and `semctl` as methods.
///
/// Clones are cheap (one reference count, as for an `Arc<tokio::sync::Semaphore>`) and
/// share the set and the process. The process's `SEM_UNDO` adjustments are applied when its
/// last clone — this handle included — drops.
///
#[doc = include_str!("behaviour.md")]
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, Key, Namespace, SemOp};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), svipc::Error> {
/// let me = Namespace::new().process(Credentials::new(1000, 1000));
/// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
/// set.set_val(0, 1)?;
/// // take sem 0 and give sem 1, atomically
/// set.semop(&[SemOp::new(0, -1), SemOp::new(1, 1)]).await?;
/// assert_eq!(set.get_all()?, [0, 1]);
/// assert!(set.try_semop(&[SemOp::new(0, -1)]).unwrap_err().is_would_block());
/// # Ok(())
/// # }
/// ```
///
/// On Linux the same type also stands for a semaphore set of the host kernel, opened with
/// `svipc::host::Host::current().sem_set(key)`: its calls are then the real `semop` and
/// `semctl`, with the differences the `svipc::host` docs list.
pub struct SemaphoreSet {
    h: Arc<Handle>,
}

/// What a [`SemaphoreSet`] and its clones share: one allocation per open, so that a clone
/// is one reference count, as an `Arc<tokio::sync::Semaphore>`'s is.
///
/// Decision: a handle was these four fields itself, and a clone bumped two counts (the
/// set's and the process's) and dropping it two more; a service that clones a handle into
/// every task or request paid two atomic read-modify-writes more per clone than the peers,
/// on lines every other core's calls read (the set's count sits beside its header). One
/// shared `Handle` costs each call one more load (the handle's fields behind its pointer,
/// a line that only clones and drops write) and makes clones share the permission memo.
struct Handle {
    set: Arc<Set>,
    process: Process,
    /// The opt-in lifetime (`OpenOptions::remove_on_drop`), shared by this open's handles;
    /// or, for a handle on the host kernel, the host set. Read only for the host (the
    /// lifetime is held for its `Drop`).
    #[cfg_attr(any(loom, not(target_os = "linux")), allow(dead_code))]
    extra: Option<Extra>,
    /// The `semop` permission checks that passed for this open's handles, and the
    /// permission version they passed at: a later `semop` re-reads the permissions only
    /// after an `IPC_SET` changed them (see `PermCache`).
    perm: PermCache,
}

impl SemaphoreSet {
    /// The handle of an open: `set` as `process` opened it, its memo primed with what
    /// `process` may do on it now (`PermCache::primed`), as a message queue's is.
    pub(crate) fn new(set: Arc<Set>, process: Process, extra: Option<Extra>) -> SemaphoreSet {
        let perm = PermCache::primed(set.header().perm(), process.credentials());
        SemaphoreSet { h: Arc::new(Handle { set, process, extra, perm }) }
    }
}

impl Clone for SemaphoreSet {
    /// Another handle to the same set, with the same process and the memo of the permission
    /// checks: one reference count.
    #[inline]
    fn clone(&self) -> Self {
        SemaphoreSet { h: self.h.clone() }
    }
}

/// What a handle carries beyond its engine set and process.
pub(crate) enum Extra {
    /// The opt-in lifetime, held only for its `Drop`.
    #[allow(dead_code)]
    Life(RemoveOnDrop),
    /// The handle's home is the host kernel: every call goes to this set, and the engine
    /// fields hold a removed placeholder that no call reaches (`svipc::host`).
    #[cfg(all(target_os = "linux", not(loom)))]
    Host(crate::host::sem::SemSet),
}

#[cfg(all(target_os = "linux", not(loom)))]
impl SemaphoreSet {
    /// The host set, when this handle's home is the host kernel ([`crate::host`]).
    pub fn host(&self) -> Option<&crate::host::sem::SemSet> {
        match &self.h.extra {
            Some(Extra::Host(h)) => Some(h),
            _ => None,
        }
    }

    /// A handle whose home is the host set `host`; the engine fields get a placeholder
    /// (an engine set of the same size in no namespace, marked removed, and a process of a
    /// private namespace with this process's credentials) that no call reaches.
    pub(crate) fn on_host(host: crate::host::sem::SemSet) -> SemaphoreSet {
        static HOME: std::sync::OnceLock<Process> = std::sync::OnceLock::new();
        let process = HOME.get_or_init(|| Namespace::new().process(crate::Credentials::current())).clone();
        let perm = crate::ipc::perm::PermCell::new(crate::Key::PRIVATE, process.credentials(), 0, 0);
        let set = Arc::new(Set::new(crate::ipc::Header::new(host.id(), perm), usize::from(host.nsems())));
        set.header().mark_deleted();
        SemaphoreSet::new(set, process, Some(Extra::Host(host)))
    }
}

/// `struct semid_ds`, as `semctl(IPC_STAT)` fills it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct SemidDs {
    /// `sem_perm`.
    pub perm: IpcPerm,
    /// `sem_otime`: the last successful `semop` (including wait-for-zero ones), a `SETVAL` or
    /// `SETALL` that completed a sleeper, or an exit undo; the max over the semaphores. 0 if
    /// never.
    pub otime: i64,
    /// `sem_ctime`: creation, `IPC_SET`, `SETVAL`, `SETALL`.
    pub ctime: i64,
    /// `sem_nsems`.
    pub nsems: u16,
}

impl fmt::Debug for SemaphoreSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreSet")
            .field("id", &self.id())
            .field("nsems", &self.nsems())
            .field("pid", &self.h.process.pid())
            .finish_non_exhaustive()
    }
}

fn err(kind: ErrorKind) -> Error {
    Error::new(Op::SemOp, kind)
}

fn ctl(kind: ErrorKind) -> Error {
    Error::new(Op::SemCtl, kind)
}

impl SemaphoreSet {
    /// The set's id (`semid`).
    pub fn id(&self) -> i32 {
        self.h.set.header().id()
    }

    /// `sem_nsems`: the number of semaphores, `0..nsems` the valid `sem_num`s.
    pub fn nsems(&self) -> u16 {
        // Sets are made only through `OpenOptions::nsems(u16)`, so this never truncates.
        self.h.set.nsems() as u16
    }

    /// The process this handle acts for (on the host, a placeholder with this process's
    /// credentials and pid in a namespace of its own: the kernel checks the real ones, and
    /// objects opened through it are in-process ones).
    pub fn process(&self) -> &Process {
        &self.h.process
    }

    fn limits(&self) -> Limits {
        self.h.process.namespace().limits()
    }

    fn pid(&self) -> i32 {
        self.h.process.pid()
    }

    /// A `semop` error the set refused with, marked [`is_removed`](Error::is_removed) when
    /// it is the `EINVAL` of this handle's own set having been removed.
    fn op_err(&self, kind: ErrorKind) -> Error {
        Error::of_handle(Op::SemOp, kind, self.h.set.header().is_deleted())
    }

    /// [`op_err`](Self::op_err) for `semctl`.
    fn ctl_err(&self, kind: ErrorKind) -> Error {
        Error::of_handle(Op::SemCtl, kind, self.h.set.header().is_deleted())
    }

    /// The checks before the lock, in the kernel's order, then the fast path, then the slow
    /// path. `Ok(None)`: done; `Ok(Some(ticket))`: queued (only with a waker).
    fn start(&self, ops: &[SemOp], waker: Option<&std::task::Waker>) -> Result<Option<Ticket>, Error> {
        // The two limits a `semop` reads, not the twelve-word snapshot.
        let (semopm, semvmx) = self.h.process.namespace().sem_op_limits();
        // What the checks need of the ops, in one pass (the kernel's loop over the sops in
        // `__do_semtimedop`): the highest `sem_num`, whether any alters, whether any has
        // `SEM_UNDO`. The errors still come in the kernel's order below.
        let (top, alter, undo) = match ops {
            [op] => (op.num(), op.alters(), op.is_undo()),
            _ => ops.iter().fold((0, false, false), |(top, alter, undo), op| {
                (top.max(op.num()), alter | op.alters(), undo | op.is_undo())
            }),
        };
        if ops.len() > semopm {
            return Err(err(ErrorKind::TooBig));
        }
        if ops.is_empty() {
            return Err(err(ErrorKind::InvalidArgument).with(Detail::OpsEmpty));
        }
        let header = self.h.set.header();
        header.check_live().map_err(|k| self.op_err(k))?;
        if usize::from(top) >= self.h.set.nsems() {
            return Err(err(ErrorKind::FileTooBig));
        }
        self.h
            .perm
            .check(header.perm(), self.h.process.credentials(), if alter { WRITE } else { READ })
            .map_err(err)?;
        let pid = self.pid();
        if !undo {
            let fast = match ops {
                [op] => self.h.set.try_fast(*op, pid, semvmx),
                _ => self.h.set.try_fast_multi(ops, pid, semvmx),
            };
            match fast {
                Fast::Done => {
                    count(Event::SemOpDone);
                    return Ok(None);
                }
                Fast::Range => return Err(err(ErrorKind::OutOfRange)),
                Fast::Blocks(i) if ops[i].is_nowait() || waker.is_none() => {
                    return Err(err(ErrorKind::WouldBlock))
                }
                Fast::Blocks(_) | Fast::Slow => {}
            }
        }
        let undo_id = if undo {
            Some(self.h.process.exit_hook(UndoLists::new).find_alloc(&self.h.set).map_err(err)?)
        } else {
            None
        };
        let r = self.h.set.semop(ops, alter, pid, undo_id, semvmx, waker).map_err(|k| self.op_err(k));
        if let Ok(None) = r {
            count(Event::SemOpDone);
        }
        r
    }

    #[inline]
    fn poll_op(&self, ops: &[SemOp], stage: &mut Stage, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let r = match stage {
            Stage::Done => return Poll::Ready(Err(err(ErrorKind::InvalidArgument))),
            Stage::Waiting(ticket) => match self.h.set.poll_waiter(ticket, cx.waker()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => {
                    if r.is_ok() {
                        count(Event::SemOpDone);
                    }
                    r.map_err(err)
                }
            },
            #[cfg(all(target_os = "linux", not(loom)))]
            Stage::Host(_) => return self.poll_host(ops, stage, cx),
            #[cfg(all(target_os = "linux", not(loom)))]
            Stage::Start if self.host().is_some() => return self.poll_host(ops, stage, cx),
            Stage::Start => match self.start(ops, Some(cx.waker())) {
                Ok(Some(ticket)) => {
                    *stage = Stage::Waiting(ticket);
                    return Poll::Pending;
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
        };
        *stage = Stage::Done;
        Poll::Ready(r)
    }

    /// [`poll_op`](Self::poll_op) of a handle on the host: the host's `semop`, made at the
    /// first poll (the future has the ops then), then polled. Out of line and not recursive,
    /// so that the in-process `poll_op` stays small enough to inline into the futures' polls
    /// (a recursive `poll_op` was a call of its own, with the `Stage`'s drop glue beside it).
    #[cfg(all(target_os = "linux", not(loom)))]
    #[cold]
    #[inline(never)]
    fn poll_host(&self, ops: &[SemOp], stage: &mut Stage, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Stage::Start = stage {
            let host = self.host().expect("a host handle");
            *stage = Stage::Host(Box::pin(host.semop(ops)));
        }
        let Stage::Host(fut) = stage else { unreachable!("a host stage") };
        let r = std::task::ready!(fut.as_mut().poll(cx));
        *stage = Stage::Done;
        Poll::Ready(r)
    }

    /// A future at `stage` was dropped; `ops` are its operations. Only a waiting stage has
    /// anything to undo (and no drop glue: a `Ticket` is plain data), so the others are left
    /// for the future's own drop.
    #[inline]
    fn cancel(&self, stage: &mut Stage, ops: &[SemOp]) {
        if let Stage::Waiting(ticket) = *stage {
            *stage = Stage::Done;
            self.h.set.cancel(&ticket, ops, self.pid(), self.h.process.namespace().semvmx());
        }
    }

    /// `semop(semid, ops, nsops)`: applies every operation atomically, waiting while the
    /// first one that cannot proceed has no `IPC_NOWAIT`.
    ///
    /// On success `sempid` becomes the caller's pid on every semaphore named (including
    /// wait-for-zero ones) and `sem_otime` is updated, even for a wait-for-zero-only call.
    /// If a sleeper is woken, it is the waker that performs its operation (see [`SemaphoreSet`]).
    ///
    /// # Errors
    ///
    /// In the kernel's order:
    /// * [`ErrorKind::TooBig`] (E2BIG): more than `SEMOPM` operations (first of all).
    /// * [`ErrorKind::InvalidArgument`] (EINVAL): no operation; or the set was removed
    ///   before the call.
    /// * [`ErrorKind::FileTooBig`] (EFBIG): a `sem_num` at or beyond `sem_nsems`.
    /// * [`ErrorKind::PermissionDenied`] (EACCES): alter permission is needed if any
    ///   `sem_op` is non-zero, read permission otherwise.
    /// * [`ErrorKind::OutOfRange`] (ERANGE): a value would pass `SEMVMX`, or a `semadj`
    ///   would leave `[-32768, 32767]`; also when a retry finds it so.
    /// * [`ErrorKind::WouldBlock`] (EAGAIN): the operation it blocks on has `IPC_NOWAIT`,
    ///   now or at a retry.
    /// * [`ErrorKind::Removed`] (EIDRM): the set was removed while the call waited.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense of the [type docs](SemaphoreSet#cancel-safety): dropped before it
    /// was performed, it had no effect; dropped after a waker performed it, its inverse runs
    /// at once where it can.
    ///
    /// # Memory ordering
    ///
    /// A completed call synchronizes with the calls whose changes it observed (see [`SemaphoreSet`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), svipc::Error> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// let waiter = {
    ///     let set = set.clone();
    ///     tokio::spawn(async move { set.semop(&[SemOp::new(0, -2)]).await })
    /// };
    /// set.semop(&[SemOp::new(0, 2)]).await?; // performs the waiter's decrement
    /// waiter.await.unwrap()?;
    /// assert_eq!(set.get_val(0)?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn semop<'a>(&'a self, ops: &'a [SemOp]) -> SemopFuture<'a> {
        SemopFuture {
            set: self,
            ops,
            stage: Stage::Start,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }

    /// `semop` with `IPC_NOWAIT` on every operation: never waits.
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop), with [`ErrorKind::WouldBlock`] (EAGAIN) where it would wait
    /// (and never `EIDRM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// assert_eq!(set.try_semop(&[SemOp::new(0, -1)]).unwrap_err().errno(), 11); // EAGAIN
    /// set.try_semop(&[SemOp::new(0, 1)])?;
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn try_semop(&self, ops: &[SemOp]) -> Result<(), Error> {
        on_host!(self, Op::SemOp, h => h.try_semop(ops));
        let r = self.try_semop_call(ops);
        trace::call!(Op::SemOp, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn try_semop_call(&self, ops: &[SemOp]) -> Result<(), Error> {
        self.start(ops, None).map(|_| ())
    }

    /// `semtimedop(semid, ops, nsops, timeout)`: [`semop`](Self::semop) giving up after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As `semop`; on expiry [`ErrorKind::WouldBlock`] (EAGAIN) as the kernel reports it,
    /// with [`Error::is_timeout`] true.
    ///
    /// # Cancel safety
    ///
    /// As `semop`; an expiry is a cancellation under the same rule, so an operation
    /// performed for the caller just as the time ran out is inverted where it can be.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), svipc::Error> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// let e = set.semop_timeout(&[SemOp::new(0, -1)], Duration::from_millis(1)).await.unwrap_err();
    /// assert!(e.is_timeout() && e.is_would_block());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A zero timeout tries the operations once and answers `EAGAIN` at the first poll if
    /// they cannot proceed, as `semtimedop` with a zero `timespec` does; a timeout below one
    /// millisecond expires on time (see the [crate docs](crate#executors)).
    ///
    /// # Panics
    ///
    /// When it has to wait one millisecond (tokio's timer tick) or more, outside a tokio
    /// runtime with the time driver enabled, as `tokio::time::sleep` does. A zero or
    /// sub-millisecond timeout and a call that completes at once need no timer.
    #[cfg(not(loom))]
    pub async fn semop_timeout(&self, ops: &[SemOp], timeout: std::time::Duration) -> Result<(), Error> {
        on_host!(self, Op::SemOp, async h => h.semop_timeout(ops, timeout).await);
        let mut fut = self.semop(ops);
        crate::runtime::timeout(&mut fut, timeout).await.unwrap_or_else(|| {
            trace::expired!(fut.wait, Op::SemOp, self.id(), self.pid());
            Err(Error::timed_out(Op::SemOp))
        })
    }

    /// [`semop`](Self::semop) for code outside an async runtime: parks the thread while it
    /// waits, as a C program's `semop` sleeps.
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop).
    ///
    /// # Panics
    ///
    /// On a thread that drives a tokio runtime (a `current_thread` runtime, a multi-thread
    /// worker, `block_on`), where it would hang the runtime or take a worker away, with
    /// tokio's own message: call [`semop`](Self::semop)`(..).await` there, or make the
    /// blocking call from `tokio::task::spawn_blocking` or a plain thread. See the
    /// [crate docs](crate#executors).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace, SemOp};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// let s2 = set.clone();
    /// let t = std::thread::spawn(move || s2.blocking_semop(&[SemOp::new(0, -1)]));
    /// set.blocking_semop(&[SemOp::new(0, 1)])?;
    /// t.join().unwrap()?;
    /// # Ok::<(), svipc::Error>(())
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub fn blocking_semop(&self, ops: &[SemOp]) -> Result<(), Error> {
        on_host!(self, Op::SemOp, h => h.blocking_semop(ops));
        crate::runtime::block_on(self.semop(ops))
    }

    /// Takes `n` units of semaphore `num` (`semop` of `{num, -n}`), returning a guard that
    /// gives them back (`{num, +n}`) when dropped. `n == 0` takes nothing and never waits.
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop); and [`ErrorKind::InvalidArgument`] (EINVAL) for `n`
    /// above 32767 (a `sem_op` is a `short`, and no value can exceed `SEMVMX`).
    ///
    /// # Cancel safety
    ///
    /// As [`semop`](Self::semop): a dropped `AcquireFuture` takes nothing, or gives back what a
    /// waker took for it.
    ///
    /// # Memory ordering
    ///
    /// Taking the units synchronizes with the release that provided them, as for `semop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), svipc::Error> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// set.set_val(0, 3)?;
    /// {
    ///     let _two = set.acquire(0, 2).await?;
    ///     assert_eq!(set.get_val(0)?, 1);
    /// }
    /// assert_eq!(set.get_val(0)?, 3);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn acquire(&self, num: u16, n: u16) -> AcquireFuture<'_> {
        match n {
            // The common case, built directly: the same checks at the first poll as `semop`'s.
            1..=0x7fff => AcquireFuture {
                set: self,
                ops: OpList::One(SemOp::new(num, -(n as i16))),
                checks: None,
                stage: Stage::Start,
                #[cfg(feature = "tracing")]
                wait: trace::Wait::default(),
            },
            _ => self.acquire_ops(&[(num, n)]),
        }
    }

    /// Takes units of several semaphores of the set in **one atomic `semop`**
    /// (`{num, -n}` for each pair), returning one guard that gives them all back in one
    /// `semop` when dropped. Pairs with `n == 0` are skipped.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), svipc::Error> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let forks = me.sem_set(Key::PRIVATE).create(0o600).nsems(5).open()?;
    /// forks.set_all(&[1; 5])?;
    /// let both = forks.acquire_many(&[(0, 1), (1, 1)]).await?; // both forks or neither
    /// assert_eq!(forks.get_all()?, [0, 0, 1, 1, 1]);
    /// drop(both);
    /// assert_eq!(forks.get_all()?, [1; 5]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many(&self, units: &[(u16, u16)]) -> AcquireFuture<'_> {
        self.acquire_ops(units)
    }

    fn acquire_ops(&self, units: &[(u16, u16)]) -> AcquireFuture<'_> {
        let (ops, checks) = self.acquire_checks(units);
        AcquireFuture {
            set: self,
            ops,
            checks: Some(checks),
            stage: Stage::Start,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }

    /// The decrements of an acquire of `units`, and the argument errors to report at its
    /// first poll.
    fn acquire_checks(&self, units: &[(u16, u16)]) -> (OpList, Result<(), Error>) {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(h) = self.host() {
            let ops = OpList::new(
                units
                    .iter()
                    .filter(|&&(_, n)| n != 0)
                    .map(|&(num, n)| SemOp::new(num, -(n.min(i16::MAX as u16) as i16))),
            );
            return (ops, h.check_acquire(units));
        }
        let bad = units.iter().any(|&(_, n)| n > i16::MAX as u16);
        let ops = OpList::new(
            units
                .iter()
                .filter(|&&(_, n)| n != 0)
                .map(|&(num, n)| SemOp::new(num, -(n.min(i16::MAX as u16) as i16))),
        );
        let checks = if bad {
            Err(err(ErrorKind::InvalidArgument).with(Detail::UnitsAboveShortMax))
        } else if ops.is_empty() {
            self.h.set.header().check_live().map_err(|k| self.op_err(k)).and_then(|()| {
                if units.iter().any(|&(num, _)| num >= self.nsems()) {
                    Err(err(ErrorKind::FileTooBig))
                } else {
                    Ok(())
                }
            })
        } else {
            Ok(())
        };
        (ops, checks)
    }

    /// One poll of an acquire (borrowed or owned): `Ready(Ok(give_back))` with the
    /// increments its permit gives back.
    #[inline]
    fn poll_acquire(
        &self,
        ops: &OpList,
        checks: &mut Option<Result<(), Error>>,
        stage: &mut Stage,
        cx: &mut Context<'_>,
    ) -> Poll<Result<OpList, Error>> {
        if let Some(checks) = checks.take() {
            // A failed check or an empty acquire finishes the future: polled again, it
            // answers `EINVAL` and takes nothing.
            if let Err(e) = checks {
                *stage = Stage::Done;
                return Poll::Ready(Err(e));
            }
            if ops.is_empty() {
                *stage = Stage::Done;
                return Poll::Ready(Ok(OpList::default()));
            }
        }
        match self.poll_op(ops, stage, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => Poll::Ready(Ok(give_back(ops))),
        }
    }

    /// [`acquire`](Self::acquire) with `IPC_NOWAIT` (tokio's `Semaphore::try_acquire`):
    /// takes the units now or fails.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire), and [`ErrorKind::WouldBlock`] (`EAGAIN`) where it
    /// would wait (never `EIDRM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// set.set_val(0, 1)?;
    /// let permit = set.try_acquire(0, 1)?;
    /// assert!(set.try_acquire(0, 1).unwrap_err().is_would_block());
    /// drop(permit);
    /// assert_eq!(set.get_val(0)?, 1);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn try_acquire(&self, num: u16, n: u16) -> Result<Permit<'_>, Error> {
        self.try_acquire_many(&[(num, n)])
    }

    /// [`acquire_many`](Self::acquire_many) with `IPC_NOWAIT` (tokio's
    /// `Semaphore::try_acquire_many`, over several semaphores in one atomic `semop`).
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_many(&self, units: &[(u16, u16)]) -> Result<Permit<'_>, Error> {
        let (ops, checks) = self.acquire_checks(units);
        checks.inspect_err(|_e| {
            trace::call!(Op::SemOp, self.id(), self.pid(), &Err::<(), _>(*_e));
        })?;
        if !ops.is_empty() {
            self.try_semop(&ops)?;
        }
        Ok(Permit { set: self, ops: give_back(&ops) })
    }
}

// ===== futures =====

/// Where a `semop` future stands: not started, asleep with its claim on the set, or
/// finished (a poll after completion answers `EINVAL` and changes nothing).
enum Stage {
    Start,
    Waiting(Ticket),
    Done,
    /// The host kernel's `semop`, for a handle on the host (boxed: the future keeps its size;
    /// a trait object, so that the stage's drop glue is one indirect call behind the
    /// variant's test, small enough to inline into the futures' drops, where the host
    /// future's own drop inlined there made it an out-of-line call on every drop).
    #[cfg(all(target_os = "linux", not(loom)))]
    Host(Pin<Box<dyn Future<Output = Result<(), Error>> + Send + Sync>>),
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Start => f.write_str("Start"),
            Stage::Waiting(t) => f.debug_tuple("Waiting").field(t).finish(),
            Stage::Done => f.write_str("Done"),
            #[cfg(all(target_os = "linux", not(loom)))]
            Stage::Host(_) => f.write_str("Host"),
        }
    }
}

/// The increments that undo `ops`' decrements: what a permit gives back.
#[inline]
fn give_back(ops: &OpList) -> OpList {
    match ops {
        OpList::One(op) => OpList::One(SemOp::new(op.num(), -op.op())),
        ops => OpList::new(ops.iter().map(|op| SemOp::new(op.num(), -op.op()))),
    }
}

/// Gives a permit's units back on `set` (its drop). Nothing to report to: see [`Permit`]
/// for when this fails.
#[inline]
fn release(set: &SemaphoreSet, ops: &OpList) {
    if !ops.is_empty() {
        let _ = set.try_semop(ops);
    }
}

/// The future of [`SemaphoreSet::semop`]: a `semop(2)` call that may sleep.
///
/// Resolves once the operations were applied (by this call or, while it slept, by the caller
/// whose change let it proceed) or failed. Dropping it is the kernel's `EINTR`, under the
/// rule of [`SemaphoreSet`]'s `# Cancel safety`.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SemopFuture<'a> {
    set: &'a SemaphoreSet,
    ops: &'a [SemOp],
    stage: Stage,
    #[cfg(feature = "tracing")]
    wait: trace::Wait,
}

impl Future for SemopFuture<'_> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let p = this.set.poll_op(this.ops, &mut this.stage, cx);
        trace::poll!(this.wait, Op::SemOp, this.set.id(), this.set.pid(), &p);
        p
    }
}

impl Drop for SemopFuture<'_> {
    fn drop(&mut self) {
        self.set.cancel(&mut self.stage, self.ops);
        trace::dropped!(self.wait, Op::SemOp, self.set.id(), self.set.pid());
    }
}

impl fmt::Debug for SemopFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemopFuture")
            .field("ops", &self.ops)
            .field("waiting", &matches!(self.stage, Stage::Waiting(_)))
            .finish()
    }
}

/// The future of [`SemaphoreSet::acquire`] and [`SemaphoreSet::acquire_many`]: a `semop(2)`
/// of decrements, resolving to the [`Permit`] that gives them back.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AcquireFuture<'a> {
    set: &'a SemaphoreSet,
    /// The decrements.
    ops: OpList,
    /// Argument errors found when the future was made, reported at the first poll.
    checks: Option<Result<(), Error>>,
    stage: Stage,
    #[cfg(feature = "tracing")]
    wait: trace::Wait,
}

impl<'a> Future for AcquireFuture<'a> {
    type Output = Result<Permit<'a>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let set = this.set;
        let p = set
            .poll_acquire(&this.ops, &mut this.checks, &mut this.stage, cx)
            .map_ok(|ops| Permit { set, ops });
        trace::poll!(this.wait, Op::SemOp, set.id(), set.pid(), &p);
        p
    }
}

impl Drop for AcquireFuture<'_> {
    fn drop(&mut self) {
        self.set.cancel(&mut self.stage, &self.ops);
        trace::dropped!(self.wait, Op::SemOp, self.set.id(), self.set.pid());
    }
}

impl fmt::Debug for AcquireFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireFuture")
            .field("ops", &self.ops)
            .field("waiting", &matches!(self.stage, Stage::Waiting(_)))
            .finish()
    }
}

/// Units taken by [`SemaphoreSet::acquire`] or [`acquire_many`](SemaphoreSet::acquire_many):
/// dropping the guard gives them back in one `semop` (waking whoever can now proceed).
///
/// If the give-back cannot apply — the set was removed, or `SETVAL`/`SETALL` raised a value
/// so that adding the units would pass `SEMVMX` (ERANGE) — the units are not given back,
/// as a C program's `semop` would fail.
#[must_use = "dropping the permit gives the units back at once"]
#[clippy::has_significant_drop]
pub struct Permit<'a> {
    set: &'a SemaphoreSet,
    /// The increments that give the units back.
    ops: OpList,
}

impl Permit<'_> {
    /// Keeps the units taken: dropping the permit no longer gives them back (tokio's
    /// `SemaphorePermit::forget`).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), svipc::Error> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// set.set_val(0, 2)?;
    /// set.acquire(0, 1).await?.forget();
    /// assert_eq!(set.get_val(0)?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn forget(mut self) {
        self.ops = OpList::default();
    }

    /// The set the units were taken from.
    pub fn set(&self) -> &SemaphoreSet {
        self.set
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        release(self.set, &self.ops);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("set", &self.set.id()).field("give_back", &self.ops).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The shared part of a handle, for BENCHMARKS.md's memory table
    /// (`cargo test --lib sem::tests::handle_size -- --nocapture`): one allocation per open,
    /// its two counts and the [`Handle`].
    #[test]
    fn handle_size() {
        let shared = std::mem::size_of::<Handle>() + 2 * std::mem::size_of::<usize>();
        println!(
            "one open's shared handle: {shared} bytes; a handle: {} bytes",
            std::mem::size_of::<SemaphoreSet>()
        );
        assert_eq!(std::mem::size_of::<SemaphoreSet>(), std::mem::size_of::<usize>());
        assert!(shared <= 96, "{shared}");
    }
}
