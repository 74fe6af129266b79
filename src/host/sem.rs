//! A semaphore set of the host kernel: [`SemSet`], `semop`/`semctl` with futures that wait
//! on a waiter thread, and permits that give units back on drop.
//!
//! # Cancellation
//!
//! A dropped [`SemopFuture`] whose `semop` the kernel completed anyway (the interruption
//! came too late) is undone by its inverse — every `sem_op` negated, zero-waits dropped,
//! `SEM_UNDO` kept so the process's adjustment nets to zero — applied from a waiter thread,
//! as the in-process rule does. The inverse of a decrement is an increment, which never
//! waits; an inverse that must decrement (the call also incremented) waits on the waiter
//! thread until it can apply. In between, other processes may see (and take) the units the
//! call had moved, exactly as they could see the effect of a C `semop` that was followed by
//! its inverse.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::sys;
use super::wait::{with_timeout, Blocking, Timed, WaitFuture};
use super::{os_error, perm_of};
use crate::error::{Detail, Error, ErrorKind, Op};
use crate::sem::{SemOp, SemidDs};

/// `IPC_NOWAIT` as a `sem_flg` bit.
const IPC_NOWAIT: i16 = 0o4000;

/// A semaphore set of the host kernel: a `semid`.
///
/// Opened by [`Host::sem_set`](super::Host::sem_set). The handle is the id: cloning copies
/// it, dropping it removes nothing.
#[derive(Clone, Debug)]
pub struct SemSet {
    id: i32,
    nsems: u16,
}

/// `semop` of a list of operations.
struct SemJob {
    id: i32,
    ops: Vec<libc::sembuf>,
}

impl SemJob {
    fn new(id: i32, ops: &[SemOp]) -> SemJob {
        SemJob { id, ops: ops.iter().map(|o| sys::sembuf(o.num(), o.op(), o.flags())).collect() }
    }
}

impl Blocking for SemJob {
    type Output = ();

    fn attempt(&mut self, nowait: bool) -> Result<(), i32> {
        if nowait {
            let mut ops: Vec<libc::sembuf> =
                self.ops.iter().map(|o| sys::sembuf(o.sem_num, o.sem_op, o.sem_flg | IPC_NOWAIT)).collect();
            sys::semop(self.id, &mut ops)
        } else {
            sys::semop(self.id, &mut self.ops)
        }
    }

    fn would_block(errno: i32) -> bool {
        errno == libc::EAGAIN
    }

    fn undo(&mut self, (): ()) {
        let mut inverse: Vec<libc::sembuf> = self
            .ops
            .iter()
            .filter(|o| o.sem_op != 0)
            .map(|o| sys::sembuf(o.sem_num, -o.sem_op, o.sem_flg & !IPC_NOWAIT))
            .collect();
        if inverse.is_empty() {
            return;
        }
        loop {
            match sys::semop(self.id, &mut inverse) {
                Err(libc::EINTR) => continue,
                // Applied; or the set is gone (EIDRM, EINVAL), or a value would pass SEMVMX
                // (ERANGE), where a C program's inverse would fail the same way.
                _ => return,
            }
        }
    }
}

/// The future of [`SemSet::semop`] (and of [`SemSet::acquire`], through
/// [`AcquireFuture`]).
///
/// # Cancel safety
///
/// Dropped, it has changed nothing: a `semop` the kernel completed as it was dropped is
/// undone by its inverse (see the [module docs](self)).
#[must_use = "futures do nothing unless polled"]
pub struct SemopFuture {
    /// `Ok(None)`: nothing to do (an acquire of no units), done at the first poll.
    call: Result<Option<WaitFuture<SemJob>>, Error>,
}

impl fmt::Debug for SemopFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemopFuture").finish_non_exhaustive()
    }
}

impl Future for SemopFuture {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().call {
            Ok(Some(fut)) => Pin::new(fut).poll(cx).map(|r| r.map_err(|e| os_error(Op::SemOp, e))),
            Ok(None) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(*e)),
        }
    }
}

/// The future of [`SemSet::acquire`]: a [`Permit`] once the units are taken.
///
/// # Cancel safety
///
/// As [`SemopFuture`]: dropped, it has taken nothing.
#[must_use = "futures do nothing unless polled"]
pub struct AcquireFuture<'a> {
    set: &'a SemSet,
    give_back: Vec<SemOp>,
    inner: SemopFuture,
}

impl fmt::Debug for AcquireFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireFuture").field("set", &self.set.id).finish_non_exhaustive()
    }
}

impl<'a> Future for AcquireFuture<'a> {
    type Output = Result<Permit<'a>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.inner)
            .poll(cx)
            .map(|r| r.map(|()| Permit { set: this.set, give_back: std::mem::take(&mut this.give_back) }))
    }
}

/// Units taken by [`SemSet::acquire`], given back (`semop` of `+n`, `IPC_NOWAIT`) on drop.
///
/// If the give-back cannot apply (the set was removed, or a value would pass `SEMVMX`), the
/// units are not given back, as a C program's `semop` would fail.
#[must_use = "dropping the permit gives the units back at once"]
pub struct Permit<'a> {
    set: &'a SemSet,
    give_back: Vec<SemOp>,
}

impl Permit<'_> {
    /// Keeps the units: dropping the permit no longer gives them back.
    pub fn forget(mut self) {
        self.give_back.clear();
    }

    /// The set the units were taken from.
    pub fn set(&self) -> &SemSet {
        self.set
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("set", &self.set.id).field("give_back", &self.give_back).finish()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.give_back.is_empty() {
            let _ = self.set.try_semop(&self.give_back);
        }
    }
}

fn sem_err(e: i32) -> Error {
    os_error(Op::SemOp, e)
}

/// The kernel's `SEMVMX` (a constant, not a sysctl).
const SEMVMX: u16 = 32767;

fn ctl_err(e: i32) -> Error {
    os_error(Op::SemCtl, e)
}

impl SemSet {
    pub(crate) fn from_id(id: i32) -> Result<SemSet, Error> {
        let ds = sys::semctl_stat(id).map_err(ctl_err)?;
        Ok(SemSet { id, nsems: ds.sem_nsems as u16 })
    }

    /// The set's id (`semid`).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// `sem_nsems`: semaphores in the set.
    pub fn nsems(&self) -> u16 {
        self.nsems
    }

    /// `semop(semid, ops, nops)`: applies all of `ops` atomically, waiting (on a waiter
    /// thread) until they can.
    ///
    /// # Errors
    ///
    /// The kernel's errno: `EINVAL` for an empty list or a dead id, `E2BIG` above
    /// `SEMOPM`, `EFBIG` for a `sem_num` beyond the set, `ERANGE` past `SEMVMX`, `EACCES`,
    /// `EAGAIN` where an operation with `IPC_NOWAIT` would wait, `EIDRM` if the set was
    /// removed while the call waited.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future changes nothing: a completed `semop` is undone by its inverse.
    pub fn semop(&self, ops: &[SemOp]) -> SemopFuture {
        SemopFuture { call: Ok(Some(WaitFuture::new(SemJob::new(self.id, ops)))) }
    }

    /// `semop` with `IPC_NOWAIT` on every operation.
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop), and `EAGAIN` where it would wait.
    pub fn try_semop(&self, ops: &[SemOp]) -> Result<(), Error> {
        let mut job = SemJob::new(self.id, ops);
        loop {
            match job.attempt(true) {
                Err(libc::EINTR) => continue,
                r => return r.map_err(sem_err),
            }
        }
    }

    /// `semop` on this thread, as C calls it: the thread sleeps.
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop).
    ///
    /// # Panics
    ///
    /// On a thread that drives a tokio runtime, as the in-process `blocking_semop`.
    #[track_caller]
    pub fn blocking_semop(&self, ops: &[SemOp]) -> Result<(), Error> {
        let mut job = SemJob::new(self.id, ops);
        crate::runtime::block_on(std::future::poll_fn(|_| Poll::Ready(job.run_blocking()))).map_err(sem_err)
    }

    /// [`semop`](Self::semop) that gives up after `timeout` (`EAGAIN` with
    /// `is_timeout()`, as `semtimedop`).
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop); on expiry `EAGAIN` with [`Error::is_timeout`].
    ///
    /// # Cancel safety
    ///
    /// As [`semop`](Self::semop).
    ///
    /// # Panics
    ///
    /// Where it must wait a millisecond or more outside a tokio runtime with a timer.
    pub async fn semop_timeout(&self, ops: &[SemOp], timeout: Duration) -> Result<(), Error> {
        match with_timeout(WaitFuture::new(SemJob::new(self.id, ops)), timeout).await {
            Timed::Done(r) => r.map_err(sem_err),
            Timed::Expired => Err(Error::timed_out(Op::SemOp)),
        }
    }

    /// The operations that take `units` and give them back, after the in-process checks:
    /// `EINVAL` above 32767 units; with no unit to take, the set must exist (`EINVAL`) and
    /// every `num` lie in it (`EFBIG`), and the empty acquire succeeds without a call.
    fn acquire_ops(&self, units: &[(u16, u16)]) -> Result<(Vec<SemOp>, Vec<SemOp>), Error> {
        if units.iter().any(|&(_, n)| n > i16::MAX as u16) {
            return Err(Error::new(Op::SemOp, ErrorKind::InvalidArgument).with(Detail::UnitsAboveShortMax));
        }
        if units.iter().all(|u| u.1 == 0) {
            sys::semctl_stat(self.id).map_err(sem_err)?;
            if units.iter().any(|&(num, _)| num >= self.nsems) {
                return Err(Error::new(Op::SemOp, ErrorKind::FileTooBig));
            }
        }
        let take = units.iter().filter(|u| u.1 != 0).map(|&(num, n)| SemOp::new(num, -(n as i16))).collect();
        let back = units.iter().filter(|u| u.1 != 0).map(|&(num, n)| SemOp::new(num, n as i16)).collect();
        Ok((take, back))
    }

    /// The checks an acquire of `units` makes before any `semop` (the in-process ones).
    pub(crate) fn check_acquire(&self, units: &[(u16, u16)]) -> Result<(), Error> {
        self.acquire_ops(units).map(drop)
    }

    /// Takes `n` units of semaphore `num` (`semop` of `-n`), waiting until they are
    /// there; the [`Permit`] gives them back on drop.
    ///
    /// # Errors
    ///
    /// As [`semop`](Self::semop); `EINVAL` for `n` above 32767 (a `short`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future takes nothing (a completed `semop` is undone).
    pub fn acquire(&self, num: u16, n: u16) -> AcquireFuture<'_> {
        self.acquire_many(&[(num, n)])
    }

    /// Takes units of several semaphores at once (one atomic `semop`).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub fn acquire_many(&self, units: &[(u16, u16)]) -> AcquireFuture<'_> {
        match self.acquire_ops(units) {
            Ok((take, back)) if take.is_empty() => {
                AcquireFuture { set: self, give_back: back, inner: SemopFuture { call: Ok(None) } }
            }
            Ok((take, back)) => AcquireFuture { set: self, give_back: back, inner: self.semop(&take) },
            Err(e) => AcquireFuture { set: self, give_back: Vec::new(), inner: SemopFuture { call: Err(e) } },
        }
    }

    /// [`acquire`](Self::acquire) with `IPC_NOWAIT`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire), and `EAGAIN` where it would wait.
    pub fn try_acquire(&self, num: u16, n: u16) -> Result<Permit<'_>, Error> {
        let (take, back) = self.acquire_ops(&[(num, n)])?;
        if !take.is_empty() {
            self.try_semop(&take)?;
        }
        Ok(Permit { set: self, give_back: back })
    }

    fn get(&self, num: u16, cmd: i32) -> Result<i32, Error> {
        sys::semctl_int(self.id, i32::from(num), cmd, 0).map_err(ctl_err)
    }

    /// `semctl(semid, num, GETVAL)`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for `num` beyond the set or a dead id; `EACCES` without read permission.
    pub fn get_val(&self, num: u16) -> Result<u16, Error> {
        self.get(num, libc::GETVAL).map(|v| v as u16)
    }

    /// `semctl(semid, num, GETPID)`: the pid of the last process that changed it.
    ///
    /// # Errors
    ///
    /// As [`get_val`](Self::get_val).
    pub fn get_pid(&self, num: u16) -> Result<i32, Error> {
        self.get(num, libc::GETPID)
    }

    /// `semctl(semid, num, GETNCNT)`: callers waiting for it to grow.
    ///
    /// # Errors
    ///
    /// As [`get_val`](Self::get_val).
    pub fn get_ncnt(&self, num: u16) -> Result<u32, Error> {
        self.get(num, libc::GETNCNT).map(|v| v as u32)
    }

    /// `semctl(semid, num, GETZCNT)`: callers waiting for it to be zero.
    ///
    /// # Errors
    ///
    /// As [`get_val`](Self::get_val).
    pub fn get_zcnt(&self, num: u16) -> Result<u32, Error> {
        self.get(num, libc::GETZCNT).map(|v| v as u32)
    }

    /// `semctl(semid, 0, GETALL)`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a dead id; `EACCES` without read permission.
    pub fn get_all(&self) -> Result<Vec<u16>, Error> {
        let mut vals = vec![0; usize::from(self.nsems)];
        sys::semctl_getall(self.id, &mut vals).map_err(ctl_err)?;
        Ok(vals)
    }

    /// `semctl(semid, num, SETVAL, val)`; wakes the callers it lets through.
    ///
    /// # Errors
    ///
    /// `ERANGE` above `SEMVMX`; `EINVAL` for `num` beyond the set or a dead id; `EACCES`
    /// without write permission.
    pub fn set_val(&self, num: u16, val: u16) -> Result<(), Error> {
        sys::semctl_int(self.id, i32::from(num), libc::SETVAL, i32::from(val)).map(drop).map_err(ctl_err)
    }

    /// `semctl(semid, 0, SETALL, vals)`.
    ///
    /// # Errors
    ///
    /// As [`set_val`](Self::set_val); `EINVAL` unless `vals` has `nsems` values, after
    /// the id's check and `ERANGE` for a value above `SEMVMX`, as in-process.
    pub fn set_all(&self, vals: &[u16]) -> Result<(), Error> {
        if vals.len() != usize::from(self.nsems) {
            // C's array has no length, so the kernel has no error for a wrong one; the
            // in-process order (`tests/host/same.rs` compares it): a dead id, then the
            // values' `ERANGE` (the kernel's check of the array it copied), then `EINVAL`.
            sys::semctl_stat(self.id).map_err(ctl_err)?;
            return Err(if vals.iter().any(|&v| v > SEMVMX) {
                Error::new(Op::SemCtl, ErrorKind::OutOfRange).with(Detail::ValAboveSemvmx)
            } else {
                Error::new(Op::SemCtl, ErrorKind::InvalidArgument).with(Detail::ValsLength)
            });
        }
        sys::semctl_setall(self.id, vals).map_err(ctl_err)
    }

    /// `semctl(semid, 0, IPC_STAT)`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a dead id; `EACCES` without read permission.
    #[allow(clippy::unnecessary_cast)] // time_t and the counters are 32 bits on some targets
    pub fn stat(&self) -> Result<SemidDs, Error> {
        let ds = sys::semctl_stat(self.id).map_err(ctl_err)?;
        Ok(SemidDs {
            perm: perm_of(&ds.sem_perm),
            otime: ds.sem_otime as i64,
            ctime: ds.sem_ctime as i64,
            nsems: ds.sem_nsems as u16,
        })
    }

    /// `semctl(semid, 0, IPC_SET)`: owner and mode.
    ///
    /// # Errors
    ///
    /// `EPERM` for a caller who is neither owner, creator nor privileged; `EINVAL` for a
    /// dead id.
    pub fn set(&self, uid: u32, gid: u32, mode: u32) -> Result<(), Error> {
        sys::semctl_set(self.id, uid, gid, mode).map_err(ctl_err)
    }

    /// `semctl(semid, 0, IPC_RMID)`: removes the set; waiting calls fail with `EIDRM`.
    ///
    /// # Errors
    ///
    /// `EPERM` for a caller who is neither owner, creator nor privileged; `EINVAL` for a
    /// dead id.
    pub fn remove(&self) -> Result<(), Error> {
        sys::semctl_int(self.id, 0, libc::IPC_RMID, 0).map(drop).map_err(ctl_err)
    }
}
