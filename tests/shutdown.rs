//! Shutdown a service can rely on (issue 13): one predicate for "the object I was using is
//! gone" (`Error::is_removed`, true for `EIDRM` and for the `EINVAL` of a handle whose own
//! object was removed, false for a bad argument), a stream that ends with `None` on
//! removal, and the opt-in `remove_on_drop` lifetime.
#![cfg(not(loom))]

use futures::StreamExt;
use svipc::{
    Credentials, ErrorKind, IpcKind, Key, MessageQueue, Namespace, Process, Select, SemOp, SemaphoreSet,
};

fn root(ns: &Namespace) -> Process {
    ns.process(Credentials::new(0, 0))
}

fn queue(p: &Process) -> MessageQueue<u64> {
    p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap()
}

fn set(p: &Process) -> SemaphoreSet {
    p.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap()
}

// ----- is_removed -----

#[tokio::test]
async fn a_waiting_call_gets_eidrm_and_is_removed() {
    let ns = Namespace::new();
    let q = queue(&root(&ns));
    let q2 = q.clone();
    let waiter = tokio::spawn(async move { q2.recv(Select::Any).await });
    tokio::task::yield_now().await;
    q.remove().unwrap();
    let e = waiter.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Removed);
    assert!(e.is_removed());
}

#[test]
fn a_later_call_through_the_handle_gets_einval_and_is_removed() {
    let ns = Namespace::new();
    let q = queue(&root(&ns));
    q.remove().unwrap();
    for e in [
        q.try_recv(Select::Any).unwrap_err(),
        q.try_send(1, 5).unwrap_err().error(),
        q.stat().unwrap_err(),
        q.remove().unwrap_err(),
        q.try_reserve(1, 8).unwrap_err(),
        q.peek(0).unwrap_err(),
    ] {
        assert_eq!((e.kind(), e.errno()), (ErrorKind::InvalidArgument, libc::EINVAL), "the kernel's errno");
        assert!(e.is_removed(), "{e:?}");
    }
    let e = q.try_send(1, 5).unwrap_err();
    assert!(e.is_removed());
    assert_eq!(e.into_inner(), 5);
    assert_eq!(q.stat().unwrap_err().to_string(), "msgctl: the object was removed (EINVAL)");
}

#[test]
fn a_bad_argument_is_not_removed_even_on_a_removed_queue() {
    let ns = Namespace::new();
    let q = queue(&root(&ns));
    assert!(!q.try_recv(Select::Type(0)).unwrap_err().is_removed());
    q.remove().unwrap();
    for e in [q.try_recv(Select::Type(0)).unwrap_err(), q.try_send(0, 5).unwrap_err().error()] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(!e.is_removed(), "argument checks come first: {e:?}");
    }
}

#[test]
fn an_unknown_id_is_not_a_handles_removal() {
    let ns = Namespace::new();
    let p = root(&ns);
    let q = queue(&p);
    let id = q.id();
    q.remove().unwrap();
    let e = p.msg_queue_by_id::<u64>(id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(!e.is_removed(), "no handle: an unknown id is only EINVAL");
    assert!(!p.remove(IpcKind::MessageQueue, id).unwrap_err().is_removed());
}

#[test]
fn semaphore_and_segment_errors_after_removal_are_removed() {
    let ns = Namespace::new();
    let p = root(&ns);
    let s = set(&p);
    s.remove().unwrap();
    for e in [
        s.try_semop(&[SemOp::new(0, 1)]).unwrap_err(),
        s.get_val(0).unwrap_err(),
        s.set_val(0, 1).unwrap_err(),
        s.stat().unwrap_err(),
        s.try_acquire(0, 1).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.is_removed(), "{e:?}");
    }
    assert!(!s.try_semop(&[]).unwrap_err().is_removed(), "no operation: a bad argument");
    let seg = p.shm_segment(Key::PRIVATE).create(0o600).size(4096).open().unwrap();
    seg.remove().unwrap();
    assert!(seg.stat().unwrap_err().is_removed());
    assert!(seg.attach().unwrap_err().is_removed());
}

#[tokio::test]
async fn a_sleeping_semop_gets_eidrm_and_is_removed() {
    let ns = Namespace::new();
    let s = set(&root(&ns));
    let s2 = s.clone();
    let waiter = tokio::spawn(async move { s2.semop(&[SemOp::new(0, -1)]).await });
    tokio::task::yield_now().await;
    s.remove().unwrap();
    let e = waiter.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Removed);
    assert!(e.is_removed());
}

// ----- the stream ends -----

#[tokio::test]
async fn a_stream_waiting_when_the_queue_is_removed_ends() {
    let ns = Namespace::new();
    let q = queue(&root(&ns));
    q.try_send(1, 1).unwrap();
    let mut st = q.stream(Select::Any);
    assert_eq!(st.next().await.unwrap().unwrap(), (1, 1));
    let q2 = q.clone();
    let rm = tokio::spawn(async move { q2.remove().unwrap() });
    assert!(st.next().await.is_none(), "None, not an Err item");
    rm.await.unwrap();
}

#[tokio::test]
async fn a_stream_started_after_the_removal_ends_at_once() {
    let ns = Namespace::new();
    let q = queue(&root(&ns));
    q.remove().unwrap();
    let items: Vec<_> = q.stream(Select::Any).collect().await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn a_stream_goes_on_after_other_errors() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 1000));
    let q: MessageQueue<u64> = owner.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let stranger = q.with_process(&ns.process(Credentials::new(2000, 2000))).unwrap();
    let mut st = stranger.stream(Select::Any);
    assert_eq!(st.next().await.unwrap().unwrap_err().kind(), ErrorKind::PermissionDenied);
    let mut ds = svipc::msg::MsqidSet::from(&q.stat().unwrap());
    ds.mode = 0o666;
    q.set(ds).unwrap();
    q.try_send(1, 9).unwrap();
    assert_eq!(st.next().await.unwrap().unwrap(), (1, 9));
}

// ----- remove_on_drop -----

#[test]
fn without_the_opt_in_a_private_queue_outlives_its_handles() {
    let ns = Namespace::new();
    drop(queue(&root(&ns)));
    assert_eq!(ns.ipcs().len(), 1, "System V: it lives until IPC_RMID");
}

#[test]
fn the_last_handle_of_the_open_removes_the_queue() {
    let ns = Namespace::new();
    let p = root(&ns);
    let q: MessageQueue<u64> = p.msg_queue(Key::new(5)).create(0o600).remove_on_drop().open().unwrap();
    let clone = q.clone();
    let other = q.with_process(&ns.process(Credentials::new(0, 0).with_pid(9))).unwrap();
    let stream = q.stream(Select::Any);
    let sink = q.sink(1);
    let permit = futures::executor::block_on(q.reserve_owned(1, 8)).unwrap();
    for (what, handle) in
        [("a clone", Box::new(clone) as Box<dyn std::any::Any>), ("with_process", Box::new(other))]
    {
        drop(handle);
        assert_eq!(ns.ipcs().len(), 1, "{what} dropped: the others hold it");
    }
    drop(stream);
    drop(sink);
    assert_eq!(ns.ipcs().len(), 1, "q and the permit still hold it");
    drop(q);
    assert_eq!(ns.ipcs().len(), 1, "the owned permit holds it");
    drop(permit);
    assert!(ns.ipcs().is_empty());
    assert_eq!(p.msg_queue::<u64>(Key::new(5)).open().unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn waiters_of_other_handles_get_eidrm_not_silence() {
    let ns = Namespace::new();
    let p = root(&ns);
    let q: MessageQueue<u64> = p.msg_queue(Key::PRIVATE).create(0o600).remove_on_drop().open().unwrap();
    // a worker that opened the queue by id: it does not keep the queue alive
    let worker: MessageQueue<u64> = p.msg_queue_by_id(q.id()).unwrap();
    let waiter = tokio::spawn(async move {
        let e = worker.recv(Select::Any).await.unwrap_err();
        let later = worker.try_recv(Select::Any).unwrap_err();
        (e, later)
    });
    tokio::task::yield_now().await;
    drop(q);
    let (e, later) = waiter.await.unwrap();
    assert_eq!(e.kind(), ErrorKind::Removed);
    assert!(e.is_removed() && later.is_removed());
    assert!(ns.ipcs().is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "Process::current reads the OS credentials (getegid), which miri cannot call")]
fn a_private_queue_in_the_global_namespace_does_not_leak() {
    let ns = Namespace::global();
    let q: MessageQueue<u64> =
        Process::current().msg_queue(Key::PRIVATE).create(0o600).remove_on_drop().open().unwrap();
    let id = q.id();
    assert!(ns.ipcs().of_kind(IpcKind::MessageQueue).any(|e| e.id == id));
    drop(q);
    assert!(!ns.ipcs().of_kind(IpcKind::MessageQueue).any(|e| e.id == id));
}

#[test]
fn an_opener_that_may_not_remove_leaves_the_queue() {
    let ns = Namespace::new();
    let owner = root(&ns);
    let q: MessageQueue<u64> = owner.msg_queue(Key::new(3)).create(0o666).open().unwrap();
    let guest = ns.process(Credentials::new(2000, 2000));
    let g: MessageQueue<u64> = guest.msg_queue(Key::new(3)).remove_on_drop().open().unwrap();
    drop(g); // IPC_RMID by a non-owner: EPERM, nothing happens
    assert_eq!(q.stat().unwrap().qnum, 0);
    assert_eq!(ns.ipcs().len(), 1);
}

#[test]
fn a_queue_already_removed_is_left_alone() {
    let ns = Namespace::new();
    let p = root(&ns);
    let q: MessageQueue<u64> = p.msg_queue(Key::PRIVATE).create(0o600).remove_on_drop().open().unwrap();
    q.remove().unwrap();
    let next = queue(&p); // may reuse the slot, never the id
    drop(q);
    assert_eq!(next.stat().unwrap().qnum, 0, "the new queue is untouched");
    assert_eq!(ns.ipcs().len(), 1);
}

#[tokio::test]
async fn the_last_handle_of_a_set_removes_it() {
    let ns = Namespace::new();
    let p = root(&ns);
    let s: SemaphoreSet = p.sem_set(Key::PRIVATE).create(0o600).nsems(1).remove_on_drop().open().unwrap();
    s.set_val(0, 1).unwrap();
    let other = p.sem_set_by_id(s.id()).unwrap();
    let permit = s.acquire_owned(0, 1).await.unwrap();
    let other2 = other.clone();
    let sleeper = tokio::spawn(async move { other2.semop(&[SemOp::new(0, -1)]).await });
    tokio::task::yield_now().await;
    drop(s);
    assert_eq!(ns.ipcs().len(), 1, "the owned permit holds it");
    drop(permit); // gives the unit back: the sleeper takes it
    assert!(ns.ipcs().is_empty());
    // the give-back performed the sleeper's decrement before the set went
    sleeper.await.unwrap().unwrap();
    assert!(other.get_val(0).unwrap_err().is_removed());
}

/// A queued message holding the last handle of a `remove_on_drop` queue: removing its own
/// queue drops it, which removes the other queue. The messages used to be dropped under the
/// namespace's table lock, and that second removal deadlocked on it.
#[test]
fn a_message_holding_the_last_handle_of_another_queue_is_dropped_outside_the_lock() {
    struct Carries(#[allow(dead_code)] MessageQueue<u64>);
    impl svipc::Payload for Carries {
        fn size(&self) -> usize {
            8
        }
    }
    let ns = Namespace::new();
    let p = root(&ns);
    let jobs: MessageQueue<Carries> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let reply = p.msg_queue::<u64>(Key::PRIVATE).create(0o600).remove_on_drop().open().unwrap();
    jobs.try_send(1, Carries(reply)).unwrap();
    assert_eq!(ns.ipcs().len(), 2);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        jobs.remove().unwrap();
        done.send(()).unwrap();
    });
    // a watchdog, not a timing assertion: a deadlock would otherwise hang the test
    finished.recv_timeout(std::time::Duration::from_secs(60)).expect("IPC_RMID deadlocked");
    assert!(ns.ipcs().is_empty(), "both queues are gone");
}
