//! The namespace's limits: the kernel's `kernel.msg*`, `kernel.sem` and `kernel.shm*`
//! sysctls ([`Limits`]), and [`LimitsCell`], the lock-free copy every call reads them from.
//!
//! They live in the generic layer because every mechanism's checks read them (`ipcget`'s
//! hooks, `semop`'s `SEMOPM`, `shmget`'s `SHMMAX`) and the namespace only stores them.

use std::sync::atomic::Ordering::Relaxed;

use super::ids::IPCMNI;
use super::IpcKind;
use crate::error::ErrorKind;
use crate::sync::atomic::AtomicU64;

// ===== Limits =====

/// The namespace's limits: the kernel's `kernel.msg*`, `kernel.sem` and `kernel.shm*`
/// sysctls, with the kernel's defaults ([`Limits::default`]).
///
/// Read them with [`Namespace::limits`](crate::Namespace::limits) and change them with
/// [`Namespace::set_limits`](crate::Namespace::set_limits); a
/// change applies to every call that starts afterwards, as a sysctl write does.
///
/// # Examples
///
/// ```
/// use svipc::{Limits, Namespace};
///
/// let ns = Namespace::new();
/// assert_eq!(ns.limits(), Limits::default());
/// assert_eq!((ns.limits().msgmax, ns.limits().semopm), (8192, 500));
///
/// let mut limits = ns.limits();
/// limits.msgmni = 4; // at most four queues
/// ns.set_limits(limits)?;
/// assert_eq!(ns.limits().msgmni, 4);
/// # Ok::<(), svipc::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// `MSGMAX` (`kernel.msgmax`): the largest message, in bytes. Default 8192.
    pub msgmax: usize,
    /// `MSGMNB` (`kernel.msgmnb`): a new queue's `msg_qbytes`, and the most `IPC_SET` may
    /// set without `CAP_SYS_RESOURCE`. Default 16384.
    pub msgmnb: usize,
    /// `MSGMNI` (`kernel.msgmni`): the most queues. Default 32000.
    pub msgmni: usize,
    /// `SEMMSL`: the most semaphores in one set. Default 32000.
    pub semmsl: usize,
    /// `SEMMNS`: the most semaphores in all sets together. Default 1,024,000,000
    /// (`SEMMNI * SEMMSL`).
    pub semmns: usize,
    /// `SEMOPM`: the most operations in one `semop`. Default 500.
    pub semopm: usize,
    /// `SEMVMX`: the largest semaphore value. Default 32767, which is also the most it may
    /// be set to (the kernel's is a constant; `semadj` lives in `[-32768, 32767]`).
    pub semvmx: i32,
    /// `SEMMNI`: the most semaphore sets. Default 32000.
    pub semmni: usize,
    /// `SHMMIN`: the smallest segment, in bytes. Default 1.
    pub shmmin: u64,
    /// `SHMMAX` (`kernel.shmmax`): the largest segment, in bytes. Default
    /// `ULONG_MAX - 2^24`.
    pub shmmax: u64,
    /// `SHMALL` (`kernel.shmall`): the most pages in all segments together. Default
    /// `ULONG_MAX - 2^24`.
    pub shmall: u64,
    /// `SHMMNI` (`kernel.shmmni`): the most segments. Default 4096.
    pub shmmni: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            msgmax: 8192,
            msgmnb: 16384,
            msgmni: 32000,
            semmsl: 32000,
            semmns: 32000 * 32000,
            semopm: 500,
            semvmx: 32767,
            semmni: 32000,
            shmmin: 1,
            shmmax: u64::MAX - (1 << 24),
            shmall: u64::MAX - (1 << 24),
            shmmni: 4096,
        }
    }
}

impl Limits {
    /// The sysctl range checks: the `*mni` limits at most 32768 (`IPCMNI`), the `int`
    /// sysctls at most `i32::MAX`, `SEMVMX` in `1..=32767`, `SHMMIN` at least 1 and at most
    /// `SHMMAX`.
    pub(crate) fn validate(&self) -> Result<(), ErrorKind> {
        let int_max = i32::MAX as usize;
        let ok = self.msgmax <= int_max
            && self.msgmnb <= int_max
            && self.msgmni <= IPCMNI
            && self.semmsl <= int_max
            && self.semmns <= int_max
            && self.semopm <= int_max
            && (1..=32767).contains(&self.semvmx)
            && self.semmni <= IPCMNI
            && self.shmmin >= 1
            && self.shmmin <= self.shmmax
            && self.shmmni <= IPCMNI;
        if ok {
            Ok(())
        } else {
            Err(ErrorKind::InvalidArgument)
        }
    }

    /// The per-kind object limit (`msgmni`, `semmni`, `shmmni`).
    pub(crate) fn max_objects(&self, kind: IpcKind) -> usize {
        match kind {
            IpcKind::MessageQueue => self.msgmni,
            IpcKind::SemaphoreSet => self.semmni,
            IpcKind::SharedMemory => self.shmmni,
        }
    }
}

/// [`Limits`] in atomics, read on every call without a lock.
#[derive(Debug)]
pub(crate) struct LimitsCell {
    words: [AtomicU64; 12],
}

impl LimitsCell {
    pub(crate) fn new(l: Limits) -> LimitsCell {
        let cell = LimitsCell { words: std::array::from_fn(|_| AtomicU64::new(0)) };
        cell.store(l);
        cell
    }

    pub(crate) fn store(&self, l: Limits) {
        let values = [
            l.msgmax as u64,
            l.msgmnb as u64,
            l.msgmni as u64,
            l.semmsl as u64,
            l.semmns as u64,
            l.semopm as u64,
            l.semvmx as u64,
            l.semmni as u64,
            l.shmmin,
            l.shmmax,
            l.shmall,
            l.shmmni as u64,
        ];
        for (word, value) in self.words.iter().zip(values) {
            word.store(value, Relaxed);
        }
    }

    /// `msgmax` alone (the first word): msgsnd checks it on every call, and needs no other.
    #[inline]
    pub(crate) fn msgmax(&self) -> usize {
        self.words[0].load(Relaxed) as usize
    }

    /// `semopm` and `semvmx` alone (two words): every `semop` checks the first and bounds
    /// its values by the second, and needs no other. The two loads are not one snapshot
    /// (neither is [`load`](Self::load)'s twelve): a call that races `set_limits` may see one
    /// old and one new value, as a C call racing two sysctl writes may.
    pub(crate) fn sem_op(&self) -> (usize, i32) {
        (self.words[5].load(Relaxed) as usize, self.words[6].load(Relaxed) as i32)
    }

    /// `semvmx` alone (one word): what a `semop`'s give-back and cancel need.
    pub(crate) fn semvmx(&self) -> i32 {
        self.words[6].load(Relaxed) as i32
    }

    pub(crate) fn load(&self) -> Limits {
        let w = |i: usize| self.words[i].load(Relaxed);
        Limits {
            msgmax: w(0) as usize,
            msgmnb: w(1) as usize,
            msgmni: w(2) as usize,
            semmsl: w(3) as usize,
            semmns: w(4) as usize,
            semopm: w(5) as usize,
            semvmx: w(6) as i32,
            semmni: w(7) as usize,
            shmmin: w(8),
            shmmax: w(9),
            shmall: w(10),
            shmmni: w(11) as usize,
        }
    }
}
