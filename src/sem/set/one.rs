//! The one-sop locked path: a `semop` of one operation that the lock-free path could not
//! finish (its semaphore has sleepers, or it must sleep), written out flat, as the
//! contended semaphore's every call is.
//!
//! # Why a path of its own
//!
//! The generic critical section (`Section`, `set/wake.rs`) serves every shape: several
//! sops, merged queues, `SETVAL`, exit undo. A hand-off pair (a decrement that sleeps, an
//! increment that performs it) went through all of it: the section's set-up and its `Drop`
//! scanning the semaphores it held, `do_smart_update`'s dispatch, a scan function of its
//! own, an out-of-line enqueue. Measured (BENCHMARKS.md, "Semaphores under contention",
//! round 10), that structure, not the kernel's obligations, was most of the distance to
//! tokio's `Semaphore`. Here the steady states are one function over the state:
//!
//! * **Sleep.** A decrement that blocks is queued in place (the one-sop entry the generic
//!   `enqueue` makes, `enqueue_one`).
//! * **Hand-off.** An increment whose semaphore has sleepers, while no complex op sleeps and
//!   the queues are not merged, looks at the oldest sleeper: if it is a one-sop decrement of
//!   this semaphore that the increment lets take the value to exactly 0, both ops are
//!   performed and the sleeper is handed its outcome here (`hand`, the generic
//!   completion), and the scan is over, as the generic one would end there (nothing more of
//!   the semaphore can proceed at 0). It is decided before the increment is made, so that
//!   the commonest hand-off, `+k` meeting `-k` at 0 with no `SEM_UNDO` on either side,
//!   writes no value at all: the value goes from 0 to `k` and back to 0 under the lock, and
//!   what is left of the two ops is the sleeper's `sempid`, the op performed last. With a
//!   `SEM_UNDO` record on either side, or a value above 0, the two are performed in turn,
//!   each with its own record.
//! * **Nothing to wake.** A decrement or wait-for-zero that completes, with no wait-for-zero
//!   sleeper to wake, only stamps `sem_otime`.
//!
//! The flat path completes at most one sleeper, so it keeps that sleeper's waker in a local
//! and wakes it after the unlock; the generic section's list of wakers (`WakeList`) is made
//! only where the call falls into that section, with the waker already taken first in it.
//!
//! Everything else falls into the generic section with the lock it holds, before or at the
//! point where the generic path would take over, so the outcome and the wake order are the
//! generic path's by construction: merged mode (or a complex op asleep) from the start; an
//! increment whose oldest sleeper is anything else (a wait-for-zero, another semaphore's,
//! one that would leave the value above 0 or still block) before that sleeper is touched
//! (the generic scan then starts from the front, as it would have); wait-for-zero sleepers
//! to wake once the value reached 0.

use std::task::Waker;

use super::wake::hand;
use super::{
    enqueue_one, perform_sop, release_word, Performed, Section, SemOp, Set, Ticket, Verdict, SLOW, VALUE,
};
use crate::error::ErrorKind;
use crate::ipc::now;
use crate::sync::counters::{count, Event};
use crate::sync::wait_list::WakeList;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

/// Where the flat part left the call.
enum Next {
    /// Finished, with this result.
    Done(Result<Option<Ticket>, ErrorKind>),
    /// To be finished in the generic section.
    Section(Rest),
}

/// What the generic section does with a call the flat part hands over.
enum Rest {
    /// Merged mode: the whole call.
    Generic,
    /// The increment is made; the generic scan of its sleepers (and the stamp) follows.
    Scan,
    /// A decrement or hand-off left the value at 0 with wait-for-zero sleepers to wake.
    ZeroWaiters,
}

impl Set {
    /// [`semop`](Self::semop) of the one sop `sop`; the sleepers it completes are woken
    /// once the lock is released.
    #[inline]
    pub(super) fn semop_one(
        &self,
        sop: SemOp,
        pid: i32,
        undo: Option<u64>,
        semvmx: i32,
        waker: Option<&Waker>,
    ) -> Result<Option<Ticket>, ErrorKind> {
        let alter = sop.alters();
        let n = usize::from(sop.num());
        let sem = &self.sems[n];
        let mut guard = self.lock();
        let st = &mut *guard;
        if st.removed {
            return Err(ErrorKind::Removed);
        }
        // The sleeper a hand-off completes: the flat path wakes at most this one.
        let mut woken = None;
        let rest = if st.complex != 0 || st.merged {
            Rest::Generic
        } else {
            let old = Self::lock_sem(sem);
            let handed = if sop.op() > 0 && st.refs[n] != 0 {
                self.hand_off(st, &mut woken, sop, undo, pid, semvmx)
            } else {
                None
            };
            let next = match handed {
                Some(next) => next,
                None => match perform_sop(sem, sop, false, undo, pid, semvmx, st) {
                    Verdict::Done if sop.op() > 0 => {
                        if st.refs[n] == 0 {
                            Next::Done(Ok(None))
                        } else {
                            Next::Section(Rest::Scan)
                        }
                    }
                    Verdict::Done if alter && st.zwait[n] > 0 && sem.word.load(Acquire) & VALUE == 0 => {
                        Next::Section(Rest::ZeroWaiters)
                    }
                    Verdict::Done => Next::Done(Ok(None)),
                    Verdict::Fail(e) => Next::Done(Err(e)),
                    Verdict::Block(_) => match waker.filter(|_| !sop.is_nowait()) {
                        None => Next::Done(Err(ErrorKind::WouldBlock)),
                        Some(waker) => Next::Done(Ok(Some(enqueue_one(st, sop, pid, undo, alter, waker)))),
                    },
                },
            };
            let rest = match next {
                Next::Done(r) => {
                    if matches!(r, Ok(None)) {
                        sem.otime.store(now(), Relaxed);
                    }
                    // The one semaphore this call held: given back unless a sleeper names
                    // it (what the generic section's `Drop` does for it).
                    st.held.clear();
                    if st.refs[n] == 0 {
                        release_word(sem);
                    }
                    drop(guard);
                    if let Some(w) = woken {
                        w.wake();
                    }
                    return r;
                }
                Next::Section(rest) => rest,
            };
            if old & SLOW == 0 {
                // This call set SLOW: the section below gives it back when nobody
                // needs it.
                st.held.push(n as u32);
            }
            rest
        };
        let mut wakes = WakeList::new();
        wakes.extend(woken);
        let mut s = Section { set: self, st: guard, wakes: &mut wakes, semvmx };
        match rest {
            Rest::Generic => self.semop_with(s, &[sop], alter, pid, undo, waker),
            Rest::Scan => {
                s.after_increment(n, true);
                Ok(None)
            }
            Rest::ZeroWaiters => {
                s.wake_const(Some(n));
                sem.otime.store(now(), Relaxed);
                Ok(None)
            }
        }
    }

    /// The hand-off of increment `sop`, whose semaphore has sleepers (see the module
    /// docs), decided before the increment is made: `None` when the oldest sleeper is not
    /// the one-sop decrement that the increment lets take the value to exactly 0 (nothing is
    /// touched; the caller performs the increment and the generic scan follows); else both
    /// ops performed, the sleeper handed its outcome.
    #[inline(always)]
    fn hand_off(
        &self,
        st: &mut super::State,
        woken: &mut Option<Waker>,
        sop: SemOp,
        undo: Option<u64>,
        pid: i32,
        semvmx: i32,
    ) -> Option<Next> {
        let n = usize::from(sop.num());
        let sem = &self.sems[n];
        let id = st.waiters.front()?;
        let w = st.waiters.get(id)?;
        let [s] = *w.sops else { return None };
        let value = (sem.word.load(Acquire) & VALUE) as i32;
        let k = i32::from(sop.op());
        if !w.alter || usize::from(s.num()) != n || value + k + i32::from(s.op()) != 0 {
            return None;
        }
        let (sleeper_undo, sleeper_pid, tag) = (w.undo, w.pid, w.tag);
        if value == 0 && k <= semvmx && !sop.is_undo() && !s.is_undo() {
            // 0, then k, then 0 again: the word stays as it is, and `sempid` is the pid of
            // the op performed last, the sleeper's.
            sem.pid.store(sleeper_pid, Relaxed);
        } else {
            match perform_sop(sem, sop, false, undo, pid, semvmx, st) {
                Verdict::Done => {}
                // Out of range or no record: nothing changed, and the call fails so.
                Verdict::Fail(e) => return Some(Next::Done(Err(e))),
                // An increment does not block; were it to, the caller's own `perform`
                // would decide it.
                Verdict::Block(_) => return None,
            }
            match perform_sop(sem, s, false, sleeper_undo, sleeper_pid, semvmx, st) {
                Verdict::Done => {}
                // A failure (its `SEM_UNDO` record gone) changed nothing: the generic scan
                // decides it, and goes on to the next.
                _ => return Some(Next::Section(Rest::Scan)),
            }
        }
        count(Event::SemScan);
        let outcome = Ok(Performed { epoch: st.epoch, undo: sleeper_undo });
        *woken = hand(st, id, tag, true, std::slice::from_ref(&s), outcome);
        if st.zwait[n] > 0 {
            return Some(Next::Section(Rest::ZeroWaiters));
        }
        Some(Next::Done(Ok(None)))
    }
}
