//! Dining philosophers (5 forks, both taken in one 2-op semop) finishing 100,000 meals, a
//! soak with random cancellation where the units are conserved, and mutual exclusion of
//! plain data guarded by a semaphore across threads.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

mod rng;

use rng::Rng;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use svipc::{Credentials, Key, Namespace, SemOp};

#[tokio::test]
async fn smoke() {
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(2).open().unwrap();
    set.set_all(&[1, 1]).unwrap();
    let both = [SemOp::new(0, -1), SemOp::new(1, -1)];
    set.semop(&both).await.unwrap();
    set.semop(&[SemOp::new(0, 1), SemOp::new(1, 1)]).await.unwrap();
    assert_eq!(set.get_all().unwrap(), [1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dining_philosophers_100_000_meals() {
    const N: u16 = 5;
    const MEALS: u64 = 100_000;
    let ns = Namespace::new();
    let table =
        ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(5).open().unwrap();
    table.set_all(&[1; 5]).unwrap();
    let eaten = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..N {
        let set = ns
            .process(Credentials::new(0, 0).with_pid(100 + i32::from(i)))
            .sem_set_by_id(table.id())
            .unwrap();
        let eaten = eaten.clone();
        tasks.push(tokio::spawn(async move {
            let (l, r) = (i, (i + 1) % N);
            let take = [SemOp::new(l, -1), SemOp::new(r, -1)];
            let put = [SemOp::new(l, 1), SemOp::new(r, 1)];
            let mut mine = 0u64;
            while eaten.fetch_add(1, Relaxed) < MEALS {
                set.semop(&take).await.unwrap();
                mine += 1;
                set.semop(&put).await.unwrap();
                if mine % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            mine
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, MEALS);
    assert_eq!(table.get_all().unwrap(), [1; 5]);
    for n in 0..N {
        assert_eq!(table.get_ncnt(n).unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_with_random_cancellation_conserves_units() {
    const NSEMS: u16 = 4;
    const UNITS: u16 = 3;
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(4).open().unwrap();
    set.set_all(&[UNITS; NSEMS as usize]).unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let set = ns.process(Credentials::new(0, 0).with_pid(t as i32 + 10)).sem_set_by_id(set.id()).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
            for _ in 0..3000 {
                let a = rng.below(u64::from(NSEMS)) as u16;
                let b = rng.below(u64::from(NSEMS)) as u16;
                let (na, nb) = (1 + rng.below(2) as u16, 1 + rng.below(2) as u16);
                let deadline = Duration::from_micros(rng.below(200));
                match rng.below(3) {
                    0 => {
                        // a permit over two semaphores, maybe cancelled
                        if let Ok(Ok(p)) =
                            tokio::time::timeout(deadline, set.acquire_many(&[(a, na), (b, nb)])).await
                        {
                            tokio::task::yield_now().await;
                            drop(p);
                        }
                    }
                    1 => {
                        // a raw take with SEM_UNDO on one, maybe cancelled; given back
                        let take = [SemOp::new(a, -(na as i16)), SemOp::new(b, -(nb as i16))];
                        let put = [SemOp::new(a, na as i16), SemOp::new(b, nb as i16)];
                        if let Ok(r) = tokio::time::timeout(deadline, set.semop(&take)).await {
                            r.unwrap();
                            set.semop(&put).await.unwrap();
                        }
                    }
                    _ => {
                        let r = set.semop_timeout(&[SemOp::new(a, -(na as i16))], deadline).await;
                        if r.is_ok() {
                            set.try_semop(&[SemOp::new(a, na as i16)]).unwrap();
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(set.get_all().unwrap(), [UNITS; NSEMS as usize]);
    for n in 0..NSEMS {
        assert_eq!((set.get_ncnt(n).unwrap(), set.get_zcnt(n).unwrap()), (0, 0));
    }
}

#[test]
fn a_semaphore_guards_plain_data_across_threads() {
    // The data is read and written with separate Relaxed load/store (no RMW), so a lost
    // update shows if two threads are ever inside at once.
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(2).open().unwrap();
    set.set_val(0, 1).unwrap();
    let data = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let set = set.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                for k in 0..20_000 {
                    // alternate the fast path (one op) and the slow path (two ops)
                    if (k + i) % 2 == 0 {
                        set.blocking_semop(&[SemOp::new(0, -1)]).unwrap();
                    } else {
                        set.blocking_semop(&[SemOp::new(1, 0), SemOp::new(0, -1)]).unwrap();
                    }
                    let v = data.load(Relaxed);
                    data.store(v + 1, Relaxed);
                    set.blocking_semop(&[SemOp::new(0, 1)]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(data.load(Relaxed), 80_000);
    assert_eq!(set.get_val(0).unwrap(), 1);
}

#[test]
fn opposing_multi_op_transfers_never_show_a_half_state() {
    // Threads move units between three semaphores with 2-op semops (the lock-free multi-op
    // path, some with SEM_UNDO through the lock); a reader's GETALL must always see the sum.
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(3).open().unwrap();
    set.set_all(&[10, 10, 10]).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let movers: Vec<_> = (0..3u16)
        .map(|i| {
            let set = set.clone();
            std::thread::spawn(move || {
                let (from, to) = (i, (i + 1) % 3);
                for k in 0..20_000 {
                    let take = if k % 7 == 0 { SemOp::new(from, -1).undo() } else { SemOp::new(from, -1) };
                    let ops = [take, SemOp::new(to, 1).nowait()];
                    let _ = set.try_semop(&ops);
                }
            })
        })
        .collect();
    let reader = {
        let (set, stop) = (set.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Relaxed) || reads == 0 {
                let all = set.get_all().unwrap();
                assert_eq!(all.iter().map(|&v| u32::from(v)).sum::<u32>(), 30, "half state {all:?}");
                reads += 1;
            }
        })
    };
    for m in movers {
        m.join().unwrap();
    }
    stop.store(true, Relaxed);
    reader.join().unwrap();
    assert_eq!(set.get_all().unwrap().iter().map(|&v| u32::from(v)).sum::<u32>(), 30);
}
