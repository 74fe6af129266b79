//! The semaphore-set engine (`ipc/sem.c`): values, the lock-free single-op fast path, the
//! all-or-nothing slow path, the kernel's wake-up order, `SEM_UNDO` records and the
//! cancellation inverse. `async`-agnostic: poll-style functions over `crate::sync`, driven by
//! the facade in `mod.rs` (tokio's `batch_semaphore` under `Semaphore`).
//!
//! See the module docs of [`crate::sem`] (`# Implementation`) for the argument; the short
//! form is at the constants below.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::task::{Poll, Waker};

use super::op::SemOp;
use crate::error::ErrorKind;
use crate::ipc::{now, Figures, Header, IpcObject, Removal};
use crate::sync::atomic::{AtomicI32, AtomicI64, AtomicU32};
use crate::sync::counters::{count, Event};
use crate::sync::wait_list::{WaitList, WaiterId, WaiterState, WakeList};
use crate::sync::{backoff, Mutex, MutexGuard};

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
    waiters: WaitList<Waiter>,
    /// Per semaphore: how many `Waiting` ops name it (one per sop). [`SLOW`] stays set while
    /// it is non-zero.
    refs: Box<[u32]>,
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
    /// The `sem_undo` records of every process (`sma->list_id`): a slab indexed by undo id,
    /// `None` for a free slot.
    undos: Vec<Option<Box<[i16]>>>,
    /// Free slots of `undos` (an exited process's id is never used again by it).
    free_undo: Vec<u64>,
    /// `IPC_RMID` happened (`!ipc_valid_object`).
    removed: bool,
    /// Semaphores whose [`SLOW`] bit this critical section set or whose `refs` dropped to
    /// 0: checked at the end of the section.
    held: Vec<u32>,
    held_all: bool,
}

/// A sleeping `semop` (`struct sem_queue`).
#[derive(Debug)]
pub(crate) struct Waiter {
    sops: Box<[SemOp]>,
    pid: i32,
    undo: Option<u64>,
    alter: bool,
    /// Index of the sop it is blocked on (`q->blocking`), for GETNCNT/GETZCNT.
    blocking: usize,
    /// Filled in by the waker: `Ok(epoch)` when it performed the op (the epoch then), or
    /// the error the retry gave (`ERANGE`, `EAGAIN`, `EIDRM`).
    outcome: Option<Result<u64, ErrorKind>>,
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
        Set {
            header,
            sems,
            state: Mutex::new(State {
                waiters: WaitList::new(),
                refs: vec![0; nsems].into_boxed_slice(),
                gens: vec![0; nsems].into_boxed_slice(),
                epoch: 0,
                complex: 0,
                alter: 0,
                merged: false,
                undos: Vec::new(),
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

    fn section<'a>(&'a self, wakes: &'a mut WakeList, semvmx: i32) -> Section<'a> {
        count(Event::SemLock);
        Section { set: self, st: self.state.lock(), wakes, semvmx }
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
    pub(crate) fn try_fast(&self, sop: SemOp, pid: i32, semvmx: i32) -> Fast {
        let Some(sem) = self.sems.get(usize::from(sop.num())) else { return Fast::Slow };
        let op = i32::from(sop.op());
        let mut cur = sem.word.load(Acquire);
        loop {
            if cur & (SLOW | BUSY) != 0 {
                return Fast::Slow;
            }
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
                Err(actual) => cur = actual,
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
                    Err(actual) => cur = actual,
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
    /// before.
    fn lock_word(&self, n: usize) -> u32 {
        let sem = &self.sems[n];
        let mut spins = 0u32;
        let mut cur = sem.word.load(Relaxed);
        loop {
            if cur & BUSY != 0 {
                backoff(&mut spins);
                cur = sem.word.load(Relaxed);
                continue;
            }
            match sem.word.compare_exchange_weak(cur, cur | SLOW, AcqRel, Relaxed) {
                Ok(_) => return cur,
                Err(actual) => cur = actual,
            }
        }
    }

    /// `semop` under the lock. `Ok(None)`: done. `Ok(Some(id))`: queued (only with a
    /// waker). The caller has made the checks before the lock (E2BIG, EFBIG, EACCES).
    pub(crate) fn semop(
        &self,
        sops: &[SemOp],
        pid: i32,
        undo: Option<u64>,
        semvmx: i32,
        waker: Option<&Waker>,
    ) -> Result<Option<WaiterId>, ErrorKind> {
        let mut wakes = WakeList::new();
        let mut s = self.section(&mut wakes, semvmx);
        if s.st.removed {
            return Err(ErrorKind::Removed);
        }
        for sop in sops {
            s.hold(usize::from(sop.num()));
        }
        let alter = sops.iter().any(|sop| sop.alters());
        match s.perform(sops, false, undo, pid) {
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
    /// `IPC_RMID`) decided it, taking it off the list.
    pub(crate) fn poll_waiter(&self, id: WaiterId, waker: &Waker) -> Poll<Result<(), ErrorKind>> {
        let mut st = self.state.lock();
        match st.waiters.register(id, waker) {
            Some(WaiterState::Waiting) => Poll::Pending,
            Some(WaiterState::Notified) => {
                let outcome = st.waiters.remove(id).and_then(|(w, _)| w.outcome);
                Poll::Ready(outcome.unwrap_or(Err(ErrorKind::Removed)).map(|_| ()))
            }
            None => Poll::Ready(Err(ErrorKind::Removed)),
        }
    }

    /// The future of a queued op was dropped (docs/kernel-rules.md §6.1): off the list if still
    /// sleeping; if a waker had already performed it, the inverse runs now where it can.
    pub(crate) fn cancel(&self, id: WaiterId, pid: i32, semvmx: i32) {
        let mut wakes = WakeList::new();
        let mut s = self.section(&mut wakes, semvmx);
        match s.st.waiters.remove(id) {
            Some((w, WaiterState::Waiting)) => s.unaccount(&w),
            Some((w, WaiterState::Notified)) => {
                if let Some(Ok(epoch)) = w.outcome {
                    s.inverse(&w, epoch, pid);
                }
            }
            None => {}
        }
    }

    /// `GETVAL`.
    pub(crate) fn get_val(&self, num: usize) -> Result<i32, ErrorKind> {
        let st = self.state.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        Ok((self.settled(num) & VALUE) as i32)
    }

    /// `GETPID`.
    pub(crate) fn get_pid(&self, num: usize) -> Result<i32, ErrorKind> {
        let st = self.state.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        Ok(self.sems[num].pid.load(Relaxed))
    }

    /// `GETNCNT` (`zero == false`) and `GETZCNT`: sleeping ops whose current blocking sop
    /// is a decrement (a wait-for-zero) of `num` (`count_semcnt`).
    pub(crate) fn get_cnt(&self, num: usize, zero: bool) -> Result<i32, ErrorKind> {
        let st = self.state.lock();
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
        let mut st = self.state.lock();
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        let zeros = Some(vec![0; self.nsems()].into_boxed_slice());
        match st.free_undo.pop() {
            Some(id) => {
                st.undos[id as usize] = zeros;
                Ok(id)
            }
            None => {
                st.undos.push(zeros);
                Ok(st.undos.len() as u64 - 1)
            }
        }
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
        let Some(adj) = s.st.undos.get_mut(undo as usize).and_then(Option::take) else { return };
        s.st.free_undo.push(undo);
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

    /// `freeary`: every sleeper fails with `EIDRM`, the undo records go, the id dies.
    fn remove(&self) -> Removal {
        let mut wakes = WakeList::new();
        {
            let mut st = self.state.lock();
            st.removed = true;
            self.header.mark_deleted();
            let ids: Vec<WaiterId> = st.waiters.iter().map(|(id, _)| id).collect();
            for id in ids {
                if let Some(w) = st.waiters.get_mut(id) {
                    w.outcome = Some(Err(ErrorKind::Removed));
                }
            }
            st.waiters.notify_all(&mut wakes);
            st.undos.clear();
            st.free_undo.clear();
            st.complex = 0;
            st.alter = 0;
        }
        wakes.wake_all();
        Removal::Now
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
        } else {
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
        let old = self.set.lock_word(n);
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
    fn perform(&mut self, sops: &[SemOp], invert: bool, undo: Option<u64>, pid: i32) -> Verdict {
        let set = self.set;
        let semvmx = self.semvmx;
        let st = &mut *self.st;
        // (num, value, semadj) of each semaphore touched so far.
        let mut inline = [(0usize, 0i32, 0i32); 8];
        let mut heap;
        let buf: &mut [(usize, i32, i32)] = if sops.len() <= inline.len() {
            &mut inline
        } else {
            heap = vec![(0usize, 0i32, 0i32); sops.len()];
            &mut heap
        };
        let mut len = 0;
        let adj = undo.and_then(|u| st.undos.get(u as usize)).and_then(Option::as_ref);
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
        let adj = undo.and_then(|u| st.undos.get_mut(u as usize)).and_then(Option::as_mut);
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
    ) -> WaiterId {
        if sops.len() > 1 {
            if self.st.complex == 0 && !self.st.merged {
                self.merge();
            }
            self.st.complex += 1;
            self.st.merged = true;
        }
        if alter {
            self.st.alter += 1;
        }
        for sop in sops {
            self.st.refs[usize::from(sop.num())] += 1;
        }
        let w = Waiter { sops: sops.into(), pid, undo, alter, blocking, outcome: None };
        self.st.waiters.push_back(w, waker)
    }

    /// `merge_queues`: the per-semaphore alter lists spliced onto the (empty) global one,
    /// each at its head, so the highest-numbered semaphore's waiters come first; FIFO within
    /// each semaphore.
    fn merge(&mut self) {
        let mut alters: Vec<(usize, WaiterId)> = self
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
        let st = &mut *self.st;
        release_refs(&mut st.refs, &mut st.held, st.held_all, &mut st.complex, &mut st.alter, w);
    }

    /// Hands a sleeping op its outcome and collects its waker.
    fn complete(&mut self, id: WaiterId, outcome: Result<u64, ErrorKind>) {
        let st = &mut *self.st;
        let Some(w) = st.waiters.get_mut(id) else { return };
        w.outcome = Some(outcome);
        release_refs(&mut st.refs, &mut st.held, st.held_all, &mut st.complex, &mut st.alter, w);
        st.waiters.notify(id, self.wakes);
    }

    /// Retries sleeping op `id`; `Some(true)` if it completed successfully, `Some(false)`
    /// with an error, `None` if it still blocks.
    fn retry(&mut self, id: WaiterId) -> Option<bool> {
        let w = self.st.waiters.get_mut(id)?;
        let sops = std::mem::take(&mut w.sops);
        let (undo, pid) = (w.undo, w.pid);
        let verdict = self.perform(&sops, false, undo, pid);
        if let Some(w) = self.st.waiters.get_mut(id) {
            w.sops = sops;
            if let Verdict::Block(i) = verdict {
                w.blocking = i;
            }
        }
        match verdict {
            Verdict::Block(i) => {
                let nowait = self.st.waiters.get(id).is_some_and(|w| w.sops[i].is_nowait());
                if nowait {
                    self.complete(id, Err(ErrorKind::WouldBlock));
                    Some(false)
                } else {
                    None
                }
            }
            Verdict::Fail(e) => {
                self.complete(id, Err(e));
                Some(false)
            }
            Verdict::Done => {
                let epoch = self.st.epoch;
                self.complete(id, Ok(epoch));
                Some(true)
            }
        }
    }

    fn sops_of(&self, id: WaiterId) -> Box<[SemOp]> {
        self.st.waiters.get(id).map(|w| w.sops.clone()).unwrap_or_default()
    }

    /// `wake_const_ops`: the wait-for-zero ops of one semaphore (single-sop) or, with
    /// `None`, the complex ones, FIFO. Completing them changes no value.
    fn wake_const(&mut self, semnum: Option<usize>) -> bool {
        let mut completed = false;
        let mut cur = self.st.waiters.front();
        while let Some(id) = cur {
            cur = self.st.waiters.next(id);
            let Some(w) = self.st.waiters.get(id) else { continue };
            let matches = !w.alter
                && match semnum {
                    Some(n) => w.sops.len() == 1 && usize::from(w.sops[0].num()) == n,
                    None => w.sops.len() > 1,
                };
            if matches && self.retry(id) == Some(true) {
                completed = true;
            }
        }
        completed
    }

    /// `do_smart_wakeup_zero`.
    fn wakeup_zero(&mut self, changed: Changed<'_>) -> bool {
        let mut completed = false;
        let mut got_zero = false;
        match changed {
            Changed::Ops(sops, _) => {
                for sop in sops {
                    let n = usize::from(sop.num());
                    if self.set.val(n) == 0 {
                        got_zero = true;
                        if self.st.refs[n] > 0 {
                            completed |= self.wake_const(Some(n));
                        }
                    }
                }
            }
            Changed::All => {
                for n in 0..self.set.nsems() {
                    if self.set.val(n) == 0 {
                        got_zero = true;
                        if self.st.refs[n] > 0 {
                            completed |= self.wake_const(Some(n));
                        }
                    }
                }
            }
        }
        if got_zero && self.st.complex > 0 {
            completed |= self.wake_const(None);
        }
        completed
    }

    /// The next sleeping alter op after `id` (const ops completed meanwhile are skipped;
    /// alter ops are only taken off by this scan).
    fn next_alter(&self, mut id: WaiterId) -> Option<WaiterId> {
        loop {
            id = self.st.waiters.next(id)?;
            if self.st.waiters.get(id).is_some_and(|w| w.alter) {
                return Some(id);
            }
        }
    }

    /// `update_queue`: the alter waiters of one semaphore (`Some`, per-semaphore mode:
    /// stop when it reaches 0, no restart) or all of them (`None`, merged mode: restart from
    /// the head after every completion).
    fn update_queue(&mut self, semnum: Option<usize>) -> bool {
        let mut completed = false;
        'again: loop {
            let mut cur = self.st.waiters.front();
            if let Some(id) = cur {
                if !self.st.waiters.get(id).is_some_and(|w| w.alter) {
                    cur = self.next_alter(id);
                }
            }
            while let Some(id) = cur {
                let next = self.next_alter(id);
                let Some(w) = self.st.waiters.get(id) else { break };
                if let Some(n) = semnum {
                    if !(w.sops.len() == 1 && usize::from(w.sops[0].num()) == n) {
                        cur = next;
                        continue;
                    }
                    if self.set.val(n) == 0 {
                        break 'again;
                    }
                }
                let nsops = w.sops.len();
                match self.retry(id) {
                    None | Some(false) => cur = next,
                    Some(true) => {
                        completed = true;
                        let sops = self.sops_of(id);
                        self.wakeup_zero(Changed::Ops(&sops, false));
                        let restart = (self.st.merged && self.st.alter > 0) || nsops > 1;
                        if restart {
                            continue 'again;
                        }
                        cur = next;
                    }
                }
            }
            break;
        }
        completed
    }

    /// `do_smart_update`: zero-waiters first, then the alter waiters (all of them when
    /// merged; otherwise those of each semaphore that was incremented, or of every
    /// semaphore for `All`); `sem_otime` if anything completed or `otime`.
    fn do_smart_update(&mut self, changed: Changed<'_>, mut otime: bool) {
        otime |= self.wakeup_zero(changed);
        if self.st.merged && self.st.alter > 0 {
            otime |= self.update_queue(None);
        } else {
            match changed {
                Changed::All => {
                    for n in 0..self.set.nsems() {
                        if self.st.refs[n] > 0 {
                            otime |= self.update_queue(Some(n));
                        }
                    }
                }
                Changed::Ops(sops, invert) => {
                    for sop in sops {
                        let n = usize::from(sop.num());
                        if eff_op(sop, invert) > 0 && self.st.refs[n] > 0 {
                            otime |= self.update_queue(Some(n));
                        }
                    }
                }
            }
        }
        if otime {
            self.set_otime(changed);
        }
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

    /// The cancellation inverse (docs/kernel-rules.md §6.1): the performed op `w`, negated and in
    /// reverse order, all-or-nothing and without waiting; it stands if the inverse cannot
    /// apply at once or `SETVAL`/`SETALL` touched one of its semaphores since.
    fn inverse(&mut self, w: &Waiter, epoch: u64, pid: i32) {
        if self.st.removed || !w.alter {
            return;
        }
        if w.sops.iter().any(|sop| self.st.gens[usize::from(sop.num())] > epoch) {
            return;
        }
        if w.undo.is_some_and(|u| !matches!(self.st.undos.get(u as usize), Some(Some(_)))) {
            return;
        }
        for sop in w.sops.iter() {
            self.hold(usize::from(sop.num()));
        }
        if let Verdict::Done = self.perform(&w.sops, true, w.undo, pid) {
            self.do_smart_update(Changed::Ops(&w.sops, true), true);
        }
    }
}

/// The counts an op leaving the `Waiting` state gives up: its reference on each semaphore it
/// names (one no op names any more is queued in `held` for its [`SLOW`] check) and the
/// complex/alter counts. It takes `State`'s fields rather than `State`, so a caller may hold
/// the op borrowed from `waiters` meanwhile.
fn release_refs(
    refs: &mut [u32],
    held: &mut Vec<u32>,
    held_all: bool,
    complex: &mut usize,
    alter: &mut usize,
    w: &Waiter,
) {
    for sop in w.sops.iter() {
        let n = usize::from(sop.num());
        refs[n] -= 1;
        if refs[n] == 0 && !held_all {
            held.push(n as u32);
        }
    }
    if w.sops.len() > 1 {
        *complex -= 1;
    }
    if w.alter {
        *alter -= 1;
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
        let per_sem = size_of::<Sem>() + size_of::<u32>() + size_of::<u64>();
        let waiter = size_of::<Waiter>() + size_of::<Waker>() + 3 * size_of::<u32>();
        println!("set (fixed): {set} bytes, per semaphore: {per_sem} bytes, sleeping semop: {waiter} bytes + 6 per sop");
        assert_eq!(per_sem, 28);
        assert!(waiter <= 128);
    }
}
