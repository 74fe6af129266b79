//! semget, semop and semctl: every errno path and field update of docs/kernel-rules.md §3, with the
//! kernel's check order.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

use svipc::{Credentials, ErrorKind, Key, Namespace, Op, Process, SemOp, SemaphoreSet};

fn root(ns: &Namespace) -> Process {
    ns.process(Credentials::new(0, 0).with_pid(100))
}

fn set_of(p: &Process, nsems: u16) -> SemaphoreSet {
    p.sem_set(Key::PRIVATE).create(0o600).nsems(nsems).open().unwrap()
}

fn kind<T: std::fmt::Debug>(r: Result<T, svipc::Error>) -> ErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 2);
    set.try_semop(&[SemOp::new(0, 2), SemOp::new(1, 1)]).unwrap();
    set.try_semop(&[SemOp::new(0, -1)]).unwrap();
    assert_eq!(set.get_all().unwrap(), [1, 1]);
}

// ===== semget =====

#[test]
fn semget_nsems_rules() {
    let ns = Namespace::new();
    let p = root(&ns);
    let mut l = ns.limits();
    l.semmsl = 4;
    ns.set_limits(l).unwrap();
    // nsems 0 on create is EINVAL, IPC_PRIVATE included
    let e = p.sem_set(Key::PRIVATE).create(0o600).open().unwrap_err();
    assert_eq!((e.kind(), e.op()), (ErrorKind::InvalidArgument, Op::SemGet));
    assert_eq!(kind(p.sem_set(Key::new(1)).create(0o600).nsems(0).open()), ErrorKind::InvalidArgument);
    // above SEMMSL
    assert_eq!(kind(p.sem_set(Key::new(1)).create(0o600).nsems(5).open()), ErrorKind::InvalidArgument);
    let set = p.sem_set(Key::new(1)).create(0o600).nsems(3).open().unwrap();
    // above SEMMSL is EINVAL before the lookup, even for an existing key
    assert_eq!(kind(p.sem_set(Key::new(1)).nsems(5).open()), ErrorKind::InvalidArgument);
    // an existing set smaller than asked: EINVAL, before EACCES
    let other = ns.process(Credentials::new(5, 5));
    assert_eq!(kind(other.sem_set(Key::new(1)).mode(0o400).nsems(4).open()), ErrorKind::InvalidArgument);
    assert_eq!(kind(other.sem_set(Key::new(1)).mode(0o400).nsems(3).open()), ErrorKind::PermissionDenied);
    // 0 means don't care
    assert_eq!(p.sem_set(Key::new(1)).open().unwrap().id(), set.id());
    assert_eq!(p.sem_set(Key::new(1)).nsems(2).open().unwrap().nsems(), 3);
    // not found, exists
    assert_eq!(kind(p.sem_set(Key::new(2)).nsems(1).open()), ErrorKind::NotFound);
    assert_eq!(
        kind(p.sem_set(Key::new(1)).create(0o600).exclusive().nsems(1).open()),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn semget_enospc_semmns_and_semmni() {
    let ns = Namespace::new();
    let p = root(&ns);
    let mut l = ns.limits();
    (l.semmns, l.semmni) = (5, 3);
    ns.set_limits(l).unwrap();
    set_of(&p, 3);
    assert_eq!(kind(p.sem_set(Key::PRIVATE).create(0o600).nsems(3).open()), ErrorKind::NoSpace);
    set_of(&p, 1);
    set_of(&p, 1);
    assert_eq!(kind(p.sem_set(Key::PRIVATE).create(0o600).nsems(0).open()), ErrorKind::InvalidArgument);
    assert_eq!(kind(p.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()), ErrorKind::NoSpace);
    let info = ns.sem_info();
    assert_eq!((info.semusz, info.semaem, info.max_index, info.semmns, info.semmni), (3, 5, 2, 5, 3));
}

#[test]
fn new_set_starts_at_zero_with_fresh_times() {
    let ns = Namespace::new();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let set = root(&ns).sem_set(Key::new(9)).create(0o640).nsems(3).open().unwrap();
    assert_eq!(set.get_all().unwrap(), [0, 0, 0]);
    let ds = set.stat().unwrap();
    assert_eq!((ds.otime, ds.nsems, ds.perm.mode, ds.perm.key), (0, 3, 0o640, Key::new(9)));
    // The `*_time` fields come from the coarse realtime clock (`ktime_get_real_seconds`'s
    // kind), which lags `SystemTime` by up to a scheduler tick: across a second's boundary
    // the stamp may still read the second before.
    assert!(ds.ctime >= before - 1 && ds.ctime <= before + 60, "ctime {} against {before}", ds.ctime);
    for n in 0..3 {
        assert_eq!(set.get_pid(n).unwrap(), 0);
        assert_eq!(set.get_ncnt(n).unwrap(), 0);
        assert_eq!(set.get_zcnt(n).unwrap(), 0);
    }
    let by_id = root(&ns).sem_set_by_id(set.id()).unwrap();
    assert_eq!(by_id.nsems(), 3);
    assert_eq!(kind(root(&ns).sem_set_by_id(set.id() + 1)), ErrorKind::InvalidArgument);
}

// ===== semop check order =====

#[test]
fn e2big_comes_first_then_einval() {
    let ns = Namespace::new();
    let p = root(&ns);
    let mut l = ns.limits();
    l.semopm = 2;
    ns.set_limits(l).unwrap();
    let set = set_of(&p, 1);
    let three = [SemOp::new(0, 1), SemOp::new(5, 1), SemOp::new(0, 1)];
    let e = set.try_semop(&three).unwrap_err();
    assert_eq!((e.kind(), e.op(), e.errno()), (ErrorKind::TooBig, Op::SemOp, 7));
    assert_eq!(kind(set.try_semop(&[])), ErrorKind::InvalidArgument);
    set.remove().unwrap();
    // E2BIG even on a removed set; then EINVAL
    assert_eq!(kind(set.try_semop(&three)), ErrorKind::TooBig);
    assert_eq!(kind(set.try_semop(&[SemOp::new(0, 1)])), ErrorKind::InvalidArgument);
    assert_eq!(kind(set.try_semop(&[SemOp::new(7, 1)])), ErrorKind::InvalidArgument, "EINVAL before EFBIG");
}

#[test]
fn efbig_before_eacces() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 2);
    let stranger = ns.process(Credentials::new(7, 7));
    let theirs = stranger.sem_set_by_id(set.id()).unwrap();
    let e = theirs.try_semop(&[SemOp::new(0, 1), SemOp::new(2, 1)]).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::FileTooBig, 27));
    // sem_num is unsigned short: "-1" is 65535
    assert_eq!(kind(theirs.try_semop(&[SemOp::new(u16::MAX, 0)])), ErrorKind::FileTooBig);
    assert_eq!(kind(theirs.try_semop(&[SemOp::new(1, 1)])), ErrorKind::PermissionDenied);
    assert_eq!(kind(theirs.try_semop(&[SemOp::new(1, 0)])), ErrorKind::PermissionDenied);
}

#[test]
fn erange_for_semvmx_and_first_failing_sop_decides() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 2);
    set.set_val(0, 32767).unwrap();
    let e = set.try_semop(&[SemOp::new(0, 1)]).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::OutOfRange, 34));
    // first sop would block (sem 1 is 0), second ERANGE: blocking decides -> EAGAIN (nowait)
    assert_eq!(kind(set.try_semop(&[SemOp::new(1, -1), SemOp::new(0, 1)])), ErrorKind::WouldBlock);
    // first sop ERANGE, second would block: ERANGE
    assert_eq!(kind(set.try_semop(&[SemOp::new(0, 1), SemOp::new(1, -1)])), ErrorKind::OutOfRange);
    // nothing was changed by any failure
    assert_eq!(set.get_all().unwrap(), [32767, 0]);
    // a repeated sem_num sees the earlier result: -1 then +2 fits, +2 then -1 does not
    set.try_semop(&[SemOp::new(0, -1), SemOp::new(0, 1)]).unwrap();
    assert_eq!(kind(set.try_semop(&[SemOp::new(0, 1), SemOp::new(0, -1)])), ErrorKind::OutOfRange);
    set.try_semop(&[SemOp::new(1, 2), SemOp::new(1, -2), SemOp::new(1, 0)]).unwrap();
    assert_eq!(set.get_all().unwrap(), [32767, 0]);
}

#[tokio::test]
async fn nowait_only_counts_on_the_blocking_sop() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 2);
    // NOWAIT on the second sop, the first blocks: the call sleeps
    let ops = [SemOp::new(0, -1), SemOp::new(1, 0).nowait()];
    let mut fut = Box::pin(set.semop(&ops));
    assert!(futures::poll!(fut.as_mut()).is_pending());
    assert_eq!(set.get_ncnt(0).unwrap(), 1);
    drop(fut);
    // NOWAIT on the blocking sop: EAGAIN
    let e = set.semop(&[SemOp::new(1, 0), SemOp::new(0, -1).nowait()]).await.unwrap_err();
    assert!(e.is_would_block() && !e.is_timeout());
    assert_eq!(set.get_ncnt(0).unwrap(), 0);
}

#[test]
fn sempid_on_every_named_semaphore_and_otime_on_wait_for_zero() {
    let ns = Namespace::new();
    let p = ns.process(Credentials::new(0, 0).with_pid(4242));
    let set = set_of(&p, 3);
    assert_eq!(set.stat().unwrap().otime, 0);
    // a pure wait-for-zero call updates sem_otime and sempid
    set.try_semop(&[SemOp::new(2, 0)]).unwrap();
    assert!(set.stat().unwrap().otime > 0);
    assert_eq!(set.get_pid(2).unwrap(), 4242);
    assert_eq!(set.get_pid(0).unwrap(), 0);
    let q = ns.process(Credentials::new(0, 0).with_pid(77)).sem_set_by_id(set.id()).unwrap();
    q.try_semop(&[SemOp::new(0, 1), SemOp::new(1, 0), SemOp::new(2, 0)]).unwrap();
    assert_eq!([q.get_pid(0).unwrap(), q.get_pid(1).unwrap(), q.get_pid(2).unwrap()], [77; 3]);
    // a failing call changes no pid
    assert!(set.try_semop(&[SemOp::new(1, 1), SemOp::new(0, -5)]).is_err());
    assert_eq!(set.get_pid(1).unwrap(), 77);
}

// ===== semctl =====

#[test]
fn setval_erange_before_lookup_and_get_order() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 1);
    assert_eq!(kind(set.set_val(0, u16::MAX)), ErrorKind::OutOfRange);
    assert_eq!(kind(set.set_val(0, 32768)), ErrorKind::OutOfRange);
    assert_eq!(kind(set.set_val(1, 1)), ErrorKind::InvalidArgument);
    let stranger = ns.process(Credentials::new(9, 9)).sem_set_by_id(set.id()).unwrap();
    // SETVAL: semnum EINVAL before EACCES; GET*: EACCES before semnum EINVAL
    assert_eq!(kind(stranger.set_val(1, 1)), ErrorKind::InvalidArgument);
    assert_eq!(kind(stranger.set_val(0, 1)), ErrorKind::PermissionDenied);
    assert_eq!(kind(stranger.get_val(5)), ErrorKind::PermissionDenied);
    assert_eq!(kind(set.get_val(5)), ErrorKind::InvalidArgument);
    assert_eq!(kind(set.get_pid(1)), ErrorKind::InvalidArgument);
    assert_eq!(kind(set.get_ncnt(1)), ErrorKind::InvalidArgument);
    assert_eq!(kind(set.get_zcnt(1)), ErrorKind::InvalidArgument);
    set.remove().unwrap();
    let e = set.set_val(0, 32768).unwrap_err();
    assert_eq!((e.kind(), e.op()), (ErrorKind::OutOfRange, Op::SemCtl), "ERANGE before the lookup");
    for r in [set.set_val(0, 1), set.get_val(0).map(|_| ()), set.set_all(&[1]), set.remove()] {
        assert_eq!(kind(r), ErrorKind::InvalidArgument);
    }
    assert_eq!(kind(set.stat()), ErrorKind::InvalidArgument);
    assert_eq!(kind(set.get_all()), ErrorKind::InvalidArgument);
    assert_eq!(kind(set.set(0, 0, 0o600)), ErrorKind::InvalidArgument);
}

#[test]
fn setval_and_setall_fields() {
    let ns = Namespace::new();
    let p = ns.process(Credentials::new(0, 0).with_pid(31));
    let set = set_of(&p, 3);
    set.set_val(1, 5).unwrap();
    assert_eq!(set.get_val(1).unwrap(), 5);
    assert_eq!((set.get_pid(1).unwrap(), set.get_pid(0).unwrap()), (31, 0));
    assert_eq!(set.stat().unwrap().otime, 0, "a plain SETVAL leaves sem_otime");
    assert!(set.stat().unwrap().ctime > 0);
    // SETALL: EACCES before ERANGE, ERANGE above SEMVMX, all pids
    let stranger = ns.process(Credentials::new(9, 9)).sem_set_by_id(set.id()).unwrap();
    assert_eq!(kind(stranger.set_all(&[40000, 0, 0])), ErrorKind::PermissionDenied);
    assert_eq!(kind(set.set_all(&[40000, 0, 0])), ErrorKind::OutOfRange);
    assert_eq!(kind(set.set_all(&[1, 2])), ErrorKind::InvalidArgument);
    let q = ns.process(Credentials::new(0, 0).with_pid(32)).sem_set_by_id(set.id()).unwrap();
    q.set_all(&[1, 2, 3]).unwrap();
    assert_eq!(set.get_all().unwrap(), [1, 2, 3]);
    assert_eq!([set.get_pid(0).unwrap(), set.get_pid(1).unwrap(), set.get_pid(2).unwrap()], [32; 3]);
    assert_eq!(set.stat().unwrap().otime, 0);
}

#[tokio::test]
async fn setval_that_completes_a_waiter_sets_otime() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 1);
    let ops = [SemOp::new(0, -1)];
    let mut fut = Box::pin(set.semop(&ops));
    assert!(futures::poll!(fut.as_mut()).is_pending());
    assert_eq!(set.stat().unwrap().otime, 0);
    set.set_val(0, 1).unwrap();
    assert!(set.stat().unwrap().otime > 0);
    fut.await.unwrap();
    assert_eq!(set.get_val(0).unwrap(), 0);
}

#[test]
fn ipc_set_and_rmid_permissions() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 1000));
    let set = owner.sem_set(Key::new(3)).create(0o600).nsems(1).open().unwrap();
    let stranger = ns.process(Credentials::new(2000, 2000)).sem_set_by_id(set.id()).unwrap();
    assert_eq!(kind(stranger.set(2000, 2000, 0o666)), ErrorKind::NotPermitted);
    assert_eq!(kind(stranger.remove()), ErrorKind::NotPermitted);
    assert_eq!(kind(set.set(u32::MAX, 1000, 0o600)), ErrorKind::InvalidArgument);
    set.set(2000, 2000, 0o1640).unwrap();
    let ds = set.stat().unwrap();
    assert_eq!((ds.perm.uid, ds.perm.gid, ds.perm.mode, ds.perm.cuid), (2000, 2000, 0o640, 1000));
    // the new owner may now remove it; the creator kept control too
    stranger.remove().unwrap();
    assert_eq!(kind(set.remove()), ErrorKind::InvalidArgument);
    assert!(ns.ipcs().is_empty());
    assert_eq!(ns.sem_info().semusz, 0);
}

#[tokio::test]
async fn rmid_fails_waiters_with_eidrm_and_later_calls_with_einval() {
    let ns = Namespace::new();
    let set = set_of(&root(&ns), 2);
    let a = [SemOp::new(0, -1)];
    let b = [SemOp::new(0, -1), SemOp::new(1, 0)];
    let z = [SemOp::new(1, 0)];
    set.set_val(1, 1).unwrap();
    let mut fa = Box::pin(set.semop(&a));
    let mut fb = Box::pin(set.semop(&b));
    let mut fz = Box::pin(set.semop(&z));
    for f in [&mut fa, &mut fb, &mut fz] {
        assert!(futures::poll!(f.as_mut()).is_pending());
    }
    set.remove().unwrap();
    for f in [fa, fb, fz] {
        let e = f.await.unwrap_err();
        assert!(e.is_removed());
        assert_eq!(e.errno(), 43);
    }
    assert_eq!(kind(set.semop(&a).await), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn ipc_set_does_not_recheck_sleepers() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 1000));
    let set = owner.sem_set(Key::PRIVATE).create(0o666).nsems(1).open().unwrap();
    let guest = ns.process(Credentials::new(2000, 2000)).sem_set_by_id(set.id()).unwrap();
    let ops = [SemOp::new(0, -1)];
    let mut f = Box::pin(guest.semop(&ops));
    assert!(futures::poll!(f.as_mut()).is_pending());
    let before = set.stat().unwrap().ctime;
    set.set(1000, 1000, 0o600).unwrap(); // the guest loses all access
    assert!(set.stat().unwrap().ctime >= before);
    assert_eq!(kind(guest.try_semop(&ops)), ErrorKind::PermissionDenied);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    f.await.unwrap(); // kept its entry-time permission
    assert_eq!(set.get_val(0).unwrap(), 0);
}
