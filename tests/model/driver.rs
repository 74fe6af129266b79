//! The svipc side of the reference model: [`Driver`] runs the same [`Call`]s against svipc,
//! one `svipc::Process` per actor (same credentials, same pid as [`Model::pid`]), and answers
//! in the model's [`Ret`]; [`Driver::state`] reads svipc's observable state as a [`State`].
//! What property tests, the permission matrix, the fuzz target and the linearizability
//! harness all call; see `mod.rs` for how to include it.
//!
//! How a raw call becomes an svipc call:
//!
//! * Calls on an id open it with the actor's `*_by_id`. An id that names no live object
//!   (stale, never handed out, negative) is served by a **dead handle**: one of a queue, a
//!   set and a segment made and removed in a scratch namespace at start. svipc's argument
//!   checks that the kernel makes before its lookup (semop's `E2BIG`, `SETVAL`'s `ERANGE`,
//!   msgsnd's `msgsz`/`mtype` `EINVAL`) then run as they would on any removed object, and
//!   the lookup's `EINVAL` follows. `SETVAL` on a negative id is `EINVAL` at once (the
//!   kernel checks `semid < 0` before the value; a handle has no id below 0 to check).
//! * `IPC_NOWAIT` everywhere: `try_send`, `try_recv_limited`, `try_semop`, `peek_limited`.
//! * `MSG_COPY` is `peek_limited` at position `msgtyp` (a negative position is
//!   `usize::MAX`, out of range); `MSG_COPY | MSG_EXCEPT` goes to `Select::from_raw`, which
//!   refuses `MSG_COPY` with `EINVAL`.
//! * A `semnum` outside `u16` becomes `u16::MAX` (no set has that many semaphores, as no set
//!   has a negative one); a negative `nsems` becomes a huge `usize` (above `SEMMSL`).
//! * shmat keeps the guard under the actor's next token; shmdt drops it; an unknown token is
//!   `EINVAL` (C's shmdt of an address with no attachment).
//! * Exit drops the actor's guards and its `Process` (its last clone: the exit, which runs
//!   svipc's `exit_shm`), then makes a new `Process` with the same credentials.
//! * The sysctl writes are the namespace's: `*_next_id` is `Namespace::set_next_id`,
//!   `shm_rmid_forced` is `Namespace::set_shm_rmid_forced`; [`Driver::state`] reads them
//!   back with `Namespace::next_id` and `Namespace::shm_rmid_forced`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use svipc::c;
use svipc::msg::Limit;
use svipc::msg::MsqidSet;
use svipc::shm::{Attached, AttachedMut};
use svipc::{
    Capabilities, Credentials, IpcKind, Key, MessageQueue, Namespace, Process, Segment, Select, SemOp,
    SemaphoreSet,
};

use super::{
    Call, Cred, Info, ObjState, Perm, Ret, Stat, State, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_ADMIN,
    CAP_SYS_RESOURCE, EINVAL, IPC_CREAT, IPC_EXCL, MSG_COPY, MSG_EXCEPT, MSG_NOERROR, SHM_RDONLY,
};

type Queue = MessageQueue<Vec<u8>>;

/// svipc's credentials for a model actor.
pub fn credentials(actor: usize, cred: &Cred) -> Credentials {
    let mut caps = Capabilities::NONE;
    for (bit, cap) in [
        (CAP_IPC_OWNER, Capabilities::IPC_OWNER),
        (CAP_SYS_ADMIN, Capabilities::SYS_ADMIN),
        (CAP_SYS_RESOURCE, Capabilities::SYS_RESOURCE),
        (CAP_IPC_LOCK, Capabilities::IPC_LOCK),
    ] {
        if cred.has(bit) {
            caps = caps | cap;
        }
    }
    Credentials::new(cred.uid, cred.gid)
        .with_pid(super::Model::pid(actor))
        .with_groups(cred.groups.iter().copied())
        .with_capabilities(caps)
}

enum Guard {
    Rw(#[allow(dead_code)] AttachedMut),
    Ro(#[allow(dead_code)] Attached),
}

struct Actor {
    creds: Credentials,
    process: Process,
    attached: BTreeMap<u64, Guard>,
    next_token: u64,
}

/// Handles of removed objects, for calls on ids that name nothing (see the module docs).
struct Dead {
    msg: Queue,
    sem: SemaphoreSet,
    shm: Segment,
}

/// svipc, driven by model calls.
pub struct Driver {
    ns: Namespace,
    /// Reads the state: uid 0 with every capability, pid 1, never a caller.
    reader: Process,
    actors: Vec<Actor>,
    dead: Dead,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("ns", &self.ns).field("actors", &self.actors.len()).finish()
    }
}

fn err(e: svipc::Error) -> i32 {
    e.errno()
}

fn unit(r: Result<(), svipc::Error>) -> Result<Ret, i32> {
    r.map(|()| Ret::Val(0)).map_err(err)
}

fn int(r: Result<i32, svipc::Error>) -> Result<Ret, i32> {
    r.map(|v| Ret::Val(v as i64)).map_err(err)
}

fn perm(p: &svipc::IpcPerm) -> Perm {
    Perm { key: p.key.raw(), uid: p.uid, gid: p.gid, cuid: p.cuid, cgid: p.cgid, mode: p.mode, seq: p.seq }
}

impl Default for Driver {
    fn default() -> Driver {
        Driver::new()
    }
}

impl Driver {
    /// A fresh namespace with no actors.
    pub fn new() -> Driver {
        let scratch = Namespace::new();
        let root = scratch.process(Credentials::new(0, 0));
        let msg = root.msg_queue::<Vec<u8>>(Key::PRIVATE).create(0o600).open().expect("scratch queue");
        let sem = root.sem_set(Key::PRIVATE).nsems(1).create(0o600).open().expect("scratch set");
        let shm = root.shm_segment(Key::PRIVATE).size(1).create(0o600).open().expect("scratch segment");
        msg.remove().expect("remove scratch queue");
        sem.remove().expect("remove scratch set");
        shm.remove().expect("remove scratch segment");
        let ns = Namespace::new();
        let reader = ns.process(Credentials::new(0, 0).with_pid(1));
        Driver { ns, reader, actors: Vec::new(), dead: Dead { msg, sem, shm } }
    }

    /// The namespace the actors live in.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Adds an actor; the same numbering as [`Model::add_actor`](super::Model::add_actor).
    pub fn add_actor(&mut self, cred: &Cred) -> usize {
        let n = self.actors.len();
        let creds = credentials(n, cred);
        let process = self.ns.process(creds.clone());
        self.actors.push(Actor { creds, process, attached: BTreeMap::new(), next_token: 1 });
        n
    }

    /// The actor's `Process`.
    pub fn process(&self, actor: usize) -> &Process {
        &self.actors[actor].process
    }

    fn queue(&self, actor: usize, id: i32) -> Queue {
        self.actors[actor].process.msg_queue_by_id(id).unwrap_or_else(|_| self.dead.msg.clone())
    }

    fn set(&self, actor: usize, id: i32) -> SemaphoreSet {
        self.actors[actor].process.sem_set_by_id(id).unwrap_or_else(|_| self.dead.sem.clone())
    }

    fn segment(&self, actor: usize, id: i32) -> Segment {
        self.actors[actor].process.shm_segment_by_id(id).unwrap_or_else(|_| self.dead.shm.clone())
    }

    /// Runs `call` as `actor` against svipc.
    pub fn apply(&mut self, actor: usize, call: &Call) -> Ret {
        self.run(actor, call).unwrap_or_else(Ret::Err)
    }

    fn run(&mut self, actor: usize, call: &Call) -> Result<Ret, i32> {
        let me = self.actors[actor].process.clone();
        let id = |r: Result<i32, svipc::Error>| r.map(|id| Ret::Val(id as i64)).map_err(err);
        let mode = |flags: i32| flags as u32 & 0o777;
        // C's `int` arguments into svipc's `u16`s: a value no `u16` holds becomes one the
        // call refuses in the same way (`u16::MAX` is beyond `SEMMSL`, any set and `SEMVMX`).
        let num = |n: i32| u16::try_from(n).unwrap_or(u16::MAX);
        match call {
            Call::MsgGet { key, flags } => {
                let mut o = me.msg_queue::<Vec<u8>>(Key::new(*key)).mode(mode(*flags));
                // C's IPC_PRIVATE creates with or without IPC_CREAT; svipc asks for `create`.
                if flags & IPC_CREAT != 0 || *key == 0 {
                    o = o.create(mode(*flags));
                }
                if flags & IPC_EXCL != 0 {
                    o = o.exclusive();
                }
                id(o.open().map(|q| q.id()))
            }
            Call::MsgSnd { id, mtype, msg } => self
                .queue(actor, *id)
                .try_send(*mtype, msg.clone())
                .map(|()| Ret::Val(0))
                .map_err(|e| e.error().errno()),
            Call::MsgRcv { id, bufsz, msgtyp, flags } => {
                let q = self.queue(actor, *id);
                let limit = if flags & MSG_NOERROR != 0 {
                    Limit::bytes(*bufsz).no_error()
                } else {
                    Limit::bytes(*bufsz)
                };
                if flags & MSG_COPY != 0 && flags & MSG_EXCEPT == 0 {
                    let at = usize::try_from(*msgtyp).unwrap_or(usize::MAX);
                    return q.peek_limited(at, limit).map(|(t, m)| Ret::Msg(t, m)).map_err(err);
                }
                let sel = Select::from_raw(*msgtyp, flags & (MSG_EXCEPT | MSG_COPY)).map_err(err)?;
                q.try_recv_limited(sel, limit).map(|(t, m)| Ret::Msg(t, m)).map_err(err)
            }
            Call::MsgStat { id } => {
                self.queue(actor, *id).stat().map(|ds| Ret::Stat(msg_stat(&ds))).map_err(err)
            }
            Call::MsgSet { id, uid, gid, mode, qbytes } => unit(self.queue(actor, *id).set(MsqidSet {
                uid: *uid,
                gid: *gid,
                mode: *mode,
                qbytes: *qbytes,
            })),
            Call::MsgRmid { id } => unit(self.queue(actor, *id).remove()),
            Call::MsgInfo => Ok(Ret::Info(self.msg_info())),
            Call::SemGet { key, nsems, flags } => {
                let mut o = me.sem_set(Key::new(*key)).nsems(num(*nsems)).mode(mode(*flags));
                // C's IPC_PRIVATE creates with or without IPC_CREAT; svipc asks for `create`.
                if flags & IPC_CREAT != 0 || *key == 0 {
                    o = o.create(mode(*flags));
                }
                if flags & IPC_EXCL != 0 {
                    o = o.exclusive();
                }
                id(o.open().map(|s| s.id()))
            }
            Call::SemOp { id, sops } => {
                let ops: Vec<SemOp> = sops.iter().map(|&(n, op, flg)| SemOp::from_raw(n, op, flg)).collect();
                unit(self.set(actor, *id).try_semop(&ops))
            }
            Call::SemGetVal { id, num: n } => int(self.set(actor, *id).get_val(num(*n)).map(i32::from)),
            Call::SemGetPid { id, num: n } => int(self.set(actor, *id).get_pid(num(*n))),
            Call::SemGetNcnt { id, num: n } => int(self.set(actor, *id).get_ncnt(num(*n)).map(|c| c as i32)),
            Call::SemGetZcnt { id, num: n } => int(self.set(actor, *id).get_zcnt(num(*n)).map(|c| c as i32)),
            Call::SemGetAll { id } => self.set(actor, *id).get_all().map(Ret::Vals).map_err(err),
            Call::SemSetVal { id, num: n, val } => {
                if *id < 0 {
                    return Err(EINVAL);
                }
                unit(self.set(actor, *id).set_val(num(*n), num(*val)))
            }
            Call::SemSetAll { id, vals } => unit(self.set(actor, *id).set_all(vals)),
            Call::SemStat { id } => {
                self.set(actor, *id).stat().map(|ds| Ret::Stat(sem_stat(&ds))).map_err(err)
            }
            Call::SemSet { id, uid, gid, mode } => unit(self.set(actor, *id).set(*uid, *gid, *mode)),
            Call::SemRmid { id } => unit(self.set(actor, *id).remove()),
            Call::SemInfo => Ok(Ret::Info(self.sem_info())),
            Call::ShmGet { key, size, flags } => {
                let mut o = me.shm_segment(Key::new(*key)).size(*size).mode(mode(*flags));
                // C's IPC_PRIVATE creates with or without IPC_CREAT; svipc asks for `create`.
                if flags & IPC_CREAT != 0 || *key == 0 {
                    o = o.create(mode(*flags));
                }
                if flags & IPC_EXCL != 0 {
                    o = o.exclusive();
                }
                id(o.open().map(|s| s.id()))
            }
            Call::ShmAt { id, flags } => {
                let seg = self.segment(actor, *id);
                let g = if flags & SHM_RDONLY != 0 {
                    seg.attach_read_only().map(Guard::Ro)
                } else {
                    seg.attach().map(Guard::Rw)
                };
                let g = g.map_err(err)?;
                let a = &mut self.actors[actor];
                let token = a.next_token;
                a.next_token += 1;
                a.attached.insert(token, g);
                Ok(Ret::Val(token as i64))
            }
            Call::ShmDt { token } => {
                let g = self.actors[actor].attached.remove(token).ok_or(EINVAL)?;
                drop(g);
                Ok(Ret::Val(0))
            }
            Call::ShmStat { id } => {
                self.segment(actor, *id).stat().map(|ds| Ret::Stat(shm_stat(&ds))).map_err(err)
            }
            Call::ShmSet { id, uid, gid, mode } => unit(self.segment(actor, *id).set(*uid, *gid, *mode)),
            Call::ShmRmid { id } => unit(self.segment(actor, *id).remove()),
            Call::ShmLock { id } => unit(self.segment(actor, *id).lock()),
            Call::ShmUnlock { id } => unit(self.segment(actor, *id).unlock()),
            Call::ShmInfo => Ok(Ret::Info(self.shm_info())),
            // The calls only the C layer has, made through it.
            Call::StatIndex { kind, index, any } => c_stat_index(&me, *kind, *index, *any),
            Call::IpcInfo { kind } => c_ipc_info(&me, *kind),
            Call::Exit => {
                drop(me);
                self.exit(actor);
                Ok(Ret::Val(0))
            }
            Call::SetNextId { kind, id } => {
                self.ns.set_next_id(ipc_kind(*kind), *id).map(|()| Ret::Val(0)).map_err(err)
            }
            Call::SetShmRmidForced { on } => {
                self.ns.set_shm_rmid_forced(*on);
                Ok(Ret::Val(0))
            }
        }
    }

    /// The actor's process exits: its guards and its `Process` drop (the last clones), and a
    /// new `Process` with the same credentials takes its place.
    pub fn exit(&mut self, actor: usize) {
        let a = &mut self.actors[actor];
        let guards = std::mem::take(&mut a.attached);
        drop(guards);
        let fresh = self.ns.process(a.creds.clone());
        let old = std::mem::replace(&mut a.process, fresh);
        drop(old);
    }

    fn msg_info(&self) -> Info {
        let i = self.ns.msg_info();
        Info { max_index: i.max_index, objects: i.msgpool as u64, units: i.msgmap, bytes: i.msgtql }
    }

    fn sem_info(&self) -> Info {
        let i = self.ns.sem_info();
        Info { max_index: i.max_index, objects: i.semusz as u64, units: i.semaem, bytes: 0 }
    }

    fn shm_info(&self) -> Info {
        let i = self.ns.shm_info();
        Info { max_index: i.max_idx, objects: i.used_ids as u64, units: i.shm_tot, bytes: 0 }
    }

    /// svipc's observable state in the model's terms: every object the listing shows, read
    /// through a privileged reader (stat, every queued message by `peek`, values, pids and
    /// counts), and the three `*_INFO` answers.
    pub fn state(&self) -> State {
        let mut objects = BTreeMap::new();
        let r = &self.reader;
        for e in self.ns.ipcs().entries() {
            let id = e.id;
            let o = match e.kind {
                IpcKind::MessageQueue => {
                    let q = r.msg_queue_by_id::<Vec<u8>>(id).expect("listed queue");
                    let msgs = (0..).map_while(|i| q.peek(i).ok()).collect();
                    ((0, id), ObjState::Msg { stat: msg_stat(&q.stat().expect("stat")), msgs })
                }
                IpcKind::SemaphoreSet => {
                    let s = r.sem_set_by_id(id).expect("listed set");
                    let n = s.nsems();
                    let each = |f: &dyn Fn(u16) -> Result<i32, svipc::Error>| {
                        (0..n).map(|i| f(i).expect("semctl")).collect::<Vec<i32>>()
                    };
                    let st = ObjState::Sem {
                        stat: sem_stat(&s.stat().expect("stat")),
                        vals: s.get_all().expect("getall"),
                        pids: each(&|i| s.get_pid(i)),
                        ncnt: each(&|i| s.get_ncnt(i).map(|c| c as i32)),
                        zcnt: each(&|i| s.get_zcnt(i).map(|c| c as i32)),
                    };
                    ((1, id), st)
                }
                IpcKind::SharedMemory => {
                    let s = r.shm_segment_by_id(id).expect("listed segment");
                    ((2, id), ObjState::Shm { stat: shm_stat(&s.stat().expect("stat")) })
                }
            };
            objects.insert(o.0, o.1);
        }
        State {
            objects,
            msg_info: self.msg_info(),
            sem_info: self.sem_info(),
            shm_info: self.shm_info(),
            next_id: [0, 1, 2].map(|kind| self.ns.next_id(ipc_kind(kind))),
            shm_rmid_forced: self.ns.shm_rmid_forced(),
        }
    }
}

/// The model's kind number (0 msg, 1 sem, 2 shm) as svipc's `IpcKind`.
fn ipc_kind(kind: u8) -> IpcKind {
    match kind {
        0 => IpcKind::MessageQueue,
        1 => IpcKind::SemaphoreSet,
        _ => IpcKind::SharedMemory,
    }
}

fn c_perm(p: &c::ipc_perm) -> Perm {
    Perm {
        key: p.__key,
        uid: p.uid,
        gid: p.gid,
        cuid: p.cuid,
        cgid: p.cgid,
        mode: p.mode,
        seq: u32::from(p.__seq),
    }
}

/// `MSG_STAT`, `SEM_STAT`, `SHM_STAT` (or their `_ANY` forms) through `svipc::c`.
fn c_stat_index(me: &Process, kind: u8, index: i32, any: bool) -> Result<Ret, i32> {
    match kind {
        0 => {
            let mut ds = c::msqid_ds::default();
            let cmd = if any { c::MSG_STAT_ANY } else { c::MSG_STAT };
            let id = me.msgctl(index, cmd, c::MsgctlBuf::Ds(&mut ds)).map_err(err)?;
            let stat = Stat::Msg {
                perm: c_perm(&ds.msg_perm),
                qnum: ds.msg_qnum,
                cbytes: ds.msg_cbytes,
                qbytes: ds.msg_qbytes,
                lspid: ds.msg_lspid,
                lrpid: ds.msg_lrpid,
            };
            Ok(Ret::StatAt(id, stat))
        }
        1 => {
            let mut ds = c::semid_ds::default();
            let cmd = if any { c::SEM_STAT_ANY } else { c::SEM_STAT };
            let id = me.semctl(index, 0, cmd, c::semun::Buf(&mut ds)).map_err(err)?;
            Ok(Ret::StatAt(id, Stat::Sem { perm: c_perm(&ds.sem_perm), nsems: ds.sem_nsems }))
        }
        _ => {
            let mut ds = c::shmid_ds::default();
            let cmd = if any { c::SHM_STAT_ANY } else { c::SHM_STAT };
            let id = me.shmctl(index, cmd, c::ShmctlBuf::Ds(&mut ds)).map_err(err)?;
            let stat = Stat::Shm {
                perm: c_perm(&ds.shm_perm),
                segsz: ds.shm_segsz as u64,
                nattch: ds.shm_nattch,
                cpid: ds.shm_cpid,
                lpid: ds.shm_lpid,
            };
            Ok(Ret::StatAt(id, stat))
        }
    }
}

/// `IPC_INFO` through `svipc::c`.
fn c_ipc_info(me: &Process, kind: u8) -> Result<Ret, i32> {
    let n = |v: i32| v as u64;
    match kind {
        0 => {
            let mut i = c::msginfo::default();
            let r = me.msgctl(0, c::IPC_INFO, c::MsgctlBuf::Info(&mut i)).map_err(err)?;
            let f =
                [i.msgpool, i.msgmap, i.msgmax, i.msgmnb, i.msgmni, i.msgssz, i.msgtql, i32::from(i.msgseg)];
            Ok(Ret::Limits(r, f.into_iter().map(n).collect()))
        }
        1 => {
            let mut i = c::seminfo::default();
            let r = me.semctl(0, 0, c::IPC_INFO, c::semun::Info(&mut i)).map_err(err)?;
            let f = [
                i.semmap, i.semmni, i.semmns, i.semmnu, i.semmsl, i.semopm, i.semume, i.semusz, i.semvmx,
                i.semaem,
            ];
            Ok(Ret::Limits(r, f.into_iter().map(n).collect()))
        }
        _ => {
            let mut i = c::shminfo::default();
            let r = me.shmctl(0, c::IPC_INFO, c::ShmctlBuf::Info(&mut i)).map_err(err)?;
            Ok(Ret::Limits(r, vec![i.shmmax, i.shmmin, i.shmmni, i.shmseg, i.shmall]))
        }
    }
}

fn msg_stat(ds: &svipc::msg::MsqidDs) -> Stat {
    Stat::Msg {
        perm: perm(&ds.perm),
        qnum: ds.qnum,
        cbytes: ds.cbytes,
        qbytes: ds.qbytes,
        lspid: ds.lspid,
        lrpid: ds.lrpid,
    }
}

fn sem_stat(ds: &svipc::sem::SemidDs) -> Stat {
    Stat::Sem { perm: perm(&ds.perm), nsems: u64::from(ds.nsems) }
}

fn shm_stat(ds: &svipc::shm::ShmidDs) -> Stat {
    Stat::Shm {
        perm: perm(&ds.shm_perm),
        segsz: ds.shm_segsz as u64,
        nattch: ds.shm_nattch,
        cpid: ds.shm_cpid,
        lpid: ds.shm_lpid,
    }
}

/// The model and svipc side by side: every call goes to both, and the answers must agree.
#[derive(Debug, Default)]
pub struct Both {
    pub model: super::Model,
    pub driver: Driver,
    /// The calls so far, for failure messages: `(actor, call)`.
    pub log: Vec<(usize, Call)>,
}

impl Both {
    pub fn new() -> Both {
        Both::default()
    }

    /// Adds the same actor to both.
    pub fn add_actor(&mut self, cred: Cred) -> usize {
        let d = self.driver.add_actor(&cred);
        let m = self.model.add_actor(cred);
        assert_eq!(d, m);
        m
    }

    /// Runs `call` on both; panics (with the calls so far) if the answers differ. Returns the
    /// answer.
    pub fn apply(&mut self, actor: usize, call: &Call) -> Ret {
        self.log.push((actor, call.clone()));
        let m = self.model.apply(actor, call);
        let d = self.driver.apply(actor, call);
        assert_eq!(
            d,
            m,
            "step {}: actor {actor}: {call:?} (left svipc, right model); calls {:#?}",
            self.log.len() - 1,
            self.log
        );
        m
    }

    /// Panics (with the calls so far) if the observable states differ.
    pub fn check_state(&self) {
        let (d, m) = (self.driver.state(), self.model.state());
        if d != m {
            panic!(
                "after step {}: state differs\nsvipc: {d:#?}\nmodel: {m:#?}\ncalls {:#?}",
                self.log.len().saturating_sub(1),
                self.log
            );
        }
    }
}
