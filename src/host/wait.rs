//! Waiting on the host kernel without blocking the runtime: the fast path on the calling
//! thread, a small pool of waiter threads for the calls that must sleep, and their
//! interruption by a thread-directed signal when a future is dropped.
//!
//! # The protocol
//!
//! A call (a `Blocking` job) is first made with `IPC_NOWAIT` on the polling thread. If the
//! kernel answers that it would have slept (`EAGAIN`, or `ENOMSG` for `msgrcv`), the future
//! tries again, with `IPC_NOWAIT`, at each of its next 16 polls, waking itself in between
//! (a yield to the executor): an answer that is microseconds away is caught without two
//! thread wake-ups, which on a VM's idle vCPUs cost tens of microseconds (BENCHMARKS.md). Only
//! then does the future hand the call to a waiter thread, which makes the same call without `IPC_NOWAIT`
//! and sleeps in the kernel. When it returns, the thread stores the result in the future's
//! shared `Call` and wakes the future's `Waker`.
//!
//! A dropped future marks its `Call` cancelled. Then:
//!
//! * if the waiter thread is in (or about to enter) the system call, the future sends it the
//!   interruption signal with `tgkill`. The handler does nothing (its only effect is that
//!   the call returns `EINTR`, since it is installed without `SA_RESTART` — and System V
//!   calls are never restarted anyway). The thread sees `cancelled` and stops. A signal can
//!   arrive after the thread marked itself in the call but before it entered the kernel;
//!   then it would sleep on. The interrupter thread covers that: it re-sends the signal
//!   with back-off (50 µs doubling to 10 ms) until the thread reports it left the call. It
//!   parks on a condition variable when nothing is pending, so an idle process spends no
//!   CPU on it;
//! * if the kernel completed the call anyway (the signal came too late, or the result was
//!   stored but not yet taken by a poll), the call's effect is undone by
//!   `Blocking::undo` on a waiter thread: a received message is sent back, a performed
//!   `semop` is reversed. A completed send needs nothing.
//!
//! # The pool
//!
//! Threads are made on demand, one per concurrently waiting call (a thread sleeps in one
//! system call at a time), are kept idle for 10 seconds after their last call, then
//! exit. An idle thread sleeps on a condition variable: no CPU.
//!
//! # The signal
//!
//! `SIGURG` by default: ignored by default, rarely used by programs (out-of-band socket
//! data), and the Go runtime's choice for the same job. [`set_interrupt_signal`] changes it
//! before the first wait. The handler is installed once, at the first call that has to wait,
//! and chains to the handler installed before it for every signal that is not svipc's own
//! `tgkill` to one of its waiter threads (`si_code == SI_TKILL` from this process), so a
//! program that uses the same signal keeps receiving it; a disposition of `SIG_DFL` or
//! `SIG_IGN` is left alone, which is why the signal must be one whose default is to ignore.
//! Waiter threads unblock the signal in their own mask; no other thread's mask changes.
//!
//! Two things a program must leave alone once svipc waits: the signal's disposition (a
//! program that later sets it to `SIG_IGN` makes the interruption a no-op — a dropped
//! future's thread then stays in its call until the kernel completes it, which is then
//! undone, so nothing is lost, but the thread is held meanwhile; a program that installs its
//! own handler later still interrupts, since System V calls are never restarted), and the
//! IPC namespace of its threads: waiter threads are created by the thread that first needs
//! them and live in its namespace, so all threads that use `svipc::host` must share one
//! (as every thread does unless it calls `unshare(CLONE_NEWIPC)` itself).
//!
//! # Alternatives measured
//!
//! Polling `IPC_NOWAIT` with adaptive back-off needs no thread and no signal, but an idle
//! receive wakes every few milliseconds forever and a message waits for the next wake-up;
//! `semtimedop` with bounded timeouts exists for semaphores only. BENCHMARKS.md ("Host
//! kernel") has the figures: a waiting receive costs one sleeping thread and no CPU, and a
//! C-to-Rust round trip took 0.84–1.64× that of a thread blocked in `msgrcv`, where polling
//! took 1.8–8.3× and going to the waiter thread without the 16 first tries up to 5×.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::sys;

/// How long an idle waiter thread is kept before it exits.
pub(crate) const KEEP_IDLE: Duration = Duration::from_secs(10);

/// Non-blocking attempts a future makes, one per poll with a yield to the executor in
/// between, after the first and before it hands the call to a waiter thread.
const SPINS: u8 = 16;

/// The first re-send delay of the [`Interrupter`], and the last.
const BACKOFF_FIRST: Duration = Duration::from_micros(50);
const BACKOFF_LAST: Duration = Duration::from_millis(10);

/// A System V call that may sleep, as the waiters run it.
pub(crate) trait Blocking: Send + Unpin + 'static {
    /// What a successful call gives.
    type Output: Send + 'static;

    /// Makes the call once: with `IPC_NOWAIT` added when `nowait`. `Err(errno)` on failure.
    fn attempt(&mut self, nowait: bool) -> Result<Self::Output, i32>;

    /// Whether `errno`, from an attempt with `IPC_NOWAIT`, means the call would have slept.
    fn would_block(errno: i32) -> bool;

    /// Undoes a call that completed for a future that was dropped. Runs on a waiter thread
    /// and may sleep (a message sent back to a full queue waits for room).
    fn undo(&mut self, out: Self::Output);

    /// Makes the call on this thread until it completes, retrying after `EINTR` (a signal
    /// meant for some handler of the program, not a cancellation: nothing can cancel a
    /// blocked thread's call).
    fn run_blocking(&mut self) -> Result<Self::Output, i32> {
        loop {
            match self.attempt(false) {
                Err(libc::EINTR) => continue,
                r => return r,
            }
        }
    }
}

/// Calls undone because their future was dropped after the kernel completed them.
static UNDONE: AtomicU64 = AtomicU64::new(0);

/// How many calls were undone so far because their future was dropped after the kernel had
/// completed them (a message sent back, a `semop` reversed): for the stress tests, which
/// check that the race they provoke happened.
#[doc(hidden)]
pub fn undone_calls() -> u64 {
    UNDONE.load(Ordering::Relaxed)
}

fn undo<B: Blocking>(job: &mut B, out: B::Output) {
    UNDONE.fetch_add(1, Ordering::Relaxed);
    job.undo(out);
}

// ===== the signal =====

/// The interruption signal; fixed once [`HANDLER`] is installed.
static SIGNAL: AtomicI32 = AtomicI32::new(libc::SIGURG);
/// Set once the handler is installed: the signal in use, or the errno of the failure.
static HANDLER: OnceLock<Result<i32, i32>> = OnceLock::new();

/// Chooses the signal that interrupts a waiter thread's call when its future is dropped
/// (`SIGURG` unless changed). Call it before the first host call that has to wait; the
/// signal must be one whose default action is to ignore it, or one the program handles
/// (svipc chains to the program's handler for every signal that is not its own).
///
/// # Errors
///
/// `EINVAL` for `SIGKILL`, `SIGSTOP` or a number that is no signal; `EBUSY` once the
/// handler is installed (the first wait fixed the signal).
pub fn set_interrupt_signal(sig: i32) -> std::io::Result<()> {
    if !sys::signal_usable(sig) {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    if HANDLER.get().is_some() {
        return Err(std::io::Error::from_raw_os_error(libc::EBUSY));
    }
    SIGNAL.store(sig, Ordering::Relaxed);
    Ok(())
}

/// The signal in use, installing the handler on first use.
fn signal() -> Result<i32, i32> {
    *HANDLER.get_or_init(|| {
        let sig = SIGNAL.load(Ordering::Relaxed);
        sys::install_handler(sig).map(|()| sig)
    })
}

// ===== the pool =====

type Task = Box<dyn FnOnce() + Send>;

/// The waiter threads.
struct Pool {
    state: Mutex<PoolState>,
    ready: Condvar,
}

#[derive(Default)]
struct PoolState {
    tasks: VecDeque<Task>,
    /// Threads waiting for a task.
    idle: usize,
    /// Threads alive.
    threads: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave their state inconsistent (each
    // critical section is a few plain assignments), so a poisoned lock is used as is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool { state: Mutex::new(PoolState::default()), ready: Condvar::new() })
}

/// Runs `task` on a waiter thread: an idle one, or a new one.
fn submit(task: Task) {
    let p = pool();
    let mut st = lock(&p.state);
    st.tasks.push_back(task);
    if st.idle >= st.tasks.len() {
        p.ready.notify_one();
        return;
    }
    st.threads += 1;
    drop(st);
    let spawned = std::thread::Builder::new().name("svipc-waiter".into()).spawn(waiter_main);
    if spawned.is_err() {
        // No thread: run the task here rather than lose it (it may block this thread).
        let mut st = lock(&p.state);
        st.threads -= 1;
        let task = st.tasks.pop_back();
        drop(st);
        if let Some(task) = task {
            task();
        }
    }
}

fn waiter_main() {
    sys::mark_waiter_thread();
    if let Ok(sig) = signal() {
        sys::unblock(sig);
    }
    let p = pool();
    let mut st = lock(&p.state);
    loop {
        if let Some(task) = st.tasks.pop_front() {
            drop(st);
            task();
            st = lock(&p.state);
            continue;
        }
        st.idle += 1;
        let (guard, timeout) = p.ready.wait_timeout(st, KEEP_IDLE).unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        if timeout.timed_out() && st.tasks.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}

/// Threads in the pool now (alive, busy or idle), for measurements and tests.
pub fn waiter_threads() -> usize {
    lock(&pool().state).threads
}

/// Runs `job` to completion on a waiter thread, with no future waiting for it (a message
/// put back): retried after `EINTR`, its result dropped.
pub(crate) fn detach<B: Blocking>(mut job: B) {
    submit(Box::new(move || drop(job.run_blocking())));
}

// ===== one call =====

/// What a waiting call and its future share.
struct Call<B: Blocking> {
    state: Mutex<CallState<B>>,
}

struct CallState<B: Blocking> {
    /// The future was dropped: a completed call is undone.
    cancelled: bool,
    /// The future asked the call to stop ([`WaitFuture::interrupt`]) but wants to know how
    /// it ended: a completed call is reported, an interrupted one answers `EINTR`.
    report: bool,
    /// The waiter thread's id while it is in (or about to enter) the system call.
    in_call: Option<i32>,
    /// The result, until the future takes it.
    done: Option<Result<B::Output, i32>>,
    /// The call, given back with a successful result so a late drop can undo it.
    job: Option<B>,
    waker: Option<Waker>,
}

/// What the [`Interrupter`] keeps: a call to signal until its thread left the system call.
trait Pending: Send + Sync {
    /// Signals the thread if it is still in the call; whether it was.
    fn signal_if_in_call(&self, sig: i32) -> bool;
}

impl<B: Blocking> Pending for Call<B> {
    fn signal_if_in_call(&self, sig: i32) -> bool {
        let st = lock(&self.state);
        match st.in_call {
            Some(tid) => {
                // Under the lock: the thread cannot leave the call and exit (reusing its
                // tid) before it takes this lock to clear `in_call`.
                let _ = sys::tgkill(tid, sig);
                true
            }
            None => false,
        }
    }
}

/// The waiter thread's side of a call.
fn run_waiting<B: Blocking>(call: Arc<Call<B>>, mut job: B) {
    let tid = sys::gettid();
    loop {
        {
            let mut st = lock(&call.state);
            if st.cancelled {
                return;
            }
            if st.report {
                // Interrupted by `WaitFuture::interrupt` before it completed: say so.
                st.done = Some(Err(libc::EINTR));
                let waker = st.waker.take();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                return;
            }
            st.in_call = Some(tid);
        }
        let r = job.attempt(false);
        let mut st = lock(&call.state);
        st.in_call = None;
        if matches!(r, Err(libc::EINTR)) {
            continue; // cancelled is checked at the top
        }
        if st.cancelled {
            drop(st);
            if let Ok(out) = r {
                undo(&mut job, out);
            }
            return;
        }
        st.done = Some(r);
        st.job = Some(job);
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        return;
    }
}

// ===== the interrupter =====

/// The thread that re-sends the interruption signal until each cancelled call's thread has
/// left its system call.
struct Interrupter {
    pending: Mutex<Vec<Arc<dyn Pending>>>,
    wake: Condvar,
}

fn interrupter() -> &'static Interrupter {
    static INT: OnceLock<&'static Interrupter> = OnceLock::new();
    INT.get_or_init(|| {
        let int: &'static Interrupter =
            Box::leak(Box::new(Interrupter { pending: Mutex::new(Vec::new()), wake: Condvar::new() }));
        std::thread::Builder::new()
            .name("svipc-interrupter".into())
            .spawn(move || int.run())
            .expect("spawn the svipc interrupter thread");
        int
    })
}

impl Interrupter {
    fn watch(&self, call: Arc<dyn Pending>) {
        lock(&self.pending).push(call);
        self.wake.notify_one();
    }

    fn run(&self) {
        let mut backoff = BACKOFF_FIRST;
        let mut pending = lock(&self.pending);
        loop {
            if pending.is_empty() {
                backoff = BACKOFF_FIRST;
                pending = self.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            pending = self.wake.wait_timeout(pending, backoff).unwrap_or_else(|e| e.into_inner()).0;
            if let Ok(sig) = signal() {
                pending.retain(|c| c.signal_if_in_call(sig));
            }
            backoff = (backoff * 2).min(BACKOFF_LAST);
        }
    }
}

// ===== the future =====

/// A host call as a future: the fast path at the first poll, then a waiter thread.
pub(crate) struct WaitFuture<B: Blocking> {
    state: FutState<B>,
}

enum FutState<B: Blocking> {
    /// Not yet handed to a waiter thread; the count is how many more non-blocking attempts
    /// it makes, one per poll, yielding to the executor in between (see [`SPINS`]).
    Start(B, u8),
    Waiting(Arc<Call<B>>),
    Done,
}

impl<B: Blocking> fmt::Debug for WaitFuture<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            FutState::Start(..) => "start",
            FutState::Waiting(_) => "waiting",
            FutState::Done => "done",
        };
        f.debug_struct("WaitFuture").field("state", &state).finish()
    }
}

impl<B: Blocking> WaitFuture<B> {
    pub(crate) fn new(job: B) -> WaitFuture<B> {
        WaitFuture { state: FutState::Start(job, SPINS) }
    }
}

impl<B: Blocking> WaitFuture<B> {
    /// Asks a call that is waiting on a thread to stop, for a timed call that expired. The
    /// future must then be polled to completion: it answers `Err(EINTR)` if the call
    /// stopped before the kernel completed it, or else the call's own result (a message
    /// received, a `semop` done at the last moment), which is then the caller's to use. A
    /// future that is not waiting on a thread is left as it is.
    pub(crate) fn interrupt(&mut self) {
        let FutState::Waiting(call) = &self.state else { return };
        let mut st = lock(&call.state);
        if st.done.is_some() {
            return;
        }
        st.report = true;
        if let Some(tid) = st.in_call {
            if let Ok(sig) = signal() {
                let _ = sys::tgkill(tid, sig);
            }
            drop(st);
            interrupter().watch(Arc::clone(call) as Arc<dyn Pending>);
        }
    }
}

impl<B: Blocking> Future for WaitFuture<B> {
    type Output = Result<B::Output, i32>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, FutState::Done) {
            FutState::Start(mut job, spins) => {
                let r = loop {
                    match job.attempt(true) {
                        Err(libc::EINTR) => continue,
                        r => break r,
                    }
                };
                match r {
                    Err(e) if B::would_block(e) && spins > 0 => {
                        // Try again at the next poll before paying two thread wake-ups: an
                        // answer that is microseconds away is caught here.
                        this.state = FutState::Start(job, spins - 1);
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    Err(e) if B::would_block(e) => {
                        if let Err(e) = signal() {
                            // Without the handler a dropped future could not interrupt its
                            // thread; refuse to wait rather than leak a sleeping thread.
                            return Poll::Ready(Err(e));
                        }
                        let call = Arc::new(Call {
                            state: Mutex::new(CallState {
                                cancelled: false,
                                report: false,
                                in_call: None,
                                done: None,
                                job: None,
                                waker: Some(cx.waker().clone()),
                            }),
                        });
                        let c = Arc::clone(&call);
                        submit(Box::new(move || run_waiting(c, job)));
                        this.state = FutState::Waiting(call);
                        Poll::Pending
                    }
                    r => Poll::Ready(r),
                }
            }
            FutState::Waiting(call) => {
                let mut st = lock(&call.state);
                if let Some(r) = st.done.take() {
                    st.job = None;
                    drop(st);
                    return Poll::Ready(r);
                }
                match &st.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => st.waker = Some(cx.waker().clone()),
                }
                drop(st);
                this.state = FutState::Waiting(call);
                Poll::Pending
            }
            // Polled after it completed: it does nothing more and answers EINVAL, as the
            // in-process futures do.
            FutState::Done => Poll::Ready(Err(libc::EINVAL)),
        }
    }
}

impl<B: Blocking> Drop for WaitFuture<B> {
    fn drop(&mut self) {
        let FutState::Waiting(call) = std::mem::replace(&mut self.state, FutState::Done) else { return };
        let mut st = lock(&call.state);
        st.cancelled = true;
        st.waker = None;
        if let Some(Ok(out)) = st.done.take() {
            // Completed, never taken: undo on a waiter thread (it may sleep).
            let job = st.job.take();
            drop(st);
            if let Some(mut job) = job {
                submit(Box::new(move || undo(&mut job, out)));
            }
            return;
        }
        if let Some(tid) = st.in_call {
            if let Ok(sig) = signal() {
                let _ = sys::tgkill(tid, sig);
            }
            drop(st);
            interrupter().watch(call);
        }
    }
}

/// How a timed call ended.
pub(crate) enum Timed<R> {
    /// The call completed, before the deadline or at it.
    Done(R),
    /// The deadline passed and the call was stopped before the kernel completed it.
    Expired,
}

/// `fut`, stopped at `timeout` unless it completed. Exact: a call that the kernel completed
/// as the deadline passed is reported as done, never as expired.
pub(crate) async fn with_timeout<B: Blocking>(
    mut fut: WaitFuture<B>,
    timeout: Duration,
) -> Timed<Result<B::Output, i32>> {
    let mut deadline = crate::runtime::Deadline::after(timeout);
    let mut interrupted = false;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(match r {
                Err(libc::EINTR) if interrupted => Timed::Expired,
                r => Timed::Done(r),
            });
        }
        if !interrupted && deadline.poll_expired(cx).is_ready() {
            interrupted = true;
            fut.interrupt();
            // The waiter answers through the waker: completed, or `EINTR`.
            return Pin::new(&mut fut).poll(cx).map(|r| match r {
                Err(libc::EINTR) => Timed::Expired,
                r => Timed::Done(r),
            });
        }
        Poll::Pending
    })
    .await
}
