//! The counters report: what the engines do per message (per semop pair) under contention.
//!
//! Runs three scenarios on a multi-thread tokio runtime and prints one table with the time
//! per operation and, per operation, every [`svipc::counters::Event`] that was not zero
//! (locks, contended locks, failed CAS attempts, mode switches, waits, wake-ups, empty
//! wake-ups), and what the runtime did: its workers' parks per operation (`parks`) and how
//! many workers were busy on average (`busy`: their busy time summed over the wall-clock
//! time; 1.0 on eight workers means the work ran one worker at a time; tokio adds a
//! worker's busy stretch when it parks, so a stretch that began before a round counts in
//! it, and the figure can pass the worker count by a few percent):
//!
//! * `mpsc`: P producer tasks, one consumer, `u64` messages through one queue of 1024
//!   messages (`msg_qbytes = 8192`); the counts are per message;
//! * `mpmc`: P producers and P consumers on the same queue; per message;
//! * `full`: `mpsc` on a queue of 8 messages (`msg_qbytes = 64`), so that the producers
//!   wait for room in turn while the consumer frees it one message at a time; per message;
//! * `sem`: T tasks on one semaphore of value 1, each repeating `semop(-1)` then
//!   `semop(+1)`; the counts are per pair.
//!
//! Needs the `counters` feature:
//!
//! ```console
//! cargo bench --features counters --bench counters
//! SVIPC_BENCH_WORKERS=2,4 SVIPC_BENCH_P=1,4,8 SVIPC_BENCH_T=2,8 cargo bench --features counters --bench counters
//! scripts/scaling.sh counters      # the same from the binaries `scripts/scaling.sh build` copied
//! ```
//!
//! Knobs (comma lists where plural): `SVIPC_BENCH_WORKERS` (worker threads; `0` is a
//! current-thread runtime; default `2`), `SVIPC_BENCH_P` (producers, and consumers for
//! `mpmc`; default `1,4`), `SVIPC_BENCH_T` (semaphore contenders; default `2,4`),
//! `SVIPC_BENCH_OPS` (messages or pairs per round; default 100000), `SVIPC_BENCH_ROUNDS`
//! (measured rounds after one warm-up round, summed; default 3), `SVIPC_BENCH_SCENARIOS`
//! (default `mpsc,mpmc,sem`; `full` on request). A worker count above the machine's cores is marked `*`.
#![cfg_attr(loom, allow(unused))]

#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() {
    imp::main();
}

#[cfg(not(loom))]
mod imp {
    use std::time::{Duration, Instant};

    use svipc::counters::{self, Event};
    use svipc::msg::MsqidSet;
    use svipc::{Credentials, Key, MessageQueue, Namespace, Select, SemOp, SemaphoreSet};
    use svipc_benches::{cores, env_list, runtime};
    use tokio::runtime::Runtime;

    /// A message scenario: its name, whether it has as many consumers as producers, and
    /// its queue.
    type Shape = (&'static str, bool, fn() -> MessageQueue<u64>);

    fn queue() -> MessageQueue<u64> {
        queue_of(8192)
    }

    /// The `full` scenario's queue: 8 messages.
    fn small_queue() -> MessageQueue<u64> {
        queue_of(64)
    }

    fn queue_of(qbytes: u64) -> MessageQueue<u64> {
        let me = Namespace::new().process(Credentials::new(0, 0));
        let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
        q
    }

    fn semaphore() -> SemaphoreSet {
        let me = Namespace::new().process(Credentials::new(0, 0));
        let set = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
        set.set_all(&[1]).unwrap();
        set
    }

    /// `p` producers sending `ops / p` messages each, `c` consumers receiving `ops / c` each
    /// (`ops` a multiple of both); the time from the first spawn to the last join.
    async fn flow(q: MessageQueue<u64>, p: usize, c: usize, ops: usize) -> Duration {
        let start = Instant::now();
        let mut hs = Vec::with_capacity(p + c);
        for _ in 0..p {
            let q = q.clone();
            hs.push(tokio::spawn(async move {
                for v in 0..(ops / p) as u64 {
                    q.send(1, v).await.unwrap();
                }
            }));
        }
        for _ in 0..c {
            let q = q.clone();
            hs.push(tokio::spawn(async move {
                for _ in 0..ops / c {
                    q.recv(Select::Any).await.unwrap();
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        start.elapsed()
    }

    /// `t` tasks each taking and giving back the one unit `ops / t` times.
    async fn contend(set: SemaphoreSet, t: usize, ops: usize) -> Duration {
        let start = Instant::now();
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let set = set.clone();
                tokio::spawn(async move {
                    for _ in 0..ops / t {
                        set.semop(&[SemOp::new(0, -1)]).await.unwrap();
                        set.semop(&[SemOp::new(0, 1)]).await.unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        start.elapsed()
    }

    /// One row of the report: a scenario's totals over its measured rounds.
    struct Row {
        scenario: &'static str,
        workers: usize,
        peers: usize,
        ops: u64,
        time: Duration,
        /// Each event's count, in [`Event::ALL`]'s order.
        counts: Vec<u64>,
        /// What the runtime's workers did meanwhile.
        runtime: Workers,
    }

    /// The runtime's workers, summed over them (tokio's runtime metrics): how often they
    /// parked and how long they were busy.
    #[derive(Clone, Copy, Default)]
    struct Workers {
        parks: u64,
        busy: Duration,
    }

    impl Workers {
        fn now(rt: &Runtime) -> Workers {
            let m = rt.metrics();
            (0..m.num_workers()).fold(Workers::default(), |w, i| Workers {
                parks: w.parks + m.worker_park_count(i),
                busy: w.busy + m.worker_total_busy_duration(i),
            })
        }

        fn since(self, before: Workers) -> Workers {
            Workers { parks: self.parks - before.parks, busy: self.busy.saturating_sub(before.busy) }
        }
    }

    /// Runs one warm-up round and `rounds` measured ones of `round` on `rt`, each on a fresh
    /// state from `setup` (made before the counters are read), and sums them.
    fn measure<S, F, Fut>(
        rt: &Runtime,
        rounds: usize,
        setup: impl Fn() -> S,
        round: F,
    ) -> (Duration, Vec<u64>, Workers)
    where
        F: Fn(S) -> Fut,
        Fut: std::future::Future<Output = Duration>,
    {
        rt.block_on(round(setup()));
        let mut time = Duration::ZERO;
        let mut counts = vec![0u64; Event::ALL.len()];
        let mut workers = Workers::default();
        for _ in 0..rounds {
            let state = setup();
            let (before, ran) = (counters::snapshot(), Workers::now(rt));
            time += rt.block_on(round(state));
            for (total, (_, n)) in counts.iter_mut().zip(counters::snapshot().since(&before).iter()) {
                *total += n;
            }
            let ran = Workers::now(rt).since(ran);
            workers = Workers { parks: workers.parks + ran.parks, busy: workers.busy + ran.busy };
        }
        (time, counts, workers)
    }

    /// `count / ops` with three significant digits (`0` when the count is).
    fn per_op(count: u64, ops: u64) -> String {
        let v = count as f64 / ops as f64;
        match v {
            0.0 => "0".to_owned(),
            v if v >= 0.01 => format!("{v:.3}"),
            v => format!("{v:.2e}"),
        }
    }

    fn print(rows: &[Row], cores: usize) {
        // Only the events some row saw.
        let shown: Vec<usize> =
            (0..Event::ALL.len()).filter(|&i| rows.iter().any(|r| r.counts[i] != 0)).collect();
        let mut out = format!(
            "{:<8} {:>8} {:>4} {:>9} {:>9} {:>8} {:>5}",
            "scenario", "workers", "P/T", "ops", "ns/op", "parks", "busy"
        );
        for &i in &shown {
            let name = Event::ALL[i].name();
            out += &format!(" {:>w$}", name, w = name.len().max(8));
        }
        println!("{out}");
        for r in rows {
            let mark = if r.workers > cores { "*" } else { "" };
            let workers = if r.workers == 0 { "current".to_owned() } else { format!("{}{mark}", r.workers) };
            let mut out = format!(
                "{:<8} {:>8} {:>4} {:>9} {:>9.1} {:>8} {:>5.2}",
                r.scenario,
                workers,
                r.peers,
                r.ops,
                r.time.as_nanos() as f64 / r.ops as f64,
                per_op(r.runtime.parks, r.ops),
                r.runtime.busy.as_secs_f64() / r.time.as_secs_f64()
            );
            for &i in &shown {
                let w = Event::ALL[i].name().len().max(8);
                out += &format!(" {:>w$}", per_op(r.counts[i], r.ops));
            }
            println!("{out}");
        }
        println!(
            "(counts and parks per operation: per message for mpsc/mpmc/full, per semop(-1)+semop(+1) \
             pair for sem; busy: workers busy on average; {cores} cores here{})",
            if rows.iter().any(|r| r.workers > cores) { "; * = more workers than cores" } else { "" }
        );
    }

    pub(super) fn main() {
        let workers = env_list("SVIPC_BENCH_WORKERS").unwrap_or_else(|| vec![2]);
        let peers = env_list("SVIPC_BENCH_P").unwrap_or_else(|| vec![1, 4]);
        let contenders = env_list("SVIPC_BENCH_T").unwrap_or_else(|| vec![2, 4]);
        let ops = env_list("SVIPC_BENCH_OPS").map_or(100_000, |v| v[0]);
        let rounds = env_list("SVIPC_BENCH_ROUNDS").map_or(3, |v| v[0]).max(1);
        let scenarios = std::env::var("SVIPC_BENCH_SCENARIOS").unwrap_or_else(|_| "mpsc,mpmc,sem".into());
        let on = |name: &str| scenarios.split(',').any(|s| s.trim() == name);
        let cores = cores();
        let mut rows = Vec::new();
        for &w in &workers {
            let rt = runtime(w);
            // (name, one consumer per producer, the queue)
            let shapes: [Shape; 3] =
                [("mpsc", false, queue), ("mpmc", true, queue), ("full", false, small_queue)];
            for (scenario, many_consumers, make) in shapes {
                if !on(scenario) {
                    continue;
                }
                for &p in &peers {
                    let c = if many_consumers { p } else { 1 };
                    // A multiple of both sides, so each task's share is whole.
                    let n = ops / (p * c) * (p * c);
                    eprintln!("counters: {scenario} workers={w} P={p}");
                    let (time, counts, runtime) = measure(&rt, rounds, make, |q| flow(q, p, c, n));
                    let ops = (n * rounds) as u64;
                    rows.push(Row { scenario, workers: w, peers: p, ops, time, counts, runtime });
                }
            }
            if on("sem") {
                for &t in &contenders {
                    let n = ops / t * t;
                    eprintln!("counters: sem workers={w} T={t}");
                    let (time, counts, runtime) = measure(&rt, rounds, semaphore, |s| contend(s, t, n));
                    let ops = (n * rounds) as u64;
                    rows.push(Row { scenario: "sem", workers: w, peers: t, ops, time, counts, runtime });
                }
            }
        }
        print(&rows, cores);
    }
}
