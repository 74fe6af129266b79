//! The permission matrix of the msg calls: ipcperms() (owner/creator, group via gid, cgid or
//! a supplementary group, other; no fall-through; CAP_IPC_OWNER) for msgsnd (write), msgrcv,
//! MSG_COPY and IPC_STAT (read); ipcctl ownership (owner, creator, CAP_SYS_ADMIN) for IPC_SET
//! and IPC_RMID, which need no mode bits. docs/kernel-rules.md §1.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

use svipc::msg::MsqidSet;
use svipc::{Capabilities, Credentials, Key, MessageQueue, Namespace, Select};

const CREATOR: (u32, u32) = (1000, 100);
const OWNER: (u32, u32) = (2000, 200);

/// A queue created by uid 1000/gid 100 and handed (IPC_SET) to uid 2000/gid 200 with `mode`.
fn setup(ns: &Namespace, mode: u32) -> MessageQueue<u64> {
    let creator = ns.process(Credentials::new(CREATOR.0, CREATOR.1));
    let q: MessageQueue<u64> = creator.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: OWNER.0, gid: OWNER.1, mode, qbytes: 16384 }).unwrap();
    q
}

/// (read allowed, write allowed) for `creds` on a queue of `mode`.
fn access(mode: u32, creds: Credentials) -> (bool, bool) {
    let ns = Namespace::new();
    let q = setup(&ns, mode);
    let h = q.with_process(&ns.process(creds)).unwrap();
    // something to read
    let root = q.with_process(&ns.process(Credentials::new(0, 0))).unwrap();
    root.try_send(1, 1).unwrap();
    let read = match h.try_recv(Select::Any) {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(e.errno(), libc::EACCES);
            false
        }
    };
    // stat and peek agree with recv
    assert_eq!(h.stat().is_ok(), read);
    let write = match h.try_send(1, 2) {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(e.error().errno(), libc::EACCES);
            false
        }
    };
    (read, write)
}

#[test]
fn smoke() {
    assert_eq!(access(0o600, Credentials::new(OWNER.0, 9)), (true, true));
}

#[test]
fn matrix() {
    let none = Capabilities::NONE;
    let cases: &[(&str, Credentials, u32, (bool, bool))] = &[
        ("owner rw", Credentials::new(OWNER.0, 9), 0o600, (true, true)),
        ("owner r", Credentials::new(OWNER.0, 9), 0o400, (true, false)),
        ("owner w", Credentials::new(OWNER.0, 9), 0o200, (false, true)),
        ("creator uses owner bits", Credentials::new(CREATOR.0, 9), 0o400, (true, false)),
        ("owner: no fall-through to group/other", Credentials::new(OWNER.0, OWNER.1), 0o077, (false, false)),
        ("group via gid", Credentials::new(9, OWNER.1), 0o040, (true, false)),
        ("group via cgid", Credentials::new(9, CREATOR.1), 0o020, (false, true)),
        ("group via supplementary", Credentials::new(9, 9).with_groups([5, OWNER.1]), 0o060, (true, true)),
        ("group: no fall-through to other", Credentials::new(9, OWNER.1), 0o607, (false, false)),
        ("other", Credentials::new(9, 9), 0o004, (true, false)),
        ("other denied", Credentials::new(9, 9), 0o660, (false, false)),
        ("CAP_IPC_OWNER", Credentials::new(9, 9).with_capabilities(Capabilities::IPC_OWNER), 0, (true, true)),
        ("root without CAP_IPC_OWNER", Credentials::new(0, 0).with_capabilities(none), 0o000, (false, false)),
        ("root", Credentials::new(0, 0), 0, (true, true)),
    ];
    for (name, creds, mode, want) in cases {
        assert_eq!(access(*mode, creds.clone()), *want, "{name} (mode {mode:o})");
    }
}

#[test]
fn ownership_for_set_and_remove() {
    for (name, creds, ok) in [
        ("owner", Credentials::new(OWNER.0, 9), true),
        ("creator", Credentials::new(CREATOR.0, 9), true),
        ("CAP_SYS_ADMIN", Credentials::new(9, 9).with_capabilities(Capabilities::SYS_ADMIN), true),
        ("group member", Credentials::new(9, OWNER.1), false),
        (
            "CAP_IPC_OWNER is not enough",
            Credentials::new(9, 9).with_capabilities(Capabilities::IPC_OWNER),
            false,
        ),
        ("root without CAP_SYS_ADMIN", Credentials::new(0, 0).with_capabilities(Capabilities::NONE), false),
    ] {
        let ns = Namespace::new();
        // mode 0: IPC_SET and IPC_RMID need no mode bits
        let q = setup(&ns, 0);
        let h = q.with_process(&ns.process(creds)).unwrap();
        let set = h.set(MsqidSet { uid: OWNER.0, gid: OWNER.1, mode: 0, qbytes: 100 });
        let rm = h.remove();
        if ok {
            assert!(set.is_ok() && rm.is_ok(), "{name}");
        } else {
            assert_eq!(set.unwrap_err().errno(), libc::EPERM, "{name}");
            assert_eq!(rm.unwrap_err().errno(), libc::EPERM, "{name}");
        }
    }
}

#[test]
fn mode_zero_owner_is_locked_out_but_keeps_control() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let q: MessageQueue<u64> = me.msg_queue(Key::new(3)).create(0).open().unwrap();
    assert_eq!(q.try_send(1, 1).unwrap_err().error().errno(), libc::EACCES);
    assert_eq!(q.stat().unwrap_err().errno(), libc::EACCES);
    assert_eq!(q.peek(0).unwrap_err().errno(), libc::EACCES);
    // msgget with mode 0 asks nothing; asking read is refused
    assert!(me.msg_queue::<u64>(Key::new(3)).open().is_ok());
    assert_eq!(me.msg_queue::<u64>(Key::new(3)).mode(0o400).open().unwrap_err().errno(), libc::EACCES);
    q.set(MsqidSet { uid: 1000, gid: 1000, mode: 0o600, qbytes: 16384 }).unwrap();
    q.try_send(1, 1).unwrap();
    q.remove().unwrap();
}

#[test]
fn one_handle_sees_every_ipc_set_at_its_next_call() {
    // A handle remembers which of its checks passed, and at which permission version: each
    // IPC_SET below (by the owner's handle) changes what the same handle's next send or
    // receive may do, and a clone shares the memo and sees the same changes.
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 100));
    let q: MessageQueue<u64> = owner.msg_queue(Key::new(9)).create(0o666).open().unwrap();
    let other = q.with_process(&ns.process(Credentials::new(2000, 200))).unwrap();
    let set = |mode| q.set(MsqidSet { uid: 1000, gid: 100, mode, qbytes: 16384 }).unwrap();
    let denied = libc::EACCES;
    other.try_send(1, 10).unwrap();
    assert_eq!(other.try_recv(Select::Any).unwrap(), (1, 10));
    set(0o664); // other: read only
    assert_eq!(other.try_send(1, 11).unwrap_err().error().errno(), denied);
    q.try_send(1, 12).unwrap();
    assert_eq!(other.try_recv(Select::Any).unwrap(), (1, 12));
    set(0o662); // other: write only
    other.try_send(1, 13).unwrap();
    assert_eq!(other.try_recv(Select::Any).unwrap_err().errno(), denied);
    assert_eq!(other.peek(0).unwrap_err().errno(), denied);
    set(0o666);
    let copy = other.clone();
    assert_eq!(copy.try_recv(Select::Any).unwrap(), (1, 13));
    set(0o660); // other: nothing, through either handle
    assert_eq!(copy.try_send(1, 14).unwrap_err().error().errno(), denied);
    assert_eq!(other.try_recv(Select::Any).unwrap_err().errno(), denied);
    assert_eq!(q.stat().unwrap().qnum, 0);
}

#[test]
fn a_waiting_receiver_is_checked_again_when_woken() {
    // msgrcv checks read permission on every pass of its loop: a receiver that waited with
    // the right to read, and lost it before a message came, fails with EACCES when woken,
    // and the message stays queued. Its memo held a pass from before the IPC_SET.
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 100));
    let q: MessageQueue<u64> = owner.msg_queue(Key::PRIVATE).create(0o666).open().unwrap();
    let other = q.with_process(&ns.process(Credentials::new(2000, 200))).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut recv = std::pin::pin!(other.recv(Select::Any));
    assert!(recv.as_mut().poll(&mut cx).is_pending());
    q.set(MsqidSet { uid: 1000, gid: 100, mode: 0o662, qbytes: 16384 }).unwrap();
    q.try_send(1, 5).unwrap();
    match recv.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert_eq!(e.errno(), libc::EACCES),
        other => panic!("expected EACCES, got {other:?}"),
    }
    assert_eq!(q.stat().unwrap().qnum, 1);
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 5));
}
