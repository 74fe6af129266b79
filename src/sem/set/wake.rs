//! The wake-up half of the engine: what a change of values does for the sleepers
//! (`do_smart_update`, `update_queue`, `wake_const_ops` of `ipc/sem.c`), and how a sleeper
//! gets its outcome.
//!
//! # Hand-off
//!
//! The kernel's rule, kept: the caller whose change lets a sleeper proceed *performs* the
//! sleeper's operation under the set lock (`update_queue` calls `perform_atomic_semop`),
//! so the sleeper never races for what was freed for it (a FIFO hand-off, as tokio's
//! `Semaphore`), and the woken task only collects the result. What that collection costs is
//! the point of this file:
//!
//! * **No second lock.** The outcome goes into the set's one-value mailbox
//!   (`crate::sync::mailbox`), tagged for that sleeper, and the sleeper's wait-list entry is
//!   removed, all in the waker's critical section. The woken future takes the outcome with
//!   one compare-and-swap. A hand-off is two set locks (the sleeper queueing, the waker
//!   performing), as in tokio, where it was three (the woken task locked again to read its
//!   entry). The mailbox holds one outcome at a time: with one uncollected (one release
//!   completing several sleepers, or a woken task not yet run), the next outcome is left in
//!   the entry, which stays `Notified` until its future takes it under the lock.
//! * **Under the lock the mailbox is the whole truth.** A future that finds its entry gone
//!   (stale id) knows its outcome was put in the mailbox before (the put and the removal are
//!   one critical section) and takes it there; only its own tag can take it.
//! * **Cancellation.** A dropped future takes an outcome from the mailbox first (a failure
//!   needs nothing more, and no lock), else asks its entry under the lock. A performed op
//!   ([`Performed`]: the epoch and `SEM_UNDO` record it ran with) is inverted from the
//!   future's own operations: the entry keeps none once decided. A future that is leaked
//!   (`mem::forget`) with an outcome in the mailbox keeps it full: later hand-offs then go
//!   through the entries, correct but with the second lock.
//! * **No allocation.** A sleeper keeps one sop inline ([`OpList`]), and the scans that
//!   follow a completion reuse the ops the retry took out of the entry instead of cloning.
//! * **Scans only where someone can proceed.** A semaphore reaching 0 is scanned for
//!   wait-for-zero sleepers only when its count of them (`State::zwait`, the length of the
//!   kernel's per-semaphore `pending_const`) is non-zero; per-semaphore `update_queue` stops
//!   at the first sleeper once the value is 0 before looking at it. A release that hands
//!   the unit to the oldest of T sleepers looks at that one sleeper, not at T.
//! * **One sop, no table.** `perform` of a single sop (every retry of a hand-off) runs
//!   without the table of semaphores touched that multi-sop atomicity needs, inlined into
//!   its caller; the multi-sop case is a function of its own, so the one-sop path does not
//!   set up its stack frame.
//!
//! # One increment
//!
//! The release of a contended semaphore is one increment of one semaphore. When no complex
//! (multi-sop) op sleeps and the queues are not merged, `do_smart_update` for it reduces to
//! one per-semaphore `update_queue`, and `Section::update_after_increment` runs exactly that:
//!
//! * `do_smart_wakeup_zero` has nothing to do: the increment leaves the semaphore above 0,
//!   and no complex wait-for-zero op sleeps (the generic pass looked at the value and the
//!   counts of every semaphore named, twice per hand-off, to find that out);
//! * the alter sleepers of that semaphore, single-sop by the condition, are retried in
//!   arrival order until the value is 0, one that still blocks passed over (a -2 does not
//!   stop a -1 behind it), as `update_queue(semnum)` does; after each one performed, the
//!   semaphore's wait-for-zero sleepers are scanned if it reached 0 and it has some;
//! * there is no restart: the kernel restarts only in merged mode or after a complex op.
//!
//! Each of those sleepers is retried in the scan itself: its one operation is copied out of
//! the entry (not taken out and put back, as the generic retry does for an op list), its
//! kind, tag, pid and `SEM_UNDO` record are read in the same look-up and handed to the
//! completion, and its counts are given up without the loop over sops. Its successor is read
//! only when the value is still above 0 after the retry (else the scan ends there), so the
//! hand-off of the last unit looks at one sleeper. The outcomes are the generic retry's; a
//! decided entry keeps its copy of the operation, which nothing reads (only `Waiting`
//! entries' are).
//!
//! "Not merged" is checked and not implied by "no complex op": within the critical section
//! that took the last complex op off the list (a cancellation followed by its inverse), the
//! queues stay merged until the unlock, as the kernel's `unmerge_queues` runs at
//! `sem_unlock`, and the generic pass handles that case. The wake order is unchanged:
//! `tests/sem_wake_order.rs` (whose `fifo_among_those_that_can_proceed` fails if the scan
//! stops at the first sleeper that blocks), `tests/model_props.rs`, `tests/linearizability.rs`
//! and the loom models pass. The slow path's other saving is in `Set::lock_word`: a word that
//! already has `SLOW` (a sleeper names the semaphore, the contended case) is not written
//! again; see its docs and the loom model
//! `a_locked_op_waits_out_a_multi_op_and_skips_only_its_own_slow_bits`.

use super::SleeperId;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::{eff_op, Changed, OpList, Outcome, Performed, Section, Sem, SemOp, State, Verdict, VALUE};
use crate::error::ErrorKind;
use crate::ipc::now;
use crate::sync::counters::{count, Event};
use std::task::Waker;

/// What a retry of a sleeping op did.
pub(super) enum Retried {
    /// It still blocks.
    Blocked,
    /// It failed (and was woken with the error).
    Failed,
    /// It was performed (and woken); its operations, for the wake-up scans that follow.
    Done(OpList),
}

impl Section<'_> {
    /// Hands sleeping op `id` (whose operations, taken out of its entry, are `sops`) its
    /// outcome and collects its waker: through the mailbox if it is free (the entry goes),
    /// else through the entry (it stays, `Notified`, until its future collects it).
    pub(super) fn complete(&mut self, id: SleeperId, sops: &[SemOp], outcome: Outcome) {
        let Some(w) = self.st.waiters.get(id) else { return };
        let (tag, alter) = (w.tag, w.alter);
        self.wakes.extend(hand(&mut self.st, id, tag, alter, sops, outcome));
    }

    /// Retries sleeping op `id` (`perform` on its operations, under the lock): performed or
    /// failed, it is woken with its outcome; else it keeps sleeping, now blocked on the sop
    /// the retry stopped at.
    pub(super) fn retry(&mut self, id: SleeperId) -> Retried {
        let Some(w) = self.st.waiters.get_mut(id) else { return Retried::Blocked };
        let sops = std::mem::take(&mut w.sops);
        let (undo, pid) = (w.undo, w.pid);
        match self.perform(&sops, false, undo, pid) {
            Verdict::Block(i) if sops[i].is_nowait() => {
                self.complete(id, &sops, Err(ErrorKind::WouldBlock));
                Retried::Failed
            }
            Verdict::Block(i) => {
                count(Event::SemRetry);
                if let Some(w) = self.st.waiters.get_mut(id) {
                    w.sops = sops;
                    w.blocking = i;
                }
                Retried::Blocked
            }
            Verdict::Fail(e) => {
                self.complete(id, &sops, Err(e));
                Retried::Failed
            }
            Verdict::Done => {
                let epoch = self.st.epoch;
                self.complete(id, &sops, Ok(Performed { epoch, undo }));
                Retried::Done(sops)
            }
        }
    }

    /// `wake_const_ops`: the wait-for-zero ops of one semaphore (single-sop) or, with
    /// `None`, the complex ones, FIFO. Completing them changes no value.
    pub(super) fn wake_const(&mut self, semnum: Option<usize>) -> bool {
        let mut completed = false;
        let mut cur = self.st.waiters.front();
        while let Some(id) = cur {
            cur = self.st.waiters.next(id);
            count(Event::SemScan);
            let Some(w) = self.st.waiters.get(id) else { continue };
            let matches = !w.alter
                && match semnum {
                    Some(n) => w.sops.len() == 1 && usize::from(w.sops[0].num()) == n,
                    None => w.sops.len() > 1,
                };
            if matches && matches!(self.retry(id), Retried::Done(_)) {
                completed = true;
            }
        }
        completed
    }

    /// `do_smart_wakeup_zero`.
    pub(super) fn wakeup_zero(&mut self, changed: Changed<'_>) -> bool {
        let mut completed = false;
        let mut got_zero = false;
        match changed {
            Changed::Ops(sops, _) => {
                for sop in sops {
                    let n = usize::from(sop.num());
                    if self.set.val(n) == 0 {
                        got_zero = true;
                        if self.st.zwait[n] > 0 {
                            completed |= self.wake_const(Some(n));
                        }
                    }
                }
            }
            Changed::All => {
                for n in 0..self.set.nsems() {
                    if self.set.val(n) == 0 {
                        got_zero = true;
                        if self.st.zwait[n] > 0 {
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
    pub(super) fn next_alter(&self, mut id: SleeperId) -> Option<SleeperId> {
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
    pub(super) fn update_queue(&mut self, semnum: Option<usize>) -> bool {
        let mut completed = false;
        'again: loop {
            let mut cur = self.st.waiters.front();
            if let Some(id) = cur {
                if !self.st.waiters.get(id).is_some_and(|w| w.alter) {
                    cur = self.next_alter(id);
                }
            }
            while let Some(id) = cur {
                // Per-semaphore mode: nothing of this semaphore can proceed at 0 (checked
                // first: the value does not change while other semaphores' ops are skipped).
                if semnum.is_some_and(|n| self.set.val(n) == 0) {
                    break 'again;
                }
                let next = self.next_alter(id);
                count(Event::SemScan);
                let Some(w) = self.st.waiters.get(id) else { break };
                if let Some(n) = semnum {
                    if !(w.sops.len() == 1 && usize::from(w.sops[0].num()) == n) {
                        cur = next;
                        continue;
                    }
                }
                let nsops = w.sops.len();
                match self.retry(id) {
                    Retried::Blocked | Retried::Failed => cur = next,
                    Retried::Done(sops) => {
                        completed = true;
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
    /// semaphore for `All`); `sem_otime` if anything completed or `otime`. One increment
    /// with no complex sleeper and unmerged queues takes the short form,
    /// [`update_after_increment`](Self::update_after_increment).
    ///
    /// Inline, so that the short form's test is made at the call and the hand-off calls
    /// [`after_increment`](Self::after_increment) directly, a smaller frame than the general
    /// pass's ([`do_smart_update_all`](Self::do_smart_update_all)).
    #[inline]
    pub(super) fn do_smart_update(&mut self, changed: Changed<'_>, otime: bool) {
        if let Changed::Ops([sop], invert) = changed {
            if eff_op(sop, invert) > 0 && self.st.complex == 0 && !self.st.merged {
                // The hand-off's case: one increment, no complex op asleep, not merged.
                self.after_increment(usize::from(sop.num()), otime);
                return;
            }
        }
        self.do_smart_update_all(changed, otime);
    }

    /// [`do_smart_update`](Self::do_smart_update)'s short form: one increment of semaphore
    /// `n`, no complex op asleep, the queues not merged.
    #[inline(never)]
    pub(super) fn after_increment(&mut self, n: usize, mut otime: bool) {
        // Semaphore `n`, bounds-checked once for the scan, its ops and the stamp.
        let sem = &self.set.sems[n];
        otime |= self.update_after_increment(n, sem);
        if otime {
            // `set_otime` of one sop: its semaphore is `n`.
            sem.otime.store(now(), Relaxed);
        }
    }

    /// [`do_smart_update`](Self::do_smart_update)'s general pass.
    #[inline(never)]
    fn do_smart_update_all(&mut self, changed: Changed<'_>, mut otime: bool) {
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

    /// `do_smart_update` after one increment of semaphore `n` while no complex op sleeps
    /// and the queues are not merged (see `# One increment` in the module docs): the same
    /// decisions as [`do_smart_update`](Self::do_smart_update) and
    /// [`update_queue`](Self::update_queue) make there, without the steps that cannot apply.
    /// Whether an op completed.
    ///
    /// * `do_smart_wakeup_zero` first: the increment left `n` above 0, and no complex
    ///   wait-for-zero op sleeps, so it has nothing to do.
    /// * Then the per-semaphore `update_queue` of `n`: its alter sleepers (each single-sop,
    ///   as no complex op sleeps) in arrival order, until the value is 0; one that still
    ///   blocks is passed over (a -2 does not stop a -1 behind it); after each one performed,
    ///   the wait-for-zero sleepers of `n` if it reached 0 and it has some. No restart: that
    ///   needs the merged queue or a complex op.
    fn update_after_increment(&mut self, n: usize, sem: &Sem) -> bool {
        if self.st.refs[n] == 0 {
            return false;
        }
        let mut completed = false;
        let mut cur = self.st.waiters.front();
        let word = &sem.word;
        while let Some(id) = cur {
            if word.load(Acquire) & VALUE == 0 {
                break;
            }
            let Some(w) = self.st.waiters.get(id) else { break };
            if !w.alter {
                // Only the head can be a wait-for-zero op: `next_alter` skips them. Looked
                // at in the same look-up as its fields below (the value does not change
                // while it is skipped, so the test above stands).
                cur = self.next_alter(id);
                continue;
            }
            count(Event::SemScan);
            // Every op is single-sop here (no complex op sleeps); a `Waiting` entry has its
            // ops (a generic retry takes them out only while it runs).
            let (undo, pid, tag) = (w.undo, w.pid, w.tag);
            let sop = match *w.sops {
                [sop] if usize::from(sop.num()) == n => sop,
                _ => {
                    cur = self.next_alter(id);
                    continue;
                }
            };
            // `retry`'s outcomes, without taking the operation out of the entry and putting
            // it back (a decided entry keeps its copy; only `Waiting` entries' operations are
            // ever read).
            let outcome = match self.perform_one(sem, sop, false, undo, pid) {
                Verdict::Done => Ok(Performed { epoch: self.st.epoch, undo }),
                Verdict::Block(_) if sop.is_nowait() => Err(ErrorKind::WouldBlock),
                Verdict::Block(_) => {
                    count(Event::SemRetry);
                    cur = self.next_alter(id);
                    continue;
                }
                Verdict::Fail(e) => Err(e),
            };
            // The successor, read before the entry goes with its outcome (alter ops leave
            // the list only through this scan, and the wait-for-zero ops a completion wakes
            // are not alter ops); not needed once the value is 0, where the scan ends (a
            // failed op changed nothing, and the wait-for-zero ops woken below change no
            // value), which is the hand-off's case: one sleeper looked at, no successor read.
            let zero = word.load(Acquire) & VALUE == 0;
            let next = if zero { None } else { self.next_alter(id) };
            let done = outcome.is_ok();
            self.wakes.extend(hand(&mut self.st, id, tag, true, std::slice::from_ref(&sop), outcome));
            if done {
                completed = true;
                if zero && self.st.zwait[n] > 0 {
                    self.wake_const(Some(n));
                }
            }
            cur = next;
        }
        completed
    }
}

/// [`Section::complete`] for a caller that has read the `Waiting` entry's tag and kind
/// (`alter`) already, and so knows it is there; on the state alone, so that the one-sop
/// path (`set/one.rs`), which has no section, completes its sleepers the same way. Returns
/// the sleeper's waker, to be woken once the lock is released: the one-sop path keeps it
/// in a local (it wakes at most one), a section pushes it onto its list.
#[inline(always)]
pub(super) fn hand(
    st: &mut State,
    id: SleeperId,
    tag: u64,
    alter: bool,
    sops: &[SemOp],
    outcome: Outcome,
) -> Option<Waker> {
    release_refs(st, sops, alter);
    count(Event::SemWake);
    match st.postman.put(tag, outcome) {
        Ok(()) => st.waiters.notify_remove(id),
        Err(outcome) => hand_late(st, id, outcome),
    }
}

/// [`hand`]'s other way, the mailbox full: the outcome left in the entry, which stays
/// `Notified` until its future collects it under the lock.
#[cold]
fn hand_late(st: &mut State, id: SleeperId, outcome: Outcome) -> Option<Waker> {
    if let Some(w) = st.waiters.get_mut(id) {
        w.outcome = Some(outcome);
    }
    st.waiters.notify(id)
}

/// The counts an op (`sops`, altering or not) leaving the `Waiting` state gives up: its
/// reference on each semaphore it names (one no op names any more is queued in `held` for
/// its [`SLOW`] check), its wait-for-zero count, and the complex/alter counts.
#[inline]
pub(super) fn release_refs(st: &mut State, sops: &[SemOp], alter: bool) {
    if let [sop] = sops {
        // One sop (every hand-off): its semaphore's counts, without the loop.
        let n = usize::from(sop.num());
        st.refs[n] -= 1;
        if st.refs[n] == 0 && !st.held_all {
            st.held.push(n as u32);
        }
        if alter {
            st.alter -= 1;
        } else {
            st.zwait[n] -= 1;
        }
        return;
    }
    for sop in sops {
        let n = usize::from(sop.num());
        st.refs[n] -= 1;
        if st.refs[n] == 0 && !st.held_all {
            st.held.push(n as u32);
        }
    }
    match sops {
        [sop] if !alter => st.zwait[usize::from(sop.num())] -= 1,
        [_] => {}
        _ => st.complex -= 1,
    }
    if alter {
        st.alter -= 1;
    }
}
