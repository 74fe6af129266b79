//! The semaphore-set engine (`ipc/sem.c`): values, the lock-free single-op fast path, the
//! all-or-nothing slow path, the kernel's wake-up order, `SEM_UNDO` records and the
//! cancellation inverse. `async`-agnostic: poll-style functions over `crate::sync`, driven by
//! the facade in `mod.rs` (tokio's `batch_semaphore` under `Semaphore`).
//!
//! See the module docs of [`crate::sem`] (`# Implementation`) for the argument; the short
//! form is at the constants below. The wake-up scans and the hand-off of an outcome to a
//! woken sleeper (the mailbox, no second lock) are in `set/wake.rs`, whose docs give that
//! design; the flat path of a one-sop `semop` under the lock (the contended semaphore's) is
//! `set/one.rs`.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::task::{Poll, Waker};

use super::op::{OpList, SemOp};
use crate::error::ErrorKind;
use crate::ipc::{now, Figures, Header, IpcObject, Removal};
use crate::sync::atomic::{AtomicI32, AtomicI64, AtomicU32};
use crate::sync::counters::{count, Event};
use crate::sync::mailbox::{mailbox, Mailbox, Postman};
use crate::sync::wait_list::{WaiterState, WakeList};
use crate::sync::{backoff, Mutex, MutexGuard};

mod one;
mod sleepers;
mod wake;

use self::sleepers::{SleeperId, Sleepers};
use self::wake::release_refs;

/// Bit 31 of a semaphore's word: "owned by the set lock". While it is set only the holder
/// of [`Set::state`] may change the value, so the fast path's compare-and-swap (which
/// expects it clear) fails and the caller falls back to the lock. It is set by the slow
/// path on every semaphore it will read or write, before it reads any of them, and stays
/// set while a waiting operation names the semaphore (`State::refs`).
pub(crate) const SLOW: u32 = 1 << 31;
/// Bit 30 of a semaphore's word: "held by a lock-free multi-op" ([`Set::try_fast_multi`]).
/// Taken only by a compare-and-swap that also finds [`SLOW`] clear, held for the few
/// instructions that evaluate and publish the op, never while waiting for anything. While
/// it is set nobody else reads or writes the value: the fast paths fall back, and the slow
/// path spins until it clears before setting [`SLOW`] (two-phase locking over the named
/// semaphores, so the op is atomic).
pub(crate) const BUSY: u32 = 1 << 30;
/// Bits 0..16 of a semaphore's word: the value (`semval`, at most `SEMVMX` = 32767).
const VALUE: u32 = 0xffff;
/// The `semadj` range is `[-SEMAEM - 1, SEMAEM]`.
const SEMAEM: i32 = 32767;

/// One semaphore: the kernel's `struct sem` less its lists.
#[derive(Debug)]
struct Sem {
    /// `semval | flags`; see [`SLOW`] and [`VALUE`].
    word: AtomicU32,
    /// `sempid`: written after the value, as a plain store.
    pid: AtomicI32,
    /// This semaphore's `sem_otime`; `IPC_STAT` reports the max over the set.
    otime: AtomicI64,
}

/// What the fast path found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fast {
    /// The operation is done.
    Done,
    /// The operation would block on sop `.0`, and no one else waits on its semaphores.
    Blocks(usize),
    /// `ERANGE`.
    Range,
    /// The lock is needed.
    Slow,
}

/// A semaphore set: the kernel's `struct sem_array`.
#[derive(Debug)]
pub(crate) struct Set {
    header: Header,
    sems: Box<[Sem]>,
    state: Mutex<State>,
    /// Where a waker leaves a sleeping op's outcome for it to collect without the lock (one
    /// at a time; `State::postman` writes it). See `set/wake.rs`, `# Hand-off`.
    mailbox: Mailbox<Outcome>,
}

/// What a waker decided for a sleeping op: [`Performed`], or the error a retry gave
/// (`ERANGE`, `EAGAIN`, `EIDRM`).
pub(crate) type Outcome = Result<Performed, ErrorKind>;

/// A sleeping op a waker performed: what its inverse needs should its future be dropped
/// before it reports.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Performed {
    /// The `SETVAL`/`SETALL` epoch at the time (the cancellation rule).
    epoch: u64,
    /// The `SEM_UNDO` record it was performed with.
    undo: Option<u64>,
}

/// A sleeping op's claim, kept by its future: its wait-list entry and its mailbox tag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    id: SleeperId,
    tag: u64,
}

/// Everything the set lock guards.
///
/// # Safety (in the logical sense; there is no `unsafe` here)
///
/// May only be accessed while `Set::state` is locked. The values of semaphores whose word
/// has [`SLOW`] set are part of it too.
#[derive(Debug)]
struct State {
    /// Every sleeping `semop`, in arrival order (`pending_alter`/`pending_const`, per
    /// semaphore and global, as views of one list; see `update_queue`).
    waiters: Sleepers,
    /// Per semaphore: how many `Waiting` ops name it (one per sop). [`SLOW`] stays set while
    /// it is non-zero.
    refs: Box<[u32]>,
    /// Per semaphore: how many `Waiting` single-sop wait-for-zero ops it has (the length of
    /// the kernel's per-semaphore `pending_const`), so that a semaphore reaching 0 is
    /// scanned for them only when there are some.
    zwait: Box<[u32]>,
    /// The writer of [`Set::mailbox`], and the issuer of the waiters' tags.
    postman: Postman<Outcome>,
    /// Per semaphore: the `epoch` of the last `SETVAL`/`SETALL` that set it.
    gens: Box<[u64]>,
    /// Bumped by every `SETVAL`/`SETALL`.
    epoch: u64,
    /// `complex_count`: waiting ops with more than one sop.
    complex: usize,
    /// Waiting ops that alter.
    alter: usize,
    /// Whether the alter waiters are "merged" onto the global list (`merge_queues`): set
    /// when a complex op goes to sleep, cleared at unlock when `complex` is 0
    /// (`unmerge_queues`).
    merged: bool,
    /// The `sem_undo` records of every process (`sma->list_id`): a slab indexed by the low
    /// 32 bits of an undo id, `None` for a free slot.
    undos: Vec<Option<Box<[i16]>>>,
    /// Per slot of `undos`: its generation, the high 32 bits of the undo id it was last
    /// handed out under; bumped when the slot is freed, so an undo id outlives its record
    /// harmlessly (see [`State::undo`]).
    undo_gens: Vec<u32>,
    /// Free slots of `undos`.
    free_undo: Vec<u32>,
    /// `IPC_RMID` happened (`!ipc_valid_object`).
    removed: bool,
    /// Semaphores whose [`SLOW`] bit this critical section set or whose `refs` dropped to
    /// 0: checked at the end of the section.
    held: Vec<u32>,
    held_all: bool,
}

impl State {
    /// The live record an undo id names: its slot holds one, of the id's generation. A
    /// record freed at its process's exit is gone even when its slot is in use again, so a
    /// `semop` of the exited process still queued (its future leaked) finds nothing and fails
    /// with `EIDRM` rather than write another process's `semadj`.
    fn undo(&self, undo: u64) -> Option<&[i16]> {
        let slot = undo as u32 as usize;
        if self.undo_gens.get(slot) != Some(&((undo >> 32) as u32)) {
            return None;
        }
        self.undos[slot].as_deref()
    }

    /// [`undo`](Self::undo), writable.
    fn undo_mut(&mut self, undo: u64) -> Option<&mut [i16]> {
        self.undo(undo)?;
        self.undos[undo as u32 as usize].as_deref_mut()
    }

    /// Frees the record an undo id names (exit), bumping its slot's generation.
    fn take_undo(&mut self, undo: u64) -> Option<Box<[i16]>> {
        self.undo(undo)?;
        let slot = undo as u32;
        self.undo_gens[slot as usize] = self.undo_gens[slot as usize].wrapping_add(1);
        self.free_undo.push(slot);
        self.undos[slot as usize].take()
    }
}

/// A sleeping `semop` (`struct sem_queue`).
#[derive(Debug)]
pub(crate) struct Waiter {
    /// The operations (its future keeps them too). A generic retry takes them out while it
    /// runs and leaves them out once it decided the op; the one-sop retry of a hand-off
    /// leaves them in. Only `Waiting` entries' operations are read.
    sops: OpList,
    pid: i32,
    undo: Option<u64>,
    alter: bool,
    /// Index of the sop it is blocked on (`q->blocking`), for GETNCNT/GETZCNT.
    blocking: usize,
    /// Its [`Set::mailbox`] tag.
    tag: u64,
    /// Filled in by the waker when the mailbox was full (else the outcome is there and the
    /// entry is gone).
    outcome: Option<Outcome>,
}

/// The result of `perform_atomic_semop`.
enum Verdict {
    Done,
    Block(usize),
    Fail(ErrorKind),
}

/// Which semaphores a change touched (`do_smart_update`'s `sops`, or `NULL` for all).
#[derive(Clone, Copy)]
enum Changed<'s> {
    All,
    Ops(&'s [SemOp], bool),
}

fn eff_op(sop: &SemOp, invert: bool) -> i32 {
    if invert {
        -i32::from(sop.op())
    } else {
        i32::from(sop.op())
    }
}

// ===== impl Set =====

impl Set {
    /// A new set of `nsems` semaphores, all 0 (`newary`).
    pub(crate) fn new(header: Header, nsems: usize) -> Set {
        let sems = (0..nsems)
            .map(|_| Sem { word: AtomicU32::new(0), pid: AtomicI32::new(0), otime: AtomicI64::new(0) })
            .collect();
        let (postman, mailbox) = mailbox();
        Set {
            header,
            sems,
            mailbox,
            state: Mutex::new(State {
                waiters: Sleepers::new(),
                refs: vec![0; nsems].into_boxed_slice(),
                zwait: vec![0; nsems].into_boxed_slice(),
                postman,
                gens: vec![0; nsems].into_boxed_slice(),
                epoch: 0,
                complex: 0,
                alter: 0,
                merged: false,
                undos: Vec::new(),
                undo_gens: Vec::new(),
                free_undo: Vec::new(),
                removed: false,
                held: Vec::new(),
                held_all: false,
            }),
        }
    }

    pub(crate) fn nsems(&self) -> usize {
        self.sems.len()
    }

    /// The set lock (every taking of it is counted).
    fn lock(&self) -> MutexGuard<'_, State> {
        count(Event::SemLock);
        self.state.lock()
    }

    fn section<'a>(&'a self, wakes: &'a mut WakeList, semvmx: i32) -> Section<'a> {
        Section { set: self, st: self.lock(), wakes, semvmx }
    }

    /// A section over every semaphore, for the `semctl` commands that read or write all of
    /// them (`GETALL`, `SETVAL`, `SETALL`): `EIDRM` if the set was removed before the lock
    /// was taken, else every word held, so no fast path can run beside it.
    fn section_all<'a>(&'a self, wakes: &'a mut WakeList, semvmx: i32) -> Result<Section<'a>, ErrorKind> {
        let mut s = self.section(wakes, semvmx);
        if s.st.removed {
            return Err(ErrorKind::Removed);
        }
        s.hold_all();
        Ok(s)
    }

    /// The lock-free path for one sop without `SEM_UNDO`: one compare-and-swap on the
    /// semaphore's word, allowed only while [`SLOW`] is clear (no slow path is inside and
    /// nobody waits on it).
    #[inline(always)]
    pub(crate) fn try_fast(&self, sop: SemOp, pid: i32, semvmx: i32) -> Fast {
        let Some(sem) = self.sems.get(usize::from(sop.num())) else { return Fast::Slow };
        let mut cur = sem.word.load(Acquire);
        // Tested before the loop (and again after a failed compare-and-swap), so that a
        // contended semaphore (its sleepers keep `SLOW` set) returns before the frame the
        // rest needs is set up.
        if cur & (SLOW | BUSY) != 0 {
            return Fast::Slow;
        }
        let op = i32::from(sop.op());
        loop {
            let val = (cur & VALUE) as i32;
            if op == 0 {
                if val != 0 {
                    return Fast::Blocks(0);
                }
                // Nothing to write: the Acquire load is the linearization point.
                break;
            }
            let new = val + op;
            if new < 0 {
                return Fast::Blocks(0);
            }
            if new > semvmx {
                return Fast::Range;
            }
            match sem.word.compare_exchange_weak(cur, new as u32, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => {
                    count(Event::SemCasFail);
                    cur = actual;
                    if cur & (SLOW | BUSY) != 0 {
                        return Fast::Slow;
                    }
                }
            }
        }
        sem.pid.store(pid, Relaxed);
        sem.otime.store(now(), Relaxed);
        Fast::Done
    }

    /// The lock-free path for a small multi-op `semop` without `SEM_UNDO`: take [`BUSY`] on
    /// every named semaphore (each by a compare-and-swap that finds [`SLOW`] and `BUSY`
    /// clear; on any conflict the ones taken are given back and the lock is used), evaluate
    /// on the values read, then publish the new values (or the old ones on failure), which
    /// clears `BUSY`. No sleeper names any of these semaphores (`SLOW` was clear), so there
    /// is nobody to wake.
    pub(crate) fn try_fast_multi(&self, sops: &[SemOp], pid: i32, semvmx: i32) -> Fast {
        const MAX: usize = 4;
        if sops.is_empty() || sops.len() > MAX {
            return Fast::Slow;
        }
        // (num, word before, value now) of each distinct semaphore named.
        let mut held = [(0usize, 0u32, 0i32); MAX];
        let mut len = 0;
        for sop in sops {
            let n = usize::from(sop.num());
            if held[..len].iter().any(|h| h.0 == n) {
                continue;
            }
            let Some(sem) = self.sems.get(n) else {
                self.restore(&held[..len]);
                return Fast::Slow;
            };
            let mut cur = sem.word.load(Relaxed);
            loop {
                if cur & (SLOW | BUSY) != 0 {
                    self.restore(&held[..len]);
                    return Fast::Slow;
                }
                match sem.word.compare_exchange_weak(cur, cur | BUSY, Acquire, Relaxed) {
                    Ok(_) => break,
                    Err(actual) => {
                        count(Event::SemCasFail);
                        cur = actual;
                    }
                }
            }
            held[len] = (n, cur, (cur & VALUE) as i32);
            len += 1;
        }
        let held = &mut held[..len];
        let mut verdict = Fast::Done;
        for (i, sop) in sops.iter().enumerate() {
            let Some(h) = held.iter_mut().find(|h| h.0 == usize::from(sop.num())) else {
                verdict = Fast::Slow;
                break;
            };
            let op = i32::from(sop.op());
            if op == 0 && h.2 != 0 || h.2 + op < 0 {
                verdict = Fast::Blocks(i);
                break;
            }
            if h.2 + op > semvmx {
                verdict = Fast::Range;
                break;
            }
            h.2 += op;
        }
        if verdict != Fast::Done {
            self.restore(held);
            return verdict;
        }
        for h in held.iter() {
            self.sems[h.0].word.store(h.2 as u32, Release);
        }
        let t = now();
        for h in held.iter() {
            self.sems[h.0].pid.store(pid, Relaxed);
        }
        self.sems[held[0].0].otime.store(t, Relaxed);
        Fast::Done
    }

    /// Gives back [`BUSY`] words unchanged.
    fn restore(&self, held: &[(usize, u32, i32)]) {
        for h in held {
            self.sems[h.0].word.store(h.1, Release);
        }
    }

    /// The word of semaphore `n` once no lock-free multi-op holds it.
    fn settled(&self, n: usize) -> u32 {
        let mut spins = 0u32;
        loop {
            let w = self.sems[n].word.load(Acquire);
            if w & BUSY == 0 {
                return w;
            }
            backoff(&mut spins);
        }
    }

    /// Sets [`SLOW`] on semaphore `n` once no lock-free multi-op holds it; returns the word
    /// before. The caller holds the set lock.
    ///
    /// A word that already has `SLOW` is left alone, without a read-modify-write: only a
    /// holder of the set lock sets or clears `SLOW`, so it stays set for this critical
    /// section; while it is set no fast path writes the word and no multi-op can take
    /// [`BUSY`] (both compare-and-swaps expect it clear); and every lock-free change made
    /// before it was set was acquired by the section that set it, which the lock orders
    /// before ours. This is the common case under contention (sleepers keep `SLOW` set).
    fn lock_word(&self, n: usize) -> u32 {
        Self::lock_sem(&self.sems[n])
    }

    /// [`lock_word`](Self::lock_word) of a semaphore the caller has looked up.
    #[inline]
    fn lock_sem(sem: &Sem) -> u32 {
        let mut spins = 0u32;
        let mut cur = sem.word.load(Relaxed);
        if cur & SLOW != 0 {
            return cur;
        }
        loop {
            if cur & BUSY != 0 {
                backoff(&mut spins);
                cur = sem.word.load(Relaxed);
                continue;
            }
            match sem.word.compare_exchange_weak(cur, cur | SLOW, AcqRel, Relaxed) {
                Ok(_) => return cur,
                Err(actual) => {
                    count(Event::SemCasFail);
                    cur = actual;
                }
            }
        }
    }

    /// `semop` under the lock (one sop: the flat path of `set/one.rs`). `Ok(None)`: done.
    /// `Ok(Some(ticket))`: queued (only with a waker). The caller has made the checks before
    /// the lock (E2BIG, EFBIG, EACCES), and says whether any sop alters (`alter`, from the
    /// same pass). The sleepers it completes are woken before it returns, after the unlock.
    ///
    /// Inlined into its one caller, `SemaphoreSet::start`: a contended call (both calls of
    /// a hand-off pair) otherwise paid a second stack frame and eight arguments, four of
    /// them on the stack, after the checks' frame.
    #[inline]
    pub(crate) fn semop(
        &self,
        sops: &[SemOp],
        alter: bool,
        pid: i32,
        undo: Option<u64>,
        semvmx: i32,
        waker: Option<&Waker>,
    ) -> Result<Option<Ticket>, ErrorKind> {
        match sops {
            // The contended semaphore's every call: the flat path, `set/one.rs`.
            [sop] => self.semop_one(*sop, pid, undo, semvmx, waker),
            _ => {
                let mut wakes = WakeList::new();
                let r = self.semop_with(self.section(&mut wakes, semvmx), sops, alter, pid, undo, waker);
                wake_collected(wakes);
                r
            }
        }
    }

    /// [`semop`](Self::semop)'s critical section, in section `s` (taken by the caller: the
    /// one-sop path hands its lock over here in merged mode, `set/one.rs`); the wakers it
    /// collects go to the section's list.
    #[inline(always)]
    fn semop_with(
        &self,
        mut s: Section<'_>,
        sops: &[SemOp],
        alter: bool,
        pid: i32,
        undo: Option<u64>,
        waker: Option<&Waker>,
    ) -> Result<Option<Ticket>, ErrorKind> {
        if s.st.removed {
            return Err(ErrorKind::Removed);
        }
        // One dispatch on the shape: the one-sop case holds its semaphore and performs
        // without the loop and `perform`'s second match.
        let verdict = match sops {
            [sop] => {
                // One look-up (and bounds check) of the semaphore for the hold and the op.
                let n = usize::from(sop.num());
                let sem = &self.sems[n];
                s.hold_sem(n, sem);
                s.perform_one(sem, *sop, false, undo, pid)
            }
            _ => {
                for sop in sops {
                    s.hold(usize::from(sop.num()));
                }
                s.perform_many(sops, false, undo, pid)
            }
        };
        match verdict {
            Verdict::Done => {
                if alter {
                    s.do_smart_update(Changed::Ops(sops, false), true);
                } else {
                    s.set_otime(Changed::Ops(sops, false));
                }
                Ok(None)
            }
            Verdict::Fail(e) => Err(e),
            Verdict::Block(i) => {
                let Some(waker) = waker.filter(|_| !sops[i].is_nowait()) else {
                    return Err(ErrorKind::WouldBlock);
                };
                Ok(Some(s.enqueue(sops, pid, undo, alter, i, waker)))
            }
        }
    }

    /// A re-poll of a queued op: `Pending` while it sleeps; its outcome once a waker (or
    /// `IPC_RMID`) decided it. An outcome in the mailbox is taken without the lock;
    /// otherwise, under the lock, the entry is asked, and its outcome taken off the list.
    ///
    /// The mailbox look-up is inlined into the future's poll (the hand-off's re-poll ends
    /// there); the locked part is a call of its own.
    #[inline]
    pub(crate) fn poll_waiter(&self, t: &Ticket, waker: &Waker) -> Poll<Result<(), ErrorKind>> {
        if let Some(outcome) = self.mailbox.take(t.tag) {
            return Poll::Ready(outcome.map(drop));
        }
        self.poll_waiter_locked(t, waker)
    }

    /// [`poll_waiter`](Self::poll_waiter) once the mailbox held nothing for `t`.
    #[inline(never)]
    fn poll_waiter_locked(&self, t: &Ticket, waker: &Waker) -> Poll<Result<(), ErrorKind>> {
        let mut st = self.lock();
        match st.waiters.register(t.id, waker) {
            Some(WaiterState::Waiting) => {
                count(Event::SemWakeEmpty);
                Poll::Pending
            }
            Some(WaiterState::Notified) => {
                let outcome = st.waiters.remove(t.id).and_then(|(w, _)| w.outcome);
                Poll::Ready(outcome.unwrap_or(Err(ErrorKind::Removed)).map(drop))
            }
            // The entry is gone: a waker put the outcome in the mailbox (under the lock,
            // so it is there now, unless taken between our look above and the lock — by
            // nobody else, since only this ticket's holder takes its tag).
            None => Poll::Ready(self.mailbox.take(t.tag).unwrap_or(Err(ErrorKind::Removed)).map(drop)),
        }
    }

    /// The future of a queued op was dropped (docs/kernel-rules.md §6.1): off the list if
    /// still sleeping; if a waker had already performed it, the inverse of `sops` (the op's
    /// operations) runs now where it can.
    pub(crate) fn cancel(&self, t: &Ticket, sops: &[SemOp], pid: i32, semvmx: i32) {
        // An outcome in the mailbox is ours; a failure there needs nothing more, and no lock.
        let handed = self.mailbox.take(t.tag);
        if let Some(Err(_)) = handed {
            return;
        }
        let mut wakes = WakeList::new();
        let mut s = self.section(&mut wakes, semvmx);
        let outcome = match handed {
            Some(outcome) => Some(outcome),
            None => match s.st.waiters.remove(t.id) {
                Some((w, WaiterState::Waiting)) => {
                    s.unaccount(&w);
                    None
                }
                Some((w, WaiterState::Notified)) => w.outcome,
                // The entry is gone, so its outcome is in the mailbox (put under the lock).
                None => self.mailbox.take(t.tag),
            },
        };
        if let Some(Ok(done)) = outcome {
            s.inverse(sops, done.undo, done.epoch, pid);
        }
    }

    /// `GETVAL`.
    pub(crate) fn get_val(&self, num: usize) -> Result<i32, ErrorKind> {
        let st = self.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        Ok((self.settled(num) & VALUE) as i32)
    }

    /// `GETPID`.
    pub(crate) fn get_pid(&self, num: usize) -> Result<i32, ErrorKind> {
        let st = self.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        Ok(self.sems[num].pid.load(Relaxed))
    }

    /// `GETNCNT` (`zero == false`) and `GETZCNT`: sleeping ops whose current blocking sop
    /// is a decrement (a wait-for-zero) of `num` (`count_semcnt`).
    pub(crate) fn get_cnt(&self, num: usize, zero: bool) -> Result<i32, ErrorKind> {
        let st = self.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        let n = st
            .waiters
            .iter()
            .filter(|(_, w)| {
                let sop = w.sops[w.blocking];
                usize::from(sop.num()) == num && if zero { sop.op() == 0 } else { sop.op() < 0 }
            })
            .count();
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// `GETALL`: one consistent snapshot.
    pub(crate) fn get_all(&self, semvmx: i32) -> Result<Vec<u16>, ErrorKind> {
        let mut wakes = WakeList::new();
        // Held (every word locked) until the values are read: one consistent snapshot.
        let _held = self.section_all(&mut wakes, semvmx)?;
        Ok((0..self.nsems()).map(|n| self.val(n) as u16).collect())
    }

    /// `SETVAL` (`semctl_setval`).
    pub(crate) fn set_val(&self, num: usize, val: i32, pid: i32, semvmx: i32) -> Result<(), ErrorKind> {
        let mut wakes = WakeList::new();
        let mut s = self.section_all(&mut wakes, semvmx)?;
        for adj in s.st.undos.iter_mut().flatten() {
            adj[num] = 0;
        }
        s.st.epoch += 1;
        s.st.gens[num] = s.st.epoch;
        self.put(num, val);
        self.sems[num].pid.store(pid, Relaxed);
        self.header.touch_ctime();
        s.do_smart_update(Changed::All, false);
        Ok(())
    }

    /// `SETALL`; `vals` has `nsems` entries, each at most `SEMVMX` (checked by the caller).
    pub(crate) fn set_all(&self, vals: &[u16], pid: i32, semvmx: i32) -> Result<(), ErrorKind> {
        let mut wakes = WakeList::new();
        let mut s = self.section_all(&mut wakes, semvmx)?;
        for adj in s.st.undos.iter_mut().flatten() {
            adj.iter_mut().for_each(|a| *a = 0);
        }
        s.st.epoch += 1;
        let epoch = s.st.epoch;
        s.st.gens.iter_mut().for_each(|g| *g = epoch);
        for (n, &v) in vals.iter().enumerate() {
            self.put(n, i32::from(v));
            self.sems[n].pid.store(pid, Relaxed);
        }
        self.header.touch_ctime();
        s.do_smart_update(Changed::All, false);
        Ok(())
    }

    /// `sem_otime` as `IPC_STAT` reports it: the max of the per-semaphore times.
    pub(crate) fn otime(&self) -> i64 {
        self.sems.iter().map(|s| s.otime.load(Relaxed)).max().unwrap_or(0)
    }

    /// `find_alloc_undo`'s allocation: a new, zeroed `semadj` record in `sma->list_id`.
    pub(crate) fn new_undo(&self) -> Result<u64, ErrorKind> {
        let mut st = self.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        let zeros = Some(vec![0; self.nsems()].into_boxed_slice());
        let slot = match st.free_undo.pop() {
            Some(slot) => {
                st.undos[slot as usize] = zeros;
                slot
            }
            None => {
                st.undos.push(zeros);
                st.undo_gens.push(0);
                st.undos.len() as u32 - 1
            }
        };
        Ok(u64::from(st.undo_gens[slot as usize]) << 32 | u64::from(slot))
    }

    /// Whether `IPC_RMID` happened.
    pub(crate) fn is_removed(&self) -> bool {
        self.header.is_deleted()
    }

    /// `exit_sem` for one set: adds the record's adjustments back, clamped to
    /// `[0, SEMVMX]`, sets sempid, and wakes whoever can now proceed (`otime` is set).
    pub(crate) fn exit_undo(&self, undo: u64, pid: i32, semvmx: i32) {
        let mut wakes = WakeList::new();
        let mut s = self.section(&mut wakes, semvmx);
        if s.st.removed {
            return;
        }
        let Some(adj) = s.st.take_undo(undo) else { return };
        s.hold_all();
        for (n, &a) in adj.iter().enumerate() {
            if a != 0 {
                let v = (self.val(n) + i32::from(a)).clamp(0, semvmx);
                self.put(n, v);
                self.sems[n].pid.store(pid, Relaxed);
            }
        }
        s.do_smart_update(Changed::All, true);
    }

    fn val(&self, n: usize) -> i32 {
        (self.sems[n].word.load(Acquire) & VALUE) as i32
    }

    /// Writes a value of a semaphore the caller holds ([`SLOW`] set).
    fn put(&self, n: usize, v: i32) {
        self.sems[n].word.store(v as u32 | SLOW, Release);
    }
}

impl IpcObject for crate::sync::Arc<Set> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn figures(&self) -> Figures {
        Figures::SemaphoreSet { nsems: self.sems.len() as u64 }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn stat_ds(&self) -> Result<Box<dyn std::any::Any + Send>, ErrorKind> {
        Ok(Box::new(super::SemidDs {
            perm: self.header.perm().load(),
            otime: self.otime(),
            ctime: self.header.ctime(),
            nsems: self.sems.len() as u16,
        }))
    }

    /// `freeary`: every sleeper fails with `EIDRM`, the undo records go, the id dies.
    fn remove(&self) -> Removal {
        let mut wakes = WakeList::new();
        {
            let mut st = self.lock();
            st.removed = true;
            self.header.mark_deleted();
            let ids: Vec<SleeperId> = st.waiters.iter().map(|(id, _)| id).collect();
            for id in ids {
                if let Some(w) = st.waiters.get_mut(id) {
                    w.outcome = Some(Err(ErrorKind::Removed));
                }
            }
            st.waiters.notify_all(&mut wakes);
            st.undos.clear();
            st.undo_gens.clear();
            st.free_undo.clear();
            st.complex = 0;
            st.alter = 0;
        }
        wakes.wake_all();
        Removal::Now
    }
}

/// Wakes whoever a multi-sop call's critical section completed (`wakes`), its lock released
/// by then (a one-sop call wakes its one sleeper itself, `set/one.rs`). A call that woke
/// nobody (every call that goes to sleep) skips the list's out-of-line drop: nothing was
/// pushed into this fresh list and nothing reserved room in it (the wake-up passes only
/// push), so it holds no waker and no allocation. A call that woke one wakes it here and
/// skips the drop too: one push went to the inline slot, so the spill was never pushed to
/// nor reserved, and `wake_all` leaves the list empty. Two or more go through the drop,
/// which frees the spill.
#[inline(always)]
fn wake_collected(mut wakes: WakeList) {
    match wakes.len() {
        0 => std::mem::forget(wakes),
        1 => {
            wakes.wake_all();
            std::mem::forget(wakes);
        }
        _ => drop(wakes),
    }
}

/// Clears [`SLOW`] on a word the set lock owns. A plain store suffices: while `SLOW` is set
/// nobody else writes the word (the lock-free paths' compare-and-swaps expect it clear and
/// fail without writing; other slow paths need the lock we hold), and Release publishes
/// every write of this critical section to the next lock-free operation.
fn release_word(sem: &Sem) {
    let w = sem.word.load(Relaxed);
    if w & SLOW != 0 {
        sem.word.store(w & !SLOW, Release);
    }
}

/// `perform_atomic_semop` for one sop (negated when `invert`): the rules of
/// [`Section::perform`] without the table of semaphores touched (every sleeping op of a
/// semaphore hand-off is retried here). On the state alone, for the one-sop path
/// (`set/one.rs`), which runs without a [`Section`].
#[inline(always)]
fn perform_sop(
    sem: &Sem,
    sop: SemOp,
    invert: bool,
    undo: Option<u64>,
    pid: i32,
    semvmx: i32,
    st: &mut State,
) -> Verdict {
    let op = eff_op(&sop, invert);
    let n = usize::from(sop.num());
    if op != 0 {
        let new = (sem.word.load(Acquire) & VALUE) as i32 + op;
        if new < 0 {
            return Verdict::Block(0);
        }
        if new > semvmx {
            return Verdict::Fail(ErrorKind::OutOfRange);
        }
        if sop.is_undo() {
            let Some(adj) = undo.and_then(|u| st.undo_mut(u)) else {
                return Verdict::Fail(ErrorKind::Removed);
            };
            let a = i32::from(adj[n]) - op;
            if !(-SEMAEM - 1..=SEMAEM).contains(&a) {
                return Verdict::Fail(ErrorKind::OutOfRange);
            }
            adj[n] = a as i16;
        }
        sem.word.store(new as u32 | SLOW, Release);
    } else if !invert {
        if sem.word.load(Acquire) & VALUE != 0 {
            return Verdict::Block(0);
        }
        // A wait-for-zero changes no `semadj`, but still needs its record.
        if sop.is_undo() && undo.is_none_or(|u| st.undo(u).is_none()) {
            return Verdict::Fail(ErrorKind::Removed);
        }
    }
    sem.pid.store(pid, Relaxed);
    Verdict::Done
}

/// Queues a sleeping one-sop op (the one-sop case of [`Section::enqueue`]): its
/// semaphore's counts, without the loop, and its op kept inline.
#[inline(always)]
fn enqueue_one(
    st: &mut State,
    sop: SemOp,
    pid: i32,
    undo: Option<u64>,
    alter: bool,
    waker: &Waker,
) -> Ticket {
    let n = usize::from(sop.num());
    st.refs[n] += 1;
    if !alter {
        st.zwait[n] += 1;
    }
    queue(st, Waiter { sops: OpList::One(sop), pid, undo, alter, blocking: 0, tag: 0, outcome: None }, waker)
}

/// The tail of every queueing, the per-semaphore counts made: the alter count, the entry's
/// mailbox tag, and the entry at the back of the list.
#[inline(always)]
fn queue(st: &mut State, mut w: Waiter, waker: &Waker) -> Ticket {
    if w.alter {
        st.alter += 1;
    }
    count(Event::SemWait);
    let tag = st.postman.tag();
    w.tag = tag;
    Ticket { id: st.waiters.push_back(w, waker), tag }
}

// ===== Section: one critical section under the set lock =====

/// The set lock held, plus the wakers collected to be woken after it is released. Its
/// `Drop` gives back the [`SLOW`] bits nobody needs any more, then the guard is released;
/// the caller's `WakeList` (declared before) wakes last.
struct Section<'a> {
    set: &'a Set,
    st: MutexGuard<'a, State>,
    wakes: &'a mut WakeList,
    semvmx: i32,
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        let st = &mut *self.st;
        if st.held_all {
            st.held_all = false;
            st.held.clear();
            for (n, sem) in self.set.sems.iter().enumerate() {
                if st.refs[n] == 0 {
                    release_word(sem);
                }
            }
        } else if !st.held.is_empty() {
            for n in st.held.drain(..) {
                let n = n as usize;
                if st.refs[n] == 0 {
                    release_word(&self.set.sems[n]);
                }
            }
        }
        // unmerge_queues runs at unlock once no complex op sleeps.
        if st.complex == 0 {
            st.merged = false;
        }
    }
}

impl Section<'_> {
    /// Sets [`SLOW`] on semaphore `n` (the fetch_or acquires every fast-path change made
    /// before it; none can follow it).
    fn hold(&mut self, n: usize) {
        self.hold_sem(n, &self.set.sems[n]);
    }

    /// [`hold`](Self::hold) of semaphore `n`, `sem`, looked up by the caller.
    #[inline]
    fn hold_sem(&mut self, n: usize, sem: &Sem) {
        let old = Set::lock_sem(sem);
        if old & SLOW == 0 && !self.st.held_all {
            self.st.held.push(n as u32);
        }
    }

    fn hold_all(&mut self) {
        if self.st.held_all {
            return;
        }
        for n in 0..self.set.nsems() {
            self.set.lock_word(n);
        }
        self.st.held_all = true;
    }

    /// `perform_atomic_semop`: all of `sops` (negated and in reverse order when `invert`)
    /// or nothing; each sop sees the values left by the earlier ones; the first failing sop
    /// decides. On success the values and `semadj` are written and sempid set.
    ///
    /// The single-sop case (every retry of a hand-off, and most calls) is inlined into the
    /// caller; the table that multi-sop atomicity needs lives in
    /// [`perform_many`](Self::perform_many), out of line, so that its stack frame is not set
    /// up for one sop.
    #[inline]
    fn perform(&mut self, sops: &[SemOp], invert: bool, undo: Option<u64>, pid: i32) -> Verdict {
        match sops {
            [sop] => self.perform_one(&self.set.sems[usize::from(sop.num())], *sop, invert, undo, pid),
            _ => self.perform_many(sops, invert, undo, pid),
        }
    }

    /// [`perform`](Self::perform) for two or more sops.
    #[inline(never)]
    fn perform_many(&mut self, sops: &[SemOp], invert: bool, undo: Option<u64>, pid: i32) -> Verdict {
        let set = self.set;
        let semvmx = self.semvmx;
        let st = &mut *self.st;
        // (num, value, semadj) of each semaphore touched so far.
        let mut inline = [(0usize, 0i32, 0i32); 8];
        let mut heap;
        let buf: &mut [(usize, i32, i32)] = if sops.len() <= inline.len() {
            &mut inline
        } else {
            count(Event::SemAlloc);
            heap = vec![(0usize, 0i32, 0i32); sops.len()];
            &mut heap
        };
        let mut len = 0;
        let adj = undo.and_then(|u| st.undo(u));
        for i in 0..sops.len() {
            let sop = if invert { &sops[sops.len() - 1 - i] } else { &sops[i] };
            let op = eff_op(sop, invert);
            if invert && op == 0 {
                continue;
            }
            let n = usize::from(sop.num());
            let k = match buf[..len].iter().position(|e| e.0 == n) {
                Some(k) => k,
                None => {
                    let a = adj.map_or(0, |a| i32::from(a[n]));
                    buf[len] = (n, set.val(n), a);
                    len += 1;
                    len - 1
                }
            };
            let (_, cur, cur_adj) = buf[k];
            if op == 0 && cur != 0 {
                return Verdict::Block(i);
            }
            let new = cur + op;
            if new < 0 {
                return Verdict::Block(i);
            }
            if new > semvmx {
                return Verdict::Fail(ErrorKind::OutOfRange);
            }
            if sop.is_undo() {
                if adj.is_none() {
                    return Verdict::Fail(ErrorKind::Removed);
                }
                let a = cur_adj - op;
                if !(-SEMAEM - 1..=SEMAEM).contains(&a) {
                    return Verdict::Fail(ErrorKind::OutOfRange);
                }
                buf[k].2 = a;
            }
            buf[k].1 = new;
        }
        let adj = undo.and_then(|u| st.undo_mut(u));
        match adj {
            Some(adj) => {
                for &(n, v, a) in &buf[..len] {
                    set.put(n, v);
                    adj[n] = a as i16;
                }
            }
            None => {
                for &(n, v, _) in &buf[..len] {
                    set.put(n, v);
                }
            }
        }
        for sop in sops {
            set.sems[usize::from(sop.num())].pid.store(pid, Relaxed);
        }
        Verdict::Done
    }

    /// [`perform`](Self::perform) for one sop: [`perform_sop`] on this section's records.
    /// `sem` is the sop's semaphore, looked up (and bounds-checked) once by the caller for
    /// this and its other accesses.
    #[inline(always)]
    fn perform_one(&mut self, sem: &Sem, sop: SemOp, invert: bool, undo: Option<u64>, pid: i32) -> Verdict {
        perform_sop(sem, sop, invert, undo, pid, self.semvmx, &mut self.st)
    }

    /// Queues a sleeping op (the tail of `__do_semtimedop`): single-sop ops join the
    /// per-semaphore views, complex ones the global ones (merging the alter lists first,
    /// `merge_queues`).
    fn enqueue(
        &mut self,
        sops: &[SemOp],
        pid: i32,
        undo: Option<u64>,
        alter: bool,
        blocking: usize,
        waker: &Waker,
    ) -> Ticket {
        // One sop (every sleeper of a contended semaphore): the one-sop path's queueing.
        if let [sop] = sops {
            return enqueue_one(&mut self.st, *sop, pid, undo, alter, waker);
        }
        if self.st.complex == 0 && !self.st.merged {
            self.merge();
        }
        self.st.complex += 1;
        self.st.merged = true;
        for sop in sops {
            self.st.refs[usize::from(sop.num())] += 1;
        }
        let w = Waiter { sops: OpList::of(sops), pid, undo, alter, blocking, tag: 0, outcome: None };
        queue(&mut self.st, w, waker)
    }

    /// `merge_queues`: the per-semaphore alter lists spliced onto the (empty) global one,
    /// each at its head, so the highest-numbered semaphore's waiters come first; FIFO within
    /// each semaphore.
    fn merge(&mut self) {
        let mut alters: Vec<(usize, SleeperId)> = self
            .st
            .waiters
            .iter()
            .filter(|(_, w)| w.alter)
            .map(|(id, w)| (usize::from(w.sops[0].num()), id))
            .collect();
        alters.sort_by_key(|a| std::cmp::Reverse(a.0)); // stable: FIFO kept within a semaphore
        for (_, id) in alters {
            self.st.waiters.move_to_back(id);
        }
    }

    /// Bookkeeping for an op leaving the `Waiting` state.
    fn unaccount(&mut self, w: &Waiter) {
        release_refs(&mut self.st, &w.sops, w.alter);
    }

    /// `set_semotime`.
    fn set_otime(&self, changed: Changed<'_>) {
        let n = match changed {
            Changed::Ops(sops, _) => sops.first().map_or(0, |s| usize::from(s.num())),
            Changed::All => 0,
        };
        if let Some(sem) = self.set.sems.get(n) {
            sem.otime.store(now(), Relaxed);
        }
    }

    /// The cancellation inverse (docs/kernel-rules.md §6.1): the performed op `sops`,
    /// negated and in reverse order, all-or-nothing and without waiting; it stands if the
    /// inverse cannot apply at once or `SETVAL`/`SETALL` touched one of its semaphores since.
    fn inverse(&mut self, sops: &[SemOp], undo: Option<u64>, epoch: u64, pid: i32) {
        if self.st.removed || !sops.iter().any(|sop| sop.alters()) {
            return;
        }
        if sops.iter().any(|sop| self.st.gens[usize::from(sop.num())] > epoch) {
            return;
        }
        if undo.is_some_and(|u| self.st.undo(u).is_none()) {
            return;
        }
        for sop in sops {
            self.hold(usize::from(sop.num()));
        }
        if let Verdict::Done = self.perform(sops, true, undo, pid) {
            self.do_smart_update(Changed::Ops(sops, true), true);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The figures of BENCHMARKS.md's memory table
    /// (`cargo test --lib sem::set::tests::sizes -- --nocapture`).
    #[test]
    fn sizes() {
        let set = size_of::<Set>() + size_of::<crate::sync::Arc<Set>>() * 2;
        // refs and zwait (u32 each) and gens (u64) per semaphore, under the lock
        let per_sem = size_of::<Sem>() + 2 * size_of::<u32>() + size_of::<u64>();
        let waiter = size_of::<Waiter>() + size_of::<Waker>() + 3 * size_of::<u32>();
        println!(
            "set (fixed): {set} bytes, per semaphore: {per_sem} bytes, sleeping semop: {waiter} bytes (one sop inline; two or more: + 6 per sop, boxed)"
        );
        assert_eq!(per_sem, 32);
        assert!(waiter <= 128);
    }
}
