//! The host backend's measurements (BENCHMARKS.md, "Host kernel"), run on request only:
//!
//! ```console
//! cargo test --release --test host -- --measure
//! ```
//!
//! Nothing here is asserted (speed is never a test); it prints figures. Each figure is the
//! best of several rounds, to damp a shared machine's noise.
//!
//! 1. **Non-blocking path**: a `try_send` + `try_recv` pair through the typed layer
//!    (`Queue<u64>`, `Queue<SizeOf<Order>>`) against the same two raw `msgsnd`/`msgrcv`
//!    calls with `IPC_NOWAIT` on a stack buffer.
//! 2. **Wake-up latency, C-to-Rust ping-pong**: a round trip to the C peer (`peer echo`)
//!    blocked in `msgrcv`, from a thread blocked in `msgrcv` (raw), from a tokio task awaiting `recv` (the
//!    waiter thread), and from a tokio task polling `try_recv` with adaptive back-off (the
//!    alternative: yield 64 times, then sleep 1 ms).
//! 3. **Idle cost**: CPU time of the whole process over one second while one receive waits
//!    and nothing arrives, for the waiter thread and for the polling alternative; threads
//!    used.

use std::time::{Duration, Instant};

use svipc::host::Host;
use svipc::msg::SizeOf;
use svipc::{Key, Select};

use super::Order;

const ROUNDS: usize = 5;

/// Best ns per iteration of `f(iters)` over [`ROUNDS`] rounds.
fn best(iters: u64, mut f: impl FnMut(u64)) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f(iters);
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

#[repr(C)]
struct RawMsg {
    mtype: libc::c_long,
    text: [u8; 16],
}

fn raw_send(id: i32, mtype: i64, text: &[u8], flags: i32) -> isize {
    let mut m = RawMsg { mtype: mtype as libc::c_long, text: [0; 16] };
    m.text[..text.len()].copy_from_slice(text);
    // SAFETY: `m` is a valid msgbuf with `text.len()` (<= 16) bytes of text.
    unsafe { libc::msgsnd(id, (&m as *const RawMsg).cast(), text.len(), flags) as isize }
}

fn raw_recv(id: i32, msgtyp: i64, len: usize, flags: i32) -> (isize, RawMsg) {
    let mut m = RawMsg { mtype: 0, text: [0; 16] };
    // SAFETY: `m` has room for the type and `len` (<= 16) bytes of text.
    let n = unsafe { libc::msgrcv(id, (&mut m as *mut RawMsg).cast(), len, msgtyp as libc::c_long, flags) };
    (n, m)
}

/// CPU time of the whole process, user + system, in µs (`getrusage(RUSAGE_SELF)`).
fn cpu_us() -> u64 {
    // SAFETY: `ru` is a writable `struct rusage`, which getrusage fills.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0);
        ru
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// `try_recv` calls made by the polling alternatives.
static POLLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `try_recv` with adaptive back-off: the polling alternative to a waiter thread.
async fn poll_recv(q: &svipc::MessageQueue<u64>, select: Select) -> (i64, u64) {
    let mut tries = 0u32;
    let mut sleep = Duration::from_millis(1);
    loop {
        POLLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match q.try_recv(select) {
            Ok(m) => return m,
            Err(e) => assert!(e.is_no_message(), "{e}"),
        }
        tries += 1;
        if tries < 64 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(sleep).await;
            sleep = (sleep * 2).min(Duration::from_millis(8));
        }
    }
}

pub fn run() {
    let me = Host::current();
    println!("svipc::host measurements (best of {ROUNDS} rounds)");
    let only = std::env::var("SVIPC_MEASURE").unwrap_or_default();

    // 1. The non-blocking path.
    let q = me.msg_queue::<u64>(Key::PRIVATE).create(0o600).open().unwrap();
    let id = q.id();
    let n: u64 = std::env::var("SVIPC_MEASURE_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    // One loop alone (`SVIPC_MEASURE=raw`, `typed`, `raw16`, `pod`): for callgrind, whose
    // instruction counts at two iteration counts give the instructions per pair.
    let want = |name: &str| only.is_empty() || only == "nonblocking" || only == name;
    let skip = |_: u64| {};
    let raw = best(n, |n| {
        if !want("raw") {
            return skip(n);
        }
        for i in 0..n {
            assert_eq!(raw_send(id, 1, &i.to_ne_bytes(), libc::IPC_NOWAIT), 0);
            assert_eq!(raw_recv(id, 0, 8, libc::IPC_NOWAIT).0, 8);
        }
    });
    let typed = best(n, |n| {
        if !want("typed") {
            return skip(n);
        }
        for i in 0..n {
            q.try_send(1, i).unwrap();
            assert_eq!(q.try_recv(Select::Any).unwrap().1, i);
        }
    });
    let pods = me.msg_queue_by_id::<SizeOf<Order>>(id).unwrap();
    let order = Order { id: 1, qty: 2, price: 3 };
    let raw16 = best(n, |n| {
        if !want("raw16") {
            return skip(n);
        }
        let b = bytemuck::bytes_of(&order);
        for _ in 0..n {
            assert_eq!(raw_send(id, 1, b, libc::IPC_NOWAIT), 0);
            assert_eq!(raw_recv(id, 0, 16, libc::IPC_NOWAIT).0, 16);
        }
    });
    let pod = best(n, |n| {
        if !want("pod") {
            return skip(n);
        }
        for _ in 0..n {
            pods.try_send(1, SizeOf(order)).unwrap();
            assert_eq!(pods.try_recv(Select::Any).unwrap().1 .0, order);
        }
    });
    println!("non-blocking try_send + try_recv pair, ns:");
    println!("  raw msgsnd+msgrcv u64       {raw:8.0}");
    println!("  MessageQueue<u64>           {typed:8.0}   ({:.3}x raw)", typed / raw);
    println!("  raw msgsnd+msgrcv 16 bytes  {raw16:8.0}");
    println!("  MessageQueue<SizeOf<Order>> {pod:8.0}   ({:.3}x raw)", pod / raw16);
    if !only.is_empty() {
        // For callgrind: the non-blocking pair alone (`SVIPC_MEASURE=nonblocking`).
        q.remove().unwrap();
        return;
    }

    // 2. Wake-up latency: round trips to an echo thread blocked in msgrcv.
    let peer = super::peer().expect("the measurements need the C peer (a C compiler)");
    let mut echo = std::process::Command::new(peer).args(["echo", &id.to_string()]).spawn().unwrap();
    let trips = 2000;
    let raw_rt = best(trips, |n| {
        for i in 0..n {
            assert_eq!(raw_send(id, 1, &i.to_ne_bytes(), 0), 0);
            assert_eq!(raw_recv(id, 2, 8, 0).0, 8);
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let awaited = best(trips, |n| {
        rt.block_on(async {
            for i in 0..n {
                q.send(1, i).await.unwrap();
                assert_eq!(q.recv(Select::Type(2)).await.unwrap().1, i);
            }
        })
    });
    let polled = best(trips / 4, |n| {
        rt.block_on(async {
            for i in 0..n {
                q.send(1, i).await.unwrap();
                assert_eq!(poll_recv(&q, Select::Type(2)).await.1, i);
            }
        })
    });
    q.try_send(1, u64::MAX).unwrap();
    assert!(echo.wait().unwrap().success());
    assert_eq!(q.try_recv(Select::Type(2)).unwrap().1, u64::MAX);
    println!("C-to-Rust ping-pong: round trip to a C process blocked in msgrcv, ns:");
    println!("  thread blocked in msgrcv              {raw_rt:9.0}");
    println!("  awaited recv (waiter thread)          {awaited:9.0}   ({:.2}x)", awaited / raw_rt);
    println!("  polled try_recv, adaptive back-off    {polled:9.0}   ({:.2}x)", polled / raw_rt);

    // 3. Idle: one receive waiting, nothing arriving, for one second.
    let idle = |label: &str, fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>| {
        rt.block_on(async {
            let mut fut = fut;
            // Start it (it goes to sleep), then measure a second of waiting.
            let _ = tokio::time::timeout(Duration::from_millis(50), &mut fut).await;
            let (c0, p0) = (cpu_us(), POLLS.load(std::sync::atomic::Ordering::Relaxed));
            let _ = tokio::time::timeout(Duration::from_secs(1), &mut fut).await;
            let cpu = (cpu_us() - c0) as f64 / 1000.0;
            let polls = POLLS.load(std::sync::atomic::Ordering::Relaxed) - p0;
            println!(
                "  {label:38} {cpu:8.2} ms CPU, {polls:8} try_recv calls, {} waiter threads",
                svipc::host::waiter_threads()
            );
        })
    };
    println!("one idle receive for one second (the whole process):");
    idle(
        "awaited recv (waiter thread)",
        Box::pin(async {
            let _ = q.recv(Select::Type(9)).await;
        }),
    );
    idle(
        "polled try_recv, adaptive back-off",
        Box::pin(async {
            let _ = poll_recv(&q, Select::Type(9)).await;
        }),
    );
    idle(
        "polled try_recv, yield only (spinning)",
        Box::pin(async {
            while q.try_recv(Select::Type(9)).is_err() {
                POLLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }),
    );
    q.remove().unwrap();
}
