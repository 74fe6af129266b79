//! The permission matrix of the semaphore calls (ipcperms: owner/creator, then group via
//! gid, cgid or a supplementary group, then other; CAP_IPC_OWNER), alter vs read.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

use svipc::{Capabilities, Credentials, ErrorKind, Key, Namespace, SemOp, SemaphoreSet};

/// What a caller may do: (wait for zero / GETVAL / IPC_STAT = read, semop +1 / SETVAL = alter).
fn rights(set: &SemaphoreSet) -> (bool, bool) {
    let read = set.try_semop(&[SemOp::new(0, 0)]).is_ok();
    assert_eq!(read, set.get_val(0).is_ok());
    assert_eq!(read, set.stat().is_ok());
    assert_eq!(read, set.get_all().is_ok());
    let alter = set.try_semop(&[SemOp::new(0, 1), SemOp::new(0, -1)]).is_ok();
    assert_eq!(alter, set.set_val(0, 0).is_ok());
    for r in [set.try_semop(&[SemOp::new(0, 1)]).and_then(|()| set.try_semop(&[SemOp::new(0, -1)]))] {
        if !alter {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::PermissionDenied);
        }
    }
    (read, alter)
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 100));
    let set = owner.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
    assert_eq!(rights(&set), (true, true));
}

#[test]
fn matrix() {
    let ns = Namespace::new();
    let creator = ns.process(Credentials::new(1000, 100));
    let set = creator.sem_set(Key::new(1)).create(0o600).nsems(1).open().unwrap();
    // owner 2000:200 after IPC_SET, creator stays 1000:100
    set.set(2000, 200, 0o640).unwrap();
    let id = set.id();
    let as_ = |c: Credentials| ns.process(c).sem_set_by_id(id).unwrap();
    let cases: Vec<(&str, Credentials, (bool, bool))> = vec![
        ("creator", Credentials::new(1000, 999), (true, true)),
        ("owner", Credentials::new(2000, 999), (true, true)),
        ("group via gid", Credentials::new(3000, 200), (true, false)),
        ("group via cgid", Credentials::new(3000, 100), (true, false)),
        ("group via supplementary", Credentials::new(3000, 999).with_groups([5, 200]), (true, false)),
        ("other", Credentials::new(3000, 999), (false, false)),
        (
            "root without CAP_IPC_OWNER",
            Credentials::new(0, 0).with_capabilities(Capabilities::NONE),
            (false, false),
        ),
        (
            "CAP_IPC_OWNER",
            Credentials::new(3000, 999).with_capabilities(Capabilities::IPC_OWNER),
            (true, true),
        ),
        ("root", Credentials::new(0, 0), (true, true)),
    ];
    for (name, creds, want) in cases {
        assert_eq!(rights(&as_(creds)), want, "{name}");
    }
    // no fall-through: an owner whose owner bits deny is denied even where others may
    set.set(2000, 200, 0o066).unwrap();
    assert_eq!(rights(&as_(Credentials::new(2000, 999))), (false, false), "owner, mode 066");
    assert_eq!(rights(&as_(Credentials::new(3000, 999))), (true, true), "other, mode 066");
}

#[test]
fn a_read_only_user_may_wait_for_zero_but_not_alter() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 100));
    let set = owner.sem_set(Key::new(2)).create(0o644).nsems(2).open().unwrap();
    let reader = ns.process(Credentials::new(5000, 500)).sem_set(Key::new(2)).mode(0o444).open().unwrap();
    reader.try_semop(&[SemOp::new(0, 0), SemOp::new(1, 0)]).unwrap();
    for ops in [[SemOp::new(0, 1)], [SemOp::new(0, -1)]] {
        assert_eq!(reader.try_semop(&ops).unwrap_err().kind(), ErrorKind::PermissionDenied);
    }
    // one altering op among zero-waits needs alter permission
    let e = reader.try_semop(&[SemOp::new(0, 0), SemOp::new(1, 1)]).unwrap_err();
    assert_eq!(e.errno(), 13);
    assert_eq!(reader.set_all(&[1, 1]).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(reader.acquire(0, 1).into_inner_err(), ErrorKind::PermissionDenied);
    assert_eq!(set.get_all().unwrap(), [0, 0]);
    // opening with a write request fails
    let e = ns.process(Credentials::new(5000, 500)).sem_set(Key::new(2)).mode(0o222).open().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

trait IntoInnerErr {
    fn into_inner_err(self) -> ErrorKind;
}

impl IntoInnerErr for svipc::sem::AcquireFuture<'_> {
    fn into_inner_err(self) -> ErrorKind {
        futures::executor::block_on(self).unwrap_err().kind()
    }
}

#[test]
fn one_handle_sees_every_ipc_set_at_its_next_semop() {
    // A handle remembers which of its semop checks passed, and at which permission version:
    // each IPC_SET below (from another handle of another process, the owner) changes what
    // the same handle's next semop may do.
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(1000, 100));
    let set = owner.sem_set(Key::new(7)).create(0o666).nsems(1).open().unwrap();
    let other = ns.process(Credentials::new(2000, 200)).sem_set_by_id(set.id()).unwrap();
    assert_eq!(rights(&other), (true, true));
    set.set(1000, 100, 0o664).unwrap(); // other: read only
    assert_eq!(other.try_semop(&[SemOp::new(0, 1)]).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(rights(&other), (true, false));
    set.set(1000, 100, 0o660).unwrap(); // other: nothing
    assert_eq!(other.try_semop(&[SemOp::new(0, 0)]).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(rights(&other), (false, false));
    set.set(1000, 100, 0o662).unwrap(); // other: alter only
    assert_eq!(other.try_semop(&[SemOp::new(0, 1)]), Ok(()));
    assert_eq!(other.try_semop(&[SemOp::new(0, 0)]).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(set.get_val(0).unwrap(), 1);
    set.set(1000, 100, 0o666).unwrap();
    set.set_val(0, 0).unwrap();
    let copy = other.clone(); // a clone starts from the same memo, and sees the same changes
    assert_eq!(rights(&copy), (true, true));
    set.set(1000, 100, 0o600).unwrap();
    assert_eq!(copy.try_semop(&[SemOp::new(0, -1)]).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(other.try_semop(&[SemOp::new(0, -1)]).unwrap_err().kind(), ErrorKind::PermissionDenied);
}
