//! `blocking_*` on a thread that drives a tokio runtime panics, where tokio's own
//! `blocking_recv` does (issue 13, defect 4): it used to hang a `current_thread` runtime
//! forever and silently block a multi-thread worker. `spawn_blocking`, plain threads and
//! threads that merely entered a runtime's context may still block.
//!
//! Each panicking case has a message queued or a unit free, so the call would return at
//! once if it were allowed: the test fails (no panic) rather than hangs without the check.
#![cfg(not(loom))]

use std::panic::{catch_unwind, AssertUnwindSafe};

use svipc::{Credentials, Key, MessageQueue, Namespace, Select, SemOp, SemaphoreSet};

const TOKIO_MSG: &str = "Cannot block the current thread from within a runtime";

fn queue() -> MessageQueue<u64> {
    let q: MessageQueue<u64> = Namespace::new()
        .process(Credentials::new(0, 0))
        .msg_queue(Key::PRIVATE)
        .create(0o600)
        .open()
        .unwrap();
    q.try_send(1, 10).unwrap();
    q
}

fn set() -> SemaphoreSet {
    let s =
        Namespace::new().process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(1).open();
    let s = s.unwrap();
    s.set_val(0, 1).unwrap();
    s
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn blocking_recv_in_a_current_thread_runtime_panics() {
    let q = queue();
    let r =
        catch_unwind(AssertUnwindSafe(|| current_thread().block_on(async { q.blocking_recv(Select::Any) })));
    assert!(panic_text(r.unwrap_err()).contains(TOKIO_MSG));
    assert_eq!(q.stat().unwrap().qnum, 1, "nothing received");
}

#[test]
fn blocking_send_in_a_current_thread_runtime_panics() {
    let q = queue();
    let r = catch_unwind(AssertUnwindSafe(|| current_thread().block_on(async { q.blocking_send(1, 11) })));
    assert!(panic_text(r.unwrap_err()).contains(TOKIO_MSG));
    assert_eq!(q.stat().unwrap().qnum, 1, "nothing sent");
}

#[test]
fn blocking_semop_in_a_current_thread_runtime_panics() {
    let s = set();
    let r = catch_unwind(AssertUnwindSafe(|| {
        current_thread().block_on(async { s.blocking_semop(&[SemOp::new(0, -1)]) })
    }));
    assert!(panic_text(r.unwrap_err()).contains(TOKIO_MSG));
    assert_eq!(s.get_val(0).unwrap(), 1, "nothing applied");
}

#[test]
fn blocking_recv_on_a_multi_thread_worker_panics() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let q = queue();
    let q2 = q.clone();
    let join = rt.block_on(rt.spawn(async move { q2.blocking_recv(Select::Any) }));
    let err = join.unwrap_err();
    assert!(err.is_panic());
    assert!(panic_text(err.into_panic()).contains(TOKIO_MSG));
    assert_eq!(q.stat().unwrap().qnum, 1);
}

#[test]
fn blocking_recv_in_spawn_blocking_works() {
    let q = queue();
    let q2 = q.clone();
    let got = current_thread().block_on(async move {
        tokio::task::spawn_blocking(move || q2.blocking_recv(Select::Any)).await.unwrap()
    });
    assert_eq!(got.unwrap(), (1, 10));
}

#[test]
fn blocking_calls_on_a_thread_that_entered_a_runtime_work() {
    let rt = current_thread();
    let _guard = rt.enter();
    let q = queue();
    assert_eq!(q.blocking_recv(Select::Any).unwrap(), (1, 10));
    q.blocking_send(2, 20).unwrap();
    let s = set();
    s.blocking_semop(&[SemOp::new(0, -1)]).unwrap();
}

#[test]
fn blocking_calls_on_a_plain_thread_work() {
    let q = queue();
    let q2 = q.clone();
    let t = std::thread::spawn(move || q2.blocking_recv(Select::Type(2)));
    q.blocking_send(2, 20).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), (2, 20));
}
