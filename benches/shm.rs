//! Shared memory: attach+detach, copying reads and writes through the safe views against a
//! plain `memcpy` of the same size, and increments through an atomic view in the mapping
//! against the same atomic on the heap.
//!
//! `cargo bench --bench shm`; the figures are in BENCHMARKS.md.

#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() {
    imp::main();
}

#[cfg(not(loom))]
mod imp {
    use std::hint::black_box;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use svipc::{Credentials, Key, Namespace};

    const SIZES: [usize; 3] = [64, 4096, 1 << 20];

    fn config() -> Criterion {
        Criterion::default()
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .configure_from_args()
    }

    pub(super) fn main() {
        let mut c = config();
        let ns = Namespace::new();
        let me = ns.process(Credentials::new(1000, 1000));
        let seg = me.shm_segment(Key::PRIVATE).size(1 << 20).create(0o600).open().unwrap();

        // shmat + shmdt: a guard made and dropped.
        c.bench_function("shm/attach_detach", |b| b.iter(|| drop(black_box(seg.attach().unwrap()))));

        let guard = seg.attach().unwrap();
        let mut g = c.benchmark_group("shm/copy");
        for size in SIZES {
            let src = vec![0xa5u8; size];
            let mut dst = vec![0u8; size];
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
                b.iter(|| dst.copy_from_slice(black_box(&src)))
            });
            g.bench_with_input(BenchmarkId::new("svipc_write_at", size), &size, |b, _| {
                b.iter(|| guard.write_at(0, black_box(&src)).unwrap())
            });
            g.bench_with_input(BenchmarkId::new("svipc_read_at", size), &size, |b, _| {
                b.iter(|| guard.read_at(0, black_box(&mut dst)).unwrap())
            });
        }
        g.finish();

        let mut g = c.benchmark_group("shm/atomic_increment");
        let heap = AtomicU64::new(0);
        g.bench_function("heap_atomic", |b| b.iter(|| black_box(&heap).fetch_add(1, Ordering::Relaxed)));
        // SAFETY: bytes 0..8 of this segment are used only as this one AtomicU64 from here on.
        let in_segment = unsafe { guard.atomic::<AtomicU64>(0).unwrap() };
        g.bench_function("svipc_atomic_view", |b| {
            b.iter(|| black_box(in_segment).fetch_add(1, Ordering::Relaxed))
        });
        g.finish();

        c.final_summary();
    }
}
