//! The errno paths and check orders of msgsnd/msgrcv/msgctl (docs/kernel-rules.md §2
//! and §5), through the public API. Each test names the kernel behaviour it pins.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use futures::poll;
use svipc::msg::Limit;
use svipc::msg::MsqidSet;
use svipc::{Capabilities, Credentials, ErrorKind, Key, MessageQueue, Namespace, Process, Select};

fn root(ns: &Namespace) -> Process {
    ns.process(Credentials::new(0, 0).with_pid(1))
}

fn queue<T: svipc::Payload>(p: &Process, qbytes: u64) -> MessageQueue<T> {
    let q: MessageQueue<T> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let ds = q.stat().unwrap();
    q.set(MsqidSet { qbytes, ..MsqidSet::from(&ds) }).unwrap();
    q
}

/// Polls `f` once in the current task; true if it is still pending.
async fn pending<F: Future + Unpin>(f: &mut F) -> bool {
    matches!(poll!(f), Poll::Pending)
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let q: MessageQueue<u8> = queue(&root(&ns), 1);
    q.try_send(1, 0).unwrap();
    assert_eq!(q.try_send(1, 0).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn qbytes_caps_the_count() {
    // probe: qbytes=3 takes three 0-byte messages, the fourth gets EAGAIN
    let ns = Namespace::new();
    let q: MessageQueue<()> = queue(&root(&ns), 3);
    for _ in 0..3 {
        q.try_send(1, ()).unwrap();
    }
    assert_eq!(q.try_send(1, ()).unwrap_err().error().errno(), libc::EAGAIN);
    assert_eq!(q.stat().unwrap().qnum, 3);
}

#[test]
fn qbytes_zero_refuses_everything() {
    let ns = Namespace::new();
    let q: MessageQueue<()> = queue(&root(&ns), 0);
    assert_eq!(q.try_send(1, ()).unwrap_err().error().errno(), libc::EAGAIN);
    // lowering to 0 needs no privilege: an unprivileged owner
    let user = ns.process(Credentials::new(1000, 1000));
    let u: MessageQueue<()> = user.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    u.set(MsqidSet { uid: 1000, gid: 1000, mode: 0o600, qbytes: 0 }).unwrap();
    assert_eq!(u.stat().unwrap().qbytes, 0);
}

#[tokio::test]
async fn message_larger_than_qbytes_waits_until_raised() {
    // probe: qbytes 20, msgsz 21: EAGAIN / blocks, never EINVAL; qbytes 10 -> 30 lets it through
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 20);
    assert_eq!(q.try_send(1, vec![0; 21]).unwrap_err().error().errno(), libc::EAGAIN);
    let mut send = pin!(q.send(1, vec![0; 21]));
    assert!(pending(&mut send).await);
    q.set(MsqidSet { qbytes: 30, ..MsqidSet::from(&q.stat().unwrap()) }).unwrap();
    send.await.unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 21);
}

#[tokio::test]
async fn fit_check_comes_before_the_handoff() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 4);
    q.try_send(1, vec![0; 4]).unwrap(); // full
    let mut recv = pin!(q.recv(Select::Type(2)));
    assert!(pending(&mut recv).await);
    // a receiver waits for exactly this message, yet the send gets EAGAIN
    assert_eq!(q.try_send(2, vec![1]).unwrap_err().error().errno(), libc::EAGAIN);
    assert!(pending(&mut recv).await);
    q.try_recv(Select::Type(1)).unwrap();
    q.try_send(2, vec![9]).unwrap();
    assert_eq!(recv.await.unwrap(), (2, vec![9]));
}

#[tokio::test]
async fn pipelined_send_gives_e2big_to_every_too_small_receiver() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 100);
    let mut small1 = pin!(q.recv_limited(Select::Any, Limit::bytes(2)));
    let mut other = pin!(q.recv(Select::Type(7)));
    let mut small2 = pin!(q.recv_limited(Select::Type(1), Limit::bytes(3)));
    let mut big = pin!(q.recv_limited(Select::Any, Limit::bytes(10)));
    let mut after = pin!(q.recv(Select::Any));
    for _ in 0..2 {
        assert!(pending(&mut small1).await && pending(&mut other).await && pending(&mut small2).await);
        assert!(pending(&mut big).await && pending(&mut after).await);
    }
    q.try_send(1, vec![5; 5]).unwrap();
    assert_eq!(small1.await.unwrap_err().errno(), libc::E2BIG);
    assert_eq!(small2.await.unwrap_err().errno(), libc::E2BIG);
    assert_eq!(big.await.unwrap(), (1, vec![5; 5]));
    assert!(pending(&mut other).await && pending(&mut after).await);
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (0, 0), "handed off, never queued");
}

#[tokio::test]
async fn e2big_in_the_scan_path_leaves_the_message_queued() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 100);
    q.try_send(1, vec![0; 5]).unwrap();
    assert_eq!(q.recv_limited(Select::Any, Limit::bytes(4)).await.unwrap_err().errno(), libc::E2BIG);
    assert_eq!(q.stat().unwrap().qnum, 1);
}

#[test]
fn msgsnd_check_order() {
    // EINVAL(msgsz) -> EINVAL(mtype) -> EINVAL(lookup) -> EACCES -> EIDRM -> EAGAIN
    let ns = Namespace::new();
    let owner = root(&ns);
    let q: MessageQueue<Vec<u8>> = owner.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let stranger = q.with_process(&ns.process(Credentials::new(5, 5))).unwrap();
    // argument EINVALs before EACCES
    assert_eq!(stranger.try_send(0, vec![]).unwrap_err().error().errno(), libc::EINVAL);
    assert_eq!(stranger.try_send(1, vec![0; 8193]).unwrap_err().error().errno(), libc::EINVAL);
    assert_eq!(stranger.try_send(1, vec![]).unwrap_err().error().errno(), libc::EACCES);
    q.remove().unwrap();
    // a dead id: EINVAL, for everyone, before EACCES
    assert_eq!(stranger.try_send(1, vec![]).unwrap_err().error().errno(), libc::EINVAL);
    assert_eq!(q.try_send(1, vec![]).unwrap_err().error().errno(), libc::EINVAL);
}

#[test]
fn msgrcv_check_order() {
    let ns = Namespace::new();
    let owner = root(&ns);
    let q: MessageQueue<Vec<u8>> = owner.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let stranger = q.with_process(&ns.process(Credentials::new(5, 5))).unwrap();
    assert_eq!(stranger.try_recv(Select::Type(0)).unwrap_err().errno(), libc::EINVAL);
    // EACCES before looking for a message (ENOMSG)
    assert_eq!(stranger.try_recv(Select::Any).unwrap_err().errno(), libc::EACCES);
    assert_eq!(q.try_recv(Select::Any).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(stranger.peek(0).unwrap_err().errno(), libc::EACCES);
    q.remove().unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.peek(0).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.stat().unwrap_err().errno(), libc::EINVAL);
}

#[tokio::test]
async fn remove_fails_waiters_with_eidrm_and_later_calls_with_einval() {
    let ns = Namespace::new();
    let owner = root(&ns);
    let q: MessageQueue<Vec<u8>> = queue(&owner, 1);
    q.try_send(1, vec![1]).unwrap();
    let mut send = pin!(q.send(1, vec![2]));
    let mut recv = pin!(q.recv(Select::Type(3)));
    let mut reserve = pin!(q.reserve(1, 1));
    assert!(pending(&mut send).await && pending(&mut recv).await && pending(&mut reserve).await);
    let id = q.id();
    q.remove().unwrap();
    let err = send.await.unwrap_err();
    assert_eq!((err.error().errno(), err.into_inner()), (libc::EIDRM, vec![2]));
    assert_eq!(recv.await.unwrap_err().errno(), libc::EIDRM);
    assert_eq!(reserve.await.unwrap_err().errno(), libc::EIDRM);
    // later calls: EINVAL, including a second IPC_RMID and opening the id
    assert_eq!(q.recv(Select::Any).await.unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.send(1, vec![]).await.unwrap_err().error().errno(), libc::EINVAL);
    assert_eq!(q.remove().unwrap_err().errno(), libc::EINVAL);
    assert_eq!(owner.msg_queue_by_id::<Vec<u8>>(id).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.set(MsqidSet { uid: 0, gid: 0, mode: 0, qbytes: 0 }).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(ns.msg_info().msgpool, 0);
}

#[tokio::test]
async fn ipc_set_makes_receivers_recheck_permission() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 1000));
    let q: MessageQueue<u64> = owner.msg_queue(Key::PRIVATE).create(0o666).open().unwrap();
    let reader = q.with_process(&ns.process(Credentials::new(2000, 2000))).unwrap();
    let mut keeps = pin!(q.recv(Select::Any));
    let mut loses = pin!(reader.recv(Select::Any));
    assert!(pending(&mut keeps).await && pending(&mut loses).await);
    q.set(MsqidSet { uid: 1000, gid: 1000, mode: 0o600, qbytes: 16384 }).unwrap();
    assert_eq!(loses.await.unwrap_err().errno(), libc::EACCES);
    assert!(pending(&mut keeps).await, "the owner goes back to sleep");
    q.try_send(1, 5).unwrap();
    assert_eq!(keeps.await.unwrap(), (1, 5));
}

#[tokio::test]
async fn ipc_set_wakes_senders_that_now_fit() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 10);
    let mut s20 = pin!(q.send(1, vec![0; 20]));
    let mut s40 = pin!(q.send(1, vec![0; 40]));
    assert!(pending(&mut s20).await && pending(&mut s40).await);
    q.set(MsqidSet { qbytes: 30, ..MsqidSet::from(&q.stat().unwrap()) }).unwrap();
    s20.await.unwrap();
    assert!(pending(&mut s40).await);
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (1, 20));
}

#[test]
fn ipc_set_check_order_and_effects() {
    // EINVAL(lookup) -> EPERM(owner) -> EPERM(qbytes) -> EINVAL(uid/gid)
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 1000));
    let q: MessageQueue<u64> = owner.msg_queue(Key::PRIVATE).create(0o644).open().unwrap();
    let ds = q.stat().unwrap();
    let base = MsqidSet::from(&ds);
    let stranger = q.with_process(&ns.process(Credentials::new(2000, 2000))).unwrap();
    assert_eq!(
        stranger.set(MsqidSet { uid: u32::MAX, qbytes: 1 << 20, ..base }).unwrap_err().errno(),
        libc::EPERM
    );
    // raising qbytes above MSGMNB: EPERM before the uid check
    assert_eq!(q.set(MsqidSet { uid: u32::MAX, qbytes: 16385, ..base }).unwrap_err().errno(), libc::EPERM);
    assert_eq!(q.set(MsqidSet { uid: u32::MAX, ..base }).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.set(MsqidSet { gid: u32::MAX, ..base }).unwrap_err().errno(), libc::EINVAL);
    // root without CAP_SYS_RESOURCE cannot raise it either; with it, can
    let no_res = q
        .with_process(&ns.process(
            Credentials::new(0, 0).with_capabilities(Capabilities::ALL.without(Capabilities::SYS_RESOURCE)),
        ))
        .unwrap();
    assert_eq!(no_res.set(MsqidSet { qbytes: 16385, ..base }).unwrap_err().errno(), libc::EPERM);
    let res = q
        .with_process(&ns.process(Credentials::new(1000, 1000).with_capabilities(Capabilities::SYS_RESOURCE)))
        .unwrap();
    res.set(MsqidSet { qbytes: 16385, ..base }).unwrap();
    // MSGMNB itself is fine unprivileged
    q.set(MsqidSet { qbytes: 16384, ..base }).unwrap();
    // effects: uid, gid, mode & 0777, qbytes, ctime; cuid/cgid stay; no CAP_CHOWN needed
    q.set(MsqidSet { uid: 0, gid: 7, mode: 0o7640, qbytes: 100 }).unwrap();
    let after = q.stat();
    // the new owner is root and mode 640 lets the creator (owner triplet via cuid) read
    let after = after.unwrap();
    assert_eq!((after.perm.uid, after.perm.gid, after.perm.mode, after.qbytes), (0, 7, 0o640, 100));
    assert_eq!((after.perm.cuid, after.perm.cgid), (1000, 1000));
    assert!(after.ctime >= ds.ctime);
    // the creator keeps control through cuid
    q.set(MsqidSet { uid: 1000, gid: 1000, mode: 0o600, qbytes: 100 }).unwrap();
    q.remove().unwrap();
}

#[tokio::test]
async fn removal_by_ipcrm_wakes_waiters_too() {
    let ns = Namespace::new();
    let owner = root(&ns);
    let q: MessageQueue<u64> = queue(&owner, 100);
    let mut recv = pin!(q.recv(Select::Any));
    assert!(pending(&mut recv).await);
    owner.remove(svipc::IpcKind::MessageQueue, q.id()).unwrap();
    assert_eq!(recv.await.unwrap_err().errno(), libc::EIDRM);
}

#[tokio::test]
async fn ss_wakeup_wakes_each_sender_that_fits() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 10);
    q.try_send(1, vec![0; 10]).unwrap();
    let mut big = pin!(q.send(1, vec![0; 8]));
    let mut small = pin!(q.send(1, vec![0; 3]));
    assert!(pending(&mut big).await && pending(&mut small).await);
    // msgrcv frees 10 bytes... then we put 4 back: 4 + 8 > 10, 4 + 3 <= 10
    q.try_recv(Select::Any).unwrap();
    q.try_send(2, vec![0; 4]).unwrap();
    assert!(pending(&mut big).await);
    small.await.unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (2, 7));
}

#[tokio::test]
async fn another_type_with_a_sender_waiting_in_simple_mode() {
    // A type-1 sender too big for the room waits; a small type-2 send then takes the room,
    // finds the ring holds type 1, gives the room back and goes the locked way: it must
    // neither deadlock nor lose the waiting sender's wake-up.
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 16);
    q.try_send(1, vec![0; 8]).unwrap();
    let mut big = pin!(q.send(1, vec![0; 16]));
    assert!(pending(&mut big).await);
    let q2 = q.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(q2.try_send(2, vec![0; 4]).map_err(|e| e.error())));
    let sent = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("try_send hung");
    sent.unwrap();
    assert!(pending(&mut big).await);
    assert_eq!(q.try_recv(Select::Any).unwrap().1.len(), 8);
    assert_eq!(q.try_recv(Select::Any).unwrap().1.len(), 4);
    big.await.unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap().1.len(), 16);
}
