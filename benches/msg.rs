//! Message queues side by side with their peers, in one run: svipc, tokio mpsc,
//! async-channel, flume, kanal and the kernel's msgsnd/msgrcv (libc, OS threads).
//!
//! * throughput: u64 messages through a queue of about 1024 messages (svipc and the kernel:
//!   `msg_qbytes = 8192`), SPSC, MPSC 4:1, MPMC 4x4 (tokio mpsc has one consumer: n/a),
//!   and a ping-pong round trip, each on a current-thread and a multi-thread (2 workers)
//!   runtime;
//! * selection: `recv(Type(1))` behind 0, 100, 10,000 and 100,000 messages of type 2,
//!   svipc vs the kernel's scan.
//!
//! The scaling sweep (MPSC P:1 and MPMC PxP over worker counts, beside the same peers; the
//! kernel for P = 8) runs instead when `SVIPC_BENCH_WORKERS` is set; the knobs are in
//! `lib.rs`, and `scripts/scaling.sh` runs the whole sweep and prints its table.
//!
//! `cargo bench --bench msg`; results and ratios in BENCHMARKS.md.
#![cfg_attr(loom, allow(unused))]

#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() {
    imp::main();
}

#[cfg(not(loom))]
mod imp {
    use std::future::Future;
    use std::time::{Duration, Instant};

    use criterion::{Bencher, BenchmarkId, Criterion, SamplingMode, Throughput};
    use svipc::msg::MsqidSet;
    use svipc::{Credentials, Key, MessageQueue, Namespace, Select};
    use svipc_benches::{per_run, runtime, scaled, Sweep, Timing};
    use tokio::runtime::Runtime;

    /// Messages per measured iteration of the throughput benches.
    const N: usize = 8_000;
    /// Round trips per measured iteration of ping-pong.
    const PINGS: usize = 1_000;
    const CAP: usize = 1024;

    fn runtimes() -> [(&'static str, Runtime); 2] {
        [
            ("current_thread", tokio::runtime::Builder::new_current_thread().build().unwrap()),
            ("multi_thread", tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap()),
        ]
    }

    fn svipc_queue(qbytes: u64) -> MessageQueue<u64> {
        let ns = Namespace::new();
        let me = ns.process(Credentials::new(0, 0));
        let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
        q
    }

    /// Spawns `p` producers sending `n / p` messages each and `c` consumers receiving
    /// `n / c` each (`n` a multiple of both), and waits for all of them.
    macro_rules! flow {
        ($n:expr, $p:expr, $c:expr, ($tx:ident, $rx:ident) = $make:expr, send($t:ident, $v:ident) $send:block, recv($r:ident) $recv:block) => {{
            let ($tx, $rx) = $make;
            let mut hs = Vec::new();
            for _ in 0..$p {
                let $t = $tx.clone();
                hs.push(tokio::spawn(async move {
                    for $v in 0..($n / $p) as u64 {
                        $send
                    }
                }));
            }
            for _ in 0..$c {
                let $r = $rx.clone();
                hs.push(tokio::spawn(async move {
                    for _ in 0..$n / $c {
                        $recv
                    }
                }));
            }
            drop(($tx, $rx));
            for h in hs {
                h.await.unwrap();
            }
        }};
    }

    async fn svipc_flow(n: usize, p: usize, c: usize) {
        flow!(n, p, c, (tx, rx) = { let q = svipc_queue((CAP * 8) as u64); (q.clone(), q) },
            send(t, v) { t.send(1, v).await.unwrap(); },
            recv(r) { r.recv(Select::Any).await.unwrap(); })
    }

    async fn async_channel_flow(n: usize, p: usize, c: usize) {
        flow!(n, p, c, (tx, rx) = async_channel::bounded::<u64>(CAP),
            send(t, v) { t.send(v).await.unwrap(); },
            recv(r) { r.recv().await.unwrap(); })
    }

    async fn flume_flow(n: usize, p: usize, c: usize) {
        flow!(n, p, c, (tx, rx) = flume::bounded::<u64>(CAP),
            send(t, v) { t.send_async(v).await.unwrap(); },
            recv(r) { r.recv_async().await.unwrap(); })
    }

    async fn kanal_flow(n: usize, p: usize, c: usize) {
        flow!(n, p, c, (tx, rx) = kanal::bounded_async::<u64>(CAP),
            send(t, v) { t.send(v).await.unwrap(); },
            recv(r) { r.recv().await.unwrap(); })
    }

    async fn tokio_flow(n: usize, p: usize) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAP);
        let mut hs = Vec::new();
        for _ in 0..p {
            let t = tx.clone();
            hs.push(tokio::spawn(async move {
                for v in 0..(n / p) as u64 {
                    t.send(v).await.unwrap();
                }
            }));
        }
        drop(tx);
        for _ in 0..n {
            rx.recv().await.unwrap();
        }
        for h in hs {
            h.await.unwrap();
        }
    }

    async fn svipc_ping() {
        let q = svipc_queue((CAP * 8) as u64);
        let echo = q.clone();
        let h = tokio::spawn(async move {
            for _ in 0..PINGS {
                let (_, v) = echo.recv(Select::Type(1)).await.unwrap();
                echo.send(2, v).await.unwrap();
            }
        });
        for v in 0..PINGS as u64 {
            q.send(1, v).await.unwrap();
            q.recv(Select::Type(2)).await.unwrap();
        }
        h.await.unwrap();
    }

    macro_rules! ping {
        ($make:expr, send($t:ident, $v:ident) $send:block, recv($r:ident) $recv:expr) => {{
            let (tx1, rx1) = $make;
            let (tx2, rx2) = $make;
            #[allow(unused_mut)]
            let mut rx1 = rx1;
            #[allow(unused_mut)]
            let mut rx2 = rx2;
            let h = tokio::spawn(async move {
                for _ in 0..PINGS {
                    let v = {
                        let $r = &mut rx1;
                        $recv
                    };
                    {
                        let $t = &tx2;
                        let $v = v;
                        $send
                    }
                }
            });
            for v in 0..PINGS as u64 {
                {
                    let $t = &tx1;
                    let $v = v;
                    $send
                }
                let _ = {
                    let $r = &mut rx2;
                    $recv
                };
            }
            h.await.unwrap();
        }};
    }

    async fn tokio_ping() {
        ping!(tokio::sync::mpsc::channel::<u64>(CAP), send(t, v) { t.send(v).await.unwrap(); }, recv(r) r.recv().await.unwrap())
    }
    async fn async_channel_ping() {
        ping!(async_channel::bounded::<u64>(CAP), send(t, v) { t.send(v).await.unwrap(); }, recv(r) r.recv().await.unwrap())
    }
    async fn flume_ping() {
        ping!(flume::bounded::<u64>(CAP), send(t, v) { t.send_async(v).await.unwrap(); }, recv(r) r.recv_async().await.unwrap())
    }
    async fn kanal_ping() {
        ping!(kanal::bounded_async::<u64>(CAP), send(t, v) { t.send(v).await.unwrap(); }, recv(r) r.recv().await.unwrap())
    }

    // ----- the kernel -----

    #[cfg(target_os = "linux")]
    mod kernel {
        #[repr(C)]
        struct Buf {
            mtype: libc::c_long,
            v: u64,
        }

        /// A private queue, removed on drop.
        pub(super) struct Kq(pub(super) i32);

        impl Kq {
            pub(super) fn new(qbytes: Option<u64>) -> Kq {
                // SAFETY: msgget takes no pointers.
                let id = unsafe { libc::msgget(libc::IPC_PRIVATE, 0o600 | libc::IPC_CREAT) };
                assert!(id >= 0, "msgget: {}", std::io::Error::last_os_error());
                if let Some(qbytes) = qbytes {
                    // SAFETY: msqid_ds is plain integers; all-zero is a valid value.
                    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
                    // SAFETY: `ds` is a valid msqid_ds for the kernel to fill and read.
                    unsafe {
                        assert_eq!(libc::msgctl(id, libc::IPC_STAT, &mut ds), 0);
                        ds.msg_qbytes = qbytes as _;
                        assert_eq!(
                            libc::msgctl(id, libc::IPC_SET, &mut ds),
                            0,
                            "{}",
                            std::io::Error::last_os_error()
                        );
                    }
                }
                Kq(id)
            }

            pub(super) fn send(&self, mtype: i64, v: u64) {
                let buf = Buf { mtype: mtype as libc::c_long, v };
                // SAFETY: `buf` is a valid msgbuf with 8 bytes of text.
                let r = unsafe { libc::msgsnd(self.0, (&buf as *const Buf).cast(), 8, 0) };
                assert_eq!(r, 0, "msgsnd: {}", std::io::Error::last_os_error());
            }

            pub(super) fn recv(&self, msgtyp: i64) -> u64 {
                let mut buf = Buf { mtype: 0, v: 0 };
                // SAFETY: `buf` has room for 8 bytes of text.
                let r = unsafe {
                    libc::msgrcv(self.0, (&mut buf as *mut Buf).cast(), 8, msgtyp as libc::c_long, 0)
                };
                assert_eq!(r, 8, "msgrcv: {}", std::io::Error::last_os_error());
                buf.v
            }
        }

        impl Drop for Kq {
            fn drop(&mut self) {
                // SAFETY: IPC_RMID takes no buffer.
                unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
            }
        }

        pub(super) fn flow(n: usize, p: usize, c: usize) {
            let q = std::sync::Arc::new(Kq::new(Some((super::CAP * 8) as u64)));
            std::thread::scope(|s| {
                for _ in 0..p {
                    let q = &q;
                    s.spawn(move || (0..(n / p) as u64).for_each(|v| q.send(1, v)));
                }
                for _ in 0..c {
                    let q = &q;
                    s.spawn(move || {
                        (0..n / c).for_each(|_| {
                            q.recv(0);
                        })
                    });
                }
            });
        }

        pub(super) fn ping() {
            let q = Kq::new(None);
            std::thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..super::PINGS {
                        let v = q.recv(1);
                        q.send(2, v);
                    }
                });
                for v in 0..super::PINGS as u64 {
                    q.send(1, v);
                    q.recv(2);
                }
            });
        }

        /// Sets /proc/sys/kernel/msgmnb (root without CAP_SYS_RESOURCE cannot IPC_SET a
        /// larger msg_qbytes, but a new queue takes msgmnb), returning the old value.
        pub(super) fn set_msgmnb(v: u64) -> Option<u64> {
            let old = std::fs::read_to_string("/proc/sys/kernel/msgmnb").ok()?.trim().parse().ok()?;
            std::fs::write("/proc/sys/kernel/msgmnb", v.to_string()).ok()?;
            Some(old)
        }
    }

    fn throughput(c: &mut Criterion) {
        for (rt_name, rt) in runtimes() {
            for (pattern, p, cons) in [("spsc", 1, 1), ("mpsc_4x1", 4, 1), ("mpmc_4x4", 4, 4)] {
                let mut g = c.benchmark_group(format!("msg/{pattern}/{rt_name}"));
                g.throughput(Throughput::Elements(N as u64));
                g.bench_function("svipc", |b| b.iter(|| rt.block_on(svipc_flow(N, p, cons))));
                g.bench_function("async_channel", |b| b.iter(|| rt.block_on(async_channel_flow(N, p, cons))));
                g.bench_function("flume", |b| b.iter(|| rt.block_on(flume_flow(N, p, cons))));
                g.bench_function("kanal", |b| b.iter(|| rt.block_on(kanal_flow(N, p, cons))));
                if cons == 1 {
                    g.bench_function("tokio_mpsc", |b| b.iter(|| rt.block_on(tokio_flow(N, p))));
                }
                #[cfg(target_os = "linux")]
                if rt_name == "current_thread" {
                    g.bench_function("kernel", |b| b.iter(|| kernel::flow(N, p, cons)));
                }
                g.finish();
            }
            let mut g = c.benchmark_group(format!("msg/ping_pong/{rt_name}"));
            g.throughput(Throughput::Elements(PINGS as u64));
            g.bench_function("svipc", |b| b.iter(|| rt.block_on(svipc_ping())));
            g.bench_function("tokio_mpsc", |b| b.iter(|| rt.block_on(tokio_ping())));
            g.bench_function("async_channel", |b| b.iter(|| rt.block_on(async_channel_ping())));
            g.bench_function("flume", |b| b.iter(|| rt.block_on(flume_ping())));
            g.bench_function("kanal", |b| b.iter(|| rt.block_on(kanal_ping())));
            #[cfg(target_os = "linux")]
            if rt_name == "current_thread" {
                g.bench_function("kernel", |b| b.iter(kernel::ping));
            }
            g.finish();
        }
    }

    fn selection(c: &mut Criterion) {
        let mut g = c.benchmark_group("msg/recv_type_behind");
        for behind in [0u64, 100, 10_000, 100_000] {
            let q = svipc_queue((behind + 1) * 8);
            for v in 0..behind {
                q.try_send(2, v).unwrap();
            }
            g.bench_with_input(BenchmarkId::new("svipc", behind), &behind, |b, _| {
                b.iter(|| {
                    q.try_send(1, 7).unwrap();
                    q.try_recv(Select::Type(1)).unwrap()
                })
            });
            #[cfg(target_os = "linux")]
            {
                let need = (behind + 1) * 8;
                let old = if need > 16384 { kernel::set_msgmnb(need) } else { None };
                if need > 16384 && old.is_none() {
                    eprintln!("kernel: cannot raise msgmnb to {need}; skipping N = {behind}");
                    continue;
                }
                let kq = kernel::Kq::new(None);
                if let Some(old) = old {
                    kernel::set_msgmnb(old);
                }
                for v in 0..behind {
                    kq.send(2, v);
                }
                g.bench_with_input(BenchmarkId::new("kernel", behind), &behind, |b, _| {
                    b.iter(|| {
                        kq.send(1, 7);
                        kq.recv(1)
                    })
                });
            }
        }
        g.finish();
    }

    /// Runs `run(n)` (a flow of `n` messages, `n` a multiple of `unit`) for criterion's
    /// `iters`, so that the reported time per iteration is the time per message.
    fn per_message<F, Fut>(b: &mut Bencher<'_>, rt: &Runtime, unit: usize, run: F)
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = ()>,
    {
        b.iter_custom(|iters| {
            let n = per_run(iters, unit as u64);
            let start = Instant::now();
            rt.block_on(run(n as usize));
            scaled(start.elapsed(), n, iters)
        })
    }

    /// The scaling sweep (`SVIPC_BENCH_WORKERS` set): MPSC P:1 and MPMC PxP for every worker
    /// count and P, ids `msg/mpsc_{P}x1/w{workers}/{peer}` and `msg/mpmc_{P}x{P}/w{workers}/{peer}`,
    /// time per message. The kernel runs on OS threads (`msg/{pattern}/os_threads/kernel`),
    /// once per pattern and only for P = 8 (its figure does not depend on the runtime, and it
    /// is the slowest row by 4x). MPMC 1x1 is MPSC 1:1 and is not run twice.
    fn sweep(c: &mut Criterion, s: &Sweep) {
        for &w in &s.workers {
            let rt = runtime(w);
            for pattern in ["mpsc", "mpmc"].into_iter().filter(|p| s.has(p)) {
                for &p in &s.producers {
                    let cons = if pattern == "mpsc" { 1 } else { p };
                    if pattern == "mpmc" && p == 1 {
                        continue;
                    }
                    let unit = p * cons;
                    let mut g = c.benchmark_group(format!("msg/{pattern}_{p}x{cons}/w{w}"));
                    g.sampling_mode(SamplingMode::Flat);
                    g.bench_function("svipc", |b| per_message(b, &rt, unit, |n| svipc_flow(n, p, cons)));
                    g.bench_function("async_channel", |b| {
                        per_message(b, &rt, unit, |n| async_channel_flow(n, p, cons))
                    });
                    if cons == 1 {
                        g.bench_function("tokio_mpsc", |b| per_message(b, &rt, unit, |n| tokio_flow(n, p)));
                    }
                    g.bench_function("kanal", |b| per_message(b, &rt, unit, |n| kanal_flow(n, p, cons)));
                    g.bench_function("flume", |b| per_message(b, &rt, unit, |n| flume_flow(n, p, cons)));
                    g.finish();
                }
            }
        }
        #[cfg(target_os = "linux")]
        for pattern in ["mpsc", "mpmc"].into_iter().filter(|p| s.has(p)) {
            if !s.producers.contains(&8) {
                continue;
            }
            let (p, cons) = if pattern == "mpsc" { (8, 1) } else { (8, 8) };
            let mut g = c.benchmark_group(format!("msg/{pattern}_{p}x{cons}/os_threads"));
            g.sampling_mode(SamplingMode::Flat);
            g.bench_function("kernel", |b| {
                b.iter_custom(|iters| {
                    let n = per_run(iters, (p * cons) as u64);
                    let start = Instant::now();
                    kernel::flow(n as usize, p, cons);
                    scaled(start.elapsed(), n, iters)
                })
            });
            g.finish();
        }
    }

    pub(super) fn main() {
        let t =
            Timing { samples: 10, warm_up: Duration::from_millis(300), measure: Duration::from_millis(900) }
                .with_env();
        let mut c = Criterion::default()
            .sample_size(t.samples)
            .warm_up_time(t.warm_up)
            .measurement_time(t.measure)
            .configure_from_args();
        match Sweep::from_env() {
            Some(s) => sweep(&mut c, &s),
            None => {
                throughput(&mut c);
                selection(&mut c);
            }
        }
        c.final_summary();
    }
}
