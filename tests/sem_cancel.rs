//! Cancel safety (docs/kernel-rules.md §6.1, the sem module's `# Cancel safety`): every branch of the
//! rule, "poll once, then drop" on every future, dropped permits, timeouts.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

mod sem_common;
use sem_common::*;

use std::time::Duration;

use svipc::{Namespace, SemOp};

#[tokio::test]
async fn smoke() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let ops = [SemOp::new(0, -1)];
    let mut f = Box::pin(set.semop(&ops));
    assert!(pending(&mut f).await);
    drop(f);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(set.get_val(0).unwrap(), 1);
}

#[tokio::test]
async fn dropped_before_performed_has_no_effect() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    set.set_val(1, 3).unwrap();
    let ops = [SemOp::new(1, -1), SemOp::new(0, -1).undo()];
    let mut f = Box::pin(set.semop(&ops));
    assert!(pending(&mut f).await);
    assert_eq!(set.get_ncnt(0).unwrap(), 1);
    drop(f);
    assert_eq!((set.get_ncnt(0).unwrap(), set.get_all().unwrap()), (0, vec![0, 3]));
    // the semaphores are usable on the fast path again, and no wake-up is owed
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    set.try_semop(&[SemOp::new(0, -1)]).unwrap();
    // never polled at all: nothing either
    drop(set.semop(&[SemOp::new(0, 1)]));
    assert_eq!(set.get_val(0).unwrap(), 0);
}

#[tokio::test]
async fn dropped_after_performed_gives_the_decrement_back_and_passes_it_on() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let a_set = proc_(&ns, 10).sem_set_by_id(set.id()).unwrap();
    let c_set = proc_(&ns, 12).sem_set_by_id(set.id()).unwrap();
    let ops = [SemOp::new(0, -1)];
    let mut a = Box::pin(a_set.semop(&ops));
    let mut c = Box::pin(c_set.semop(&ops));
    assert!(pending(&mut a).await && pending(&mut c).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap(); // performed for A
    assert_eq!(set.get_pid(0).unwrap(), 10);
    drop(a); // the inverse gives the unit back, and the wake-up re-runs: C gets it
    assert_eq!(set.get_val(0).unwrap(), 0);
    assert_eq!(set.get_pid(0).unwrap(), 12);
    assert!(!pending(&mut c).await);
}

#[tokio::test]
async fn dropped_after_performed_takes_an_increment_back_where_it_can() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let ops = [SemOp::new(0, -1), SemOp::new(1, 2)];
    let mut a = Box::pin(set.semop(&ops));
    assert!(pending(&mut a).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    assert_eq!(set.get_all().unwrap(), [0, 2]);
    drop(a);
    assert_eq!(set.get_all().unwrap(), [1, 0], "as if the inverse had run");
}

#[tokio::test]
async fn the_op_stands_when_the_inverse_cannot_apply() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let ops = [SemOp::new(0, -1), SemOp::new(1, 1)];
    let mut a = Box::pin(set.semop(&ops));
    assert!(pending(&mut a).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    set.try_semop(&[SemOp::new(1, -1)]).unwrap(); // the unit A added is taken
    drop(a);
    assert_eq!(set.get_all().unwrap(), [0, 0], "the inverse would have to wait: A's op stands");
}

#[tokio::test]
async fn the_op_stands_when_setval_or_setall_touched_it_since() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let ops = [SemOp::new(0, -1)];
    let mut a = Box::pin(set.semop(&ops));
    assert!(pending(&mut a).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    set.set_val(0, 7).unwrap();
    drop(a);
    assert_eq!(set.get_val(0).unwrap(), 7);

    let ops = [SemOp::new(0, -1), SemOp::new(1, -1)];
    set.set_all(&[0, 0]).unwrap();
    let mut b = Box::pin(set.semop(&ops));
    assert!(pending(&mut b).await);
    set.try_semop(&[SemOp::new(0, 1), SemOp::new(1, 1)]).unwrap();
    set.set_all(&[4, 4]).unwrap();
    drop(b);
    assert_eq!(set.get_all().unwrap(), [4, 4]);

    // a SETVAL of another semaphore does not count
    let ops = [SemOp::new(0, -1)];
    set.set_all(&[0, 0]).unwrap();
    let mut c = Box::pin(set.semop(&ops));
    assert!(pending(&mut c).await);
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    set.set_val(1, 9).unwrap();
    drop(c);
    assert_eq!(set.get_all().unwrap(), [1, 9]);
}

#[tokio::test]
async fn a_dropped_wait_for_zero_or_failed_sleeper_changes_nothing() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    set.set_val(0, 1).unwrap();
    let z = [SemOp::new(0, 0)];
    let mut f = Box::pin(set.semop(&z));
    assert!(pending(&mut f).await);
    set.set_val(0, 0).unwrap();
    drop(f);
    assert_eq!(set.get_val(0).unwrap(), 0);
    // a sleeper handed ERANGE and then dropped
    set.set_val(1, 32767).unwrap();
    let ops = [SemOp::new(0, -1), SemOp::new(1, 1)];
    let mut f = Box::pin(set.semop(&ops));
    assert!(pending(&mut f).await);
    set.set_val(0, 1).unwrap();
    drop(f);
    assert_eq!(set.get_all().unwrap(), [1, 32767]);
}

#[tokio::test]
async fn inverse_with_sem_undo_restores_semadj() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let p = proc_(&ns, 20);
    {
        let mine = p.sem_set_by_id(set.id()).unwrap();
        let ops = [SemOp::new(0, -1).undo()];
        let mut f = Box::pin(mine.semop(&ops));
        assert!(pending(&mut f).await);
        set.try_semop(&[SemOp::new(0, 1)]).unwrap(); // performed: semadj +1
        drop(f); // inverse: value back to 1, semadj back to 0
        assert_eq!(set.get_val(0).unwrap(), 1);
    }
    drop(p); // exit: semadj 0, nothing added
    assert_eq!(set.get_val(0).unwrap(), 1);
}

#[tokio::test]
async fn poll_once_then_drop_every_future() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let ops = [SemOp::new(0, -1), SemOp::new(1, 0)];
    let mut f = Box::pin(set.semop(&ops));
    assert!(pending(&mut f).await);
    drop(f);
    let mut f = Box::pin(set.acquire(0, 1));
    assert!(pending(&mut f).await);
    drop(f);
    let mut f = Box::pin(set.acquire_many(&[(0, 1), (1, 2)]));
    assert!(pending(&mut f).await);
    drop(f);
    let mut f = Box::pin(set.semop_timeout(&ops, Duration::from_secs(60)));
    assert!(pending(&mut f).await);
    drop(f);
    assert_eq!((set.get_ncnt(0).unwrap(), set.get_ncnt(1).unwrap()), (0, 0));
    set.set_all(&[2, 3]).unwrap();
    assert_eq!(set.get_all().unwrap(), [2, 3]);
}

#[tokio::test]
async fn permits_give_back_on_drop_and_forget_keeps() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    set.set_all(&[3, 3]).unwrap();
    let p = set.acquire(0, 2).await.unwrap();
    assert_eq!(set.get_val(0).unwrap(), 1);
    drop(p);
    assert_eq!(set.get_val(0).unwrap(), 3);
    let p = set.acquire_many(&[(0, 1), (1, 3), (0, 1)]).await.unwrap();
    assert_eq!(set.get_all().unwrap(), [1, 0]);
    assert_eq!(p.set().id(), set.id());
    drop(p);
    assert_eq!(set.get_all().unwrap(), [3, 3]);
    set.acquire(1, 1).await.unwrap().forget();
    assert_eq!(set.get_val(1).unwrap(), 2);
    // zero units: nothing taken, no wait-for-zero
    let p = set.acquire(0, 0).await.unwrap();
    drop(p);
    assert_eq!(set.get_val(0).unwrap(), 3);
    assert_eq!(set.acquire(9, 0).await.unwrap_err().errno(), 27);
    assert_eq!(set.acquire(9, 1).await.unwrap_err().errno(), 27);
    assert_eq!(set.acquire(0, 40000).await.unwrap_err().errno(), 22);
    // a waiting acquire is woken by a dropped permit
    let held = set.acquire(0, 3).await.unwrap();
    let mut waiting = Box::pin(set.acquire(0, 2));
    assert!(pending(&mut waiting).await);
    drop(held);
    let got = waiting.await.unwrap();
    assert_eq!(set.get_val(0).unwrap(), 1);
    drop(got);
    assert_eq!(set.get_val(0).unwrap(), 3);
}

#[tokio::test]
async fn timeout_expiry_leaves_nothing_behind() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let e = set.semop_timeout(&[SemOp::new(0, -1)], Duration::from_millis(5)).await.unwrap_err();
    assert!(e.is_timeout() && e.is_would_block());
    assert_eq!(e.errno(), 11);
    assert_eq!(set.get_ncnt(0).unwrap(), 0);
    set.semop_timeout(&[SemOp::new(0, 1)], Duration::from_millis(5)).await.unwrap();
    assert_eq!(set.get_val(0).unwrap(), 1);
    let r = tokio::time::timeout(Duration::from_millis(5), set.acquire(0, 2)).await;
    assert!(r.is_err());
    assert_eq!((set.get_val(0).unwrap(), set.get_ncnt(0).unwrap()), (1, 0));
}

#[test]
fn blocking_semop_waits_and_is_woken() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let s2 = set.clone();
    let t = std::thread::spawn(move || s2.blocking_semop(&[SemOp::new(0, -2)]));
    set.blocking_semop(&[SemOp::new(0, 2)]).unwrap();
    t.join().unwrap().unwrap();
    assert_eq!(set.get_val(0).unwrap(), 0);
}
