//! Who may do what to a segment: the `ipcperms` matrix over every caller class (owner,
//! creator, group by gid, by cgid, by a supplementary group, other; `CAP_IPC_OWNER` on and
//! off) for `shmat` (read-write and `SHM_RDONLY`), `IPC_STAT` and `shmget`'s requested mode;
//! and `SHM_LOCK` / `SHM_UNLOCK` (owner, creator or `CAP_IPC_LOCK`, else `EPERM`).
//! Provenance: ipc/util.c `ipcperms`; ipc/shm.c `do_shmat` (read for `SHM_RDONLY`, read and
//! write otherwise), `shmctl_do_lock`; docs/kernel-rules.md §1 and §4; LTP shmat02 (EACCES),
//! shmctl02 (EPERM), shmctl07/08.

use svipc::shm::ShmidDs;
use svipc::{Capabilities, Credentials, ErrorKind, Key, Namespace, Op, Process};

const EACCES: i32 = 13;
const EPERM: i32 = 1;
const EINVAL: i32 = 22;

#[test]
fn smoke() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o400).open().unwrap();
    assert!(seg.attach_read_only().is_ok());
    let err = seg.attach().unwrap_err();
    assert_eq!((err.errno(), err.op()), (EACCES, Op::ShmAt));
}

/// The segment's owner is uid 10 / gid 20, its creator uid 11 / gid 21.
const OWNER: u32 = 10;
const OWNER_GID: u32 = 20;
const CREATOR: u32 = 11;
const CREATOR_GID: u32 = 21;

#[derive(Clone, Copy, Debug)]
enum Class {
    Owner,
    Creator,
    GroupByGid,
    GroupByCgid,
    Supplementary,
    Other,
}

fn caller(class: Class) -> Credentials {
    match class {
        Class::Owner => Credentials::new(OWNER, 99),
        Class::Creator => Credentials::new(CREATOR, 99),
        Class::GroupByGid => Credentials::new(50, OWNER_GID),
        Class::GroupByCgid => Credentials::new(50, CREATOR_GID),
        Class::Supplementary => Credentials::new(50, 99).with_groups([5, CREATOR_GID, 6]),
        Class::Other => Credentials::new(50, 99),
    }
}

/// The triplet `ipcperms` grants the class: no fall-through.
fn triplet(class: Class, mode: u32) -> u32 {
    match class {
        Class::Owner | Class::Creator => (mode >> 6) & 7,
        Class::GroupByGid | Class::GroupByCgid | Class::Supplementary => (mode >> 3) & 7,
        Class::Other => mode & 7,
    }
}

/// A segment created by CREATOR with `mode`, then handed to OWNER by `IPC_SET`.
fn segment(ns: &Namespace, key: i32, mode: u32) -> svipc::Segment {
    let creator = ns.process(Credentials::new(CREATOR, CREATOR_GID));
    let seg = creator.shm_segment(Key::new(key)).size(64).create(mode).exclusive().open().unwrap();
    seg.set(OWNER, OWNER_GID, mode).unwrap();
    seg
}

fn errno<T>(r: Result<T, svipc::Error>) -> i32 {
    r.map_or_else(|e| e.errno(), |_| 0)
}

#[test]
fn eacces_matrix() {
    let ns = Namespace::new();
    let classes = [
        Class::Owner,
        Class::Creator,
        Class::GroupByGid,
        Class::GroupByCgid,
        Class::Supplementary,
        Class::Other,
    ];
    let modes = [0o000, 0o400, 0o600, 0o200, 0o040, 0o060, 0o004, 0o006, 0o066, 0o606, 0o660, 0o777, 0o477];
    for (i, &mode) in modes.iter().enumerate() {
        let key = 100 + i as i32;
        let seg = segment(&ns, key, mode);
        for class in classes {
            for ipc_owner in [false, true] {
                let mut creds = caller(class);
                if ipc_owner {
                    creds = creds.with_capabilities(Capabilities::IPC_OWNER);
                }
                let p: Process = ns.process(creds);
                let t = triplet(class, mode);
                let read = ipc_owner || t & 4 != 0;
                let read_write = ipc_owner || t & 6 == 6;
                let want = |ok: bool| if ok { 0 } else { EACCES };
                let ctx = format!("mode {mode:03o} {class:?} CAP_IPC_OWNER={ipc_owner}");
                let theirs = p.shm_segment_by_id(seg.id()).unwrap();
                assert_eq!(errno(theirs.attach_read_only()), want(read), "shmat(SHM_RDONLY) {ctx}");
                assert_eq!(errno(theirs.attach()), want(read_write), "shmat {ctx}");
                assert_eq!(errno(theirs.stat()), want(read), "IPC_STAT {ctx}");
                // shmget's mode is the access requested: 0400 read, 0600 read+write, 0 nothing
                assert_eq!(
                    errno(p.shm_segment(Key::new(key)).mode(0o400).open()),
                    want(read),
                    "shmget 0400 {ctx}"
                );
                assert_eq!(
                    errno(p.shm_segment(Key::new(key)).mode(0o004).open()),
                    want(read),
                    "shmget 0004 {ctx}"
                );
                assert_eq!(
                    errno(p.shm_segment(Key::new(key)).mode(0o600).open()),
                    want(read_write),
                    "shmget 0600 {ctx}"
                );
                assert_eq!(errno(p.shm_segment(Key::new(key)).open()), 0, "shmget 0 {ctx}");
            }
        }
        // every guard above was dropped again: every attach was matched by a detach
        let root = ns.process(Credentials::new(0, 0));
        assert_eq!(root.shm_segment_by_id(seg.id()).unwrap().stat().unwrap().shm_nattch, 0);
    }
}

#[test]
fn root_without_cap_ipc_owner_is_checked_like_anyone() {
    let ns = Namespace::new();
    let seg = segment(&ns, 1, 0o604);
    let root = ns.process(
        Credentials::new(0, 0).with_capabilities(Capabilities::ALL.without(Capabilities::IPC_OWNER)),
    );
    let theirs = root.shm_segment_by_id(seg.id()).unwrap();
    assert!(theirs.attach_read_only().is_ok(), "other bits 4");
    assert_eq!(errno(theirs.attach()), EACCES);
    let full_root = ns.process(Credentials::new(0, 0));
    assert!(full_root.shm_segment_by_id(seg.id()).unwrap().attach().is_ok());
}

#[test]
fn permission_is_checked_at_each_attach() {
    let ns = Namespace::new();
    let seg = segment(&ns, 2, 0o644);
    let reader = ns.process(Credentials::new(50, 99));
    let theirs = reader.shm_segment_by_id(seg.id()).unwrap();
    let g = theirs.attach_read_only().unwrap();
    // IPC_SET to mode 0600: an existing attachment stays (as a mapping does), a new one is refused
    let owner = ns.process(Credentials::new(OWNER, OWNER_GID));
    owner.shm_segment_by_id(seg.id()).unwrap().set(OWNER, OWNER_GID, 0o600).unwrap();
    assert_eq!(g.read().len(), 64);
    assert_eq!(errno(theirs.attach_read_only()), EACCES);
    drop(g);
}

#[test]
#[cfg_attr(miri, ignore = "SHM_LOCK calls mlock(2), which miri cannot run")]
fn shm_lock_owner_creator_or_cap_ipc_lock() {
    let ns = Namespace::new();
    // mode 0: SHM_LOCK needs no read permission
    let seg = segment(&ns, 3, 0);
    let ctime = seg.stat().unwrap_err(); // the creator has owner bits 0
    assert_eq!(ctime.errno(), EACCES);
    let root = ns.process(Credentials::new(0, 0));
    let by_root = root.shm_segment_by_id(seg.id()).unwrap();
    let ctime = by_root.stat().unwrap().shm_ctime;

    let cases: [(&str, Credentials, i32); 6] = [
        ("owner", Credentials::new(OWNER, 1), 0),
        ("creator", Credentials::new(CREATOR, 1), 0),
        ("group member", Credentials::new(50, OWNER_GID), EPERM),
        ("other", Credentials::new(50, 99), EPERM),
        ("other with CAP_IPC_LOCK", Credentials::new(50, 99).with_capabilities(Capabilities::IPC_LOCK), 0),
        (
            "root without CAP_IPC_LOCK",
            Credentials::new(0, 0).with_capabilities(Capabilities::ALL.without(Capabilities::IPC_LOCK)),
            EPERM,
        ),
    ];
    for (who, creds, want) in cases {
        let theirs = ns.process(creds).shm_segment_by_id(seg.id()).unwrap();
        let lock = theirs.lock();
        assert_eq!(errno(lock), want, "SHM_LOCK by {who}");
        if want == 0 {
            let ds = by_root.stat().unwrap();
            assert!(ds.is_locked(), "{who}");
            assert_eq!(ds.shm_perm.mode, ShmidDs::SHM_LOCKED);
            assert_eq!(ds.shm_ctime, ctime, "SHM_LOCK does not touch ctime");
            theirs.lock().unwrap(); // locking twice is fine
        }
        assert_eq!(errno(theirs.unlock()), want, "SHM_UNLOCK by {who}");
        assert!(!by_root.stat().unwrap().is_locked(), "{who}");
        if want == 0 {
            theirs.unlock().unwrap(); // unlocking an unlocked segment is fine
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "SHM_LOCK calls mlock(2), which miri cannot run")]
fn shm_locked_survives_set_and_rmid_and_goes_with_the_segment() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let seg = me.shm_segment(Key::PRIVATE).size(100).create(0o600).open().unwrap();
    seg.lock().unwrap();
    let g = seg.attach().unwrap();
    seg.set(1000, 1000, 0o640).unwrap();
    seg.remove().unwrap();
    let ds = seg.stat().unwrap();
    assert_eq!(ds.shm_perm.mode, 0o640 | ShmidDs::SHM_DEST | ShmidDs::SHM_LOCKED);
    assert!(ds.is_dest() && ds.is_locked());
    drop(g);
    let err = seg.lock().unwrap_err();
    assert_eq!((err.kind(), err.op()), (ErrorKind::InvalidArgument, Op::ShmCtl));
    assert_eq!(errno(seg.unlock()), EINVAL);
}
