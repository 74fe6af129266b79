//! The `tracing` feature's events (src/trace.rs), captured by a hand-written subscriber:
//! one event per call, with its exact fields and level.
//!
//! Runs with `cargo test --features tracing --test tracing`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use svipc::c::{IPC_CREAT, IPC_NOWAIT, IPC_PRIVATE};
use svipc::sem::SemOp;
use svipc::{Credentials, Key, MessageQueue, Namespace, Select};

mod capture;
use capture::capture;

/// Polls `fut` once with a no-op waker.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

#[test]
fn send_recv_pair() {
    let events = capture(|| {
        rt().block_on(async {
            let me = Namespace::new().process(Credentials::new(1000, 1000).with_pid(42));
            let q: MessageQueue<u64> = me.msg_queue(Key::new(7)).create(0o600).open().unwrap();
            assert_eq!(q.id(), 0);
            q.send(1, 10).await.unwrap();
            assert_eq!(q.recv(Select::Any).await.unwrap(), (1, 10));
        })
    });
    assert_eq!(
        events,
        [
            "DEBUG msgget id=0 key=7 pid=42 ok waited=false",
            "DEBUG msgsnd id=0 key=- pid=42 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=42 ok waited=false",
        ]
    );
}

#[test]
fn recv_that_waited_and_try_recv_on_empty() {
    let events = capture(|| {
        let me = Namespace::new().process(Credentials::new(0, 0).with_pid(7));
        let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        assert!(q.try_recv(Select::Any).unwrap_err().is_no_message());
        let mut rx = q.recv(Select::Type(3));
        assert!(poll_once(&mut rx).is_pending());
        q.try_send(3, 30).unwrap(); // handed to the waiting receiver
        assert_eq!(poll_once(&mut rx), Poll::Ready(Ok((3, 30))));
        // Polled after completion: EINVAL, and no second event.
        assert!(matches!(poll_once(&mut rx), Poll::Ready(Err(_))));
    });
    assert_eq!(
        events,
        [
            "DEBUG msgget id=0 key=0 pid=7 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=7 ENOMSG waited=false",
            "DEBUG msgsnd id=0 key=- pid=7 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=7 ok waited=true",
        ]
    );
}

#[test]
fn permission_errors_are_warnings() {
    let events = capture(|| {
        let ns = Namespace::new();
        let owner = ns.process(Credentials::new(1000, 1000).with_pid(1));
        let guest = ns.process(Credentials::new(2000, 2000).with_pid(2));
        let q: MessageQueue<u64> = owner.msg_queue(Key::new(5)).create(0o600).open().unwrap();
        // Asking for write access at open: EACCES from msgget.
        let denied = guest.msg_queue::<u64>(Key::new(5)).mode(0o200).open().unwrap_err();
        assert!(denied.is_permission_denied());
        // Holding the id asks nothing; the send is refused.
        let as_guest = q.with_process(&guest).unwrap();
        assert!(as_guest.try_send(1, 1).unwrap_err().error().is_permission_denied());
        // IPC_RMID by someone else: EPERM.
        assert_eq!(as_guest.remove().unwrap_err().errno(), libc_eperm());
    });
    assert_eq!(
        events,
        [
            "DEBUG msgget id=0 key=5 pid=1 ok waited=false",
            "WARN msgget id=-1 key=5 pid=2 EACCES waited=false",
            "WARN msgsnd id=0 key=- pid=2 EACCES waited=false",
            "WARN msgctl id=0 key=- pid=2 EPERM waited=false",
        ]
    );
}

fn libc_eperm() -> i32 {
    svipc::ErrorKind::NotPermitted.errno()
}

#[test]
fn cancelled_recv_and_expired_timeout() {
    let events = capture(|| {
        rt().block_on(async {
            let me = Namespace::new().process(Credentials::new(0, 0).with_pid(3));
            let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
            let mut rx = q.recv(Select::Any);
            assert!(poll_once(&mut rx).is_pending());
            drop(rx);
            // Dropped before its first poll: no call was made, no event.
            drop(q.recv(Select::Any));
            // A zero timeout tries once, then expires without a timer: EAGAIN.
            let err = q.recv_timeout(Select::Any, Duration::ZERO).await.unwrap_err();
            assert!(err.is_timeout());
        })
    });
    assert_eq!(
        events,
        [
            "DEBUG msgget id=0 key=0 pid=3 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=3 cancelled waited=true",
            "DEBUG msgrcv id=0 key=- pid=3 EAGAIN waited=true",
        ]
    );
}

#[test]
fn semop_that_waited_and_a_permit() {
    let events = capture(|| {
        let me = Namespace::new().process(Credentials::new(0, 0).with_pid(9));
        let set = me.sem_set(Key::new(11)).nsems(1).create(0o600).open().unwrap();
        let down = [SemOp::new(0, -1)];
        let mut fut = set.semop(&down);
        assert!(poll_once(&mut fut).is_pending());
        set.try_semop(&[SemOp::new(0, 1)]).unwrap();
        assert_eq!(poll_once(&mut fut), Poll::Ready(Ok(())));
        drop(fut);
        set.set_val(0, 1).unwrap();
        let permit = set.try_acquire(0, 1).unwrap();
        drop(permit); // the give-back is a semop of its own
        assert_eq!(set.get_val(0).unwrap(), 1);
    });
    assert_eq!(
        events,
        [
            "DEBUG semget id=0 key=11 pid=9 ok waited=false",
            "DEBUG semop id=0 key=- pid=9 ok waited=false",
            "DEBUG semop id=0 key=- pid=9 ok waited=true",
            "DEBUG semctl id=0 key=- pid=9 ok waited=false",
            "DEBUG semop id=0 key=- pid=9 ok waited=false",
            "DEBUG semop id=0 key=- pid=9 ok waited=false",
            "DEBUG semctl id=0 key=- pid=9 ok waited=false",
        ]
    );
}

#[test]
fn attach_and_detach() {
    let events = capture(|| {
        let me = Namespace::new().process(Credentials::new(0, 0).with_pid(4));
        let seg = me.shm_segment(Key::new(21)).size(64).create(0o600).open().unwrap();
        let a = seg.attach().unwrap();
        drop(a);
        seg.remove().unwrap();
        assert_eq!(seg.attach_read_only().unwrap_err().errno(), svipc::ErrorKind::InvalidArgument.errno());
    });
    assert_eq!(
        events,
        [
            "DEBUG shmget id=0 key=21 pid=4 ok waited=false",
            "DEBUG shmat id=0 key=- pid=4 ok waited=false",
            "DEBUG shmdt id=0 key=- pid=4 ok waited=false",
            "DEBUG shmctl id=0 key=- pid=4 ok waited=false",
            "INFO shmat id=0 key=- pid=4 EINVAL waited=false",
        ]
    );
}

#[test]
fn one_c_call_is_one_event() {
    let events = capture(|| {
        rt().block_on(async {
            let me = Namespace::new().process(Credentials::new(0, 0).with_pid(5));
            let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
            me.msgsnd(id, 1, b"hi", 2, 0).await.unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(me.msgrcv(id, &mut buf, 8, 0, 0).await.unwrap(), (1, 2));
            let err = me.msgrcv(id, &mut buf, 8, 0, IPC_NOWAIT).await.unwrap_err();
            assert!(err.is_no_message());
            // A C receive that waits, then is dropped: one `cancelled`.
            let mut rx = pin!(me.msgrcv(id, &mut buf, 8, 0, 0));
            assert!(rx.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        })
    });
    assert_eq!(
        events,
        [
            "DEBUG msgget id=0 key=0 pid=5 ok waited=false",
            "DEBUG msgsnd id=0 key=- pid=5 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=5 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=5 ENOMSG waited=false",
            "DEBUG msgrcv id=0 key=- pid=5 cancelled waited=true",
        ]
    );
}

#[test]
fn c_semtimedop_expiry_and_ipcrm() {
    use svipc::c::{sembuf, timespec};
    let events = capture(|| {
        rt().block_on(async {
            let me = Namespace::new().process(Credentials::new(0, 0).with_pid(6));
            let id = me.semget(31, 1, IPC_CREAT | 0o600).unwrap();
            let down = [sembuf { sem_num: 0, sem_op: -1, sem_flg: 0 }];
            // A zero timespec: one try, then EAGAIN, one event (the typed semop_timeout and
            // the future it drives are muted).
            let zero = timespec { tv_sec: 0, tv_nsec: 0 };
            let err = me.semtimedop(id, &down, 1, Some(&zero)).await.unwrap_err();
            assert_eq!(err.errno(), svipc::ErrorKind::WouldBlock.errno());
            // `ipcrm -s`: the semctl it stands for.
            me.remove(svipc::IpcKind::SemaphoreSet, id).unwrap();
        })
    });
    assert_eq!(
        events,
        [
            "DEBUG semget id=0 key=31 pid=6 ok waited=false",
            "DEBUG semop id=0 key=- pid=6 EAGAIN waited=false",
            "DEBUG semctl id=0 key=- pid=6 ok waited=false",
        ]
    );
}

#[test]
fn stream_and_sink_one_event_per_item() {
    use futures::{SinkExt, StreamExt};
    let events = capture(|| {
        rt().block_on(async {
            let me = Namespace::new().process(Credentials::new(0, 0).with_pid(8));
            let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
            let mut sink = q.sink(2);
            sink.send(20).await.unwrap();
            sink.send(21).await.unwrap();
            let mut stream = q.stream(Select::Any);
            assert_eq!(stream.next().await, Some(Ok((2, 20))));
            assert_eq!(stream.next().await, Some(Ok((2, 21))));
            q.remove().unwrap();
            // The receive that finds the queue gone ends the stream: its EINVAL is an event.
            assert_eq!(stream.next().await, None);
        })
    });
    assert_eq!(
        events,
        [
            "DEBUG msgget id=0 key=0 pid=8 ok waited=false",
            "DEBUG msgsnd id=0 key=- pid=8 ok waited=false",
            "DEBUG msgsnd id=0 key=- pid=8 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=8 ok waited=false",
            "DEBUG msgrcv id=0 key=- pid=8 ok waited=false",
            "DEBUG msgctl id=0 key=- pid=8 ok waited=false",
            "INFO msgrcv id=0 key=- pid=8 EINVAL waited=false",
        ]
    );
}
