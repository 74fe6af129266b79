//! A worker pool on one System V message queue, and its graceful stop:
//! `cargo run --example worker_pool`.
//!
//! * **Typed jobs with priorities.** A job's `mtype` is its priority (1 urgent, 2 normal,
//!   3 bulk); workers receive with `Select::AtMost(STOP)` — `msgrcv` with a negative
//!   `msgtyp` — which takes the oldest message of the *lowest* type first.
//! * **Replies by `mtype`.** Every producer has an id and reads its replies from a second
//!   queue with `Select::Type(id)`, so the producers share one reply queue.
//! * **The stop.** Producers stop first (they are joined). Then one `STOP` message per
//!   worker goes in with the highest type, so `AtMost` hands it out only once no job is
//!   queued: each worker drains what is left, takes one `STOP` and exits. Last, the queues
//!   go: the job queue by `remove()` (`IPC_RMID`), the reply queue by `remove_on_drop()`
//!   when its last handle drops. A worker would also stop on `is_removed()` — the queue was
//!   removed under it (`EIDRM` while waiting, `EINVAL` after) — which is how a hard stop
//!   looks to it.

use std::collections::BTreeMap;

use svipc::{Credentials, Key, MessageQueue, Namespace, Payload, Select};

/// Job priorities: the lower the type, the sooner it is served.
const URGENT: i64 = 1;
const BULK: i64 = 3;
/// Served after every job: the signal to exit once the queue is drained.
const STOP: i64 = 9;

const PRODUCERS: i64 = 3;
const WORKERS: usize = 4;
const JOBS_PER_PRODUCER: u64 = 50;

/// A job: square `n` for `producer`.
#[derive(Debug)]
struct Job {
    producer: i64,
    n: u64,
}

impl Payload for Job {
    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

/// A worker's answer, sent back with `mtype = producer`.
#[derive(Debug)]
struct Reply {
    n: u64,
    square: u64,
    worker: usize,
}

impl Payload for Reply {
    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // This OS process as an actor, in a namespace of its own (`Process::current()` would
    // use the global one; `remove_on_drop` keeps that free of leaks as well).
    let ns = Namespace::new();
    let me = ns.process(Credentials::current());
    // msgget(IPC_PRIVATE, 0600) twice; the reply queue goes with its last handle.
    let jobs: MessageQueue<Job> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    let replies: MessageQueue<Reply> = me.msg_queue(Key::PRIVATE).create(0o600).remove_on_drop().open()?;

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (jobs, replies) = (jobs.clone(), replies.clone());
            tokio::spawn(async move { worker(w, jobs, replies).await })
        })
        .collect();

    // Producers: each sends its jobs, every tenth one urgent, the rest bulk, and stops.
    let producers: Vec<_> = (1..=PRODUCERS)
        .map(|producer| {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                for n in 0..JOBS_PER_PRODUCER {
                    let priority = if n % 10 == 0 { URGENT } else { BULK };
                    jobs.send(priority, Job { producer, n }).await?;
                }
                Ok::<_, svipc::Error>(())
            })
        })
        .collect();
    for p in producers {
        p.await??;
    }
    println!("producers stopped; {} jobs still queued", jobs.stat()?.qnum);

    // One STOP per worker, behind every job: the workers drain the queue, then exit.
    for _ in 0..WORKERS {
        jobs.send(STOP, Job { producer: 0, n: 0 }).await?;
    }
    let mut done_by = Vec::new();
    for w in workers {
        done_by.push(w.await??);
    }
    assert_eq!(jobs.stat()?.qnum, 0, "drained");
    jobs.remove()?; // msgctl(IPC_RMID): the job queue goes

    // Every producer reads its own replies: msgrcv(msgtyp = producer id).
    let mut answered = BTreeMap::new();
    let mut per_worker = vec![0u64; WORKERS];
    for producer in 1..=PRODUCERS {
        let mut got = 0;
        while let Ok((mtype, reply)) = replies.try_recv(Select::Type(producer)) {
            assert_eq!((mtype, reply.square), (producer, reply.n * reply.n));
            per_worker[reply.worker] += 1;
            got += 1;
        }
        answered.insert(producer, got);
    }
    println!("replies per producer: {answered:?}; jobs per worker: {done_by:?}");
    assert!(answered.values().all(|&n| n == JOBS_PER_PRODUCER));
    assert_eq!(per_worker, done_by, "every job served was answered");

    drop(replies); // its last handle: remove_on_drop removes it
    assert!(ns.ipcs().is_empty(), "both queues are gone");
    println!("both queues removed; the pool stopped cleanly");
    Ok(())
}

/// Serves jobs, most urgent first, until it takes a `STOP` (or its queue is removed);
/// returns how many jobs it served.
async fn worker(
    w: usize,
    jobs: MessageQueue<Job>,
    replies: MessageQueue<Reply>,
) -> Result<u64, svipc::Error> {
    let mut served = 0;
    loop {
        let (mtype, job) = match jobs.recv(Select::AtMost(STOP)).await {
            Ok(m) => m,
            Err(e) if e.is_removed() => return Ok(served), // a hard stop: the queue went
            Err(e) => return Err(e),
        };
        if mtype == STOP {
            return Ok(served);
        }
        let reply = Reply { n: job.n, square: job.n * job.n, worker: w };
        replies.send(job.producer, reply).await.map_err(svipc::Error::from)?;
        served += 1;
        tokio::task::yield_now().await;
    }
}
