//! The C-shaped layer's checks in the kernel's order, above all those the kernel makes
//! before it looks the id up. Each row was run against Linux 6.18 in a fresh IPC namespace
//! (a C probe of the same calls; `tests/kernel_diff.rs` keeps comparing the ones it can
//! drive) and the errno here is what the kernel answered.
#![cfg(not(loom))]

use svipc::c::*;
use svipc::{Credentials, Namespace, Process};

const EINVAL: i32 = 22;
const E2BIG: i32 = 7;
const ERANGE: i32 = 34;
const EACCES: i32 = 13;
const EFBIG: i32 = 27;
const ENOMSG: i32 = 42;
const EEXIST: i32 = 17;
const ENOENT: i32 = 2;

fn user(ns: &Namespace) -> Process {
    ns.process(Credentials::new(1000, 1000))
}

fn errno<T: std::fmt::Debug>(r: Result<T, svipc::Error>) -> i32 {
    r.unwrap_err().errno()
}

#[tokio::test]
async fn smoke() {
    let ns = Namespace::new();
    let me = user(&ns);
    // 501 sops: E2BIG even on id -1 and on an id nobody holds
    let sops = vec![sembuf { sem_num: 0, sem_op: 1, sem_flg: 0 }; 501];
    assert_eq!(errno(me.semop(-1, &sops, 501).await), E2BIG);
    assert_eq!(errno(me.semop(5, &sops, 501).await), E2BIG);
}

#[tokio::test]
async fn semop_and_semtimedop_before_the_lookup() {
    let ns = Namespace::new();
    let me = user(&ns);
    let one = [sembuf { sem_num: 0, sem_op: 1, sem_flg: 0 }];
    let bad_ts = timespec { tv_sec: 0, tv_nsec: -1 };
    assert_eq!(errno(me.semop(5, &one, 0).await), EINVAL, "nsops 0");
    assert_eq!(errno(me.semop(-1, &one, 1).await), EINVAL, "negative id");
    assert_eq!(errno(me.semtimedop(5, &one, 1, Some(&bad_ts)).await), EINVAL, "bad timespec");
    let many = vec![one[0]; 501];
    assert_eq!(errno(me.semtimedop(5, &many, 501, Some(&bad_ts)).await), E2BIG, "E2BIG before the timespec");
    // a bad timespec is EINVAL before the lookup, where a good one reaches EFBIG
    let set = me.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap();
    let far = [sembuf { sem_num: 3, sem_op: 1, sem_flg: 0 }];
    assert_eq!(errno(me.semtimedop(set, &far, 1, Some(&bad_ts)).await), EINVAL);
    let ts = timespec { tv_sec: 0, tv_nsec: 1_000_000_000 };
    assert_eq!(errno(me.semtimedop(set, &far, 1, Some(&ts)).await), EINVAL, "tv_nsec 1e9");
    let ts = timespec { tv_sec: -1, tv_nsec: 0 };
    assert_eq!(errno(me.semtimedop(set, &far, 1, Some(&ts)).await), EINVAL, "tv_sec < 0");
    let ts = timespec { tv_sec: 1, tv_nsec: 0 };
    assert_eq!(errno(me.semtimedop(set, &far, 1, Some(&ts)).await), EFBIG);
    // sops shorter than nsops: EINVAL (C: EFAULT) before the lookup
    assert_eq!(errno(me.semop(12345, &one, 2).await), EINVAL);
    // then the lookup: a stale id
    assert_eq!(errno(me.semop(12345, &one, 1).await), EINVAL);
}

#[test]
fn semctl_before_the_lookup() {
    let ns = Namespace::new();
    let me = user(&ns);
    assert_eq!(errno(me.semctl(5, 0, SETVAL, semun::Val(40000))), ERANGE, "SETVAL range on a stale id");
    assert_eq!(errno(me.semctl(5, 0, SETVAL, semun::Val(-1))), ERANGE);
    assert_eq!(errno(me.semctl(-1, 0, SETVAL, semun::Val(40000))), EINVAL, "semid < 0 first");
    assert_eq!(errno(me.semctl(5, 0, 99, semun::None)), EINVAL, "unknown command");
    assert_eq!(errno(me.semctl(-1, 0, IPC_INFO, semun::None)), EINVAL, "IPC_INFO with semid < 0");
    assert_eq!(errno(me.semctl(0, 0, SEM_STAT, semun::None)), EINVAL, "empty slot");
    assert_eq!(errno(me.semctl(5, 0, IPC_STAT | IPC_64, semun::None)), EINVAL, "IPC_64 is no command here");
    // after the lookup: GETVAL's semnum is checked after the permission
    let owner = ns.process(Credentials::new(1, 1));
    let id = owner.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600).unwrap();
    assert_eq!(errno(me.semctl(id, 7, GETVAL, semun::None)), EACCES);
    assert_eq!(errno(owner.semctl(id, 7, GETVAL, semun::None)), EINVAL);
    assert_eq!(errno(owner.semctl(id, -1, GETVAL, semun::None)), EINVAL);
    // SETVAL: semnum (EINVAL) before the permission
    assert_eq!(errno(me.semctl(id, 7, SETVAL, semun::Val(1))), EINVAL);
    assert_eq!(errno(me.semctl(id, 0, SETVAL, semun::Val(1))), EACCES);
    // SETALL: the permission before the array
    assert_eq!(errno(me.semctl(id, 0, SETALL, semun::Array(&mut []))), EACCES);
    assert_eq!(errno(owner.semctl(id, 0, SETALL, semun::Array(&mut []))), EINVAL, "short array");
    assert_eq!(errno(owner.semctl(id, 0, SETALL, semun::Array(&mut [40000]))), ERANGE);
}

#[test]
fn semget_nsems() {
    let ns = Namespace::new();
    let me = user(&ns);
    assert_eq!(errno(me.semget(IPC_PRIVATE, -1, IPC_CREAT | 0o600)), EINVAL);
    assert_eq!(errno(me.semget(IPC_PRIVATE, 0, IPC_CREAT | 0o600)), EINVAL);
    assert_eq!(errno(me.semget(IPC_PRIVATE, 32001, IPC_CREAT | 0o600)), EINVAL);
    // nsems out of range before the key's lookup: ENOENT does not win
    assert_eq!(errno(me.semget(77, -1, 0)), EINVAL);
    assert_eq!(errno(me.semget(77, 1, 0)), ENOENT);
    me.semget(77, 2, IPC_CREAT | 0o600).unwrap();
    assert_eq!(errno(me.semget(77, 2, IPC_CREAT | IPC_EXCL | 0o600)), EEXIST);
    assert_eq!(errno(me.semget(77, 3, 0)), EINVAL, "more than the set has");
    assert!(me.semget(77, 0, 0).is_ok(), "0 asks nothing of an existing set");
}

#[tokio::test]
async fn msgsnd_before_the_lookup() {
    let ns = Namespace::new();
    let me = user(&ns);
    let big = vec![0u8; 9000];
    assert_eq!(errno(me.msgsnd(5, 1, &big, 9000, 0).await), EINVAL, "msgsz > MSGMAX");
    assert_eq!(errno(me.msgsnd(5, 1, &big, usize::MAX, 0).await), EINVAL, "(size_t)-1");
    assert_eq!(errno(me.msgsnd(5, 0, b"x", 1, 0).await), EINVAL, "mtype 0");
    assert_eq!(errno(me.msgsnd(-1, 0, b"x", 1, 0).await), EINVAL);
    assert_eq!(errno(me.msgsnd(5, 1, b"x", 2, 0).await), EINVAL, "mtext shorter than msgsz");
    let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    let guest = ns.process(Credentials::new(2000, 2000));
    assert_eq!(errno(guest.msgsnd(id, 0, b"x", 1, 0).await), EINVAL, "mtype before the permission");
    assert_eq!(errno(guest.msgsnd(id, 1, b"x", 1, 0).await), EACCES);
}

#[tokio::test]
async fn msgrcv_before_the_lookup() {
    let ns = Namespace::new();
    let me = user(&ns);
    let mut buf = [0u8; 8];
    assert_eq!(errno(me.msgrcv(5, &mut buf, 8, 0, MSG_COPY).await), EINVAL, "MSG_COPY without IPC_NOWAIT");
    assert_eq!(
        errno(me.msgrcv(5, &mut buf, 8, 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT).await),
        EINVAL,
        "MSG_COPY with MSG_EXCEPT"
    );
    assert_eq!(errno(me.msgrcv(-1, &mut buf, 8, 0, MSG_COPY).await), EINVAL);
    assert_eq!(errno(me.msgrcv(5, &mut buf, usize::MAX, 0, 0).await), EINVAL, "(size_t)-1");
    assert_eq!(errno(me.msgrcv(5, &mut buf, 9, 0, 0).await), EINVAL, "buffer shorter than msgsz");
    // MSG_COPY's checks come before the lookup, so they beat a live queue's ENOMSG
    let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    assert_eq!(errno(me.msgrcv(id, &mut buf, 8, 0, MSG_COPY).await), EINVAL);
    assert_eq!(errno(me.msgrcv(id, &mut buf, 8, 0, MSG_COPY | IPC_NOWAIT).await), ENOMSG);
    let guest = ns.process(Credentials::new(2000, 2000));
    assert_eq!(errno(guest.msgrcv(id, &mut buf, 8, 0, IPC_NOWAIT).await), EACCES, "EACCES before ENOMSG");
}

#[test]
fn ctl_commands_before_the_lookup() {
    let ns = Namespace::new();
    let me = user(&ns);
    assert_eq!(errno(me.msgctl(-1, MSG_STAT, MsgctlBuf::Null)), EINVAL);
    assert_eq!(errno(me.msgctl(-1, IPC_INFO, MsgctlBuf::Null)), EINVAL);
    assert_eq!(errno(me.msgctl(0, IPC_STAT | IPC_64, MsgctlBuf::Null)), EINVAL);
    assert_eq!(errno(me.msgctl(5, 99, MsgctlBuf::Null)), EINVAL);
    assert_eq!(errno(me.msgctl(5, -1, MsgctlBuf::Null)), EINVAL);
    assert_eq!(errno(me.shmctl(-1, SHM_INFO, ShmctlBuf::Null)), EINVAL);
    assert_eq!(errno(me.shmctl(0, -1, ShmctlBuf::Null)), EINVAL);
    // a buffer that does not fit the command: EINVAL where the kernel would touch it, so a
    // stale id is found out first
    assert_eq!(errno(me.msgctl(5, IPC_STAT, MsgctlBuf::Null)), EINVAL);
    let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
    let guest = ns.process(Credentials::new(2000, 2000));
    assert_eq!(errno(guest.msgctl(id, IPC_STAT, MsgctlBuf::Null)), EACCES, "EACCES before the buffer");
    assert_eq!(errno(me.msgctl(id, IPC_STAT, MsgctlBuf::Null)), EINVAL);
}

#[test]
fn shmat_flag_words() {
    let ns = Namespace::new();
    let me = user(&ns);
    let id = me.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600).unwrap();
    assert_eq!(errno(me.shmat(id, 0, SHM_REMAP)), EINVAL, "SHM_REMAP without an address");
    assert_eq!(errno(me.shmat(-1, 0, 0)), EINVAL);
    assert_eq!(errno(me.shmat(id, 0x1001, 0)), EINVAL, "misaligned without SHM_RND");
    assert_eq!(errno(me.shmat(id, 0x1001, SHM_RND)), EINVAL, "an address svipc cannot honour");
    assert_eq!(errno(me.shmat(id, 1, SHM_RND | SHM_REMAP)), EINVAL, "rounded to 0 with SHM_REMAP");
    // SHM_EXEC asks for an x bit: 0600 has none for the owner
    assert_eq!(errno(me.shmat(id, 0, SHM_EXEC)), EACCES);
    let x = me.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o700).unwrap();
    let guard = me.shmat(x, 0, SHM_EXEC | SHM_RDONLY).unwrap();
    assert!(guard.writable().is_none());
    // root (CAP_IPC_OWNER) may, as the kernel let the probe's root attach 0600 with SHM_EXEC
    let root = ns.process(Credentials::new(0, 0));
    assert!(root.shmat(id, 0, SHM_EXEC).is_ok());
    // (size_t)-1: EINVAL
    assert_eq!(errno(me.shmget(IPC_PRIVATE, usize::MAX, IPC_CREAT | 0o600)), EINVAL);
}

#[test]
fn ipc_private_creates_without_ipc_creat_and_flag_bits_beyond_the_mode_are_ignored() {
    let ns = Namespace::new();
    let me = user(&ns);
    // as the kernel: IPC_PRIVATE always creates; bits above 0o777 and the flags the call
    // does not know change nothing
    let q = me.msgget(IPC_PRIVATE, 0o600).unwrap();
    let s = me.semget(IPC_PRIVATE, 1, 0o600 | IPC_NOWAIT).unwrap();
    let m = me.shmget(IPC_PRIVATE, 10, 0o600 | SHM_HUGETLB | SHM_NORESERVE).unwrap();
    assert_eq!((q, s, m), (0, 0, 0));
    assert_eq!(me.msgget(IPC_PRIVATE, 0o600).unwrap(), 1, "a new one each time");
}
