//! Event counters for measurement (cargo feature `counters`; absent otherwise). No System V
//! call corresponds: they count what svipc's engines do inside the calls.
//!
//! With the feature on, the message-queue and semaphore engines count their locks, failed
//! CAS attempts, mode switches, waits and wake-ups. Benchmarks read a [`Snapshot`] before
//! and after a run and divide by the messages or operations done. Without the feature the
//! engines' counting calls compile to nothing, so a normal build pays nothing.
//!
//! ```
//! # #[cfg(feature = "counters")] {
//! use svipc::counters::{self, Event};
//!
//! let before = counters::snapshot();
//! // ... run the workload ...
//! let d = counters::snapshot().since(&before);
//! println!("{} locks per message", d.per(Event::MsgLock, Event::MsgSent));
//! # }
//! ```

pub use crate::sync::counters::Event;

/// Every counter's total at one instant, summed over all threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot([u64; Event::ALL.len()]);

impl Snapshot {
    /// The count of `event`.
    pub fn get(&self, event: Event) -> u64 {
        self.0[event as usize]
    }

    /// The counts that happened after `earlier` was taken.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot(std::array::from_fn(|i| self.0[i].saturating_sub(earlier.0[i])))
    }

    /// `event`'s count divided by `per`'s (0.0 when `per` is 0): "locks per message".
    pub fn per(&self, event: Event, per: Event) -> f64 {
        match self.get(per) {
            0 => 0.0,
            n => self.get(event) as f64 / n as f64,
        }
    }

    /// Each event with its count, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (Event, u64)> + '_ {
        Event::ALL.iter().map(|&e| (e, self.get(e)))
    }
}

/// The counts now.
pub fn snapshot() -> Snapshot {
    Snapshot(crate::sync::counters::snapshot())
}

/// Sets every count to zero (counts racing with the reset may survive it).
pub fn reset() {
    crate::sync::counters::reset()
}
