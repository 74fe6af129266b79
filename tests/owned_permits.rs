//! Permits that move (issue 13): `SemaphoreSet::acquire_owned`, `acquire_many_owned`,
//! `try_acquire`, `try_acquire_many` and `MessageQueue::reserve_owned`, with tokio's names
//! and meaning. "Acquire in the accept loop, move the permit into the spawned task" is the
//! shape every test here compiles to; each owned future and permit also gets its "poll once,
//! then drop" test.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::task::noop_waker_ref;
use svipc::msg::MsqidSet;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Process, Select, SemOp, SemaphoreSet};

fn root() -> Process {
    Namespace::new().process(Credentials::new(0, 0))
}

fn set(p: &Process, nsems: u16) -> SemaphoreSet {
    p.sem_set(Key::PRIVATE).create(0o600).nsems(nsems).open().unwrap()
}

fn queue(p: &Process, qbytes: u64) -> MessageQueue<u64> {
    let q: MessageQueue<u64> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
    q
}

fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(noop_waker_ref()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_in_the_accept_loop_release_in_the_task() {
    let slots = set(&root(), 1);
    slots.set_val(0, 2).unwrap();
    let running = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let permit = slots.acquire_owned(0, 1).await.unwrap();
        let running = running.clone();
        tasks.push(tokio::spawn(async move {
            let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            assert!(now <= 2, "at most two at once, got {now}");
            tokio::task::yield_now().await;
            running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(slots.get_val(0).unwrap(), 2);
}

#[tokio::test]
async fn acquire_many_owned_takes_all_or_nothing_and_gives_all_back() {
    let forks = set(&root(), 3);
    forks.set_all(&[1, 1, 1]).unwrap();
    let both = forks.acquire_many_owned(&[(0, 1), (2, 1)]).await.unwrap();
    assert_eq!(forks.get_all().unwrap(), [0, 1, 0]);
    assert_eq!(both.set().id(), forks.id());
    let t = tokio::spawn(async move { drop(both) });
    t.await.unwrap();
    assert_eq!(forks.get_all().unwrap(), [1, 1, 1]);
    forks.acquire_owned(1, 1).await.unwrap().forget();
    assert_eq!(forks.get_all().unwrap(), [1, 0, 1]);
}

#[test]
fn try_acquire_and_try_acquire_many() {
    let s = set(&root(), 2);
    s.set_all(&[1, 2]).unwrap();
    let p = s.try_acquire(0, 1).unwrap();
    let e = s.try_acquire(0, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert!(!e.is_timeout());
    // all or nothing: semaphore 0 is empty, so semaphore 1 is not touched
    assert_eq!(s.try_acquire_many(&[(1, 2), (0, 1)]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(s.get_all().unwrap(), [0, 2]);
    drop(p);
    let both = s.try_acquire_many(&[(1, 2), (0, 1)]).unwrap();
    assert_eq!(s.get_all().unwrap(), [0, 0]);
    drop(both);
    assert_eq!(s.get_all().unwrap(), [1, 2]);
    // argument errors, as acquire's
    assert_eq!(s.try_acquire(0, 40000).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(s.try_acquire(5, 1).unwrap_err().kind(), ErrorKind::FileTooBig);
    assert_eq!(s.try_acquire(5, 0).unwrap_err().kind(), ErrorKind::FileTooBig);
    // zero units: a permit that gives nothing back
    drop(s.try_acquire(0, 0).unwrap());
    assert_eq!(s.get_all().unwrap(), [1, 2]);
}

#[test]
fn acquire_owned_poll_once_then_drop() {
    let s = set(&root(), 1);
    let mut f = s.acquire_owned(0, 1);
    assert!(poll(&mut f).is_pending());
    assert_eq!(s.get_ncnt(0).unwrap(), 1);
    drop(f);
    assert_eq!(s.get_ncnt(0).unwrap(), 0, "off the wait list");
    s.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(s.get_val(0).unwrap(), 1, "took nothing");
}

#[test]
fn acquire_owned_dropped_after_a_waker_performed_it_gives_the_units_back() {
    let s = set(&root(), 1);
    let mut f = s.acquire_owned(0, 1);
    assert!(poll(&mut f).is_pending());
    s.try_semop(&[SemOp::new(0, 1)]).unwrap(); // performs the waiter's decrement
    drop(f); // never polled again: the unit comes back
    assert_eq!(s.get_val(0).unwrap(), 1);
}

#[tokio::test]
async fn reserve_owned_moves_into_a_task() {
    let q = queue(&root(), 8);
    let permit = q.reserve_owned(4, 8).await.unwrap();
    assert_eq!((permit.mtype(), permit.size(), permit.queue().id()), (4, 8, q.id()));
    assert_eq!(q.try_send(1, 1).unwrap_err().kind(), ErrorKind::WouldBlock, "the room is held");
    tokio::spawn(async move { permit.send(44) }).await.unwrap().unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap(), (4, 44));
}

#[test]
fn owned_permit_send_of_a_larger_message_gives_it_back() {
    let p = root();
    let q: MessageQueue<Vec<u8>> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let permit = futures::executor::block_on(q.reserve_owned(1, 2)).unwrap();
    let e = permit.send(vec![0; 3]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.into_inner(), [0; 3]);
    // the room went back with the permit, and `?` takes the error into a boxed error
    let send = || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        futures::executor::block_on(q.reserve_owned(1, 2))?.send(vec![7; 2])?;
        Ok(())
    };
    send().unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 2);
}

#[test]
fn reserve_owned_poll_once_then_drop() {
    let q = queue(&root(), 8);
    q.try_send(1, 1).unwrap(); // full
    let mut f = q.reserve_owned(1, 8);
    assert!(poll(&mut f).is_pending());
    drop(f);
    q.try_recv(Select::Any).unwrap();
    q.try_send(1, 2).unwrap(); // the room was never held
    assert_eq!(q.stat().unwrap().qnum, 1);
}

#[test]
fn reserve_owned_dropped_permit_wakes_a_waiting_sender() {
    let q = queue(&root(), 8);
    let permit = futures::executor::block_on(q.reserve_owned(1, 8)).unwrap();
    let mut s = Box::pin(q.send(1, 5));
    assert!(poll(&mut s).is_pending());
    drop(permit);
    assert!(matches!(poll(&mut s), Poll::Ready(Ok(()))));
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 5));
}
