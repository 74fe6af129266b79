//! `kernel.shm_rmid_forced` (`Namespace::set_shm_rmid_forced`), the kernel's
//! `shm_may_destroy`, `exit_shm` and `shm_destroy_orphaned`: with the setting, the last
//! detach destroys any segment, a creator's exit destroys its unattached segments, and
//! switching it on destroys the unattached orphans. Without it, segments outlive their
//! creator. Driven through the C layer, checked through both layers. The same rules are
//! compared with the kernel's, exits included, by `model_props`
//! (`shm_rmid_forced_in_the_kernel`, `shm_rmid_forced_and_exits_in_the_kernel`) and with
//! the C layer's `shmdt` by `c_kernel_diff`.
#![cfg(not(loom))]

use svipc::c::*;
use svipc::{Credentials, Key, Namespace};

const EINVAL: i32 = 22;

fn alive(ns: &Namespace, id: i32) -> bool {
    let root = ns.process(Credentials::new(0, 0));
    match root.shmctl(id, IPC_STAT, ShmctlBuf::Ds(&mut shmid_ds::default())) {
        Ok(_) => true,
        Err(e) if e.errno() == EINVAL => false,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    assert!(!ns.shm_rmid_forced());
    let me = ns.process(Credentials::new(1000, 1000));
    let id = me.shmget(IPC_PRIVATE, 10, IPC_CREAT | 0o600).unwrap();
    drop(me);
    assert!(alive(&ns, id), "default: a segment outlives its creator");
}

#[test]
fn last_detach_destroys_any_segment_while_set() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let kept = me.shmget(0x77, 10, IPC_CREAT | 0o600).unwrap();
    let g = me.shmat(kept, 0, 0).unwrap();
    drop(g);
    assert!(alive(&ns, kept), "not set: the last detach keeps it");
    ns.set_shm_rmid_forced(true);
    let g = me.shmat(kept, 0, 0).unwrap();
    let g2 = me.shmat(kept, 0, SHM_RDONLY).unwrap();
    drop(g);
    assert!(alive(&ns, kept), "still attached");
    me.shmdt(g2).unwrap();
    assert!(!alive(&ns, kept), "the last detach destroyed it, without IPC_RMID");
    assert_eq!(me.shmget(0x77, 0, 0).unwrap_err().errno(), 2, "its key is gone too (ENOENT)");
    assert!(me.shm_segment_by_id(kept).is_err());
}

#[test]
fn creator_exit_destroys_its_unattached_segments_and_orphans_the_rest() {
    let ns = Namespace::new();
    ns.set_shm_rmid_forced(true);
    let creator = ns.process(Credentials::new(1000, 1000));
    let other = ns.process(Credentials::new(0, 0));
    let lonely = creator.shmget(IPC_PRIVATE, 10, IPC_CREAT | 0o600).unwrap();
    let shared = creator.shmget(0x5, 10, IPC_CREAT | 0o600).unwrap();
    let guard = other.shmat(shared, 0, 0).unwrap();
    let not_mine = other.shmget(IPC_PRIVATE, 10, IPC_CREAT | 0o600).unwrap();
    drop(creator);
    assert!(!alive(&ns, lonely), "unattached: destroyed at the creator's exit");
    assert!(alive(&ns, shared), "attached: an orphan, alive");
    assert!(alive(&ns, not_mine), "another creator's segment is untouched");
    drop(guard);
    assert!(!alive(&ns, shared), "its last detach destroys the orphan");
}

#[test]
fn switching_on_destroys_the_unattached_orphans_then() {
    let ns = Namespace::new();
    let creator = ns.process(Credentials::new(1000, 1000));
    let other = ns.process(Credentials::new(0, 0));
    let orphan = creator.shmget(IPC_PRIVATE, 10, IPC_CREAT | 0o600).unwrap();
    let attached_orphan = creator.shmget(IPC_PRIVATE, 10, IPC_CREAT | 0o600).unwrap();
    let guard = other.shmat(attached_orphan, 0, 0).unwrap();
    let live_creator = other.shm_segment(Key::PRIVATE).size(10).create(0o600).open().unwrap();
    drop(creator); // not set: both live on as orphans
    assert!(alive(&ns, orphan) && alive(&ns, attached_orphan));
    ns.set_shm_rmid_forced(true);
    assert!(!alive(&ns, orphan), "an unattached orphan goes when the setting goes on");
    assert!(alive(&ns, attached_orphan), "an attached one stays");
    assert!(alive(&ns, live_creator.id()), "a segment whose creator lives is no orphan");
    assert_eq!(ns.shm_info().used_ids, 2);
    // setting it again changes nothing; switching it off keeps segments on detach
    ns.set_shm_rmid_forced(false);
    drop(guard);
    assert!(alive(&ns, attached_orphan));
}
