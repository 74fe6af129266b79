//! Driving a future on the calling thread, for the `blocking_*` calls used outside a runtime
//! (tokio's `blocking_recv` pattern). Not compiled under loom: the models drive futures with
//! `loom::future::block_on`.

use std::future::Future;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the blocked thread. This `Arc` is `std`'s because `Waker::from` requires it; it
/// guards no state of ours, so there is nothing here for loom to see.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on the current thread, parking it between polls.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
