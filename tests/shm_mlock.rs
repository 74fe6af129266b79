//! `SHM_LOCK` when the system refuses the `mlock`: a typed error
//! ([`ErrorKind::OutOfMemory`], `ENOMEM`, what the kernel's `shmem_lock` reports), and the
//! segment is left unlocked. The refusal is arranged for real: this test thread drops
//! `CAP_IPC_LOCK` from its effective set (capabilities are per thread) and the soft
//! `RLIMIT_MEMLOCK` is set to 0, so mlock(2) fails with `EPERM`; both are restored after.
//! Alone in its file, so the process-wide rlimit touches no other test's `mlock`.

use svipc::{Credentials, ErrorKind, Key, Namespace, Op};

#[test]
fn smoke() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let seg = me.shm_segment(Key::PRIVATE).size(10).create(0o600).open().unwrap();
    assert!(!seg.stat().unwrap().is_locked());
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const CAP_IPC_LOCK: u32 = 14;

/// This thread's capability sets (capget(2)).
fn capget() -> [CapData; 2] {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: the header and the two data structs are the layout capget(2) documents for
    // version 3, live and writable for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget");
    data
}

/// Sets this thread's capability sets (capset(2)).
fn capset(data: [CapData; 2]) {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: as for capget; capset only reads the data.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    assert_eq!(rc, 0, "capset");
}

fn memlock_limit() -> libc::rlimit {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) }, 0);
    lim
}

fn set_memlock_limit(lim: libc::rlimit) {
    // SAFETY: `lim` is a valid rlimit; lowering the soft limit, or raising it back up to the
    // unchanged hard limit, needs no privilege.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) }, 0);
}

#[test]
#[cfg_attr(miri, ignore = "capget/capset, setrlimit and mlock(2) are foreign calls miri cannot run")]
fn a_refused_mlock_is_enomem_and_leaves_the_segment_unlocked() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let seg = me.shm_segment(Key::PRIVATE).size(4096).create(0o600).open().unwrap();

    let caps = capget();
    let limit = memlock_limit();
    let mut without = caps;
    without[0].effective &= !(1 << CAP_IPC_LOCK);
    capset(without);
    set_memlock_limit(libc::rlimit { rlim_cur: 0, rlim_max: limit.rlim_max });

    let result = seg.lock();

    set_memlock_limit(limit);
    capset(caps);

    let err = result.unwrap_err();
    assert_eq!((err.kind(), err.op(), err.errno()), (ErrorKind::OutOfMemory, Op::ShmCtl, 12));
    assert!(!seg.stat().unwrap().is_locked());
    // with the limits back, the same call succeeds (where this OS process may mlock a page
    // at all: CAP_IPC_LOCK, or a soft RLIMIT_MEMLOCK of at least a page)
    if caps[0].effective & (1 << CAP_IPC_LOCK) != 0 || limit.rlim_cur >= 4096 {
        seg.lock().unwrap();
        assert!(seg.stat().unwrap().is_locked());
    }
}
