//! An admission limiter over two resources at once: `cargo run --example limiter`.
//!
//! A service admits a request only if it can have **both** a connection slot (semaphore 0,
//! 3 of them) and its share of a memory budget (semaphore 1, 100 KiB): one atomic `semop`
//! takes both or neither, so a request waiting for memory never sits on a connection slot
//! meanwhile. A request that cannot be admitted within its deadline is turned away. In C:
//!
//! ```c
//! struct sembuf take[] = { { 0, -1, SEM_UNDO }, { 1, -cost, SEM_UNDO } };
//! semtimedop(limiter, take, 2, &deadline);   /* EAGAIN on expiry: answer 503 */
//! /* ... serve ... */
//! struct sembuf give[] = { { 0, 1, SEM_UNDO }, { 1, cost, SEM_UNDO } };
//! semop(limiter, give, 2);
//! ```
//!
//! In svipc, `acquire_many` is that pair of `semop`s with a guard: the units come back when
//! the permit drops. A deadline is `tokio::time::timeout` around it: the future is
//! cancel-safe, so an expired wait leaves no waiter behind and takes nothing. The kernel's
//! rule that a semop waits in FIFO order only among the calls that can proceed (no
//! starvation protection) shows in the third part.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use svipc::{Credentials, Key, Namespace, SemOp, SemaphoreSet};

const SLOTS: u16 = 0;
const MEMORY: u16 = 1;
const CONNECTIONS: u16 = 3;
const BUDGET_KIB: u16 = 100;

/// A deadline short enough to show an expiry, long enough for nothing else to matter.
const SHORT: Duration = Duration::from_millis(20);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000).with_pid(10));
    // semget(IPC_PRIVATE, 2, 0600), then semctl(SETALL): 3 slots, 100 KiB.
    let limiter = me.sem_set(Key::PRIVATE).create(0o600).nsems(2).open()?;
    limiter.set_all(&[CONNECTIONS, BUDGET_KIB])?;

    one_at_a_time(&limiter).await?;
    a_burst(&limiter).await?;
    no_starvation_protection(&limiter).await?;

    assert_eq!(limiter.get_all()?, [CONNECTIONS, BUDGET_KIB]); // every unit came back
    limiter.remove()?; // semctl(IPC_RMID)
    Ok(())
}

/// Admission step by step: both resources at once, an expiry that leaves no trace, and a
/// waiter admitted by the release that makes room for it.
async fn one_at_a_time(limiter: &SemaphoreSet) -> Result<(), Box<dyn std::error::Error>> {
    let a = limiter.acquire_many(&[(SLOTS, 1), (MEMORY, 60)]).await?;
    let b = limiter.acquire_many(&[(SLOTS, 1), (MEMORY, 30)]).await?;
    assert_eq!(limiter.get_all()?, [1, 10]);

    // 40 KiB is not there: the request waits, and its deadline expires. It held no slot while
    // it waited (all or nothing), and the expired future left no waiter (GETNCNT 0).
    let c = tokio::time::timeout(SHORT, limiter.acquire_many(&[(SLOTS, 1), (MEMORY, 40)])).await;
    assert!(c.is_err(), "40 KiB of 10 cannot be admitted");
    assert_eq!(limiter.get_all()?, [1, 10]);
    assert_eq!(limiter.get_ncnt(MEMORY)?, 0);
    println!("40 KiB with 10 free: turned away after {SHORT:?}, nothing taken");

    // The same request with a longer deadline waits on the memory semaphore (GETNCNT counts
    // the operation it is blocked on) until A's permit drops; the release performs the
    // waiter's semop, so nobody can take the room in between.
    let d = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            let permit = tokio::time::timeout(
                Duration::from_secs(30),
                limiter.acquire_many(&[(SLOTS, 1), (MEMORY, 40)]),
            )
            .await
            .expect("admitted once A is done")?;
            let seen = limiter.get_all()?;
            drop(permit);
            Ok::<_, svipc::Error>(seen)
        })
    };
    while limiter.get_ncnt(MEMORY)? == 0 {
        tokio::task::yield_now().await; // let D reach its wait
    }
    assert_eq!((limiter.get_ncnt(SLOTS)?, limiter.get_ncnt(MEMORY)?), (0, 1));
    drop(a); // one semop gives back the slot and 60 KiB
    assert_eq!(d.await??, [1, 30]); // D ran with B: 2 slots and 70 KiB in use
    drop(b);
    println!("40 KiB admitted as soon as 60 KiB came back");
    Ok(())
}

/// Forty requests at once, each with a deadline: whatever the timing, the limits hold and
/// every request is either served or turned away.
async fn a_burst(limiter: &SemaphoreSet) -> Result<(), Box<dyn std::error::Error>> {
    let in_flight = Arc::new(AtomicU32::new(0));
    let kib_in_use = Arc::new(AtomicU32::new(0));
    let (most_in_flight, most_kib) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let mut tasks = Vec::new();
    for i in 0..40u16 {
        let limiter = limiter.clone();
        let (in_flight, kib_in_use) = (in_flight.clone(), kib_in_use.clone());
        let (most_in_flight, most_kib) = (most_in_flight.clone(), most_kib.clone());
        tasks.push(tokio::spawn(async move {
            let cost = 10 + (i * 7) % 40; // 10..=49 KiB
            let admitted =
                tokio::time::timeout(SHORT * 5, limiter.acquire_many(&[(SLOTS, 1), (MEMORY, cost)])).await;
            let Ok(permit) = admitted else { return Ok::<_, svipc::Error>(false) };
            let _permit = permit?;
            let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let kib = kib_in_use.fetch_add(u32::from(cost), Ordering::SeqCst) + u32::from(cost);
            most_in_flight.fetch_max(n, Ordering::SeqCst);
            most_kib.fetch_max(kib, Ordering::SeqCst);
            tokio::task::yield_now().await; // "serve": let the others run meanwhile
            kib_in_use.fetch_sub(u32::from(cost), Ordering::SeqCst);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(true)
        }));
    }
    let (mut served, mut turned_away) = (0, 0);
    for t in tasks {
        if t.await?? {
            served += 1;
        } else {
            turned_away += 1;
        }
    }
    assert_eq!(served + turned_away, 40);
    assert!(served >= 1);
    assert!(most_in_flight.load(Ordering::SeqCst) <= u32::from(CONNECTIONS));
    assert!(most_kib.load(Ordering::SeqCst) <= u32::from(BUDGET_KIB));
    assert_eq!(limiter.get_all()?, [CONNECTIONS, BUDGET_KIB]);
    println!(
        "burst of 40: {served} served, {turned_away} turned away; at most {} in flight, {} KiB in use",
        most_in_flight.load(Ordering::SeqCst),
        most_kib.load(Ordering::SeqCst)
    );
    Ok(())
}

/// The kernel's order is FIFO among the requests that can proceed, not a queue: a small
/// request passes a large one that waits, and the large one can run out of time.
async fn no_starvation_protection(limiter: &SemaphoreSet) -> Result<(), Box<dyn std::error::Error>> {
    let hog = limiter.acquire_many(&[(SLOTS, 1), (MEMORY, 50)]).await?;
    let big = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            tokio::time::timeout(SHORT, limiter.acquire_many(&[(SLOTS, 1), (MEMORY, 90)])).await.is_ok()
        })
    };
    while limiter.get_ncnt(MEMORY)? == 0 {
        tokio::task::yield_now().await; // the big request is waiting now
    }
    // A small request arrives later and is admitted at once, past the waiting one.
    let small = limiter.try_semop(&[SemOp::new(SLOTS, -1), SemOp::new(MEMORY, -10)]);
    assert!(small.is_ok());
    assert!(!big.await?, "90 KiB never became free in time");
    limiter.try_semop(&[SemOp::new(SLOTS, 1), SemOp::new(MEMORY, 10)])?;
    drop(hog);
    println!("10 KiB admitted past a waiting 90 KiB request, which then timed out");
    Ok(())
}
