//! `*_timeout` (issue 13, defects 5 and 6): a zero timeout answers at the first poll, as
//! `semtimedop` with a zero `timespec` does; a timeout below tokio's 1 ms tick expires
//! without the timer (so on any executor); from one tick up the timer is needed, and its
//! absence panics as documented under `# Panics`. No test here measures time: expiry is
//! checked by its result, and "without the timer" by a runtime that has none (tokio panics
//! on any use of the timer there) or by no runtime at all.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::noop_waker_ref;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Op, Process, Select, SemOp, SemaphoreSet};

fn root() -> Process {
    Namespace::new().process(Credentials::new(0, 0))
}

fn queue(p: &Process) -> MessageQueue<u64> {
    p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap()
}

fn set(p: &Process) -> SemaphoreSet {
    p.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap()
}

fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut f = pin!(f);
    f.as_mut().poll(&mut Context::from_waker(noop_waker_ref()))
}

fn timed_out<T: std::fmt::Debug>(r: Result<T, svipc::Error>, op: Op) {
    let e = r.unwrap_err();
    assert_eq!((e.op(), e.kind(), e.is_timeout()), (op, ErrorKind::WouldBlock, true));
}

/// A runtime without the time driver: any use of tokio's timer panics there.
fn no_timer() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn zero_semop_timeout_answers_eagain_at_the_first_poll() {
    let s = set(&root());
    let Poll::Ready(r) = poll_once(s.semop_timeout(&[SemOp::new(0, -1)], Duration::ZERO)) else {
        panic!("a zero timeout must answer at its first poll")
    };
    timed_out(r, Op::SemOp);
    assert_eq!(s.get_ncnt(0).unwrap(), 0, "no sleeper left behind");
}

#[test]
fn zero_semop_timeout_still_tries_the_operation() {
    let s = set(&root());
    s.set_val(0, 1).unwrap();
    assert!(matches!(poll_once(s.semop_timeout(&[SemOp::new(0, -1)], Duration::ZERO)), Poll::Ready(Ok(()))));
    assert_eq!(s.get_val(0).unwrap(), 0);
}

#[test]
fn zero_recv_and_send_timeouts_answer_at_the_first_poll() {
    let q = queue(&root());
    let Poll::Ready(r) = poll_once(q.recv_timeout(Select::Any, Duration::ZERO)) else { panic!("first poll") };
    timed_out(r, Op::MsgRcv);
    q.set(svipc::msg::MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 0 }).unwrap(); // every send waits
    let Poll::Ready(r) = poll_once(q.send_timeout(1, 5, Duration::ZERO)) else { panic!("first poll") };
    let e = r.unwrap_err();
    assert!(e.is_timeout());
    assert_eq!(e.into_inner(), 5, "the message comes back");
}

#[test]
fn sub_tick_timeouts_expire_without_the_timer() {
    let p = root();
    let (q, s) = (queue(&p), set(&p));
    no_timer().block_on(async {
        timed_out(s.semop_timeout(&[SemOp::new(0, -1)], Duration::from_micros(200)).await, Op::SemOp);
        timed_out(q.recv_timeout(Select::Any, Duration::from_micros(100)).await, Op::MsgRcv);
    });
    assert_eq!(s.get_ncnt(0).unwrap(), 0);
}

#[test]
fn sub_tick_timeouts_run_on_any_executor() {
    let s = set(&root());
    timed_out(
        futures::executor::block_on(s.semop_timeout(&[SemOp::new(0, -1)], Duration::from_micros(300))),
        Op::SemOp,
    );
}

#[test]
fn a_sub_tick_timeout_still_completes_when_the_operation_can() {
    let s = set(&root());
    let s2 = s.clone();
    let t = std::thread::spawn(move || s2.blocking_semop(&[SemOp::new(0, 1)]));
    t.join().unwrap().unwrap();
    futures::executor::block_on(s.semop_timeout(&[SemOp::new(0, -1)], Duration::from_micros(500))).unwrap();
}

#[test]
#[should_panic(expected = "there is no reactor running")]
fn a_timeout_of_a_tick_or_more_needs_a_tokio_runtime() {
    let q = queue(&root());
    let _ = futures::executor::block_on(q.recv_timeout(Select::Any, Duration::from_millis(5)));
}

#[test]
fn a_timeout_that_completes_at_once_needs_no_runtime() {
    let q = queue(&root());
    q.try_send(1, 7).unwrap();
    let r = futures::executor::block_on(q.recv_timeout(Select::Any, Duration::from_secs(5)));
    assert_eq!(r.unwrap(), (1, 7));
}

#[tokio::test]
async fn a_timeout_of_a_tick_or_more_expires_on_the_timer() {
    let s = set(&root());
    timed_out(s.semop_timeout(&[SemOp::new(0, -1)], Duration::from_millis(50)).await, Op::SemOp);
    assert_eq!(s.get_ncnt(0).unwrap(), 0);
}

#[tokio::test]
async fn an_unrepresentable_timeout_waits_like_semop() {
    let s = set(&root());
    let s2 = s.clone();
    let waiter = tokio::spawn(async move { s2.semop_timeout(&[SemOp::new(0, -1)], Duration::MAX).await });
    tokio::task::yield_now().await;
    s.try_semop(&[SemOp::new(0, 1)]).unwrap();
    waiter.await.unwrap().unwrap();
    assert_eq!(s.get_val(0).unwrap(), 0);
}
