//! `shmget` through `Process::shm_segment`: every errno path of docs/kernel-rules.md §4 ("shmget")
//! and §5 with exact errno values, the initial `shmid_ds`, the unrounded `shm_segsz`, the
//! limits (SHMMIN, SHMMAX, SHMALL in pages, SHMMNI) and `SHM_INFO` / `IPC_INFO`.
//! Provenance: ipc/shm.c `newseg`, `shm_more_checks`, `ksys_shmget`; LTP shmget02/03/04,
//! shmat01 (segsz 4 stays 4); shmget(2).

use svipc::{Credentials, ErrorKind, IpcKind, Key, Limits, Namespace, Op, Process};

const EINVAL: i32 = 22;
const ENOENT: i32 = 2;
const EEXIST: i32 = 17;
const EACCES: i32 = 13;
const ENOSPC: i32 = 28;
const ENOMEM: i32 = 12;

fn user(ns: &Namespace, uid: u32, gid: u32) -> Process {
    ns.process(Credentials::new(uid, gid).with_pid(uid as i32))
}

fn page() -> usize {
    // SAFETY: sysconf takes a constant name and touches no memory of ours.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let seg = me.shm_segment(Key::PRIVATE).size(100).create(0o600).open().unwrap();
    let g = seg.attach().unwrap();
    g.write_at(0, b"x").unwrap();
    assert_eq!(g.read()[0], b'x');
}

#[test]
fn size_limits_on_create() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    // size 0 < SHMMIN (1): EINVAL, for a private key and for a new public one
    let err = me.shm_segment(Key::PRIVATE).size(0).create(0o600).open().unwrap_err();
    assert_eq!((err.errno(), err.op()), (EINVAL, Op::ShmGet));
    assert_eq!(me.shm_segment(Key::new(1)).create(0o600).open().unwrap_err().errno(), EINVAL);
    let mut limits = ns.limits();
    limits.shmmin = 10;
    limits.shmmax = 100;
    ns.set_limits(limits).unwrap();
    assert_eq!(me.shm_segment(Key::PRIVATE).size(9).create(0o600).open().unwrap_err().errno(), EINVAL);
    assert_eq!(me.shm_segment(Key::PRIVATE).size(101).create(0o600).open().unwrap_err().errno(), EINVAL);
    assert_eq!(me.shm_segment(Key::PRIVATE).size(10).create(0o600).open().unwrap().size(), 10);
    assert_eq!(me.shm_segment(Key::PRIVATE).size(100).create(0o600).open().unwrap().size(), 100);
    // the failures left nothing behind: only the two segments made (a dropped handle does
    // not remove its segment, as closing a shmid does not in C)
    assert_eq!(ns.shm_info().used_ids, 2);
}

#[test]
fn shmall_counts_pages_and_shmmni_counts_segments() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let p = page();
    let mut limits = ns.limits();
    limits.shmall = 3;
    limits.shmmni = 3;
    ns.set_limits(limits).unwrap();
    // p + 1 bytes take two pages
    let a = me.shm_segment(Key::PRIVATE).size(p + 1).create(0o600).open().unwrap();
    assert_eq!(ns.shm_info().shm_tot, 2);
    let err = me.shm_segment(Key::PRIVATE).size(p + 1).create(0o600).open().unwrap_err();
    assert_eq!(err.errno(), ENOSPC, "2 + 2 pages > SHMALL 3");
    let b = me.shm_segment(Key::PRIVATE).size(1).create(0o600).open().unwrap();
    assert_eq!(ns.shm_info().shm_tot, 3);
    assert_eq!(me.shm_segment(Key::PRIVATE).size(1).create(0o600).open().unwrap_err().errno(), ENOSPC);
    // SHMMNI: with room in pages, the third segment is fine, the fourth is not
    limits.shmall = 100;
    ns.set_limits(limits).unwrap();
    let c = me.shm_segment(Key::PRIVATE).size(1).create(0o600).open().unwrap();
    assert_eq!(me.shm_segment(Key::PRIVATE).size(1).create(0o600).open().unwrap_err().errno(), ENOSPC);
    // removing one frees its pages and its slot
    a.remove().unwrap();
    assert_eq!(ns.shm_info().shm_tot, 2);
    assert!(me.shm_segment(Key::PRIVATE).size(1).create(0o600).open().is_ok());
    drop((b, c));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "miri serves mmap from its own heap: the 2^60-byte mapping aborts the run (resource exhaustion) instead of failing with ENOMEM"
)]
fn page_rounding_overflow_is_enospc_and_a_huge_mapping_is_enomem() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    // default SHMMAX is ULONG_MAX - 2^24: rounding up does not overflow, SHMALL is not hit,
    // the mapping itself is refused (no 2^60 bytes of address space)
    let err = me.shm_segment(Key::PRIVATE).size(1 << 60).create(0o600).open().unwrap_err();
    assert_eq!((err.errno(), err.kind()), (ENOMEM, ErrorKind::OutOfMemory));
    assert_eq!(ns.shm_info().used_ids, 0, "a refused mapping leaves nothing behind");
    // with SHMMAX at its maximum, a size whose page rounding overflows: ENOSPC
    let mut limits = ns.limits();
    limits.shmmax = u64::MAX;
    ns.set_limits(limits).unwrap();
    let huge = usize::MAX;
    assert_eq!(me.shm_segment(Key::PRIVATE).size(huge).create(0o600).open().unwrap_err().errno(), ENOSPC);
}

#[test]
fn new_segment_fields_and_unrounded_segsz() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 100).with_pid(4321));
    // svipc refuses a mode above 0o777 (the kernel would keep its low nine bits).
    let e = me.shm_segment(Key::new(0x1234)).size(10).create(0o1640).open().unwrap_err();
    assert_eq!((e.kind(), e.detail()), (ErrorKind::InvalidArgument, Some("mode has bits outside 0o777")));
    let seg = me.shm_segment(Key::new(0x1234)).size(10).create(0o640).open().unwrap();
    let ds = seg.stat().unwrap();
    assert_eq!(ds.shm_segsz, 10, "shm_segsz is the size asked for, not the page");
    assert_eq!((ds.shm_cpid, ds.shm_lpid, ds.shm_nattch, ds.shm_atime, ds.shm_dtime), (4321, 0, 0, 0, 0));
    assert!(ds.shm_ctime > 0);
    let p = ds.shm_perm;
    assert_eq!(
        (p.key, p.uid, p.gid, p.cuid, p.cgid, p.mode, p.seq),
        (Key::new(0x1234), 1000, 100, 1000, 100, 0o640, 0)
    );
    assert!(!ds.is_dest() && !ds.is_locked());
    // zero-filled, and shm_segsz bytes are visible
    let g = seg.attach_read_only().unwrap();
    assert_eq!(g.len(), 10);
    assert_eq!(&*g.read(), &[0u8; 10]);
    // the listing shows the same figures
    let e = ns.ipcs().entries()[0];
    assert_eq!(e.kind, IpcKind::SharedMemory);
    assert_eq!(e.figures, svipc::Figures::SharedMemory { bytes: 10, nattch: 1 });
}

#[test]
fn existing_key_order_eexist_einval_eacces() {
    let ns = Namespace::new();
    let owner = user(&ns, 1000, 1000);
    let other = user(&ns, 2000, 2000);
    let key = Key::new(77);
    // no IPC_CREAT on a missing key: ENOENT (IPC_EXCL alone too)
    assert_eq!(owner.shm_segment(key).size(10).open().unwrap_err().errno(), ENOENT);
    assert_eq!(owner.shm_segment(key).size(10).exclusive().open().unwrap_err().errno(), ENOENT);
    let seg = owner.shm_segment(key).size(10).create(0o600).exclusive().open().unwrap();
    // EEXIST first, even for a caller without access and with a bad size
    let err = other.shm_segment(key).size(1 << 40).create(0o600).exclusive().open().unwrap_err();
    assert_eq!(err.errno(), EEXIST);
    // then EINVAL for a size above the unrounded segsz (11 fits the page, still EINVAL) ...
    assert_eq!(other.shm_segment(key).size(11).mode(0o400).open().unwrap_err().errno(), EINVAL);
    assert_eq!(owner.shm_segment(key).size(11).open().unwrap_err().errno(), EINVAL);
    // ... before EACCES
    assert_eq!(other.shm_segment(key).size(10).mode(0o400).open().unwrap_err().errno(), EACCES);
    // size 0 means "any", mode 0 asks nothing: even a stranger gets the id
    assert_eq!(other.shm_segment(key).open().unwrap().id(), seg.id());
    // IPC_CREAT on an existing key returns it; its mode is only the access requested
    // (0400: read), not a new mode. Smaller sizes are fine.
    let again = owner.shm_segment(key).size(5).create(0o400).open().unwrap();
    assert_eq!(
        owner.shm_segment(key).create(0o777).open().unwrap_err().errno(),
        EACCES,
        "rwx asked, rw- granted"
    );
    assert_eq!(again.id(), seg.id());
    assert_eq!(again.stat().unwrap().shm_perm.mode, 0o600);
    assert_eq!(again.size(), 10);
}

#[test]
fn private_key_always_creates() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let a = me.shm_segment(Key::PRIVATE).size(8).create(0o600).exclusive().open().unwrap();
    let b = me.shm_segment(Key::PRIVATE).size(8).create(0o600).exclusive().open().unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!((a.id(), b.id()), (0, 1), "ids in a fresh namespace");
    assert_eq!(a.stat().unwrap().shm_perm.key, Key::PRIVATE);
}

#[test]
fn open_by_id() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let other = user(&ns, 2000, 2000);
    let seg = me.shm_segment(Key::new(5)).size(8).create(0o600).open().unwrap();
    // no permission is asked to hold an id; each call checks its own
    let theirs = other.shm_segment_by_id(seg.id()).unwrap();
    assert_eq!(theirs.id(), seg.id());
    assert_eq!(theirs.stat().unwrap_err().errno(), EACCES);
    assert_eq!(theirs.attach_read_only().unwrap_err().errno(), EACCES);
    for bad in [-1, seg.id() + 1, seg.id() + 32768, i32::MIN, i32::MAX] {
        let err = me.shm_segment_by_id(bad).unwrap_err();
        assert_eq!(err.errno(), EINVAL, "id {bad}");
    }
    seg.remove().unwrap();
    assert_eq!(me.shm_segment_by_id(seg.id()).unwrap_err().errno(), EINVAL, "destroyed");
}

#[test]
fn shm_info_and_ipc_info() {
    let ns = Namespace::new();
    let me = user(&ns, 1000, 1000);
    let info = ns.shm_ipc_info();
    let l = Limits::default();
    assert_eq!(
        (info.shmmax, info.shmmin, info.shmmni, info.shmseg, info.shmall, info.max_idx),
        (l.shmmax, 1, 4096, 4096, l.shmall, 0)
    );
    let empty = ns.shm_info();
    assert_eq!((empty.used_ids, empty.shm_tot, empty.max_idx), (0, 0, 0));
    let p = page();
    let _a = me.shm_segment(Key::PRIVATE).size(1).create(0o600).open().unwrap();
    let b = me.shm_segment(Key::PRIVATE).size(3 * p).create(0o600).open().unwrap();
    let _c = me.shm_segment(Key::PRIVATE).size(p + 1).create(0o600).open().unwrap();
    let info = ns.shm_info();
    assert_eq!((info.used_ids, info.shm_tot, info.max_idx), (3, 1 + 3 + 2, 2));
    assert_eq!(ns.shm_ipc_info().max_idx, 2);
    b.remove().unwrap();
    let info = ns.shm_info();
    assert_eq!((info.used_ids, info.shm_tot, info.max_idx), (2, 3, 2));
    let mut limits = ns.limits();
    limits.shmmni = 7;
    ns.set_limits(limits).unwrap();
    assert_eq!((ns.shm_ipc_info().shmmni, ns.shm_ipc_info().shmseg), (7, 7));
}
