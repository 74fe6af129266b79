//! A reader-writer lock whose `read`/`write` return the guard, not a `Result`: `std`'s
//! `RwLock` normally, `loom`'s under `cfg(loom)` (the `Mutex` wrapper's shape, see
//! [`super`]). Poison is ignored, as `parking_lot` does: the one user (shared-memory views)
//! guards plain bytes, which have no invariant a panic could break.

use std::sync::{PoisonError, TryLockError};

#[cfg(loom)]
use loom::sync as imp;
#[cfg(not(loom))]
use std::sync as imp;

/// The guard of a shared hold.
pub(crate) type RwLockReadGuard<'a, T> = imp::RwLockReadGuard<'a, T>;
/// The guard of an exclusive hold.
pub(crate) type RwLockWriteGuard<'a, T> = imp::RwLockWriteGuard<'a, T>;

/// `std::sync::RwLock` (or `loom::sync::RwLock`) without poisoning.
#[derive(Debug)]
pub(crate) struct RwLock<T>(imp::RwLock<T>);

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(imp::RwLock::new(value))
    }

    /// A shared hold, waiting for any exclusive one to end.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// An exclusive hold, waiting for every other hold to end.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A shared hold if one can be had without waiting.
    pub(crate) fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        match self.0.try_read() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// An exclusive hold if one can be had without waiting.
    pub(crate) fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        match self.0.try_write() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}
