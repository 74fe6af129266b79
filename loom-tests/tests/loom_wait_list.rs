//! Loom models for `sync::wait_list`, driven through a tiny client: a token hand-off
//! (a one-permit semaphore without barging) built the way the msg and sem engines use the
//! list — waiters pushed under the owner's lock, tokens handed to the front waiter, wakes
//! delivered after the unlock, and the cancellation protocol in the future's `Drop`.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use svipc::__loom::{WaitList, WaiterId, WaiterState, WakeList};

// ===== client primitive =====

struct State {
    /// Tokens nobody holds or has been handed.
    tokens: usize,
    /// Blocked acquirers; `Some(())` once a token has been handed to the entry.
    waiters: WaitList<Option<()>>,
}

#[derive(Clone)]
struct Tokens(Arc<Mutex<State>>);

impl Tokens {
    fn new(tokens: usize) -> Self {
        Self(Arc::new(Mutex::new(State { tokens, waiters: WaitList::new() })))
    }

    fn acquire(&self) -> Acquire {
        Acquire { tokens: self.clone(), id: None }
    }

    /// Gives a token back: straight to the oldest waiter if there is one, else to the pool.
    fn release(&self) {
        let mut wakes = WakeList::new();
        let mut state = self.0.lock().unwrap();
        release_locked(&mut state, &mut wakes);
        drop(state);
        wakes.wake_all();
    }

    /// `(tokens in the pool, Waiting entries)`.
    fn snapshot(&self) -> (usize, usize) {
        let state = self.0.lock().unwrap();
        (state.tokens, state.waiters.len())
    }
}

fn release_locked(state: &mut State, wakes: &mut WakeList) {
    match state.waiters.notify_front(wakes) {
        Some(id) => {
            let slot = state.waiters.get_mut(id).unwrap();
            assert_eq!(*slot, None, "a waiter was handed two tokens");
            *slot = Some(());
        }
        None => state.tokens += 1,
    }
}

/// Completes holding one token (which these models never give back implicitly).
struct Acquire {
    tokens: Tokens,
    /// Our entry while we wait.
    id: Option<WaiterId>,
}

impl Future for Acquire {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut state = this.tokens.0.lock().unwrap();
        match this.id {
            None if state.tokens > 0 => {
                state.tokens -= 1;
                Poll::Ready(())
            }
            None => {
                this.id = Some(state.waiters.push_back(None, cx.waker()));
                Poll::Pending
            }
            Some(id) => match state.waiters.register(id, cx.waker()) {
                Some(WaiterState::Waiting) => Poll::Pending,
                Some(WaiterState::Notified) => {
                    let (data, _) = state.waiters.remove(id).unwrap();
                    assert_eq!(data, Some(()), "notified without a token");
                    this.id = None;
                    Poll::Ready(())
                }
                None => panic!("our waiter id went stale"),
            },
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let mut wakes = WakeList::new();
        let mut state = self.tokens.0.lock().unwrap();
        match state.waiters.remove(id) {
            Some((None, WaiterState::Waiting)) => {}
            // Handed a token we will never use: pass it on.
            Some((Some(()), WaiterState::Notified)) => release_locked(&mut state, &mut wakes),
            other => panic!("unexpected entry on drop: {other:?}"),
        }
        // `state` drops first, then `wakes`: the wake-up happens after the unlock.
    }
}

/// Polls `fut` once with `waker`.
fn poll_with(fut: &mut Acquire, waker: &Waker) -> Poll<()> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

// ===== models =====

/// A blocked acquirer is woken by a release on another thread: no lost wake-up.
#[test]
fn acquire_then_release() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let t = tokens.clone();
        let waiter = thread::spawn(move || block_on(t.acquire()));
        tokens.release();
        waiter.join().unwrap();
        assert_eq!(tokens.snapshot(), (0, 0));
    });
}

/// Poll once, then drop, racing a release: the token ends up in the pool or held by the
/// future that completed, exactly once.
#[test]
fn poll_once_then_drop_races_release() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let t = tokens.clone();
        let releaser = thread::spawn(move || t.release());
        let mut fut = tokens.acquire();
        let held = poll_with(&mut fut, Waker::noop()).is_ready();
        drop(fut);
        releaser.join().unwrap();
        let (pool, waiting) = tokens.snapshot();
        assert_eq!(waiting, 0);
        assert_eq!(pool + usize::from(held), 1, "token lost or duplicated");
    });
}

/// The front waiter is handed the token and dropped before it runs: the token passes to the
/// second waiter, which completes.
#[test]
fn notified_waiter_dropped_passes_token_on() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let mut first = tokens.acquire();
        assert!(poll_with(&mut first, Waker::noop()).is_pending());
        let t = tokens.clone();
        let second = thread::spawn(move || block_on(t.acquire()));
        tokens.release();
        let state = tokens.0.lock().unwrap().waiters.state(first.id.unwrap());
        assert_eq!(state, Some(WaiterState::Notified), "the release went to the front");
        drop(first);
        second.join().unwrap();
        assert_eq!(tokens.snapshot(), (0, 0));
    });
}

/// A re-poll with a different waker replaces the stored one: the release wakes the new
/// waker (the one `block_on` waits on), not the stale no-op one.
#[test]
fn register_changed_waker() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let t = tokens.clone();
        let waiter = thread::spawn(move || {
            let mut fut = t.acquire();
            let mut first = true;
            block_on(poll_fn(|cx| {
                if std::mem::take(&mut first) && poll_with(&mut fut, Waker::noop()).is_ready() {
                    return Poll::Ready(());
                }
                poll_with(&mut fut, cx.waker())
            }));
        });
        tokens.release();
        waiter.join().unwrap();
        assert_eq!(tokens.snapshot(), (0, 0));
    });
}
