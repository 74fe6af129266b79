//! The namespace layer through the public API: keys and `ftok`, credentials, limits, the
//! listing and `ipcrm` by id. (The get-or-create rules, id allocation and permission matrix
//! are exercised through every mechanism's open tests and, generically, by the unit tests in
//! `src/namespace.rs` and `src/ipc/`.)

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use svipc::msg::MsqidSet;
use svipc::{Capabilities, Credentials, ErrorKind, IpcKind, Key, Limits, Namespace, Op};

#[test]
#[cfg_attr(miri, ignore = "Credentials::current calls getegid(2) and getgroups(2), which miri cannot run")]
fn smoke() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::current());
    assert!(ns.ipcs().is_empty());
    assert_eq!(me.remove(IpcKind::MessageQueue, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// glibc's own `ftok(3)`, for comparison.
fn c_ftok(path: &Path, proj_id: i32) -> i32 {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; ftok only reads it.
    unsafe { libc::ftok(c.as_ptr(), proj_id) }
}

#[test]
#[cfg_attr(miri, ignore = "compares with the C library's ftok(3), a foreign call miri cannot run")]
fn ftok_matches_the_c_library() {
    let dir = std::env::temp_dir().join(format!("svipc-ftok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = vec![dir.clone(), Path::new("/").to_path_buf(), std::env::current_exe().unwrap()];
    for i in 0..5 {
        let f = dir.join(format!("f{i}"));
        std::fs::write(&f, b"x").unwrap();
        paths.push(f);
    }
    for path in &paths {
        for proj_id in [0, 1, b'A' as i32, 0x7f, 0x80, 0xff, 0x1ff, -1, i32::MAX, i32::MIN] {
            let ours = Key::ftok(path, proj_id).unwrap();
            assert_eq!(ours.raw(), c_ftok(path, proj_id), "{} proj_id {proj_id:#x}", path.display());
        }
    }
    let missing = dir.join("missing");
    let err = Key::ftok(&missing, 1).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(c_ftok(&missing, 1), -1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keys() {
    assert_eq!(Key::PRIVATE.raw(), 0);
    assert!(Key::new(0).is_private());
    assert_eq!(Key::from(-1).to_string(), "0xffffffff");
    assert_eq!(format!("{:?}", Key::new(42)), "Key(0x0000002a)");
    assert_eq!(format!("{:?}", Key::PRIVATE), "Key::PRIVATE");
    assert_eq!(i32::from(Key::new(7)), 7);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "getpid/geteuid/getegid/getgroups are foreign calls miri cannot run (getegid, getgroups)"
)]
fn credentials_current_reads_the_real_process() {
    let c = Credentials::current();
    // SAFETY: argument-less, infallible id queries.
    let (pid, uid, gid) = unsafe { (libc::getpid(), libc::geteuid(), libc::getegid()) };
    assert_eq!((c.pid(), c.uid(), c.gid()), (pid, uid, gid));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
    let bits = u64::from_str_radix(cap_eff, 16).unwrap();
    assert_eq!(c.has(Capabilities::IPC_OWNER), bits & (1 << 15) != 0);
    assert_eq!(c.has(Capabilities::SYS_ADMIN), bits & (1 << 21) != 0);
    assert_eq!(c.has(Capabilities::SYS_RESOURCE), bits & (1 << 24) != 0);
    assert_eq!(c.has(Capabilities::IPC_LOCK), bits & (1 << 14) != 0);
    let groups = status.lines().find_map(|l| l.strip_prefix("Groups:")).unwrap();
    let groups: Vec<u32> = groups.split_whitespace().map(|g| g.parse().unwrap()).collect();
    assert_eq!(c.groups(), &groups[..]);
}

#[test]
#[cfg(not(loom))] // the global namespace does not exist under loom
#[cfg_attr(miri, ignore = "Credentials::current calls getegid(2) and getgroups(2), which miri cannot run")]
fn process_current_is_the_real_process_in_the_global_namespace() {
    use svipc::{MessageQueue, Process};

    let me = Process::current();
    assert_eq!(me.credentials(), &Credentials::current());
    assert_eq!(me.pid(), std::process::id() as i32);
    // The global namespace: what one current process makes, another sees and the global
    // listing shows; a fresh namespace does not.
    let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let again = Process::current();
    assert_eq!(again.msg_queue_by_id::<Vec<u8>>(q.id()).unwrap().id(), q.id());
    assert!(Namespace::global()
        .ipcs()
        .entries()
        .iter()
        .any(|e| e.kind == IpcKind::MessageQueue && e.id == q.id()));
    assert_eq!(
        Namespace::new()
            .process(Credentials::current())
            .msg_queue_by_id::<Vec<u8>>(q.id())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    q.remove().unwrap();
}

#[test]
fn modes_print_in_octal() {
    let me = Namespace::new().process(Credentials::new(1000, 100));
    let set = me.sem_set(Key::new(0x1234)).create(0o640).nsems(1).open().unwrap();
    assert_eq!(
        format!("{:?}", set.stat().unwrap().perm),
        "IpcPerm { key: Key(0x00001234), uid: 1000, gid: 100, cuid: 1000, cgid: 100, mode: 0o640, seq: 0 }"
    );
    let set_args = MsqidSet { uid: 1, gid: 2, mode: 0o600, qbytes: 16 };
    assert_eq!(format!("{set_args:?}"), "MsqidSet { uid: 1, gid: 2, mode: 0o600, qbytes: 16 }");
    // A segment's SHM_DEST bit shows as the octal digit it is.
    let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open().unwrap();
    let guard = seg.attach().unwrap();
    seg.remove().unwrap();
    assert!(format!("{:?}", seg.stat().unwrap().shm_perm).contains("mode: 0o1600,"));
    drop(guard);
    // The builder's flags too.
    let opts = me.sem_set(Key::new(1)).create(0o644);
    assert!(format!("{opts:?}").contains("mode: 0o644 }"), "{opts:?}");
}

#[test]
fn uid_zero_has_every_capability_unless_told_otherwise() {
    assert_eq!(Credentials::new(0, 0).capabilities(), Capabilities::ALL);
    assert_eq!(Credentials::new(1, 0).capabilities(), Capabilities::NONE);
    let container_root =
        Credentials::new(0, 0).with_capabilities(Capabilities::ALL.without(Capabilities::SYS_RESOURCE));
    assert!(!container_root.has(Capabilities::SYS_RESOURCE));
    assert!(container_root.has(Capabilities::IPC_OWNER | Capabilities::SYS_ADMIN | Capabilities::IPC_LOCK));
    let c = Credentials::new(5, 6).with_groups([7, 8]).with_pid(99);
    assert!(c.in_group(6) && c.in_group(8) && !c.in_group(5));
    assert_eq!(
        format!("{:?}", Capabilities::IPC_OWNER | Capabilities::IPC_LOCK),
        "{CAP_IPC_OWNER, CAP_IPC_LOCK}"
    );
}

#[test]
fn limits_default_to_the_kernels() {
    let l = Limits::default();
    assert_eq!((l.msgmax, l.msgmnb, l.msgmni), (8192, 16384, 32000));
    assert_eq!((l.semmsl, l.semmns, l.semopm, l.semvmx, l.semmni), (32000, 1_024_000_000, 500, 32767, 32000));
    assert_eq!(
        (l.shmmin, l.shmmax, l.shmall, l.shmmni),
        (1, u64::MAX - (1 << 24), u64::MAX - (1 << 24), 4096)
    );
    let ns = Namespace::new();
    let mut l = ns.limits();
    l.semvmx = 40000;
    let err = ns.set_limits(l).unwrap_err();
    assert_eq!((err.kind(), err.op(), err.errno()), (ErrorKind::InvalidArgument, Op::Sysctl, libc::EINVAL));
    assert_eq!(ns.limits(), Limits::default(), "a refused write changes nothing");
    l.semvmx = 100;
    l.msgmni = 1;
    ns.set_limits(l).unwrap();
    assert_eq!((ns.limits().semvmx, ns.limits().msgmni), (100, 1));
    // namespaces are independent
    assert_eq!(Namespace::new().limits(), Limits::default());
}

#[test]
fn ipcrm_of_unknown_ids_is_einval() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    for kind in [IpcKind::MessageQueue, IpcKind::SemaphoreSet, IpcKind::SharedMemory] {
        for id in [-1, 0, 1, 32768, i32::MAX, i32::MIN] {
            let err = me.remove(kind, id).unwrap_err();
            assert_eq!((err.kind(), err.op()), (ErrorKind::InvalidArgument, Op::IpcRm));
            let io: std::io::Error = err.into();
            assert_eq!(io.raw_os_error(), Some(libc::EINVAL));
        }
    }
}

#[test]
fn empty_listing_prints_the_three_sections() {
    let text = Namespace::new().ipcs().to_string();
    let titles: Vec<&str> = text.lines().filter(|l| l.starts_with("------")).collect();
    assert_eq!(
        titles,
        [
            "------ Message Queues --------",
            "------ Shared Memory Segments --------",
            "------ Semaphore Arrays --------"
        ]
    );
    assert!(text.contains("key        msqid      owner      perms      used-bytes   messages"));
}
