//! A sequential reference model of System V IPC (issue 6, item 1): message queues, semaphore
//! sets, shared memory segments and the namespace's id and key tables, written straight from
//! `docs/kernel-rules.md`, small enough to check by eye. It imports only std and libc (for the errno
//! and flag constants), not svipc: it is an independent oracle. Not a test target of its own.
//!
//! # Use
//!
//! * From an integration test: `mod model;` (this directory), then `model::Model`,
//!   `model::Call`, `model::driver::Driver` (the same calls run against svipc),
//!   `model::driver::Both` (model and svipc side by side, asserting agreement), and on
//!   Linux `model::kernel::Kernel` (the same calls run against the real kernel in a fresh
//!   IPC namespace; `model_props` checks the model itself with it).
//! * From elsewhere (the fuzz target): `#[path = "../../tests/model/mod.rs"] mod model;`;
//!   `driver.rs` and `kernel.rs` come along as submodules and need the `svipc` and `libc`
//!   crates.
//!
//! [`Model::add_actor`] adds a process with its credentials ([`Cred`]); each actor has the
//! pid [`Model::pid`] (`1000 + actor`). [`Model::apply`] answers one [`Call`] by that actor as
//! the kernel does, with **`IPC_NOWAIT` semantics everywhere**: a call that would block gets
//! `EAGAIN` (msgsnd, semop) or `ENOMSG` (msgrcv), so nothing waits, and `GETNCNT`/`GETZCNT`
//! are always 0. [`Call::Exit`] (or [`Model::exit`]) ends the actor's process as the
//! kernel's `exit_mm`/`exit_sem`/`exit_shm` do (every attachment detached, semadj applied
//! and clamped, the segments it created orphaned, or destroyed where `shm_rmid_forced` is
//! set and nobody is attached), and the actor lives on as a new process with the same
//! credentials and pid.
//!
//! # Calls covered
//!
//! | mechanism | calls |
//! |---|---|
//! | msg | msgget, msgsnd, msgrcv (every selector, `MSG_NOERROR`, `MSG_EXCEPT`, `MSG_COPY`), `IPC_STAT`, `IPC_SET`, `IPC_RMID`, `MSG_INFO` |
//! | sem | semget, semop (`SEM_UNDO`, repeated `sem_num`), `GETVAL`, `GETPID`, `GETNCNT`, `GETZCNT`, `GETALL`, `SETVAL`, `SETALL`, `IPC_STAT`, `IPC_SET`, `IPC_RMID`, `SEM_INFO` |
//! | shm | shmget, shmat (`SHM_RDONLY`), shmdt, `IPC_STAT`, `IPC_SET`, `IPC_RMID` (`SHM_DEST`), `SHM_LOCK`, `SHM_UNLOCK`, `SHM_INFO` |
//! | process | exit |
//! | settings | the `msg_next_id`, `sem_next_id`, `shm_next_id` sysctls (`ipc_idr_alloc`'s `next_id`: that sequence, the first free slot at or above, reset by the creation); `shm_rmid_forced` (`shm_may_destroy` at the last detach, `exit_shm`, `shm_destroy_orphaned`); [`State`] shows all four |
//!
//! Arguments are C's, raw: keys and ids are `i32`, `msgtyp` an `i64` with `msgflg`, sem ops
//! `(sem_num, sem_op, sem_flg)`, sizes `usize`, so every errno path can be reached. A message
//! is a `Vec<u8>` payload; its length is its `msgsz`. An attachment's "address" is a token
//! ([`Ret::Val`] of a successful shmat): the actor's attachments are numbered 1, 2, 3, …
//! in the order they were made (not reset at exit), and shmdt takes that number.
//!
//! Left out: times (nothing here has a clock), blocking and wake-up order, attach addresses
//! and `SHM_RND`/`SHM_REMAP`/`SHM_EXEC`,
//! `RLIMIT_MEMLOCK` (taken as unlimited), limits other than the defaults, and a page
//! size other than 4096.
#![allow(dead_code)]

use std::collections::BTreeMap;

pub mod driver;
#[cfg(target_os = "linux")]
pub mod kernel;

// ===== constants =====

#[allow(unused_imports)] // each user takes what it needs
pub use libc::{
    E2BIG, EACCES, EAGAIN, EEXIST, EFBIG, EINVAL, ENOENT, ENOMSG, ENOSPC, EPERM, ERANGE, IPC_CREAT, IPC_EXCL,
    IPC_NOWAIT, MSG_COPY, MSG_EXCEPT, MSG_NOERROR, SEM_UNDO, SHM_RDONLY,
};

/// `CAP_IPC_OWNER`: bypasses every mode check.
pub const CAP_IPC_OWNER: u8 = 1;
/// `CAP_SYS_ADMIN`: `IPC_SET` and `IPC_RMID` on others' objects.
pub const CAP_SYS_ADMIN: u8 = 2;
/// `CAP_SYS_RESOURCE`: `msg_qbytes` above `MSGMNB`.
pub const CAP_SYS_RESOURCE: u8 = 4;
/// `CAP_IPC_LOCK`: `SHM_LOCK`/`SHM_UNLOCK` on others' segments.
pub const CAP_IPC_LOCK: u8 = 8;
/// All four.
pub const CAP_ALL: u8 = 15;

pub const MSGMAX: usize = 8192;
pub const MSGMNB: u64 = 16384;
pub const MSGMNI: usize = 32000;
pub const SEMMSL: i32 = 32000;
pub const SEMMNS: u64 = 32000 * 32000;
pub const SEMOPM: usize = 500;
pub const SEMVMX: i32 = 32767;
pub const SEMMNI: usize = 32000;
pub const SHMMIN: usize = 1;
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
pub const SHMALL: u64 = u64::MAX - (1 << 24);
pub const SHMMNI: usize = 4096;
pub const PAGE: u64 = 4096;
/// `SHM_DEST` in `shm_perm.mode`.
pub const SHM_DEST: u32 = 0o1000;
/// `SHM_LOCKED` in `shm_perm.mode`.
pub const SHM_LOCKED: u32 = 0o2000;
const IPCMNI: u32 = 1 << 15;
const SEQ_MAX: u32 = (i32::MAX as u32) >> 15;
const MIN_CYCLE: u32 = 64;

// ===== the interface =====

/// An actor's credentials: effective uid and gid, supplementary groups, and capabilities (a
/// set of the `CAP_*` bits above).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub caps: u8,
}

/// The credentials the property tests and the fuzz target draw actors from: an owner, a group
/// member by gid, one by a supplementary group, another user, root with every capability, uid 0
/// with none, root without CAP_SYS_RESOURCE, and a user of gid 4000 (a group IPC_SET may hand
/// objects to).
pub fn cred_pool() -> Vec<Cred> {
    vec![
        Cred::new(1000, 1000),
        Cred::new(1001, 1000),
        Cred::new(1002, 2000).groups(&[5, 1000]),
        Cred::new(1003, 3000),
        Cred::new(0, 0).caps(CAP_ALL),
        Cred::new(0, 0),
        Cred::new(0, 0).caps(CAP_ALL & !CAP_SYS_RESOURCE),
        Cred::new(1004, 4000),
    ]
}

impl Cred {
    /// uid and gid, no supplementary groups, no capabilities (even for uid 0).
    pub fn new(uid: u32, gid: u32) -> Cred {
        Cred { uid, gid, groups: Vec::new(), caps: 0 }
    }

    pub fn groups(mut self, groups: &[u32]) -> Cred {
        self.groups = groups.to_vec();
        self
    }

    pub fn caps(mut self, caps: u8) -> Cred {
        self.caps = caps;
        self
    }

    /// `in_group_p`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    pub fn has(&self, cap: u8) -> bool {
        self.caps & cap == cap
    }
}

/// One system call, with C's raw arguments. Every call is made with `IPC_NOWAIT`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// `msgget(key, flags)`.
    MsgGet { key: i32, flags: i32 },
    /// `msgsnd(id, {mtype, msg}, msg.len(), IPC_NOWAIT)`.
    MsgSnd { id: i32, mtype: i64, msg: Vec<u8> },
    /// `msgrcv(id, buf, bufsz, msgtyp, flags | IPC_NOWAIT)`; flags: `MSG_NOERROR`,
    /// `MSG_EXCEPT`, `MSG_COPY` (then `msgtyp` is the position).
    MsgRcv { id: i32, bufsz: usize, msgtyp: i64, flags: i32 },
    /// `msgctl(id, IPC_STAT)`.
    MsgStat { id: i32 },
    /// `msgctl(id, IPC_SET)` with these fields.
    MsgSet { id: i32, uid: u32, gid: u32, mode: u32, qbytes: u64 },
    /// `msgctl(id, IPC_RMID)`.
    MsgRmid { id: i32 },
    /// `msgctl(0, MSG_INFO)`.
    MsgInfo,
    /// `semget(key, nsems, flags)`.
    SemGet { key: i32, nsems: i32, flags: i32 },
    /// `semop(id, sops)`, each `(sem_num, sem_op, sem_flg)`; `IPC_NOWAIT` is implied.
    SemOp { id: i32, sops: Vec<(u16, i16, i16)> },
    /// `semctl(id, num, GETVAL)`.
    SemGetVal { id: i32, num: i32 },
    /// `semctl(id, num, GETPID)`.
    SemGetPid { id: i32, num: i32 },
    /// `semctl(id, num, GETNCNT)`.
    SemGetNcnt { id: i32, num: i32 },
    /// `semctl(id, num, GETZCNT)`.
    SemGetZcnt { id: i32, num: i32 },
    /// `semctl(id, 0, GETALL)`.
    SemGetAll { id: i32 },
    /// `semctl(id, num, SETVAL, val)`.
    SemSetVal { id: i32, num: i32, val: i32 },
    /// `semctl(id, 0, SETALL, vals)`: `vals` must have `sem_nsems` entries (C's array has no
    /// length; here a wrong length is `EINVAL`, after the `ERANGE` check, as svipc does).
    SemSetAll { id: i32, vals: Vec<u16> },
    /// `semctl(id, 0, IPC_STAT)`.
    SemStat { id: i32 },
    /// `semctl(id, 0, IPC_SET)`.
    SemSet { id: i32, uid: u32, gid: u32, mode: u32 },
    /// `semctl(id, 0, IPC_RMID)`.
    SemRmid { id: i32 },
    /// `semctl(0, 0, SEM_INFO)`.
    SemInfo,
    /// `shmget(key, size, flags)`.
    ShmGet { key: i32, size: usize, flags: i32 },
    /// `shmat(id, NULL, flags)`; flags: `SHM_RDONLY`. Returns the attachment's token.
    ShmAt { id: i32, flags: i32 },
    /// `shmdt(addr)` of the actor's attachment with this token.
    ShmDt { token: u64 },
    /// `shmctl(id, IPC_STAT)`.
    ShmStat { id: i32 },
    /// `shmctl(id, IPC_SET)`.
    ShmSet { id: i32, uid: u32, gid: u32, mode: u32 },
    /// `shmctl(id, IPC_RMID)`.
    ShmRmid { id: i32 },
    /// `shmctl(id, SHM_LOCK)`.
    ShmLock { id: i32 },
    /// `shmctl(id, SHM_UNLOCK)`.
    ShmUnlock { id: i32 },
    /// `shmctl(0, SHM_INFO)`.
    ShmInfo,
    /// `msgctl`, `semctl` or `shmctl` (`kind` 0, 1, 2) with `*_STAT` on slot `index`, or
    /// `*_STAT_ANY` when `any`: the object's full id and its `IPC_STAT` figures.
    StatIndex { kind: u8, index: i32, any: bool },
    /// `msgctl`, `semctl` or `shmctl` (`kind` 0, 1, 2) with `IPC_INFO`: the limits and the
    /// highest index in use.
    IpcInfo { kind: u8 },
    /// The actor's process exits (a new one with the same credentials takes its place).
    Exit,
    /// A write of `/proc/sys/kernel/msg_next_id`, `sem_next_id` or `shm_next_id` (`kind` 0,
    /// 1, 2): the id the next creation of that kind asks for; `EINVAL` for a negative one
    /// (the sysctl's range is `[0, INT_MAX]`: -1, the value it starts with and returns to,
    /// cannot be written). Namespace-wide: the actor making it does not matter (the kernel
    /// side writes as root).
    SetNextId { kind: u8, id: i32 },
    /// A write of `/proc/sys/kernel/shm_rmid_forced` (1 when `on`, else 0).
    SetShmRmidForced { on: bool },
}

/// `ipc_perm` as `IPC_STAT` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u32,
}

/// What `IPC_STAT` reports, times left out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Stat {
    Msg { perm: Perm, qnum: u64, cbytes: u64, qbytes: u64, lspid: i32, lrpid: i32 },
    Sem { perm: Perm, nsems: u64 },
    Shm { perm: Perm, segsz: u64, nattch: u64, cpid: i32, lpid: i32 },
}

/// What `MSG_INFO`, `SEM_INFO`, `SHM_INFO` report: the return value (the highest index in
/// use, 0 if none) and the figures that change (`msgpool`/`semusz`/`used_ids` = objects,
/// `msgmap`/`semaem`/`shm_tot` = messages/semaphores/pages, `msgtql` = bytes, 0 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Info {
    pub max_index: i32,
    pub objects: u64,
    pub units: u64,
    pub bytes: u64,
}

/// A call's result.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// A plain return value: an id, 0, a semaphore value or pid or count, an attach token.
    Val(i64),
    /// A received or copied message: mtype and the bytes returned.
    Msg(i64, Vec<u8>),
    /// `GETALL`.
    Vals(Vec<u16>),
    Stat(Stat),
    /// `*_STAT` by index: the full id and the figures.
    StatAt(i32, Stat),
    Info(Info),
    /// `IPC_INFO`: the return value (the highest index in use) and the struct's fields in
    /// C order (`msginfo`, `seminfo`, `shminfo`).
    Limits(i32, Vec<u64>),
    /// Failure with this errno.
    Err(i32),
}

/// The observable state of one object: its `IPC_STAT` and what else can be read without
/// changing it (queued messages, semaphore values and pids).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ObjState {
    Msg { stat: Stat, msgs: Vec<(i64, Vec<u8>)> },
    Sem { stat: Stat, vals: Vec<u16>, pids: Vec<i32>, ncnt: Vec<i32>, zcnt: Vec<i32> },
    Shm { stat: Stat },
}

/// The namespace's observable state: every object by (kind, id) — kind 0 msg, 1 sem, 2
/// shm — the three `*_INFO` answers, and the settings `/proc/sys/kernel` shows: the
/// `{msg,sem,shm}_next_id` (by kind; -1 when unset) and `shm_rmid_forced`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub objects: BTreeMap<(u8, i32), ObjState>,
    pub msg_info: Info,
    pub sem_info: Info,
    pub shm_info: Info,
    pub next_id: [i32; 3],
    pub shm_rmid_forced: bool,
}

// ===== the model =====

type R = Result<Ret, i32>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Actor {
    cred: Cred,
    /// semid → semadj of each semaphore (`struct sem_undo`).
    undo: BTreeMap<i32, Vec<i32>>,
    /// token → shmid.
    attached: BTreeMap<u64, i32>,
    next_token: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Queue {
    msgs: Vec<(i64, Vec<u8>)>,
    qbytes: u64,
    lspid: i32,
    lrpid: i32,
}

impl Queue {
    fn cbytes(&self) -> u64 {
        self.msgs.iter().map(|(_, m)| m.len() as u64).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Sems {
    vals: Vec<u16>,
    pids: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Seg {
    segsz: u64,
    nattch: u64,
    cpid: i32,
    lpid: i32,
    /// The actor whose current process created it (`shm_creator`, the segment on that
    /// process's `shm_clist`); `None` once that process has exited: an orphan.
    creator: Option<usize>,
}

impl Seg {
    fn pages(&self) -> u64 {
        self.segsz.div_ceil(PAGE)
    }
}

/// One kind's id table (`struct ipc_ids` with its idr): objects by index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Table<T> {
    objs: BTreeMap<u32, (Perm, T)>,
    seq: u32,
    last_idx: Option<u32>,
    /// `idr_next`.
    next: u32,
    /// `ids->next_id`, the `*_next_id` sysctl: -1 when unset.
    next_id: i32,
}

impl<T> Table<T> {
    fn new() -> Table<T> {
        Table { objs: BTreeMap::new(), seq: 0, last_idx: None, next: 0, next_id: -1 }
    }

    /// `ipc_obtain_object_check`.
    fn get(&self, id: i32) -> Result<&(Perm, T), i32> {
        let id = u32::try_from(id).map_err(|_| EINVAL)?;
        match self.objs.get(&(id % IPCMNI)) {
            Some(o) if o.0.seq == id / IPCMNI => Ok(o),
            _ => Err(EINVAL),
        }
    }

    fn get_mut(&mut self, id: i32) -> Result<&mut (Perm, T), i32> {
        self.get(id)?;
        Ok(self.objs.get_mut(&(id as u32 % IPCMNI)).expect("looked up"))
    }

    fn remove(&mut self, id: i32) -> (Perm, T) {
        self.objs.remove(&(id as u32 % IPCMNI)).expect("live id")
    }

    /// The id of the live object with this public key.
    fn find_key(&self, key: i32) -> Option<i32> {
        self.objs.iter().find(|(_, (p, _))| p.key == key).map(|(&idx, (p, _))| id_of(idx, p.seq))
    }

    /// `ipc_addid` → `ipc_idr_alloc`: ENOSPC at the limit (the setting untouched). Then a
    /// `next_id` setting is taken and reset to -1 whatever follows: the object gets its
    /// sequence number and the first free index at or above its index (ENOSPC if none
    /// below `IPCMNI`), by `idr_alloc`, which leaves the cursor, `seq` and `last_idx` as
    /// they are. Without one, `idr_alloc_cyclic` from the cursor.
    fn add(&mut self, limit: usize, key: i32, cred: &Cred, mode: u32, obj: T) -> Result<i32, i32> {
        let in_use = self.objs.len() as u32;
        if in_use as usize >= limit {
            return Err(ENOSPC);
        }
        let next_id = std::mem::replace(&mut self.next_id, -1);
        let (idx, seq) = if next_id >= 0 {
            let (want, seq) = (next_id as u32 % IPCMNI, next_id as u32 / IPCMNI);
            let idx = (want..IPCMNI).find(|i| !self.objs.contains_key(i)).ok_or(ENOSPC)?;
            (idx, seq)
        } else {
            let end = (in_use * 3 / 2).clamp(MIN_CYCLE, IPCMNI);
            let free = |from: u32| (from..end).find(|i| !self.objs.contains_key(i));
            let idx = free(self.next).or_else(|| free(0)).ok_or(ENOSPC)?;
            if self.last_idx.is_some_and(|last| idx <= last) {
                self.seq += 1;
                if self.seq >= SEQ_MAX {
                    self.seq = 0;
                }
            }
            self.last_idx = Some(idx);
            self.next = idx + 1;
            (idx, self.seq)
        };
        let perm = Perm {
            key,
            uid: cred.uid,
            gid: cred.gid,
            cuid: cred.uid,
            cgid: cred.gid,
            mode: mode & 0o777,
            seq,
        };
        self.objs.insert(idx, (perm, obj));
        Ok(id_of(idx, seq))
    }

    /// `ipc_get_maxidx`, as the `*_INFO` commands return it: 0 when empty.
    fn max_index(&self) -> i32 {
        self.objs.keys().next_back().map_or(0, |&i| i as i32)
    }

    fn ids(&self) -> impl Iterator<Item = i32> + '_ {
        self.objs.iter().map(|(&idx, (p, _))| id_of(idx, p.seq))
    }
}

fn id_of(idx: u32, seq: u32) -> i32 {
    (seq * IPCMNI + idx) as i32
}

/// `ipcperms`: may `cred` access `perm` as `flag` asks (the three triplets OR-ed)?
pub fn ipcperms(cred: &Cred, perm: &Perm, flag: u32) -> bool {
    let requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
    let granted = if cred.uid == perm.cuid || cred.uid == perm.uid {
        perm.mode >> 6
    } else if cred.in_group(perm.cgid) || cred.in_group(perm.gid) {
        perm.mode >> 3
    } else {
        perm.mode
    };
    requested & !granted & 7 == 0 || cred.has(CAP_IPC_OWNER)
}

fn check(cred: &Cred, perm: &Perm, flag: u32) -> Result<(), i32> {
    if ipcperms(cred, perm, flag) {
        Ok(())
    } else {
        Err(EACCES)
    }
}

/// `ipcctl_obtain_check`'s ownership test: owner, creator or `CAP_SYS_ADMIN`, else EPERM.
fn check_owner(cred: &Cred, perm: &Perm) -> Result<(), i32> {
    if cred.uid == perm.cuid || cred.uid == perm.uid || cred.has(CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// `ipc_update_perm`, after its EINVAL for an unmappable uid or gid.
fn update_perm(perm: &mut Perm, uid: u32, gid: u32, mode: u32) -> Result<(), i32> {
    if uid == u32::MAX || gid == u32::MAX {
        return Err(EINVAL);
    }
    perm.uid = uid;
    perm.gid = gid;
    perm.mode = (perm.mode & !0o777) | (mode & 0o777);
    Ok(())
}

const READ: u32 = 0o444;
const WRITE: u32 = 0o222;

/// The model: the namespace's three tables and the actors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    actors: Vec<Actor>,
    msg: Table<Queue>,
    sem: Table<Sems>,
    shm: Table<Seg>,
    /// The semaphores in all sets (`used_sems`; kept, not summed, so 32000 semgets stay
    /// linear).
    used_sems: u64,
    /// `kernel.shm_rmid_forced`.
    shm_rmid_forced: bool,
}

impl Default for Model {
    fn default() -> Model {
        Model::new()
    }
}

impl Model {
    /// A fresh namespace with no actors.
    pub fn new() -> Model {
        Model {
            actors: Vec::new(),
            msg: Table::new(),
            sem: Table::new(),
            shm: Table::new(),
            used_sems: 0,
            shm_rmid_forced: false,
        }
    }

    /// Adds a process with these credentials; returns its actor number.
    pub fn add_actor(&mut self, cred: Cred) -> usize {
        self.actors.push(Actor { cred, undo: BTreeMap::new(), attached: BTreeMap::new(), next_token: 1 });
        self.actors.len() - 1
    }

    /// The pid an actor's calls record: `1000 + actor`.
    pub fn pid(actor: usize) -> i32 {
        1000 + actor as i32
    }

    pub fn cred(&self, actor: usize) -> &Cred {
        &self.actors[actor].cred
    }

    pub fn actors(&self) -> usize {
        self.actors.len()
    }

    /// The actor's live attachments: token → shmid.
    pub fn attachments(&self, actor: usize) -> impl Iterator<Item = (u64, i32)> + '_ {
        self.actors[actor].attached.iter().map(|(&t, &id)| (t, id))
    }

    /// Ids of the live objects of each kind (0 msg, 1 sem, 2 shm).
    pub fn ids(&self, kind: u8) -> Vec<i32> {
        match kind {
            0 => self.msg.ids().collect(),
            1 => self.sem.ids().collect(),
            _ => self.shm.ids().collect(),
        }
    }

    /// Answers `call` made by `actor`.
    pub fn apply(&mut self, actor: usize, call: &Call) -> Ret {
        let r = match call {
            Call::MsgGet { key, flags } => self.msg_get(actor, *key, *flags),
            Call::MsgSnd { id, mtype, msg } => self.msg_snd(actor, *id, *mtype, msg),
            Call::MsgRcv { id, bufsz, msgtyp, flags } => self.msg_rcv(actor, *id, *bufsz, *msgtyp, *flags),
            Call::MsgStat { id } => self.msg_stat(actor, *id),
            Call::MsgSet { id, uid, gid, mode, qbytes } => {
                self.msg_set(actor, *id, *uid, *gid, *mode, *qbytes)
            }
            Call::MsgRmid { id } => self.msg_rmid(actor, *id),
            Call::MsgInfo => Ok(Ret::Info(self.msg_info())),
            Call::SemGet { key, nsems, flags } => self.sem_get(actor, *key, *nsems, *flags),
            Call::SemOp { id, sops } => self.sem_op(actor, *id, sops),
            Call::SemGetVal { id, num } => self.sem_get_one(actor, *id, *num, |s, n| s.vals[n] as i64),
            Call::SemGetPid { id, num } => self.sem_get_one(actor, *id, *num, |s, n| s.pids[n] as i64),
            Call::SemGetNcnt { id, num } | Call::SemGetZcnt { id, num } => {
                self.sem_get_one(actor, *id, *num, |_, _| 0)
            }
            Call::SemGetAll { id } => self.sem_get_all(actor, *id),
            Call::SemSetVal { id, num, val } => self.sem_set_val(actor, *id, *num, *val),
            Call::SemSetAll { id, vals } => self.sem_set_all(actor, *id, vals),
            Call::SemStat { id } => self.sem_stat(actor, *id),
            Call::SemSet { id, uid, gid, mode } => self.sem_set(actor, *id, *uid, *gid, *mode),
            Call::SemRmid { id } => self.sem_rmid(actor, *id),
            Call::SemInfo => Ok(Ret::Info(self.sem_info())),
            Call::ShmGet { key, size, flags } => self.shm_get(actor, *key, *size, *flags),
            Call::ShmAt { id, flags } => self.shm_at(actor, *id, *flags),
            Call::ShmDt { token } => self.shm_dt(actor, *token),
            Call::ShmStat { id } => self.shm_stat(actor, *id),
            Call::ShmSet { id, uid, gid, mode } => self.shm_set(actor, *id, *uid, *gid, *mode),
            Call::ShmRmid { id } => self.shm_rmid(actor, *id),
            Call::ShmLock { id } => self.shm_lock(actor, *id, true),
            Call::ShmUnlock { id } => self.shm_lock(actor, *id, false),
            Call::ShmInfo => Ok(Ret::Info(self.shm_info())),
            Call::StatIndex { kind, index, any } => self.stat_index(actor, *kind, *index, *any),
            Call::IpcInfo { kind } => Ok(self.ipc_info(*kind)),
            Call::Exit => {
                self.exit(actor);
                Ok(Ret::Val(0))
            }
            Call::SetNextId { kind, id } => self.set_next_id(*kind, *id),
            Call::SetShmRmidForced { on } => {
                self.set_shm_rmid_forced(*on);
                Ok(Ret::Val(0))
            }
        };
        r.unwrap_or_else(Ret::Err)
    }

    /// `kernel.{msg,sem,shm}_next_id`: the sysctl's range is `[0, INT_MAX]`.
    fn set_next_id(&mut self, kind: u8, id: i32) -> R {
        if id < 0 {
            return Err(EINVAL);
        }
        match kind {
            0 => self.msg.next_id = id,
            1 => self.sem.next_id = id,
            _ => self.shm.next_id = id,
        }
        Ok(Ret::Val(0))
    }

    /// `kernel.shm_rmid_forced`; writing 1 runs `shm_destroy_orphaned`: every segment whose
    /// creator has exited and that nobody is attached to goes (`shm_may_destroy`).
    fn set_shm_rmid_forced(&mut self, on: bool) {
        self.shm_rmid_forced = on;
        if on {
            let orphans: Vec<i32> = self
                .shm
                .objs
                .iter()
                .filter(|(_, (_, s))| s.creator.is_none() && s.nattch == 0)
                .map(|(&idx, (p, _))| id_of(idx, p.seq))
                .collect();
            for id in orphans {
                self.shm.remove(id);
            }
        }
    }

    /// `*_STAT` and `*_STAT_ANY`: `EINVAL` for a negative index (the syscall's `id < 0`) or
    /// an empty slot `index % IPCMNI`, whatever the sequence number; then, unless `any`,
    /// `EACCES` without read permission.
    fn stat_index(&self, actor: usize, kind: u8, index: i32, any: bool) -> R {
        let idx = u32::try_from(index).map_err(|_| EINVAL)? % IPCMNI;
        let perm = match kind {
            0 => self.msg.objs.get(&idx).map(|o| o.0),
            1 => self.sem.objs.get(&idx).map(|o| o.0),
            _ => self.shm.objs.get(&idx).map(|o| o.0),
        }
        .ok_or(EINVAL)?;
        if !any {
            check(&self.actors[actor].cred, &perm, READ)?;
        }
        let id = id_of(idx, perm.seq);
        let stat = match kind {
            0 => self.msg_ds(id),
            1 => self.sem_ds(id),
            _ => self.shm_ds(id),
        };
        Ok(Ret::StatAt(id, stat))
    }

    /// `IPC_INFO`. The message figures `msgpool`, `msgmap`, `msgtql` and the semaphore
    /// figures `semmap`, `semmnu`, `semume`, `semusz`, `semaem` are the kernel's
    /// compile-time constants here (`MSGPOOL` = 32000 * 16384 / 1024, ...), not usage.
    fn ipc_info(&self, kind: u8) -> Ret {
        match kind {
            0 => Ret::Limits(
                self.msg.max_index(),
                vec![512000, 16384, MSGMAX as u64, MSGMNB, MSGMNI as u64, 16, 16384, 0xffff],
            ),
            1 => Ret::Limits(
                self.sem.max_index(),
                vec![
                    SEMMNS,
                    SEMMNI as u64,
                    SEMMNS,
                    SEMMNS,
                    SEMMSL as u64,
                    SEMOPM as u64,
                    SEMOPM as u64,
                    20,
                    SEMVMX as u64,
                    SEMVMX as u64,
                ],
            ),
            _ => Ret::Limits(
                self.shm.max_index(),
                vec![SHMMAX, SHMMIN as u64, SHMMNI as u64, SHMMNI as u64, SHMALL],
            ),
        }
    }

    /// The actor's process exits: `exit_mm` (every attachment detached, as shmdt does),
    /// `exit_sem` (each set's semadj added back, clamped to `[0, SEMVMX]`, sempid = the
    /// exiting pid) and `exit_shm` (the segments it created become orphans; with
    /// `shm_rmid_forced`, those nobody is attached to are destroyed instead). The actor then
    /// continues as a fresh process with the same credentials.
    pub fn exit(&mut self, actor: usize) {
        let pid = Model::pid(actor);
        let undo = std::mem::take(&mut self.actors[actor].undo);
        for (semid, adj) in undo {
            if let Ok((_, s)) = self.sem.get_mut(semid) {
                for (n, &a) in adj.iter().enumerate() {
                    if a != 0 {
                        s.vals[n] = (s.vals[n] as i32 + a).clamp(0, SEMVMX) as u16;
                        s.pids[n] = pid;
                    }
                }
            }
        }
        let tokens: Vec<u64> = self.actors[actor].attached.keys().copied().collect();
        for t in tokens {
            self.shm_dt(actor, t).expect("a live attachment detaches");
        }
        let mine: Vec<i32> = self
            .shm
            .ids()
            .filter(|&id| self.shm.get(id).is_ok_and(|(_, s)| s.creator == Some(actor)))
            .collect();
        for id in mine {
            let (_, seg) = self.shm.get_mut(id).expect("live");
            seg.creator = None;
            if self.shm_rmid_forced && seg.nattch == 0 {
                self.shm.remove(id);
            }
        }
    }

    /// Everything observable, for comparing with svipc after each step.
    pub fn state(&self) -> State {
        let mut objects = BTreeMap::new();
        for id in self.msg.ids() {
            let (_, q) = self.msg.get(id).expect("live");
            objects.insert((0, id), ObjState::Msg { stat: self.msg_ds(id), msgs: q.msgs.clone() });
        }
        for id in self.sem.ids() {
            let (_, s) = self.sem.get(id).expect("live");
            let zeros = vec![0; s.vals.len()];
            objects.insert(
                (1, id),
                ObjState::Sem {
                    stat: self.sem_ds(id),
                    vals: s.vals.clone(),
                    pids: s.pids.clone(),
                    ncnt: zeros.clone(),
                    zcnt: zeros,
                },
            );
        }
        for id in self.shm.ids() {
            objects.insert((2, id), ObjState::Shm { stat: self.shm_ds(id) });
        }
        State {
            objects,
            msg_info: self.msg_info(),
            sem_info: self.sem_info(),
            shm_info: self.shm_info(),
            next_id: [self.msg.next_id, self.sem.next_id, self.shm.next_id],
            shm_rmid_forced: self.shm_rmid_forced,
        }
    }

    // ----- ipcget -----

    /// `ipcget`: the lookup part, for a public key. `Ok(Some(id))`: found and allowed;
    /// `Ok(None)`: not found, create.
    fn lookup_key<T>(
        table: &Table<T>,
        cred: &Cred,
        key: i32,
        flags: i32,
        more_checks: impl Fn(&T) -> Result<(), i32>,
    ) -> Result<Option<i32>, i32> {
        if key == 0 {
            return Ok(None);
        }
        match table.find_key(key) {
            None if flags & IPC_CREAT == 0 => Err(ENOENT),
            None => Ok(None),
            Some(_) if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 => Err(EEXIST),
            Some(id) => {
                let (perm, obj) = table.get(id)?;
                more_checks(obj)?;
                check(cred, perm, flags as u32 & 0o777)?;
                Ok(Some(id))
            }
        }
    }

    // ----- message queues -----

    fn msg_get(&mut self, actor: usize, key: i32, flags: i32) -> R {
        let cred = self.actors[actor].cred.clone();
        if let Some(id) = Model::lookup_key(&self.msg, &cred, key, flags, |_| Ok(()))? {
            return Ok(Ret::Val(id as i64));
        }
        let q = Queue { msgs: Vec::new(), qbytes: MSGMNB, lspid: 0, lrpid: 0 };
        self.msg.add(MSGMNI, key, &cred, flags as u32, q).map(|id| Ret::Val(id as i64))
    }

    fn msg_snd(&mut self, actor: usize, id: i32, mtype: i64, msg: &[u8]) -> R {
        if msg.len() > MSGMAX || id < 0 || mtype < 1 {
            return Err(EINVAL);
        }
        let cred = &self.actors[actor].cred;
        let (perm, q) = self.msg.get_mut(id)?;
        check(cred, perm, WRITE)?;
        let fits = msg.len() as u64 + q.cbytes() <= q.qbytes && (q.msgs.len() as u64) < q.qbytes /* 1 + qnum <= qbytes */;
        if !fits {
            return Err(EAGAIN);
        }
        q.msgs.push((mtype, msg.to_vec()));
        q.lspid = Model::pid(actor);
        Ok(Ret::Val(0))
    }

    fn msg_rcv(&mut self, actor: usize, id: i32, bufsz: usize, msgtyp: i64, flags: i32) -> R {
        if id < 0 || bufsz > i64::MAX as usize {
            return Err(EINVAL);
        }
        let copy = flags & MSG_COPY != 0;
        if copy && flags & MSG_EXCEPT != 0 {
            return Err(EINVAL);
        }
        let cred = &self.actors[actor].cred;
        let (perm, q) = self.msg.get_mut(id)?;
        check(cred, perm, READ)?;
        // find_msg
        let at = if copy {
            usize::try_from(msgtyp).ok().filter(|&i| i < q.msgs.len())
        } else if msgtyp == 0 {
            (!q.msgs.is_empty()).then_some(0)
        } else if msgtyp < 0 {
            let t = msgtyp.checked_neg().unwrap_or(i64::MAX);
            let low = q.msgs.iter().map(|m| m.0).filter(|&m| m <= t).min();
            low.and_then(|low| q.msgs.iter().position(|m| m.0 == low))
        } else if flags & MSG_EXCEPT != 0 {
            q.msgs.iter().position(|m| m.0 != msgtyp)
        } else {
            q.msgs.iter().position(|m| m.0 == msgtyp)
        };
        let at = at.ok_or(ENOMSG)?;
        let size = q.msgs[at].1.len();
        let noerror = flags & MSG_NOERROR != 0;
        if bufsz < size && !noerror {
            return Err(E2BIG);
        }
        if copy {
            // copy_msg refuses a message larger than the copy buffer (min(bufsz, msgmax)).
            if size > bufsz.min(MSGMAX) {
                return Err(EINVAL);
            }
            let (t, m) = &q.msgs[at];
            return Ok(Ret::Msg(*t, m.clone()));
        }
        let (t, mut m) = q.msgs.remove(at);
        q.lrpid = Model::pid(actor);
        m.truncate(bufsz);
        Ok(Ret::Msg(t, m))
    }

    fn msg_ds(&self, id: i32) -> Stat {
        let (perm, q) = self.msg.get(id).expect("live");
        Stat::Msg {
            perm: *perm,
            qnum: q.msgs.len() as u64,
            cbytes: q.cbytes(),
            qbytes: q.qbytes,
            lspid: q.lspid,
            lrpid: q.lrpid,
        }
    }

    fn msg_stat(&self, actor: usize, id: i32) -> R {
        let (perm, _) = self.msg.get(id)?;
        check(&self.actors[actor].cred, perm, READ)?;
        Ok(Ret::Stat(self.msg_ds(id)))
    }

    fn msg_set(&mut self, actor: usize, id: i32, uid: u32, gid: u32, mode: u32, qbytes: u64) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, q) = self.msg.get_mut(id)?;
        check_owner(cred, perm)?;
        if qbytes > MSGMNB && !cred.has(CAP_SYS_RESOURCE) {
            return Err(EPERM);
        }
        update_perm(perm, uid, gid, mode)?;
        q.qbytes = qbytes;
        Ok(Ret::Val(0))
    }

    fn msg_rmid(&mut self, actor: usize, id: i32) -> R {
        let (perm, _) = self.msg.get(id)?;
        check_owner(&self.actors[actor].cred, perm)?;
        self.msg.remove(id);
        Ok(Ret::Val(0))
    }

    fn msg_info(&self) -> Info {
        let msgs = self.msg.objs.values().map(|(_, q)| q.msgs.len() as u64).sum();
        let bytes = self.msg.objs.values().map(|(_, q)| q.cbytes()).sum();
        Info { max_index: self.msg.max_index(), objects: self.msg.objs.len() as u64, units: msgs, bytes }
    }

    // ----- semaphore sets -----

    fn sem_get(&mut self, actor: usize, key: i32, nsems: i32, flags: i32) -> R {
        if !(0..=SEMMSL).contains(&nsems) {
            return Err(EINVAL);
        }
        let cred = self.actors[actor].cred.clone();
        let more = |s: &Sems| if nsems as usize > s.vals.len() { Err(EINVAL) } else { Ok(()) };
        if let Some(id) = Model::lookup_key(&self.sem, &cred, key, flags, more)? {
            return Ok(Ret::Val(id as i64));
        }
        if nsems == 0 {
            return Err(EINVAL);
        }
        if self.used_sems + nsems as u64 > SEMMNS {
            return Err(ENOSPC);
        }
        let n = nsems as usize;
        let s = Sems { vals: vec![0; n], pids: vec![0; n] };
        let id = self.sem.add(SEMMNI, key, &cred, flags as u32, s)?;
        self.used_sems += nsems as u64;
        Ok(Ret::Val(id as i64))
    }

    fn sem_op(&mut self, actor: usize, id: i32, sops: &[(u16, i16, i16)]) -> R {
        if sops.len() > SEMOPM {
            return Err(E2BIG);
        }
        if sops.is_empty() || id < 0 {
            return Err(EINVAL);
        }
        let undos = sops.iter().any(|s| s.2 & SEM_UNDO as i16 != 0);
        let pid = Model::pid(actor);
        let (perm, s) = self.sem.get(id)?;
        let nsems = s.vals.len();
        if sops.iter().any(|s| s.0 as usize >= nsems) {
            return Err(EFBIG);
        }
        let alter = sops.iter().any(|s| s.1 != 0);
        check(&self.actors[actor].cred, perm, if alter { WRITE } else { READ })?;
        // perform_atomic_semop, on copies: the sops in array order, each seeing the values
        // the earlier ones left.
        let mut vals: Vec<i32> = s.vals.iter().map(|&v| v as i32).collect();
        let mut adj = self.actors[actor].undo.get(&id).cloned().unwrap_or_else(|| vec![0; nsems]);
        for &(num, op, flg) in sops {
            let (n, op) = (num as usize, op as i32);
            if op == 0 && vals[n] != 0 || vals[n] + op < 0 {
                return Err(EAGAIN);
            }
            if vals[n] + op > SEMVMX {
                return Err(ERANGE);
            }
            if flg & SEM_UNDO as i16 != 0 {
                let undo = adj[n] - op;
                if !(-SEMVMX - 1..=SEMVMX).contains(&undo) {
                    return Err(ERANGE);
                }
                adj[n] = undo;
            }
            vals[n] += op;
        }
        let (_, s) = self.sem.get_mut(id)?;
        for (v, n) in s.vals.iter_mut().zip(vals) {
            *v = n as u16;
        }
        for &(num, _, _) in sops {
            s.pids[num as usize] = pid;
        }
        if undos {
            self.actors[actor].undo.insert(id, adj);
        }
        Ok(Ret::Val(0))
    }

    /// GETVAL, GETPID, GETNCNT, GETZCNT: EINVAL(id) → EACCES(read) → EINVAL(semnum).
    fn sem_get_one(&self, actor: usize, id: i32, num: i32, f: impl Fn(&Sems, usize) -> i64) -> R {
        let (perm, s) = self.sem.get(id)?;
        check(&self.actors[actor].cred, perm, READ)?;
        let n = usize::try_from(num).ok().filter(|&n| n < s.vals.len()).ok_or(EINVAL)?;
        Ok(Ret::Val(f(s, n)))
    }

    fn sem_get_all(&self, actor: usize, id: i32) -> R {
        let (perm, s) = self.sem.get(id)?;
        check(&self.actors[actor].cred, perm, READ)?;
        Ok(Ret::Vals(s.vals.clone()))
    }

    /// SETVAL and SETALL zero the semaphores' semadj in every process.
    fn zero_adj(&mut self, id: i32, num: Option<usize>) {
        for a in &mut self.actors {
            if let Some(adj) = a.undo.get_mut(&id) {
                match num {
                    Some(n) => adj[n] = 0,
                    None => adj.iter_mut().for_each(|v| *v = 0),
                }
            }
        }
    }

    fn sem_set_val(&mut self, actor: usize, id: i32, num: i32, val: i32) -> R {
        if id < 0 {
            return Err(EINVAL);
        }
        if !(0..=SEMVMX).contains(&val) {
            return Err(ERANGE);
        }
        let cred = &self.actors[actor].cred;
        let (perm, s) = self.sem.get_mut(id)?;
        let n = usize::try_from(num).ok().filter(|&n| n < s.vals.len()).ok_or(EINVAL)?;
        check(cred, perm, WRITE)?;
        s.vals[n] = val as u16;
        s.pids[n] = Model::pid(actor);
        self.zero_adj(id, Some(n));
        Ok(Ret::Val(0))
    }

    fn sem_set_all(&mut self, actor: usize, id: i32, vals: &[u16]) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, s) = self.sem.get_mut(id)?;
        check(cred, perm, WRITE)?;
        if vals.iter().any(|&v| v as i32 > SEMVMX) {
            return Err(ERANGE);
        }
        if vals.len() != s.vals.len() {
            return Err(EINVAL);
        }
        s.vals = vals.to_vec();
        s.pids.iter_mut().for_each(|p| *p = Model::pid(actor));
        self.zero_adj(id, None);
        Ok(Ret::Val(0))
    }

    fn sem_ds(&self, id: i32) -> Stat {
        let (perm, s) = self.sem.get(id).expect("live");
        Stat::Sem { perm: *perm, nsems: s.vals.len() as u64 }
    }

    fn sem_stat(&self, actor: usize, id: i32) -> R {
        let (perm, _) = self.sem.get(id)?;
        check(&self.actors[actor].cred, perm, READ)?;
        Ok(Ret::Stat(self.sem_ds(id)))
    }

    fn sem_set(&mut self, actor: usize, id: i32, uid: u32, gid: u32, mode: u32) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, _) = self.sem.get_mut(id)?;
        check_owner(cred, perm)?;
        update_perm(perm, uid, gid, mode)?;
        Ok(Ret::Val(0))
    }

    fn sem_rmid(&mut self, actor: usize, id: i32) -> R {
        let (perm, _) = self.sem.get(id)?;
        check_owner(&self.actors[actor].cred, perm)?;
        let (_, s) = self.sem.remove(id);
        self.used_sems -= s.vals.len() as u64;
        for a in &mut self.actors {
            a.undo.remove(&id);
        }
        Ok(Ret::Val(0))
    }

    fn sem_info(&self) -> Info {
        Info {
            max_index: self.sem.max_index(),
            objects: self.sem.objs.len() as u64,
            units: self.used_sems,
            bytes: 0,
        }
    }

    // ----- shared memory -----

    fn shm_tot(&self) -> u64 {
        self.shm.objs.values().map(|(_, s)| s.pages()).sum()
    }

    fn shm_get(&mut self, actor: usize, key: i32, size: usize, flags: i32) -> R {
        let cred = self.actors[actor].cred.clone();
        let more = |s: &Seg| if size as u64 > s.segsz { Err(EINVAL) } else { Ok(()) };
        if let Some(id) = Model::lookup_key(&self.shm, &cred, key, flags, more)? {
            return Ok(Ret::Val(id as i64));
        }
        // newseg
        let size = size as u64;
        if size < SHMMIN as u64 || size > SHMMAX {
            return Err(EINVAL);
        }
        let pages = size.div_ceil(PAGE);
        if self.shm_tot().checked_add(pages).is_none_or(|t| t > SHMALL) {
            return Err(ENOSPC);
        }
        let seg = Seg { segsz: size, nattch: 0, cpid: Model::pid(actor), lpid: 0, creator: Some(actor) };
        self.shm.add(SHMMNI, key, &cred, flags as u32, seg).map(|id| Ret::Val(id as i64))
    }

    fn shm_at(&mut self, actor: usize, id: i32, flags: i32) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, seg) = self.shm.get_mut(id)?;
        check(cred, perm, if flags & SHM_RDONLY != 0 { READ } else { READ | WRITE })?;
        seg.nattch += 1;
        seg.lpid = Model::pid(actor);
        let a = &mut self.actors[actor];
        let token = a.next_token;
        a.next_token += 1;
        a.attached.insert(token, id);
        Ok(Ret::Val(token as i64))
    }

    fn shm_dt(&mut self, actor: usize, token: u64) -> R {
        let id = self.actors[actor].attached.remove(&token).ok_or(EINVAL)?;
        let (perm, seg) = self.shm.get_mut(id).expect("an attached segment is live");
        seg.nattch -= 1;
        seg.lpid = Model::pid(actor);
        // shm_may_destroy
        if seg.nattch == 0 && (perm.mode & SHM_DEST != 0 || self.shm_rmid_forced) {
            self.shm.remove(id);
        }
        Ok(Ret::Val(0))
    }

    fn shm_ds(&self, id: i32) -> Stat {
        let (perm, s) = self.shm.get(id).expect("live");
        Stat::Shm { perm: *perm, segsz: s.segsz, nattch: s.nattch, cpid: s.cpid, lpid: s.lpid }
    }

    fn shm_stat(&self, actor: usize, id: i32) -> R {
        let (perm, _) = self.shm.get(id)?;
        check(&self.actors[actor].cred, perm, READ)?;
        Ok(Ret::Stat(self.shm_ds(id)))
    }

    fn shm_set(&mut self, actor: usize, id: i32, uid: u32, gid: u32, mode: u32) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, _) = self.shm.get_mut(id)?;
        check_owner(cred, perm)?;
        update_perm(perm, uid, gid, mode)?;
        Ok(Ret::Val(0))
    }

    /// `do_shm_rmid`: attached, it is marked `SHM_DEST` and its key made private; else it goes.
    fn shm_rmid(&mut self, actor: usize, id: i32) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, seg) = self.shm.get_mut(id)?;
        check_owner(cred, perm)?;
        if seg.nattch > 0 {
            perm.mode |= SHM_DEST;
            perm.key = 0;
        } else {
            self.shm.remove(id);
        }
        Ok(Ret::Val(0))
    }

    fn shm_lock(&mut self, actor: usize, id: i32, lock: bool) -> R {
        let cred = &self.actors[actor].cred;
        let (perm, _) = self.shm.get_mut(id)?;
        if !cred.has(CAP_IPC_LOCK) && cred.uid != perm.uid && cred.uid != perm.cuid {
            return Err(EPERM);
        }
        if lock {
            perm.mode |= SHM_LOCKED;
        } else {
            perm.mode &= !SHM_LOCKED;
        }
        Ok(Ret::Val(0))
    }

    fn shm_info(&self) -> Info {
        Info {
            max_index: self.shm.max_index(),
            objects: self.shm.objs.len() as u64,
            units: self.shm_tot(),
            bytes: 0,
        }
    }
}
