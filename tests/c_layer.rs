//! The C-shaped layer (`svipc::c`) end to end: every call and command, the byte payload
//! shared with the typed `MessageQueue<Vec<u8>>`, the `*_STAT` walk by index, the info
//! structs, `next_id`, and the futures' cancel safety. The check orders are in
//! `c_check_order.rs`.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use svipc::c::*;
use svipc::{Credentials, ErrorKind, IpcKind, Key, MessageQueue, Namespace, Select};

fn errno<T: std::fmt::Debug>(r: Result<T, svipc::Error>) -> i32 {
    r.unwrap_err().errno()
}

/// Polls once; true if still pending.
async fn pending<F: Future + Unpin>(f: &mut F) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx).is_pending())).await
}

#[tokio::test]
async fn smoke() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    me.msgsnd(id, 3, b"abc", 3, 0).await.unwrap();
    let mut buf = [0u8; 3];
    assert_eq!(me.msgrcv(id, &mut buf, 3, 0, 0).await.unwrap(), (3, 3));
    assert_eq!(&buf, b"abc");
}

#[tokio::test]
async fn a_queue_used_from_both_layers_sees_the_same_messages() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let id = me.msgget(0x51, IPC_CREAT | 0o600).unwrap();
    let typed: MessageQueue<Vec<u8>> = me.msg_queue(Key::new(0x51)).open().unwrap();
    assert_eq!(typed.id(), id);
    me.msgsnd(id, 1, b"from C", 6, 0).await.unwrap();
    typed.send(2, b"typed".to_vec()).await.unwrap();
    assert_eq!(typed.try_recv(Select::Any).unwrap(), (1, b"from C".to_vec()));
    let mut buf = [0u8; 16];
    assert_eq!(me.msgrcv(id, &mut buf, 16, 2, IPC_NOWAIT).await.unwrap(), (2, 5));
    assert_eq!(&buf[..5], b"typed");
    // and a typed byte queue is found by msgget
    let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::new(0x52)).create(0o600).open().unwrap();
    assert_eq!(me.msgget(0x52, 0).unwrap(), q.id());
}

#[tokio::test]
async fn a_typed_queue_answers_byte_calls_with_type_mismatch() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let q: MessageQueue<String> = me.msg_queue(Key::new(9)).create(0o600).open().unwrap();
    q.try_send(4, "four".to_string()).unwrap();
    assert_eq!(me.msgget(9, 0).unwrap(), q.id(), "msgget finds it");
    let e = me.msgsnd(q.id(), 1, b"x", 1, 0).await.unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::TypeMismatch, 22));
    let mut buf = [0u8; 8];
    assert_eq!(
        me.msgrcv(q.id(), &mut buf, 8, 0, IPC_NOWAIT).await.unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    let mut ds = msqid_ds::default();
    assert_eq!(
        me.msgctl(q.id(), IPC_SET, MsgctlBuf::Ds(&mut ds)).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    // what needs no payload works
    me.msgctl(q.id(), IPC_STAT, MsgctlBuf::Ds(&mut ds)).unwrap();
    assert_eq!((ds.msg_qnum, ds.msg_cbytes, ds.msg_perm.__key), (1, 4, 9));
    me.msgctl(q.id(), IPC_RMID, MsgctlBuf::Null).unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn msgrcv_selectors_truncation_and_copy() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    for (t, m) in [(3, &b"three"[..]), (1, b"one"), (2, b"two")] {
        me.msgsnd(id, t, m, m.len(), IPC_NOWAIT).await.unwrap();
    }
    let mut buf = [0u8; 8];
    // MSG_COPY: position 1 (0 = oldest), left queued
    assert_eq!(me.msgrcv(id, &mut buf, 8, 1, MSG_COPY | IPC_NOWAIT).await.unwrap(), (1, 3));
    assert_eq!(errno(me.msgrcv(id, &mut buf, 8, 3, MSG_COPY | IPC_NOWAIT).await), 42, "ENOMSG past the end");
    assert_eq!(errno(me.msgrcv(id, &mut buf, 8, -1, MSG_COPY | IPC_NOWAIT).await), 42, "negative position");
    // E2BIG without MSG_NOERROR, and the message stays
    assert_eq!(errno(me.msgrcv(id, &mut buf, 2, 3, IPC_NOWAIT).await), 7);
    // MSG_NOERROR truncates
    assert_eq!(me.msgrcv(id, &mut buf, 2, 3, IPC_NOWAIT | MSG_NOERROR).await.unwrap(), (3, 2));
    assert_eq!(&buf[..2], b"th");
    // MSG_EXCEPT, then msgtyp < 0
    assert_eq!(me.msgrcv(id, &mut buf, 8, 1, MSG_EXCEPT | IPC_NOWAIT).await.unwrap(), (2, 3));
    assert_eq!(me.msgrcv(id, &mut buf, 8, -5, IPC_NOWAIT).await.unwrap(), (1, 3));
    assert_eq!(errno(me.msgrcv(id, &mut buf, 8, 0, IPC_NOWAIT).await), 42);
    // msgsz 0 sends an empty message
    me.msgsnd(id, 7, b"ignored", 0, 0).await.unwrap();
    assert_eq!(me.msgrcv(id, &mut buf, 0, 0, 0).await.unwrap(), (7, 0));
}

#[tokio::test]
async fn msgctl_every_command() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000).with_pid(77));
    let a = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o640).unwrap();
    let b = me.msgget(0x10, IPC_CREAT | 0o600).unwrap();
    me.msgsnd(b, 1, b"12345", 5, 0).await.unwrap();
    let mut ds = msqid_ds::default();
    assert_eq!(me.msgctl(a, IPC_STAT, MsgctlBuf::Ds(&mut ds)).unwrap(), 0);
    assert_eq!(
        (ds.msg_perm.mode, ds.msg_perm.uid, ds.msg_qbytes, ds.msg_perm.__seq),
        (0o640, 1000, 16384, 0)
    );
    // MSG_STAT by index returns the full id
    assert_eq!(me.msgctl(1, MSG_STAT, MsgctlBuf::Ds(&mut ds)).unwrap(), b);
    assert_eq!((ds.msg_qnum, ds.msg_cbytes, ds.msg_lspid, ds.msg_perm.__key), (1, 5, 77, 0x10));
    let guest = ns.process(Credentials::new(2000, 2000));
    assert_eq!(errno(guest.msgctl(1, MSG_STAT, MsgctlBuf::Ds(&mut ds))), 13);
    assert_eq!(guest.msgctl(1, MSG_STAT_ANY, MsgctlBuf::Ds(&mut ds)).unwrap(), b);
    // IPC_SET: owner, mode, qbytes
    ds.msg_perm.mode = 0o604;
    ds.msg_qbytes = 100;
    me.msgctl(b, IPC_SET, MsgctlBuf::Ds(&mut ds)).unwrap();
    let mut after = msqid_ds::default();
    me.msgctl(b, IPC_STAT, MsgctlBuf::Ds(&mut after)).unwrap();
    assert_eq!((after.msg_perm.mode, after.msg_qbytes), (0o604, 100));
    ds.msg_qbytes = 20000; // above MSGMNB without CAP_SYS_RESOURCE
    assert_eq!(errno(me.msgctl(b, IPC_SET, MsgctlBuf::Ds(&mut ds))), 1);
    // IPC_INFO and MSG_INFO
    let mut info = msginfo::default();
    assert_eq!(me.msgctl(0, IPC_INFO, MsgctlBuf::Info(&mut info)).unwrap(), 1, "max index");
    assert_eq!(
        info,
        msginfo {
            msgpool: 512000,
            msgmap: 16384,
            msgmax: 8192,
            msgmnb: 16384,
            msgmni: 32000,
            msgssz: 16,
            msgtql: 16384,
            msgseg: 65535
        }
    );
    assert_eq!(me.msgctl(0, MSG_INFO, MsgctlBuf::Info(&mut info)).unwrap(), 1);
    assert_eq!((info.msgpool, info.msgmap, info.msgtql), (2, 1, 5));
    // IPC_RMID: EPERM for another user, then gone
    assert_eq!(errno(guest.msgctl(b, IPC_RMID, MsgctlBuf::Null)), 1);
    me.msgctl(b, IPC_RMID, MsgctlBuf::Null).unwrap();
    assert_eq!(errno(me.msgctl(b, IPC_STAT, MsgctlBuf::Ds(&mut ds))), 22);
    assert_eq!(errno(me.msgctl(1, MSG_STAT, MsgctlBuf::Ds(&mut ds))), 22, "empty slot");
}

#[tokio::test]
async fn semaphores_every_command() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000).with_pid(5));
    let id = me.semget(0x20, 3, IPC_CREAT | 0o600).unwrap();
    assert_eq!(me.semget(0x20, 2, 0).unwrap(), id);
    assert_eq!(me.semctl(id, 1, SETVAL, semun::Val(4)).unwrap(), 0);
    assert_eq!(me.semctl(id, 1, GETVAL, semun::None).unwrap(), 4);
    assert_eq!(me.semctl(id, 1, GETPID, semun::None).unwrap(), 5);
    let ops =
        [sembuf { sem_num: 1, sem_op: -1, sem_flg: SEM_UNDO }, sembuf { sem_num: 2, sem_op: 2, sem_flg: 0 }];
    me.semop(id, &ops, 2).await.unwrap();
    let mut all = [0u16; 3];
    me.semctl(id, 0, GETALL, semun::Array(&mut all)).unwrap();
    assert_eq!(all, [0, 3, 2]);
    me.semctl(id, 0, SETALL, semun::Array(&mut [1, 1, 1])).unwrap();
    // IPC_NOWAIT on the sop that blocks: EAGAIN at once
    let take = [sembuf { sem_num: 0, sem_op: -2, sem_flg: IPC_NOWAIT as i16 }];
    assert_eq!(errno(me.semop(id, &take, 1).await), 11);
    // semtimedop: EAGAIN on expiry, reported as a timeout
    let take = [sembuf { sem_num: 0, sem_op: -2, sem_flg: 0 }];
    let e = me.semtimedop(id, &take, 1, Some(&timespec { tv_sec: 0, tv_nsec: 1_000_000 })).await.unwrap_err();
    assert!(e.is_timeout() && e.errno() == 11);
    // a zero timeout that need not wait succeeds
    let give = [sembuf { sem_num: 0, sem_op: 1, sem_flg: 0 }];
    me.semtimedop(id, &give, 1, Some(&timespec::default())).await.unwrap();
    // GETNCNT/GETZCNT with sleepers (sem 0 is 2 now)
    let three = [sembuf { sem_num: 0, sem_op: -3, sem_flg: 0 }];
    let zero = [sembuf { sem_num: 1, sem_op: 0, sem_flg: 0 }];
    let mut taker = me.semop(id, &three, 1);
    let mut waiter = me.semop(id, &zero, 1);
    assert!(pending(&mut taker).await && pending(&mut waiter).await);
    assert_eq!(me.semctl(id, 0, GETNCNT, semun::None).unwrap(), 1);
    assert_eq!(me.semctl(id, 1, GETZCNT, semun::None).unwrap(), 1);
    drop((taker, waiter));
    assert_eq!(me.semctl(id, 0, GETNCNT, semun::None).unwrap(), 0);
    assert_eq!(me.semctl(id, 0, GETVAL, semun::None).unwrap(), 2);
    // IPC_STAT, SEM_STAT, IPC_SET
    let mut ds = semid_ds::default();
    me.semctl(id, 0, IPC_STAT, semun::Buf(&mut ds)).unwrap();
    assert_eq!((ds.sem_nsems, ds.sem_perm.mode, ds.sem_perm.__key), (3, 0o600, 0x20));
    assert!(ds.sem_otime > 0);
    assert_eq!(me.semctl(0, 0, SEM_STAT, semun::Buf(&mut ds)).unwrap(), id);
    ds.sem_perm.mode = 0o640;
    me.semctl(id, 0, IPC_SET, semun::Buf(&mut ds)).unwrap();
    me.semctl(id, 0, IPC_STAT, semun::Buf(&mut ds)).unwrap();
    assert_eq!(ds.sem_perm.mode, 0o640);
    // IPC_INFO and SEM_INFO
    let mut info = seminfo::default();
    assert_eq!(me.semctl(0, 0, IPC_INFO, semun::Info(&mut info)).unwrap(), 0);
    assert_eq!(
        info,
        seminfo {
            semmap: 1024000000,
            semmni: 32000,
            semmns: 1024000000,
            semmnu: 1024000000,
            semmsl: 32000,
            semopm: 500,
            semume: 500,
            semusz: 20,
            semvmx: 32767,
            semaem: 32767
        }
    );
    me.semctl(0, 0, SEM_INFO, semun::Info(&mut info)).unwrap();
    assert_eq!((info.semusz, info.semaem), (1, 3));
    // a wrong arg variant: EINVAL where the kernel would touch the pointer
    assert_eq!(errno(me.semctl(id, 0, IPC_STAT, semun::None)), 22);
    assert_eq!(errno(me.semctl(id, 0, SETVAL, semun::None)), 22);
    me.semctl(id, 0, IPC_RMID, semun::None).unwrap();
    assert_eq!(errno(me.semctl(id, 0, GETVAL, semun::None)), 22);
}

#[tokio::test]
async fn sem_undo_through_the_c_layer_is_applied_at_exit() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(0, 0));
    let id = owner.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap();
    let worker = ns.process(Credentials::new(0, 0).with_pid(9));
    worker.semop(id, &[sembuf { sem_num: 0, sem_op: 5, sem_flg: SEM_UNDO }], 1).await.unwrap();
    assert_eq!(owner.semctl(id, 0, GETVAL, semun::None).unwrap(), 5);
    drop(worker);
    assert_eq!(owner.semctl(id, 0, GETVAL, semun::None).unwrap(), 0);
    assert_eq!(owner.semctl(id, 0, GETPID, semun::None).unwrap(), 9);
}

#[test]
fn shared_memory_every_command() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000).with_pid(3));
    let id = me.shmget(0x30, 100, IPC_CREAT | 0o600 | SHM_NORESERVE).unwrap();
    assert_eq!(errno(me.shmget(0x30, 101, 0)), 22, "larger than the segment");
    let rw = me.shmat(id, 0, 0).unwrap();
    rw.writable().unwrap().write_at(0, b"hi").unwrap();
    let ro = me.shmat(id, 0, SHM_RDONLY).unwrap();
    let mut two = [0u8; 2];
    ro.attached().read_at(0, &mut two).unwrap();
    assert_eq!(&two, b"hi");
    let mut ds = shmid_ds::default();
    me.shmctl(id, IPC_STAT, ShmctlBuf::Ds(&mut ds)).unwrap();
    assert_eq!((ds.shm_segsz, ds.shm_nattch, ds.shm_cpid, ds.shm_lpid), (100, 2, 3, 3));
    me.shmdt(ro).unwrap();
    me.shmctl(id, SHM_LOCK, ShmctlBuf::Null).unwrap();
    assert_eq!(me.shmctl(0, SHM_STAT, ShmctlBuf::Ds(&mut ds)).unwrap(), id);
    assert_eq!(ds.shm_nattch, 1);
    assert_ne!(ds.shm_perm.mode & SHM_LOCKED, 0);
    me.shmctl(id, SHM_UNLOCK, ShmctlBuf::Null).unwrap();
    let mut info = shm_info::default();
    assert_eq!(me.shmctl(0, SHM_INFO, ShmctlBuf::ShmInfo(&mut info)).unwrap(), 0);
    assert_eq!((info.used_ids, info.shm_tot, info.shm_rss, info.shm_swp), (1, 1, 1, 0));
    let mut limits = shminfo::default();
    me.shmctl(0, IPC_INFO, ShmctlBuf::Info(&mut limits)).unwrap();
    assert_eq!((limits.shmmin, limits.shmmni, limits.shmseg), (1, 4096, 4096));
    // IPC_RMID while attached: SHM_DEST, key private, the id lives until the detach
    me.shmctl(id, IPC_RMID, ShmctlBuf::Null).unwrap();
    me.shmctl(id, IPC_STAT, ShmctlBuf::Ds(&mut ds)).unwrap();
    assert_eq!((ds.shm_perm.mode & SHM_DEST, ds.shm_perm.__key), (SHM_DEST, 0));
    drop(rw);
    assert_eq!(errno(me.shmctl(id, IPC_STAT, ShmctlBuf::Ds(&mut ds))), 22);
    assert_eq!(errno(me.shmctl(id, 77, ShmctlBuf::Null)), 22);
}

#[test]
fn next_id_gives_the_c_layer_its_id() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    ns.set_next_id(IpcKind::MessageQueue, 2 << 15 | 9).unwrap();
    assert_eq!(me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap(), 2 << 15 | 9);
    assert_eq!(ns.next_id(IpcKind::MessageQueue), -1);
    assert_eq!(me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap(), 0, "the cyclic cursor did not move");
    ns.set_next_id(IpcKind::SharedMemory, 4).unwrap();
    assert_eq!(me.shmget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap(), 4);
    assert_eq!(ns.set_next_id(IpcKind::SemaphoreSet, -2).unwrap_err().errno(), 22);
    // a failed semget (nsems 0) does not get as far as the id: the setting stays
    ns.set_next_id(IpcKind::SemaphoreSet, 6).unwrap();
    assert_eq!(errno(me.semget(IPC_PRIVATE, 0, IPC_CREAT | 0o600)), 22);
    assert_eq!(ns.next_id(IpcKind::SemaphoreSet), 6);
    assert_eq!(me.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap(), 6);
}

#[tokio::test]
async fn poll_once_then_drop_every_future() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    // a receive that waits, dropped: the message sent afterwards is still there
    let mut buf = [0u8; 4];
    let mut rcv = me.msgrcv(q, &mut buf, 4, 0, 0);
    assert!(pending(&mut rcv).await);
    drop(rcv);
    me.msgsnd(q, 1, b"ok", 2, 0).await.unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(me.msgrcv(q, &mut buf, 4, 0, IPC_NOWAIT).await.unwrap(), (1, 2));
    // a send that waits for room, dropped: nothing sent
    let mut ds = msqid_ds::default();
    me.msgctl(q, IPC_STAT, MsgctlBuf::Ds(&mut ds)).unwrap();
    ds.msg_qbytes = 0;
    me.msgctl(q, IPC_SET, MsgctlBuf::Ds(&mut ds)).unwrap();
    let mut snd = me.msgsnd(q, 1, b"x", 1, 0);
    assert!(pending(&mut snd).await);
    drop(snd);
    me.msgctl(q, IPC_STAT, MsgctlBuf::Ds(&mut ds)).unwrap();
    assert_eq!(ds.msg_qnum, 0);
    // a semop that waits, dropped: the value is as before
    let s = me.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap();
    let take = [sembuf { sem_num: 0, sem_op: -1, sem_flg: SEM_UNDO }];
    let mut op = me.semop(s, &take, 1);
    assert!(pending(&mut op).await);
    assert_eq!(me.semctl(s, 0, GETNCNT, semun::None).unwrap(), 1);
    drop(op);
    assert_eq!(me.semctl(s, 0, GETNCNT, semun::None).unwrap(), 0);
    let ts = timespec { tv_sec: 10, tv_nsec: 0 };
    let mut timed = me.semtimedop(s, &take, 1, Some(&ts));
    assert!(pending(&mut timed).await);
    drop(timed);
    assert_eq!(me.semctl(s, 0, GETNCNT, semun::None).unwrap(), 0);
}

#[tokio::test]
async fn polled_after_completion_answers_einval() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    let mut snd = me.msgsnd(q, 1, b"x", 1, 0);
    (&mut snd).await.unwrap();
    assert_eq!(errno((&mut snd).await), 22);
    let mut ds = msqid_ds::default();
    me.msgctl(q, IPC_STAT, MsgctlBuf::Ds(&mut ds)).unwrap();
    assert_eq!(ds.msg_qnum, 1, "sent once");
}

#[test]
fn futures_and_guards_are_send() {
    fn send<T: Send>(_: &T) {}
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let buf = [0u8; 1];
    let f = me.msgsnd(1, 1, &buf, 1, 0);
    send(&f);
    let s = me.shmget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap();
    send(&me.shmat(s, 0, 0).unwrap());
}
