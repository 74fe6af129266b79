//! Every future, stream and sink is safe to poll after it completed (issue 13, defect 3): a
//! second poll has no second effect. A `RecvFuture` polled again used to receive a second
//! message (Ready((1, 10)) then Ready((1, 11))). One test per type.
//!
//! The rule: a future polled after it returned `Ready` does nothing and returns
//! `Err(EINVAL)`, except `SendFuture`, whose error would have to carry a message it no
//! longer has: it returns `Ok(())` and sends nothing. A stream stays ended; a sink may be
//! reused (that is what a sink is for).
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::task::noop_waker_ref;
use futures::{Sink, SinkExt, Stream};
use svipc::msg::{Limit, MsqidSet};
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Process, Select, SemOp, SemaphoreSet};

fn root() -> Process {
    Namespace::new().process(Credentials::new(0, 0))
}

fn queue<T: svipc::Payload>(p: &Process) -> MessageQueue<T> {
    p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap()
}

fn set(p: &Process, val: u16) -> SemaphoreSet {
    let s = p.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
    s.set_val(0, val).unwrap();
    s
}

fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(noop_waker_ref()))
}

fn einval<T: std::fmt::Debug>(r: Poll<Result<T, svipc::Error>>) {
    match r {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::InvalidArgument),
        other => panic!("expected Ready(Err(EINVAL)), got {other:?}"),
    }
}

#[test]
fn recv_future() {
    let q: MessageQueue<u64> = queue(&root());
    q.try_send(1, 10).unwrap();
    q.try_send(1, 11).unwrap();
    let mut f = q.recv(Select::Any);
    assert!(matches!(poll(&mut f), Poll::Ready(Ok((1, 10)))));
    einval(poll(&mut f));
    drop(f);
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 11), "the second message stayed queued");
}

#[test]
fn recv_future_after_an_error() {
    let q: MessageQueue<u64> = queue(&root());
    let mut f = q.recv(Select::Type(0)); // EINVAL at the first poll
    einval(poll(&mut f));
    q.try_send(1, 10).unwrap();
    einval(poll(&mut f));
    drop(f);
    assert_eq!(q.stat().unwrap().qnum, 1);
}

#[test]
fn recv_limited_future() {
    let q: MessageQueue<Vec<u8>> = queue(&root());
    q.try_send(1, vec![1; 8]).unwrap();
    q.try_send(1, vec![2; 8]).unwrap();
    let mut f = q.recv_limited(Select::Any, Limit::bytes(4).no_error());
    assert!(matches!(poll(&mut f), Poll::Ready(Ok((1, ref m))) if m == &[1; 4]));
    einval(poll(&mut f));
    drop(f);
    assert_eq!(q.stat().unwrap().qnum, 1);
}

#[test]
fn send_future() {
    let q: MessageQueue<u64> = queue(&root());
    let mut f = q.send(1, 10);
    assert!(matches!(poll(&mut f), Poll::Ready(Ok(()))));
    assert!(matches!(poll(&mut f), Poll::Ready(Ok(()))));
    drop(f);
    assert_eq!(q.stat().unwrap().qnum, 1, "sent once");
}

#[test]
fn reserve_future() {
    let q: MessageQueue<u64> = queue(&root());
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 16 }).unwrap();
    let mut f = q.reserve(1, 8);
    let Poll::Ready(Ok(permit)) = poll(&mut f) else { panic!("room for one") };
    einval(poll(&mut f));
    drop(f);
    // one reservation of 8 bytes held, so 8 more fit and no more
    q.try_send(1, 1).unwrap();
    assert_eq!(q.try_send(1, 2).unwrap_err().kind(), ErrorKind::WouldBlock);
    permit.send(3).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 2);
}

#[test]
fn reserve_owned_future() {
    let q: MessageQueue<u64> = queue(&root());
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 16 }).unwrap();
    let mut f = q.reserve_owned(1, 8);
    let Poll::Ready(Ok(permit)) = poll(&mut f) else { panic!("room for one") };
    einval(poll(&mut f));
    drop(f);
    q.try_send(1, 1).unwrap();
    assert_eq!(q.try_send(1, 2).unwrap_err().kind(), ErrorKind::WouldBlock);
    drop(permit);
    q.try_send(1, 2).unwrap();
}

#[test]
fn recv_stream() {
    let q: MessageQueue<u64> = queue(&root());
    q.try_send(1, 10).unwrap();
    let mut st = q.stream(Select::Any);
    let mut cx = Context::from_waker(noop_waker_ref());
    assert!(matches!(Pin::new(&mut st).poll_next(&mut cx), Poll::Ready(Some(Ok((1, 10))))));
    q.remove().unwrap();
    assert!(matches!(Pin::new(&mut st).poll_next(&mut cx), Poll::Ready(None)));
    assert!(matches!(Pin::new(&mut st).poll_next(&mut cx), Poll::Ready(None)));
}

#[test]
fn send_sink() {
    let q: MessageQueue<u64> = queue(&root());
    let mut sink = q.sink(1);
    let mut cx = Context::from_waker(noop_waker_ref());
    Pin::new(&mut sink).start_send(10).unwrap();
    assert!(matches!(Pin::new(&mut sink).poll_flush(&mut cx), Poll::Ready(Ok(()))));
    assert!(matches!(Pin::new(&mut sink).poll_flush(&mut cx), Poll::Ready(Ok(()))));
    assert!(matches!(Pin::new(&mut sink).poll_close(&mut cx), Poll::Ready(Ok(()))));
    assert_eq!(q.stat().unwrap().qnum, 1, "sent once");
    // a sink is reusable: the next item is a new send
    futures::executor::block_on(sink.send(11)).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 2);
}

#[test]
fn semop_future() {
    let s = set(&root(), 0);
    let ops = [SemOp::new(0, 1)];
    let mut f = s.semop(&ops);
    assert!(matches!(poll(&mut f), Poll::Ready(Ok(()))));
    einval(poll(&mut f));
    drop(f);
    assert_eq!(s.get_val(0).unwrap(), 1, "applied once");
}

#[test]
fn acquire_future() {
    let s = set(&root(), 3);
    let mut f = s.acquire(0, 1);
    let Poll::Ready(Ok(permit)) = poll(&mut f) else { panic!("a unit is free") };
    einval(poll(&mut f));
    drop(f);
    assert_eq!(s.get_val(0).unwrap(), 2, "taken once");
    drop(permit);
    assert_eq!(s.get_val(0).unwrap(), 3);
}

/// A bad argument used to be reported once, and the next poll then made the `semop`:
/// here it took 32767 units.
#[test]
fn acquire_future_after_an_argument_error() {
    let s = set(&root(), 32767);
    let mut f = s.acquire(0, 40000); // above SEMVMX: EINVAL at the first poll
    einval(poll(&mut f));
    einval(poll(&mut f));
    drop(f);
    assert_eq!(s.get_val(0).unwrap(), 32767);
}

#[test]
fn acquire_owned_future() {
    let s = set(&root(), 3);
    let mut f = s.acquire_many_owned(&[(0, 2)]);
    let Poll::Ready(Ok(permit)) = poll(&mut f) else { panic!("two units are free") };
    einval(poll(&mut f));
    drop(f);
    assert_eq!(s.get_val(0).unwrap(), 1, "taken once");
    drop(permit);
    assert_eq!(s.get_val(0).unwrap(), 3);
}
