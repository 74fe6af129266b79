//! Helpers shared by the semaphore integration tests (`mod sem_common;` in each file; not a
//! test target of its own). Not every file uses every helper.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use svipc::{Credentials, Key, Namespace, Process, SemaphoreSet};

/// A root actor with this pid.
pub fn proc_(ns: &Namespace, pid: i32) -> Process {
    ns.process(Credentials::new(0, 0).with_pid(pid))
}

/// A private set of `nsems` semaphores, made by pid 1.
pub fn new_set(ns: &Namespace, nsems: u16) -> SemaphoreSet {
    proc_(ns, 1).sem_set(Key::PRIVATE).create(0o600).nsems(nsems).open().unwrap()
}

/// Polls once; true if still pending.
pub async fn pending<F: Future + Unpin>(f: &mut F) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx).is_pending())).await
}

/// Polls once; the output if ready.
pub async fn ready<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *f).poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}
