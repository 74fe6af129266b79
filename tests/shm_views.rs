//! The bytes of a segment through its guards: the safe views (`read`/`write`, ranged,
//! copying, non-waiting) with threads racing on them, disjoint writers read back through
//! other guards, the `unsafe` raw-pointer and atomic views used within their contracts, and
//! every bad offset, length, range and alignment answered with `EINVAL`, never a panic.
//!
//! Runs under miri (`scripts/miri.sh`), with iteration counts cut down by `cfg!(miri)`: miri
//! checks that the racing threads are free of data races and that the `unsafe` paths keep
//! to Rust's aliasing and provenance rules.

use std::sync::atomic::{AtomicI16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Barrier;

use svipc::{Credentials, ErrorKind, Key, Namespace, Op, Segment};

const ROUNDS: usize = if cfg!(miri) { 3 } else { 500 };
const THREADS: usize = if cfg!(miri) { 3 } else { 8 };

fn segment(size: usize) -> (Namespace, Segment) {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000).with_pid(1));
    let seg = me.shm_segment(Key::PRIVATE).size(size).create(0o600).open().unwrap();
    (ns, seg)
}

#[test]
fn smoke() {
    let (_ns, seg) = segment(16);
    let w = seg.attach().unwrap();
    let r = seg.attach_read_only().unwrap();
    w.write()[3] = 9;
    assert_eq!(r.read()[3], 9);
    assert!(r.is_read_only() && !w.is_read_only());
}

#[test]
fn disjoint_writers_read_back_through_other_guards() {
    let chunk = if cfg!(miri) { 16 } else { 4096 };
    let (_ns, seg) = segment(THREADS * chunk);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let seg = seg.clone();
            s.spawn(move || {
                let g = seg.attach().unwrap();
                for round in 0..ROUNDS {
                    let byte = (t * 31 + round) as u8;
                    if round % 2 == 0 {
                        g.write_range(t * chunk..(t + 1) * chunk).unwrap().fill(byte);
                    } else {
                        g.write_at(t * chunk, &vec![byte; chunk]).unwrap();
                    }
                    // read our own chunk back through the shared lock
                    let mut back = vec![0; chunk];
                    g.read_at(t * chunk, &mut back).unwrap();
                    assert!(back.iter().all(|&b| b == byte), "thread {t} round {round}");
                }
            });
        }
    });
    // every chunk holds its writer's last byte, seen through a fresh read-only guard
    let reader = seg.attach_read_only().unwrap();
    let view = reader.read();
    for t in 0..THREADS {
        let last = (t * 31 + ROUNDS - 1) as u8;
        assert!(view[t * chunk..(t + 1) * chunk].iter().all(|&b| b == last), "chunk {t}");
    }
}

#[test]
fn racing_views_never_see_a_torn_write() {
    let size = if cfg!(miri) { 64 } else { 8192 };
    let (_ns, seg) = segment(size);
    let writers = 2;
    let readers = THREADS - 1;
    std::thread::scope(|s| {
        for w in 0..writers {
            let seg = seg.clone();
            s.spawn(move || {
                let g = seg.attach().unwrap();
                for round in 0..ROUNDS {
                    let mut view = g.write();
                    let value = (w * 100 + round % 100) as u8;
                    view.fill(value);
                }
            });
        }
        for _ in 0..readers {
            let seg = seg.clone();
            s.spawn(move || {
                let g = seg.attach_read_only().unwrap();
                for _ in 0..ROUNDS {
                    let view = g.read();
                    let first = view[0];
                    assert!(view.iter().all(|&b| b == first), "a write was seen half done");
                }
            });
        }
    });
}

#[cfg(not(miri))]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_write_disjoint_regions() {
    let tasks = 32;
    let region = 1024;
    let (_ns, seg) = segment(tasks * region);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let seg = seg.clone();
        handles.push(tokio::spawn(async move {
            let g = seg.attach().unwrap();
            for round in 0..50u8 {
                let data = vec![t as u8 ^ round; region];
                g.write_at(t * region, &data).unwrap();
                tokio::task::yield_now().await;
            }
            g.write_at(t * region, &vec![t as u8; region]).unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    // read back by other guards, one per region, from other tasks
    let mut checks = Vec::new();
    for t in 0..tasks {
        let seg = seg.clone();
        checks.push(tokio::spawn(async move {
            let g = seg.attach_read_only().unwrap();
            let view = g.read_range(t * region..(t + 1) * region).unwrap();
            view.iter().all(|&b| b == t as u8)
        }));
    }
    for (t, c) in checks.into_iter().enumerate() {
        assert!(c.await.unwrap(), "region {t}");
    }
    assert_eq!(seg.stat().unwrap().shm_nattch, 0);
}

#[test]
fn atomic_views_race_beside_ranged_views() {
    // bytes 0..8: one AtomicU64 counter; bytes 8..16: AtomicU32 pair; 64..: plain bytes
    let (_ns, seg) = segment(128);
    let per_thread = if cfg!(miri) { 20 } else { 10_000 };
    let barrier = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let seg = seg.clone();
            let barrier = &barrier;
            s.spawn(move || {
                let g = seg.attach().unwrap();
                // SAFETY: bytes 0..8 are only ever accessed as this AtomicU64, and bytes 8..12
                // only as an AtomicU32; no view in this test covers bytes 0..64.
                let (counter, flag) =
                    unsafe { (g.atomic::<AtomicU64>(0).unwrap(), g.atomic::<AtomicU32>(8).unwrap()) };
                barrier.wait();
                for _ in 0..per_thread {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                flag.fetch_or(1 << t, Ordering::Release);
            });
        }
        // meanwhile, plain bytes beside the atomics go through ranged views
        let seg = seg.clone();
        let barrier = &barrier;
        s.spawn(move || {
            let g = seg.attach().unwrap();
            barrier.wait();
            for round in 0..ROUNDS {
                g.write_range(64..128).unwrap().fill(round as u8);
                assert_eq!(g.read_range(64..128).unwrap()[63], round as u8);
            }
        });
    });
    let ro = seg.attach_read_only().unwrap();
    // SAFETY: all the threads that wrote these atomics have been joined.
    let (total, flags) = unsafe {
        (
            ro.load::<AtomicU64>(0, Ordering::Acquire).unwrap(),
            ro.load::<AtomicU32>(8, Ordering::Acquire).unwrap(),
        )
    };
    assert_eq!(total, (THREADS * per_thread) as u64);
    assert_eq!(flags, (1 << THREADS) - 1);
}

#[test]
fn raw_pointers_synchronized_by_join() {
    let (_ns, seg) = segment(4096);
    let g = seg.attach().unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let g = &g;
            s.spawn(move || {
                // SAFETY: each thread writes only its own 8 bytes, within the segment, while
                // the guard lives; no view exists until every thread is joined.
                unsafe {
                    let p = g.as_mut_ptr().add(t * 8);
                    p.write_bytes(t as u8 + 1, 8);
                }
            });
        }
    });
    let view = g.read();
    for t in 0..THREADS {
        assert!(view[t * 8..t * 8 + 8].iter().all(|&b| b == t as u8 + 1));
    }
    drop(view);
    // SAFETY: no writer is left; reading within bounds while the guard lives.
    let first = unsafe { *g.as_ptr() };
    assert_eq!(first, 1);
}

#[test]
fn bad_offsets_lengths_and_alignment_are_einval() {
    let (_ns, seg) = segment(10);
    let g = seg.attach().unwrap();
    let einval = |e: svipc::Error| {
        assert_eq!((e.kind(), e.op(), e.errno()), (ErrorKind::InvalidArgument, Op::ShmAt, 22));
    };
    let mut buf = [0u8; 4];
    einval(g.read_at(7, &mut buf).unwrap_err());
    einval(g.read_at(usize::MAX, &mut buf).unwrap_err());
    einval(g.write_at(8, b"abc").unwrap_err());
    einval(g.write_at(usize::MAX - 1, b"abc").unwrap_err());
    einval(g.read_range(0..11).unwrap_err());
    einval(g.read_range(11..).unwrap_err());
    einval(g.write_range(..=10).unwrap_err());
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 6..5;
    einval(g.write_range(backwards).unwrap_err());
    // the writes that failed wrote nothing
    assert_eq!(&*g.read(), &[0u8; 10]);
    // edges are fine: empty ranges at the end, the whole segment, the last byte
    assert!(g.read_range(10..10).unwrap().is_empty());
    g.read_at(10, &mut []).unwrap();
    g.write_at(9, b"z").unwrap();
    assert_eq!(g.read_range(9..=9).unwrap()[0], b'z');
    assert_eq!(g.len(), 10);
    assert!(!g.is_empty());
    // atomics: out of range and misaligned
    // SAFETY (all below): the segment's bytes 0..10 are not used as anything else meanwhile;
    // every call here is refused before it touches memory, except the aligned ones.
    unsafe {
        einval(g.atomic::<AtomicU64>(8).unwrap_err());
        einval(g.atomic::<AtomicU64>(4).unwrap_err());
        einval(g.atomic::<AtomicU32>(2).unwrap_err());
        einval(g.atomic::<AtomicU32>(8).unwrap_err());
        einval(g.atomic::<AtomicI16>(9).unwrap_err());
        einval(g.atomic::<AtomicUsize>(usize::MAX).unwrap_err());
        einval(g.load::<AtomicU32>(6, Ordering::Relaxed).unwrap_err());
        einval(g.load::<AtomicU8>(10, Ordering::Relaxed).unwrap_err());
        assert_eq!(g.load::<AtomicU8>(9, Ordering::Relaxed).unwrap(), b'z');
        assert_eq!(g.atomic::<AtomicU32>(4).unwrap().load(Ordering::Relaxed), 0);
        assert_eq!(g.atomic::<AtomicI16>(8).unwrap().load(Ordering::Relaxed), i16::from_ne_bytes([0, b'z']));
    }
}

#[test]
fn try_views_do_not_wait() {
    let (_ns, seg) = segment(8);
    let a = seg.attach().unwrap();
    let b = seg.attach().unwrap();
    {
        let _w = a.write();
        let e = b.try_read().unwrap_err();
        assert_eq!((e.kind(), e.errno()), (ErrorKind::WouldBlock, 11));
        assert_eq!(b.try_write().unwrap_err().kind(), ErrorKind::WouldBlock);
    }
    {
        let _r1 = a.read();
        let _r2 = b.try_read().unwrap(); // readers share
        assert_eq!(b.try_write().unwrap_err().kind(), ErrorKind::WouldBlock);
    }
    b.try_write().unwrap()[0] = 1;
    assert_eq!(a.try_read().unwrap()[0], 1);
}

#[test]
fn read_only_permission_is_enforced_at_attach_and_by_type() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o444).open().unwrap();
    assert_eq!(seg.attach().unwrap_err().kind(), ErrorKind::PermissionDenied);
    let ro: svipc::shm::Attached = seg.attach_read_only().unwrap();
    // `ro` has no `write`, `write_at`, `as_mut_ptr` or `atomic` (see the compile_fail
    // doctest on `Attached`); it reads
    assert_eq!(ro.read().len(), 8);
    assert_eq!(format!("{ro:?}"), format!("Attached {{ id: {}, len: 8, read_only: true }}", seg.id()));
}
