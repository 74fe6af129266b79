//! The permission matrix, exhaustively (issue 6, item 4): every operation that checks
//! permission or ownership × every caller class × every mode 0o000-0o777, answered by svipc
//! and by the reference model (`tests/model/`), which must agree on the value or errno and
//! on the state after the call. A handful of cells are also asserted against docs/kernel-rules.md
//! directly, so the model itself is checked.
//!
//! Each cell: the creator (uid 1000, gid 1000) makes the object with key 77 and the mode, and
//! hands it to uid 2000 / gid 2100 with IPC_SET (so owner ≠ creator and group ≠ creator's
//! group); an administrator fills it (a message; semaphore 0 = 1); the caller makes the one
//! call; the administrator removes the object.
//!
//! Run: `cargo test --test model_perm_matrix -- --nocapture` (prints the cell count).
#![cfg(not(loom))]

mod model;

use model::driver::Both;
use model::*;

const KEY: i32 = 77;

/// The caller classes: (name, credentials).
fn classes() -> Vec<(&'static str, Cred)> {
    let other = Cred::new(3003, 9002);
    vec![
        ("owner", Cred::new(2000, 9000)),
        ("creator", Cred::new(1000, 9000)),
        ("group by gid", Cred::new(3000, 2100)),
        ("group by cgid", Cred::new(3001, 1000)),
        ("supplementary group", Cred::new(3002, 9001).groups(&[7, 2100])),
        ("other", other.clone()),
        ("uid 0 without capabilities", Cred::new(0, 0)),
        ("other + CAP_IPC_OWNER", other.clone().caps(CAP_IPC_OWNER)),
        ("other + CAP_SYS_ADMIN", other.clone().caps(CAP_SYS_ADMIN)),
        ("other + CAP_SYS_RESOURCE", other.clone().caps(CAP_SYS_RESOURCE)),
        ("other + CAP_IPC_LOCK", other.caps(CAP_IPC_LOCK)),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Msg,
    Sem,
    Shm,
}

/// An operation: its name, and the call it makes on the object's id.
type Op = (&'static str, fn(i32) -> Call);

/// The operations of one kind.
fn ops(kind: Kind) -> Vec<Op> {
    match kind {
        Kind::Msg => vec![
            ("msgget 0", |_| Call::MsgGet { key: KEY, flags: 0 }),
            ("msgget 0400", |_| Call::MsgGet { key: KEY, flags: 0o400 }),
            ("msgget 0040", |_| Call::MsgGet { key: KEY, flags: 0o040 }),
            ("msgget 0002", |_| Call::MsgGet { key: KEY, flags: 0o002 }),
            ("msgget 0666", |_| Call::MsgGet { key: KEY, flags: 0o666 }),
            ("msgget CREAT 0600", |_| Call::MsgGet { key: KEY, flags: IPC_CREAT | 0o600 }),
            ("msgget CREAT|EXCL 0600", |_| Call::MsgGet { key: KEY, flags: IPC_CREAT | IPC_EXCL | 0o600 }),
            ("msgsnd", |id| Call::MsgSnd { id, mtype: 2, msg: vec![9] }),
            ("msgrcv", |id| Call::MsgRcv { id, bufsz: 100, msgtyp: 0, flags: 0 }),
            ("msgrcv ENOMSG", |id| Call::MsgRcv { id, bufsz: 100, msgtyp: 5, flags: 0 }),
            ("msgrcv MSG_COPY", |id| Call::MsgRcv { id, bufsz: 100, msgtyp: 0, flags: MSG_COPY }),
            ("IPC_STAT", |id| Call::MsgStat { id }),
            ("IPC_SET", |id| Call::MsgSet { id, uid: 2000, gid: 2100, mode: 0o644, qbytes: 16384 }),
            ("IPC_SET qbytes 20000", |id| Call::MsgSet {
                id,
                uid: 2000,
                gid: 2100,
                mode: 0o644,
                qbytes: 20000,
            }),
            ("IPC_SET uid -1", |id| Call::MsgSet { id, uid: u32::MAX, gid: 2100, mode: 0o644, qbytes: 100 }),
            ("IPC_RMID", |id| Call::MsgRmid { id }),
        ],
        Kind::Sem => vec![
            ("semget 0", |_| Call::SemGet { key: KEY, nsems: 0, flags: 0 }),
            ("semget 0004", |_| Call::SemGet { key: KEY, nsems: 2, flags: 0o004 }),
            ("semget 0020", |_| Call::SemGet { key: KEY, nsems: 1, flags: 0o020 }),
            ("semget 0600 nsems 3", |_| Call::SemGet { key: KEY, nsems: 3, flags: 0o600 }),
            ("semget CREAT|EXCL", |_| Call::SemGet {
                key: KEY,
                nsems: 2,
                flags: IPC_CREAT | IPC_EXCL | 0o600,
            }),
            ("semop wait-for-zero", |id| Call::SemOp { id, sops: vec![(1, 0, 0)] }),
            ("semop +1", |id| Call::SemOp { id, sops: vec![(1, 1, 0)] }),
            ("semop -1 undo", |id| Call::SemOp { id, sops: vec![(0, -1, SEM_UNDO as i16)] }),
            ("semop would block", |id| Call::SemOp { id, sops: vec![(0, -2, 0)] }),
            ("semop EFBIG", |id| Call::SemOp { id, sops: vec![(2, 1, 0)] }),
            ("GETVAL", |id| Call::SemGetVal { id, num: 0 }),
            ("GETVAL semnum 2", |id| Call::SemGetVal { id, num: 2 }),
            ("GETPID", |id| Call::SemGetPid { id, num: 1 }),
            ("GETNCNT", |id| Call::SemGetNcnt { id, num: 0 }),
            ("GETZCNT", |id| Call::SemGetZcnt { id, num: 1 }),
            ("GETALL", |id| Call::SemGetAll { id }),
            ("SETVAL", |id| Call::SemSetVal { id, num: 1, val: 5 }),
            ("SETVAL semnum 2", |id| Call::SemSetVal { id, num: 2, val: 5 }),
            ("SETVAL 40000", |id| Call::SemSetVal { id, num: 0, val: 40000 }),
            ("SETALL", |id| Call::SemSetAll { id, vals: vec![3, 4] }),
            ("SETALL 40000", |id| Call::SemSetAll { id, vals: vec![3, 40000] }),
            ("IPC_STAT", |id| Call::SemStat { id }),
            ("IPC_SET", |id| Call::SemSet { id, uid: 2000, gid: 2100, mode: 0o644 }),
            ("IPC_RMID", |id| Call::SemRmid { id }),
        ],
        Kind::Shm => vec![
            ("shmget 0", |_| Call::ShmGet { key: KEY, size: 0, flags: 0 }),
            ("shmget 0400", |_| Call::ShmGet { key: KEY, size: 100, flags: 0o400 }),
            ("shmget 0060", |_| Call::ShmGet { key: KEY, size: 10, flags: 0o060 }),
            ("shmget size 101", |_| Call::ShmGet { key: KEY, size: 101, flags: 0o600 }),
            ("shmget CREAT|EXCL", |_| Call::ShmGet {
                key: KEY,
                size: 100,
                flags: IPC_CREAT | IPC_EXCL | 0o600,
            }),
            ("shmat", |id| Call::ShmAt { id, flags: 0 }),
            ("shmat SHM_RDONLY", |id| Call::ShmAt { id, flags: SHM_RDONLY }),
            ("IPC_STAT", |id| Call::ShmStat { id }),
            ("IPC_SET", |id| Call::ShmSet { id, uid: 2000, gid: 2100, mode: 0o644 }),
            ("IPC_RMID", |id| Call::ShmRmid { id }),
            ("SHM_LOCK", |id| Call::ShmLock { id }),
            ("SHM_UNLOCK", |id| Call::ShmUnlock { id }),
        ],
    }
}

/// What a cell runs on: the model beside svipc, or beside the kernel.
trait Sys {
    /// Runs a call on both sides; panics unless they agree. The model's answer.
    fn call(&mut self, actor: usize, call: &Call) -> Ret;
    /// Panics unless the states agree.
    fn check(&mut self);
    /// The caller leaves: its attachments and semadj go (svipc: its process exits; the
    /// kernel, where every actor is one process: its attachments are detached).
    fn leave(&mut self, actor: usize);
    fn clear_log(&mut self);
}

impl Sys for Both {
    fn call(&mut self, actor: usize, call: &Call) -> Ret {
        self.apply(actor, call)
    }

    fn check(&mut self) {
        self.check_state();
    }

    fn leave(&mut self, actor: usize) {
        self.apply(actor, &Call::Exit);
    }

    fn clear_log(&mut self) {
        self.log.clear();
    }
}

/// The cell's actors: creator (actor 0), administrator (1), caller (2).
fn actors(admin: Cred, caller: Cred) -> [Cred; 3] {
    [Cred::new(1000, 1000), admin, caller]
}

fn world(caller: Cred) -> Both {
    let mut b = Both::new();
    for c in actors(Cred::new(0, 0).caps(CAP_ALL), caller) {
        b.add_actor(c);
    }
    b
}

fn val(r: Ret) -> i32 {
    match r {
        Ret::Val(v) => v as i32,
        other => panic!("setup call failed: {other:?}"),
    }
}

/// Makes the object for one cell, runs the caller's call on both sides (they must agree,
/// answer and state), removes the object and returns the answer.
fn cell(b: &mut impl Sys, kind: Kind, mode: u32, op: fn(i32) -> Call) -> Ret {
    let flags = IPC_CREAT | mode as i32;
    let id = match kind {
        Kind::Msg => {
            let id = val(b.call(0, &Call::MsgGet { key: KEY, flags }));
            val(b.call(0, &Call::MsgSet { id, uid: 2000, gid: 2100, mode, qbytes: 16384 }));
            val(b.call(1, &Call::MsgSnd { id, mtype: 1, msg: vec![1, 2, 3] }));
            id
        }
        Kind::Sem => {
            let id = val(b.call(0, &Call::SemGet { key: KEY, nsems: 2, flags }));
            val(b.call(0, &Call::SemSet { id, uid: 2000, gid: 2100, mode }));
            val(b.call(1, &Call::SemSetVal { id, num: 0, val: 1 }));
            id
        }
        Kind::Shm => {
            let id = val(b.call(0, &Call::ShmGet { key: KEY, size: 100, flags }));
            val(b.call(0, &Call::ShmSet { id, uid: 2000, gid: 2100, mode }));
            id
        }
    };
    let r = b.call(2, &op(id));
    b.check();
    b.leave(2);
    let rm = match kind {
        Kind::Msg => Call::MsgRmid { id },
        Kind::Sem => Call::SemRmid { id },
        Kind::Shm => Call::ShmRmid { id },
    };
    b.call(1, &rm);
    b.clear_log();
    r
}

/// Every cell of every class in `classes` on the worlds `world` makes; the cell count.
fn matrix<S: Sys>(classes: &[(&str, Cred)], mut world: impl FnMut(Cred) -> S) -> usize {
    let mut cells = 0;
    for (_, cred) in classes {
        let mut b = world(cred.clone());
        for kind in [Kind::Msg, Kind::Sem, Kind::Shm] {
            for (_, op) in ops(kind) {
                for mode in 0..0o1000 {
                    cell(&mut b, kind, mode, op);
                    cells += 1;
                }
            }
        }
        b.check();
    }
    let per_class = 512 * (ops(Kind::Msg).len() + ops(Kind::Sem).len() + ops(Kind::Shm).len());
    assert_eq!(cells, per_class * classes.len());
    cells
}

#[test]
fn every_operation_caller_and_mode() {
    let start = std::time::Instant::now();
    let cells = matrix(&classes(), world);
    println!("permission matrix, svipc vs model: {cells} cells agree ({:?})", start.elapsed());
}

/// One cell by names, both sides agreeing; its answer.
fn one(class: &str, kind: Kind, mode: u32, op: &str) -> Ret {
    let (_, cred) = classes().into_iter().find(|(n, _)| *n == class).expect("class");
    let (_, f) = ops(kind).into_iter().find(|(n, _)| *n == op).expect("op");
    let mut b = world(cred);
    cell(&mut b, kind, mode, f)
}

/// Cells whose answers docs/kernel-rules.md states, checked against the model (and svipc with it).
#[test]
fn cells_from_semantics() {
    use Kind::*;
    let e = Ret::Err;
    let msg = Ret::Msg(1, vec![1, 2, 3]);
    let cases: &[(&str, Kind, u32, &str, Ret)] = &[
        // No fall-through: the creator's own 0070 queue (1.1, probe).
        ("creator", Msg, 0o070, "msgsnd", e(EACCES)),
        ("creator", Msg, 0o070, "IPC_STAT", e(EACCES)),
        ("owner", Sem, 0o077, "GETALL", e(EACCES)),
        // Ownership needs no mode bits.
        ("creator", Msg, 0, "IPC_SET", Ret::Val(0)),
        ("owner", Shm, 0, "IPC_RMID", Ret::Val(0)),
        // cgid and gid both give the group triplet; so does a supplementary group.
        ("group by cgid", Msg, 0o040, "msgrcv", msg.clone()),
        ("group by cgid", Msg, 0o040, "msgsnd", e(EACCES)),
        ("group by gid", Msg, 0o404, "msgrcv", e(EACCES)),
        ("supplementary group", Sem, 0o020, "semop +1", Ret::Val(0)),
        ("supplementary group", Sem, 0o020, "GETVAL", e(EACCES)),
        // A read-only user may wait for zero but not alter (1.3, probe).
        ("other", Sem, 0o004, "semop wait-for-zero", Ret::Val(0)),
        ("other", Sem, 0o004, "semop +1", e(EACCES)),
        ("other", Sem, 0o002, "semop -1 undo", Ret::Val(0)),
        // uid 0 is nothing without capabilities.
        ("uid 0 without capabilities", Msg, 0o600, "IPC_STAT", e(EACCES)),
        ("uid 0 without capabilities", Sem, 0o666, "IPC_RMID", e(EPERM)),
        // Each capability does its one thing.
        ("other + CAP_IPC_OWNER", Msg, 0, "msgrcv", msg),
        ("other + CAP_IPC_OWNER", Msg, 0, "IPC_RMID", e(EPERM)),
        ("other + CAP_SYS_ADMIN", Msg, 0, "IPC_RMID", Ret::Val(0)),
        ("other + CAP_SYS_ADMIN", Msg, 0o666, "IPC_SET", Ret::Val(0)),
        ("other + CAP_SYS_ADMIN", Msg, 0, "IPC_STAT", e(EACCES)),
        ("other + CAP_SYS_RESOURCE", Msg, 0o666, "IPC_SET qbytes 20000", e(EPERM)),
        ("owner", Msg, 0o666, "IPC_SET qbytes 20000", e(EPERM)),
        ("other + CAP_IPC_LOCK", Shm, 0, "SHM_LOCK", Ret::Val(0)),
        ("other", Shm, 0o666, "SHM_LOCK", e(EPERM)),
        ("creator", Shm, 0, "SHM_UNLOCK", Ret::Val(0)),
        // EEXIST and the size/nsems EINVAL come before EACCES; asking for nothing needs nothing.
        ("other", Msg, 0, "msgget CREAT|EXCL 0600", e(EEXIST)),
        ("other", Msg, 0, "msgget 0", Ret::Val(0)),
        ("other", Msg, 0o040, "msgget 0002", e(EACCES)),
        ("other", Sem, 0, "semget 0600 nsems 3", e(EINVAL)),
        ("other", Shm, 0, "shmget size 101", e(EINVAL)),
        // GET*'s EACCES before the semnum EINVAL; SETVAL's semnum EINVAL before EACCES.
        ("other", Sem, 0, "GETVAL semnum 2", e(EACCES)),
        ("other", Sem, 0, "SETVAL semnum 2", e(EINVAL)),
        ("other", Sem, 0, "SETVAL 40000", e(ERANGE)),
        ("other", Sem, 0, "SETALL 40000", e(EACCES)),
        ("other", Sem, 0, "semop EFBIG", e(EFBIG)),
        // shmat: read for SHM_RDONLY, read and write otherwise.
        ("other", Shm, 0o004, "shmat SHM_RDONLY", Ret::Val(1)),
        ("other", Shm, 0o004, "shmat", e(EACCES)),
        ("other", Shm, 0o002, "shmat", e(EACCES)),
        ("other", Shm, 0o006, "shmat", Ret::Val(1)),
        // IPC_SET: ownership, then the uid's validity.
        ("owner", Msg, 0, "IPC_SET uid -1", e(EINVAL)),
        ("other", Msg, 0o666, "IPC_SET uid -1", e(EPERM)),
    ];
    for (class, kind, mode, op, want) in cases {
        assert_eq!(&one(class, *kind, *mode, op), want, "{class}, {kind:?} mode {mode:o}, {op}");
    }
}

/// The model beside the real kernel (see `model::kernel`).
#[cfg(target_os = "linux")]
mod against_kernel {
    use super::*;
    use model::kernel::{can_play, fresh_ipc_ns, no_pids, no_pids_state, root_caps, Kernel};

    struct VsKernel {
        model: Model,
        kernel: Kernel,
        log: Vec<(usize, Call)>,
    }

    impl Sys for VsKernel {
        fn call(&mut self, actor: usize, call: &Call) -> Ret {
            self.log.push((actor, call.clone()));
            let (m, k) = (self.model.apply(actor, call), self.kernel.apply(actor, call));
            assert_eq!(
                no_pids(call, k),
                no_pids(call, m.clone()),
                "{call:?} (left kernel, right model); calls {:#?}",
                self.log
            );
            m
        }

        fn check(&mut self) {
            let (k, m) = (no_pids_state(self.kernel.state()), no_pids_state(self.model.state()));
            assert_eq!(k, m, "state (left kernel, right model); calls {:#?}", self.log);
        }

        fn leave(&mut self, actor: usize) {
            let tokens: Vec<u64> = self.model.attachments(actor).map(|(t, _)| t).collect();
            for token in tokens {
                self.call(actor, &Call::ShmDt { token });
            }
        }

        fn clear_log(&mut self) {
            self.log.clear();
        }
    }

    /// The whole matrix against the kernel, for every class this machine can play (a
    /// container's root lacks CAP_SYS_RESOURCE: that class is left out, with a notice).
    #[test]
    fn every_operation_caller_and_mode_in_the_kernel() {
        let start = std::time::Instant::now();
        let t = std::thread::spawn(move || {
            if !fresh_ipc_ns() {
                return 0;
            }
            let (playable, left): (Vec<_>, Vec<_>) = classes().into_iter().partition(|(_, c)| can_play(c));
            for (name, _) in &left {
                eprintln!("permission matrix in the kernel: class {name:?} left out (capability not permitted here)");
            }
            matrix(&playable, |caller| {
                assert!(fresh_ipc_ns(), "a fresh namespace for each class");
                let mut v = VsKernel { model: Model::new(), kernel: Kernel::new(), log: Vec::new() };
                for c in actors(Cred::new(0, 0).caps(CAP_ALL & root_caps()), caller) {
                    v.model.add_actor(c.clone());
                    v.kernel.add_actor(&c);
                }
                v
            })
        });
        let cells = t.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        println!("permission matrix, kernel vs model: {cells} cells agree ({:?})", start.elapsed());
    }
}
