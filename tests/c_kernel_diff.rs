//! The C-shaped layer (`svipc::c`) against the real kernel: random sequences of C calls
//! with raw arguments — good and bad ids, slot indexes, sizes up to `(size_t)-1`, too many
//! sops, bad timespecs, every command number and flag word the layer knows and a few it
//! does not — run through libc in a fresh IPC namespace and through `svipc::c` in a fresh
//! svipc namespace, side by side. After every call the return value or the errno agrees
//! **exactly** (no lookup wildcard: the C layer makes the kernel's checks before the
//! lookup), and so do the buffers the call filled, times and pids aside.
//!
//! The namespace's settings are written in the sequences too: `kernel.{msg,sem,shm}_next_id`
//! (`/proc/sys/kernel` of the fresh namespace, written as root; `Namespace::set_next_id`),
//! so the C gets hand out the ids they ask for, and `kernel.shm_rmid_forced`
//! (`Namespace::set_shm_rmid_forced`), which changes what the last `shmdt` does; the
//! settings read back agree after every call.
//!
//! Every operation that could sleep carries `IPC_NOWAIT`, except `MSG_COPY` without it,
//! which both sides refuse at once. Left out by design: attach addresses other than 0 and
//! a misaligned one (svipc cannot place memory), `shm_rss` (svipc counts every page).
//!
//! Cases: 64, or `PROPTEST_CASES`. Needs root (or `CAP_SYS_ADMIN`) for `unshare`;
//! elsewhere it prints a skip notice and passes.
#![cfg(all(target_os = "linux", target_pointer_width = "64", not(loom)))]

mod model;

use std::ffi::c_void;

use model::kernel::{errno, fresh_ipc_ns, MsgInfoC, SemInfoC, ShmInfoC};
use proptest::prelude::*;
use proptest::test_runner::Config;
use svipc::c::{self, semun, MsgctlBuf, ShmAttach, ShmctlBuf};
use svipc::{Credentials, Namespace, Process};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

/// A call's outcome: the C return value, and the figures of the buffer it filled.
type Res = Result<(i64, Vec<i64>), i32>;

#[derive(Clone, Debug)]
enum Call {
    MsgGet {
        key: i32,
        flg: i32,
    },
    MsgSnd {
        id: Id,
        mtype: i64,
        size: usize,
    },
    MsgRcv {
        id: Id,
        size: usize,
        msgtyp: i64,
        flg: i32,
    },
    MsgCtl {
        id: Id,
        cmd: i32,
        mode: u32,
        qbytes: u64,
    },
    SemGet {
        key: i32,
        nsems: i32,
        flg: i32,
    },
    SemOp {
        id: Id,
        sops: Vec<(u16, i16, i16)>,
        nsops: usize,
        timeout: Option<(i64, i64)>,
    },
    SemCtl {
        id: Id,
        num: i32,
        cmd: i32,
        val: i32,
    },
    ShmGet {
        key: i32,
        size: usize,
        flg: i32,
    },
    ShmAt {
        id: Id,
        addr: usize,
        flg: i32,
    },
    ShmDt {
        slot: usize,
    },
    ShmCtl {
        id: Id,
        cmd: i32,
        mode: u32,
    },
    /// A write of `kernel.msg_next_id`, `sem_next_id`, `shm_next_id` (`kind` 0, 1, 2).
    NextId {
        kind: u8,
        id: i32,
    },
    /// A write of `kernel.shm_rmid_forced`.
    RmidForced {
        on: bool,
    },
}

const NEXT_ID: [&str; 3] = ["msg_next_id", "sem_next_id", "shm_next_id"];

fn ipc_kind(kind: u8) -> svipc::IpcKind {
    [svipc::IpcKind::MessageQueue, svipc::IpcKind::SemaphoreSet, svipc::IpcKind::SharedMemory][kind as usize]
}

/// Writes `/proc/sys/kernel/NAME` of this thread's IPC namespace with euid 0 (the user
/// sequences keep saved uid 0 for this), then goes back to the euid it had.
fn sysctl_write(name: &str, value: &str) -> Res {
    // SAFETY: geteuid and setresuid take and return integers (raw setresuid: this thread).
    let euid = unsafe { libc::geteuid() };
    assert_eq!(unsafe { libc::syscall(libc::SYS_setresuid, -1, 0, -1) }, 0, "euid 0");
    let r = std::fs::write(format!("/proc/sys/kernel/{name}"), value);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::syscall(libc::SYS_setresuid, -1, euid, -1) }, 0, "euid back");
    r.map(|()| (0, Vec::new())).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// The four settings as the kernel shows them: the three `*_next_id`, `shm_rmid_forced`.
fn settings_kernel() -> [i32; 4] {
    let read = |name: &str| -> i32 {
        let s = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).expect("read a sysctl");
        s.trim().parse().expect("an integer")
    };
    [read(NEXT_ID[0]), read(NEXT_ID[1]), read(NEXT_ID[2]), read("shm_rmid_forced")]
}

fn settings_svipc(ns: &Namespace) -> [i32; 4] {
    [ns.next_id(ipc_kind(0)), ns.next_id(ipc_kind(1)), ns.next_id(ipc_kind(2)), ns.shm_rmid_forced() as i32]
}

/// An id argument: one handed out so far (by position), a slot index, or a raw value.
#[derive(Clone, Copy, Debug)]
enum Id {
    Handed(usize),
    Raw(i32),
}

fn id_s() -> impl Strategy<Value = Id> {
    prop_oneof![
        6 => (0usize..4).prop_map(Id::Handed),
        2 => prop_oneof![Just(-1), Just(0), Just(1), Just(2), Just(32768), Just(12345)].prop_map(Id::Raw),
    ]
}

fn key_s() -> impl Strategy<Value = i32> {
    prop_oneof![Just(0), Just(0x51), Just(0x52)]
}

fn get_flg_s() -> impl Strategy<Value = i32> {
    (any::<bool>(), prop::bool::weighted(0.2), prop_oneof![Just(0o600), Just(0o400), Just(0o644), Just(0)])
        .prop_map(
            |(cr, ex, mode)| if cr { c::IPC_CREAT } else { 0 } | if ex { c::IPC_EXCL } else { 0 } | mode,
        )
}

fn call_s() -> impl Strategy<Value = Call> {
    let sizes = prop_oneof![Just(0usize), Just(2), Just(5), Just(8), Just(9000), Just(usize::MAX)];
    prop_oneof![
        (key_s(), get_flg_s()).prop_map(|(key, flg)| Call::MsgGet { key, flg }),
        (id_s(), -1i64..4, sizes.clone()).prop_map(|(id, mtype, size)| Call::MsgSnd { id, mtype, size }),
        (id_s(), sizes.clone(), -3i64..4, 0usize..8).prop_map(|(id, size, msgtyp, f)| {
            let flg = [
                c::IPC_NOWAIT,
                c::IPC_NOWAIT | c::MSG_NOERROR,
                c::IPC_NOWAIT | c::MSG_EXCEPT,
                c::IPC_NOWAIT | c::MSG_COPY,
                c::IPC_NOWAIT | c::MSG_COPY | c::MSG_NOERROR,
                c::IPC_NOWAIT | c::MSG_COPY | c::MSG_EXCEPT,
                c::MSG_COPY,
                c::IPC_NOWAIT,
            ][f];
            Call::MsgRcv { id, size, msgtyp, flg }
        }),
        (
            id_s(),
            prop_oneof![
                Just(c::IPC_STAT),
                Just(c::IPC_SET),
                Just(c::IPC_RMID),
                Just(c::IPC_INFO),
                Just(c::MSG_INFO),
                Just(c::MSG_STAT),
                Just(c::MSG_STAT_ANY),
                Just(99),
                Just(-1),
                Just(c::IPC_STAT | c::IPC_64)
            ],
            prop_oneof![Just(0o600u32), Just(0o000)],
            prop_oneof![Just(16384u64), Just(3), Just(20000)]
        )
            .prop_map(|(id, cmd, mode, qbytes)| Call::MsgCtl { id, cmd, mode, qbytes }),
        (key_s(), prop_oneof![Just(-1), Just(0), Just(1), Just(3), Just(32001)], get_flg_s())
            .prop_map(|(key, nsems, flg)| Call::SemGet { key, nsems, flg }),
        (
            id_s(),
            prop::collection::vec((0u16..4, -2i16..3, prop_oneof![Just(0i16), Just(c::SEM_UNDO)]), 1..3),
            prop_oneof![Just(0usize), Just(1), Just(2), Just(501)],
            prop_oneof![
                3 => Just(None),
                1 => Just(Some((0, 0))),
                1 => Just(Some((0, -1))),
                1 => Just(Some((-1, 0))),
                1 => Just(Some((0, 1_000_000_000)))
            ]
        )
            .prop_map(|(id, sops, nsops, timeout)| Call::SemOp { id, sops, nsops, timeout }),
        (
            id_s(),
            -1i32..4,
            prop_oneof![
                Just(c::GETVAL),
                Just(c::SETVAL),
                Just(c::GETALL),
                Just(c::SETALL),
                Just(c::GETPID),
                Just(c::GETNCNT),
                Just(c::GETZCNT),
                Just(c::IPC_STAT),
                Just(c::IPC_SET),
                Just(c::IPC_RMID),
                Just(c::IPC_INFO),
                Just(c::SEM_INFO),
                Just(c::SEM_STAT),
                Just(c::SEM_STAT_ANY),
                Just(99)
            ],
            prop_oneof![Just(-1), Just(0), Just(2), Just(32767), Just(40000)]
        )
            .prop_map(|(id, num, cmd, val)| Call::SemCtl { id, num, cmd, val }),
        (key_s(), prop_oneof![Just(0usize), Just(1), Just(100), Just(5000), Just(usize::MAX)], get_flg_s())
            .prop_map(|(key, size, flg)| Call::ShmGet { key, size, flg }),
        (id_s(), prop_oneof![3 => Just(0usize), 1 => Just(0x1001)], 0usize..6).prop_map(|(id, addr, f)| {
            let flg = [0, c::SHM_RDONLY, c::SHM_EXEC, c::SHM_REMAP, c::SHM_RDONLY | c::SHM_EXEC, 0][f];
            Call::ShmAt { id, addr, flg }
        }),
        (0usize..3).prop_map(|slot| Call::ShmDt { slot }),
        (
            id_s(),
            prop_oneof![
                Just(c::IPC_STAT),
                Just(c::IPC_SET),
                Just(c::IPC_RMID),
                Just(c::IPC_INFO),
                Just(c::SHM_INFO),
                Just(c::SHM_STAT),
                Just(c::SHM_STAT_ANY),
                Just(c::SHM_LOCK),
                Just(c::SHM_UNLOCK),
                Just(99)
            ],
            prop_oneof![Just(0o600u32), Just(0o000)]
        )
            .prop_map(|(id, cmd, mode)| Call::ShmCtl { id, cmd, mode }),
        (
            0u8..3,
            prop_oneof![3 => 0i32..4, 1 => Just(1 << 15 | 2), 1 => Just(-1), 1 => Just(32767), 1 => Just(i32::MAX)]
        )
            .prop_map(|(kind, id)| Call::NextId { kind, id }),
        any::<bool>().prop_map(|on| Call::RmidForced { on }),
    ]
}

/// The ids of each kind handed out so far, in order.
#[derive(Default)]
struct Handed {
    msg: Vec<i32>,
    sem: Vec<i32>,
    shm: Vec<i32>,
}

fn resolve(ids: &[i32], id: Id) -> i32 {
    match id {
        Id::Handed(i) => ids.get(i).copied().unwrap_or(7 | 1 << 15),
        Id::Raw(v) => v,
    }
}

fn k(r: i64) -> Result<i64, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

fn s<T: Into<i64>>(r: Result<T, svipc::Error>) -> Result<i64, i32> {
    r.map(Into::into).map_err(|e| e.errno())
}

fn perm_k(p: &libc::ipc_perm) -> [i64; 4] {
    [p.__key as i64, p.uid as i64, p.cuid as i64, (p.mode & 0o3777) as i64]
}

fn perm_s(p: &c::ipc_perm) -> [i64; 4] {
    [p.__key as i64, p.uid as i64, p.cuid as i64, (p.mode & 0o3777) as i64]
}

const MSGBUF: usize = 9000;

/// `struct msgbuf`; `long` is 64 bits on the 64-bit Linux this test runs on.
#[repr(C)]
struct MsgBuf {
    mtype: i64,
    mtext: [u8; MSGBUF],
}

/// The kernel's side; `at` holds the addresses attached so far.
fn kernel(call: &Call, ids: &Handed, at: &mut Vec<usize>) -> Res {
    let mut buf = Box::new(MsgBuf { mtype: 0, mtext: [7; MSGBUF] });
    let none = Vec::new();
    // SAFETY (every call below): the pointers are to live buffers at least as large as the
    // size passed (MSGBUF bytes of mtext; sizes above it are refused by the kernel before it
    // reads: msgsz > MSGMAX), and each *ctl buffer has the layout the command writes.
    unsafe {
        match *call {
            Call::NextId { kind, id } => sysctl_write(NEXT_ID[kind as usize], &id.to_string()),
            Call::RmidForced { on } => sysctl_write("shm_rmid_forced", if on { "1" } else { "0" }),
            Call::MsgGet { key, flg } => k(libc::msgget(key, flg) as i64).map(|r| (r, none)),
            Call::MsgSnd { id, mtype, size } => {
                buf.mtype = mtype;
                let p = &*buf as *const MsgBuf as *const c_void;
                k(libc::msgsnd(resolve(&ids.msg, id), p, size, c::IPC_NOWAIT) as i64).map(|r| (r, none))
            }
            Call::MsgRcv { id, size, msgtyp, flg } => {
                let size = if size == 9000 { MSGBUF } else { size };
                let p = &mut *buf as *mut MsgBuf as *mut c_void;
                let n = k(libc::msgrcv(resolve(&ids.msg, id), p, size, msgtyp, flg) as i64)?;
                Ok((n, vec![buf.mtype, buf.mtext[..n as usize].iter().map(|&b| b as i64).sum()]))
            }
            Call::MsgCtl { id, cmd, mode, qbytes } => {
                let id = resolve(&ids.msg, id);
                if cmd == c::IPC_INFO || cmd == c::MSG_INFO {
                    let mut i = MsgInfoC::default();
                    let r = k(libc::msgctl(id, cmd, &mut i as *mut MsgInfoC as *mut libc::msqid_ds) as i64)?;
                    let f = [
                        i.msgpool,
                        i.msgmap,
                        i.msgmax,
                        i.msgmnb,
                        i.msgmni,
                        i.msgssz,
                        i.msgtql,
                        i.msgseg as i32,
                    ];
                    return Ok((r, f.iter().map(|&v| v as i64).collect()));
                }
                let mut ds: libc::msqid_ds = std::mem::zeroed();
                if cmd == c::IPC_SET {
                    k(libc::msgctl(id, c::IPC_STAT, &mut ds) as i64).ok();
                    ds.msg_perm.mode = mode as _;
                    ds.msg_qbytes = qbytes as _;
                }
                let r = k(libc::msgctl(id, cmd, &mut ds) as i64)?;
                let figs = if matches!(cmd, c::IPC_STAT | c::MSG_STAT | c::MSG_STAT_ANY) {
                    let mut v = perm_k(&ds.msg_perm).to_vec();
                    v.extend([ds.__msg_cbytes as i64, ds.msg_qnum as i64, ds.msg_qbytes as i64]);
                    v
                } else {
                    none
                };
                Ok((r, figs))
            }
            Call::SemGet { key, nsems, flg } => k(libc::semget(key, nsems, flg) as i64).map(|r| (r, none)),
            Call::SemOp { id, ref sops, nsops, timeout } => {
                let b: Vec<libc::sembuf> = sops
                    .iter()
                    .map(|&(n, o, f)| libc::sembuf {
                        sem_num: n,
                        sem_op: o,
                        sem_flg: f | c::IPC_NOWAIT as i16,
                    })
                    .collect();
                // nsops beyond the vector: the kernel must not read it (E2BIG, EINVAL);
                // give it room anyway, all IPC_NOWAIT
                let mut big = b.clone();
                big.resize(
                    nsops.max(b.len()),
                    libc::sembuf { sem_num: 0, sem_op: 0, sem_flg: c::IPC_NOWAIT as i16 },
                );
                let id = resolve(&ids.sem, id);
                let r = match timeout {
                    None => libc::semop(id, big.as_mut_ptr(), nsops),
                    Some((sec, nsec)) => {
                        let ts = libc::timespec { tv_sec: sec as _, tv_nsec: nsec as _ };
                        // libc has no wrapper; the raw syscall (its return is a long)
                        libc::syscall(
                            libc::SYS_semtimedop,
                            id,
                            big.as_mut_ptr(),
                            nsops,
                            &ts as *const libc::timespec,
                        ) as libc::c_int
                    }
                };
                k(r as i64).map(|r| (r, none))
            }
            Call::SemCtl { id, num, cmd, val } => {
                let id = resolve(&ids.sem, id);
                match cmd {
                    c::IPC_INFO | c::SEM_INFO => {
                        let mut i = SemInfoC::default();
                        let r = k(libc::semctl(id, num, cmd, &mut i as *mut SemInfoC) as i64)?;
                        let f = [
                            i.semmap, i.semmni, i.semmns, i.semmnu, i.semmsl, i.semopm, i.semume, i.semusz,
                            i.semvmx, i.semaem,
                        ];
                        Ok((r, f.iter().map(|&v| v as i64).collect()))
                    }
                    c::IPC_STAT | c::SEM_STAT | c::SEM_STAT_ANY | c::IPC_SET => {
                        let mut ds: libc::semid_ds = std::mem::zeroed();
                        if cmd == c::IPC_SET {
                            k(libc::semctl(id, 0, c::IPC_STAT, &mut ds as *mut libc::semid_ds) as i64).ok();
                            ds.sem_perm.mode = 0o600;
                        }
                        let r = k(libc::semctl(id, num, cmd, &mut ds as *mut libc::semid_ds) as i64)?;
                        let figs = if cmd == c::IPC_SET {
                            none
                        } else {
                            let mut v = perm_k(&ds.sem_perm).to_vec();
                            v.push(ds.sem_nsems as i64);
                            v
                        };
                        Ok((r, figs))
                    }
                    c::GETALL | c::SETALL => {
                        let mut arr = [val.clamp(0, 65535) as u16; 8];
                        let r = k(libc::semctl(id, num, cmd, arr.as_mut_ptr()) as i64)?;
                        Ok((r, if cmd == c::GETALL { arr.iter().map(|&v| v as i64).collect() } else { none }))
                    }
                    c::SETVAL => k(libc::semctl(id, num, cmd, val as libc::c_int) as i64).map(|r| (r, none)),
                    _ => k(libc::semctl(id, num, cmd, 0) as i64).map(|r| (r, none)),
                }
            }
            Call::ShmGet { key, size, flg } => k(libc::shmget(key, size, flg) as i64).map(|r| (r, none)),
            Call::ShmAt { id, addr, flg } => {
                let p = libc::shmat(resolve(&ids.shm, id), addr as *const c_void, flg);
                if p as isize == -1 {
                    return Err(errno());
                }
                at.push(p as usize);
                Ok((0, none))
            }
            Call::ShmDt { slot } => {
                if slot < at.len() {
                    let p = at.remove(slot);
                    k(libc::shmdt(p as *const c_void) as i64).map(|r| (r, none))
                } else {
                    Ok((0, none))
                }
            }
            Call::ShmCtl { id, cmd, mode } => {
                let id = resolve(&ids.shm, id);
                if cmd == c::SHM_INFO {
                    let mut i = ShmInfoC::default();
                    let r = k(libc::shmctl(id, cmd, &mut i as *mut ShmInfoC as *mut libc::shmid_ds) as i64)?;
                    return Ok((r, vec![i.used_ids as i64, i.shm_tot as i64]));
                }
                let mut ds: libc::shmid_ds = std::mem::zeroed();
                if cmd == c::IPC_SET {
                    k(libc::shmctl(id, c::IPC_STAT, &mut ds) as i64).ok();
                    ds.shm_perm.mode = mode as _;
                }
                let r = k(libc::shmctl(id, cmd, &mut ds) as i64)?;
                let figs = match cmd {
                    c::IPC_INFO => {
                        // struct shminfo: shmmax, shmmin, shmmni, shmseg, shmall
                        let i = &*(&ds as *const libc::shmid_ds as *const [u64; 5]);
                        i.iter().map(|&v| v as i64).collect()
                    }
                    c::IPC_STAT | c::SHM_STAT | c::SHM_STAT_ANY => {
                        let mut v = perm_k(&ds.shm_perm).to_vec();
                        v.extend([ds.shm_segsz as i64, ds.shm_nattch as i64]);
                        v
                    }
                    _ => none,
                };
                Ok((r, figs))
            }
        }
    }
}

/// svipc's side; `at` holds the guards attached so far.
fn svipc(
    rt: &tokio::runtime::Runtime,
    me: &Process,
    call: &Call,
    ids: &Handed,
    at: &mut Vec<ShmAttach>,
) -> Res {
    let none = Vec::new();
    match *call {
        Call::NextId { kind, id } => {
            s(me.namespace().set_next_id(ipc_kind(kind), id).map(|()| 0)).map(|r| (r, none))
        }
        Call::RmidForced { on } => {
            me.namespace().set_shm_rmid_forced(on);
            Ok((0, none))
        }
        Call::MsgGet { key, flg } => s(me.msgget(key, flg)).map(|r| (r, none)),
        Call::MsgSnd { id, mtype, size } => {
            let text = [7u8; MSGBUF];
            let size = if size == 9000 { MSGBUF } else { size };
            let r = rt.block_on(me.msgsnd(resolve(&ids.msg, id), mtype, &text, size, c::IPC_NOWAIT));
            s(r.map(|()| 0)).map(|r| (r, none))
        }
        Call::MsgRcv { id, size, msgtyp, flg } => {
            let size = if size == 9000 { MSGBUF } else { size };
            let mut text = vec![0u8; size.min(MSGBUF)];
            let (mtype, n) = rt
                .block_on(me.msgrcv(resolve(&ids.msg, id), &mut text, size, msgtyp, flg))
                .map_err(|e| e.errno())?;
            Ok((n as i64, vec![mtype, text[..n].iter().map(|&b| b as i64).sum()]))
        }
        Call::MsgCtl { id, cmd, mode, qbytes } => {
            let id = resolve(&ids.msg, id);
            if cmd == c::IPC_INFO || cmd == c::MSG_INFO {
                let mut i = c::msginfo::default();
                let r = s(me.msgctl(id, cmd, MsgctlBuf::Info(&mut i)))?;
                let f =
                    [i.msgpool, i.msgmap, i.msgmax, i.msgmnb, i.msgmni, i.msgssz, i.msgtql, i.msgseg as i32];
                return Ok((r, f.iter().map(|&v| v as i64).collect()));
            }
            let mut ds = c::msqid_ds::default();
            if cmd == c::IPC_SET {
                me.msgctl(id, c::IPC_STAT, MsgctlBuf::Ds(&mut ds)).ok();
                ds.msg_perm.mode = mode;
                ds.msg_qbytes = qbytes;
            }
            let r = s(me.msgctl(id, cmd, MsgctlBuf::Ds(&mut ds)))?;
            let figs = if matches!(cmd, c::IPC_STAT | c::MSG_STAT | c::MSG_STAT_ANY) {
                let mut v = perm_s(&ds.msg_perm).to_vec();
                v.extend([ds.msg_cbytes as i64, ds.msg_qnum as i64, ds.msg_qbytes as i64]);
                v
            } else {
                none
            };
            Ok((r, figs))
        }
        Call::SemGet { key, nsems, flg } => s(me.semget(key, nsems, flg)).map(|r| (r, none)),
        Call::SemOp { id, ref sops, nsops, timeout } => {
            let mut b: Vec<c::sembuf> = sops
                .iter()
                .map(|&(n, o, f)| c::sembuf { sem_num: n, sem_op: o, sem_flg: f | c::IPC_NOWAIT as i16 })
                .collect();
            b.resize(nsops.max(b.len()), c::sembuf { sem_num: 0, sem_op: 0, sem_flg: c::IPC_NOWAIT as i16 });
            let ts = timeout.map(|(tv_sec, tv_nsec)| c::timespec { tv_sec, tv_nsec });
            let r = rt.block_on(me.semtimedop(resolve(&ids.sem, id), &b, nsops, ts.as_ref()));
            s(r.map(|()| 0)).map(|r| (r, none))
        }
        Call::SemCtl { id, num, cmd, val } => {
            let id = resolve(&ids.sem, id);
            match cmd {
                c::IPC_INFO | c::SEM_INFO => {
                    let mut i = c::seminfo::default();
                    let r = s(me.semctl(id, num, cmd, semun::Info(&mut i)))?;
                    let f = [
                        i.semmap, i.semmni, i.semmns, i.semmnu, i.semmsl, i.semopm, i.semume, i.semusz,
                        i.semvmx, i.semaem,
                    ];
                    Ok((r, f.iter().map(|&v| v as i64).collect()))
                }
                c::IPC_STAT | c::SEM_STAT | c::SEM_STAT_ANY | c::IPC_SET => {
                    let mut ds = c::semid_ds::default();
                    if cmd == c::IPC_SET {
                        me.semctl(id, 0, c::IPC_STAT, semun::Buf(&mut ds)).ok();
                        ds.sem_perm.mode = 0o600;
                    }
                    let r = s(me.semctl(id, num, cmd, semun::Buf(&mut ds)))?;
                    let figs = if cmd == c::IPC_SET {
                        none
                    } else {
                        let mut v = perm_s(&ds.sem_perm).to_vec();
                        v.push(ds.sem_nsems as i64);
                        v
                    };
                    Ok((r, figs))
                }
                c::GETALL | c::SETALL => {
                    let mut arr = [val.clamp(0, 65535) as u16; 8];
                    let r = s(me.semctl(id, num, cmd, semun::Array(&mut arr)))?;
                    Ok((r, if cmd == c::GETALL { arr.iter().map(|&v| v as i64).collect() } else { none }))
                }
                c::SETVAL => s(me.semctl(id, num, cmd, semun::Val(val))).map(|r| (r, none)),
                _ => s(me.semctl(id, num, cmd, semun::None)).map(|r| (r, none)),
            }
        }
        Call::ShmGet { key, size, flg } => s(me.shmget(key, size, flg)).map(|r| (r, none)),
        Call::ShmAt { id, addr, flg } => {
            let g = me.shmat(resolve(&ids.shm, id), addr, flg).map_err(|e| e.errno())?;
            at.push(g);
            Ok((0, none))
        }
        Call::ShmDt { slot } => {
            if slot < at.len() {
                s(me.shmdt(at.remove(slot)).map(|()| 0)).map(|r| (r, none))
            } else {
                Ok((0, none))
            }
        }
        Call::ShmCtl { id, cmd, mode } => {
            let id = resolve(&ids.shm, id);
            match cmd {
                c::SHM_INFO => {
                    let mut i = c::shm_info::default();
                    let r = s(me.shmctl(id, cmd, ShmctlBuf::ShmInfo(&mut i)))?;
                    Ok((r, vec![i.used_ids as i64, i.shm_tot as i64]))
                }
                c::IPC_INFO => {
                    let mut i = c::shminfo::default();
                    let r = s(me.shmctl(id, cmd, ShmctlBuf::Info(&mut i)))?;
                    Ok((
                        r,
                        [i.shmmax, i.shmmin, i.shmmni, i.shmseg, i.shmall]
                            .iter()
                            .map(|&v| v as i64)
                            .collect(),
                    ))
                }
                _ => {
                    let mut ds = c::shmid_ds::default();
                    if cmd == c::IPC_SET {
                        me.shmctl(id, c::IPC_STAT, ShmctlBuf::Ds(&mut ds)).ok();
                        ds.shm_perm.mode = mode;
                    }
                    let buf = if matches!(cmd, c::SHM_LOCK | c::SHM_UNLOCK | c::IPC_RMID) {
                        ShmctlBuf::Null
                    } else {
                        ShmctlBuf::Ds(&mut ds)
                    };
                    let r = s(me.shmctl(id, cmd, buf))?;
                    let figs = if matches!(cmd, c::IPC_STAT | c::SHM_STAT | c::SHM_STAT_ANY) {
                        let mut v = perm_s(&ds.shm_perm).to_vec();
                        v.extend([ds.shm_segsz as i64, ds.shm_nattch as i64]);
                        v
                    } else {
                        none
                    };
                    Ok((r, figs))
                }
            }
        }
    }
}

/// Notes an id a get handed out.
fn note(ids: &mut Handed, call: &Call, r: &Res) {
    let list = match call {
        Call::MsgGet { .. } => &mut ids.msg,
        Call::SemGet { .. } => &mut ids.sem,
        Call::ShmGet { .. } => &mut ids.shm,
        _ => return,
    };
    if let Ok((id, _)) = r {
        if !list.contains(&(*id as i32)) {
            list.push(*id as i32);
        }
    }
}

fn run(calls: &[Call], user: bool) {
    let body = move || {
        if !fresh_ipc_ns() {
            return;
        }
        if user {
            // SAFETY: setgroups reads no array for a count of 0; the others take ints. Raw
            // syscalls change this thread alone.
            unsafe {
                assert_eq!(libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()), 0);
                assert_eq!(libc::syscall(libc::SYS_setresgid, 1000, 1000, 1000), 0);
                assert_eq!(libc::syscall(libc::SYS_setresuid, 1000, 1000, 0), 0);
            }
        }
        let creds = if user { Credentials::new(1000, 1000) } else { Credentials::current() };
        let me = Namespace::new().process(creds);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let (mut ids, mut kat, mut sat) = (Handed::default(), Vec::new(), Vec::new());
        for (i, call) in calls.iter().enumerate() {
            let kr = kernel(call, &ids, &mut kat);
            let sr = svipc(&rt, &me, call, &ids, &mut sat);
            assert_eq!(sr, kr, "call {i} {call:?} (svipc left, kernel right); sequence {calls:?}");
            note(&mut ids, call, &kr);
            assert_eq!(
                settings_svipc(me.namespace()),
                settings_kernel(),
                "after call {i} {call:?}: next_id x3, shm_rmid_forced (svipc left, kernel right); sequence {calls:?}"
            );
        }
        for p in kat {
            // SAFETY: an address shmat returned and not yet detached.
            unsafe { libc::shmdt(p as *const c_void) };
        }
    };
    std::thread::scope(|s| {
        if let Err(panic) = s.spawn(body).join() {
            std::panic::resume_unwind(panic);
        }
    });
}

#[test]
fn smoke() {
    run(
        &[
            Call::SemOp { id: Id::Raw(-1), sops: vec![(0, 1, 0)], nsops: 501, timeout: None },
            Call::SemCtl { id: Id::Raw(5), num: 0, cmd: c::SETVAL, val: 40000 },
            Call::MsgRcv { id: Id::Raw(5), size: 8, msgtyp: 0, flg: c::MSG_COPY },
            Call::MsgGet { key: 0, flg: c::IPC_CREAT | 0o600 },
            Call::MsgCtl { id: Id::Raw(0), cmd: c::MSG_STAT, mode: 0, qbytes: 0 },
            Call::MsgCtl { id: Id::Raw(0), cmd: c::IPC_INFO, mode: 0, qbytes: 0 },
        ],
        false,
    );
}

/// The settings by hand, as root and as a user: a `*_next_id` gives a C get its id (-1 is
/// refused), and with `shm_rmid_forced` the last `shmdt` destroys the segment.
#[test]
fn settings_smoke() {
    for user in [false, true] {
        run(
            &[
                Call::NextId { kind: 0, id: -1 },
                Call::NextId { kind: 0, id: 1 << 15 | 4 },
                Call::MsgGet { key: 0, flg: c::IPC_CREAT | 0o600 },
                Call::MsgGet { key: 0, flg: c::IPC_CREAT | 0o600 },
                Call::NextId { kind: 1, id: 9 },
                Call::SemGet { key: 0, nsems: 0, flg: c::IPC_CREAT | 0o600 },
                Call::SemGet { key: 0x51, nsems: 1, flg: c::IPC_CREAT | 0o600 },
                Call::NextId { kind: 2, id: 3 },
                Call::ShmGet { key: 0, size: 100, flg: c::IPC_CREAT | 0o600 },
                Call::RmidForced { on: true },
                Call::ShmAt { id: Id::Handed(0), addr: 0, flg: 0 },
                Call::ShmCtl { id: Id::Handed(0), cmd: c::IPC_STAT, mode: 0 },
                Call::ShmDt { slot: 0 },
                Call::ShmCtl { id: Id::Handed(0), cmd: c::IPC_STAT, mode: 0 },
                Call::RmidForced { on: false },
            ],
            user,
        );
    }
}

proptest! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, ..Config::default() })]

    #[test]
    fn c_calls_agree_with_the_kernel(calls in prop::collection::vec(call_s(), 1..24), user in prop::bool::weighted(0.3)) {
        run(&calls, user);
    }
}
