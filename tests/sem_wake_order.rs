//! The kernel's wake-up order (docs/kernel-rules.md §3, "Who is woken, and
//! in what order"): the waker performs the sleeper's op, zero-waiters
//! first, FIFO among those that can proceed, no starvation protection, restart from the head
//! while complex ops sleep, retries failing with ERANGE/EAGAIN, GETNCNT/GETZCNT on the
//! current blocking sop.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

mod sem_common;
use sem_common::*;

use svipc::{ErrorKind, Namespace, SemOp};

#[tokio::test]
async fn smoke() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let ops = [SemOp::new(0, -1)];
    let mut f = Box::pin(set.semop(&ops));
    assert!(pending(&mut f).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(ready(&mut f).await, Some(Ok(())));
}

#[tokio::test]
async fn the_waker_performs_the_sleepers_op() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let sleeper = proc_(&ns, 10).sem_set_by_id(set.id()).unwrap();
    let ops = [SemOp::new(0, -1)];
    let mut f = Box::pin(sleeper.semop(&ops));
    assert!(pending(&mut f).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    // already applied, with the sleeper's pid, before the sleeper runs
    assert_eq!(set.get_val(0).unwrap(), 0);
    assert_eq!(set.get_pid(0).unwrap(), 10);
    assert_eq!(set.get_ncnt(0).unwrap(), 0);
    // a third party cannot steal the unit
    let thief = proc_(&ns, 11).sem_set_by_id(set.id()).unwrap();
    assert_eq!(thief.try_semop(&[SemOp::new(0, -1)]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(ready(&mut f).await, Some(Ok(())));
}

#[tokio::test]
async fn zero_waiters_are_handled_before_alter_waiters() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    set.set_val(0, 1).unwrap();
    let z_ops = [SemOp::new(0, 0)];
    let a_ops = [SemOp::new(1, -1), SemOp::new(0, 1)];
    let mut a = Box::pin(set.semop(&a_ops)); // older
    let mut z = Box::pin(set.semop(&z_ops));
    assert!(pending(&mut a).await && pending(&mut z).await);
    assert_eq!((set.get_zcnt(0).unwrap(), set.get_ncnt(1).unwrap()), (1, 1));
    // sem0 -> 0, sem1 -> 1: Z (zero) runs first and completes, then A completes, sem0 back to 1
    set.try_semop(&[SemOp::new(0, -1), SemOp::new(1, 1)]).unwrap();
    assert_eq!(ready(&mut z).await, Some(Ok(())));
    assert_eq!(ready(&mut a).await, Some(Ok(())));
    assert_eq!(set.get_all().unwrap(), [1, 0]);
}

#[tokio::test]
async fn fifo_among_those_that_can_proceed() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let (two, one) = ([SemOp::new(0, -2)], [SemOp::new(0, -1)]);
    let mut a = Box::pin(set.semop(&two));
    let mut b = Box::pin(set.semop(&one));
    let mut c = Box::pin(set.semop(&one));
    assert!(pending(&mut a).await && pending(&mut b).await && pending(&mut c).await);
    assert_eq!(set.get_ncnt(0).unwrap(), 3);
    // one unit: A cannot proceed, B (the oldest that can) takes it
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(ready(&mut b).await, Some(Ok(())));
    assert!(pending(&mut a).await && pending(&mut c).await);
    // three units: A first (FIFO), then C
    set.try_semop(&[SemOp::new(0, 3)]).unwrap();
    assert_eq!(ready(&mut a).await, Some(Ok(())));
    assert_eq!(ready(&mut c).await, Some(Ok(())));
    assert_eq!(set.get_val(0).unwrap(), 0);
}

#[tokio::test]
async fn a_newcomer_that_can_proceed_passes_older_waiters() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    set.set_val(0, 1).unwrap();
    let two = [SemOp::new(0, -2)];
    let mut a = Box::pin(set.semop(&two));
    assert!(pending(&mut a).await);
    // no starvation protection: the newcomer's -1 succeeds past A's -2
    set.semop(&[SemOp::new(0, -1)]).await.unwrap();
    assert!(pending(&mut a).await);
    assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (0, 1));
}

#[tokio::test]
async fn a_decrement_never_wakes_alter_waiters_and_per_semaphore_scans_stop_at_zero() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let a_ops = [SemOp::new(0, -1)];
    let mut a = Box::pin(set.semop(&a_ops));
    assert!(pending(&mut a).await);
    set.set_val(1, 5).unwrap();
    set.try_semop(&[SemOp::new(1, -1)]).unwrap();
    assert!(pending(&mut a).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(ready(&mut a).await, Some(Ok(())));
}

#[tokio::test]
async fn with_complex_ops_asleep_the_scan_restarts_from_the_head() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let w1_ops = [SemOp::new(1, -1)];
    let w2_ops = [SemOp::new(0, -1), SemOp::new(1, 1)];
    let mut w1 = Box::pin(set.semop(&w1_ops));
    let mut w2 = Box::pin(set.semop(&w2_ops));
    assert!(pending(&mut w1).await && pending(&mut w2).await);
    // +1 on sem 0: W1 (head) still blocks, W2 completes and gives sem 1 a unit, the scan
    // restarts from the head and W1 completes too
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(ready(&mut w2).await, Some(Ok(())));
    assert_eq!(ready(&mut w1).await, Some(Ok(())));
    assert_eq!(set.get_all().unwrap(), [0, 0]);
}

#[tokio::test]
async fn a_completion_chains_into_zero_waiters() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let dec = [SemOp::new(0, -1)];
    let zero = [SemOp::new(0, 0)];
    set.set_val(0, 1).unwrap();
    let mut z = Box::pin(set.semop(&zero));
    assert!(pending(&mut z).await);
    set.set_val(0, 0).unwrap(); // completes Z at once
    assert_eq!(ready(&mut z).await, Some(Ok(())));
    let mut d = Box::pin(set.semop(&dec));
    assert!(pending(&mut d).await);
    set.set_val(0, 0).unwrap();
    let mut z = Box::pin(set.semop(&zero));
    assert_eq!(ready(&mut z).await, Some(Ok(())), "value 0: no wait");
    set.set_val(0, 2).unwrap(); // d takes one, value 1
    assert_eq!(ready(&mut d).await, Some(Ok(())));
    let mut z = Box::pin(set.semop(&zero));
    assert!(pending(&mut z).await);
    let mut d = Box::pin(set.semop(&dec));
    assert_eq!(ready(&mut d).await, Some(Ok(())), "its decrement to 0 releases Z");
    assert_eq!(ready(&mut z).await, Some(Ok(())));
}

#[tokio::test]
async fn a_retry_can_complete_with_erange() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    set.set_val(1, 32767).unwrap();
    let ops = [SemOp::new(0, -1), SemOp::new(1, 1)];
    let mut w = Box::pin(set.semop(&ops));
    assert!(pending(&mut w).await, "the first failing sop blocks: it sleeps");
    set.set_val(0, 1).unwrap();
    assert_eq!(ready(&mut w).await.unwrap().unwrap_err().kind(), ErrorKind::OutOfRange);
    assert_eq!(set.get_all().unwrap(), [1, 32767]);
}

#[tokio::test]
async fn a_retry_can_complete_with_eagain_and_ncnt_zcnt_follow_the_blocking_sop() {
    let ns = Namespace::new();
    let set = new_set(&ns, 3);
    set.set_val(1, 1).unwrap();
    let ops = [SemOp::new(0, -1), SemOp::new(1, 0), SemOp::new(2, -1).nowait()];
    let mut w = Box::pin(set.semop(&ops));
    assert!(pending(&mut w).await);
    assert_eq!((set.get_ncnt(0).unwrap(), set.get_zcnt(1).unwrap()), (1, 0));
    set.set_val(0, 1).unwrap();
    // now blocked on sem 1's wait-for-zero
    assert!(pending(&mut w).await);
    assert_eq!((set.get_ncnt(0).unwrap(), set.get_zcnt(1).unwrap()), (0, 1));
    // sem 1 -> 0: the retry blocks on sem 2, flagged IPC_NOWAIT: EAGAIN
    set.set_val(1, 0).unwrap();
    let e = ready(&mut w).await.unwrap().unwrap_err();
    assert!(e.is_would_block() && !e.is_timeout());
    assert_eq!(set.get_all().unwrap(), [1, 0, 0]);
    assert_eq!(set.get_zcnt(1).unwrap(), 0);
}

#[tokio::test]
async fn merged_single_sleepers_come_before_a_later_complex_op() {
    // Per-semaphore sleepers A (sem 0) and B (sem 1); a complex op C goes to sleep, merging
    // the lists (B, A, C: the order between A and B cannot be observed, they never compete).
    // C competes with A for sem 0 and loses: A is older.
    let ns = Namespace::new();
    let set = new_set(&ns, 3);
    set.set_all(&[1, 1, 0]).unwrap();
    let a_ops = [SemOp::new(0, -2)];
    let b_ops = [SemOp::new(1, -2)];
    let c_ops = [SemOp::new(2, -1), SemOp::new(0, -1)];
    let mut a = Box::pin(set.semop(&a_ops));
    let mut b = Box::pin(set.semop(&b_ops));
    assert!(pending(&mut a).await && pending(&mut b).await);
    let mut c = Box::pin(set.semop(&c_ops));
    assert!(pending(&mut c).await);
    // values 2,2,1: B runs first (merged: sem 1's list first), then A, then C is blocked
    // on sem 0 (now 0)
    set.set_all(&[2, 2, 1]).unwrap();
    assert_eq!(ready(&mut b).await, Some(Ok(())));
    assert_eq!(ready(&mut a).await, Some(Ok(())));
    assert!(pending(&mut c).await);
    assert_eq!(set.get_all().unwrap(), [0, 0, 1]);
}

#[tokio::test]
async fn a_complex_wait_for_zero_completes_when_all_its_semaphores_reach_zero() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    set.set_all(&[1, 1]).unwrap();
    let ops = [SemOp::new(0, 0), SemOp::new(1, 0)];
    let mut w = Box::pin(set.semop(&ops));
    assert!(pending(&mut w).await);
    assert_eq!((set.get_zcnt(0).unwrap(), set.get_zcnt(1).unwrap()), (1, 0));
    // a decrement of sem 0 to zero (a semop: the waker retries it, it now blocks on sem 1)
    set.try_semop(&[SemOp::new(0, -1)]).unwrap();
    assert!(pending(&mut w).await);
    assert_eq!((set.get_zcnt(0).unwrap(), set.get_zcnt(1).unwrap()), (0, 1));
    let before = set.get_pid(1).unwrap();
    let other = proc_(&ns, 33).sem_set_by_id(set.id()).unwrap();
    other.try_semop(&[SemOp::new(1, -1)]).unwrap();
    assert_eq!(ready(&mut w).await, Some(Ok(())));
    // the waiter's own pid (1, its handle's process) is the last sempid on both
    assert_eq!((before, set.get_pid(0).unwrap(), set.get_pid(1).unwrap()), (1, 1, 1));
}

/// The one-sop path's hand-off (`set/one.rs`) takes only the exact hand-off (the oldest
/// sleeper, a one-sop decrement of this semaphore, leaving 0); every other increment goes on
/// in the generic scan. Each case here is one of those others, with the generic outcome.
#[tokio::test]
async fn the_one_sop_hand_off_leaves_every_other_case_to_the_generic_scan() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let take = [SemOp::new(0, -1)];
    // +2 with two -1 sleepers: the first leaves 1, so both are performed.
    let (mut a, mut b) = (Box::pin(set.semop(&take)), Box::pin(set.semop(&take)));
    assert!(pending(&mut a).await && pending(&mut b).await);
    set.try_semop(&[SemOp::new(0, 2)]).unwrap();
    assert_eq!((ready(&mut a).await, ready(&mut b).await), (Some(Ok(())), Some(Ok(()))));
    assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (0, 0));
    // The oldest sleeper is another semaphore's: passed over, the next one of sem 0 served.
    let other = [SemOp::new(1, -1)];
    let (mut o, mut c) = (Box::pin(set.semop(&other)), Box::pin(set.semop(&take)));
    assert!(pending(&mut o).await && pending(&mut c).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(ready(&mut c).await, Some(Ok(())));
    assert!(pending(&mut o).await);
    assert_eq!((set.get_ncnt(0).unwrap(), set.get_ncnt(1).unwrap()), (0, 1));
    // The oldest sleeper is a wait-for-zero: +1 lets the -2 behind it through, which
    // leaves 0 and so completes the wait-for-zero too.
    set.set_val(0, 1).unwrap();
    let (zero, two) = ([SemOp::new(0, 0)], [SemOp::new(0, -2)]);
    let (mut z, mut d) = (Box::pin(set.semop(&zero)), Box::pin(set.semop(&two)));
    assert!(pending(&mut z).await && pending(&mut d).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!((ready(&mut d).await, ready(&mut z).await), (Some(Ok(())), Some(Ok(()))));
    // A -2 sleeper that +1 does not satisfy stays; the -1 behind it is served.
    let (mut e, mut f) = (Box::pin(set.semop(&two)), Box::pin(set.semop(&take)));
    assert!(pending(&mut e).await && pending(&mut f).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(ready(&mut f).await, Some(Ok(())));
    assert!(pending(&mut e).await);
    // A decrement that leaves 0 completes the wait-for-zero sleepers.
    set.try_semop(&[SemOp::new(0, 3)]).unwrap(); // serves `e`, leaves 1
    assert_eq!(ready(&mut e).await, Some(Ok(())));
    let mut y = Box::pin(set.semop(&zero));
    assert!(pending(&mut y).await);
    set.try_semop(&take).unwrap();
    assert_eq!(ready(&mut y).await, Some(Ok(())));
    assert_eq!((set.get_all().unwrap(), set.get_zcnt(0).unwrap()), (vec![0, 0], 0));
    drop(o);
}

/// The contended hand-off (`+1` meeting the oldest sleeper's `-1` at 0) leaves the value
/// unwritten; what the two ops still leave behind is checked here: `sempid` is the sleeper's
/// (the op performed last), the counts are given back, and with `SEM_UNDO` on either side
/// each process's `semadj` is its own op's inverse, applied when it exits.
#[tokio::test]
async fn a_hand_off_leaves_the_sleepers_pid_and_each_sides_semadj() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let (p, q) = (proc_(&ns, 70), proc_(&ns, 71));
    let (hp, hq) = (p.sem_set_by_id(set.id()).unwrap(), q.sem_set_by_id(set.id()).unwrap());
    let state = |set: &svipc::SemaphoreSet| {
        (set.get_val(0).unwrap(), set.get_pid(0).unwrap(), set.get_ncnt(0).unwrap())
    };
    for (give, take) in [
        (SemOp::new(0, 1), SemOp::new(0, -1)),
        (SemOp::new(0, 1).undo(), SemOp::new(0, -1)),
        (SemOp::new(0, 1), SemOp::new(0, -1).undo()),
        (SemOp::new(0, 2).undo(), SemOp::new(0, -2).undo()),
    ] {
        let take = [take];
        let mut sleeper = Box::pin(hq.semop(&take));
        assert!(pending(&mut sleeper).await);
        assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (0, 1), "{give:?}");
        hp.try_semop(&[give]).unwrap();
        assert_eq!(ready(&mut sleeper).await, Some(Ok(())));
        assert_eq!(state(&set), (0, 71, 0), "{give:?}");
    }
    // semadj: p gave 1 + 2 with SEM_UNDO (-3), q took 1 + 2 with it (+3).
    drop((q, hq));
    assert_eq!((set.get_val(0).unwrap(), set.get_pid(0).unwrap()), (3, 71));
    drop((p, hp));
    assert_eq!((set.get_val(0).unwrap(), set.get_pid(0).unwrap()), (0, 70));
}
