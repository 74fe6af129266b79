//! Semaphore benchmarks: svipc's `SemaphoreSet` side by side with `tokio::sync::Semaphore`,
//! `async_lock::Semaphore` and the kernel's own `semop(2)` (libc, OS threads, a private set
//! removed afterwards), in one run:
//!
//! * `uncontended`: one acquire + release (-1 then +1 on one semaphore);
//! * `contended_4`: four contenders on one unit, each acquire + release;
//! * `two_sems`: take one unit of each of two semaphores (svipc and the kernel: one atomic
//!   semop; tokio and async-lock: two semaphores one after the other), give both back.
//!
//! Each on a `current_thread` and a `multi_thread` tokio runtime (2 workers). With
//! `SVIPC_BENCH_WORKERS` set, the scaling sweep runs instead: T tasks on one unit for every
//! worker count and T (`SVIPC_BENCH_T`), beside tokio and async-lock, and the kernel on T OS
//! threads (knobs in `lib.rs`; `scripts/scaling.sh` runs it). Run with
//! `cargo bench --bench sem`; BENCHMARKS.md has the figures.
#![cfg_attr(loom, allow(unused))]

#[cfg(not(loom))]
mod benches {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use criterion::{criterion_group, Bencher, Criterion, SamplingMode};
    use svipc::{Credentials, Key, Namespace, SemOp, SemaphoreSet};
    use svipc_benches::{per_run, runtime, scaled, Sweep, Timing};
    use tokio::runtime::{Builder, Runtime};

    fn runtimes() -> [(&'static str, Runtime); 2] {
        [
            ("current_thread", Builder::new_current_thread().build().unwrap()),
            ("multi_thread", Builder::new_multi_thread().worker_threads(2).build().unwrap()),
        ]
    }

    fn svipc_set(nsems: u16, val: u16) -> SemaphoreSet {
        let ns = Namespace::new();
        let set = ns
            .process(Credentials::new(0, 0))
            .sem_set(Key::PRIVATE)
            .create(0o600)
            .nsems(nsems)
            .open()
            .unwrap();
        set.set_all(&vec![val; usize::from(nsems)]).unwrap();
        set
    }

    /// Runs `per_task` iterations of `body` in each of `tasks` spawned tasks; the time of
    /// the whole, for `iters` operations in all.
    fn spawn_timed<S, F, Fut>(rt: &Runtime, iters: u64, tasks: u64, state: S, body: F) -> Duration
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let per = (iters / tasks).max(1);
        rt.block_on(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let s = state.clone();
                    tokio::spawn(async move {
                        for _ in 0..per {
                            body(s.clone()).await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            start.elapsed()
        })
    }

    pub(super) fn uncontended(c: &mut Criterion) {
        let mut g = c.benchmark_group("uncontended");
        for (rt_name, rt) in runtimes() {
            let set = svipc_set(1, 1);
            let (take, give) = ([SemOp::new(0, -1)], [SemOp::new(0, 1)]);
            g.bench_function(format!("svipc semop/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            set.semop(&take).await.unwrap();
                            set.semop(&give).await.unwrap();
                        }
                        start.elapsed()
                    })
                })
            });
            g.bench_function(format!("svipc acquire/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            drop(set.acquire(0, 1).await.unwrap());
                        }
                        start.elapsed()
                    })
                })
            });
            let sem = tokio::sync::Semaphore::new(1);
            g.bench_function(format!("tokio/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            drop(sem.acquire().await.unwrap());
                        }
                        start.elapsed()
                    })
                })
            });
            let sem = async_lock::Semaphore::new(1);
            g.bench_function(format!("async-lock/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            drop(sem.acquire().await);
                        }
                        start.elapsed()
                    })
                })
            });
        }
        #[cfg(target_os = "linux")]
        {
            let k = kernel::Set::new(2);
            g.bench_function("kernel semop/os_thread", |b| {
                b.iter(|| {
                    k.op(&[(0, 1)]);
                    k.op(&[(0, -1)]);
                })
            });
        }
        g.finish();
    }

    pub(super) fn contended(c: &mut Criterion) {
        let mut g = c.benchmark_group("contended_4");
        for (rt_name, rt) in runtimes() {
            let set = svipc_set(1, 1);
            g.bench_function(format!("svipc semop/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    spawn_timed(&rt, iters, 4, set.clone(), |set| async move {
                        set.semop(&[SemOp::new(0, -1)]).await.unwrap();
                        set.semop(&[SemOp::new(0, 1)]).await.unwrap();
                    })
                })
            });
            let sem = Arc::new(tokio::sync::Semaphore::new(1));
            g.bench_function(format!("tokio/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    spawn_timed(&rt, iters, 4, sem.clone(), |sem| async move {
                        drop(sem.acquire().await.unwrap());
                    })
                })
            });
            let sem = Arc::new(async_lock::Semaphore::new(1));
            g.bench_function(format!("async-lock/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    spawn_timed(&rt, iters, 4, sem.clone(), |sem| async move {
                        drop(sem.acquire().await);
                    })
                })
            });
        }
        #[cfg(target_os = "linux")]
        {
            let k = Arc::new(kernel::Set::new(2));
            k.op(&[(0, 1)]);
            g.bench_function("kernel semop/os_threads", |b| {
                b.iter_custom(|iters| {
                    let per = (iters / 4).max(1);
                    let start = Instant::now();
                    let ts: Vec<_> = (0..4)
                        .map(|_| {
                            let k = k.clone();
                            std::thread::spawn(move || {
                                for _ in 0..per {
                                    k.op(&[(0, -1)]);
                                    k.op(&[(0, 1)]);
                                }
                            })
                        })
                        .collect();
                    ts.into_iter().for_each(|t| t.join().unwrap());
                    start.elapsed()
                })
            });
        }
        g.finish();
    }

    pub(super) fn two_sems(c: &mut Criterion) {
        let mut g = c.benchmark_group("two_sems");
        for (rt_name, rt) in runtimes() {
            let set = svipc_set(2, 1);
            let take = [SemOp::new(0, -1), SemOp::new(1, -1)];
            let give = [SemOp::new(0, 1), SemOp::new(1, 1)];
            g.bench_function(format!("svipc semop/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            set.semop(&take).await.unwrap();
                            set.semop(&give).await.unwrap();
                        }
                        start.elapsed()
                    })
                })
            });
            let (s0, s1) = (tokio::sync::Semaphore::new(1), tokio::sync::Semaphore::new(1));
            g.bench_function(format!("tokio/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let a = s0.acquire().await.unwrap();
                            let b = s1.acquire().await.unwrap();
                            drop((a, b));
                        }
                        start.elapsed()
                    })
                })
            });
            let (s0, s1) = (async_lock::Semaphore::new(1), async_lock::Semaphore::new(1));
            g.bench_function(format!("async-lock/{rt_name}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let a = s0.acquire().await;
                            let b = s1.acquire().await;
                            drop((a, b));
                        }
                        start.elapsed()
                    })
                })
            });
        }
        #[cfg(target_os = "linux")]
        {
            let k = kernel::Set::new(2);
            k.op(&[(0, 1), (1, 1)]);
            g.bench_function("kernel semop/os_thread", |b| {
                b.iter(|| {
                    k.op(&[(0, -1), (1, -1)]);
                    k.op(&[(0, 1), (1, 1)]);
                })
            });
        }
        g.finish();
    }

    /// The kernel's semaphores through libc: a private set, removed on drop.
    #[cfg(target_os = "linux")]
    mod kernel {
        pub(super) struct Set(libc::c_int);

        impl Set {
            pub(super) fn new(nsems: i32) -> Set {
                // SAFETY: semget takes no pointers.
                let id = unsafe { libc::semget(libc::IPC_PRIVATE, nsems, libc::IPC_CREAT | 0o600) };
                assert!(id >= 0, "semget: {}", std::io::Error::last_os_error());
                Set(id)
            }

            pub(super) fn op(&self, ops: &[(u16, i16)]) {
                let mut bufs: [libc::sembuf; 2] = [libc::sembuf { sem_num: 0, sem_op: 0, sem_flg: 0 }; 2];
                for (b, &(num, op)) in bufs.iter_mut().zip(ops) {
                    *b = libc::sembuf { sem_num: num, sem_op: op, sem_flg: 0 };
                }
                // SAFETY: `bufs` holds `ops.len()` (at most 2) initialized sembufs for the call.
                let r = unsafe { libc::semop(self.0, bufs.as_mut_ptr(), ops.len()) };
                assert_eq!(r, 0, "semop: {}", std::io::Error::last_os_error());
            }
        }

        impl Drop for Set {
            fn drop(&mut self) {
                // SAFETY: IPC_RMID takes no buffer argument.
                unsafe { libc::semctl(self.0, 0, libc::IPC_RMID) };
            }
        }
    }

    /// Runs `t` tasks that each do `per` acquire + release pairs through `body` on `rt`,
    /// for criterion's `iters` pairs in all (rounded up to a multiple of `t` and scaled back),
    /// so that the reported time per iteration is the time per pair.
    fn per_pair<S, F, Fut>(b: &mut Bencher<'_>, rt: &Runtime, t: usize, state: S, body: F)
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        b.iter_custom(|iters| {
            let n = per_run(iters, t as u64);
            let elapsed = spawn_timed(rt, n, t as u64, state.clone(), body);
            scaled(elapsed, n, iters)
        })
    }

    /// The scaling sweep (`SVIPC_BENCH_WORKERS` set): T tasks on one unit, each taking it and
    /// giving it back, for every worker count and T; ids `sem/contended_t{T}/w{workers}/{peer}`,
    /// time per pair. The kernel runs T OS threads (`sem/contended_t{T}/os_threads/kernel`).
    pub(super) fn sweep(c: &mut Criterion, s: &Sweep) {
        for &w in &s.workers {
            let rt = runtime(w);
            for &t in &s.contenders {
                let mut g = c.benchmark_group(format!("sem/contended_t{t}/w{w}"));
                g.sampling_mode(SamplingMode::Flat);
                g.bench_function("svipc", |b| {
                    per_pair(b, &rt, t, svipc_set(1, 1), |set| async move {
                        set.semop(&[SemOp::new(0, -1)]).await.unwrap();
                        set.semop(&[SemOp::new(0, 1)]).await.unwrap();
                    })
                });
                g.bench_function("tokio", |b| {
                    per_pair(b, &rt, t, Arc::new(tokio::sync::Semaphore::new(1)), |sem| async move {
                        drop(sem.acquire().await.unwrap());
                    })
                });
                g.bench_function("async_lock", |b| {
                    per_pair(b, &rt, t, Arc::new(async_lock::Semaphore::new(1)), |sem| async move {
                        drop(sem.acquire().await);
                    })
                });
                g.finish();
            }
        }
        #[cfg(target_os = "linux")]
        for &t in &s.contenders {
            let k = Arc::new(kernel::Set::new(1));
            k.op(&[(0, 1)]);
            let mut g = c.benchmark_group(format!("sem/contended_t{t}/os_threads"));
            g.sampling_mode(SamplingMode::Flat);
            g.bench_function("kernel", |b| {
                b.iter_custom(|iters| {
                    let n = per_run(iters, t as u64);
                    let start = Instant::now();
                    std::thread::scope(|sc| {
                        for _ in 0..t {
                            sc.spawn(|| {
                                for _ in 0..n / t as u64 {
                                    k.op(&[(0, -1)]);
                                    k.op(&[(0, 1)]);
                                }
                            });
                        }
                    });
                    scaled(start.elapsed(), n, iters)
                })
            });
            g.finish();
        }
    }

    fn timing() -> Timing {
        Timing { samples: 10, warm_up: Duration::from_millis(300), measure: Duration::from_millis(1000) }
            .with_env()
    }

    fn config() -> Criterion {
        let t = timing();
        Criterion::default().sample_size(t.samples).warm_up_time(t.warm_up).measurement_time(t.measure)
    }

    criterion_group! {
        name = group;
        config = config();
        targets = uncontended, contended, two_sems
    }

    pub(super) fn main() {
        match Sweep::from_env() {
            Some(s) => {
                let mut c = config().configure_from_args();
                sweep(&mut c, &s);
                c.final_summary();
            }
            None => {
                group();
                Criterion::default().configure_from_args().final_summary();
            }
        }
    }
}

fn main() {
    #[cfg(not(loom))]
    benches::main();
}
