//! Differential testing against the real kernel (issue 6, item 3): random single-actor call
//! sequences run through libc against the kernel's own System V IPC, in a fresh IPC namespace
//! per sequence (`unshare(CLONE_NEWIPC)` on the test thread), and through svipc side by side.
//! After every call the result or errno agrees, and so does every `*_ds` field other than
//! times and pids, for every id handed out so far (the id sequences are compared too: both
//! allocate `seq << 15 | idx`).
//!
//! Every call goes by id on the kernel's side; svipc's uses the handle its open returned,
//! kept after a remove, so stale ids and handles are exercised (see [`with`]). After every
//! call `MSG_INFO`, `SEM_INFO` and `SHM_INFO` agree as well. A sequence runs as this process
//! or as a plain user (see [`Actor`]). `IPC_NOWAIT` everywhere: nothing blocks. Left out as
//! in-process by design: typed payloads, pids, times, attach addresses, blocking.
//!
//! The namespace's settings are in the sequences too: each mechanism's `*_next_id` (written
//! to `/proc/sys/kernel/{msg,sem,shm}_next_id` of the fresh namespace as root, and
//! `Namespace::set_next_id` on svipc's side; the values read back agree after every call),
//! and for shared memory `shm_rmid_forced` (`Namespace::set_shm_rmid_forced`; one actor
//! that never exits, so what it changes here is the last detach; exits and orphans are
//! `model_props`'s, through `model::kernel`).
//!
//! Cases per mechanism: 64, or `PROPTEST_CASES`.
//!
//! Needs root (or `CAP_SYS_ADMIN`) for `unshare`; elsewhere each test prints a skip notice
//! and passes.
#![cfg(all(target_os = "linux", not(loom)))]

use std::collections::HashMap;
use std::ffi::c_void;

mod model;

use model::kernel::{
    errno, fresh_ipc_ns, k, semctl, MsgInfoC, SemInfoC, Semun, ShmInfoC, NULL_ARG, SHM_INFO, SHM_LOCK,
    SHM_UNLOCK,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use svipc::msg::Limit;
use svipc::msg::MsqidSet;
use svipc::{Credentials, IpcKind, Key, Namespace, Process, Segment, Select, SemOp, SemaphoreSet};

/// Cases per mechanism: 64 (a few seconds in CI), or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

// ===== harness =====

/// Who makes a sequence's calls: this process as it is, or a plain user.
#[derive(Clone, Copy, Debug)]
enum Actor {
    /// The real process's credentials, capabilities included (root here lacks
    /// `CAP_SYS_RESOURCE` in containers), so permission answers match the kernel's.
    Current,
    /// A thread of its own that drops to `uid`/`gid`, no supplementary groups and (so) no
    /// effective capabilities, after entering the fresh namespace. Its saved uid stays 0, so
    /// that it can write the namespace's sysctls as root ([`sysctl_kernel`]).
    User { uid: u32, gid: u32 },
}

fn actor_s() -> impl Strategy<Value = Actor> {
    prop_oneof![
        2 => Just(Actor::Current),
        1 => Just(Actor::User { uid: 1000, gid: 1000 }),
        1 => Just(Actor::User { uid: 1000, gid: 65534 }),
    ]
}

/// Runs `body` in a fresh IPC namespace as `actor`, with the svipc `Process` of the same
/// credentials in a fresh svipc namespace.
fn as_actor(actor: Actor, body: impl FnOnce(&Process) + Send) {
    match actor {
        Actor::Current => {
            if fresh_ipc_ns() {
                body(&Namespace::new().process(Credentials::current()));
            }
        }
        Actor::User { uid, gid } => std::thread::scope(|s| {
            let t = s.spawn(move || {
                if !fresh_ipc_ns() {
                    return;
                }
                // Raw syscalls change this thread alone (glibc's wrappers change every
                // thread); the thread ends with the sequence.
                // SAFETY: setgroups reads no array for a count of 0; the others take ints.
                unsafe {
                    assert_eq!(libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()), 0);
                    assert_eq!(libc::syscall(libc::SYS_setresgid, gid, gid, gid), 0);
                    assert_eq!(libc::syscall(libc::SYS_setresuid, uid, uid, 0), 0);
                }
                body(&Namespace::new().process(Credentials::new(uid, gid)));
            });
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }),
    }
}

/// The ids handed out so far, and those of them not removed yet.
#[derive(Default)]
struct Ids {
    all: Vec<i32>,
    live: Vec<i32>,
}

/// Picks an id: mostly a live one; one time in eight any id handed out so far (maybe
/// removed since) or one never handed out.
fn pick(ids: &Ids, slot: u8) -> i32 {
    let (from, i) = if slot % 8 == 7 || ids.live.is_empty() {
        (&ids.all, slot as usize / 8 % (ids.all.len() + 1))
    } else {
        (&ids.live, slot as usize / 8 % ids.live.len())
    };
    from.get(i).copied().unwrap_or(7 | 1 << 15)
}

/// Notes what a call the kernel answered `r` did to the ids: a get hands one out, a remove
/// takes one away.
fn note(ids: &mut Ids, get: bool, rmid: Option<u8>, r: &Res) {
    match (r, rmid) {
        (Ok(Out::Val(id)), None) if get => {
            let id = *id as i32;
            if !ids.all.contains(&id) {
                ids.all.push(id);
            }
            // live again when `*_next_id` hands out a removed object's id
            if !ids.live.contains(&id) {
                ids.live.push(id);
            }
        }
        (Ok(_), Some(slot)) => {
            let id = pick(ids, slot);
            ids.live.retain(|&l| l != id);
        }
        _ => {}
    }
}

/// svipc's side of a call on an id: the handle an open returned (kept after a remove, so stale
/// handles are exercised), or for an id never handed out a `*_by_id` lookup. That lookup's
/// EINVAL comes before the argument checks the kernel makes ahead of its own lookup (SETVAL's
/// ERANGE, semop's E2BIG): [`LOOKUP`] marks it, and the kernel need only fail too.
fn with<H>(
    handles: &HashMap<i32, H>,
    ids: &Ids,
    slot: u8,
    by_id: impl FnOnce(i32) -> Result<H, svipc::Error>,
    f: impl FnOnce(&H) -> Res,
) -> Res {
    let id = pick(ids, slot);
    match handles.get(&id) {
        Some(h) => f(h),
        None => match by_id(id) {
            Ok(h) => f(&h),
            Err(e) if e.errno() == libc::EINVAL => Err(LOOKUP),
            Err(e) => Err(e.errno()),
        },
    }
}

/// See [`with`].
const LOOKUP: i32 = -1;

fn agree(sr: &Res, kr: &Res) -> bool {
    match (sr, kr) {
        (Err(LOOKUP), Err(_)) => true,
        _ => sr == kr,
    }
}

fn key_s() -> impl Strategy<Value = i32> {
    prop_oneof![Just(0), Just(1), Just(2)]
}

fn mode_s() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0o600), Just(0o666), Just(0o400), Just(0), Just(0o777), Just(0o640)]
}

fn owner_s() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(1000), Just(65534), Just(u32::MAX)]
}

fn set_mode_s() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0o600), Just(0o644), Just(0o1777), Just(0), Just(0o7777)]
}

fn get_flags(create: bool, excl: bool, mode: u32) -> i32 {
    (if create { libc::IPC_CREAT } else { 0 }) | (if excl { libc::IPC_EXCL } else { 0 }) | mode as i32
}

/// `ipc_perm` fields compared: key, uid, gid, cuid, cgid, mode, seq.
type Perm = (i32, u32, u32, u32, u32, u32, u32);

fn kperm(p: &libc::ipc_perm) -> Perm {
    (p.__key, p.uid, p.gid, p.cuid, p.cgid, p.mode as u32, p.__seq as u32)
}

fn sperm(p: &svipc::IpcPerm) -> Perm {
    (p.key.raw(), p.uid, p.gid, p.cuid, p.cgid, p.mode, p.seq)
}

// ===== the settings (kernel.{msg,sem,shm}_next_id, kernel.shm_rmid_forced) =====

/// A `*_next_id` to write: a low slot with sequence 0 (often taken), one with a higher
/// sequence, the last slot, the largest id (slot 32767 again), and -1 (refused).
fn next_id_s() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => 0i32..4,
        2 => (1i32..3, 0i32..4).prop_map(|(seq, idx)| seq << 15 | idx),
        1 => Just(-1),
        1 => Just(32767),
        1 => Just(i32::MAX),
    ]
}

/// Writes `/proc/sys/kernel/NAME` of this thread's IPC namespace as root (euid 0 for the
/// write: a [`Actor::User`] keeps saved uid 0 for this), then goes back to the actor's euid.
fn sysctl_kernel(name: &str, value: &str) -> Res {
    // SAFETY: geteuid and setresuid take and return integers (raw setresuid: this thread).
    let euid = unsafe { libc::geteuid() };
    assert_eq!(unsafe { libc::syscall(libc::SYS_setresuid, -1, 0, -1) }, 0, "euid 0");
    let r = std::fs::write(format!("/proc/sys/kernel/{name}"), value);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::syscall(libc::SYS_setresuid, -1, euid, -1) }, 0, "euid back");
    r.map(|()| Out::Val(0)).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// Reads `/proc/sys/kernel/NAME` of this thread's IPC namespace.
fn sysctl_read(name: &str) -> i32 {
    let s = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).expect("read a sysctl");
    s.trim().parse().expect("an integer")
}

/// `kernel.*_next_id` of `kind` on both sides: (svipc, kernel).
fn next_ids(ns: &Namespace, kind: IpcKind) -> (i32, i32) {
    let name = match kind {
        IpcKind::MessageQueue => "msg_next_id",
        IpcKind::SemaphoreSet => "sem_next_id",
        IpcKind::SharedMemory => "shm_next_id",
    };
    (ns.next_id(kind), sysctl_read(name))
}

/// A `*_next_id` write on both sides: (svipc, kernel).
fn set_next_id(ns: &Namespace, kind: IpcKind, id: i32) -> (Res, Res) {
    let name = match kind {
        IpcKind::MessageQueue => "msg_next_id",
        IpcKind::SemaphoreSet => "sem_next_id",
        IpcKind::SharedMemory => "shm_next_id",
    };
    let sr = ns.set_next_id(kind, id).map(|()| Out::Val(0)).map_err(|e| e.errno());
    (sr, sysctl_kernel(name, &id.to_string()))
}

// ===== namespace-wide figures (MSG_INFO, SEM_INFO, SHM_INFO) =====

/// MSG_INFO: (return value, msgpool, msgmap, msgtql, msgmax, msgmnb, msgmni).
fn msg_info_kernel() -> Result<[i64; 7], i32> {
    let mut i = MsgInfoC::default();
    // SAFETY: MSG_INFO writes a struct msginfo.
    let r =
        k(unsafe { libc::msgctl(0, libc::MSG_INFO, &mut i as *mut MsgInfoC as *mut libc::msqid_ds) } as i64)?;
    let f = |v: i32| v as i64;
    Ok([r, f(i.msgpool), f(i.msgmap), f(i.msgtql), f(i.msgmax), f(i.msgmnb), f(i.msgmni)])
}

fn msg_info_svipc(ns: &Namespace) -> Result<[i64; 7], i32> {
    let i = ns.msg_info();
    let f = |v: usize| v as i64;
    Ok([
        i.max_index as i64,
        f(i.msgpool),
        i.msgmap as i64,
        i.msgtql as i64,
        f(i.msgmax),
        f(i.msgmnb),
        f(i.msgmni),
    ])
}

/// SEM_INFO: (return value, semusz, semaem, semmni, semmns, semmsl, semopm, semvmx).
fn sem_info_kernel() -> Result<[i64; 8], i32> {
    let mut i = SemInfoC::default();
    semctl(0, 0, libc::SEM_INFO, Semun { buf: &mut i as *mut SemInfoC as *mut libc::semid_ds }).map(|r| {
        let f = |v: i32| v as i64;
        [r, f(i.semusz), f(i.semaem), f(i.semmni), f(i.semmns), f(i.semmsl), f(i.semopm), f(i.semvmx)]
    })
}

fn sem_info_svipc(ns: &Namespace) -> Result<[i64; 8], i32> {
    let i = ns.sem_info();
    let f = |v: usize| v as i64;
    Ok([
        i.max_index as i64,
        f(i.semusz),
        i.semaem as i64,
        f(i.semmni),
        f(i.semmns),
        f(i.semmsl),
        f(i.semopm),
        i.semvmx as i64,
    ])
}

/// SHM_INFO: (return value, used_ids, shm_tot).
fn shm_info_kernel() -> Result<[i64; 3], i32> {
    let mut i = ShmInfoC::default();
    // SAFETY: SHM_INFO writes a struct shm_info.
    let r = k(unsafe { libc::shmctl(0, SHM_INFO, &mut i as *mut ShmInfoC as *mut libc::shmid_ds) } as i64)?;
    Ok([r, i.used_ids as i64, i.shm_tot as i64])
}

fn shm_info_svipc(ns: &Namespace) -> Result<[i64; 3], i32> {
    let i = ns.shm_info();
    Ok([i.max_idx as i64, i.used_ids as i64, i.shm_tot as i64])
}

// ===== message queues =====

#[derive(Clone, Debug)]
enum MsgCall {
    Get {
        key: i32,
        create: bool,
        excl: bool,
        mode: u32,
    },
    Snd {
        slot: u8,
        mtype: i64,
        size: usize,
        fill: u8,
    },
    Rcv {
        slot: u8,
        msgsz: usize,
        msgtyp: i64,
        except: bool,
        noerror: bool,
    },
    Peek {
        slot: u8,
        index: u8,
        msgsz: usize,
        noerror: bool,
    },
    Stat {
        slot: u8,
    },
    Set {
        slot: u8,
        uid: u32,
        gid: u32,
        mode: u32,
        qbytes: u64,
    },
    Rmid {
        slot: u8,
    },
    /// `kernel.msg_next_id`.
    NextId {
        id: i32,
    },
}

fn mtype_s() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 1i64..=4,
        2 => -4i64..=0,
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-i64::MAX)],
    ]
}

fn msg_call() -> impl Strategy<Value = MsgCall> {
    prop_oneof![
        3 => (key_s(), any::<bool>(), any::<bool>(), mode_s())
            .prop_map(|(key, create, excl, mode)| MsgCall::Get { key, create, excl, mode }),
        4 => (
            any::<u8>(),
            mtype_s(),
            prop_oneof![0usize..=8, Just(100), Just(4000), Just(8192), Just(8193), Just(20000)],
            any::<u8>()
        )
            .prop_map(|(slot, mtype, size, fill)| MsgCall::Snd { slot, mtype, size, fill }),
        4 => (
            any::<u8>(),
            prop_oneof![0usize..=8, Just(100), Just(8192), Just(100_000)],
            mtype_s(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(slot, msgsz, msgtyp, except, noerror)| MsgCall::Rcv {
                slot,
                msgsz,
                msgtyp,
                except,
                noerror
            }),
        2 => (any::<u8>(), 0u8..4, prop_oneof![0usize..=8, Just(100), Just(100_000)], any::<bool>())
            .prop_map(|(slot, index, msgsz, noerror)| MsgCall::Peek { slot, index, msgsz, noerror }),
        1 => any::<u8>().prop_map(|slot| MsgCall::Stat { slot }),
        1 => (
            any::<u8>(),
            owner_s(),
            owner_s(),
            set_mode_s(),
            prop_oneof![Just(0u64), Just(1), Just(10), Just(100), Just(16384), Just(16385), Just(u64::MAX)]
        )
            .prop_map(|(slot, uid, gid, mode, qbytes)| MsgCall::Set { slot, uid, gid, mode, qbytes }),
        1 => any::<u8>().prop_map(|slot| MsgCall::Rmid { slot }),
        1 => next_id_s().prop_map(|id| MsgCall::NextId { id }),
    ]
}

#[derive(Debug, PartialEq)]
enum Out {
    Val(i64),
    Msg(i64, Vec<u8>),
    Vals(Vec<u16>),
}

type Res = Result<Out, i32>;

/// The kernel's `struct msgbuf` for a payload of up to `N` bytes.
#[repr(C)]
struct MsgBuf<const N: usize> {
    mtype: libc::c_long,
    mtext: [u8; N],
}

const MSGBUF: usize = 100_000;

fn msg_kernel(call: &MsgCall, ids: &Ids, buf: &mut MsgBuf<MSGBUF>) -> Res {
    // SAFETY (all calls below): the pointers are to live, large enough buffers of the C
    // layout the call expects.
    match *call {
        MsgCall::Get { key, create, excl, mode } => {
            k(unsafe { libc::msgget(key, get_flags(create, excl, mode)) } as i64).map(Out::Val)
        }
        MsgCall::Snd { slot, mtype, size, fill } => {
            buf.mtype = mtype;
            for (i, b) in buf.mtext[..size].iter_mut().enumerate() {
                *b = fill.wrapping_add(i as u8);
            }
            let p = buf as *mut MsgBuf<MSGBUF> as *const c_void;
            k(unsafe { libc::msgsnd(pick(ids, slot), p, size, libc::IPC_NOWAIT) } as i64).map(Out::Val)
        }
        MsgCall::Rcv { slot, msgsz, msgtyp, except, noerror } => {
            let flg = libc::IPC_NOWAIT
                | if except { libc::MSG_EXCEPT } else { 0 }
                | if noerror { libc::MSG_NOERROR } else { 0 };
            let p = buf as *mut MsgBuf<MSGBUF> as *mut c_void;
            let n = k(unsafe { libc::msgrcv(pick(ids, slot), p, msgsz, msgtyp, flg) } as i64)?;
            Ok(Out::Msg(buf.mtype, buf.mtext[..n as usize].to_vec()))
        }
        MsgCall::Peek { slot, index, msgsz, noerror } => {
            // MSG_COPY: msgtyp is the position.
            let flg = libc::IPC_NOWAIT | libc::MSG_COPY | if noerror { libc::MSG_NOERROR } else { 0 };
            let p = buf as *mut MsgBuf<MSGBUF> as *mut c_void;
            let n = k(unsafe { libc::msgrcv(pick(ids, slot), p, msgsz, index as i64, flg) } as i64)?;
            Ok(Out::Msg(buf.mtype, buf.mtext[..n as usize].to_vec()))
        }
        MsgCall::Stat { slot } => msg_stat_kernel(pick(ids, slot)).map(|_| Out::Val(0)),
        MsgCall::Set { slot, uid, gid, mode, qbytes } => {
            let id = pick(ids, slot);
            let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
            ds.msg_perm.uid = uid;
            ds.msg_perm.gid = gid;
            ds.msg_perm.mode = mode as u16;
            ds.msg_qbytes = qbytes;
            k(unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) } as i64).map(Out::Val)
        }
        MsgCall::Rmid { slot } => {
            k(unsafe { libc::msgctl(pick(ids, slot), libc::IPC_RMID, std::ptr::null_mut()) } as i64)
                .map(Out::Val)
        }
        MsgCall::NextId { .. } => unreachable!("run_msg writes both sides at once"),
    }
}

type Queue = svipc::MessageQueue<Vec<u8>>;

fn msg_svipc(call: &MsgCall, ids: &Ids, me: &Process, hs: &mut HashMap<i32, Queue>) -> Res {
    let on = |slot, f: &dyn Fn(&Queue) -> Res| with(hs, ids, slot, |id| me.msg_queue_by_id(id), f);
    match *call {
        MsgCall::Get { key, create, excl, mode } => {
            let mut o = me.msg_queue::<Vec<u8>>(Key::new(key)).mode(mode);
            // C's IPC_PRIVATE creates with or without IPC_CREAT; svipc asks for `create`.
            if create || key == 0 {
                o = o.create(mode);
            }
            if excl {
                o = o.exclusive();
            }
            let q = o.open().map_err(|e| e.errno())?;
            let id = q.id();
            // A new object under an id handed out before (`*_next_id`) replaces the stale handle.
            hs.insert(id, q);
            Ok(Out::Val(id as i64))
        }
        MsgCall::Snd { slot, mtype, size, fill } => on(slot, &|q| {
            let body: Vec<u8> = (0..size).map(|i| fill.wrapping_add(i as u8)).collect();
            q.try_send(mtype, body).map(|()| Out::Val(0)).map_err(|e| e.error().errno())
        }),
        MsgCall::Rcv { slot, msgsz, msgtyp, except, noerror } => on(slot, &|q| {
            let sel =
                Select::from_raw(msgtyp, if except { libc::MSG_EXCEPT } else { 0 }).map_err(|e| e.errno())?;
            let limit = if noerror { Limit::bytes(msgsz).no_error() } else { Limit::bytes(msgsz) };
            q.try_recv_limited(sel, limit).map(|(t, m)| Out::Msg(t, m)).map_err(|e| e.errno())
        }),
        MsgCall::Peek { slot, index, msgsz, noerror } => on(slot, &|q| {
            let limit = if noerror { Limit::bytes(msgsz).no_error() } else { Limit::bytes(msgsz) };
            q.peek_limited(index as usize, limit).map(|(t, m)| Out::Msg(t, m)).map_err(|e| e.errno())
        }),
        MsgCall::Stat { slot } => on(slot, &|q| q.stat().map(|_| Out::Val(0)).map_err(|e| e.errno())),
        MsgCall::Set { slot, uid, gid, mode, qbytes } => on(slot, &|q| {
            q.set(MsqidSet { uid, gid, mode, qbytes }).map(|()| Out::Val(0)).map_err(|e| e.errno())
        }),
        MsgCall::Rmid { slot } => on(slot, &|q| q.remove().map(|()| Out::Val(0)).map_err(|e| e.errno())),
        MsgCall::NextId { .. } => unreachable!("run_msg writes both sides at once"),
    }
}

/// (perm, qnum, cbytes, qbytes)
type MsgState = (Perm, u64, u64, u64);

fn msg_stat_kernel(id: i32) -> Result<MsgState, i32> {
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a live msqid_ds.
    k(unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } as i64)?;
    Ok((kperm(&ds.msg_perm), ds.msg_qnum, ds.__msg_cbytes, ds.msg_qbytes))
}

fn msg_stat_svipc(me: &Process, id: i32) -> Result<MsgState, i32> {
    let ds = me.msg_queue_by_id::<Vec<u8>>(id).and_then(|q| q.stat()).map_err(|e| e.errno())?;
    Ok((sperm(&ds.perm), ds.qnum, ds.cbytes, ds.qbytes))
}

fn run_msg(actor: Actor, calls: &[MsgCall]) {
    as_actor(actor, |me| {
        let mut hs = HashMap::new();
        let mut buf: Box<MsgBuf<MSGBUF>> = Box::new(MsgBuf { mtype: 0, mtext: [0; MSGBUF] });
        let mut ids = Ids::default();
        for (step, call) in calls.iter().enumerate() {
            let (sr, kr) = match *call {
                MsgCall::NextId { id } => set_next_id(me.namespace(), IpcKind::MessageQueue, id),
                _ => {
                    let kr = msg_kernel(call, &ids, &mut buf);
                    (msg_svipc(call, &ids, me, &mut hs), kr)
                }
            };
            assert!(agree(&sr, &kr), "step {step}: {call:?}: svipc {sr:?}, kernel {kr:?}; calls {calls:#?}");
            note(
                &mut ids,
                matches!(call, MsgCall::Get { .. }),
                if let MsgCall::Rmid { slot } = call { Some(*slot) } else { None },
                &kr,
            );
            for &id in &ids.all {
                assert_eq!(
                msg_stat_svipc(me, id),
                msg_stat_kernel(id),
                "after step {step}: {call:?}: IPC_STAT of {id} (left svipc, right kernel); calls {calls:#?}"
            );
            }
            assert_eq!(
                msg_info_svipc(me.namespace()),
                msg_info_kernel(),
                "after step {step}: {call:?}: MSG_INFO (left svipc, right kernel); calls {calls:#?}"
            );
            let (s, k) = next_ids(me.namespace(), IpcKind::MessageQueue);
            assert_eq!(
                s, k,
                "after step {step}: {call:?}: msg_next_id (left svipc, right kernel); calls {calls:#?}"
            );
        }
    });
}

// ===== semaphore sets =====

#[derive(Clone, Debug)]
enum SemCall {
    Get {
        key: i32,
        nsems: u16,
        create: bool,
        excl: bool,
        mode: u32,
    },
    Op {
        slot: u8,
        ops: Vec<(u16, i16, bool)>,
        many: bool,
    },
    GetVal {
        slot: u8,
        num: u16,
    },
    SetVal {
        slot: u8,
        num: u16,
        val: i32,
    },
    GetAll {
        slot: u8,
    },
    SetAll {
        slot: u8,
        vals: Vec<u16>,
    },
    GetNcnt {
        slot: u8,
        num: u16,
    },
    GetZcnt {
        slot: u8,
        num: u16,
    },
    Set {
        slot: u8,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    Rmid {
        slot: u8,
    },
    /// `kernel.sem_next_id`.
    NextId {
        id: i32,
    },
}

fn num_s() -> impl Strategy<Value = u16> {
    prop_oneof![4 => 0u16..4, 1 => Just(u16::MAX), 1 => Just(32000)]
}

fn semop_s() -> impl Strategy<Value = i16> {
    prop_oneof![6 => -3i16..=3, 1 => Just(i16::MIN), 1 => Just(i16::MAX), 1 => Just(32767), 1 => Just(-32767), 1 => Just(20000)]
}

fn sem_call() -> impl Strategy<Value = SemCall> {
    let slot = any::<u8>;
    prop_oneof![
        3 => (key_s(), prop_oneof![4 => 0u16..=3, 1 => Just(32000), 1 => Just(32001)], any::<bool>(), any::<bool>(), mode_s())
            .prop_map(|(key, nsems, create, excl, mode)| SemCall::Get { key, nsems, create, excl, mode }),
        5 => (slot(), proptest::collection::vec((num_s(), semop_s(), any::<bool>()), 0..4), proptest::bool::weighted(0.05))
            .prop_map(|(slot, ops, many)| SemCall::Op { slot, ops, many }),
        1 => (slot(), num_s()).prop_map(|(slot, num)| SemCall::GetVal { slot, num }),
        2 => (slot(), num_s(), prop_oneof![0i32..=3, Just(32767), Just(32768), Just(-1), Just(i32::MAX)])
            .prop_map(|(slot, num, val)| SemCall::SetVal { slot, num, val }),
        1 => slot().prop_map(|slot| SemCall::GetAll { slot }),
        1 => (slot(), proptest::collection::vec(prop_oneof![0u16..=3, Just(32767), Just(32768), Just(u16::MAX)], 4))
            .prop_map(|(slot, vals)| SemCall::SetAll { slot, vals }),
        1 => (slot(), num_s()).prop_map(|(slot, num)| SemCall::GetNcnt { slot, num }),
        1 => (slot(), num_s()).prop_map(|(slot, num)| SemCall::GetZcnt { slot, num }),
        1 => (slot(), owner_s(), owner_s(), set_mode_s())
            .prop_map(|(slot, uid, gid, mode)| SemCall::Set { slot, uid, gid, mode }),
        1 => slot().prop_map(|slot| SemCall::Rmid { slot }),
        1 => next_id_s().prop_map(|id| SemCall::NextId { id }),
    ]
}

fn sem_nsems_kernel(id: i32) -> Result<usize, i32> {
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    semctl(id, 0, libc::IPC_STAT, Semun { buf: &mut ds })?;
    Ok(ds.sem_nsems as usize)
}

/// The SETALL array: `vals` repeated to the set's size (the kernel reads `nsems` values).
fn setall_vals(vals: &[u16], nsems: usize) -> Vec<u16> {
    (0..nsems).map(|i| vals[i % vals.len()]).collect()
}

fn sembufs(ops: &[(u16, i16, bool)], many: bool) -> Vec<libc::sembuf> {
    let one = |&(num, op, undo): &(u16, i16, bool)| libc::sembuf {
        sem_num: num,
        sem_op: op,
        sem_flg: (libc::IPC_NOWAIT | if undo { libc::SEM_UNDO } else { 0 }) as i16,
    };
    let mut v: Vec<libc::sembuf> = ops.iter().map(one).collect();
    if many {
        // Past SEMOPM (500): E2BIG before anything else is looked at.
        while v.len() <= 500 {
            v.push(one(&(0, 0, false)));
        }
    }
    v
}

fn sem_kernel(call: &SemCall, ids: &Ids) -> Res {
    let val = |r: Result<i64, i32>| r.map(Out::Val);
    match call {
        SemCall::Get { key, nsems, create, excl, mode } => {
            // SAFETY: no pointers.
            val(k(unsafe { libc::semget(*key, i32::from(*nsems), get_flags(*create, *excl, *mode)) } as i64))
        }
        SemCall::Op { slot, ops, many } => {
            let mut b = sembufs(ops, *many);
            // SAFETY: `b` holds `b.len()` sembufs.
            val(k(unsafe { libc::semop(pick(ids, *slot), b.as_mut_ptr(), b.len()) } as i64))
        }
        SemCall::GetVal { slot, num } => val(semctl(pick(ids, *slot), *num as i32, libc::GETVAL, NULL_ARG)),
        SemCall::SetVal { slot, num, val: v } => {
            val(semctl(pick(ids, *slot), *num as i32, libc::SETVAL, Semun { val: *v }))
        }
        SemCall::GetAll { slot } => sem_getall_kernel(pick(ids, *slot)).map(Out::Vals),
        SemCall::SetAll { slot, vals } => {
            let id = pick(ids, *slot);
            let n = sem_nsems_kernel(id).unwrap_or(vals.len());
            let mut a = setall_vals(vals, n);
            val(semctl(id, 0, libc::SETALL, Semun { array: a.as_mut_ptr() }))
        }
        SemCall::GetNcnt { slot, num } => val(semctl(pick(ids, *slot), *num as i32, libc::GETNCNT, NULL_ARG)),
        SemCall::GetZcnt { slot, num } => val(semctl(pick(ids, *slot), *num as i32, libc::GETZCNT, NULL_ARG)),
        SemCall::Set { slot, uid, gid, mode } => {
            let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
            ds.sem_perm.uid = *uid;
            ds.sem_perm.gid = *gid;
            ds.sem_perm.mode = *mode as u16;
            val(semctl(pick(ids, *slot), 0, libc::IPC_SET, Semun { buf: &mut ds }))
        }
        SemCall::Rmid { slot } => val(semctl(pick(ids, *slot), 0, libc::IPC_RMID, NULL_ARG)),
        SemCall::NextId { .. } => unreachable!("run_sem writes both sides at once"),
    }
}

fn sem_getall_kernel(id: i32) -> Result<Vec<u16>, i32> {
    let n = sem_nsems_kernel(id)?;
    let mut a = vec![0u16; n];
    semctl(id, 0, libc::GETALL, Semun { array: a.as_mut_ptr() })?;
    Ok(a)
}

fn sem_svipc(call: &SemCall, ids: &Ids, me: &Process, hs: &mut HashMap<i32, SemaphoreSet>) -> Res {
    let on = |slot: &u8, f: &dyn Fn(&SemaphoreSet) -> Res| with(hs, ids, *slot, |id| me.sem_set_by_id(id), f);
    let unit = |r: Result<(), svipc::Error>| r.map(|()| Out::Val(0)).map_err(|e| e.errno());
    let int = |r: Result<i64, svipc::Error>| r.map(Out::Val).map_err(|e| e.errno());
    match call {
        SemCall::Get { key, nsems, create, excl, mode } => {
            let mut o = me.sem_set(Key::new(*key)).nsems(*nsems).mode(*mode);
            // C's IPC_PRIVATE creates with or without IPC_CREAT; svipc asks for `create`.
            if *create || *key == 0 {
                o = o.create(*mode);
            }
            if *excl {
                o = o.exclusive();
            }
            let set = o.open().map_err(|e| e.errno())?;
            let id = set.id();
            // A new object under an id handed out before (`*_next_id`) replaces the stale handle.
            hs.insert(id, set);
            Ok(Out::Val(id as i64))
        }
        SemCall::Op { slot, ops, many } => on(slot, &|set| {
            let v: Vec<SemOp> =
                sembufs(ops, *many).iter().map(|b| SemOp::from_raw(b.sem_num, b.sem_op, b.sem_flg)).collect();
            unit(set.try_semop(&v))
        }),
        SemCall::GetVal { slot, num } => on(slot, &|set| int(set.get_val(*num).map(i64::from))),
        // C's `int` value into svipc's `u16`: one no `u16` holds becomes `u16::MAX`, which
        // is above `SEMVMX` and so gets the same ERANGE.
        SemCall::SetVal { slot, num, val } => {
            on(slot, &|set| unit(set.set_val(*num, u16::try_from(*val).unwrap_or(u16::MAX))))
        }
        SemCall::GetAll { slot } => on(slot, &|set| set.get_all().map(Out::Vals).map_err(|e| e.errno())),
        SemCall::SetAll { slot, vals } => {
            on(slot, &|set| unit(set.set_all(&setall_vals(vals, usize::from(set.nsems())))))
        }
        SemCall::GetNcnt { slot, num } => on(slot, &|set| int(set.get_ncnt(*num).map(i64::from))),
        SemCall::GetZcnt { slot, num } => on(slot, &|set| int(set.get_zcnt(*num).map(i64::from))),
        SemCall::Set { slot, uid, gid, mode } => on(slot, &|set| unit(set.set(*uid, *gid, *mode))),
        SemCall::Rmid { slot } => on(slot, &|set| unit(set.remove())),
        SemCall::NextId { .. } => unreachable!("run_sem writes both sides at once"),
    }
}

/// (perm, nsems, values, ncnt and zcnt of the first four)
type SemState = (Perm, u64, Vec<u16>, Vec<(i32, i32)>);

fn sem_state_kernel(id: i32) -> Result<SemState, i32> {
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    semctl(id, 0, libc::IPC_STAT, Semun { buf: &mut ds })?;
    let vals = sem_getall_kernel(id)?;
    let counts = (0..vals.len().min(4) as i32)
        .map(|n| {
            let c = |cmd| semctl(id, n, cmd, NULL_ARG).map(|v| v as i32).unwrap_or(-1);
            (c(libc::GETNCNT), c(libc::GETZCNT))
        })
        .collect();
    Ok((kperm(&ds.sem_perm), ds.sem_nsems, vals, counts))
}

fn sem_state_svipc(me: &Process, id: i32) -> Result<SemState, i32> {
    let set = me.sem_set_by_id(id).map_err(|e| e.errno())?;
    let ds = set.stat().map_err(|e| e.errno())?;
    let vals = set.get_all().map_err(|e| e.errno())?;
    let counts = (0..vals.len().min(4) as u16)
        .map(|n| (set.get_ncnt(n).map_or(-1, |c| c as i32), set.get_zcnt(n).map_or(-1, |c| c as i32)))
        .collect();
    Ok((sperm(&ds.perm), u64::from(ds.nsems), vals, counts))
}

fn run_sem(actor: Actor, calls: &[SemCall]) {
    as_actor(actor, |me| {
        let mut hs = HashMap::new();
        let mut ids = Ids::default();
        for (step, call) in calls.iter().enumerate() {
            let (sr, kr) = match *call {
                SemCall::NextId { id } => set_next_id(me.namespace(), IpcKind::SemaphoreSet, id),
                _ => {
                    let kr = sem_kernel(call, &ids);
                    (sem_svipc(call, &ids, me, &mut hs), kr)
                }
            };
            assert!(agree(&sr, &kr), "step {step}: {call:?}: svipc {sr:?}, kernel {kr:?}; calls {calls:#?}");
            note(
                &mut ids,
                matches!(call, SemCall::Get { .. }),
                if let SemCall::Rmid { slot } = call { Some(*slot) } else { None },
                &kr,
            );
            for &id in &ids.all {
                assert_eq!(
                    sem_state_svipc(me, id),
                    sem_state_kernel(id),
                    "after step {step}: {call:?}: state of {id} (left svipc, right kernel); calls {calls:#?}"
                );
            }
            assert_eq!(
                sem_info_svipc(me.namespace()),
                sem_info_kernel(),
                "after step {step}: {call:?}: SEM_INFO (left svipc, right kernel); calls {calls:#?}"
            );
            let (s, k) = next_ids(me.namespace(), IpcKind::SemaphoreSet);
            assert_eq!(
                s, k,
                "after step {step}: {call:?}: sem_next_id (left svipc, right kernel); calls {calls:#?}"
            );
        }
    });
}

// ===== shared memory =====

#[derive(Clone, Debug)]
enum ShmCall {
    Get {
        key: i32,
        size: usize,
        create: bool,
        excl: bool,
        mode: u32,
    },
    Attach {
        slot: u8,
        rdonly: bool,
    },
    Detach {
        which: u8,
    },
    Stat {
        slot: u8,
    },
    Set {
        slot: u8,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    Rmid {
        slot: u8,
    },
    Lock {
        slot: u8,
        unlock: bool,
    },
    /// `kernel.shm_next_id`.
    NextId {
        id: i32,
    },
    /// `kernel.shm_rmid_forced`.
    RmidForced {
        on: bool,
    },
}

fn shm_call() -> impl Strategy<Value = ShmCall> {
    let slot = any::<u8>;
    prop_oneof![
        3 => (
            key_s(),
            prop_oneof![Just(0usize), Just(1), Just(100), Just(4096), Just(5000), Just(1 << 20), Just(usize::MAX),
                Just(usize::MAX - (1 << 24) + 1)],
            any::<bool>(),
            any::<bool>(),
            mode_s()
        )
            .prop_map(|(key, size, create, excl, mode)| ShmCall::Get { key, size, create, excl, mode }),
        3 => (slot(), any::<bool>()).prop_map(|(slot, rdonly)| ShmCall::Attach { slot, rdonly }),
        2 => any::<u8>().prop_map(|which| ShmCall::Detach { which }),
        1 => slot().prop_map(|slot| ShmCall::Stat { slot }),
        1 => (slot(), owner_s(), owner_s(), set_mode_s())
            .prop_map(|(slot, uid, gid, mode)| ShmCall::Set { slot, uid, gid, mode }),
        2 => slot().prop_map(|slot| ShmCall::Rmid { slot }),
        1 => (slot(), any::<bool>()).prop_map(|(slot, unlock)| ShmCall::Lock { slot, unlock }),
        1 => next_id_s().prop_map(|id| ShmCall::NextId { id }),
        1 => any::<bool>().prop_map(|on| ShmCall::RmidForced { on }),
    ]
}

enum Guard {
    Rw(#[allow(dead_code)] svipc::shm::AttachedMut),
    Ro(#[allow(dead_code)] svipc::shm::Attached),
}

/// The kernel's attachments (addresses) and svipc's (guards), in the same order.
#[derive(Default)]
struct Attachments {
    kernel: Vec<*mut c_void>,
    svipc: Vec<Guard>,
}

impl Drop for Attachments {
    fn drop(&mut self) {
        for &a in &self.kernel {
            // SAFETY: `a` came from a successful shmat and was not detached.
            unsafe { libc::shmdt(a) };
        }
    }
}

fn shm_kernel(call: &ShmCall, ids: &Ids, at: &mut Attachments) -> Option<Res> {
    let val = |r: Result<i64, i32>| Some(r.map(Out::Val));
    match *call {
        ShmCall::Get { key, size, create, excl, mode } => {
            // SAFETY: no pointers.
            val(k(unsafe { libc::shmget(key, size, get_flags(create, excl, mode)) } as i64))
        }
        ShmCall::Attach { slot, rdonly } => {
            let flg = if rdonly { libc::SHM_RDONLY } else { 0 };
            // SAFETY: a null address lets the kernel choose a free range.
            let a = unsafe { libc::shmat(pick(ids, slot), std::ptr::null(), flg) };
            if a as isize == -1 {
                return Some(Err(errno()));
            }
            at.kernel.push(a);
            Some(Ok(Out::Val(0)))
        }
        ShmCall::Detach { which } => {
            if at.kernel.is_empty() {
                return None;
            }
            let a = at.kernel.remove(which as usize % at.kernel.len());
            // SAFETY: `a` came from a successful shmat and was not detached.
            val(k(unsafe { libc::shmdt(a) } as i64))
        }
        ShmCall::Stat { slot } => Some(shm_stat_kernel(pick(ids, slot)).map(|_| Out::Val(0))),
        ShmCall::Set { slot, uid, gid, mode } => {
            let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
            ds.shm_perm.uid = uid;
            ds.shm_perm.gid = gid;
            ds.shm_perm.mode = mode as u16;
            // SAFETY: ds is a live shmid_ds.
            val(k(unsafe { libc::shmctl(pick(ids, slot), libc::IPC_SET, &mut ds) } as i64))
        }
        ShmCall::Lock { slot, unlock } => {
            let cmd = if unlock { SHM_UNLOCK } else { SHM_LOCK };
            // SAFETY: SHM_LOCK and SHM_UNLOCK read no buffer.
            val(k(unsafe { libc::shmctl(pick(ids, slot), cmd, std::ptr::null_mut()) } as i64))
        }
        ShmCall::Rmid { slot } => {
            // SAFETY: IPC_RMID reads no buffer.
            val(k(unsafe { libc::shmctl(pick(ids, slot), libc::IPC_RMID, std::ptr::null_mut()) } as i64))
        }
        ShmCall::NextId { .. } => unreachable!("run_shm writes both sides at once"),
        ShmCall::RmidForced { on } => Some(sysctl_kernel("shm_rmid_forced", if on { "1" } else { "0" })),
    }
}

fn shm_svipc(
    call: &ShmCall,
    ids: &Ids,
    me: &Process,
    at: &mut Attachments,
    hs: &mut HashMap<i32, Segment>,
) -> Res {
    let on = |slot, f: &mut dyn FnMut(&Segment) -> Res| with(hs, ids, slot, |id| me.shm_segment_by_id(id), f);
    let unit = |r: Result<(), svipc::Error>| r.map(|()| Out::Val(0)).map_err(|e| e.errno());
    match *call {
        ShmCall::Get { key, size, create, excl, mode } => {
            let mut o = me.shm_segment(Key::new(key)).size(size).mode(mode);
            // C's IPC_PRIVATE creates with or without IPC_CREAT; svipc asks for `create`.
            if create || key == 0 {
                o = o.create(mode);
            }
            if excl {
                o = o.exclusive();
            }
            let seg = o.open().map_err(|e| e.errno())?;
            let id = seg.id();
            // A new object under an id handed out before (`*_next_id`) replaces the stale handle.
            hs.insert(id, seg);
            Ok(Out::Val(id as i64))
        }
        ShmCall::Attach { slot, rdonly } => on(slot, &mut |seg| {
            let g = if rdonly { seg.attach_read_only().map(Guard::Ro) } else { seg.attach().map(Guard::Rw) };
            at.svipc.push(g.map_err(|e| e.errno())?);
            Ok(Out::Val(0))
        }),
        ShmCall::Detach { which } => {
            let n = at.svipc.len();
            drop(at.svipc.remove(which as usize % n));
            Ok(Out::Val(0))
        }
        ShmCall::Stat { slot } => on(slot, &mut |seg| seg.stat().map(|_| Out::Val(0)).map_err(|e| e.errno())),
        ShmCall::Set { slot, uid, gid, mode } => on(slot, &mut |seg| unit(seg.set(uid, gid, mode))),
        ShmCall::Rmid { slot } => on(slot, &mut |seg| unit(seg.remove())),
        ShmCall::Lock { slot, unlock } => {
            on(slot, &mut |seg| unit(if unlock { seg.unlock() } else { seg.lock() }))
        }
        ShmCall::NextId { .. } => unreachable!("run_shm writes both sides at once"),
        ShmCall::RmidForced { on } => {
            me.namespace().set_shm_rmid_forced(on);
            Ok(Out::Val(0))
        }
    }
}

/// (perm with SHM_DEST, segsz, nattch)
type ShmState = (Perm, usize, u64);

fn shm_stat_kernel(id: i32) -> Result<ShmState, i32> {
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a live shmid_ds.
    k(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } as i64)?;
    Ok((kperm(&ds.shm_perm), ds.shm_segsz, ds.shm_nattch))
}

fn shm_stat_svipc(me: &Process, id: i32) -> Result<ShmState, i32> {
    let ds = me.shm_segment_by_id(id).and_then(|s| s.stat()).map_err(|e| e.errno())?;
    Ok((sperm(&ds.shm_perm), ds.shm_segsz, ds.shm_nattch))
}

fn run_shm(actor: Actor, calls: &[ShmCall]) {
    as_actor(actor, |me| {
        let mut at = Attachments::default();
        let mut hs = HashMap::new();
        let mut ids = Ids::default();
        for (step, call) in calls.iter().enumerate() {
            let (sr, kr) = match *call {
                ShmCall::NextId { id } => set_next_id(me.namespace(), IpcKind::SharedMemory, id),
                _ => {
                    let Some(kr) = shm_kernel(call, &ids, &mut at) else { continue };
                    (shm_svipc(call, &ids, me, &mut at, &mut hs), kr)
                }
            };
            assert!(agree(&sr, &kr), "step {step}: {call:?}: svipc {sr:?}, kernel {kr:?}; calls {calls:#?}");
            note(
                &mut ids,
                matches!(call, ShmCall::Get { .. }),
                if let ShmCall::Rmid { slot } = call { Some(*slot) } else { None },
                &kr,
            );
            for &id in &ids.all {
                assert_eq!(
                shm_stat_svipc(me, id),
                shm_stat_kernel(id),
                "after step {step}: {call:?}: IPC_STAT of {id} (left svipc, right kernel); calls {calls:#?}"
            );
            }
            assert_eq!(
                shm_info_svipc(me.namespace()),
                shm_info_kernel(),
                "after step {step}: {call:?}: SHM_INFO (left svipc, right kernel); calls {calls:#?}"
            );
            let (s, k) = next_ids(me.namespace(), IpcKind::SharedMemory);
            assert_eq!(
                s, k,
                "after step {step}: {call:?}: shm_next_id (left svipc, right kernel); calls {calls:#?}"
            );
            assert_eq!(
                me.namespace().shm_rmid_forced(),
                sysctl_read("shm_rmid_forced") != 0,
                "after step {step}: {call:?}: shm_rmid_forced (left svipc, right kernel); calls {calls:#?}"
            );
        }
        drop(at);
    });
}

// ===== tests =====

#[test]
fn smoke() {
    use MsgCall as M;
    run_msg(
        Actor::Current,
        &[
            M::Get { key: 0, create: true, excl: false, mode: 0o600 },
            M::Snd { slot: 0, mtype: 3, size: 5, fill: 1 },
            M::Rcv { slot: 0, msgsz: 2, msgtyp: 0, except: false, noerror: false },
            M::Rcv { slot: 0, msgsz: 2, msgtyp: -5, except: false, noerror: true },
            M::Rmid { slot: 0 },
            M::Snd { slot: 0, mtype: 3, size: 5, fill: 1 },
        ],
    );
    run_sem(
        Actor::Current,
        &[
            SemCall::Get { key: 1, nsems: 2, create: true, excl: true, mode: 0o600 },
            SemCall::Op { slot: 0, ops: vec![(1, 2, true), (0, -1, false)], many: false },
            SemCall::SetVal { slot: 0, num: 1, val: 5 },
            SemCall::Rmid { slot: 0 },
            SemCall::GetAll { slot: 0 },
        ],
    );
    run_shm(
        Actor::Current,
        &[
            ShmCall::Get { key: 2, size: 100, create: true, excl: false, mode: 0o600 },
            ShmCall::Attach { slot: 0, rdonly: false },
            ShmCall::Rmid { slot: 0 },
            ShmCall::Get { key: 2, size: 100, create: false, excl: false, mode: 0 },
            ShmCall::Detach { which: 0 },
            ShmCall::Stat { slot: 0 },
        ],
    );
}

/// The settings, by hand: `*_next_id` (-1 refused; a free slot taken with its sequence; a
/// taken one moves up; the cursor untouched) as root and as a plain user, and
/// `shm_rmid_forced` (the last detach destroys a segment nobody removed).
#[test]
fn settings_smoke() {
    for actor in [Actor::Current, Actor::User { uid: 1000, gid: 1000 }] {
        let get = |key| MsgCall::Get { key, create: true, excl: false, mode: 0o600 };
        run_msg(
            actor,
            &[
                MsgCall::NextId { id: -1 },
                get(0),
                MsgCall::NextId { id: 2 << 15 | 3 },
                get(0),
                get(0),
                MsgCall::NextId { id: 3 },
                get(0),
                MsgCall::NextId { id: i32::MAX },
                get(1),
            ],
        );
        run_sem(
            actor,
            &[
                SemCall::NextId { id: 7 },
                SemCall::Get { key: 0, nsems: 0, create: true, excl: false, mode: 0o600 },
                SemCall::Get { key: 0, nsems: 1, create: true, excl: false, mode: 0o600 },
            ],
        );
        let seg = |key| ShmCall::Get { key, size: 100, create: true, excl: false, mode: 0o600 };
        run_shm(
            actor,
            &[
                ShmCall::NextId { id: 1 << 15 },
                seg(5),
                ShmCall::Attach { slot: 0, rdonly: false },
                ShmCall::RmidForced { on: true },
                ShmCall::Attach { slot: 0, rdonly: true },
                ShmCall::Detach { which: 0 },
                ShmCall::Detach { which: 0 },
                ShmCall::Stat { slot: 0 },
                seg(5),
                ShmCall::RmidForced { on: false },
                ShmCall::Attach { slot: 1, rdonly: false },
                ShmCall::Detach { which: 0 },
                ShmCall::Stat { slot: 1 },
            ],
        );
    }
}

proptest! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, ..Config::default() })]

    #[test]
    fn msg_agrees_with_kernel(actor in actor_s(), calls in proptest::collection::vec(msg_call(), 1..30)) {
        run_msg(actor, &calls);
    }

    #[test]
    fn sem_agrees_with_kernel(actor in actor_s(), calls in proptest::collection::vec(sem_call(), 1..30)) {
        run_sem(actor, &calls);
    }

    #[test]
    fn shm_agrees_with_kernel(actor in actor_s(), calls in proptest::collection::vec(shm_call(), 1..30)) {
        run_shm(actor, &calls);
    }
}
