//! Event counters for measurement: how often the engines lock, lose a CAS race, switch mode,
//! wait and wake. Compiled in only with the `counters` cargo feature; without it, [`count`]
//! is an empty inline function and every call site compiles to nothing.
//!
//! Each thread counts into its own slots (one cache line per thread, written only by that
//! thread with relaxed stores), so counting adds no shared-cache-line traffic to the
//! contention it measures. A snapshot sums every thread's slots, including those of threads
//! that have exited. The public reader is `svipc::counters` (feature `counters`).
//!
//! To add a counter, add a variant to [`Event`] and its name to [`Event::NAME`]; then call
//! `count(Event::…)` where the event happens.

// `Event` is public through `svipc::counters` with the feature; without it, only `count`'s
// call sites name it.
#![cfg_attr(not(all(feature = "counters", not(loom))), allow(dead_code, unreachable_pub))]

/// What a counter counts. Each variant names one event in one engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// A `sync::Mutex` was locked (any lock in the crate).
    MutexLock,
    /// A `sync::Mutex` was locked while another thread held it (its `try_lock` failed first).
    MutexContended,
    /// A message was sent (the denominator for the message queue's counts).
    MsgSent,
    /// A message was received.
    MsgReceived,
    /// The message queue's state lock was taken.
    MsgLock,
    /// A CAS on the queue's send-room word (`tx`) failed and was retried.
    MsgCasFailTx,
    /// A CAS on the queue's receive-room word (`rx`) failed and was retried.
    MsgCasFailRx,
    /// A CAS on the ring's head failed and was retried.
    MsgCasFailHead,
    /// The queue switched from its lock-free mode to its locked mode.
    MsgToLocked,
    /// The queue switched from its locked mode back to its lock-free mode.
    MsgToLockFree,
    /// A send or receive registered itself to wait.
    MsgWait,
    /// A waiting send or receive was woken.
    MsgWake,
    /// A woken send or receive found nothing to do and waited again.
    MsgWakeEmpty,
    /// A send took the queue's lock (its `poll_send` went past the lock-free attempt).
    MsgLockSend,
    /// A receive took the queue's lock (its `poll_recv` went past the lock-free attempt).
    MsgLockRecv,
    /// A lock-free receive (or a send giving its room back) took the queue's lock to wake
    /// waiting senders (`ss_wakeup`).
    MsgLockWakeSenders,
    /// A send handed its message straight to a waiting receiver (`pipelined_send`).
    MsgHandoff,
    /// The message queue's receivers' lock was taken (a receiver registering, collecting a
    /// message or leaving, or a send handing a message over), which is not the queue's lock.
    MsgLockWaiting,
    /// A semop completed (the denominator for the semaphore's counts).
    SemOpDone,
    /// A semaphore set's state lock was taken.
    SemLock,
    /// A CAS on a semaphore's value word failed and was retried.
    SemCasFail,
    /// A semop registered itself to wait.
    SemWait,
    /// A waiting semop was woken.
    SemWake,
    /// A woken semop found it could not proceed and waited again.
    SemWakeEmpty,
    /// A semop or its waiter allocated on the heap.
    SemAlloc,
    /// A wake-up scan looked at a sleeping semop (whether or not it could proceed).
    SemScan,
    /// A wake-up scan retried a sleeping semop that still could not proceed.
    SemRetry,
}

impl Event {
    /// Every event, in declaration order.
    pub const ALL: [Event; 27] = [
        Event::MutexLock,
        Event::MutexContended,
        Event::MsgSent,
        Event::MsgReceived,
        Event::MsgLock,
        Event::MsgCasFailTx,
        Event::MsgCasFailRx,
        Event::MsgCasFailHead,
        Event::MsgToLocked,
        Event::MsgToLockFree,
        Event::MsgWait,
        Event::MsgWake,
        Event::MsgWakeEmpty,
        Event::MsgLockSend,
        Event::MsgLockRecv,
        Event::MsgLockWakeSenders,
        Event::MsgHandoff,
        Event::MsgLockWaiting,
        Event::SemOpDone,
        Event::SemLock,
        Event::SemCasFail,
        Event::SemWait,
        Event::SemWake,
        Event::SemWakeEmpty,
        Event::SemAlloc,
        Event::SemScan,
        Event::SemRetry,
    ];

    /// The event's name, as printed in reports (snake case).
    pub fn name(self) -> &'static str {
        match self {
            Event::MutexLock => "mutex_lock",
            Event::MutexContended => "mutex_contended",
            Event::MsgSent => "msg_sent",
            Event::MsgReceived => "msg_received",
            Event::MsgLock => "msg_lock",
            Event::MsgCasFailTx => "msg_cas_fail_tx",
            Event::MsgCasFailRx => "msg_cas_fail_rx",
            Event::MsgCasFailHead => "msg_cas_fail_head",
            Event::MsgToLocked => "msg_to_locked",
            Event::MsgToLockFree => "msg_to_lock_free",
            Event::MsgWait => "msg_wait",
            Event::MsgWake => "msg_wake",
            Event::MsgWakeEmpty => "msg_wake_empty",
            Event::MsgLockSend => "msg_lock_send",
            Event::MsgLockRecv => "msg_lock_recv",
            Event::MsgLockWakeSenders => "msg_lock_wake_senders",
            Event::MsgHandoff => "msg_handoff",
            Event::MsgLockWaiting => "msg_lock_waiting",
            Event::SemOpDone => "sem_op_done",
            Event::SemLock => "sem_lock",
            Event::SemCasFail => "sem_cas_fail",
            Event::SemWait => "sem_wait",
            Event::SemWake => "sem_wake",
            Event::SemWakeEmpty => "sem_wake_empty",
            Event::SemAlloc => "sem_alloc",
            Event::SemScan => "sem_scan",
            Event::SemRetry => "sem_retry",
        }
    }
}

/// Counts one `event` on this thread. Without the `counters` feature: nothing.
#[inline(always)]
pub(crate) fn count(event: Event) {
    #[cfg(all(feature = "counters", not(loom)))]
    imp::count(event);
    #[cfg(not(all(feature = "counters", not(loom))))]
    let _ = event;
}

#[cfg(all(feature = "counters", not(loom)))]
pub(crate) use imp::{reset, snapshot};

/// The counting itself. Real `std` atomics on purpose: the counters observe the algorithms,
/// they are no part of them, and loom builds leave them out.
#[cfg(all(feature = "counters", not(loom)))]
mod imp {
    use super::Event;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};

    const N: usize = Event::ALL.len();

    /// One thread's slots, padded so that two threads never share a cache line.
    #[repr(align(128))]
    struct Slots([AtomicU64; N]);

    /// Every thread's slots, registered on the thread's first count and kept after it exits.
    static REGISTRY: Mutex<Vec<Arc<Slots>>> = Mutex::new(Vec::new());

    thread_local! {
        static MINE: Arc<Slots> = {
            let slots = Arc::new(Slots(std::array::from_fn(|_| AtomicU64::new(0))));
            REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::clone(&slots));
            slots
        };
    }

    #[inline]
    pub(crate) fn count(event: Event) {
        // Only this thread writes its slots, so a load and a store (no locked RMW) suffice.
        let _ = MINE.try_with(|s| {
            let slot = &s.0[event as usize];
            slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        });
    }

    /// The sum of every thread's counts, in [`Event::ALL`]'s order.
    pub(crate) fn snapshot() -> [u64; N] {
        let mut sum = [0u64; N];
        for slots in REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            for (total, slot) in sum.iter_mut().zip(slots.0.iter()) {
                *total += slot.load(Ordering::Relaxed);
            }
        }
        sum
    }

    /// Sets every count to zero. Counts racing with a reset may survive it.
    pub(crate) fn reset() {
        for slots in REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            for slot in slots.0.iter() {
                slot.store(0, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(all(test, feature = "counters", not(loom)))]
mod tests {
    use super::{count, imp, Event};

    #[test]
    fn counts_from_several_threads_sum_and_survive_the_threads() {
        let before = imp::snapshot();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        count(Event::SemWakeEmpty);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let after = imp::snapshot();
        let i = Event::SemWakeEmpty as usize;
        // Other tests of this binary never count SemWakeEmpty, so the difference is exact.
        assert_eq!(after[i] - before[i], 4000);
    }

    #[test]
    fn names_are_unique_and_all_lists_every_variant_in_order() {
        for (i, e) in Event::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i);
        }
        let mut names: Vec<_> = Event::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Event::ALL.len());
    }
}
