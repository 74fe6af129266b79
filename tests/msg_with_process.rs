//! `MessageQueue::with_process` stays in the handle's namespace (issue 13, defect 1): a
//! handle re-bound to a process of another namespace used to resolve its id there, so
//! `qa.with_process(&pb).remove()` removed namespace B's queue with the same id.
#![cfg(not(loom))]

use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Op, Select};

#[test]
fn a_process_of_another_namespace_is_refused() {
    let (a, b) = (Namespace::new(), Namespace::new());
    let (pa, pb) = (a.process(Credentials::new(0, 0)), b.process(Credentials::new(0, 0)));
    let qa: MessageQueue<u64> = pa.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let qb: MessageQueue<u64> = pb.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    assert_eq!(qa.id(), qb.id(), "the first queue of each namespace: the same id");
    qb.try_send(1, 7).unwrap();

    let err = qa.with_process(&pb).unwrap_err();
    assert_eq!((err.op(), err.kind()), (Op::MsgGet, ErrorKind::InvalidArgument));
    assert!(!err.is_removed());

    // neither queue was touched
    assert_eq!(qb.stat().unwrap().qnum, 1);
    assert_eq!(qa.stat().unwrap().qnum, 0);
    assert_eq!((a.ipcs().len(), b.ipcs().len()), (1, 1));
}

#[test]
fn the_msgmax_check_reads_the_handles_namespace() {
    let (a, b) = (Namespace::new(), Namespace::new());
    let mut small = b.limits();
    small.msgmax = 4;
    b.set_limits(small).unwrap();
    let pa = a.process(Credentials::new(0, 0));
    let qa: MessageQueue<Vec<u8>> = pa.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    assert!(qa.with_process(&b.process(Credentials::new(0, 0))).is_err());
    // in its own namespace, another actor's copy checks A's MSGMAX (8192), not B's (4)
    let other = qa.with_process(&a.process(Credentials::new(0, 0).with_pid(9))).unwrap();
    other.try_send(1, vec![0; 100]).unwrap();
    assert_eq!(qa.stat().unwrap().lspid, 9);
}

#[test]
fn a_process_of_the_same_namespace_reaches_the_same_queue() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 1000));
    let q: MessageQueue<u64> = owner.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let root = q.with_process(&ns.process(Credentials::new(0, 0).with_pid(5))).unwrap();
    assert_eq!(root.id(), q.id());
    root.try_send(3, 30).unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap(), (3, 30));
    // the stranger's calls are checked with the stranger's credentials
    let stranger = q.with_process(&ns.process(Credentials::new(2000, 2000))).unwrap();
    assert_eq!(stranger.remove().unwrap_err().kind(), ErrorKind::NotPermitted);
    root.remove().unwrap();
    assert!(q.stat().unwrap_err().is_removed());
}
