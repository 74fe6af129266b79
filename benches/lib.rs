//! What svipc's benches share: the environment knobs (`SVIPC_BENCH_*`), the tokio runtimes
//! and the per-message timing of the scaling sweep.
//!
//! The benches (`msg.rs`, `sem.rs`, `shm.rs`, `counters.rs` beside this file) are criterion
//! targets of this package (`svipc-benches`); `scripts/scaling.sh` builds them once and runs
//! the sweep from the copied binaries.
//!
//! # Knobs
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `SVIPC_BENCH_WORKERS` | worker counts, a comma list; set, `msg` and `sem` run the scaling sweep instead of their default rows; `0` is a current-thread runtime | unset |
//! | `SVIPC_BENCH_P` | producers for MPSC (P:1) and MPMC (PxP) in the sweep | `1,2,4,8` |
//! | `SVIPC_BENCH_T` | contenders on one semaphore unit in the sweep | `2,4,8,16` |
//! | `SVIPC_BENCH_PATTERNS` | which of `mpsc`, `mpmc` the `msg` sweep runs | `mpsc,mpmc` |
//! | `SVIPC_BENCH_SAMPLES` | criterion's sample size (at least 10) | each bench's own |
//! | `SVIPC_BENCH_WARMUP_MS` | criterion's warm-up time per benchmark | each bench's own |
//! | `SVIPC_BENCH_MEASURE_MS` | criterion's measurement time per benchmark | each bench's own |
//!
//! The counters report reads `SVIPC_BENCH_WORKERS`, `_P` and `_T` too, with defaults of its
//! own (see `counters.rs`).
//!
//! Decision: the sweep is switched on by `SVIPC_BENCH_WORKERS` rather than always run, so
//! that `cargo bench` keeps today's rows and ids (A/B against earlier commits stays a plain
//! `cargo bench`) and a sweep run spends its minutes on the sweep alone.

use std::time::Duration;

use tokio::runtime::Runtime;

/// A comma-separated list of counts: `"1, 2,8"` is `[1, 2, 8]`. Empty entries are skipped;
/// anything else that is not a number is an error naming it.
pub fn parse_list(s: &str) -> Result<Vec<usize>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().map_err(|_| format!("not a count: {x:?}")))
        .collect()
}

/// The list in environment variable `var`; `None` when unset or blank.
///
/// # Panics
///
/// When the variable holds something [`parse_list`] rejects: a bench must not silently run
/// other settings than those asked for.
pub fn env_list(var: &str) -> Option<Vec<usize>> {
    list_from(var, |v| std::env::var(v).ok()).unwrap_or_else(|e| panic!("{e}"))
}

/// [`env_list`] over any lookup (the tests pass a map instead of the environment).
fn list_from(var: &str, get: impl Fn(&str) -> Option<String>) -> Result<Option<Vec<usize>>, String> {
    match get(var) {
        None => Ok(None),
        Some(s) => {
            let list = parse_list(&s).map_err(|e| format!("{var}: {e}"))?;
            Ok(if list.is_empty() { None } else { Some(list) })
        }
    }
}

/// What the scaling sweep runs: every worker count with every producer count (and every
/// contender count for the semaphore).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    /// Worker threads of the multi-thread runtime (`0`: a current-thread runtime).
    pub workers: Vec<usize>,
    /// Producers of MPSC P:1 and MPMC PxP.
    pub producers: Vec<usize>,
    /// Tasks contending for one semaphore unit.
    pub contenders: Vec<usize>,
    /// `mpsc`, `mpmc` or both.
    pub patterns: Vec<String>,
}

impl Sweep {
    /// The sweep the environment asks for, or `None` (the benches' default rows) when
    /// `SVIPC_BENCH_WORKERS` is unset.
    ///
    /// # Panics
    ///
    /// When a knob cannot be parsed, or a producer or contender count is 0.
    pub fn from_env() -> Option<Sweep> {
        Sweep::from_lookup(|v| std::env::var(v).ok()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Sweep>, String> {
        let Some(workers) = list_from("SVIPC_BENCH_WORKERS", &get)? else {
            return Ok(None);
        };
        let producers = list_from("SVIPC_BENCH_P", &get)?.unwrap_or_else(|| vec![1, 2, 4, 8]);
        let contenders = list_from("SVIPC_BENCH_T", &get)?.unwrap_or_else(|| vec![2, 4, 8, 16]);
        if producers.contains(&0) || contenders.contains(&0) {
            return Err("SVIPC_BENCH_P and SVIPC_BENCH_T: counts start at 1".into());
        }
        let patterns: Vec<String> = get("SVIPC_BENCH_PATTERNS")
            .unwrap_or_else(|| "mpsc,mpmc".into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(bad) = patterns.iter().find(|p| *p != "mpsc" && *p != "mpmc") {
            return Err(format!("SVIPC_BENCH_PATTERNS: unknown pattern {bad:?} (mpsc, mpmc)"));
        }
        Ok(Some(Sweep { workers, producers, contenders, patterns }))
    }

    /// Whether the sweep includes `pattern`.
    pub fn has(&self, pattern: &str) -> bool {
        self.patterns.iter().any(|p| p == pattern)
    }
}

/// Criterion's sample size, warm-up and measurement times: a bench's own defaults, each
/// replaced by its `SVIPC_BENCH_*` knob when set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Samples per benchmark (criterion's minimum is 10).
    pub samples: usize,
    /// Warm-up per benchmark.
    pub warm_up: Duration,
    /// Measurement per benchmark.
    pub measure: Duration,
}

impl Timing {
    /// `self` with the environment's knobs applied.
    ///
    /// # Panics
    ///
    /// When a knob cannot be parsed.
    pub fn with_env(self) -> Timing {
        self.with_lookup(|v| std::env::var(v).ok()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn with_lookup(self, get: impl Fn(&str) -> Option<String>) -> Result<Timing, String> {
        let one = |var: &str| -> Result<Option<usize>, String> {
            match list_from(var, &get)? {
                Some(v) if v.len() == 1 => Ok(Some(v[0])),
                Some(_) => Err(format!("{var}: one number, not a list")),
                None => Ok(None),
            }
        };
        Ok(Timing {
            samples: one("SVIPC_BENCH_SAMPLES")?.map_or(self.samples, |n| n.max(10)),
            warm_up: one("SVIPC_BENCH_WARMUP_MS")?
                .map_or(self.warm_up, |ms| Duration::from_millis(ms as u64)),
            measure: one("SVIPC_BENCH_MEASURE_MS")?
                .map_or(self.measure, |ms| Duration::from_millis(ms as u64)),
        })
    }
}

/// A tokio runtime with `workers` worker threads; `0` is a current-thread runtime.
pub fn runtime(workers: usize) -> Runtime {
    match workers {
        0 => tokio::runtime::Builder::new_current_thread().build().unwrap(),
        w => tokio::runtime::Builder::new_multi_thread().worker_threads(w).build().unwrap(),
    }
}

/// The cores this process may run on (1 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The sweep's per-operation timing. Criterion asks for `iters` operations; a run of P
/// producers and C consumers does a multiple of P·C (each task an equal share), so it does
/// `per_run(iters, unit)` operations and [`scaled`] reports the time `iters` of them took at
/// that rate. Criterion's "time per iteration" is then the time per message (per pair).
pub fn per_run(iters: u64, unit: u64) -> u64 {
    iters.max(1).div_ceil(unit) * unit
}

/// `elapsed` for `done` operations, scaled to `wanted` of them.
pub fn scaled(elapsed: Duration, done: u64, wanted: u64) -> Duration {
    elapsed.mul_f64(wanted as f64 / done as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn lists_parse_with_spaces_and_empty_entries_and_name_what_is_wrong() {
        assert_eq!(parse_list("1, 2,8,"), Ok(vec![1, 2, 8]));
        assert_eq!(parse_list(""), Ok(vec![]));
        assert_eq!(parse_list("2,x"), Err("not a count: \"x\"".to_owned()));
        assert_eq!(list_from("V", env(&[("V", " ")])), Ok(None));
        assert_eq!(list_from("V", env(&[("V", "-1")])), Err("V: not a count: \"-1\"".to_owned()));
    }

    #[test]
    fn no_workers_knob_means_no_sweep_and_the_defaults_fill_the_rest() {
        assert_eq!(Sweep::from_lookup(env(&[("SVIPC_BENCH_P", "4")])), Ok(None));
        let s = Sweep::from_lookup(env(&[("SVIPC_BENCH_WORKERS", "2,16")])).unwrap().unwrap();
        assert_eq!(s.workers, [2, 16]);
        assert_eq!(s.producers, [1, 2, 4, 8]);
        assert_eq!(s.contenders, [2, 4, 8, 16]);
        assert!(s.has("mpsc") && s.has("mpmc"));
        let s = Sweep::from_lookup(env(&[
            ("SVIPC_BENCH_WORKERS", "4"),
            ("SVIPC_BENCH_P", "8"),
            ("SVIPC_BENCH_T", "3"),
            ("SVIPC_BENCH_PATTERNS", "mpmc"),
        ]))
        .unwrap()
        .unwrap();
        assert!(!s.has("mpsc") && s.has("mpmc"));
        assert_eq!((s.workers, s.producers, s.contenders), (vec![4], vec![8], vec![3]));
    }

    #[test]
    fn a_sweep_rejects_zero_peers_and_unknown_patterns() {
        let zero = Sweep::from_lookup(env(&[("SVIPC_BENCH_WORKERS", "2"), ("SVIPC_BENCH_P", "0")]));
        assert_eq!(zero, Err("SVIPC_BENCH_P and SVIPC_BENCH_T: counts start at 1".to_owned()));
        let bad = Sweep::from_lookup(env(&[("SVIPC_BENCH_WORKERS", "2"), ("SVIPC_BENCH_PATTERNS", "spsc")]));
        assert_eq!(bad, Err("SVIPC_BENCH_PATTERNS: unknown pattern \"spsc\" (mpsc, mpmc)".to_owned()));
    }

    #[test]
    fn timing_knobs_replace_the_defaults_and_the_sample_floor_is_ten() {
        let base =
            Timing { samples: 20, warm_up: Duration::from_millis(300), measure: Duration::from_secs(1) };
        assert_eq!(base.with_lookup(env(&[])), Ok(base));
        let t = base
            .with_lookup(env(&[
                ("SVIPC_BENCH_SAMPLES", "3"),
                ("SVIPC_BENCH_WARMUP_MS", "50"),
                ("SVIPC_BENCH_MEASURE_MS", "200"),
            ]))
            .unwrap();
        assert_eq!(
            t,
            Timing { samples: 10, warm_up: Duration::from_millis(50), measure: Duration::from_millis(200) }
        );
        assert_eq!(
            base.with_lookup(env(&[("SVIPC_BENCH_SAMPLES", "10,20")])),
            Err("SVIPC_BENCH_SAMPLES: one number, not a list".to_owned())
        );
    }

    #[test]
    fn a_run_does_whole_shares_and_its_time_scales_to_what_was_asked() {
        assert_eq!(per_run(1, 64), 64);
        assert_eq!(per_run(0, 8), 8);
        assert_eq!(per_run(100, 8), 104);
        assert_eq!(per_run(128, 64), 128);
        assert_eq!(scaled(Duration::from_nanos(1040), 104, 100), Duration::from_nanos(1000));
    }

    #[test]
    #[cfg_attr(miri, ignore = "tokio's worker threads under miri: slow, and no unsafe code of ours")]
    fn zero_workers_is_a_current_thread_runtime() {
        use tokio::runtime::RuntimeFlavor;
        assert_eq!(runtime(0).handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        assert_eq!(runtime(3).handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(runtime(3).metrics().num_workers(), 3);
    }
}
