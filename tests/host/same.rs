//! The semantic checks of the in-process suite that can run on the host kernel, run on both
//! homes and compared step by step (issue 15, item 7): each scenario is one function of a
//! [`Home`], which opens a `MessageQueue<T>` or a `SemaphoreSet` in-process
//! (`Process::current()`) or on the host (`Host::current()`); the function logs every
//! result — the value, or the errno of the error — and `stat` fields other than times and
//! pids, and the two logs must be equal line for line.
//!
//! Ported from `tests/msg_basic.rs` (open rules, selection order, size-limited receives, bad
//! input), `tests/msg_semantics.rs` (`msg_qbytes` counting messages, check orders, the
//! handoff to waiting receivers, `E2BIG` to every too-small waiter, removal), `tests/
//! sem_semop.rs` (`E2BIG`/`EFBIG`/`ERANGE`/`EAGAIN` and their order, `SETVAL`'s checks),
//! `tests/sem_wake_order.rs` (who is woken, in what order), `tests/sem_undo.rs` (the
//! `semadj` range; the adjustments themselves are applied by the kernel when the OS process
//! exits, which one test process cannot do and compare) and `tests/sem_bad_input.rs`
//! (random calls, here compared result by result). What needs another process's
//! credentials (`EACCES`, `EPERM` for a stranger) or other limits (`set_limits`) cannot run
//! on the host from one process: those checks stay in-process only.
//!
//! Wake order is made deterministic: each scenario runs on its own current-thread runtime,
//! and every waiter is started alone and awaited until it is parked — counted by `GETNCNT`
//! and `GETZCNT` for semaphores (the engine's and the kernel's own count), and for message
//! receivers by the waiter threads sleeping in `msgrcv` (host) or a few scheduler turns
//! (in-process, where a receive registers at its first poll).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use svipc::host::{Host, Wire};
use svipc::msg::{Limit, MsqidSet};
use svipc::{Error, Key, MessageQueue, Payload, Process, Select, SemOp, SemaphoreSet};

use super::{line, Log};

/// Where a scenario opens its objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Home {
    InProcess,
    Host,
}

/// How an object is opened: `create(mode)` or `mode(mode)`, and `exclusive`.
#[derive(Clone, Copy)]
struct Open {
    create: bool,
    exclusive: bool,
    mode: u32,
}

const fn create(mode: u32) -> Open {
    Open { create: true, exclusive: false, mode }
}

const fn create_excl(mode: u32) -> Open {
    Open { create: true, exclusive: true, mode }
}

const fn existing(mode: u32) -> Open {
    Open { create: false, exclusive: false, mode }
}

/// Applies an [`Open`] to either home's builder (the same method names, two types).
macro_rules! opened {
    ($builder:expr, $how:expr) => {{
        let how: Open = $how;
        let mut b = $builder;
        b = if how.create { b.create(how.mode) } else { b.mode(how.mode) };
        if how.exclusive {
            b = b.exclusive();
        }
        b
    }};
}

impl Home {
    /// `msgget(key, flags)` on this home.
    fn queue<T: Payload + Wire>(self, key: Key, how: Open) -> Result<MessageQueue<T>, Error> {
        match self {
            Home::InProcess => {
                let me = Process::current();
                let r = opened!(me.msg_queue::<T>(key), how).open();
                r
            }
            Home::Host => opened!(Host::current().msg_queue::<T>(key), how).open(),
        }
    }

    /// `semget(key, nsems, flags)` on this home.
    fn sem_set(self, key: Key, nsems: u16, how: Open) -> Result<SemaphoreSet, Error> {
        match self {
            Home::InProcess => {
                let me = Process::current();
                let r = opened!(me.sem_set(key).nsems(nsems), how).open();
                r
            }
            Home::Host => opened!(Host::current().sem_set(key).nsems(nsems), how).open(),
        }
    }

    /// Waits until `n` receives of this process wait in `msgrcv` (host), or lets the
    /// scheduler run the spawned receivers to their first poll (in-process).
    async fn receivers_parked(self, baseline: usize, n: usize) {
        // (In-process, a spawned receive registers at its first poll, within a turn.)
        match self {
            Home::InProcess => {
                for _ in 0..8 {
                    tokio::task::yield_now().await;
                }
            }
            Home::Host => {
                until("receivers parked in msgrcv", || {
                    super::threads_in_syscall(libc::SYS_msgrcv) == baseline + n
                })
                .await
            }
        }
    }
}

/// Yields until `done()`; a liveness bound (never a timing check): panics after a minute.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: still not the case after 60 s");
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// A current-thread runtime: the scenario's tasks run in a fixed order.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Runs `scenario` on both homes and compares the logs step by step.
fn compare(what: &str, scenario: impl Fn(Home) -> Log) {
    let in_process = scenario(Home::InProcess);
    let host = scenario(Home::Host);
    if std::env::var_os("SVIPC_SHOW_LOGS").is_some() {
        for l in &host {
            println!("    {what}: {l}");
        }
    }
    for (i, (a, b)) in in_process.iter().zip(&host).enumerate() {
        assert_eq!(a, b, "{what}, step {i}: in-process vs host");
    }
    assert_eq!(in_process.len(), host.len(), "{what}: the logs' lengths");
}

/// The results of spawned waiters, in the order they completed, by name.
#[derive(Clone, Default)]
struct Done(Arc<Mutex<Vec<String>>>);

impl Done {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits until `n` waiters in all have completed; the ones since the last call, sorted
    /// (waiters woken by one call complete on their own threads on the host, in any order).
    async fn take(&self, seen: &mut usize, n: usize) -> Vec<String> {
        until("waiters completed", || self.len() >= n).await;
        let mut all = self.0.lock().unwrap().clone();
        assert_eq!(all.len(), n, "more waiters completed than the kernel's counts said");
        let mut new = all.split_off(*seen);
        *seen = n;
        new.sort();
        new
    }
}

fn sem_counts(set: &SemaphoreSet) -> usize {
    (0..set.nsems()).map(|n| (set.get_ncnt(n).unwrap() + set.get_zcnt(n).unwrap()) as usize).sum()
}

// ===== message queues =====

/// `tests/msg_basic.rs`: open rules, a new queue's fields, selection order, bad input.
fn msg_open_and_select(home: Home) -> Log {
    let key = Key::new(0x5157_0200);
    let mut log = Log::new();
    log.push(line("open missing", home.queue::<u32>(key, existing(0)).map(|_| ())));
    let q = home.queue::<u32>(key, create_excl(0o640)).unwrap();
    log.push(line("create excl again", home.queue::<u32>(key, create_excl(0o600)).map(|_| ())));
    let again = home.queue::<u32>(key, create(0o777)).unwrap();
    log.push(format!("same id {}", again.id() == q.id()));
    log.push(format!("mode ignored {:o}", again.stat().unwrap().perm.mode));
    log.push(line("open mode 0o600", home.queue::<u32>(key, existing(0o600)).map(|q| q.id() == again.id())));
    log.push(line("mode bits", home.queue::<u32>(key, create(0o1000)).map(|_| ())));
    log.push(line("private, no create", home.queue::<u32>(Key::PRIVATE, existing(0)).map(|_| ())));
    let a = home.queue::<u32>(Key::PRIVATE, create(0o600)).unwrap();
    let b = home.queue::<u32>(Key::PRIVATE, create(0o600)).unwrap();
    log.push(format!("private distinct {}", a.id() != b.id()));
    let ds = q.stat().unwrap();
    log.push(format!(
        "new: key {:?} mode {:o} uid {} gid {} cuid {} cgid {} qnum {} cbytes {} qbytes {} lspid {} lrpid {} \
         stime {} rtime {}",
        ds.perm.key,
        ds.perm.mode,
        ds.perm.uid,
        ds.perm.gid,
        ds.perm.cuid,
        ds.perm.cgid,
        ds.qnum,
        ds.cbytes,
        ds.qbytes,
        ds.lspid,
        ds.lrpid,
        ds.stime,
        ds.rtime
    ));
    for (t, v) in [(3, 1), (1, 2), (2, 3), (1, 4), (3, 5), (2, 6)] {
        log.push(line("send", q.try_send(t, v).map_err(|e| e.error())));
    }
    let ds = q.stat().unwrap();
    log.push(format!("qnum {} cbytes {} sent by me {}", ds.qnum, ds.cbytes, ds.lspid != 0 && ds.stime != 0));
    for s in [
        Select::Type(2),
        Select::Except(3),
        Select::AtMost(3),
        Select::AtMost(1),
        Select::AtMost(2),
        Select::Any,
        Select::Except(3),
        Select::Type(3),
        Select::Any,
    ] {
        log.push(line(&format!("recv {s:?}"), q.try_recv(s)));
    }
    let ds = q.stat().unwrap();
    log.push(format!("received by me {}", ds.lrpid != 0 && ds.rtime != 0));
    for (t, v) in [(7, 1), (8, 2), (7, 3), (i64::MAX, 9)] {
        log.push(line("send", q.try_send(t, v).map_err(|e| e.error())));
    }
    for s in
        [Select::Except(7), Select::Any, Select::from_raw(i64::MIN, 0).unwrap(), Select::Any, Select::Any]
    {
        log.push(line(&format!("recv {s:?}"), q.try_recv(s)));
    }
    // Bad input: a typed error with the message given back, on both homes.
    for mtype in [0, -1, i64::MIN] {
        let e = q.try_send(mtype, 1).unwrap_err();
        log.push(format!("mtype {mtype}: errno {} back {}", e.error().kind().errno_name(), e.into_inner()));
    }
    for s in
        [Select::Type(0), Select::Type(-5), Select::Except(0), Select::AtMost(0), Select::AtMost(i64::MIN)]
    {
        log.push(line(&format!("recv {s:?}"), q.try_recv(s)));
    }
    for q in [&a, &b, &q] {
        log.push(line("remove", q.remove()));
    }
    log.push(line("recv removed", q.try_recv(Select::Any)));
    log.push(line("send removed", q.try_send(1, 1).map_err(|e| e.error())));
    log.push(line("stat removed", q.stat().map(|_| ())));
    log.push(line("set removed", q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 1 })));
    log
}

/// `tests/msg_semantics.rs` and `tests/msg_basic.rs`: `msg_qbytes` counts messages as well
/// as bytes, sizes against `MSGMAX`, and size-limited receives (`E2BIG` keeps the message;
/// `MSG_NOERROR` truncates, a `String` at a char boundary).
fn msg_limits(home: Home) -> Log {
    let mut log = Log::new();
    let q = home.queue::<Vec<u8>>(Key::PRIVATE, create(0o600)).unwrap();
    let set = |qbytes| MsqidSet { qbytes, ..MsqidSet::from(&q.stat().unwrap()) };
    log.push(line("qbytes 3", q.set(set(3))));
    for i in 0..4 {
        log.push(line(&format!("empty message {i}"), q.try_send(1, vec![]).map_err(|e| e.error())));
    }
    let ds = q.stat().unwrap();
    log.push(format!("qnum {} cbytes {} qbytes {}", ds.qnum, ds.cbytes, ds.qbytes));
    for _ in 0..3 {
        log.push(line("recv", q.try_recv(Select::Any)));
    }
    log.push(line("qbytes 20", q.set(set(20))));
    log.push(line("21 bytes into 20", q.try_send(1, vec![0; 21]).map_err(|e| e.error())));
    log.push(line("qbytes 0", q.set(set(0))));
    log.push(line("into 0", q.try_send(1, vec![]).map_err(|e| e.error())));
    log.push(line("qbytes 16384", q.set(set(16384))));
    log.push(line("above MSGMAX", q.try_send(1, vec![0; 8193]).map_err(|e| e.error())));
    log.push(line("MSGMAX", q.try_send(1, vec![0; 8192]).map_err(|e| e.error())));
    log.push(line("recv MSGMAX", q.try_recv(Select::Any).map(|(t, m)| (t, m.len()))));

    // Size-limited receives.
    log.push(line("send 10", q.try_send(1, vec![7; 10]).map_err(|e| e.error())));
    log.push(line("limit 9", q.try_recv_limited(Select::Any, Limit::bytes(9))));
    let ds = q.stat().unwrap();
    log.push(format!("E2BIG leaves it: qnum {} cbytes {}", ds.qnum, ds.cbytes));
    log.push(line("limit 10", q.try_recv_limited(Select::Any, Limit::bytes(10))));
    log.push(line("send 10", q.try_send(1, vec![7; 10]).map_err(|e| e.error())));
    log.push(line("limit 3, no_error", q.try_recv_limited(Select::Any, Limit::bytes(3).no_error())));
    log.push(format!("taken: cbytes {}", q.stat().unwrap().cbytes));
    log.push(line("empty, limit 3", q.try_recv_limited(Select::Any, Limit::bytes(3))));
    log.push(line("limit above isize::MAX", q.try_recv_limited(Select::Any, Limit::bytes(usize::MAX))));
    log.push(line("bad select, limit 3", q.try_recv_limited(Select::Type(0), Limit::bytes(3))));
    log.push(line("send 5", q.try_send(2, vec![5; 5]).map_err(|e| e.error())));
    log.push(line("type 1, limit 1", q.try_recv_limited(Select::Type(1), Limit::bytes(1))));
    log.push(line("type 2, limit 0", q.try_recv_limited(Select::Type(2), Limit::bytes(0))));
    log.push(line(
        "type 2, limit 0, no_error",
        q.try_recv_limited(Select::Type(2), Limit::bytes(0).no_error()),
    ));
    runtime().block_on(async {
        log.push(line("send 6", q.try_send(3, vec![6; 6]).map_err(|e| e.error())));
        log.push(line("await limit 4", q.recv_limited(Select::Any, Limit::bytes(4)).await));
        log.push(line(
            "await limit 4, no_error",
            q.recv_limited(Select::Any, Limit::bytes(4).no_error()).await,
        ));
        log.push(line(
            "await limit above isize::MAX",
            q.recv_limited(Select::Any, Limit::bytes(usize::MAX)).await,
        ));
    });
    log.push(line("remove", q.remove()));
    log.push(line("limit on removed", q.try_recv_limited(Select::Any, Limit::bytes(3))));

    // A String truncates at a char boundary, never beyond the limit.
    let s = home.queue::<String>(Key::PRIVATE, create(0o600)).unwrap();
    for max in [0, 1, 2, 3, 5, 6] {
        log.push(line("send", s.try_send(1, "héllo".to_string()).map_err(|e| e.error())));
        log.push(line(
            &format!("limit {max}, no_error"),
            s.try_recv_limited(Select::Any, Limit::bytes(max).no_error()),
        ));
        log.push(format!("cbytes {}", s.stat().unwrap().cbytes));
    }
    log.push(line("send", s.try_send(1, "héllo".to_string()).map_err(|e| e.error())));
    log.push(line("limit 5", s.try_recv_limited(Select::Any, Limit::bytes(5))));
    log.push(line("limit 6", s.try_recv_limited(Select::Any, Limit::bytes(6))));
    log.push(line("remove", s.remove()));
    log
}

/// `MSG_COPY` (`peek`, `peek_limited`): the position counts every type, out of range is
/// `ENOMSG`, a smaller buffer is `E2BIG` and `MSG_NOERROR` `EINVAL` (no truncated copy), a
/// limit above `isize::MAX` `EINVAL`; nothing changes — the messages, `qnum`, `cbytes`,
/// `msg_lrpid`, `msg_rtime`; a dead id's `EINVAL` is `is_removed`, the others are not.
fn msg_peek(home: Home) -> Log {
    let mut log = Log::new();
    let removed = |r: Result<(i64, Vec<u8>), Error>| match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("errno {} removed {}", e.kind().errno_name(), e.is_removed()),
    };
    let q = home.queue::<Vec<u8>>(Key::PRIVATE, create(0o600)).unwrap();
    log.push(line("peek empty", q.peek(0)));
    for (t, m) in [(3, vec![1; 4]), (1, vec![2; 9]), (3, vec![]), (2, vec![4; 2])] {
        log.push(line("send", q.try_send(t, m).map_err(|e| e.error())));
    }
    for i in 0..5 {
        log.push(line(&format!("peek {i}"), q.peek(i)));
    }
    log.push(line("peek usize::MAX", q.peek(usize::MAX)));
    log.push(line("peek i64::MAX + 1", q.peek(1 << 63)));
    log.push(line("peek 1, limit 9", q.peek_limited(1, Limit::bytes(9))));
    log.push(line("peek 1, limit 8", q.peek_limited(1, Limit::bytes(8))));
    log.push(removed(q.peek_limited(1, Limit::bytes(8).no_error())));
    log.push(line("peek 1, limit 9, no_error", q.peek_limited(1, Limit::bytes(9).no_error())));
    log.push(line("peek 2, limit 0", q.peek_limited(2, Limit::bytes(0))));
    log.push(line("peek 4, limit 0", q.peek_limited(4, Limit::bytes(0))));
    log.push(removed(q.peek_limited(0, Limit::bytes(usize::MAX))));
    let ds = q.stat().unwrap();
    log.push(format!(
        "unchanged: qnum {} cbytes {} lrpid {} rtime {}",
        ds.qnum, ds.cbytes, ds.lrpid, ds.rtime
    ));
    log.push(line("recv type 1", q.try_recv(Select::Type(1))));
    log.push(line("peek 1 after", q.peek(1)));
    log.push(line("remove", q.remove()));
    log.push(removed(q.peek(0)));
    log.push(removed(q.peek_limited(0, Limit::bytes(4).no_error())));

    // A `String` queue peeks whole messages; a copy is never cut at a char boundary.
    let s = home.queue::<String>(Key::PRIVATE, create(0o600)).unwrap();
    log.push(line("send", s.try_send(5, "héllo".to_string()).map_err(|e| e.error())));
    log.push(line("peek", s.peek(0)));
    log.push(line("peek, limit 5, no_error", s.peek_limited(0, Limit::bytes(5).no_error())));
    log.push(line("peek, limit 6, no_error", s.peek_limited(0, Limit::bytes(6).no_error())));
    log.push(format!("qnum {}", s.stat().unwrap().qnum));
    log.push(line("remove", s.remove()));
    log
}

/// `tests/msg_semantics.rs`: a send hands its message to the first waiting receiver (in
/// the order they went to sleep) whose selector matches; every too-small waiting receiver
/// on the way gets `E2BIG`; the fit check comes before the handoff; raising `msg_qbytes`
/// wakes a waiting sender; `IPC_RMID` fails every waiter with `EIDRM`.
fn msg_wake_order(home: Home) -> Log {
    let mut log = Log::new();
    let q = home.queue::<Vec<u8>>(Key::PRIVATE, create(0o600)).unwrap();
    let done = Done::default();
    let mut seen = 0;
    let (rcv0, snd0) =
        (super::threads_in_syscall(libc::SYS_msgrcv), super::threads_in_syscall(libc::SYS_msgsnd));
    runtime().block_on(async {
        let receivers: [(&str, Select, Option<Limit>); 9] = [
            ("r1 type 2", Select::Type(2), None),
            ("r2 any, limit 2", Select::Any, Some(Limit::bytes(2))),
            ("r3 any", Select::Any, None),
            ("r4 at most 1", Select::AtMost(1), None),
            ("r5 type 1, limit 3", Select::Type(1), Some(Limit::bytes(3))),
            ("r6 except 1", Select::Except(1), None),
            ("r7 any, limit 4 no_error", Select::Any, Some(Limit::bytes(4).no_error())),
            ("r8 type 42", Select::Type(42), None),
            ("r9 any, limit 1", Select::Any, Some(Limit::bytes(1))),
        ];
        for (i, (name, select, limit)) in receivers.into_iter().enumerate() {
            let (q, done) = (q.clone(), done.clone());
            tokio::spawn(async move {
                let r = match limit {
                    Some(limit) => q.recv_limited(select, limit).await,
                    None => q.recv(select).await,
                };
                done.push(line(name, r));
            });
            home.receivers_parked(rcv0, i + 1).await;
        }
        // Each send, then who got what: the receivers the kernel's rules wake (the E2BIG
        // ones on the way included), awaited by count, compared by name and result.
        for (t, len, wakes) in [(1, 5, 2), (1, 1, 1), (2, 1, 1), (3, 3, 1), (1, 2, 1), (5, 9, 1)] {
            let r = q.try_send(t, vec![t as u8; len]).map_err(|e| e.error());
            let qnum = q.stat().unwrap().qnum;
            let upto = seen + wakes;
            let woken = done.take(&mut seen, upto).await;
            log.push(format!(
                "{}: qnum {qnum}, woken {woken:?}",
                line(&format!("send type {t}, {len} bytes"), r)
            ));
        }
        log.push(line("nothing queued", q.try_recv(Select::Any)));
        // The fit check before the handoff: a full queue refuses a message a receiver waits
        // for.
        let set = |qbytes| MsqidSet { qbytes, ..MsqidSet::from(&q.stat().unwrap()) };
        log.push(line("qbytes 4", q.set(set(4))));
        log.push(line("fill", q.try_send(9, vec![0; 4]).map_err(|e| e.error())));
        log.push(line("full, for r8", q.try_send(42, vec![1]).map_err(|e| e.error())));
        // A sender waiting for room, woken by a larger msg_qbytes.
        let sender = {
            let q = q.clone();
            tokio::spawn(async move { q.send(9, vec![0; 3]).await.map_err(|e| e.error()) })
        };
        match home {
            Home::Host => {
                until("the sender parked in msgsnd", || {
                    super::threads_in_syscall(libc::SYS_msgsnd) == snd0 + 1
                })
                .await
            }
            Home::InProcess => {
                for _ in 0..8 {
                    tokio::task::yield_now().await;
                }
            }
        }
        log.push(format!("sender waiting {}", !sender.is_finished()));
        log.push(line("qbytes 7", q.set(set(7))));
        log.push(line("sender", sender.await.unwrap()));
        let ds = q.stat().unwrap();
        log.push(format!("qnum {} cbytes {} qbytes {}", ds.qnum, ds.cbytes, ds.qbytes));
        // IPC_RMID: every receiver still waiting fails with EIDRM.
        log.push(line("remove", q.remove()));
        log.push(format!("woken since, and by the removal {:?}", done.take(&mut seen, 9).await));
    });
    log.push(line("recv removed", q.try_recv(Select::Any)));
    log
}

// ===== semaphore sets =====

/// `tests/sem_semop.rs` and `tests/sem_undo.rs`: `semget`'s `nsems` rules, the errors of
/// `semop` and their order, `SETVAL`/`SETALL`/`GET*` checks, the `semadj` range.
fn sem_errors(home: Home) -> Log {
    let mut log = Log::new();
    let key = Key::new(0x5157_0201);
    log.push(line("nsems 0, new", home.sem_set(key, 0, create(0o600)).map(|_| ())));
    log.push(line("nsems above SEMMSL", home.sem_set(key, 32001, create(0o600)).map(|_| ())));
    let set = home.sem_set(key, 2, create_excl(0o600)).unwrap();
    log.push(line("nsems 3 of 2", home.sem_set(key, 3, existing(0)).map(|_| ())));
    log.push(line("nsems 0 of 2", home.sem_set(key, 0, existing(0)).map(|s| s.id() == set.id())));
    log.push(line(
        "nsems 1 of 2",
        home.sem_set(key, 1, existing(0)).map(|s| (s.id() == set.id(), s.nsems())),
    ));
    let ds = set.stat().unwrap();
    log.push(format!(
        "new: nsems {} mode {:o} key {:?} otime {}",
        ds.nsems, ds.perm.mode, ds.perm.key, ds.otime
    ));
    log.push(line("get_all", set.get_all()));
    // E2BIG (above SEMOPM) first, then EINVAL for no sops, EFBIG for a sem_num.
    let many = vec![SemOp::new(0, 0); 501];
    log.push(line("501 sops", set.try_semop(&many)));
    log.push(line("500 sops", set.try_semop(&many[..500])));
    log.push(line("no sops", set.try_semop(&[])));
    log.push(line("sem_num 2", set.try_semop(&[SemOp::new(0, 1), SemOp::new(2, 1)])));
    log.push(line("sem_num 65535", set.try_semop(&[SemOp::new(u16::MAX, 0)])));
    // ERANGE above SEMVMX; the first failing sop decides.
    log.push(line("set_val 32767", set.set_val(0, 32767)));
    log.push(line("+1 at SEMVMX", set.try_semop(&[SemOp::new(0, 1)])));
    log.push(line("blocks, then ERANGE", set.try_semop(&[SemOp::new(1, -1), SemOp::new(0, 1)])));
    log.push(line("ERANGE, then blocks", set.try_semop(&[SemOp::new(0, 1), SemOp::new(1, -1)])));
    log.push(line("-1 +1", set.try_semop(&[SemOp::new(0, -1), SemOp::new(0, 1)])));
    log.push(line("+1 -1", set.try_semop(&[SemOp::new(0, 1), SemOp::new(0, -1)])));
    log.push(line("+2 -2 0", set.try_semop(&[SemOp::new(1, 2), SemOp::new(1, -2), SemOp::new(1, 0)])));
    log.push(line("wait for zero", set.try_semop(&[SemOp::new(0, 0)])));
    log.push(line("nowait flag", set.try_semop(&[SemOp::new(1, -1).nowait()])));
    log.push(line("get_all", set.get_all()));
    // The semadj range (SEM_UNDO): ERANGE beyond ±32767, accumulated within one call.
    log.push(line("undo -32767", set.try_semop(&[SemOp::new(0, -32767).undo()])));
    log.push(line("+1", set.try_semop(&[SemOp::new(0, 1)])));
    log.push(line("undo -1: semadj 32768", set.try_semop(&[SemOp::new(0, -1).undo()])));
    log.push(line("-1 without undo", set.try_semop(&[SemOp::new(0, -1)])));
    log.push(line("undo +1 -1", set.try_semop(&[SemOp::new(0, 1).undo(), SemOp::new(0, -1).undo()])));
    // SETVAL clears every adjustment of the semaphore: the same call now fits.
    log.push(line("set_val 5", set.set_val(0, 5)));
    log.push(line("undo -5", set.try_semop(&[SemOp::new(0, -5).undo()])));
    log.push(line("undo +5", set.try_semop(&[SemOp::new(0, 5).undo()])));
    // semctl's checks.
    log.push(line("set_val 65535", set.set_val(0, u16::MAX)));
    log.push(line("set_val 32768", set.set_val(0, 32768)));
    log.push(line("set_val beyond", set.set_val(2, 1)));
    for num in [1, 2] {
        log.push(line(&format!("get_val {num}"), set.get_val(num)));
        log.push(line(&format!("get_ncnt {num}"), set.get_ncnt(num)));
        log.push(line(&format!("get_zcnt {num}"), set.get_zcnt(num)));
        log.push(line(&format!("get_pid {num}"), set.get_pid(num).map(|p| p != 0)));
    }
    log.push(line("set_all 3", set.set_all(&[1, 2, 3])));
    log.push(line("set_all 1", set.set_all(&[1])));
    log.push(line("set_all above SEMVMX", set.set_all(&[1, 40000])));
    log.push(line("set_all", set.set_all(&[4, 5])));
    log.push(line("get_all", set.get_all()));
    log.push(line("set mode", set.set(0, 0, 0o640)));
    log.push(line("set mode bits", set.set(0, 0, 0o7777)));
    log.push(format!("mode {:o}", set.stat().unwrap().perm.mode));
    log.push(line("remove", set.remove()));
    // After removal: E2BIG first, then EINVAL (before EFBIG); SETVAL's ERANGE before the
    // lookup.
    log.push(line("501 sops removed", set.try_semop(&many)));
    log.push(line("semop removed", set.try_semop(&[SemOp::new(0, 1)])));
    log.push(line("sem_num 7 removed", set.try_semop(&[SemOp::new(7, 1)])));
    log.push(line("set_val 32768 removed", set.set_val(0, 32768)));
    log.push(line("set_val removed", set.set_val(0, 1)));
    log.push(line("get_val removed", set.get_val(0)));
    log.push(line("get_all removed", set.get_all()));
    log.push(line("set_all removed", set.set_all(&[1])));
    log.push(line("stat removed", set.stat().map(|_| ())));
    log.push(line("set removed", set.set(0, 0, 0o600)));
    log.push(line("remove removed", set.remove()));
    log
}

/// Spawns `semop(ops)` as `name` and waits until it sleeps (the set's waiter count grows).
async fn park(set: &SemaphoreSet, done: &Done, name: &'static str, ops: Vec<SemOp>) {
    let before = sem_counts(set);
    let (s, d) = (set.clone(), done.clone());
    tokio::spawn(async move {
        let r = s.semop(&ops).await;
        d.push(line(name, r));
    });
    until("the semop parked", || sem_counts(set) == before + 1).await;
}

/// `tests/sem_wake_order.rs`: zero-waiters first, FIFO among those that can proceed, no
/// starvation protection, the restart from the head while complex ops sleep, retries that
/// complete with `ERANGE`/`EAGAIN`, `GETNCNT`/`GETZCNT` on the blocking sop, `IPC_RMID`.
fn sem_wake_order(home: Home) -> Log {
    let mut log = Log::new();
    let set = home.sem_set(Key::PRIVATE, 3, create(0o600)).unwrap();
    let done = Done::default();
    let mut seen = 0;
    let mut spawned = 0;
    runtime().block_on(async {
        // After each call, who it woke: as many as left the counts.
        macro_rules! step {
            ($what:expr, $r:expr) => {{
                let r = $r;
                let finished = spawned - sem_counts(&set);
                let woken = done.take(&mut seen, finished).await;
                log.push(format!("{}: woken {woken:?}, values {:?}", line($what, r), set.get_all().unwrap()));
            }};
        }
        macro_rules! park {
            ($name:expr, $ops:expr) => {{
                park(&set, &done, $name, $ops).await;
                spawned += 1;
                let counts: Vec<(u32, u32)> =
                    (0..3).map(|n| (set.get_ncnt(n).unwrap(), set.get_zcnt(n).unwrap())).collect();
                log.push(format!("parked {}: ncnt/zcnt {counts:?}", $name));
            }};
        }
        // FIFO among those that can proceed.
        park!("a -2", vec![SemOp::new(0, -2)]);
        park!("b -1", vec![SemOp::new(0, -1)]);
        park!("c -1", vec![SemOp::new(0, -1)]);
        step!("+1", set.try_semop(&[SemOp::new(0, 1)]));
        step!("+3", set.try_semop(&[SemOp::new(0, 3)]));
        // No starvation protection: a newcomer passes an older waiter.
        step!("set_val 1", set.set_val(0, 1));
        park!("d -2", vec![SemOp::new(0, -2)]);
        step!("newcomer -1", set.try_semop(&[SemOp::new(0, -1)]));
        step!("+2", set.try_semop(&[SemOp::new(0, 2)]));
        // Zero-waiters before alter-waiters.
        step!("set_val 1", set.set_val(0, 1));
        park!("e sem1 -1, sem0 +1", vec![SemOp::new(1, -1), SemOp::new(0, 1)]);
        park!("f sem0 == 0", vec![SemOp::new(0, 0)]);
        step!("sem0 -1, sem1 +1", set.try_semop(&[SemOp::new(0, -1), SemOp::new(1, 1)]));
        // With a complex op asleep, the scan restarts from the head.
        step!("set_all 0", set.set_all(&[0, 0, 0]));
        park!("g sem1 -1", vec![SemOp::new(1, -1)]);
        park!("h sem0 -1, sem1 +1", vec![SemOp::new(0, -1), SemOp::new(1, 1)]);
        step!("sem0 +1", set.try_semop(&[SemOp::new(0, 1)]));
        // A decrement never wakes alter waiters.
        park!("i sem0 -1", vec![SemOp::new(0, -1)]);
        step!("set_val sem2 5", set.set_val(2, 5));
        step!("sem2 -1", set.try_semop(&[SemOp::new(2, -1)]));
        step!("sem0 +1", set.try_semop(&[SemOp::new(0, 1)]));
        // A retry can complete with ERANGE, and with EAGAIN for a nowait sop.
        step!("set_val sem1 32767", set.set_val(1, 32767));
        park!("j sem0 -1, sem1 +1", vec![SemOp::new(0, -1), SemOp::new(1, 1)]);
        step!("sem0 +1", set.try_semop(&[SemOp::new(0, 1)]));
        step!("set_all 0", set.set_all(&[0, 0, 0]));
        park!("k sem0 -1, sem1 -1 nowait", vec![SemOp::new(0, -1), SemOp::new(1, -1).nowait()]);
        step!("sem0 +1", set.try_semop(&[SemOp::new(0, 1)]));
        // A complex wait for zero completes when all its semaphores reach zero.
        step!("set_all 1 1 0", set.set_all(&[1, 1, 0]));
        park!("l sem0 == 0, sem1 == 0", vec![SemOp::new(0, 0), SemOp::new(1, 0)]);
        step!("sem0 -1", set.try_semop(&[SemOp::new(0, -1)]));
        step!("sem1 -1", set.try_semop(&[SemOp::new(1, -1)]));
        // A completion chains into zero-waiters; SETVAL completes waiters too.
        step!("set_val sem2 1", set.set_val(2, 1));
        park!("m sem2 == 0", vec![SemOp::new(2, 0)]);
        park!("n sem2 -2", vec![SemOp::new(2, -2)]);
        step!("sem2 +1", set.try_semop(&[SemOp::new(2, 1)]));
        step!("set_val sem2 0", set.set_val(2, 0));
        // acquire's units, and a permit's return waking a waiter.
        step!("set_val sem2 2", set.set_val(2, 2));
        let permit = set.try_acquire(2, 2);
        log.push(line("acquire 2", permit.as_ref().map(|_| ()).map_err(|e| *e)));
        park!("o sem2 -1", vec![SemOp::new(2, -1)]);
        step!("permit dropped", {
            drop(permit);
            Ok::<(), Error>(())
        });
        // IPC_RMID fails every sleeper with EIDRM.
        park!("p sem0 -1", vec![SemOp::new(0, -1)]);
        park!("q sem2 == 0", vec![SemOp::new(2, 0)]);
        log.push(line("remove", set.remove()));
        log.push(format!("removed, woken {:?}", done.take(&mut seen, spawned).await));
    });
    log
}

/// `tests/sem_bad_input.rs`: random calls, here with their results compared call by call
/// (values, errno) between the homes. The `semop`s never wait (`IPC_NOWAIT`).
fn sem_random_calls(home: Home) -> Log {
    let mut log = Log::new();
    let mut rng = super::Rng(12345);
    let sets: Vec<SemaphoreSet> =
        (1..4).map(|n| home.sem_set(Key::PRIVATE, n, create(0o600)).unwrap()).collect();
    let interesting = [i16::MIN, -32767, -2, -1, 0, 1, 2, 32767, i16::MAX];
    for i in 0..2_000 {
        let set = &sets[rng.below(3) as usize];
        let n = rng.below(10);
        let ops: Vec<SemOp> = (0..n)
            .map(|_| {
                let num = if rng.below(4) == 0 { rng.below(1 << 16) as u16 } else { rng.below(4) as u16 };
                let op = if rng.below(2) == 0 {
                    interesting[rng.below(9) as usize]
                } else {
                    rng.below(1 << 16) as i16
                };
                // Any flags: IPC_NOWAIT and SEM_UNDO are kept, and try_semop never waits.
                SemOp::from_raw(num, op, rng.below(1 << 16) as i16)
            })
            .collect();
        log.push(line(&format!("{i} semop {ops:?}"), set.try_semop(&ops)));
        let num = rng.below(5) as u16;
        log.push(line("set_val", set.set_val(num, rng.below(1 << 16) as u16)));
        log.push(line("get_val", set.get_val(num)));
        log.push(line("get_ncnt", set.get_ncnt(num)));
        log.push(line("get_zcnt", set.get_zcnt(num)));
        let vals: Vec<u16> = (0..rng.below(5)).map(|_| rng.below(1 << 16) as u16).collect();
        log.push(line("set_all", set.set_all(&vals)));
        log.push(line("get_all", set.get_all()));
    }
    for set in &sets {
        log.push(line("remove", set.remove()));
    }
    log
}

/// The scenarios, each run on both homes and compared.
pub fn same_checks(_: &tokio::runtime::Runtime) {
    compare("msg_open_and_select", msg_open_and_select);
    compare("msg_limits", msg_limits);
    compare("msg_peek", msg_peek);
    compare("msg_wake_order", msg_wake_order);
    compare("sem_errors", sem_errors);
    compare("sem_wake_order", sem_wake_order);
    compare("sem_random_calls", sem_random_calls);
}

/// The `tracing` feature's events of host calls, captured by the hand-written subscriber
/// `tests/tracing.rs` uses: exact, and the same as in-process.
#[cfg(feature = "tracing")]
#[path = "../capture/mod.rs"]
mod events;

/// A send and a receive, a receive that waited, `ENOMSG`, `E2BIG` and a removed queue's
/// `EINVAL`: the events, with the id and pid written `ID` and `PID`.
#[cfg(feature = "tracing")]
fn traced_calls(home: Home) -> Vec<String> {
    let q = home.queue::<Vec<u8>>(Key::PRIVATE, create(0o600)).unwrap();
    let baseline = super::threads_in_syscall(libc::SYS_msgrcv);
    let events = events::capture(|| {
        runtime().block_on(async {
            q.send(1, vec![1]).await.unwrap();
            assert_eq!(q.recv(Select::Any).await.unwrap(), (1, vec![1]));
            assert!(q.try_recv(Select::Any).unwrap_err().is_no_message());
            let waiting = {
                let q = q.clone();
                tokio::spawn(async move { q.recv(Select::Type(3)).await })
            };
            home.receivers_parked(baseline, 1).await;
            q.try_send(3, vec![3]).unwrap();
            assert_eq!(waiting.await.unwrap().unwrap(), (3, vec![3]));
            q.try_send(2, vec![2; 5]).unwrap();
            assert_eq!(q.try_recv_limited(Select::Any, Limit::bytes(4)).unwrap_err().errno(), libc::E2BIG);
            q.remove().unwrap();
            assert_eq!(q.try_recv(Select::Any).unwrap_err().errno(), libc::EINVAL);
        })
    });
    let (id, pid) = (format!("id={} ", q.id()), format!("pid={} ", std::process::id()));
    events.into_iter().map(|e| e.replace(&id, "id=ID ").replace(&pid, "pid=PID ")).collect()
}

/// The events of host calls: exact, and the same as in-process.
#[cfg(feature = "tracing")]
pub fn host_tracing_events(_: &tokio::runtime::Runtime) {
    let host = traced_calls(Home::Host);
    assert_eq!(
        host,
        [
            "DEBUG msgsnd id=ID key=- pid=PID ok waited=false",
            "DEBUG msgrcv id=ID key=- pid=PID ok waited=false",
            "DEBUG msgrcv id=ID key=- pid=PID ENOMSG waited=false",
            "DEBUG msgsnd id=ID key=- pid=PID ok waited=false",
            "DEBUG msgrcv id=ID key=- pid=PID ok waited=true",
            "DEBUG msgsnd id=ID key=- pid=PID ok waited=false",
            "INFO msgrcv id=ID key=- pid=PID E2BIG waited=false",
            "DEBUG msgctl id=ID key=- pid=PID ok waited=false",
            "INFO msgrcv id=ID key=- pid=PID EINVAL waited=false",
        ]
    );
    assert_eq!(host, traced_calls(Home::InProcess));
}

/// `Serde<T>` (the `serde` feature) on both homes: the same values, sizes and errors.
#[cfg(feature = "serde")]
fn serde_messages(home: Home) -> Log {
    use svipc::host::Serde;
    type Msg = Serde<(u32, String, Vec<i16>)>;
    let mut log = Log::new();
    let q = home.queue::<Msg>(Key::PRIVATE, create(0o600)).unwrap();
    for (t, v) in [(1, (7, "hi".to_string(), vec![-1, 300])), (2, (u32::MAX, "héllo".to_string(), vec![]))] {
        log.push(line("send", q.try_send(t, Serde(v)).map_err(|e| e.error())));
    }
    let ds = q.stat().unwrap();
    log.push(format!("qnum {} cbytes {}", ds.qnum, ds.cbytes)); // postcard's lengths
    log.push(line("recv type 2", q.try_recv(Select::Type(2))));
    log.push(line("recv", q.try_recv(Select::Any)));
    log.push(line("recv empty", q.try_recv(Select::Any)));
    log.push(line("remove", q.remove()));
    log
}

/// `Serde<T>` messages compared between the homes; on the host, bytes that are not
/// postcard's encoding of `T` are a decode error with the message, never lost.
#[cfg(feature = "serde")]
pub fn serde_on_both_homes(_: &tokio::runtime::Runtime) {
    compare("serde_messages", serde_messages);
    let q = Home::Host.queue::<svipc::host::Serde<(u32, String)>>(Key::PRIVATE, create(0o600)).unwrap();
    let raw = Host::current().msg_queue_by_id::<Vec<u8>>(q.id()).unwrap();
    raw.try_send(4, vec![7, 9, b'x']).unwrap(); // a length of 9, with one byte
    match q.host().unwrap().try_recv(Select::Any).unwrap_err() {
        svipc::host::RecvError::Decode(d) => assert_eq!((d.mtype(), d.bytes()), (4, &[7, 9, b'x'][..])),
        other => panic!("expected a decode error, got {other:?}"),
    }
    raw.try_send(4, vec![7, 9, b'x']).unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), svipc::ErrorKind::TypeMismatch);
    assert_eq!(raw.try_recv(Select::Any).unwrap(), (4, vec![7, 9, b'x']), "put back, not lost");
    q.remove().unwrap();
}
