//! Loom models of shutdown through the public API: the opt-in `remove_on_drop` lifetime's
//! last drop racing a call of another handle, which must end with an error that answers
//! `is_removed()` whichever side of the removal it lands on (`EIDRM` while waiting,
//! `EINVAL` after), never hang. `scripts/loom.sh loom_shutdown`.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Select, SemOp};

mod common;
use common::bounded;

/// Two clones of the opted-in handle drop on two threads while a handle opened by id
/// receives: exactly one removal, and the receive ends with `is_removed()`.
#[test]
fn last_drop_races_a_receive_of_another_handle() {
    bounded(|| {
        let ns = Namespace::new();
        let p = ns.process(Credentials::new(0, 0));
        let q: MessageQueue<u64> = p.msg_queue(Key::PRIVATE).create(0o600).remove_on_drop().open().unwrap();
        let worker: MessageQueue<u64> = p.msg_queue_by_id(q.id()).unwrap();
        let q2 = q.clone();
        let dropper = thread::spawn(move || drop(q2));
        let receiver = thread::spawn(move || block_on(worker.recv(Select::Any)));
        drop(q);
        dropper.join().unwrap();
        let e = receiver.join().unwrap().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Removed | ErrorKind::InvalidArgument), "{e:?}");
        assert!(e.is_removed(), "{e:?}");
        assert!(ns.ipcs().is_empty());
    });
}

/// The same for a semaphore set: a `semop` of a handle opened by id, racing the last drop.
#[test]
fn last_drop_races_a_semop_of_another_handle() {
    bounded(|| {
        let ns = Namespace::new();
        let p = ns.process(Credentials::new(0, 0));
        let set = p.sem_set(Key::PRIVATE).create(0o600).nsems(1).remove_on_drop().open().unwrap();
        let other = p.sem_set_by_id(set.id()).unwrap();
        let waiter = thread::spawn(move || block_on(other.semop(&[SemOp::new(0, -1)])));
        drop(set);
        let e = waiter.join().unwrap().unwrap_err();
        assert!(e.is_removed(), "{e:?}");
        assert!(ns.ipcs().is_empty());
    });
}
