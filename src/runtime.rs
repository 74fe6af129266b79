//! What svipc needs from an executor, in one place: nothing for the plain calls, a thread it
//! may block for the `blocking_*` calls, and tokio's timer for the `*_timeout` calls.
//!
//! **Plain futures run on any executor.** `send`, `recv`, `reserve`, `semop`, `acquire`,
//! their streams and sinks wake through the [`Waker`](std::task::Waker) they are polled
//! with and nothing else: tokio, smol, async-std, `futures::executor` or a hand-written
//! `block_on` all drive them.
//!
//! **`blocking_*` calls block the calling thread** (a C program's sleeping `msgrcv`). On a
//! thread that drives a tokio runtime — a `current_thread` runtime, a multi-thread worker,
//! inside `block_on` — that would hang the runtime (current thread) or silently take a
//! worker away (multi-thread), so they panic there, exactly where tokio's own
//! `blocking_recv` panics and with tokio's message (tokio decides: it alone knows which of
//! its threads drive tasks; `spawn_blocking` threads and threads that merely entered a
//! runtime's context may block). Use the `async` call instead, or move the blocking call to
//! `tokio::task::spawn_blocking` or a plain thread. Other executors cannot be detected;
//! blocking one of their threads blocks it.
//!
//! **`*_timeout` calls need tokio's timer** when they have to wait at least one tick of it
//! (1 ms): polled outside a tokio runtime with the time driver enabled they panic, as
//! `tokio::time::sleep` does. A call that completes at its first poll, and a timeout below
//! one tick, never touch the timer, so they run on any executor.
//!
//! **Timeouts answer on time.** A zero timeout is the kernel's `semtimedop` with a zero
//! `timespec`: the operation is tried once and `EAGAIN` comes back at the first poll if it
//! cannot proceed. tokio's timer rounds a deadline up to its next 1 ms tick, which would
//! make a 100 µs timeout last 1 to 2 ms; so while less than one tick remains, the timed
//! future wakes itself and yields to the executor at each poll until the deadline passes
//! (as a spinning `hrtimer` would), and expires within one poll of it. From one tick up the
//! timer is used, and expiry comes at most one tick late.

#[cfg(not(loom))]
pub(crate) use imp::*;

#[cfg(not(loom))]
mod imp {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    /// The resolution of tokio's timer: below it, a timed future yields instead of sleeping.
    const TICK: Duration = Duration::from_millis(1);

    /// [`crate::sync::blocking::block_on`], refused on a thread that drives a tokio runtime
    /// (see the module docs).
    #[track_caller]
    pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
        assert_may_block();
        crate::sync::blocking::block_on(fut)
    }

    /// Panics, with tokio's message and the caller's location, where tokio's own blocking
    /// calls do. A thread outside any runtime context pays one thread-local read.
    #[track_caller]
    fn assert_may_block() {
        if tokio::runtime::Handle::try_current().is_ok() {
            // tokio's check of its blocking region: it passes in `spawn_blocking` and on a
            // thread that merely entered a runtime, and panics on a thread driving tasks.
            let probe = tokio::sync::Mutex::const_new(());
            drop(probe.blocking_lock());
        }
    }

    /// The deadline of a `*_timeout` call; see the module docs for how it expires.
    pub(crate) struct Deadline {
        /// `None`: the timeout does not fit in an `Instant`; it never expires.
        at: Option<Instant>,
        /// tokio's timer, made the first time at least one tick remains.
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    }

    impl Deadline {
        /// The deadline `timeout` from now.
        pub(crate) fn after(timeout: Duration) -> Deadline {
            Deadline { at: Instant::now().checked_add(timeout), sleep: None }
        }

        /// `Ready` once the deadline has passed. Call it after polling the timed future, so
        /// that a zero timeout still tries the operation once.
        pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
            let Some(at) = self.at else { return Poll::Pending };
            let now = Instant::now();
            if now >= at {
                return Poll::Ready(());
            }
            if at - now < TICK && self.sleep.is_none() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at.into())));
            sleep.as_mut().poll(cx)
        }
    }

    /// Polls `fut` until it completes or `deadline` passes; `None` on expiry (the future is
    /// then dropped by the caller, which is its cancellation).
    pub(crate) async fn timeout<F: Future>(fut: F, timeout: Duration) -> Option<F::Output> {
        let mut deadline = Deadline::after(timeout);
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            deadline.poll_expired(cx).map(|()| None)
        })
        .await
    }
}
