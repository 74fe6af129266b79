//! The fuzz target `calls` (issue 6, item 6): arbitrary bytes decoded into a sequence of System
//! V IPC calls from 1-4 actors with different credentials, each call run against svipc (the
//! driver of `tests/model/driver.rs`) and against the reference model of `tests/model/mod.rs`
//! side by side. It fails on any panic, on any call whose answer (value, message, errno)
//! differs, and on any step after which the observable state (every object's `IPC_STAT`
//! fields other than times, the queued messages, semaphore values and pids, the `*_INFO`
//! figures) differs.
//!
//! Run it through `scripts/fuzz.sh` (`build`, `replay`, `run SECONDS`, `cmin`); a crash
//! input replays with `cargo +nightly fuzz run calls fuzz/artifacts/calls/crash-…`; a
//! disagreement's panic message lists every call of the sequence.
//!
//! # How bytes become calls
//!
//! A small reader takes bytes in order and reads 0 once they run out, so every input is a
//! valid sequence and a longer one only adds calls. Byte 0 picks the number of actors, one
//! byte each picks its credentials from [`creds`]. Then each step reads an actor, a call kind
//! (weighted by repetition in [`KINDS`]) and the call's arguments. Arguments come mostly from
//! tables of the values that matter (boundaries, the few keys, modes, uids in play) and
//! sometimes raw, so the errno paths stay reachable without the fuzzer having to guess them.
//! Ids come mostly from those the model has handed out (live or removed since, so stale ids
//! recur), sometimes from another kind's, sometimes with the sequence bumped, sometimes raw.
//! shmdt takes mostly the actor's live attachment tokens. `*_STAT` by index takes mostly a
//! slot some object held. The namespace's settings are calls too: a `*_next_id` write takes
//! a value from [`NEXT_IDS`] or an id handed out before (so a removed object's id can be
//! asked for again), and `shm_rmid_forced` goes on and off, so exits and detaches destroy
//! segments. At most [`MAX_STEPS`] calls.
#![no_main]

#[path = "../../tests/model/mod.rs"]
mod model;

use libfuzzer_sys::fuzz_target;
use model::driver::Both;
use model::{
    cred_pool, Call, Cred, ObjState, Ret, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_SYS_RESOURCE,
    IPC_CREAT, IPC_EXCL, IPC_NOWAIT, MSG_COPY, MSG_EXCEPT, MSG_NOERROR, SEM_UNDO, SHM_RDONLY,
};

/// Calls per input, at most: enough to wrap the id allocator (64 slots) with room to spare.
const MAX_STEPS: usize = 192;

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut b = Bytes { data, pos: 0 };
    let mut both = Both::new();
    let pool = creds();
    let actors = 1 + b.u8() as usize % 4;
    for _ in 0..actors {
        both.add_actor(pool[b.u8() as usize % pool.len()].clone());
    }
    // Every id the model handed out, per kind (0 msg, 1 sem, 2 shm), removed ones included.
    let mut seen: [Vec<i32>; 3] = Default::default();
    for _ in 0..MAX_STEPS {
        if b.is_empty() {
            break;
        }
        let actor = b.u8() as usize % actors;
        let call = decode(&mut b, &both, actor, &seen);
        let ret = both.apply(actor, &call);
        if let Some((kind, id)) = handed_out(&call, &ret) {
            if !seen[kind].contains(&id) {
                seen[kind].push(id);
            }
        }
        both.check_state();
    }
}

/// The kind (0 msg, 1 sem, 2 shm) and id a successful get handed out.
fn handed_out(call: &Call, ret: &Ret) -> Option<(usize, i32)> {
    let kind = match call {
        Call::MsgGet { .. } => 0,
        Call::SemGet { .. } => 1,
        Call::ShmGet { .. } => 2,
        _ => return None,
    };
    match ret {
        Ret::Val(id) => Some((kind, *id as i32)),
        _ => None,
    }
}

// ===== the byte reader =====

struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte, or 0 once the input is used up.
    fn u8(&mut self) -> u8 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        (self.u32() as u64) | (self.u32() as u64) << 32
    }

    /// One of `table`, or (for a selector byte of 240 and up, one time in 16) `raw`.
    fn pick<T: Copy>(&mut self, table: &[T], raw: impl FnOnce(&mut Self) -> T) -> T {
        let s = self.u8();
        if s >= 240 {
            raw(self)
        } else {
            table[s as usize % table.len()]
        }
    }

    fn bit(&mut self, flag: i32) -> i32 {
        if self.u8() & 1 != 0 {
            flag
        } else {
            0
        }
    }
}

// ===== argument tables =====

/// The credentials actors are drawn from: the property tests' pool (`model::cred_pool`), and an
/// "other" user with each capability alone.
fn creds() -> Vec<Cred> {
    let mut pool = cred_pool();
    pool.extend(
        [CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_IPC_LOCK]
            .map(|cap| Cred::new(1005, 5000).caps(cap)),
    );
    pool
}

const KEYS: &[i32] = &[0, 1, 2, 3, 1, 2, 0x5eed];
const MODES: &[u32] =
    &[0o600, 0o666, 0o640, 0o660, 0o644, 0o400, 0o200, 0o040, 0o020, 0o004, 0o002, 0, 0o777, 0o606, 0o7777];
const OWNERS: &[u32] = &[0, 1000, 1001, 1002, 1003, 1004, 1005, 2000, 3000, 4000, 5, u32::MAX];
const MTYPES: &[i64] = &[1, 2, 3, 4, 1, 2, 0, -1, i64::MIN, i64::MAX];
const MSGTYPS: &[i64] = &[0, 1, 2, 3, 4, -1, -2, -3, -4, 0, 1, i64::MIN, i64::MAX, -i64::MAX];
const MSG_SIZES: &[usize] = &[0, 1, 2, 3, 5, 8, 100, 4000, 8192, 8193, 16384];
const BUF_SIZES: &[usize] = &[0, 1, 2, 4, 8, 100, 8192, 100_000, usize::MAX, i64::MAX as usize + 1];
const QBYTES: &[u64] = &[0, 1, 2, 3, 10, 100, 8192, 16384, 16385, 1 << 20, u64::MAX];
/// semget's nsems. `SEMMSL` itself (32000, the largest set) comes only through [`nsems`]'s
/// raw branch: reading the state of so large a set after every step costs ~100 times a call.
const NSEMS: &[i32] = &[1, 2, 3, 4, 1, 2, 0, -1, 8, 32001, i32::MIN];
const SEM_NUMS: &[u16] = &[0, 1, 2, 3, 0, 1, u16::MAX];
const SEM_OPS: &[i16] = &[1, -1, 0, 2, -2, 1, -1, 0, 3, i16::MAX, i16::MIN, -32767];
const SEMCTL_NUMS: &[i32] = &[0, 1, 2, 3, -1, 65535, 65536, i32::MAX];
const SEM_VALS: &[i32] = &[0, 1, 2, 3, 32767, 32768, -1, i32::MIN];
const SETALL_VALS: &[u16] = &[0, 1, 2, 3, 32767, 32768, u16::MAX];
/// Segment sizes. Kept small enough to map (and to `mlock` under `SHM_LOCK`) cheaply; the
/// largest mappable sizes are left out since a refused mapping is svipc's documented ENOMEM,
/// which the model does not know.
const SHM_SIZES: &[usize] = &[1, 10, 4095, 4096, 4097, 8192, 65536, 0, 1, 100];
/// `*_next_id` values: low slots of sequence 0 (often taken), one of a higher sequence, the
/// last slot, the largest id, the largest sequence, and -1 and `INT_MIN` (refused).
const NEXT_IDS: &[i32] = &[0, 1, 2, 3, 1 << 15 | 2, 32767, i32::MAX, 65535 << 15 | 1, -1, i32::MIN];

/// The call kinds, each repeated as often as it should be drawn.
#[derive(Clone, Copy)]
enum Kind {
    MsgGet,
    MsgSnd,
    MsgRcv,
    MsgStat,
    MsgSet,
    MsgRmid,
    MsgInfo,
    SemGet,
    SemOp,
    SemGetVal,
    SemGetPid,
    SemGetNcnt,
    SemGetZcnt,
    SemGetAll,
    SemSetVal,
    SemSetAll,
    SemStat,
    SemSet,
    SemRmid,
    SemInfo,
    ShmGet,
    ShmAt,
    ShmDt,
    ShmStat,
    ShmSet,
    ShmRmid,
    ShmLock,
    ShmUnlock,
    ShmInfo,
    /// `*_STAT` / `*_STAT_ANY` by slot index (through `svipc::c` on the driver's side).
    StatIndex,
    /// `IPC_INFO` (through `svipc::c`).
    IpcInfo,
    Exit,
    /// A `kernel.{msg,sem,shm}_next_id` write.
    SetNextId,
    /// A `kernel.shm_rmid_forced` write.
    SetShmRmidForced,
}

#[rustfmt::skip]
const KINDS: &[Kind] = {
    use Kind::*;
    &[
        MsgGet, MsgGet, MsgGet, MsgSnd, MsgSnd, MsgSnd, MsgSnd, MsgRcv, MsgRcv, MsgRcv, MsgRcv,
        MsgStat, MsgSet, MsgSet, MsgRmid, MsgInfo,
        SemGet, SemGet, SemGet, SemOp, SemOp, SemOp, SemOp, SemOp, SemGetVal, SemGetPid,
        SemGetNcnt, SemGetZcnt, SemGetAll, SemSetVal, SemSetVal, SemSetAll, SemStat, SemSet,
        SemRmid, SemInfo,
        ShmGet, ShmGet, ShmGet, ShmAt, ShmAt, ShmAt, ShmDt, ShmDt, ShmStat, ShmSet, ShmRmid,
        ShmRmid, ShmLock, ShmUnlock, ShmInfo,
        StatIndex, StatIndex, IpcInfo,
        Exit, SetNextId, SetShmRmidForced,
    ]
};

// ===== decoding one call =====

fn decode(b: &mut Bytes<'_>, both: &Both, actor: usize, seen: &[Vec<i32>; 3]) -> Call {
    let kind = KINDS[b.u8() as usize % KINDS.len()];
    let id = |b: &mut Bytes<'_>, kind: usize| pick_id(b, seen, kind);
    match kind {
        Kind::MsgGet => Call::MsgGet { key: key(b), flags: get_flags(b) },
        Kind::MsgSnd => {
            let id = id(b, 0);
            let mtype = b.pick(MTYPES, |b| b.u64() as i64);
            let len = b.pick(MSG_SIZES, |b| b.u16() as usize);
            let fill = b.u8();
            let msg = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
            Call::MsgSnd { id, mtype, msg }
        }
        Kind::MsgRcv => {
            let id = id(b, 0);
            let bufsz = b.pick(BUF_SIZES, |b| b.u16() as usize);
            let msgtyp = b.pick(MSGTYPS, |b| b.u64() as i64);
            let flags = b.bit(MSG_NOERROR) | b.bit(MSG_EXCEPT) | b.bit(MSG_COPY);
            Call::MsgRcv { id, bufsz, msgtyp, flags }
        }
        Kind::MsgStat => Call::MsgStat { id: id(b, 0) },
        Kind::MsgSet => {
            let id = id(b, 0);
            let (uid, gid, mode) = (owner(b), owner(b), mode(b));
            let qbytes = b.pick(QBYTES, |b| b.u64());
            Call::MsgSet { id, uid, gid, mode, qbytes }
        }
        Kind::MsgRmid => Call::MsgRmid { id: id(b, 0) },
        Kind::MsgInfo => Call::MsgInfo,
        Kind::SemGet => {
            let key = key(b);
            let nsems = nsems(b);
            Call::SemGet { key, nsems, flags: get_flags(b) }
        }
        Kind::SemOp => {
            let id = id(b, 1);
            let n = b.u8();
            let sops = match n {
                // SEMOPM + 1 copies of one op: E2BIG, first of all checks.
                255 => vec![sop(b); 501],
                // None at all: EINVAL.
                254 => Vec::new(),
                _ => (0..1 + n % 4).map(|_| sop(b)).collect(),
            };
            Call::SemOp { id, sops }
        }
        Kind::SemGetVal => Call::SemGetVal { id: id(b, 1), num: semctl_num(b) },
        Kind::SemGetPid => Call::SemGetPid { id: id(b, 1), num: semctl_num(b) },
        Kind::SemGetNcnt => Call::SemGetNcnt { id: id(b, 1), num: semctl_num(b) },
        Kind::SemGetZcnt => Call::SemGetZcnt { id: id(b, 1), num: semctl_num(b) },
        Kind::SemGetAll => Call::SemGetAll { id: id(b, 1) },
        Kind::SemSetVal => {
            let id = id(b, 1);
            let num = semctl_num(b);
            Call::SemSetVal { id, num, val: b.pick(SEM_VALS, |b| b.u32() as i32) }
        }
        Kind::SemSetAll => {
            let id = id(b, 1);
            // Mostly as many values as the set has; sometimes a wrong count.
            let l = b.u8();
            let len = match both.model.state().objects.get(&(1, id)) {
                Some(ObjState::Sem { vals, .. }) if l < 224 => vals.len(),
                _ => l as usize % 5,
            };
            let vals = (0..len).map(|_| b.pick(SETALL_VALS, |b| b.u16())).collect();
            Call::SemSetAll { id, vals }
        }
        Kind::SemStat => Call::SemStat { id: id(b, 1) },
        Kind::SemSet => {
            let id = id(b, 1);
            Call::SemSet { id, uid: owner(b), gid: owner(b), mode: mode(b) }
        }
        Kind::SemRmid => Call::SemRmid { id: id(b, 1) },
        Kind::SemInfo => Call::SemInfo,
        Kind::ShmGet => {
            let key = key(b);
            let size = b.pick(SHM_SIZES, |b| b.u16() as usize);
            Call::ShmGet { key, size, flags: get_flags(b) }
        }
        Kind::ShmAt => {
            let id = id(b, 2);
            Call::ShmAt { id, flags: b.bit(SHM_RDONLY) }
        }
        Kind::ShmDt => {
            let tokens: Vec<u64> = both.model.attachments(actor).map(|(t, _)| t).collect();
            let s = b.u8();
            let token = match tokens.len() {
                n if n > 0 && s < 224 => tokens[s as usize % n],
                _ => [0, 1, 2, 3, u64::MAX][s as usize % 5],
            };
            Call::ShmDt { token }
        }
        Kind::ShmStat => Call::ShmStat { id: id(b, 2) },
        Kind::ShmSet => {
            let id = id(b, 2);
            Call::ShmSet { id, uid: owner(b), gid: owner(b), mode: mode(b) }
        }
        Kind::ShmRmid => Call::ShmRmid { id: id(b, 2) },
        Kind::ShmLock => Call::ShmLock { id: id(b, 2) },
        Kind::ShmUnlock => Call::ShmUnlock { id: id(b, 2) },
        Kind::ShmInfo => Call::ShmInfo,
        Kind::StatIndex => {
            let kind = b.u8() % 3;
            // mostly a slot an object of that kind has held, its id's high bits kept or not
            let index = match b.u8() % 8 {
                7 => b.u32() as i32,
                6 => -1,
                s => pick_id(b, seen, kind as usize) & if s < 3 { 0x7fff } else { -1 },
            };
            Call::StatIndex { kind, index, any: b.u8() & 1 != 0 }
        }
        Kind::IpcInfo => Call::IpcInfo { kind: b.u8() % 3 },
        Kind::Exit => Call::Exit,
        Kind::SetNextId => {
            let kind = b.u8() % 3;
            Call::SetNextId { kind, id: b.pick(NEXT_IDS, |b| pick_id(b, seen, kind as usize)) }
        }
        Kind::SetShmRmidForced => Call::SetShmRmidForced { on: b.u8() & 1 != 0 },
    }
}

/// An id of `kind`: mostly one the model handed out; else one of another kind, the same
/// slot with the next sequence number, or a raw value (negative, 0, a bare index, any).
fn pick_id(b: &mut Bytes<'_>, seen: &[Vec<i32>; 3], kind: usize) -> i32 {
    let s = b.u8();
    let from = |k: usize, s: u8| seen[k].get(s as usize % seen[k].len().max(1)).copied();
    let id = match s {
        0..=199 => from(kind, s),
        200..=219 => from((kind + 1 + (s as usize & 1)) % 3, s),
        220..=229 => from(kind, s).map(|id| id.wrapping_add(1 << 15)),
        _ => None,
    };
    id.unwrap_or_else(|| [0, 1, 2, -1, 1 << 15, i32::MAX, i32::MIN][s as usize % 7])
}

fn key(b: &mut Bytes<'_>) -> i32 {
    b.pick(KEYS, |b| b.u32() as i32)
}

fn mode(b: &mut Bytes<'_>) -> u32 {
    b.pick(MODES, |b| b.u16() as u32)
}

fn owner(b: &mut Bytes<'_>) -> u32 {
    b.pick(OWNERS, |b| b.u32())
}

/// msgget/semget/shmget flags: a mode, IPC_CREAT three times in four, IPC_EXCL one in four.
fn get_flags(b: &mut Bytes<'_>) -> i32 {
    let f = b.u8();
    let mut flags = mode(b) as i32 & 0o777;
    if f & 3 != 0 {
        flags |= IPC_CREAT;
    }
    if f & 12 == 12 {
        flags |= IPC_EXCL;
    }
    flags
}

fn nsems(b: &mut Bytes<'_>) -> i32 {
    b.pick(NSEMS, |b| if b.u8() == 0 { 32000 } else { b.u32() as i32 })
}

fn semctl_num(b: &mut Bytes<'_>) -> i32 {
    b.pick(SEMCTL_NUMS, |b| b.u32() as i32)
}

/// One sop: (sem_num, sem_op, sem_flg) with IPC_NOWAIT and SEM_UNDO each on or off.
fn sop(b: &mut Bytes<'_>) -> (u16, i16, i16) {
    let num = b.pick(SEM_NUMS, |b| b.u16());
    let op = b.pick(SEM_OPS, |b| b.u16() as i16);
    let f = b.u8();
    let flg = if f & 1 != 0 { IPC_NOWAIT as i16 } else { 0 } | if f & 2 != 0 { SEM_UNDO as i16 } else { 0 };
    (num, op, flg)
}
