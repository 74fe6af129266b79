//! The real kernel behind the model's [`Call`]s: [`Kernel`] runs them through libc in a
//! fresh IPC namespace, switching the calling thread's effective uid, gid and groups to each
//! actor's before each call, and reads the namespace's state as a [`State`] (through
//! `*_STAT_ANY`, `MSG_COPY` and `GETALL` as root). Also the C plumbing `kernel_diff` shares:
//! [`fresh_ipc_ns`], [`errno`], [`semctl`], the `*_INFO` structs.
//!
//! Only on a thread of its own (it changes that thread's namespace and credentials, which
//! end with it), started as root: the saved uid stays 0 so the thread keeps its permitted
//! capabilities and returns to root between calls. An actor has any uid, gid and groups and
//! any of the four capabilities this thread is permitted ([`root_caps`], [`can_play`]),
//! raised into the effective set with `capset` (so uid 0 without capabilities, and a plain
//! user with `CAP_IPC_OWNER` alone, are played exactly). All actors are one process to the
//! kernel: one pid and one semadj list, so a caller compares pids and `SEM_UNDO` from one
//! actor only.
//!
//! Exits: the kernel's `exit_shm` works per task (a segment's `shm_creator` is the thread
//! that made it), so each actor's shmgets run on a thread of its own in the namespace (its
//! "task", started on first use with the actor's credentials). [`Call::Exit`] detaches the
//! actor's attachments (what `exit_mm` does to a process's mappings), ends that thread and
//! waits until the kernel has released it (`/proc/self/task/TID` gone, which is after its
//! `exit_shm`); the actor's next shmget starts a new one. Its semadj are *not* applied
//! (the undo list is the process's, shared by all actors), so a caller keeps `SEM_UNDO`
//! to actors that never exit.
//!
//! The sysctl calls ([`Call::SetNextId`], [`Call::SetShmRmidForced`]) write
//! `/proc/sys/kernel/{msg,sem,shm}_next_id` and `shm_rmid_forced` as root; they are per IPC
//! namespace, so these writes reach the fresh namespace only. [`Kernel::state`] reads them
//! back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{
    Call, Cred, Info, ObjState, Perm, Ret, Stat, State, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_ADMIN,
    CAP_SYS_RESOURCE, EINVAL, MSGMAX,
};

pub const SHM_INFO: i32 = 14;
pub const SHM_LOCK: i32 = 11;
pub const SHM_UNLOCK: i32 = 12;
pub const MSG_STAT: i32 = 11;
pub const MSG_STAT_ANY: i32 = 13;
pub const SEM_STAT: i32 = 18;
pub const SHM_STAT: i32 = 13;
pub const SEM_STAT_ANY: i32 = 20;
pub const SHM_STAT_ANY: i32 = 15;

static SKIP_NOTICE: AtomicBool = AtomicBool::new(false);

/// Moves this thread into a fresh, empty IPC namespace. `false` (after a loud notice, once)
/// where that is not permitted.
pub fn fresh_ipc_ns() -> bool {
    // SAFETY: unshare has no memory-safety preconditions; it acts on the calling thread.
    if unsafe { libc::unshare(libc::CLONE_NEWIPC) } == 0 {
        return true;
    }
    let e = errno();
    assert!(e == libc::EPERM || e == libc::EINVAL, "unshare(CLONE_NEWIPC): errno {e}");
    if !SKIP_NOTICE.swap(true, Ordering::Relaxed) {
        eprintln!(
            "\n*** kernel comparison SKIPPED: unshare(CLONE_NEWIPC) failed with errno {e} \
             (needs root or CAP_SYS_ADMIN); the kernel was NOT compared ***\n"
        );
    }
    false
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A C return value: the errno where it is negative.
pub fn k(r: i64) -> Result<i64, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// `struct msginfo`.
#[repr(C)]
#[derive(Default)]
pub struct MsgInfoC {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
}

/// `struct seminfo`.
#[repr(C)]
#[derive(Default)]
pub struct SemInfoC {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}

/// `struct shm_info`.
#[repr(C)]
#[derive(Default)]
pub struct ShmInfoC {
    pub used_ids: i32,
    pub shm_tot: u64,
    pub shm_rss: u64,
    pub shm_swp: u64,
    pub swap_attempts: u64,
    pub swap_successes: u64,
}

/// `union semun` (semctl(2)): the caller declares it.
#[repr(C)]
#[derive(Clone, Copy)]
pub union Semun {
    pub val: libc::c_int,
    pub buf: *mut libc::semid_ds,
    pub array: *mut libc::c_ushort,
}

pub const NULL_ARG: Semun = Semun { val: 0 };

pub fn semctl(id: i32, num: i32, cmd: i32, arg: Semun) -> Result<i64, i32> {
    // SAFETY: `arg` carries what `cmd` reads or writes, pointing at live buffers.
    k(unsafe { libc::semctl(id, num, cmd, arg) } as i64)
}

pub fn msg_info_c() -> Result<(i64, MsgInfoC), i32> {
    let mut i = MsgInfoC::default();
    // SAFETY: MSG_INFO writes a struct msginfo.
    let r =
        k(unsafe { libc::msgctl(0, libc::MSG_INFO, &mut i as *mut MsgInfoC as *mut libc::msqid_ds) } as i64)?;
    Ok((r, i))
}

pub fn sem_info_c() -> Result<(i64, SemInfoC), i32> {
    let mut i = SemInfoC::default();
    let r = semctl(0, 0, libc::SEM_INFO, Semun { buf: &mut i as *mut SemInfoC as *mut libc::semid_ds })?;
    Ok((r, i))
}

pub fn shm_info_c() -> Result<(i64, ShmInfoC), i32> {
    let mut i = ShmInfoC::default();
    // SAFETY: SHM_INFO writes a struct shm_info.
    let r = k(unsafe { libc::shmctl(0, SHM_INFO, &mut i as *mut ShmInfoC as *mut libc::shmid_ds) } as i64)?;
    Ok((r, i))
}

pub fn kperm(p: &libc::ipc_perm) -> Perm {
    Perm {
        key: p.__key,
        uid: p.uid,
        gid: p.gid,
        cuid: p.cuid,
        cgid: p.cgid,
        mode: p.mode as u32,
        seq: p.__seq as u32,
    }
}

/// The Linux capability numbers of the model's `CAP_*` bits.
const CAP_BITS: [(u32, u8); 4] =
    [(15, CAP_IPC_OWNER), (21, CAP_SYS_ADMIN), (24, CAP_SYS_RESOURCE), (14, CAP_IPC_LOCK)];

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: two `CapData` words, capabilities 0-31 and 32-63.
const CAP_V3: u32 = 0x2008_0522;

fn capget() -> [CapData; 2] {
    let mut h = CapHeader { version: CAP_V3, pid: 0 };
    let mut d = [CapData::default(); 2];
    // SAFETY: capget writes two CapData for version 3.
    assert_eq!(unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) }, 0, "capget");
    d
}

/// Sets this thread's effective capabilities to those of `caps` (model bits) that it is
/// permitted (`perm`, from [`capget`]), and, if `all`, to everything permitted.
fn set_effective(perm: [CapData; 2], caps: u8, all: bool) {
    let mut d = perm;
    d[0].effective = if all {
        d[0].permitted
    } else {
        CAP_BITS.iter().filter(|&&(_, c)| caps & c != 0).fold(0, |a, &(bit, _)| a | 1 << bit) & d[0].permitted
    };
    d[1].effective = if all { d[1].permitted } else { 0 };
    let mut h = CapHeader { version: CAP_V3, pid: 0 };
    // SAFETY: capset reads two CapData for version 3.
    assert_eq!(unsafe { libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) }, 0, "capset");
}

/// The capabilities this thread may hold (its permitted set), as the model's `CAP_*` bits:
/// what root has here, and the most any actor can be given.
pub fn root_caps() -> u8 {
    let p = capget()[0].permitted;
    CAP_BITS.iter().filter(|&&(bit, _)| p & 1 << bit != 0).fold(0, |a, &(_, c)| a | c)
}

/// Whether an actor with these credentials can be played here: its capabilities are among
/// those permitted.
pub fn can_play(cred: &Cred) -> bool {
    cred.caps & !root_caps() == 0
}

/// Gives this thread an actor's effective ids, groups and capabilities (raw syscalls:
/// glibc's wrappers would change every thread). Real and saved uid stay 0, so the permitted
/// capabilities stay and each call can start again from root.
fn become_(perm: [CapData; 2], cred: &Cred) {
    // SAFETY: the id calls take integers; setgroups reads `groups.len()` gids.
    unsafe {
        assert_eq!(libc::syscall(libc::SYS_setresuid, -1, 0, -1), 0, "back to euid 0");
        set_effective(perm, 0, true);
        assert_eq!(libc::syscall(libc::SYS_setgroups, cred.groups.len(), cred.groups.as_ptr()), 0);
        assert_eq!(libc::syscall(libc::SYS_setresgid, -1, cred.gid, -1), 0);
        assert_eq!(libc::syscall(libc::SYS_setresuid, -1, cred.uid, -1), 0);
    }
    set_effective(perm, cred.caps, false);
}

/// The kernel's `struct msgbuf` with room for the largest message.
#[repr(C)]
struct MsgBuf {
    mtype: libc::c_long,
    mtext: [u8; MSGMAX + 1],
}

type Job = Box<dyn FnOnce() + Send>;

/// An actor's task: a thread in the namespace that makes the actor's shmgets, so that the
/// kernel records it as their creator (see the module docs).
struct Task {
    jobs: std::sync::mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
    tid: i64,
}

impl Task {
    /// Call on a thread in the namespace: the new thread shares it.
    fn start() -> Task {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid takes no arguments.
            tid_tx.send(unsafe { libc::syscall(libc::SYS_gettid) }).expect("tid");
            for job in rx {
                job();
            }
        });
        let tid = tid_rx.recv().expect("the task started");
        Task { jobs, thread, tid }
    }

    /// Runs `f` on the task and answers what it returns.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.jobs.send(Box::new(move || tx.send(f()).expect("answer"))).expect("the task runs");
        rx.recv().expect("the task answered")
    }

    /// Ends the thread and waits until the kernel has released it: its `exit_shm` has run.
    /// (`join` alone is not enough: the thread's tid is cleared in `exit_mm`, before
    /// `exit_shm`.)
    fn exit(self) {
        drop(self.jobs);
        if let Err(panic) = self.thread.join() {
            std::panic::resume_unwind(panic);
        }
        let path = format!("/proc/self/task/{}", self.tid);
        while std::path::Path::new(&path).exists() {
            std::thread::yield_now();
        }
    }
}

/// Writes `/proc/sys/kernel/NAME` (the calling thread's IPC namespace's): 0 or the errno.
fn sysctl_write(name: &str, value: &str) -> Result<i64, i32> {
    std::fs::write(format!("/proc/sys/kernel/{name}"), value)
        .map(|()| 0)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// Reads `/proc/sys/kernel/NAME` as an integer.
fn sysctl_read(name: &str) -> i32 {
    let s = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).expect("read a sysctl");
    s.trim().parse().expect("an integer sysctl")
}

const NEXT_ID: [&str; 3] = ["msg_next_id", "sem_next_id", "shm_next_id"];

/// The kernel, driven by model calls; see the module docs.
pub struct Kernel {
    creds: Vec<Cred>,
    /// The thread's permitted capabilities, read once.
    perm: [CapData; 2],
    /// The actor whose credentials the thread has now (`None`: root).
    current: std::cell::Cell<Option<usize>>,
    /// (actor, token) → address.
    attached: BTreeMap<(usize, u64), *mut c_void>,
    next_token: Vec<u64>,
    buf: Box<MsgBuf>,
    /// Each actor's task, once it has made a shmget (until it exits).
    tasks: Vec<Option<Task>>,
}

impl Drop for Kernel {
    /// Detaches what is still attached, ends the tasks and leaves the thread root again.
    fn drop(&mut self) {
        for &a in self.attached.values() {
            // SAFETY: `a` came from a successful shmat and was not detached.
            unsafe { libc::shmdt(a) };
        }
        for t in self.tasks.drain(..).flatten() {
            t.exit();
        }
        become_(self.perm, &Cred::new(0, 0).caps(super::CAP_ALL & root_caps()));
    }
}

impl Default for Kernel {
    fn default() -> Kernel {
        Kernel::new()
    }
}

impl Kernel {
    /// Call on the thread that entered a fresh namespace, as root.
    pub fn new() -> Kernel {
        Kernel {
            creds: Vec::new(),
            perm: capget(),
            current: std::cell::Cell::new(None),
            attached: BTreeMap::new(),
            next_token: Vec::new(),
            buf: Box::new(MsgBuf { mtype: 0, mtext: [0; MSGMAX + 1] }),
            tasks: Vec::new(),
        }
    }

    /// Adds an actor: any uid, gid and groups, and capabilities among [`root_caps`] (see
    /// [`can_play`]).
    pub fn add_actor(&mut self, cred: &Cred) -> usize {
        assert!(can_play(cred), "{cred:?} asks for capabilities this thread is not permitted");
        self.creds.push(cred.clone());
        self.next_token.push(1);
        self.tasks.push(None);
        self.creds.len() - 1
    }

    /// Runs `call` as `actor`.
    pub fn apply(&mut self, actor: usize, call: &Call) -> Ret {
        if self.current.get() != Some(actor) {
            become_(self.perm, &self.creds[actor]);
            self.current.set(Some(actor));
        }
        let r = self.run(actor, call);
        r.unwrap_or_else(Ret::Err)
    }

    fn run(&mut self, actor: usize, call: &Call) -> Result<Ret, i32> {
        let val = |r: Result<i64, i32>| r.map(Ret::Val);
        // SAFETY (every call below): pointers are to live buffers of the C layout the call
        // expects, large enough for what it writes.
        match call {
            Call::MsgGet { key, flags } => val(k(unsafe { libc::msgget(*key, *flags) } as i64)),
            Call::MsgSnd { id, mtype, msg } => {
                if msg.len() > MSGMAX + 1 {
                    return Err(EINVAL); // what the kernel says to any msgsz above MSGMAX
                }
                self.buf.mtype = *mtype;
                self.buf.mtext[..msg.len()].copy_from_slice(msg);
                let p = &*self.buf as *const MsgBuf as *const c_void;
                val(k(unsafe { libc::msgsnd(*id, p, msg.len(), libc::IPC_NOWAIT) } as i64))
            }
            Call::MsgRcv { id, bufsz, msgtyp, flags } => {
                let p = &mut *self.buf as *mut MsgBuf as *mut c_void;
                let n = k(unsafe { libc::msgrcv(*id, p, *bufsz, *msgtyp, flags | libc::IPC_NOWAIT) } as i64)?;
                Ok(Ret::Msg(self.buf.mtype, self.buf.mtext[..n as usize].to_vec()))
            }
            Call::MsgStat { id } => msg_stat_c(*id).map(Ret::Stat),
            Call::MsgSet { id, uid, gid, mode, qbytes } => {
                let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
                ds.msg_perm.uid = *uid;
                ds.msg_perm.gid = *gid;
                ds.msg_perm.mode = *mode as u16;
                ds.msg_qbytes = *qbytes;
                val(k(unsafe { libc::msgctl(*id, libc::IPC_SET, &mut ds) } as i64))
            }
            Call::MsgRmid { id } => {
                val(k(unsafe { libc::msgctl(*id, libc::IPC_RMID, std::ptr::null_mut()) } as i64))
            }
            Call::MsgInfo => msg_info().map(Ret::Info),
            Call::SemGet { key, nsems, flags } => {
                val(k(unsafe { libc::semget(*key, *nsems, *flags) } as i64))
            }
            Call::SemOp { id, sops } => {
                let mut b: Vec<libc::sembuf> = sops
                    .iter()
                    .map(|&(sem_num, sem_op, f)| libc::sembuf {
                        sem_num,
                        sem_op,
                        sem_flg: f | libc::IPC_NOWAIT as i16,
                    })
                    .collect();
                val(k(unsafe { libc::semop(*id, b.as_mut_ptr(), b.len()) } as i64))
            }
            Call::SemGetVal { id, num } => val(semctl(*id, *num, libc::GETVAL, NULL_ARG)),
            Call::SemGetPid { id, num } => val(semctl(*id, *num, libc::GETPID, NULL_ARG)),
            Call::SemGetNcnt { id, num } => val(semctl(*id, *num, libc::GETNCNT, NULL_ARG)),
            Call::SemGetZcnt { id, num } => val(semctl(*id, *num, libc::GETZCNT, NULL_ARG)),
            Call::SemGetAll { id } => sem_getall_c(*id).map(Ret::Vals),
            Call::SemSetVal { id, num, val: v } => val(semctl(*id, *num, libc::SETVAL, Semun { val: *v })),
            Call::SemSetAll { id, vals } => {
                // The kernel reads sem_nsems values: room for the most a set can have, so a
                // `vals` of the wrong length reads zeros, never past the buffer (the caller
                // passes the set's length: C's array has no other).
                let mut a = vec![0u16; super::SEMMSL as usize];
                a[..vals.len()].copy_from_slice(vals);
                val(semctl(*id, 0, libc::SETALL, Semun { array: a.as_mut_ptr() }))
            }
            Call::SemStat { id } => sem_stat_c(*id).map(Ret::Stat),
            Call::SemSet { id, uid, gid, mode } => {
                let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
                ds.sem_perm.uid = *uid;
                ds.sem_perm.gid = *gid;
                ds.sem_perm.mode = *mode as u16;
                val(semctl(*id, 0, libc::IPC_SET, Semun { buf: &mut ds }))
            }
            Call::SemRmid { id } => val(semctl(*id, 0, libc::IPC_RMID, NULL_ARG)),
            Call::SemInfo => sem_info().map(Ret::Info),
            Call::ShmGet { key, size, flags } => {
                // On the actor's task, so that the kernel makes it the creator.
                let task = self.tasks[actor].get_or_insert_with(Task::start);
                let (perm, cred, key, size, flags) =
                    (self.perm, self.creds[actor].clone(), *key, *size, *flags);
                val(task.run(move || {
                    become_(perm, &cred);
                    k(unsafe { libc::shmget(key, size, flags) } as i64)
                }))
            }
            Call::ShmAt { id, flags } => {
                let a = unsafe { libc::shmat(*id, std::ptr::null(), *flags) };
                if a as isize == -1 {
                    return Err(errno());
                }
                let t = self.next_token[actor];
                self.next_token[actor] += 1;
                self.attached.insert((actor, t), a);
                Ok(Ret::Val(t as i64))
            }
            Call::ShmDt { token } => {
                // An address with no attachment (the kernel's own EINVAL) for an unknown token.
                let a = self.attached.remove(&(actor, *token)).unwrap_or(4096 as *mut c_void);
                val(k(unsafe { libc::shmdt(a) } as i64))
            }
            Call::ShmStat { id } => shm_stat_c(*id).map(Ret::Stat),
            Call::ShmSet { id, uid, gid, mode } => {
                let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
                ds.shm_perm.uid = *uid;
                ds.shm_perm.gid = *gid;
                ds.shm_perm.mode = *mode as u16;
                val(k(unsafe { libc::shmctl(*id, libc::IPC_SET, &mut ds) } as i64))
            }
            Call::ShmRmid { id } => {
                val(k(unsafe { libc::shmctl(*id, libc::IPC_RMID, std::ptr::null_mut()) } as i64))
            }
            Call::ShmLock { id } => {
                val(k(unsafe { libc::shmctl(*id, SHM_LOCK, std::ptr::null_mut()) } as i64))
            }
            Call::ShmUnlock { id } => {
                val(k(unsafe { libc::shmctl(*id, SHM_UNLOCK, std::ptr::null_mut()) } as i64))
            }
            Call::ShmInfo => shm_info().map(Ret::Info),
            Call::StatIndex { kind, index, any } => {
                let (r, stat) = match (kind, any) {
                    (0, false) => msg_stat_cmd(*index, MSG_STAT),
                    (0, true) => msg_stat_cmd(*index, MSG_STAT_ANY),
                    (1, false) => sem_stat_cmd(*index, SEM_STAT),
                    (1, true) => sem_stat_cmd(*index, SEM_STAT_ANY),
                    (_, false) => shm_stat_cmd(*index, SHM_STAT),
                    (_, true) => shm_stat_cmd(*index, SHM_STAT_ANY),
                }?;
                Ok(Ret::StatAt(r as i32, stat))
            }
            Call::IpcInfo { kind } => ipc_info_c(*kind).map(|(r, f)| Ret::Limits(r as i32, f)),
            Call::Exit => {
                // exit_mm: the process's attachments go; then the task's exit (exit_shm).
                let mine: Vec<(usize, u64)> =
                    self.attached.keys().filter(|k| k.0 == actor).copied().collect();
                for key in mine {
                    let a = self.attached.remove(&key).expect("listed");
                    // SAFETY: `a` came from a successful shmat and was not detached.
                    k(unsafe { libc::shmdt(a) } as i64).expect("detach at exit");
                }
                if let Some(t) = self.tasks[actor].take() {
                    t.exit();
                }
                Ok(Ret::Val(0))
            }
            Call::SetNextId { kind, id } => {
                self.as_root();
                val(sysctl_write(NEXT_ID[(*kind).min(2) as usize], &id.to_string()))
            }
            Call::SetShmRmidForced { on } => {
                self.as_root();
                val(sysctl_write("shm_rmid_forced", if *on { "1" } else { "0" }))
            }
        }
    }

    /// Gives the thread root's credentials (those it may hold) until the next actor's call.
    fn as_root(&self) {
        become_(self.perm, &Cred::new(0, 0).caps(super::CAP_ALL & root_caps()));
        self.current.set(None);
    }

    /// The namespace's state, read as root: every index up to each `*_INFO`'s maximum by
    /// `*_STAT_ANY`, then the messages by `MSG_COPY`, the values, pids and counts by semctl.
    pub fn state(&self) -> State {
        self.as_root();
        let mut objects = BTreeMap::new();
        let (m, s, h) =
            (msg_info().expect("MSG_INFO"), sem_info().expect("SEM_INFO"), shm_info().expect("SHM_INFO"));
        for idx in 0..=m.max_index {
            let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: ds is a live msqid_ds.
            let Ok(id) = k(unsafe { libc::msgctl(idx, MSG_STAT_ANY, &mut ds) } as i64) else { continue };
            let id = id as i32;
            let mut msgs = Vec::new();
            let mut buf = Box::new(MsgBuf { mtype: 0, mtext: [0; MSGMAX + 1] });
            for at in 0.. {
                let p = &mut *buf as *mut MsgBuf as *mut c_void;
                let flg = libc::IPC_NOWAIT | libc::MSG_COPY;
                // SAFETY: buf has room for MSGMAX bytes.
                let Ok(n) = k(unsafe { libc::msgrcv(id, p, MSGMAX, at, flg) } as i64) else { break };
                msgs.push((buf.mtype, buf.mtext[..n as usize].to_vec()));
            }
            objects.insert((0, id), ObjState::Msg { stat: msg_stat_c(id).expect("stat"), msgs });
        }
        for idx in 0..=s.max_index {
            let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
            let Ok(id) = semctl(idx, 0, SEM_STAT_ANY, Semun { buf: &mut ds }) else { continue };
            let id = id as i32;
            let n = ds.sem_nsems as i32;
            let each = |cmd| (0..n).map(|i| semctl(id, i, cmd, NULL_ARG).expect("semctl") as i32).collect();
            let st = ObjState::Sem {
                stat: sem_stat_c(id).expect("stat"),
                vals: sem_getall_c(id).expect("GETALL"),
                pids: each(libc::GETPID),
                ncnt: each(libc::GETNCNT),
                zcnt: each(libc::GETZCNT),
            };
            objects.insert((1, id), st);
        }
        for idx in 0..=h.max_index {
            let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: ds is a live shmid_ds.
            let Ok(id) = k(unsafe { libc::shmctl(idx, SHM_STAT_ANY, &mut ds) } as i64) else { continue };
            objects.insert((2, id as i32), ObjState::Shm { stat: shm_stat_c(id as i32).expect("stat") });
        }
        State {
            objects,
            msg_info: m,
            sem_info: s,
            shm_info: h,
            next_id: NEXT_ID.map(sysctl_read),
            shm_rmid_forced: sysctl_read("shm_rmid_forced") != 0,
        }
    }
}

fn msg_info() -> Result<Info, i32> {
    let (r, i) = msg_info_c()?;
    Ok(Info {
        max_index: r as i32,
        objects: i.msgpool as u64,
        units: i.msgmap as u64,
        bytes: i.msgtql as u64,
    })
}

fn sem_info() -> Result<Info, i32> {
    let (r, i) = sem_info_c()?;
    Ok(Info { max_index: r as i32, objects: i.semusz as u64, units: i.semaem as u64, bytes: 0 })
}

fn shm_info() -> Result<Info, i32> {
    let (r, i) = shm_info_c()?;
    Ok(Info { max_index: r as i32, objects: i.used_ids as u64, units: i.shm_tot, bytes: 0 })
}

pub fn msg_stat_c(id: i32) -> Result<Stat, i32> {
    msg_stat_cmd(id, libc::IPC_STAT).map(|(_, s)| s)
}

/// `msgctl(id, cmd, &ds)` with `IPC_STAT`, `MSG_STAT` or `MSG_STAT_ANY`: its return value
/// and the figures.
pub fn msg_stat_cmd(id: i32, cmd: i32) -> Result<(i64, Stat), i32> {
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a live msqid_ds.
    let r = k(unsafe { libc::msgctl(id, cmd, &mut ds) } as i64)?;
    Ok((
        r,
        Stat::Msg {
            perm: kperm(&ds.msg_perm),
            qnum: ds.msg_qnum,
            cbytes: ds.__msg_cbytes,
            qbytes: ds.msg_qbytes,
            lspid: ds.msg_lspid,
            lrpid: ds.msg_lrpid,
        },
    ))
}

pub fn sem_stat_c(id: i32) -> Result<Stat, i32> {
    sem_stat_cmd(id, libc::IPC_STAT).map(|(_, s)| s)
}

/// `semctl(id, 0, cmd, &ds)` with `IPC_STAT`, `SEM_STAT` or `SEM_STAT_ANY`.
pub fn sem_stat_cmd(id: i32, cmd: i32) -> Result<(i64, Stat), i32> {
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    let r = semctl(id, 0, cmd, Semun { buf: &mut ds })?;
    Ok((r, Stat::Sem { perm: kperm(&ds.sem_perm), nsems: ds.sem_nsems }))
}

pub fn sem_nsems_c(id: i32) -> Result<usize, i32> {
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    semctl(id, 0, libc::IPC_STAT, Semun { buf: &mut ds })?;
    Ok(ds.sem_nsems as usize)
}

pub fn sem_getall_c(id: i32) -> Result<Vec<u16>, i32> {
    let n = sem_nsems_c(id)?;
    let mut a = vec![0u16; n];
    semctl(id, 0, libc::GETALL, Semun { array: a.as_mut_ptr() })?;
    Ok(a)
}

pub fn shm_stat_c(id: i32) -> Result<Stat, i32> {
    shm_stat_cmd(id, libc::IPC_STAT).map(|(_, s)| s)
}

/// `shmctl(id, cmd, &ds)` with `IPC_STAT`, `SHM_STAT` or `SHM_STAT_ANY`.
pub fn shm_stat_cmd(id: i32, cmd: i32) -> Result<(i64, Stat), i32> {
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a live shmid_ds.
    let r = k(unsafe { libc::shmctl(id, cmd, &mut ds) } as i64)?;
    Ok((
        r,
        Stat::Shm {
            perm: kperm(&ds.shm_perm),
            segsz: ds.shm_segsz as u64,
            nattch: ds.shm_nattch,
            cpid: ds.shm_cpid,
            lpid: ds.shm_lpid,
        },
    ))
}

/// `IPC_INFO` of `kind` (0 msg, 1 sem, 2 shm): the return value and the struct's fields in
/// C order.
pub fn ipc_info_c(kind: u8) -> Result<(i64, Vec<u64>), i32> {
    match kind {
        0 => {
            let mut i = MsgInfoC::default();
            // SAFETY: IPC_INFO writes a struct msginfo.
            let r =
                k(
                    unsafe { libc::msgctl(0, libc::IPC_INFO, &mut i as *mut MsgInfoC as *mut libc::msqid_ds) }
                        as i64,
                )?;
            let f =
                [i.msgpool, i.msgmap, i.msgmax, i.msgmnb, i.msgmni, i.msgssz, i.msgtql, i32::from(i.msgseg)];
            Ok((r, f.iter().map(|&v| v as u64).collect()))
        }
        1 => {
            let mut i = SemInfoC::default();
            let r =
                semctl(0, 0, libc::IPC_INFO, Semun { buf: &mut i as *mut SemInfoC as *mut libc::semid_ds })?;
            let f = [
                i.semmap, i.semmni, i.semmns, i.semmnu, i.semmsl, i.semopm, i.semume, i.semusz, i.semvmx,
                i.semaem,
            ];
            Ok((r, f.iter().map(|&v| v as u64).collect()))
        }
        _ => {
            let mut i = [0u64; 5];
            // SAFETY: IPC_INFO writes a struct shminfo: five unsigned longs.
            let r =
                k(unsafe { libc::shmctl(0, libc::IPC_INFO, i.as_mut_ptr() as *mut libc::shmid_ds) } as i64)?;
            Ok((r, i.to_vec()))
        }
    }
}

/// Pids as zero or not: every actor is one process to the kernel (see the module docs).
fn no_pids_stat(s: &mut Stat) {
    let one = |p: &mut i32| *p = (*p != 0) as i32;
    match s {
        Stat::Msg { lspid, lrpid, .. } => {
            one(lspid);
            one(lrpid);
        }
        Stat::Shm { cpid, lpid, .. } => {
            one(cpid);
            one(lpid);
        }
        Stat::Sem { .. } => {}
    }
}

/// An answer with its pids as zero or not (IPC_STAT's, GETPID's).
pub fn no_pids(call: &Call, mut r: Ret) -> Ret {
    match (&mut r, call) {
        (Ret::Stat(s), _) | (Ret::StatAt(_, s), _) => no_pids_stat(s),
        (Ret::Val(v), Call::SemGetPid { .. }) => *v = (*v != 0) as i64,
        _ => {}
    }
    r
}

/// A state with its pids as zero or not.
pub fn no_pids_state(mut s: State) -> State {
    for o in s.objects.values_mut() {
        match o {
            ObjState::Msg { stat, .. } | ObjState::Shm { stat } => no_pids_stat(stat),
            ObjState::Sem { stat, pids, .. } => {
                no_pids_stat(stat);
                pids.iter_mut().for_each(|p| *p = (*p != 0) as i32);
            }
        }
    }
    s
}
