//! The synchronization facade: [`loom`] types under `cfg(loom)`, `std` types otherwise.
//!
//! Every atomic, cell, lock, `Arc`, thread and spin hint in this crate is imported from
//! here, so that one `RUSTFLAGS="--cfg loom"` build puts the whole crate under the model
//! checker (tokio's `src/loom`, concurrent-queue's `src/sync.rs`). `Ordering` may come from
//! `std`. The one exception lives in `shm`: atomics that sit *in mapped segment memory* are
//! real `core::sync::atomic` types, because a loom atomic is a bookkeeping object and can
//! never be placed in an mmap.
//!
//! Differences from the plain `std` types, the same in both worlds:
//! * [`Mutex::lock`] returns the guard, not a `Result`. No code in this crate panics while it
//!   holds a lock; should a caller's `Waker` or `Drop` impl panic elsewhere, the poison flag
//!   is ignored, as `parking_lot` does.
//! * [`UnsafeCell`] exposes loom's closure API (`with`, `with_mut`) on `std` too, so no
//!   `&mut` escapes a cell outside a closure (tokio `loom/std/unsafe_cell.rs`).
//!
//! [`loom`]: https://docs.rs/loom

#[cfg(not(loom))]
pub(crate) mod blocking;
pub(crate) mod cell;
pub(crate) mod counters;
pub(crate) mod mailbox;
pub(crate) mod ring;
pub(crate) mod rwlock;
pub(crate) mod wait_list;

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::{atomic, Arc};
    pub(crate) use loom::{hint, thread};

    /// A loom mutex whose `lock` returns the guard directly.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::{atomic, Arc};
    pub(crate) use std::{hint, thread};

    /// A `std` mutex whose `lock` returns the guard directly, ignoring poison.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            #[cfg(feature = "counters")]
            {
                use super::counters::{count, Event};
                count(Event::MutexLock);
                match self.0.try_lock() {
                    Ok(guard) => return guard,
                    Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                    Err(std::sync::TryLockError::WouldBlock) => count(Event::MutexContended),
                }
            }
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

#[allow(unused_imports)]
pub(crate) use imp::{atomic, hint, thread, Arc, Mutex, MutexGuard};
#[allow(unused_imports)]
pub(crate) use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
/// `std`'s `Arc` under every cfg, loom included: the type users build their messages from
/// (`Payload for Arc<T>`), not a primitive svipc synchronizes with, so loom has nothing to
/// see in it.
pub(crate) use std::sync::Arc as UserArc;

/// One-time initialization of a `static` (the process-wide namespace). Always `std`: loom
/// has no `OnceLock`, and no loom object may outlive one model run, so the code that uses
/// it is compiled out under `cfg(loom)`.
#[cfg(not(loom))]
pub(crate) use std::sync::OnceLock;

/// One round of a short wait for another thread's few instructions (a lock-free operation
/// finishing: a ring push or pop, a collect, a semop draining): spin a little, then yield.
/// Never for anything that can block: the thread waited for is always running code that
/// ends without waiting on us.
pub(crate) fn backoff(spins: &mut u32) {
    if *spins < 64 {
        hint::spin_loop();
        *spins += 1;
    } else {
        thread::yield_now();
    }
}
