//! SEM_UNDO: per (process, set) records shared by clones, applied at exit clamped to
//! [0, SEMVMX] with sempid and sem_otime, zeroed by SETVAL/SETALL, dropped by IPC_RMID, and
//! the semadj range.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

mod sem_common;
use sem_common::*;

use svipc::{ErrorKind, Namespace, SemOp};

#[test]
fn smoke() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let p = proc_(&ns, 5);
    p.sem_set_by_id(set.id()).unwrap().try_semop(&[SemOp::new(0, 3).undo()]).unwrap();
    assert_eq!(set.get_val(0).unwrap(), 3);
    drop(p);
    assert_eq!(set.get_val(0).unwrap(), 0);
}

#[test]
fn applied_when_the_last_clone_or_handle_drops_with_pid_and_otime() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let p = proc_(&ns, 50);
    let thread2 = p.clone();
    let h = p.sem_set_by_id(set.id()).unwrap();
    h.try_semop(&[SemOp::new(0, 2).undo(), SemOp::new(1, 1)]).unwrap();
    thread2.sem_set_by_id(set.id()).unwrap().try_semop(&[SemOp::new(0, 1).undo()]).unwrap();
    set.try_semop(&[SemOp::new(1, -1), SemOp::new(1, 0).nowait()]).unwrap();
    let otime_before = set.stat().unwrap().otime;
    assert!(otime_before > 0);
    drop(p);
    drop(thread2);
    assert_eq!(set.get_val(0).unwrap(), 3, "a thread ending applies nothing");
    assert_eq!(set.get_pid(0).unwrap(), 50);
    drop(h); // the last holder: exit
    assert_eq!(set.get_all().unwrap(), [0, 0]);
    assert_eq!(set.get_pid(0).unwrap(), 50, "sempid = the exiting pid");
    assert_eq!(set.get_pid(1).unwrap(), 1, "untouched semaphores keep theirs");
    assert!(set.stat().unwrap().otime >= otime_before);
}

#[test]
fn exit_clamps_to_zero_and_semvmx() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let p = proc_(&ns, 60);
    let h = p.sem_set_by_id(set.id()).unwrap();
    // semadj -2 on sem 0, then another process takes the units: exit would go to -2
    h.try_semop(&[SemOp::new(0, 2).undo()]).unwrap();
    set.try_semop(&[SemOp::new(0, -2)]).unwrap();
    // semadj +3 on sem 1, then the value is raised near SEMVMX
    set.try_semop(&[SemOp::new(1, 3)]).unwrap();
    h.try_semop(&[SemOp::new(1, -3).undo()]).unwrap();
    set.try_semop(&[SemOp::new(1, 32766)]).unwrap();
    drop((p, h));
    assert_eq!(set.get_all().unwrap(), [0, 32767]);
}

#[test]
fn setval_and_setall_clear_adjustments_of_every_process() {
    let ns = Namespace::new();
    let set = new_set(&ns, 2);
    let (p, q) = (proc_(&ns, 70), proc_(&ns, 71));
    let hp = p.sem_set_by_id(set.id()).unwrap();
    let hq = q.sem_set_by_id(set.id()).unwrap();
    hp.try_semop(&[SemOp::new(0, 1).undo(), SemOp::new(1, 1).undo()]).unwrap();
    hq.try_semop(&[SemOp::new(0, 1).undo(), SemOp::new(1, 1).undo()]).unwrap();
    set.set_val(0, 10).unwrap(); // zeroes semadj[0] of both
    drop((p, hp));
    assert_eq!(set.get_all().unwrap(), [10, 1]);
    set.set_all(&[5, 5]).unwrap(); // zeroes every semadj of the set
    drop((q, hq));
    assert_eq!(set.get_all().unwrap(), [5, 5]);
}

#[test]
fn rmid_drops_the_records_and_exit_skips_the_set() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let other = new_set(&ns, 1);
    let p = proc_(&ns, 80);
    p.sem_set_by_id(set.id()).unwrap().try_semop(&[SemOp::new(0, 1).undo()]).unwrap();
    p.sem_set_by_id(other.id()).unwrap().try_semop(&[SemOp::new(0, 2).undo()]).unwrap();
    set.remove().unwrap();
    drop(p); // no panic; the other set is still adjusted
    assert_eq!(other.get_val(0).unwrap(), 0);
    assert_eq!(set.get_val(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn semadj_range_is_erange() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let p = proc_(&ns, 90);
    let h = p.sem_set_by_id(set.id()).unwrap();
    set.set_val(0, 32767).unwrap();
    h.try_semop(&[SemOp::new(0, -32767).undo()]).unwrap(); // semadj 32767
    set.try_semop(&[SemOp::new(0, 1)]).unwrap();
    let e = h.try_semop(&[SemOp::new(0, -1).undo()]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange, "semadj 32768");
    // without SEM_UNDO it goes
    h.try_semop(&[SemOp::new(0, -1)]).unwrap();
    // repeated sem_num accumulate in one call: +1 -1 keeps semadj in range
    h.try_semop(&[SemOp::new(0, 1).undo(), SemOp::new(0, -1).undo()]).unwrap();
    drop((p, h));
    assert_eq!(set.get_val(0).unwrap(), 32767, "exit adds 32767, clamped");
}

#[tokio::test]
async fn a_waiter_performed_by_a_waker_records_its_semadj_and_exit_wakes_sleepers() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    let p = proc_(&ns, 91);
    let h = p.sem_set_by_id(set.id()).unwrap();
    let ops = [SemOp::new(0, 1).undo(), SemOp::new(0, -2).undo()];
    set.set_val(0, 0).unwrap();
    {
        let mut f = Box::pin(h.semop(&ops));
        assert!(pending(&mut f).await);
        set.try_semop(&[SemOp::new(0, 1)]).unwrap(); // performed: value 0, semadj +1
        f.await.unwrap();
    }
    assert_eq!(set.get_val(0).unwrap(), 0);
    // a sleeper that the exit will satisfy
    let dec = [SemOp::new(0, -1)];
    let mut w = Box::pin(set.semop(&dec));
    assert!(pending(&mut w).await);
    drop((p, h)); // exit adds 1 back, which completes w
    w.await.unwrap();
    assert_eq!(set.get_val(0).unwrap(), 0);
    assert_eq!(set.get_pid(0).unwrap(), 1);
}

/// Issue 13, defect 2: a `SEM_UNDO` semop whose future was leaked (`mem::forget`) while it
/// waited must not write into the undo record of another process once its own process has
/// exited and the record's slot was handed on. The leaked op's undo record is gone, so when
/// it is woken it fails (`EIDRM`, the kernel's answer for a freed undo record) and changes
/// nothing; the other process's exit gives back exactly its own adjustment.
#[tokio::test]
async fn a_leaked_undo_op_never_writes_another_process_semadj() {
    let ns = Namespace::new();
    let set = new_set(&ns, 1);
    set.set_val(0, 10).unwrap();

    let a = proc_(&ns, 70);
    let a_set = a.sem_set_by_id(set.id()).unwrap();
    let ops = [SemOp::new(0, -11).undo()];
    // Leaked as `mem::forget` would, without a heap allocation miri's leak check would report.
    let mut fut = std::mem::ManuallyDrop::new(a_set.semop(&ops));
    assert!(pending(&mut *fut).await, "-11 on 10 waits");
    assert_eq!(set.get_ncnt(0).unwrap(), 1);
    drop(a_set);
    drop(a); // A exits: its (empty) record is applied and its slot freed

    let b = proc_(&ns, 71);
    let b_set = b.sem_set_by_id(set.id()).unwrap();
    b_set.try_semop(&[SemOp::new(0, -3).undo()]).unwrap(); // B's record: semadj +3
    assert_eq!(set.get_val(0).unwrap(), 7);

    set.try_semop(&[SemOp::new(0, 10)]).unwrap(); // would let A's -11 through
    assert_eq!(set.get_val(0).unwrap(), 17, "the leaked op of an exited process is not performed");
    assert_eq!(set.get_ncnt(0).unwrap(), 0, "and it no longer waits");

    drop(b_set);
    drop(b); // B exits: exactly its own +3 comes back
    assert_eq!(set.get_val(0).unwrap(), 20);
    assert_eq!(set.get_pid(0).unwrap(), 71);
}
