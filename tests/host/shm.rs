//! `svipc::Segment` on the host kernel: the same handle and attachments as in-process,
//! over `shmget`/`shmat`/`shmctl`, with the C peer writing a segment Rust reads, the
//! write views' write-back rule, and the range errors compared on both homes.

use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use svipc::{ErrorKind, Key, Segment};

use super::{line, me, peer, Log};

/// The handle, `stat`/`set`/`lock`/`remove`, attachments and their copies and atomics.
pub fn basics(_: &tokio::runtime::Runtime) {
    let seg = me().shm_segment(Key::PRIVATE).create(0o600).size(100).open().unwrap();
    assert!(seg.is_host());
    assert_eq!(seg.size(), 100);
    let a = seg.attach().unwrap();
    let b = seg.attach_read_only().unwrap();
    let ds = seg.stat().unwrap();
    assert_eq!((ds.shm_segsz, ds.shm_nattch, ds.shm_lpid), (100, 2, me().pid()));
    assert!(b.is_read_only() && !a.is_read_only());
    assert_eq!((a.len(), b.segment().id()), (100, seg.id()));
    a.write_at(3, b"unaligned bytes across words").unwrap();
    let mut buf = [0u8; 28];
    b.read_at(3, &mut buf).unwrap();
    assert_eq!(&buf, b"unaligned bytes across words");
    assert_eq!(&*b.read_range(3..31).unwrap(), b"unaligned bytes across words");
    // SAFETY: bytes 48..56 are only ever accessed as this one AtomicU64.
    unsafe { a.atomic::<AtomicU64>(48) }.unwrap().store(u64::MAX - 1, Ordering::Release);
    // SAFETY: the same eight bytes, atomically at the same size.
    assert_eq!(unsafe { b.load::<AtomicU64>(48, Ordering::Acquire) }.unwrap(), u64::MAX - 1);
    // SAFETY: bytes 96..100 are only ever accessed as this one AtomicU32.
    unsafe { a.atomic::<AtomicU32>(96) }.unwrap().fetch_add(5, Ordering::AcqRel);
    // SAFETY: the same four bytes, atomically at the same size.
    assert_eq!(unsafe { b.load::<AtomicU32>(96, Ordering::Relaxed) }.unwrap(), 5);

    let by_id = me().shm_segment_by_id(seg.id()).unwrap();
    assert_eq!((by_id.id(), by_id.size()), (seg.id(), 100));
    let c = by_id.attach_read_only().unwrap();
    assert_eq!(&c.read()[3..12], b"unaligned");
    drop(c);
    seg.set(0, 0, 0o640).unwrap();
    assert_eq!(seg.stat().unwrap().shm_perm.mode, 0o640);
    seg.lock().unwrap(); // root: CAP_IPC_LOCK
    assert!(seg.stat().unwrap().is_locked());
    seg.unlock().unwrap();
    assert!(!seg.stat().unwrap().is_locked());

    seg.remove().unwrap();
    let ds = seg.stat().unwrap();
    assert!(ds.is_dest());
    assert_eq!((ds.shm_perm.key, ds.shm_nattch), (Key::PRIVATE, 2));
    drop((a, b));
    let e = seg.stat().unwrap_err(); // destroyed at the last detach
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.is_removed());
    assert_eq!(seg.attach().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(me().shm_segment_by_id(seg.id()).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// The slice views on the host: `read()` is a snapshot, `write()` a private copy written
/// back on drop (only the bytes it changed); the lock excludes views of one attachment.
pub fn views(_: &tokio::runtime::Runtime) {
    let seg = me().shm_segment(Key::PRIVATE).create(0o600).size(16).open().unwrap();
    let (a, b) = (seg.attach().unwrap(), seg.attach().unwrap());
    a.write_at(0, b"0123456789abcdef").unwrap();

    let r = b.read();
    assert_eq!(&*r, b"0123456789abcdef");
    a.write_at(0, b"X").unwrap();
    assert_eq!(r[0], b'0'); // the snapshot, taken when the view was made
    drop(r);
    assert_eq!(b.read()[0], b'X');

    let mut w = a.write_range(4..8).unwrap();
    w.copy_from_slice(b"WXYZ");
    assert_eq!(&*b.read_range(4..8).unwrap(), b"4567"); // not written back yet
    drop(w);
    assert_eq!(&*b.read_range(4..8).unwrap(), b"WXYZ");

    // The lock is the attachment's: its own views wait, another attachment's do not.
    let w = a.write();
    assert_eq!(a.try_read().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(a.try_write().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(b.try_read().unwrap().len(), 16);
    drop(w);

    // Write-back: the view's changed byte lands; another writer's byte is not clobbered.
    let mut w = a.write();
    w[1] = b'B';
    b.write_at(9, b"A").unwrap();
    assert_eq!(w[9], b'9'); // the view's copy does not see it
    drop(w);
    assert_eq!(&*b.read(), b"XB23WXYZ8Aabcdef");

    let ro = seg.attach_read_only().unwrap();
    assert_eq!(&ro.read()[..2], b"XB");
    seg.remove().unwrap();
}

/// The C peer writes the segment while Rust holds a write view over all of it and changes
/// one other byte: after the view drops, both writes are there.
pub fn c_peer_segment(_: &tokio::runtime::Runtime) {
    let Some(peer) = peer() else { return };
    let seg = me().shm_segment(Key::PRIVATE).create(0o600).size(4096).open().unwrap();
    let m = seg.attach().unwrap();
    let mut view = m.write(); // a private copy of all 4096 bytes, all zero
    view[300] = 0xb0;
    let mut child = Command::new(&peer).args(["shm", &seg.id().to_string()]).spawn().unwrap();
    // Acquire pairs with C's release store: everything C wrote before it is visible.
    // SAFETY: bytes 0..4 are only accessed as this AtomicU32 (by C through __atomic); the
    // write view over them is a private copy on the host, no reference into the segment.
    while unsafe { m.load::<AtomicU32>(0, Ordering::Acquire) }.unwrap() != 1 {
        std::thread::sleep(Duration::from_micros(100));
    }
    let mut text = [0; 12];
    m.read_at(64, &mut text).unwrap();
    assert_eq!(&text, b"written by C");
    assert_eq!(&view[64..76], &[0; 12]); // the view still shows its snapshot
    drop(view); // writes back byte 300 only
    m.read_at(64, &mut text).unwrap();
    assert_eq!(&text, b"written by C", "C's bytes survive the write-back");
    let r = m.read();
    assert_eq!((r[300], r[0]), (0xb0, 1));
    assert_eq!(u64::from_ne_bytes(r[8..16].try_into().unwrap()), 0x0123_4567_89ab_cdef);
    drop(r);
    m.write_at(128, b"read by Rust").unwrap();
    // SAFETY: bytes 4..8 are only accessed as this AtomicU32 (by C through __atomic).
    unsafe { m.atomic::<AtomicU32>(4) }.unwrap().store(1, Ordering::Release);
    assert!(child.wait().unwrap().success());
    seg.remove().unwrap();
}

/// Every range and alignment error of a segment's attachments, as a log.
fn range_errors(seg: &Segment) -> Log {
    let a = seg.attach().unwrap();
    let r = seg.attach_read_only().unwrap();
    let mut buf = [0u8; 10];
    let mut log: Log = vec![
        line("write_at past end", a.write_at(95, b"too long")),
        line("write_at overflow", a.write_at(usize::MAX, b"x")),
        line("write_at at end", a.write_at(100, b"")),
        line("read_at past end", r.read_at(99, &mut buf)),
        line("read_at overflow", r.read_at(usize::MAX, &mut buf)),
        line("read_range past end", r.read_range(4..101).map(|v| v.len())),
        line("read_range after end", r.read_range(101..).map(|v| v.len())),
        line("read_range whole", r.read_range(..).map(|v| v.len())),
        line("write_range past end", a.write_range(100..=100).map(|v| v.len())),
        line("write_range to end", a.write_range(96..).map(|v| v.len())),
    ];
    // SAFETY (each): the offsets are refused or the bytes are used only by these atomics.
    unsafe {
        log.push(line("atomic misaligned", a.atomic::<AtomicU32>(2).map(|_| ())));
        log.push(line("atomic past end", a.atomic::<AtomicU32>(98).map(|_| ())));
        log.push(line("atomic u64 past end", a.atomic::<AtomicU64>(96).map(|_| ())));
        log.push(line("atomic ok", a.atomic::<AtomicU64>(88).map(|x| x.load(Ordering::Relaxed))));
        log.push(line("load misaligned", r.load::<AtomicU64>(4, Ordering::Relaxed)));
        log.push(line("load past end", r.load::<AtomicU32>(100, Ordering::Relaxed)));
    }
    let ops: Vec<_> = [a.write_at(95, b"too long"), r.read_at(99, &mut buf)]
        .into_iter()
        .map(|e| format!("{:?}", e.unwrap_err().op()))
        .collect();
    log.push(format!("ops {ops:?}"));
    log
}

/// Out-of-range and misaligned accesses answer the same on both homes.
pub fn range_errors_on_both_homes(_: &tokio::runtime::Runtime) {
    let local = svipc::Process::current().shm_segment(Key::PRIVATE).create(0o600).size(100).open().unwrap();
    let host = me().shm_segment(Key::PRIVATE).create(0o600).size(100).open().unwrap();
    assert!(!local.is_host() && host.is_host());
    let (in_process, on_host) = (range_errors(&local), range_errors(&host));
    assert_eq!(in_process, on_host);
    assert_eq!(in_process[0], "write_at past end: errno EINVAL");
    assert_eq!(in_process[7], "read_range whole: 100");
    host.remove().unwrap();
    local.remove().unwrap();
}
