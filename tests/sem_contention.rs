//! A semaphore handed from task to task: T tasks on one unit, each taking it (`semop` -1) and
//! giving it back (+1), on a multi-thread tokio runtime; and the uncontended `acquire` guard
//! beside two plain `semop`s.
//!
//! The always-on tests check that nothing is lost (every pair done, the unit back at the
//! end); `sem_costs.rs` pins the cost of one hand-off in events.
//!
//! The `#[ignore]`d drivers are the measurements of BENCHMARKS.md's "Semaphores under
//! contention":
//!
//! ```text
//! cargo test --release --features counters --test sem_contention -- --ignored --nocapture counters_per_pair
//! SEM_DRIVER=svipc SEM_TASKS=4 SEM_PAIRS=20000 valgrind --tool=callgrind \
//!     target/release/deps/sem_contention-* --ignored --exact driver
//! ```
//!
//! `timed_pairs` prints wall-clock ns per pair, svipc beside tokio (idle machine only:
//! `cargo test --release --test sem_contention -- --ignored --nocapture timed_pairs`).
//! `dynamics` prints, beside the time, what the runtime did per pair on a multi-thread
//! runtime: the acquires that slept, the workers' parks and their busy time (`--nocapture
//! dynamics`; BENCHMARKS.md, round 9 of "Semaphores under contention").
//!
//! `SEM_DRIVER` is `svipc` or `tokio` (the contended pair on `tokio::sync::Semaphore`),
//! `semop` or `acquire` (the uncontended pair), `two` (the uncontended two-semaphore pair:
//! one atomic `semop` taking a unit of each, one giving both back). `SEM_WORKERS` (default
//! 0: a current-thread runtime, the deterministic choice for instruction counts) and
//! `SEM_HOLD` (default 1: the holder yields once, so every pair is a hand-off) and
//! `SEM_CLONE` (default 0; 1: every pair on a fresh clone of the task's handle, dropped
//! after it, as the criterion rows' bodies do) shape the contended runs.

use std::sync::Arc;

use svipc::{Credentials, Key, Namespace, SemOp, SemaphoreSet};
use tokio::runtime::{Builder, Runtime};

fn one_unit() -> SemaphoreSet {
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
    set.set_val(0, 1).unwrap();
    set
}

/// A multi-thread runtime with `workers` workers; 0: a current-thread one.
fn runtime(workers: usize) -> Runtime {
    match workers {
        0 => Builder::new_current_thread().build().unwrap(),
        n => Builder::new_multi_thread().worker_threads(n).build().unwrap(),
    }
}

/// How a driver's tasks use their handle: `hold` (each task yields to the scheduler while it
/// holds the unit, so that on a current-thread runtime every other task finds it taken and
/// sleeps: every pair a hand-off, deterministically) and `clone_each` (each pair runs on a
/// clone of the task's handle, dropped after it, as the criterion rows' bodies do).
#[derive(Clone, Copy)]
struct Shape {
    hold: bool,
    clone_each: bool,
}

/// `tasks` tasks, `pairs` pairs each, on one unit of `set`, shaped by `shape`.
fn svipc_contended(rt: &Runtime, set: &SemaphoreSet, tasks: usize, pairs: usize, shape: Shape) {
    let Shape { hold, clone_each } = shape;
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let set = set.clone();
                tokio::spawn(async move {
                    for _ in 0..pairs {
                        let each = clone_each.then(|| set.clone());
                        let set = each.as_ref().unwrap_or(&set);
                        set.semop(&[SemOp::new(0, -1)]).await.unwrap();
                        if hold {
                            tokio::task::yield_now().await;
                        }
                        set.semop(&[SemOp::new(0, 1)]).await.unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

/// The same driver on `tokio::sync::Semaphore`.
fn tokio_contended(
    rt: &Runtime,
    sem: &Arc<tokio::sync::Semaphore>,
    tasks: usize,
    pairs: usize,
    shape: Shape,
) {
    let Shape { hold, clone_each } = shape;
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let sem = sem.clone();
                tokio::spawn(async move {
                    for _ in 0..pairs {
                        let each = clone_each.then(|| sem.clone());
                        let sem = each.as_ref().unwrap_or(&sem);
                        let permit = sem.acquire().await.unwrap();
                        if hold {
                            tokio::task::yield_now().await;
                        }
                        drop(permit);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn contended_pairs_keep_the_unit() {
    for (workers, tasks) in [(2, 2), (2, 8), (4, 16)] {
        let set = one_unit();
        let rt = runtime(workers);
        svipc_contended(&rt, &set, tasks, 500, Shape { hold: false, clone_each: false });
        assert_eq!(set.get_val(0).unwrap(), 1, "{workers} workers, {tasks} tasks");
        assert_eq!(set.get_ncnt(0).unwrap(), 0);
    }
}

#[test]
fn acquire_guards_hand_the_unit_on() {
    let set = one_unit();
    let rt = runtime(2);
    rt.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let set = set.clone();
                tokio::spawn(async move {
                    for _ in 0..500 {
                        let permit = set.acquire(0, 1).await.unwrap();
                        assert_eq!(set.get_val(0).unwrap(), 0, "one holder at a time");
                        drop(permit);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(set.get_val(0).unwrap(), 1);
}

#[test]
fn sleepers_dropped_after_the_hand_off_give_the_units_back_from_mailbox_and_entry() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let set = one_unit();
    set.set_val(0, 0).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let take = [SemOp::new(0, -1)];
    let (mut a, mut b) = (Box::pin(set.semop(&take)), Box::pin(set.semop(&take)));
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    // One release completes both: a's outcome goes to the mailbox, b's stays in its entry.
    set.try_semop(&[SemOp::new(0, 2)]).unwrap();
    assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (0, 0));
    drop(a); // poll once, then drop: the performed -1 is given back (from the mailbox)
    assert_eq!(set.get_val(0).unwrap(), 1);
    drop(b); // the same from the entry
    assert_eq!(set.get_val(0).unwrap(), 2);
    // The mailbox is free again: the next hand-off goes through it and is collected.
    set.set_val(0, 0).unwrap();
    let mut c = Box::pin(set.semop(&take));
    assert!(c.as_mut().poll(&mut cx).is_pending());
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert!(matches!(c.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    assert!(
        matches!(c.as_mut().poll(&mut cx), Poll::Ready(Err(e)) if e.errno() == 22),
        "polled after completion"
    );
    drop(c);
    assert_eq!(set.get_val(0).unwrap(), 0, "a completed future's drop gives nothing back");
}

#[test]
fn a_release_after_a_split_hand_off_reaches_the_next_sleeper() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let set = one_unit();
    set.set_val(0, 0).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let take = [SemOp::new(0, -1)];
    let (mut a, mut b, mut c) =
        (Box::pin(set.semop(&take)), Box::pin(set.semop(&take)), Box::pin(set.semop(&take)));
    for f in [&mut a, &mut b, &mut c] {
        assert!(f.as_mut().poll(&mut cx).is_pending());
    }
    // a's outcome goes to the mailbox, b's stays in its entry (decided: off the wait list,
    // kept until b collects it).
    set.try_semop(&[SemOp::new(0, 2)]).unwrap();
    assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (0, 1));
    // The next release (the one-increment path) performs c's decrement.
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (0, 0));
    for f in [&mut c, &mut b, &mut a] {
        assert!(matches!(f.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    }
    drop((a, b, c));
    assert_eq!(set.get_val(0).unwrap(), 0, "completed futures give nothing back");
}

/// Counters per pair, contended, for BENCHMARKS.md.
#[cfg(feature = "counters")]
#[test]
#[ignore = "a measurement: run by hand with --nocapture"]
fn counters_per_pair() {
    use svipc::counters::{self, Event};
    let events = [
        Event::SemLock,
        Event::MutexContended,
        Event::SemCasFail,
        Event::SemWait,
        Event::SemWake,
        Event::SemWakeEmpty,
        Event::SemScan,
        Event::SemRetry,
        Event::SemAlloc,
    ];
    print!("{:>7} {:>5}", "workers", "T");
    for e in events {
        print!(" {:>15}", e.name());
    }
    println!();
    // SEM_HOLD=1 (the default): the holder yields once, so the contention does not depend
    // on how the OS schedules the workers (on a loaded machine they often run one at a time).
    let hold = std::env::var("SEM_HOLD").map_or(true, |v| v != "0");
    for workers in [2, 8] {
        let rt = runtime(workers);
        for tasks in [2, 4, 8, 16] {
            let set = one_unit();
            let total = std::env::var("SEM_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
            let pairs = total / tasks;
            let before = counters::snapshot();
            svipc_contended(&rt, &set, tasks, pairs, Shape { hold, clone_each: false });
            let d = counters::snapshot().since(&before);
            assert_eq!(d.get(Event::SemOpDone), 2 * (pairs * tasks) as u64);
            print!("{workers:>7} {tasks:>5}");
            for e in events {
                print!(" {:>15.3}", 2.0 * d.per(e, Event::SemOpDone));
            }
            println!();
        }
    }
}

/// Wall-clock ns per pair, svipc beside tokio, for an idle machine (a measurement, no
/// assertion on time): T = 2 / 4 / 8 / 16 on `SEM_WORKERS` workers (a comma list, default
/// "2,8"), the outside measurement's pattern (no yield while holding), best of 5 runs of
/// `SEM_PAIRS` pairs (default 200,000).
#[test]
#[ignore = "a measurement: run by hand on an idle machine with --nocapture"]
fn timed_pairs() {
    let total: usize = std::env::var("SEM_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let workers = std::env::var("SEM_WORKERS").unwrap_or_else(|_| "2,8".into());
    println!("{:>7} {:>4} {:>12} {:>12} {:>7}", "workers", "T", "svipc ns", "tokio ns", "ratio");
    for w in workers.split(',').filter_map(|w| w.trim().parse::<usize>().ok()) {
        let rt = runtime(w);
        for tasks in [2, 4, 8, 16] {
            let best = |f: &dyn Fn()| {
                (0..5)
                    .map(|_| {
                        let t = std::time::Instant::now();
                        f();
                        t.elapsed().as_nanos() as f64 / total as f64
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let set = one_unit();
            let sem = Arc::new(tokio::sync::Semaphore::new(1));
            let svipc = best(&|| {
                svipc_contended(&rt, &set, tasks, total / tasks, Shape { hold: false, clone_each: false })
            });
            let tokio = best(&|| {
                tokio_contended(&rt, &sem, tasks, total / tasks, Shape { hold: false, clone_each: false })
            });
            println!("{w:>7} {tasks:>4} {svipc:>12.1} {tokio:>12.1} {:>7.2}", svipc / tokio);
        }
    }
}

/// Awaits `fut`, adding to `sleeps` each poll that returned `Pending` (for `dynamics`).
async fn counted<F: std::future::Future>(fut: F, sleeps: &mut u64) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let r = fut.as_mut().poll(cx);
        *sleeps += u64::from(r.is_pending());
        r
    })
    .await
}

/// How a contended pair's time is spent on a multi-thread runtime, svipc beside tokio (a
/// measurement, no assertion on time): per pair, the wall-clock time, the acquires that went
/// to sleep (polls that returned `Pending`), the workers' parks and their busy time (tokio's
/// runtime metrics, summed over the workers). The sweep's shape: no yield while holding, a
/// clone of the handle per pair. `SEM_WORKERS` (default 2), `SEM_PAIRS` (default 1,000,000);
/// one run per T, svipc then tokio.
///
/// ```text
/// cargo test --release --test sem_contention -- --ignored --nocapture dynamics
/// ```
#[test]
#[ignore = "a measurement: run by hand on an idle machine with --nocapture"]
fn dynamics() {
    let var = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (workers, total) = (var("SEM_WORKERS", 2), var("SEM_PAIRS", 1_000_000));
    println!(
        "{:>7} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "workers", "T", "peer", "ns", "sleeps", "parks", "busy ns"
    );
    for tasks in [2, 4, 8, 16] {
        for peer in ["svipc", "tokio"] {
            let rt = runtime(workers);
            let (per, svipc) = (total / tasks, peer == "svipc");
            let (set, sem) = (one_unit(), Arc::new(tokio::sync::Semaphore::new(1)));
            let start = std::time::Instant::now();
            let sleeps: u64 = rt.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let (set, sem) = (set.clone(), sem.clone());
                        tokio::spawn(async move {
                            // The peer is chosen once per task, not once per pair inside the
                            // timed loop.
                            let mut sleeps = 0;
                            if svipc {
                                for _ in 0..per {
                                    let set = set.clone();
                                    counted(set.semop(&[SemOp::new(0, -1)]), &mut sleeps).await.unwrap();
                                    set.semop(&[SemOp::new(0, 1)]).await.unwrap();
                                }
                            } else {
                                for _ in 0..per {
                                    let sem = sem.clone();
                                    drop(counted(sem.acquire(), &mut sleeps).await.unwrap());
                                }
                            }
                            sleeps
                        })
                    })
                    .collect();
                let mut sleeps = 0;
                for h in handles {
                    sleeps += h.await.unwrap();
                }
                sleeps
            });
            let ns = start.elapsed().as_nanos() as f64;
            let m = rt.metrics();
            let parks: u64 = (0..workers).map(|w| m.worker_park_count(w)).sum();
            let busy: u128 = (0..workers).map(|w| m.worker_total_busy_duration(w).as_nanos()).sum();
            let per_pair = |x: f64| x / (per * tasks) as f64;
            println!(
                "{workers:>7} {tasks:>4} {peer:>6} {:>8.1} {:>8.3} {:>8.4} {:>8.1}",
                per_pair(ns),
                per_pair(sleeps as f64),
                per_pair(parks as f64),
                per_pair(busy as f64)
            );
        }
    }
}

/// One run for callgrind (see the module docs); the pair count comes from `SEM_PAIRS`.
#[test]
#[ignore = "a measurement driver: run by hand under callgrind"]
fn driver() {
    let var = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (tasks, workers, pairs) = (var("SEM_TASKS", 4), var("SEM_WORKERS", 0), var("SEM_PAIRS", 10_000));
    let shape = Shape { hold: var("SEM_HOLD", 1) != 0, clone_each: var("SEM_CLONE", 0) != 0 };
    let which = std::env::var("SEM_DRIVER").unwrap_or_else(|_| "svipc".into());
    let rt = runtime(workers);
    match which.as_str() {
        "svipc" => svipc_contended(&rt, &one_unit(), tasks, pairs / tasks, shape),
        "tokio" => {
            tokio_contended(&rt, &Arc::new(tokio::sync::Semaphore::new(1)), tasks, pairs / tasks, shape)
        }
        "semop" => {
            let set = one_unit();
            rt.block_on(async {
                for _ in 0..pairs {
                    set.semop(&[SemOp::new(0, -1)]).await.unwrap();
                    set.semop(&[SemOp::new(0, 1)]).await.unwrap();
                }
            })
        }
        "acquire" => {
            let set = one_unit();
            rt.block_on(async {
                for _ in 0..pairs {
                    drop(set.acquire(0, 1).await.unwrap());
                }
            })
        }
        "two" => {
            let two = Namespace::new()
                .process(Credentials::new(0, 0))
                .sem_set(Key::PRIVATE)
                .create(0o600)
                .nsems(2)
                .open()
                .unwrap();
            two.set_all(&[1, 1]).unwrap();
            rt.block_on(async {
                for _ in 0..pairs {
                    two.semop(&[SemOp::new(0, -1), SemOp::new(1, -1)]).await.unwrap();
                    two.semop(&[SemOp::new(0, 1), SemOp::new(1, 1)]).await.unwrap();
                }
            })
        }
        other => panic!("SEM_DRIVER={other}: svipc, tokio, semop, acquire or two"),
    }
}
