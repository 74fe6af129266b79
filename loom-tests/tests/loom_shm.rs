//! Loom models of the shared-memory life cycle, driven through the public API: the last
//! detach of a segment marked `SHM_DEST` racing an attach by id, two last detaches racing,
//! and `IPC_RMID` racing the last detach. In every interleaving the segment is destroyed
//! exactly once (its id leaves the table, its pages leave `shm_tot`), never while attached.
#![cfg(loom)]

use loom::thread;
use svipc::{Credentials, Key, Namespace, Process};

fn setup() -> (Namespace, Process) {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000).with_pid(1));
    (ns, me)
}

fn gone(ns: &Namespace) -> bool {
    let info = ns.shm_info();
    info.used_ids == 0 && info.shm_tot == 0
}

/// After `IPC_RMID`, the last guard drops while another thread attaches by id: either the
/// attach came first (it succeeds and the segment lives until that guard drops) or it finds
/// the segment destroyed (`EINVAL`).
#[test]
fn last_detach_races_attach_by_id() {
    loom::model(|| {
        let (ns, me) = setup();
        let seg = me.shm_segment(Key::new(1)).size(8).create(0o600).open().unwrap();
        let guard = seg.attach().unwrap();
        seg.remove().unwrap();
        let by_id = me.shm_segment_by_id(seg.id()).unwrap();
        let t = thread::spawn(move || by_id.attach_read_only());
        drop(guard);
        match t.join().unwrap() {
            Ok(late) => {
                assert_eq!(seg.stat().unwrap().shm_nattch, 1);
                assert!(!gone(&ns), "destroyed while attached");
                drop(late);
            }
            Err(e) => assert_eq!(e.errno(), 22),
        }
        assert!(gone(&ns));
        assert_eq!(seg.stat().unwrap_err().errno(), 22);
    });
}

/// Two guards of a removed segment drop at once: one of them destroys it, once.
#[test]
fn two_last_detaches() {
    loom::model(|| {
        let (ns, me) = setup();
        let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open().unwrap();
        let a = seg.attach().unwrap();
        let b = seg.attach_read_only().unwrap();
        seg.remove().unwrap();
        let t = thread::spawn(move || drop(a));
        drop(b);
        t.join().unwrap();
        assert!(gone(&ns));
        assert_eq!(seg.attach().unwrap_err().errno(), 22);
    });
}

/// `IPC_RMID` races the last detach of a segment not yet removed: removed at once or marked
/// and destroyed by the detach; either way destroyed by the end, and a second `IPC_RMID`
/// then gets `EINVAL`.
#[test]
fn rmid_races_last_detach() {
    loom::model(|| {
        let (ns, me) = setup();
        let seg = me.shm_segment(Key::new(2)).size(8).create(0o600).open().unwrap();
        let guard = seg.attach().unwrap();
        let remover = seg.clone();
        let t = thread::spawn(move || remover.remove());
        drop(guard);
        t.join().unwrap().unwrap();
        assert!(gone(&ns));
        assert_eq!(seg.remove().unwrap_err().errno(), 22);
    });
}

/// With `shm_rmid_forced` set, a creator's exit (`exit_shm`) races another process's attach
/// by id: either the attach came first (the segment lives on, an orphan, until that guard's
/// detach destroys it) or the exit destroyed it first (the attach gets `EINVAL`). Never
/// destroyed while attached; destroyed once in the end.
#[test]
fn forced_creator_exit_races_attach() {
    loom::model(|| {
        let ns = Namespace::new();
        ns.set_shm_rmid_forced(true);
        let creator = ns.process(Credentials::new(1000, 1000).with_pid(1));
        let other = ns.process(Credentials::new(1000, 1000).with_pid(2));
        let id = creator.shm_segment(Key::PRIVATE).size(8).create(0o600).open().unwrap().id();
        let by_id = other.shm_segment_by_id(id).unwrap();
        drop(other);
        let t = thread::spawn(move || by_id.attach().map(|g| (g, by_id.clone())));
        drop(creator); // its last clone: the process exits
        match t.join().unwrap() {
            Ok((g, seg)) => {
                assert!(!gone(&ns), "destroyed while attached");
                assert_eq!(seg.stat().unwrap().shm_nattch, 1);
                drop(g);
            }
            Err(e) => assert_eq!(e.errno(), 22),
        }
        assert!(gone(&ns));
    });
}
