//! Soak: 4 producers, 4 consumers, 8 types, random selectors and random cancellation
//! through `tokio::time::timeout`, on a small queue so senders wait too. Every message is
//! received exactly once (count and checksum), on the current-thread and the multi-thread
//! runtime.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

mod rng;

use rng::Rng;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use svipc::msg::MsqidSet;
use svipc::{Credentials, Key, MessageQueue, Namespace, Select};

const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const PER_PRODUCER: u64 = 5000;
const TYPES: u64 = 8;

/// The type a value is sent with.
fn type_of(v: u64) -> i64 {
    (v.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as i64 % TYPES as i64 + 1
}

async fn soak() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    // room for 8 messages: senders wait often
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 64 }).unwrap();
    let total = PRODUCERS * PER_PRODUCER;
    let received = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));

    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x1234_5678 + p);
            for i in 0..PER_PRODUCER {
                let v = p * PER_PRODUCER + i;
                loop {
                    let wait = Duration::from_micros(rng.below(200));
                    match tokio::time::timeout(wait, q.send(type_of(v), v)).await {
                        Ok(r) => {
                            r.unwrap();
                            break;
                        }
                        // cancelled: not sent at all, so send it again
                        Err(_) => continue,
                    }
                }
            }
        }));
    }
    for c in 0..CONSUMERS {
        let q = q.clone();
        let received = received.clone();
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9abc_def0 + c);
            let mut mine = Vec::new();
            while received.load(SeqCst) < total {
                let t = rng.below(TYPES) as i64 + 1;
                let select = match rng.below(4) {
                    0 => Select::Any,
                    1 => Select::Type(t),
                    2 => Select::Except(t),
                    _ => Select::AtMost(t),
                };
                let wait = Duration::from_micros(rng.below(300));
                if let Ok(r) = tokio::time::timeout(wait, q.recv(select)).await {
                    let (mtype, v) = r.unwrap();
                    assert_eq!(mtype, type_of(v), "type travels with the message");
                    let ok = match select {
                        Select::Any => true,
                        Select::Type(t) => mtype == t,
                        Select::Except(t) => mtype != t,
                        Select::AtMost(t) => mtype <= t,
                    };
                    assert!(ok, "{select:?} returned type {mtype}");
                    mine.push(v);
                    received.fetch_add(1, SeqCst);
                }
            }
            seen.lock().unwrap().extend(mine);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.len() as u64, total, "count");
    let sum: u64 = seen.iter().sum();
    assert_eq!(sum, total * (total - 1) / 2, "checksum");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len() as u64, total, "no duplicates");
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (0, 0));
}

#[test]
fn smoke() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async {
        let ns = Namespace::new();
        let q: MessageQueue<u64> =
            ns.process(Credentials::new(0, 0)).msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
        q.send(type_of(3), 3).await.unwrap();
        assert_eq!(q.recv(Select::Any).await.unwrap(), (type_of(3), 3));
    });
}

#[test]
fn soak_current_thread() {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(soak());
}

#[test]
fn soak_multi_thread() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap()
        .block_on(soak());
}

/// One consumer, random selectors, random cancellation: every selector takes the oldest
/// message of the type it picks, so each producer's messages of one type arrive in the
/// order sent — through handoffs, the lanes, mode switches and put-backs of cancelled
/// receives alike.
async fn fifo_per_type() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 64 }).unwrap();
    const PER: u64 = 2000;
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let q = q.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..PER {
                let v = p * PER + i;
                // runs of 16 messages of one type, so simple mode's FIFO fills with them
                q.send(1 + (i / 16 % 3) as i64, v).await.unwrap();
            }
        }));
    }
    let mut rng = Rng(0x5eed);
    let mut last = std::collections::HashMap::new();
    let mut got = 0;
    while got < PRODUCERS * PER {
        let t = rng.below(3) as i64 + 1;
        let select = match rng.below(8) {
            0..=4 => Select::Any,
            5 => Select::Type(t),
            6 => Select::Except(t),
            _ => Select::AtMost(t),
        };
        let wait = Duration::from_micros(rng.below(300));
        if let Ok(r) = tokio::time::timeout(wait, q.recv(select)).await {
            let (mtype, v) = r.unwrap();
            let producer = v / PER;
            if let Some(prev) = last.insert((producer, mtype), v) {
                assert!(prev < v, "type {mtype} from producer {producer}: {v} after {prev}");
            }
            got += 1;
        }
    }
    for p in producers {
        p.await.unwrap();
    }
}

#[test]
fn fifo_per_type_current_thread() {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(fifo_per_type());
}

#[test]
fn fifo_per_type_multi_thread() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap()
        .block_on(fifo_per_type());
}
