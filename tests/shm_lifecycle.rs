//! Attach, detach and `IPC_RMID`: the field updates of docs/kernel-rules.md §4 (`do_shmat`,
//! `shm_close`, `do_shm_rmid`) and its `shmctl` rules — remove while attached, the key made
//! private, attach / stat / set / a second remove by id on an `SHM_DEST` segment,
//! destruction at the last detach, `EINVAL` afterwards, and the pages given back.
//! Provenance: ipc/shm.c; shmctl(2) "IPC_RMID"; LTP shmctl01, shmdt01, shmat01.
//!
//! Runs under miri (`scripts/miri.sh`): no FFI, no `Credentials::current`, no `mlock`.

use svipc::shm::ShmidDs;
use svipc::{Capabilities, Credentials, IpcKind, Key, Namespace, Op, Process};

const EINVAL: i32 = 22;
const EPERM: i32 = 1;

fn user(ns: &Namespace, uid: u32, gid: u32) -> Process {
    ns.process(Credentials::new(uid, gid).with_pid(uid as i32))
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let seg = me.shm_segment(Key::new(3)).size(16).create(0o600).open().unwrap();
    let g = seg.attach().unwrap();
    seg.remove().unwrap();
    assert!(seg.stat().unwrap().is_dest());
    drop(g);
    assert_eq!(seg.stat().unwrap_err().errno(), EINVAL);
}

#[test]
fn attach_and_detach_update_nattch_times_and_lpid() {
    let ns = Namespace::new();
    let creator = ns.process(Credentials::new(1000, 1000).with_pid(10));
    let a = ns.process(Credentials::new(1000, 1000).with_pid(20));
    let b = ns.process(Credentials::new(1000, 1000).with_pid(30));
    let seg = creator.shm_segment(Key::new(9)).size(64).create(0o600).open().unwrap();
    let ctime = seg.stat().unwrap().shm_ctime;
    let seg_a = a.shm_segment_by_id(seg.id()).unwrap();
    let seg_b = b.shm_segment_by_id(seg.id()).unwrap();

    let ga = seg_a.attach().unwrap();
    let ds = seg.stat().unwrap();
    assert_eq!((ds.shm_nattch, ds.shm_lpid, ds.shm_cpid, ds.shm_dtime), (1, 20, 10, 0));
    assert!(ds.shm_atime >= ctime);
    assert_eq!(ds.shm_ctime, ctime, "attach does not touch ctime");

    let gb = seg_b.attach_read_only().unwrap();
    let ds = seg.stat().unwrap();
    assert_eq!((ds.shm_nattch, ds.shm_lpid), (2, 30));
    assert_eq!(ns.ipcs().entries()[0].figures, svipc::Figures::SharedMemory { bytes: 64, nattch: 2 });

    drop(ga); // shmdt by a
    let ds = seg.stat().unwrap();
    assert_eq!((ds.shm_nattch, ds.shm_lpid), (1, 20));
    assert!(ds.shm_dtime >= ds.shm_atime);
    drop(gb);
    let ds = seg.stat().unwrap();
    assert_eq!((ds.shm_nattch, ds.shm_lpid), (0, 30));
    // not removed: detaching to 0 destroys nothing
    assert!(seg.attach().is_ok());
}

#[test]
fn remove_without_guards_destroys_at_once() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let key = Key::new(0x99);
    let seg = me.shm_segment(key).size(4096).create(0o600).open().unwrap();
    let clone = seg.clone();
    assert_eq!(ns.shm_info().used_ids, 1);
    seg.remove().unwrap();
    assert_eq!((ns.shm_info().used_ids, ns.shm_info().shm_tot), (0, 0));
    // the id is dead for every handle and every call
    for err in [
        clone.stat().unwrap_err(),
        clone.attach().unwrap_err(),
        clone.attach_read_only().unwrap_err(),
        clone.set(1000, 1000, 0o600).unwrap_err(),
        clone.remove().unwrap_err(),
        me.shm_segment_by_id(seg.id()).unwrap_err(),
        me.remove(IpcKind::SharedMemory, seg.id()).unwrap_err(),
    ] {
        assert_eq!(err.errno(), EINVAL, "{err}");
    }
    // the key is free again
    let fresh = me.shm_segment(key).size(1).create(0o600).exclusive().open().unwrap();
    assert_ne!(fresh.id(), seg.id());
}

#[test]
fn remove_while_attached_marks_dest_and_makes_the_key_private() {
    let ns = Namespace::new();
    let owner = user(&ns, 1000, 1000);
    let key = Key::new(0x5e9);
    let seg = owner.shm_segment(key).size(100).create(0o660).open().unwrap();
    let g = seg.attach().unwrap();
    g.write_at(0, b"still here").unwrap();
    seg.remove().unwrap();

    let ds = seg.stat().unwrap();
    assert_eq!(ds.shm_perm.mode, 0o660 | ShmidDs::SHM_DEST);
    assert!(ds.is_dest());
    assert_eq!(ds.shm_perm.key, Key::PRIVATE, "the key reads 0 once marked");
    assert_eq!(ds.shm_nattch, 1);
    // the key no longer finds it: without IPC_CREAT ENOENT, with it a new segment
    assert_eq!(owner.shm_segment(key).open().unwrap_err().errno(), 2);
    let newer = owner.shm_segment(key).size(10).create(0o600).exclusive().open().unwrap();
    assert_ne!(newer.id(), seg.id());
    assert_eq!(newer.stat().unwrap().shm_perm.key, key);
    // the listing shows the marked segment with key 0
    let listed: Vec<_> = ns.ipcs().entries().iter().map(|e| (e.id, e.perm.key)).collect();
    assert_eq!(listed, vec![(seg.id(), Key::PRIVATE), (newer.id(), key)]);

    // the id stays valid: attach by id (Linux allows it), stat, set, a second remove
    let by_id = owner.shm_segment_by_id(seg.id()).unwrap();
    let g2 = by_id.attach_read_only().unwrap();
    assert_eq!(&g2.read()[..10], b"still here");
    assert_eq!(by_id.stat().unwrap().shm_nattch, 2);
    by_id.set(1000, 1000, 0o640).unwrap();
    assert_eq!(by_id.stat().unwrap().shm_perm.mode, 0o640 | ShmidDs::SHM_DEST, "IPC_SET keeps SHM_DEST");
    by_id.remove().unwrap();
    owner.remove(IpcKind::SharedMemory, seg.id()).unwrap();
    assert_eq!(seg.stat().unwrap().shm_nattch, 2);

    // the last detach destroys it: id dead, pages back
    let tot_before = ns.shm_info().shm_tot;
    drop(g);
    assert_eq!(seg.stat().unwrap().shm_nattch, 1, "one guard left: still alive");
    drop(g2);
    assert_eq!(ns.shm_info().shm_tot, tot_before - 1, "its one page is freed");
    assert_eq!(ns.shm_info().used_ids, 1);
    for err in [seg.stat().unwrap_err(), by_id.attach().unwrap_err(), seg.remove().unwrap_err()] {
        assert_eq!(err.errno(), EINVAL);
    }
    assert_eq!(owner.shm_segment_by_id(seg.id()).unwrap_err().errno(), EINVAL);
    // the newer segment under the old key is untouched
    assert_eq!(owner.shm_segment(key).open().unwrap().id(), newer.id());
}

#[test]
fn remove_and_set_need_the_owner_creator_or_cap_sys_admin() {
    let ns = Namespace::new();
    let owner = user(&ns, 1000, 1000);
    let seg = owner.shm_segment(Key::new(4)).size(8).create(0).open().unwrap();
    let stranger = user(&ns, 2000, 1000).shm_segment_by_id(seg.id()).unwrap();
    let err = stranger.remove().unwrap_err();
    assert_eq!((err.errno(), err.op()), (EPERM, Op::ShmCtl));
    assert_eq!(stranger.set(2000, 2000, 0o777).unwrap_err().errno(), EPERM);
    // EPERM comes before the uid check
    assert_eq!(stranger.set(u32::MAX, 0, 0).unwrap_err().errno(), EPERM);
    // the owner needs no mode bits; an unmappable uid or gid is EINVAL
    assert_eq!(seg.set(u32::MAX, 1000, 0o600).unwrap_err().errno(), EINVAL);
    assert_eq!(seg.set(1000, u32::MAX, 0o600).unwrap_err().errno(), EINVAL);
    // IPC_SET hands the segment away; the creator keeps control through cuid
    seg.set(3000, 3000, 0o7604).unwrap();
    // the creator is still in the owner class: owner bits 6 let it stat
    let p = seg.stat().unwrap().shm_perm;
    assert_eq!((p.uid, p.gid, p.cuid, p.cgid, p.mode), (3000, 3000, 1000, 1000, 0o604));
    let new_owner = user(&ns, 3000, 5).shm_segment_by_id(seg.id()).unwrap();
    new_owner.set(3000, 3000, 0o600).unwrap();
    // CAP_SYS_ADMIN may remove what it does not own
    let admin = ns.process(Credentials::new(4000, 4000).with_capabilities(Capabilities::SYS_ADMIN));
    admin.shm_segment_by_id(seg.id()).unwrap().remove().unwrap();
    assert_eq!(seg.stat().unwrap_err().errno(), EINVAL);
}

#[test]
fn set_updates_ctime_and_keeps_high_bits() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open().unwrap();
    let before = seg.stat().unwrap();
    seg.set(1000, 1000, 0o640).unwrap();
    let after = seg.stat().unwrap();
    assert!(after.shm_ctime >= before.shm_ctime);
    assert_eq!(after.shm_perm.mode, 0o640);
    let _g = seg.attach().unwrap();
    seg.remove().unwrap();
    seg.set(1000, 1000, 0o7777).unwrap();
    assert_eq!(seg.stat().unwrap().shm_perm.mode, 0o777 | ShmidDs::SHM_DEST);
}

#[test]
fn a_guard_keeps_the_memory_and_its_process_alive() {
    let ns = Namespace::new();
    let guard = {
        let me = user(&ns, 1000, 1000);
        let seg = me.shm_segment(Key::PRIVATE).size(32).create(0o600).open().unwrap();
        let guard = seg.attach().unwrap();
        seg.remove().unwrap();
        guard
        // the process and every handle are dropped here; the guard holds them
    };
    guard.write_at(31, &[7]).unwrap();
    assert_eq!(guard.read()[31], 7);
    assert_eq!(guard.segment().stat().unwrap().shm_nattch, 1);
    assert_eq!(ns.shm_info().used_ids, 1);
    drop(guard);
    assert_eq!((ns.shm_info().used_ids, ns.shm_info().shm_tot), (0, 0));
}

#[test]
fn racing_last_detach_and_attach_by_id_destroy_exactly_once() {
    let rounds = if cfg!(miri) { 4 } else { 200 };
    for _ in 0..rounds {
        let ns = Namespace::new();
        let me = user(&ns, 1000, 1000);
        let seg = me.shm_segment(Key::new(1)).size(8).create(0o600).open().unwrap();
        let guard = seg.attach().unwrap();
        seg.remove().unwrap();
        let by_id = me.shm_segment_by_id(seg.id()).unwrap();
        let late = std::thread::scope(|s| {
            let t = s.spawn(move || by_id.attach());
            drop(guard);
            t.join().unwrap()
        });
        match late {
            // the attach came first: the segment lives until this guard drops
            Ok(g) => {
                assert_eq!(seg.stat().unwrap().shm_nattch, 1);
                assert_eq!(ns.shm_info().used_ids, 1);
                drop(g);
            }
            // the last detach came first: destroyed, the id dead
            Err(e) => assert_eq!(e.errno(), EINVAL),
        }
        assert_eq!((ns.shm_info().used_ids, ns.shm_info().shm_tot), (0, 0));
        assert_eq!(seg.stat().unwrap_err().errno(), EINVAL);
    }
}
