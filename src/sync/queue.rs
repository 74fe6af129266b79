//! Facade over crossbeam's lock-free FIFO queues.
//!
//! `crossbeam-queue` is not loom-instrumented: under loom its atomics are invisible and its
//! `Backoff::snooze` spins on `std` rather than yielding to loom's scheduler, so a model in
//! which one thread waits in `pop` for another's half-finished `push` can hang. This module
//! therefore exports crossbeam's [`SegQueue`] and [`ArrayQueue`] in normal builds and a
//! `Mutex<VecDeque<T>>` stand-in with the same method names under `cfg(loom)`.
//!
//! What sits behind the stand-in is never model-checked, and crossbeam's queues cannot peek
//! at the head, push to the front or claim a chosen element. Use them only for a pure FIFO
//! whose correctness does not lean on those operations; structure the IPC semantics lean on
//! is written against [`crate::sync`] so loom sees it.

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) use crossbeam_queue::{ArrayQueue, SegQueue};

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) use self::stand_in::{ArrayQueue, SegQueue};

#[cfg(loom)]
#[allow(dead_code)]
mod stand_in {
    use crate::sync::Mutex;
    use std::collections::VecDeque;

    /// Unbounded FIFO stand-in for `crossbeam_queue::SegQueue` under loom.
    #[derive(Debug)]
    pub(crate) struct SegQueue<T> {
        items: Mutex<VecDeque<T>>,
    }

    impl<T> SegQueue<T> {
        pub(crate) fn new() -> Self {
            Self { items: Mutex::new(VecDeque::new()) }
        }

        pub(crate) fn push(&self, value: T) {
            self.items.lock().push_back(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.items.lock().pop_front()
        }

        pub(crate) fn len(&self) -> usize {
            self.items.lock().len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.items.lock().is_empty()
        }
    }

    /// Bounded FIFO stand-in for `crossbeam_queue::ArrayQueue` under loom.
    #[derive(Debug)]
    pub(crate) struct ArrayQueue<T> {
        cap: usize,
        items: Mutex<VecDeque<T>>,
    }

    impl<T> ArrayQueue<T> {
        /// # Panics
        /// If `cap` is zero, as crossbeam's does.
        pub(crate) fn new(cap: usize) -> Self {
            assert!(cap > 0, "capacity must be non-zero");
            Self { cap, items: Mutex::new(VecDeque::with_capacity(cap)) }
        }

        pub(crate) fn push(&self, value: T) -> Result<(), T> {
            let mut items = self.items.lock();
            if items.len() == self.cap {
                return Err(value);
            }
            items.push_back(value);
            Ok(())
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.items.lock().pop_front()
        }

        pub(crate) fn len(&self) -> usize {
            self.items.lock().len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.items.lock().is_empty()
        }

        pub(crate) fn capacity(&self) -> usize {
            self.cap
        }
    }
}
