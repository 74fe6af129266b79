//! The `tracing` feature: one event per system-call-shaped operation, at its completion.
//!
//! # What a user sees
//!
//! With the `tracing` cargo feature on, every call that stands for a System V call emits
//! one [`tracing`](https://docs.rs/tracing) event with target `svipc` when it completes:
//!
//! | field | value |
//! |---|---|
//! | `call` | the C name: `msgget`, `msgsnd`, `msgrcv`, `msgctl`, `semget`, `semop`, `semctl`, `shmget`, `shmat`, `shmdt`, `shmctl` (the [`Op`](crate::Op) of the call) |
//! | `id` | the object's id (`msqid`, `semid`, `shmid`); for a `*get` that failed, `-1` as C returns |
//! | `key` | the key, on `*get` events only (the other calls take no key) |
//! | `pid` | the calling [`Process`](crate::Process)'s pid |
//! | `result` | `"ok"`, the errno's name (`"EAGAIN"`, `"EACCES"`, …, [`ErrorKind::errno_name`](crate::ErrorKind::errno_name)), or `"cancelled"` |
//! | `waited` | whether the call slept: its future returned `Pending` at least once (a `blocking_*` call parked its thread) |
//! | `wait_us` | on a call that waited, the microseconds from its first `Pending` to its completion |
//!
//! Levels: `DEBUG` for a success, a cancellation, and the errors a non-waiting or timed call
//! returns in normal operation (`EAGAIN`, `ENOMSG`); `WARN` for the permission errors
//! (`EACCES`, `EPERM`), which usually mean a misconfigured service; `INFO` for every other
//! error (`EIDRM`, `EINVAL`, `E2BIG`, `ENOENT`, `EEXIST`, `ENOSPC`, `ERANGE`, `EFBIG`,
//! `ENOMEM`).
//!
//! The decisions, each pinned by `tests/tracing.rs`:
//!
//! * **One event per call, at completion.** A future that completes emits once, whatever
//!   the number of polls; a poll after completion (answered `EINVAL`) emits nothing more.
//!   The futures' wrappers add no event of their own: `blocking_*`, `recv_limited` and the
//!   timed calls report through the future they drive.
//! * **A cancelled wait is an event**: a future dropped after it returned `Pending` and
//!   before it completed emits `result = "cancelled"`, `waited = true` and how long it
//!   waited (the kernel's `EINTR`). A future dropped before its first poll made no call and
//!   emits nothing.
//! * **A timed call that expires** (`recv_timeout`, `send_timeout`, `semop_timeout`) emits
//!   `result = "EAGAIN"`, the errno it returns, not `"cancelled"`.
//! * **Permits.** `acquire` is a `semop` and emits a `semop` event when it completes; the
//!   permit's give-back on drop is the `semop` of the increments it stands for and emits its
//!   own `semop` event (it never waits). `reserve` is the room check of a `msgsnd` and emits
//!   the `msgsnd` event (with its wait); the permit's `send` then puts the message in without
//!   another check and emits nothing.
//! * **Streams and sinks**: each item received (each message sent) is one call, one event.
//! * **The C layer** (`svipc::c`) emits exactly one event per C call, with the C call's
//!   arguments (`id` is the id passed, or the one a `*get` returned), even though it goes
//!   through the typed calls: those are muted while the C call runs.
//! * **Opening by id** (`msg_queue_by_id`, `with_process`, …) is no call of its own in C —
//!   holding an id asks nothing — and emits nothing; neither do the namespace-wide readers
//!   (`msg_info`, `sem_info`, `shm_info`, `ipcs`), which read figures and check nothing,
//!   nor the removal a `remove_on_drop` handle makes as it drops (svipc's own, no C call).
//!   `Process::remove` (`ipcrm`) emits the `msgctl`, `semctl` or `shmctl` it stands for;
//!   the `*_stat` commands by index emit with the full id found (the index on failure).
//!   Removing an object that is waited on emits the remover's event, then the `EIDRM` of
//!   each waiting call as it completes.
//!
//! # Implementation
//!
//! The call sites are one line each, a macro of this module. Without the feature every
//! macro expands to nothing (its arguments are not even evaluated), the futures carry no
//! extra field (each `Wait` field is `#[cfg(feature = "tracing")]`), and the crate
//! compiles to exactly what it did before the feature existed. With it, a future holds a
//! `Wait` (one word: when it first returned `Pending`, and whether it reported), and an event
//! costs a clock read on the first `Pending` plus what the subscriber does; `tracing`'s own
//! callsite interest makes a disabled level cost one relaxed load.
//!
//! The C layer's muting is a thread-local depth counter: the C call runs (or, for a
//! `CallFuture`, is polled and dropped) with it raised, so the typed calls it makes on that
//! thread emit nothing, and the C layer emits the one event. It is thread-private state that
//! no other thread reads, so it is a plain `std` cell, outside the `sync` shim. The epoch the
//! wait clocks count from is set once per process, in the shim's `OnceLock`.
// Without the feature (and under loom, where the C layer is not built) some of this is unused.
#![cfg_attr(any(not(feature = "tracing"), loom), allow(unused_macros, unused_imports, dead_code))]

#[cfg(feature = "tracing")]
pub(crate) use imp::*;

#[cfg(feature = "tracing")]
mod imp {
    #[cfg(not(loom))]
    use crate::sync::OnceLock;
    // The shim has no `OnceLock` under loom; the epoch is outside any model.
    use std::cell::Cell;
    #[cfg(loom)]
    use std::sync::OnceLock;
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use crate::error::{Error, ErrorKind, Op, SendError};

    thread_local! {
        /// How many C-layer calls are running on this thread: events are muted while > 0.
        static MUTED: Cell<u32> = const { Cell::new(0) };
    }

    /// What a call returned, as far as its event cares: success or the error.
    pub(crate) trait Outcome {
        /// The error, if the call failed.
        fn error(&self) -> Option<Error>;
    }

    impl<T> Outcome for Result<T, Error> {
        fn error(&self) -> Option<Error> {
            self.as_ref().err().copied()
        }
    }

    impl<T> Outcome for Result<T, &Error> {
        fn error(&self) -> Option<Error> {
            self.as_ref().err().map(|e| **e)
        }
    }

    impl<T, U> Outcome for Result<T, SendError<U>> {
        fn error(&self) -> Option<Error> {
            self.as_ref().err().map(SendError::error)
        }
    }

    impl<T, U> Outcome for Result<T, &SendError<U>> {
        fn error(&self) -> Option<Error> {
            self.as_ref().err().map(|e| e.error())
        }
    }

    impl<R: Outcome> Outcome for Option<R> {
        fn error(&self) -> Option<Error> {
            self.as_ref().and_then(Outcome::error)
        }
    }

    /// How a call ended.
    #[derive(Clone, Copy)]
    pub(crate) enum End {
        /// Success (`None`) or the error.
        Done(Option<Error>),
        /// Dropped while it waited.
        Cancelled,
    }

    /// Emits one event, unless a C-layer call muted this thread.
    ///
    /// The first test is `tracing`'s global level filter (one relaxed load): without a
    /// subscriber that wants the level, nothing else runs.
    #[inline]
    pub(crate) fn emit(op: Op, id: i32, key: Option<i32>, pid: i32, end: End, waited: Option<Duration>) {
        let level = match end {
            End::Done(Some(e)) => level_of(e.kind()),
            End::Done(None) | End::Cancelled => tracing::Level::DEBUG,
        };
        if level > tracing::level_filters::LevelFilter::current() || MUTED.with(Cell::get) > 0 {
            return;
        }
        emit_event(op, id, key, pid, end, waited, level);
    }

    /// The event itself, out of line.
    #[inline(never)]
    fn emit_event(
        op: Op,
        id: i32,
        key: Option<i32>,
        pid: i32,
        end: End,
        waited: Option<Duration>,
        level: tracing::Level,
    ) {
        let result = match end {
            End::Done(None) => "ok",
            End::Cancelled => "cancelled",
            End::Done(Some(e)) => e.kind().errno_name(),
        };
        let call = op.name();
        let was = waited.is_some();
        let wait_us = waited.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        // `event!` needs its level as a constant: one call site per level.
        match level {
            tracing::Level::WARN => {
                tracing::warn!(target: "svipc", call, id, key, pid, result, waited = was, wait_us)
            }
            tracing::Level::INFO => {
                tracing::info!(target: "svipc", call, id, key, pid, result, waited = was, wait_us)
            }
            _ => tracing::debug!(target: "svipc", call, id, key, pid, result, waited = was, wait_us),
        }
    }

    /// The level of an error's event (see the module docs).
    fn level_of(kind: ErrorKind) -> tracing::Level {
        match kind {
            ErrorKind::WouldBlock | ErrorKind::NoMessage => tracing::Level::DEBUG,
            ErrorKind::PermissionDenied | ErrorKind::NotPermitted => tracing::Level::WARN,
            _ => tracing::Level::INFO,
        }
    }

    /// Runs `f` with this thread's events muted: a C-layer call around the typed calls.
    pub(crate) fn muted<R>(f: impl FnOnce() -> R) -> R {
        struct Unmute;
        impl Drop for Unmute {
            fn drop(&mut self) {
                MUTED.with(|m| m.set(m.get() - 1));
            }
        }
        MUTED.with(|m| m.set(m.get() + 1));
        let _unmute = Unmute;
        f()
    }

    /// The wait state of a future: when it first returned `Pending`, and whether it has
    /// reported. One per future, present only with the feature; one word, so that a future
    /// grows by 8 bytes: bit 63 is "reported", bits 0..63 the nanoseconds from [`epoch`] to
    /// the first `Pending` plus one (0: it never returned `Pending`).
    #[derive(Debug, Default)]
    pub(crate) struct Wait(u64);

    const DONE: u64 = 1 << 63;

    /// The instant the wait clocks count from: the first wait of the process.
    fn epoch() -> Instant {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    impl Wait {
        fn waited(&self) -> Option<Duration> {
            let nanos = self.0 & !DONE;
            (nanos != 0).then(|| epoch().elapsed().saturating_sub(Duration::from_nanos(nanos - 1)))
        }

        /// After a poll: starts the wait clock on `Pending`, emits the one event on `Ready`.
        pub(crate) fn poll<R: Outcome>(&mut self, op: Op, id: i32, pid: i32, p: &Poll<R>) {
            match p {
                Poll::Pending => {
                    if self.0 & !DONE == 0 {
                        let nanos = u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(DONE - 2);
                        self.0 |= nanos.min(DONE - 2) + 1;
                    }
                }
                Poll::Ready(r) => self.finish(op, id, pid, End::Done(r.error())),
            }
        }

        /// A stream's or sink's poll: like [`poll`](Self::poll), then ready for the next
        /// item's call.
        pub(crate) fn poll_item<R: Outcome>(&mut self, op: Op, id: i32, pid: i32, p: &Poll<R>) {
            self.poll(op, id, pid, p);
            if p.is_ready() {
                *self = Wait::default();
            }
        }

        /// The future is dropped: `cancelled` if it was waiting and had not reported.
        pub(crate) fn dropped(&mut self, op: Op, id: i32, pid: i32) {
            if self.0 & !DONE != 0 {
                self.finish(op, id, pid, End::Cancelled);
            }
        }

        /// A timed call expired: its `EAGAIN`, in place of the future's `cancelled`.
        pub(crate) fn expired(&mut self, op: Op, id: i32, pid: i32) {
            self.finish(op, id, pid, End::Done(Some(Error::timed_out(op))));
        }

        fn finish(&mut self, op: Op, id: i32, pid: i32, end: End) {
            if self.0 & DONE == 0 {
                self.0 |= DONE;
                emit(op, id, None, pid, end, self.waited());
            }
        }
    }
}

// ===== the call-site macros =====
//
// Each has two definitions: the feature's, and an empty one that drops its arguments
// unevaluated, so that a call site costs nothing without the feature.

/// A call that never waits completed: `call!(op, id, pid, &result)`.
#[cfg(feature = "tracing")]
macro_rules! call {
    ($op:expr, $id:expr, $pid:expr, $r:expr) => {
        $crate::trace::emit(
            $op,
            $id,
            None,
            $pid,
            $crate::trace::End::Done($crate::trace::Outcome::error($r)),
            None,
        )
    };
}
#[cfg(not(feature = "tracing"))]
macro_rules! call {
    ($($t:tt)*) => {};
}

/// A `*get` completed: `get!(op, key, pid, result_of_id)` with `result_of_id` a
/// `Result<i32, &Error>` (the new or found id, or the error).
#[cfg(feature = "tracing")]
macro_rules! get {
    ($op:expr, $key:expr, $pid:expr, $r:expr) => {{
        let r: Result<i32, &$crate::Error> = $r;
        $crate::trace::emit(
            $op,
            *r.as_ref().unwrap_or(&-1),
            Some($key),
            $pid,
            $crate::trace::End::Done($crate::trace::Outcome::error(&r)),
            None,
        )
    }};
}
#[cfg(not(feature = "tracing"))]
macro_rules! get {
    ($($t:tt)*) => {};
}

/// After a future's poll: `poll!(wait_place, op, id, pid, &poll)`.
#[cfg(feature = "tracing")]
macro_rules! poll {
    ($w:expr, $op:expr, $id:expr, $pid:expr, $p:expr) => {
        $w.poll($op, $id, $pid, $p)
    };
}
#[cfg(not(feature = "tracing"))]
macro_rules! poll {
    ($($t:tt)*) => {};
}

/// After a stream's or sink's poll of one item: `poll_item!(wait_place, op, id, pid, &poll)`.
#[cfg(feature = "tracing")]
macro_rules! poll_item {
    ($w:expr, $op:expr, $id:expr, $pid:expr, $p:expr) => {
        $w.poll_item($op, $id, $pid, $p)
    };
}
#[cfg(not(feature = "tracing"))]
macro_rules! poll_item {
    ($($t:tt)*) => {};
}

/// In a future's `Drop`: `dropped!(wait_place, op, id, pid)`.
#[cfg(feature = "tracing")]
macro_rules! dropped {
    ($w:expr, $op:expr, $id:expr, $pid:expr) => {
        $w.dropped($op, $id, $pid)
    };
}
#[cfg(not(feature = "tracing"))]
macro_rules! dropped {
    ($($t:tt)*) => {};
}

/// A timed call expired: `expired!(wait_place, op, id, pid)`.
#[cfg(feature = "tracing")]
macro_rules! expired {
    ($w:expr, $op:expr, $id:expr, $pid:expr) => {
        $w.expired($op, $id, $pid)
    };
}
#[cfg(not(feature = "tracing"))]
macro_rules! expired {
    ($($t:tt)*) => {};
}

/// A C-layer call that never waits: `c_call!(op, id, pid, || body)`, `id` being the id
/// the C call was given. The body runs with the typed layer's events muted; without the
/// feature this is `body()`.
#[cfg(feature = "tracing")]
macro_rules! c_call {
    ($op:expr, $id:expr, $pid:expr, $body:expr) => {{
        let r = $crate::trace::muted($body);
        $crate::trace::call!($op, $id, $pid, &r);
        r
    }};
}
#[cfg(not(feature = "tracing"))]
macro_rules! c_call {
    ($op:expr, $id:expr, $pid:expr, $body:expr) => {
        ($body)()
    };
}

/// A C-layer `*get`: `c_get!(op, key, pid, || body)`, the body returning the id. The
/// body runs muted; without the feature this is `body()`.
#[cfg(feature = "tracing")]
macro_rules! c_get {
    ($op:expr, $key:expr, $pid:expr, $body:expr) => {{
        let r: Result<i32, $crate::Error> = $crate::trace::muted($body);
        $crate::trace::get!($op, $key, $pid, r.as_ref().copied());
        r
    }};
}
#[cfg(not(feature = "tracing"))]
macro_rules! c_get {
    ($op:expr, $key:expr, $pid:expr, $body:expr) => {
        ($body)()
    };
}

pub(crate) use {c_call, c_get, call, dropped, expired, get, poll, poll_item};
