//! The body of `tests/host.rs` (Linux only; see there).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};

#[path = "measure.rs"]
mod measure;
#[path = "same.rs"]
mod same;
#[path = "shm.rs"]
mod shm;
use svipc::host::{Host, RecvError};
use svipc::msg::{MsqidSet, SizeOf};
use svipc::{ErrorKind, Key, Select, SemOp};

/// `struct order { uint64_t id; uint32_t qty; int32_t price; }` in peer.c.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
struct Order {
    id: u64,
    qty: u32,
    price: i32,
}

/// A test: a function of the shared runtime.
type Test = fn(&tokio::runtime::Runtime);

const CHILD: &str = "__svipc_host_child";

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD) {
        // The re-executed child: already in the parent's namespace.
        return rust_child(&args[2..]);
    }
    // SAFETY: unshare has no memory-safety preconditions; the process has one thread, so
    // every thread and child made later is in the new namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWIPC) } != 0 {
        let e = std::io::Error::last_os_error();
        eprintln!(
            "\n*** tests/host.rs SKIPPED: unshare(CLONE_NEWIPC) failed ({e}); needs root or \
             CAP_SYS_ADMIN. svipc::host was NOT tested against the kernel. ***\n"
        );
        return ExitCode::SUCCESS;
    }
    assert_eq!(sysvipc_objects(), (0, 0, 0), "a fresh IPC namespace is empty");
    install_program_handler();
    if args.iter().any(|a| a == "--measure") {
        measure::run();
        assert_eq!(sysvipc_objects(), (0, 0, 0));
        return ExitCode::SUCCESS;
    }

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let tests: &[(&str, Test)] = &[
        ("msg_basics_and_errno", msg_basics_and_errno),
        ("msg_wire_types", msg_wire_types),
        ("msg_await_and_wake", msg_await_and_wake),
        ("msg_timeouts", msg_timeouts),
        ("sem_basics", sem_basics),
        ("shm_basics", shm::basics),
        ("shm_views", shm::views),
        ("shm_range_errors_on_both_homes", shm::range_errors_on_both_homes),
        ("c_peer_orders", c_peer_orders),
        ("c_peer_semaphore", c_peer_semaphore),
        ("c_peer_segment", shm::c_peer_segment),
        ("rust_to_rust_processes", rust_to_rust_processes),
        ("stress_recv_cancellation_counts", stress_recv_cancellation_counts),
        ("stress_acquire_cancellation_counts", stress_acquire_cancellation_counts),
        ("stress_send_cancellation_counts", stress_send_cancellation_counts),
        ("signal_chains_to_the_program", signal_chains_to_the_program),
        ("same_on_both_homes", same_on_both_homes),
        ("host_ipcs", host_ipcs),
        ("one_api_two_homes", one_api_two_homes),
        ("same_checks", same::same_checks),
        #[cfg(feature = "tracing")]
        ("host_tracing_events", same::host_tracing_events),
        #[cfg(feature = "serde")]
        ("serde_on_both_homes", same::serde_on_both_homes),
    ];
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let start = Instant::now();
        test(&rt);
        println!("test host::{name} ... ok ({:.0?})", start.elapsed());
    }
    drop(rt);
    assert_eq!(sysvipc_objects(), (0, 0, 0), "every test removes what it created");
    ExitCode::SUCCESS
}

/// Objects listed in `/proc/sysvipc/{msg,sem,shm}` (lines after the header).
fn sysvipc_objects() -> (usize, usize, usize) {
    let count = |f: &str| {
        std::fs::read_to_string(format!("/proc/sysvipc/{f}"))
            .unwrap()
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    (count("msg"), count("sem"), count("shm"))
}

/// SIGURG deliveries to the program's own handler.
static PROGRAM_SIGURG: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn program_handler(_: libc::c_int) {
    PROGRAM_SIGURG.fetch_add(1, Ordering::SeqCst);
}

/// The host program's own SIGURG handler, installed before svipc installs its own: svipc
/// must chain every SIGURG that is not its own interruption to it.
fn install_program_handler() {
    // SAFETY: a zeroed sigaction with a valid one-argument handler and an empty mask;
    // nothing else runs yet (one thread).
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = program_handler as *const () as usize;
        libc::sigemptyset(&mut act.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGURG, &act, std::ptr::null_mut()), 0);
    }
}

/// The program's handler saw none of svipc's interruptions (the stress tests sent many),
/// and sees every SIGURG of its own: one raised on a thread, one sent to the process.
fn signal_chains_to_the_program(_: &tokio::runtime::Runtime) {
    assert!(svipc::host::waiter_threads() > 0, "the earlier tests used waiter threads");
    assert_eq!(PROGRAM_SIGURG.load(Ordering::SeqCst), 0);
    // SAFETY: raise and kill take integers; the handler is installed.
    assert_eq!(unsafe { libc::raise(libc::SIGURG) }, 0);
    assert_eq!(PROGRAM_SIGURG.load(Ordering::SeqCst), 1);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGURG) }, 0);
    // A process-directed signal may land on any thread, a waiter thread included, and
    // arrives asynchronously: wait for it (bounded), then check it came exactly once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while PROGRAM_SIGURG.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(PROGRAM_SIGURG.load(Ordering::SeqCst), 2);
}

fn me() -> Host {
    Host::current()
}

// ===== single process =====

fn msg_basics_and_errno(rt: &tokio::runtime::Runtime) {
    let me = me();
    let key = Key::new(0x5157_0001);
    let e = me.msg_queue::<Vec<u8>>(key).open().unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::NotFound, libc::ENOENT));
    let q = me.msg_queue::<Vec<u8>>(key).create(0o640).exclusive().open().unwrap();
    let e = me.msg_queue::<Vec<u8>>(key).create(0o640).exclusive().open().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(me.msg_queue::<Vec<u8>>(key).open().unwrap().id(), q.id());
    // The builder's own checks, as in-process.
    let e = me.msg_queue::<Vec<u8>>(Key::PRIVATE).open().unwrap_err();
    assert_eq!(
        (e.kind(), e.detail()),
        (ErrorKind::InvalidArgument, Some("Key::PRIVATE always creates: call .create(mode)"))
    );
    let e = me.msg_queue::<Vec<u8>>(key).create(600).open().unwrap_err();
    assert_eq!(e.detail(), Some("mode has bits outside 0o777"));

    let ds = q.stat().unwrap();
    assert_eq!((ds.perm.key, ds.perm.mode, ds.qnum, ds.cbytes, ds.lspid), (key, 0o640, 0, 0, 0));
    q.try_send(3, b"abc".to_vec()).unwrap();
    q.try_send(1, b"de".to_vec()).unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes, ds.lspid), (2, 5, me.pid()));
    // Selection is the kernel's: type 1 first, then any.
    assert_eq!(q.try_recv(Select::Type(1)).unwrap(), (1, b"de".to_vec()));
    assert_eq!(q.try_recv(Select::Type(1)).unwrap_err().kind(), ErrorKind::NoMessage);
    assert_eq!(q.try_recv(Select::Type(0)).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(q.try_recv(Select::Except(1)).unwrap(), (3, b"abc".to_vec()));
    // mtype < 1: the kernel's EINVAL, the message given back.
    let e = q.try_send(0, vec![7]).unwrap_err();
    assert_eq!((e.kind(), e.into_inner()), (ErrorKind::InvalidArgument, vec![7]));
    // A full queue: EAGAIN with the message back.
    let mut set = MsqidSet::from(&q.stat().unwrap());
    set.qbytes = 4;
    q.set(set).unwrap();
    q.try_send(1, vec![0; 4]).unwrap();
    let e = q.try_send(1, vec![1]).unwrap_err();
    assert_eq!((e.kind(), e.into_inner()), (ErrorKind::WouldBlock, vec![1]));
    assert_eq!(q.stat().unwrap().qbytes, 4);
    // MSG_COPY: a copy, the queue unchanged; through a handle of another type, a message
    // that does not decode stays queued once (a peek puts nothing back).
    assert_eq!(q.peek(0).unwrap(), (1, vec![0; 4]));
    let wide = me.msg_queue::<u64>(key).open().unwrap();
    assert_eq!(wide.peek(0).unwrap_err().kind(), ErrorKind::TypeMismatch);
    assert_eq!((q.stat().unwrap().qnum, q.stat().unwrap().cbytes), (1, 4));
    // No room can be held in the kernel: every reservation is EINVAL, saying why.
    let why = Some("a host queue cannot reserve room: reserve is in-process only");
    let e = q.try_reserve(1, 1).unwrap_err();
    assert_eq!((e.kind(), e.detail(), e.is_removed()), (ErrorKind::InvalidArgument, why, false));
    let e = rt.block_on(q.reserve(1, 1)).unwrap_err();
    assert_eq!((e.kind(), e.detail(), e.is_removed()), (ErrorKind::InvalidArgument, why, false));
    let e = rt.block_on(q.reserve_owned(1, 1)).unwrap_err();
    assert_eq!((e.kind(), e.detail(), e.is_removed()), (ErrorKind::InvalidArgument, why, false));
    assert_eq!(q.stat().unwrap().qnum, 1);

    q.remove().unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(q.remove().unwrap_err().kind(), ErrorKind::InvalidArgument);
    // The in-process-only abilities answer EPERM.
    assert_eq!(me.set_limits().unwrap_err().kind(), ErrorKind::NotPermitted);
}

fn msg_wire_types(_: &tokio::runtime::Runtime) {
    let me = me();
    let q = me.msg_queue::<String>(Key::PRIVATE).create(0o600).open().unwrap();
    q.try_send(1, "héllo".to_string()).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 6); // UTF-8 bytes, no NUL
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, "héllo".to_string()));
    // Bytes that are not UTF-8: the message comes back in the error, nothing lost.
    let raw = me.msg_queue_by_id::<Vec<u8>>(q.id()).unwrap();
    raw.try_send(9, vec![0xff, 0xfe]).unwrap();
    match q.host().unwrap().try_recv(Select::Any).unwrap_err() {
        RecvError::Decode(d) => {
            assert_eq!((d.mtype(), d.bytes()), (9, &[0xff, 0xfe][..]));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    // Through the crate's handle, whose error has no room for bytes: TypeMismatch, and the
    // message goes back to the queue (its tail) instead of being lost.
    raw.try_send(9, vec![0xff]).unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::TypeMismatch);
    assert_eq!(raw.try_recv(Select::Any).unwrap(), (9, vec![0xff]));

    // A plain struct: its 16 bytes on the wire, exactly.
    let pods = me.msg_queue_by_id::<SizeOf<Order>>(q.id()).unwrap();
    let o = Order { id: 7, qty: 3, price: -5 };
    pods.try_send(4, SizeOf(o)).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 16);
    let (t, bytes) = raw.try_recv(Select::Any).unwrap();
    assert_eq!((t, bytes.as_slice()), (4, bytemuck::bytes_of(&o)));
    pods.try_send(4, SizeOf(o)).unwrap();
    assert_eq!(pods.try_recv(Select::Any).unwrap(), (4, SizeOf(o)));
    // A longer message than the struct: the kernel's E2BIG, and it stays queued.
    raw.try_send(4, vec![0; 17]).unwrap();
    assert_eq!(pods.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::TooBig);
    assert_eq!(q.stat().unwrap().qnum, 1);
    // A shorter one is received and returned undecoded.
    raw.try_recv(Select::Any).unwrap();
    raw.try_send(4, vec![1; 3]).unwrap();
    assert_eq!(pods.host().unwrap().try_recv(Select::Any).unwrap_err().into_message(), Some((4, vec![1; 3])));
    // Numbers and arrays.
    let nums = me.msg_queue_by_id::<u32>(q.id()).unwrap();
    nums.try_send(1, 0xdead_beef).unwrap();
    assert_eq!(raw.try_recv(Select::Any).unwrap().1, 0xdead_beef_u32.to_ne_bytes());
    let arrs = me.msg_queue_by_id::<[u8; 3]>(q.id()).unwrap();
    arrs.try_send(2, [1, 2, 3]).unwrap();
    assert_eq!(arrs.try_recv(Select::Any).unwrap(), (2, [1, 2, 3]));
    q.remove().unwrap();
}

fn msg_await_and_wake(rt: &tokio::runtime::Runtime) {
    let me = me();
    let q = me.msg_queue::<u64>(Key::PRIVATE).create(0o600).open().unwrap();
    rt.block_on(async {
        // A receive that must wait moves to a waiter thread and is woken by a send from
        // another OS thread.
        let q2 = q.clone();
        let rx = tokio::spawn(async move { q2.recv(Select::Type(2)).await });
        tokio::task::yield_now().await;
        let q3 = q.clone();
        std::thread::spawn(move || {
            q3.blocking_send(1, 10).unwrap();
            q3.blocking_send(2, 20).unwrap();
        })
        .join()
        .unwrap();
        assert_eq!(rx.await.unwrap().unwrap(), (2, 20));
        assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 10));
        // IPC_RMID fails the waiting call with EIDRM.
        let q4 = q.clone();
        let rx = tokio::spawn(async move { q4.recv(Select::Any).await });
        while threads_in_syscall(libc::SYS_msgrcv) == 0 {
            tokio::task::yield_now().await;
        }
        q.remove().unwrap();
        let e = rx.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Removed);
    });
}

/// Threads of this process blocked in the system call `nr` now
/// (`/proc/self/task/*/syscall` starts with the number of the call a thread sleeps in).
fn threads_in_syscall(nr: libc::c_long) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("syscall")).ok())
        .filter(|s| s.split_whitespace().next() == Some(&nr.to_string()))
        .count()
}

fn msg_timeouts(rt: &tokio::runtime::Runtime) {
    let me = me();
    let q = me.msg_queue::<u64>(Key::PRIVATE).create(0o600).open().unwrap();
    rt.block_on(async {
        let e = q.recv_timeout(Select::Any, Duration::from_millis(5)).await.unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        q.try_send(1, 5).unwrap();
        assert_eq!(q.recv_timeout(Select::Any, Duration::from_millis(5)).await.unwrap(), (1, 5));
        // A full queue: the timed send expires with the message back.
        let mut set = MsqidSet::from(&q.stat().unwrap());
        set.qbytes = 8;
        q.set(set).unwrap();
        q.try_send(1, 1).unwrap();
        let e = q.send_timeout(1, 2, Duration::from_millis(5)).await.unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.into_inner(), 2);
        assert_eq!(q.stat().unwrap().qnum, 1);
    });
    q.remove().unwrap();
}

fn sem_basics(rt: &tokio::runtime::Runtime) {
    let me = me();
    let e = me.sem_set(Key::PRIVATE).create(0o600).open().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument); // nsems 0 on a new set: the kernel's
    let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open().unwrap();
    assert_eq!(set.nsems(), 2);
    set.set_all(&[2, 0]).unwrap();
    assert_eq!(set.get_all().unwrap(), vec![2, 0]);
    {
        let p = set.try_acquire(0, 2).unwrap();
        assert_eq!(set.get_val(0).unwrap(), 0);
        assert_eq!(set.try_acquire(0, 1).unwrap_err().kind(), ErrorKind::WouldBlock);
        drop(p);
    }
    assert_eq!(set.get_val(0).unwrap(), 2);
    assert_eq!(set.get_pid(0).unwrap(), me.pid());
    assert_eq!(set.try_semop(&[SemOp::new(5, 1)]).unwrap_err().kind(), ErrorKind::FileTooBig);
    assert_eq!(set.try_semop(&[]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(set.set_val(0, 40000).unwrap_err().kind(), ErrorKind::OutOfRange);
    rt.block_on(async {
        let s2 = set.clone();
        let waiter = tokio::spawn(async move { s2.semop(&[SemOp::new(1, -1)]).await });
        while set.get_ncnt(1).unwrap() == 0 {
            tokio::task::yield_now().await;
        }
        set.try_semop(&[SemOp::new(1, 1)]).unwrap();
        waiter.await.unwrap().unwrap();
        assert_eq!(set.get_val(1).unwrap(), 0);
        let e = set.semop_timeout(&[SemOp::new(1, -1)], Duration::from_millis(5)).await.unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(set.get_ncnt(1).unwrap(), 0);
    });
    let ds = set.stat().unwrap();
    assert_eq!((ds.nsems, ds.perm.mode), (2, 0o600));
    set.remove().unwrap();
    assert_eq!(set.get_val(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

// ===== the C peer =====

/// Builds `tests/host/peer.c` with the system C compiler; `None` (with a loud notice) if
/// there is none.
pub fn peer() -> Option<PathBuf> {
    static PEER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PEER.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/host/peer.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("svipc_host_peer");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        match Command::new(&cc).args(["-O2", "-Wall", "-Werror", "-o"]).arg(&out).arg(&src).status() {
            Ok(s) if s.success() => Some(out),
            r => {
                eprintln!(
                    "\n*** C peer tests SKIPPED: `{cc}` could not build tests/host/peer.c ({r:?}) ***\n"
                );
                None
            }
        }
    })
    .clone()
}

fn c_peer_orders(rt: &tokio::runtime::Runtime) {
    let Some(peer) = peer() else { return };
    let me = me();
    let q = me.msg_queue::<SizeOf<Order>>(Key::PRIVATE).create(0o600).open().unwrap();
    let text = me.msg_queue_by_id::<String>(q.id()).unwrap();
    let mut child = Command::new(&peer).args(["orders", &q.id().to_string()]).spawn().unwrap();
    rt.block_on(async {
        // A message of another type, which C's `msgrcv(.., 1, ..)` must leave alone.
        text.send(3, "not for C".into()).await.unwrap();
        for id in 1..=50u64 {
            q.send(1, SizeOf(Order { id, qty: id as u32, price: -(id as i32) })).await.unwrap();
            let (t, SizeOf(r)) = q.recv(Select::Type(2)).await.unwrap();
            assert_eq!((t, r), (2, Order { id, qty: 2 * id as u32, price: 1 - id as i32 }));
        }
        q.send(1, SizeOf(Order { id: 0, qty: 0, price: 0 })).await.unwrap();
        assert_eq!(text.recv(Select::Type(5)).await.unwrap(), (5, "hello from C".to_string()));
        assert_eq!(text.try_recv(Select::Any).unwrap(), (3, "not for C".to_string()));
    });
    assert!(child.wait().unwrap().success());
    q.remove().unwrap();
}

fn c_peer_semaphore(rt: &tokio::runtime::Runtime) {
    let Some(peer) = peer() else { return };
    let set = me().sem_set(Key::PRIVATE).create(0o600).nsems(2).open().unwrap();
    let rounds = 200;
    let mut child =
        Command::new(&peer).args(["sem", &set.id().to_string(), &rounds.to_string()]).spawn().unwrap();
    rt.block_on(async {
        for _ in 0..rounds {
            set.semop(&[SemOp::new(0, 1)]).await.unwrap(); // hand the unit to C
            set.acquire(1, 1).await.unwrap().forget(); // and take C's back
        }
    });
    assert!(child.wait().unwrap().success());
    assert_eq!(set.get_all().unwrap(), vec![0, 0]);
    set.remove().unwrap();
}

// ===== Rust to Rust across processes =====

/// The child: answers each text of type 1 with its upper case as type 2 until "quit".
fn rust_child(args: &[String]) -> ExitCode {
    assert_eq!(args[0], "upper");
    let id: i32 = args[1].parse().unwrap();
    let q = Host::current().msg_queue_by_id::<String>(id).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        loop {
            let (_, text) = q.recv(Select::Type(1)).await.unwrap();
            if text == "quit" {
                break;
            }
            q.send(2, text.to_uppercase()).await.unwrap();
        }
    });
    ExitCode::SUCCESS
}

fn rust_to_rust_processes(rt: &tokio::runtime::Runtime) {
    let q = me().msg_queue::<String>(Key::PRIVATE).create(0o600).open().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD, "upper", &q.id().to_string()])
        .spawn()
        .unwrap();
    rt.block_on(async {
        for i in 0..100 {
            q.send(1, format!("message {i}")).await.unwrap();
            assert_eq!(q.recv(Select::Type(2)).await.unwrap(), (2, format!("MESSAGE {i}")));
        }
        q.send(1, "quit".into()).await.unwrap();
    });
    assert!(child.wait().unwrap().success());
    let ds = q.stat().unwrap();
    assert_eq!(ds.qnum, 0);
    assert_ne!(ds.lspid, ds.lrpid); // the last send was ours, the last receive the child's
    q.remove().unwrap();
}

// ===== cancel safety, counted =====

/// A small xorshift generator: random timeouts without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Receivers whose `recv` is cancelled at random moments while a producer sends: every
/// message is received exactly once, none is lost or duplicated, whatever the race between
/// the cancellation and the kernel's completion.
fn stress_recv_cancellation_counts(rt: &tokio::runtime::Runtime) {
    const N: u64 = 4000;
    let q = me().msg_queue::<u64>(Key::PRIVATE).create(0o600).open().unwrap();
    let undone_before = svipc::host::wait::undone_calls();
    let got = rt.block_on(async {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut receivers = Vec::new();
        for r in 0..4u64 {
            let q = q.clone();
            let done = Arc::clone(&done);
            receivers.push(tokio::spawn(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (r + 1));
                let mut got = Vec::new();
                let mut cancelled = 0u64;
                while !done.load(Ordering::Acquire) {
                    let t = Duration::from_micros(rng.below(300));
                    match tokio::time::timeout(t, q.recv(Select::Any)).await {
                        Ok(r) => got.push(r.unwrap().1),
                        Err(_) => cancelled += 1,
                    }
                }
                (got, cancelled)
            }));
        }
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(12345);
                for i in 0..N {
                    q.blocking_send(1, i).unwrap();
                    if rng.below(8) == 0 {
                        std::thread::sleep(Duration::from_micros(rng.below(200)));
                    }
                }
            })
        };
        tokio::task::spawn_blocking(move || producer.join().unwrap()).await.unwrap();
        // Let the receivers drain what is queued, then stop them.
        while q.stat().unwrap().qnum > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        done.store(true, Ordering::Release);
        let mut got = Vec::new();
        let mut cancelled = 0;
        for r in receivers {
            let (g, c) = r.await.unwrap();
            got.extend(g);
            cancelled += c;
        }
        // Messages put back by a late cancellation land on the queue: take them too.
        let deadline = Instant::now() + Duration::from_secs(20);
        while (got.len() as u64) < N && Instant::now() < deadline {
            match q.recv_timeout(Select::Any, Duration::from_millis(50)).await {
                Ok((_, v)) => got.push(v),
                Err(e) => assert!(e.is_timeout(), "{e}"),
            }
        }
        assert!(cancelled > 0, "the test cancelled no receive");
        got
    });
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(got.len() as u64, N, "every message received exactly once (duplicates or losses)");
    assert_eq!(unique, (0..N).collect::<BTreeSet<u64>>());
    assert_eq!(q.stat().unwrap().qnum, 0);
    println!(
        "    (receives undone after a late cancellation: {})",
        svipc::host::wait::undone_calls() - undone_before
    );
    q.remove().unwrap();
}

/// Tasks that acquire one of `K` units with random timeouts, hold it a moment and give it
/// back: after all of them end, the semaphore holds exactly `K` again.
///
/// A round can end with no acquire cancelled: on a loaded machine the holders' releases and
/// the deadlines all pass while the runtime's threads are descheduled, and `timeout` polls
/// the acquire before its timer. Rounds (with other seeds) run until one has cancelled,
/// 20 at most, so that the test always tests the cancellation it is about.
fn stress_acquire_cancellation_counts(rt: &tokio::runtime::Runtime) {
    const K: u16 = 3;
    let set = me().sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
    set.set_val(0, K).unwrap();
    let undone_before = svipc::host::wait::undone_calls();
    rt.block_on(async {
        let (mut held, mut cancelled) = (0, 0);
        for round in 0..20u64 {
            let mut tasks = Vec::new();
            for t in 0..8u64 {
                let set = set.clone();
                tasks.push(tokio::spawn(async move {
                    let mut rng = Rng(0xdead_beef ^ ((t + 1) * 7919) ^ (round << 32));
                    let (mut held, mut cancelled) = (0u64, 0u64);
                    for _ in 0..300 {
                        let t = Duration::from_micros(rng.below(200));
                        match tokio::time::timeout(t, set.acquire(0, 1)).await {
                            Ok(p) => {
                                let _p = p.unwrap();
                                held += 1;
                                if rng.below(2) == 0 {
                                    tokio::task::yield_now().await;
                                }
                            }
                            Err(_) => cancelled += 1,
                        }
                    }
                    (held, cancelled)
                }));
            }
            for t in tasks {
                let (h, c) = t.await.unwrap();
                held += h;
                cancelled += c;
            }
            if cancelled > 0 {
                break;
            }
        }
        assert!(held > 0 && cancelled > 0, "held {held}, cancelled {cancelled}");
    });
    // Undos run on waiter threads: wait until they have all landed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while set.get_val(0).unwrap() != K && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(set.get_val(0).unwrap(), K, "every unit taken was given back");
    assert_eq!(set.get_ncnt(0).unwrap(), 0, "no waiter thread is left sleeping");
    println!(
        "    (acquires undone after a late cancellation: {})",
        svipc::host::wait::undone_calls() - undone_before
    );
    set.remove().unwrap();
}

// ===== the same checks on both homes =====

/// One scenario's results as text, so the two homes' runs compare line by line.
type Log = Vec<String>;

/// `Ok(value)` or the errno, as one log line.
fn line<T: std::fmt::Debug, E: Into<svipc::Error>>(what: &str, r: Result<T, E>) -> String {
    match r {
        Ok(v) => format!("{what}: {v:?}"),
        Err(e) => format!("{what}: errno {}", e.into().kind().errno_name()),
    }
}

/// The message-queue scenario, written once against the shared method names: `$me` is
/// `Process::current()` or `Host::current()`.
macro_rules! msg_scenario {
    ($me:expr) => {{
        let me = $me;
        let key = Key::new(0x5157_0100);
        let mut log = Log::new();
        log.push(line("open missing", me.msg_queue::<Vec<u8>>(key).open().map(|_| ())));
        let q = me.msg_queue::<Vec<u8>>(key).create(0o640).exclusive().open().unwrap();
        log.push(line(
            "create again",
            me.msg_queue::<Vec<u8>>(key).create(0o640).exclusive().open().map(|_| ()),
        ));
        log.push(line("mode bits", me.msg_queue::<Vec<u8>>(key).create(0o1640).open().map(|_| ())));
        let ds = q.stat().unwrap();
        log.push(format!(
            "stat: mode {:o} qnum {} cbytes {} qbytes {}",
            ds.perm.mode, ds.qnum, ds.cbytes, ds.qbytes
        ));
        log.push(line("mtype 0", q.try_send(0, vec![1]).map_err(|e| e.error())));
        for (t, len) in [(3, 5), (1, 2), (2, 7), (1, 1), (5, 0)] {
            log.push(line("send", q.try_send(t, vec![t as u8; len]).map_err(|e| e.error())));
        }
        let ds = q.stat().unwrap();
        log.push(format!("stat: qnum {} cbytes {}", ds.qnum, ds.cbytes));
        for select in [
            Select::Type(2),
            Select::AtMost(2),
            Select::Except(1),
            Select::Type(9),
            Select::Type(-1),
            Select::Any,
            Select::Any,
            Select::Any,
        ] {
            log.push(line(&format!("recv {select:?}"), q.try_recv(select).map_err(svipc::Error::from)));
        }
        let mut set = MsqidSet::from(&q.stat().unwrap());
        set.qbytes = 10;
        set.mode = 0o600;
        log.push(line("set", q.set(set)));
        log.push(line("fill", q.try_send(1, vec![0; 8]).map_err(|e| e.error())));
        log.push(line("full", q.try_send(1, vec![0; 4]).map_err(|e| e.error())));
        log.push(line("fits", q.try_send(1, vec![0; 1]).map_err(|e| e.error())));
        set.qbytes = 0;
        log.push(line("qbytes 0", q.set(set)));
        log.push(line("send to qbytes 0", q.try_send(1, vec![]).map_err(|e| e.error())));
        let ds = q.stat().unwrap();
        log.push(format!(
            "stat: mode {:o} qnum {} cbytes {} qbytes {}",
            ds.perm.mode, ds.qnum, ds.cbytes, ds.qbytes
        ));
        log.push(line("remove", q.remove()));
        log.push(line("recv removed", q.try_recv(Select::Any).map_err(svipc::Error::from)));
        log.push(format!("is_removed {}", q.stat().unwrap_err().is_removed()));
        log.push(line("remove again", q.remove()));
        log
    }};
}

/// The semaphore scenario.
macro_rules! sem_scenario {
    ($me:expr) => {{
        let me = $me;
        let mut log = Log::new();
        log.push(line("nsems 0", me.sem_set(Key::PRIVATE).create(0o600).open().map(|_| ())));
        let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(3).open().unwrap();
        log.push(line("set_all", set.set_all(&[1, 2, 3])));
        log.push(line("set_all short", set.set_all(&[1, 2])));
        log.push(line("get_all", set.get_all()));
        log.push(line("set_val SEMVMX+1", set.set_val(0, 32768)));
        log.push(line("set_val beyond", set.set_val(3, 1)));
        log.push(line("get_val beyond", set.get_val(3)));
        log.push(line("semop empty", set.try_semop(&[])));
        log.push(line("semop EFBIG", set.try_semop(&[SemOp::new(3, 1)])));
        log.push(line("semop EAGAIN", set.try_semop(&[SemOp::new(0, -2)])));
        log.push(line("semop two", set.try_semop(&[SemOp::new(0, -1), SemOp::new(1, -2)])));
        log.push(line("semop zero", set.try_semop(&[SemOp::new(0, 0), SemOp::new(2, 1)])));
        log.push(line("get_all", set.get_all()));
        log.push(line("set_val max", set.set_val(2, 32767)));
        log.push(line("semop ERANGE", set.try_semop(&[SemOp::new(2, 1)])));
        log.push(line("acquire", set.try_acquire(2, 7).map(|p| p.forget())));
        log.push(line("acquire EAGAIN", set.try_acquire(1, 1).map(|p| p.forget())));
        log.push(line("acquire none", set.try_acquire(1, 0).map(|p| p.forget())));
        log.push(line("acquire none beyond", set.try_acquire(3, 0).map(|p| p.forget())));
        log.push(line("acquire above SHRT_MAX", set.try_acquire(0, 40000).map(|p| p.forget())));
        log.push(line("get_val", set.get_val(2)));
        log.push(line("ncnt", set.get_ncnt(0)));
        log.push(line("zcnt", set.get_zcnt(0)));
        log.push(line("set owner mode", set.set(0, 0, 0o640)));
        let ds = set.stat().unwrap();
        log.push(format!("stat: nsems {} mode {:o}", ds.nsems, ds.perm.mode));
        log.push(line("remove", set.remove()));
        log.push(line("get_val removed", set.get_val(0)));
        log
    }};
}

/// The shared-memory scenario.
macro_rules! shm_scenario {
    ($me:expr) => {{
        let me = $me;
        let mut log = Log::new();
        log.push(line("size 0", me.shm_segment(Key::PRIVATE).create(0o600).open().map(|_| ())));
        let seg = me.shm_segment(Key::PRIVATE).create(0o600).size(100).open().unwrap();
        let ds = seg.stat().unwrap();
        log.push(format!(
            "stat: segsz {} nattch {} mode {:o}",
            ds.shm_segsz, ds.shm_nattch, ds.shm_perm.mode
        ));
        let a = seg.attach().unwrap();
        let r = seg.attach_read_only().unwrap();
        log.push(line("write", a.write_at(10, b"both homes")));
        log.push(line("write past end", a.write_at(95, b"too long")));
        let mut buf = [0u8; 10];
        log.push(line("read", r.read_at(10, &mut buf).map(|()| buf)));
        log.push(line("read past end", r.read_at(99, &mut buf)));
        log.push(format!("len {} read-only {} {}", a.len(), a.is_read_only(), r.is_read_only()));
        log.push(format!("nattch {}", seg.stat().unwrap().shm_nattch));
        log.push(line("remove", seg.remove()));
        let ds = seg.stat().unwrap();
        log.push(format!(
            "removed: key {:?} dest {} nattch {}",
            ds.shm_perm.key,
            ds.is_dest(),
            ds.shm_nattch
        ));
        drop((a, r));
        log.push(line("stat destroyed", seg.stat().map(|_| ())));
        log
    }};
}

fn same_on_both_homes(_: &tokio::runtime::Runtime) {
    let compare = |what: &str, in_process: Log, host: Log| {
        for (i, (a, b)) in in_process.iter().zip(&host).enumerate() {
            assert_eq!(a, b, "{what}, step {i}: in-process vs host");
        }
        assert_eq!(in_process.len(), host.len(), "{what}");
    };
    if std::env::var_os("SVIPC_SHOW_LOGS").is_some() {
        for l in msg_scenario!(Host::current())
            .iter()
            .chain(&sem_scenario!(Host::current()))
            .chain(&shm_scenario!(Host::current()))
        {
            println!("    {l}");
        }
    }
    compare("msg", msg_scenario!(svipc::Process::current()), msg_scenario!(Host::current()));
    compare("sem", sem_scenario!(svipc::Process::current()), sem_scenario!(Host::current()));
    compare("shm", shm_scenario!(svipc::Process::current()), shm_scenario!(Host::current()));
}

/// `Host::ipcs` lists what the kernel holds, with the kernel's own figures.
fn host_ipcs(_: &tokio::runtime::Runtime) {
    use svipc::{Figures, IpcKind};
    let me = me();
    assert!(me.ipcs().unwrap().entries().is_empty());
    let q = me.msg_queue::<Vec<u8>>(Key::new(77)).create(0o640).open().unwrap();
    q.try_send(1, vec![0; 5]).unwrap();
    q.try_send(2, vec![0; 6]).unwrap();
    let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(3).open().unwrap();
    let seg = me.shm_segment(Key::new(78)).create(0o600).size(100).open().unwrap();
    let attached = seg.attach().unwrap();
    seg.remove().unwrap();
    let ipcs = me.ipcs().unwrap();
    let kinds: Vec<IpcKind> = ipcs.entries().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [IpcKind::MessageQueue, IpcKind::SharedMemory, IpcKind::SemaphoreSet]);
    let [mq, shm, sem] = ipcs.entries() else { unreachable!() };
    assert_eq!((mq.id, mq.perm), (q.id(), q.stat().unwrap().perm));
    assert_eq!(mq.figures, Figures::MessageQueue { used_bytes: 11, messages: 2 });
    assert_eq!((shm.id, shm.perm), (seg.id(), seg.stat().unwrap().shm_perm));
    assert_eq!(shm.figures, Figures::SharedMemory { bytes: 100, nattch: 1, dest: true, locked: false });
    assert_eq!((sem.id, sem.perm), (set.id(), set.stat().unwrap().perm));
    assert_eq!(sem.figures, Figures::SemaphoreSet { nsems: 3 });
    assert!(ipcs.to_string().contains("Message Queues"));
    drop(attached);
    q.remove().unwrap();
    set.remove().unwrap();
    assert!(me.ipcs().unwrap().entries().is_empty());
}

/// Senders whose `send` to a full queue is cancelled at random moments: every message whose
/// send returned `Ok` arrives, none arrives twice, and one whose future was dropped arrives
/// at most once (sent exactly once or not at all).
fn stress_send_cancellation_counts(rt: &tokio::runtime::Runtime) {
    const PER_TASK: u64 = 400;
    let q = me().msg_queue::<u64>(Key::PRIVATE).create(0o600).open().unwrap();
    let mut set = MsqidSet::from(&q.stat().unwrap());
    set.qbytes = 4 * 8; // four messages: senders keep finding it full
    q.set(set).unwrap();
    let (sent, cancelled, got) = rt.block_on(async {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let receiver = {
            let (q, stop) = (q.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut rng = Rng(777);
                loop {
                    match q.recv_timeout(Select::Any, Duration::from_millis(20)).await {
                        Ok((_, v)) => got.push(v),
                        Err(e) if e.is_timeout() && stop.load(Ordering::Acquire) => return got,
                        Err(e) => assert!(e.is_timeout(), "{e}"),
                    }
                    if rng.below(4) == 0 {
                        tokio::time::sleep(Duration::from_micros(rng.below(300))).await;
                    }
                }
            })
        };
        let mut senders = Vec::new();
        for t in 0..4u64 {
            let q = q.clone();
            senders.push(tokio::spawn(async move {
                let mut rng = Rng(0x5eed ^ ((t + 1) * 104_729));
                let (mut sent, mut cancelled) = (Vec::new(), Vec::new());
                for i in 0..PER_TASK {
                    let v = t * PER_TASK + i;
                    let wait = Duration::from_micros(rng.below(400));
                    match tokio::time::timeout(wait, q.send(1, v)).await {
                        Ok(r) => {
                            r.unwrap();
                            sent.push(v);
                        }
                        Err(_) => cancelled.push(v),
                    }
                }
                (sent, cancelled)
            }));
        }
        let (mut sent, mut cancelled) = (Vec::new(), Vec::new());
        for s in senders {
            let (a, b) = s.await.unwrap();
            sent.extend(a);
            cancelled.extend(b);
        }
        // Sends interrupted late may still land: drain until the queue stays empty.
        while q.stat().unwrap().qnum > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.store(true, Ordering::Release);
        (sent, cancelled, receiver.await.unwrap())
    });
    let got_set: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(got_set.len(), got.len(), "a message arrived twice");
    for v in &sent {
        assert!(got_set.contains(v), "message {v} was sent (Ok) but never arrived");
    }
    let cancelled: BTreeSet<u64> = cancelled.into_iter().collect();
    assert!(!cancelled.is_empty(), "the test cancelled no send");
    assert!(got_set.iter().all(|v| sent.contains(v) || cancelled.contains(v)));
    println!(
        "    ({} sent, {} cancelled of which {} arrived anyway)",
        sent.len(),
        cancelled.len(),
        got_set.intersection(&cancelled).count()
    );
    q.remove().unwrap();
}

/// Code written once against `svipc::MessageQueue<T>`, run on both homes: only the line
/// that picks `me` differs.
async fn exchange(q: &svipc::MessageQueue<String>) -> (Vec<(i64, String)>, u64, ErrorKind, bool) {
    use futures::{SinkExt, StreamExt};
    let q2 = q.clone();
    let waiter = tokio::spawn(async move { q2.recv(Select::Type(2)).await });
    tokio::task::yield_now().await;
    q.send(1, "one".into()).await.unwrap();
    q.send(2, "two".into()).await.unwrap();
    let mut got = vec![waiter.await.unwrap().unwrap()];
    got.push(q.recv(Select::Any).await.unwrap());
    let timed_out = q.recv_timeout(Select::Any, Duration::from_millis(2)).await.unwrap_err();
    assert!(timed_out.is_timeout());
    q.try_send(3, "three".into()).unwrap();
    let qnum = q.stat().unwrap().qnum;
    got.push(q.blocking_recv_in_thread());
    let mut sink = q.sink(7);
    sink.send("via sink".into()).await.unwrap();
    let mut stream = q.stream(Select::Type(7));
    got.push(stream.next().await.unwrap().unwrap());
    q.remove().unwrap();
    let err = q.try_recv(Select::Any).unwrap_err();
    assert!(err.is_removed());
    // The stream ends with the queue.
    (got, qnum, err.kind(), stream.next().await.is_none())
}

/// `blocking_recv` from a plain thread, as a helper for [`exchange`].
trait BlockingInThread {
    fn blocking_recv_in_thread(&self) -> (i64, String);
}

impl BlockingInThread for svipc::MessageQueue<String> {
    fn blocking_recv_in_thread(&self) -> (i64, String) {
        let q = self.clone();
        std::thread::spawn(move || q.blocking_recv(Select::Any).unwrap()).join().unwrap()
    }
}

fn one_api_two_homes(rt: &tokio::runtime::Runtime) {
    let in_process = {
        let me = svipc::Process::current();
        let q = me.msg_queue::<String>(Key::PRIVATE).create(0o600).open().unwrap();
        rt.block_on(exchange(&q))
    };
    let host = {
        let me = Host::current();
        let q = me.msg_queue::<String>(Key::PRIVATE).create(0o600).open().unwrap();
        assert!(q.host().is_some());
        rt.block_on(exchange(&q))
    };
    assert_eq!(in_process, host);
    assert_eq!(
        host.0,
        [
            (2, "two".to_string()),
            (1, "one".to_string()),
            (3, "three".to_string()),
            (7, "via sink".to_string())
        ]
    );
    assert!(host.3, "the stream ended with the queue");
}
