//! Property tests of svipc against the reference model in `tests/model/` (issue 6, item 2):
//! random sequences of calls from 2-4 actors with different credentials, mixing message
//! queues, semaphore sets and shared memory — opens with every flag combination, sends and
//! receives with every selector and flag, semops with mixed flags and repeated semaphores,
//! every semctl, attach and detach, IPC_SET, IPC_RMID, SHM_LOCK, stale and bogus ids, bad
//! arguments, process exits, and writes of the namespace's settings (`*_next_id`,
//! `shm_rmid_forced`). After every step the answers agree (value or errno) and so does the
//! observable state: every object's `IPC_STAT` fields other than times, the queued
//! messages, semaphore values, pids, ncnt and zcnt, nattch and SHM_DEST, the
//! MSG_INFO/SEM_INFO/SHM_INFO figures, and the four settings (see `model::State`). The calls only the C-shaped
//! layer has — `*_STAT` and `*_STAT_ANY` by slot index, `IPC_INFO` — go through
//! `svipc::c`.
//!
//! Also: a strategy dense in SEM_UNDO and exits; one dense in segments, detaches, exits and
//! `shm_rmid_forced`; id cycling, the `*_next_id` rules and the MSGMNI/SEMMNI/SHMMNI limits
//! by hand; and, on Linux as root (else a skip notice), the model itself against the real
//! kernel (`model::kernel`) on the same random sequences and hand-written rules, pids
//! compared as zero or not, exits included (each actor's segments are made by a task of
//! its own that ends at the exit, so the kernel's `exit_shm` runs).
//!
//! Shrunk failures are kept below as `regression_*` tests replaying the exact calls, and in
//! `model_props.proptest-regressions`.
//!
//! Run: `cargo test --test model_props`; cases per property: 64, or `PROPTEST_CASES`.
#![cfg(not(loom))]

mod model;

use model::driver::Both;
use model::*;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

// ===== actors =====

fn actors_s() -> impl Strategy<Value = Vec<Cred>> {
    proptest::sample::subsequence(cred_pool(), 2..=4).prop_shuffle()
}

// ===== calls =====

/// A call with its id fields holding a slot, resolved against the ids handed out so far
/// when the step runs (see [`resolve`]).
#[derive(Clone, Debug)]
struct Step {
    actor: u8,
    call: Call,
    /// SemSetAll: stretch `vals` to the set's size (else pass it as it is).
    fit: bool,
}

fn key_s() -> impl Strategy<Value = i32> {
    prop_oneof![2 => Just(0), 3 => Just(1), 3 => Just(2)]
}

fn mode_s() -> impl Strategy<Value = i32> {
    proptest::sample::select(vec![
        0o600, 0o640, 0o660, 0o666, 0o644, 0o400, 0o040, 0o004, 0, 0o777, 0o200, 0o020, 0o002, 0o606,
    ])
}

fn get_flags_s() -> impl Strategy<Value = i32> {
    (mode_s(), 0..4).prop_map(|(mode, f)| {
        mode | if f & 1 != 0 { IPC_CREAT } else { 0 } | if f & 2 != 0 { IPC_EXCL } else { 0 }
    })
}

fn owner_s() -> impl Strategy<Value = u32> {
    proptest::sample::select(vec![1000, 1001, 1003, 0, 4000, 3000, u32::MAX])
}

fn set_mode_s() -> impl Strategy<Value = u32> {
    proptest::sample::select(vec![0o600, 0o640, 0o660, 0o666, 0o604, 0o1777, 0, 0o7777, 0o440, 0o044])
}

fn slot() -> impl Strategy<Value = i32> {
    any::<u8>().prop_map(i32::from)
}

fn mtype_s() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 1i64..=4, 2 => -4i64..=0, 1 => proptest::sample::select(vec![i64::MIN, i64::MAX, -i64::MAX])]
}

fn msg_s() -> impl Strategy<Value = Call> {
    let size = prop_oneof![8 => 0usize..=8, 1 => Just(100), 1 => Just(8192), 1 => Just(8193)];
    let bufsz = prop_oneof![
        8 => 0usize..=8,
        1 => Just(100),
        1 => Just(8192),
        1 => Just(usize::MAX),
        1 => Just(i64::MAX as usize + 1)
    ];
    let rflags = prop_oneof![
        6 => Just(0),
        2 => Just(MSG_NOERROR),
        2 => Just(MSG_EXCEPT),
        1 => Just(MSG_EXCEPT | MSG_NOERROR),
        2 => Just(MSG_COPY),
        1 => Just(MSG_COPY | MSG_NOERROR),
        1 => Just(MSG_COPY | MSG_EXCEPT)
    ];
    let qbytes = proptest::sample::select(vec![0u64, 1, 3, 10, 100, 16384, 16385, u64::MAX]);
    prop_oneof![
        3 => (key_s(), get_flags_s()).prop_map(|(key, flags)| Call::MsgGet { key, flags }),
        5 => (slot(), mtype_s(), size, any::<u8>()).prop_map(|(id, mtype, n, fill)| Call::MsgSnd {
            id,
            mtype,
            msg: (0..n).map(|i| fill.wrapping_add(i as u8)).collect()
        }),
        4 => (slot(), bufsz, prop_oneof![3 => mtype_s(), 1 => 0i64..4], rflags)
            .prop_map(|(id, bufsz, msgtyp, flags)| Call::MsgRcv { id, bufsz, msgtyp, flags }),
        1 => slot().prop_map(|id| Call::MsgStat { id }),
        1 => (slot(), owner_s(), owner_s(), set_mode_s(), qbytes)
            .prop_map(|(id, uid, gid, mode, qbytes)| Call::MsgSet { id, uid, gid, mode, qbytes }),
        1 => slot().prop_map(|id| Call::MsgRmid { id }),
        1 => Just(Call::MsgInfo),
        1 => (index_s(), any::<bool>()).prop_map(|(index, any)| Call::StatIndex { kind: 0, index, any }),
        1 => Just(Call::IpcInfo { kind: 0 }),
    ]
}

/// A `*_STAT` slot index: the first few slots, the same with a sequence number's high bits
/// (the lookup ignores them), or negative.
fn index_s() -> impl Strategy<Value = i32> {
    prop_oneof![6 => 0i32..4, 1 => Just(32768), 1 => Just(32769), 1 => Just(-1)]
}

fn num_s() -> impl Strategy<Value = i32> {
    prop_oneof![6 => 0i32..4, 1 => Just(-1), 1 => Just(65535), 1 => Just(70000)]
}

fn sem_s() -> impl Strategy<Value = Call> {
    let sop_num = prop_oneof![8 => 0u16..3, 1 => Just(u16::MAX), 1 => Just(32000)];
    let sop_op = prop_oneof![8 => -3i16..=3, 1 => Just(i16::MIN), 1 => Just(i16::MAX), 1 => Just(20000), 1 => Just(-20000)];
    let sop_flg = proptest::sample::select(vec![
        0i16,
        0,
        SEM_UNDO as i16,
        IPC_NOWAIT as i16,
        (SEM_UNDO | IPC_NOWAIT) as i16,
        0x10,
    ]);
    let sops = prop_oneof![
        20 => proptest::collection::vec((sop_num, sop_op, sop_flg), 0..4),
        1 => Just(vec![(0, 0, 0); 501]),
        1 => Just(vec![(0, 1, 0); 500]),
    ];
    let val =
        prop_oneof![6 => 0i32..=3, 1 => Just(32767), 1 => Just(32768), 1 => Just(-1), 1 => Just(i32::MAX)];
    let vals = proptest::collection::vec(
        prop_oneof![6 => 0u16..=3, 1 => Just(32767), 1 => Just(32768), 1 => Just(u16::MAX)],
        0..5,
    );
    prop_oneof![
        3 => (key_s(), prop_oneof![8 => 0i32..=3, 1 => Just(32000), 1 => Just(32001), 1 => Just(-1)], get_flags_s())
            .prop_map(|(key, nsems, flags)| Call::SemGet { key, nsems, flags }),
        6 => (slot(), sops).prop_map(|(id, sops)| Call::SemOp { id, sops }),
        1 => (slot(), num_s()).prop_map(|(id, num)| Call::SemGetVal { id, num }),
        1 => (slot(), num_s()).prop_map(|(id, num)| Call::SemGetPid { id, num }),
        1 => (slot(), num_s()).prop_map(|(id, num)| Call::SemGetNcnt { id, num }),
        1 => (slot(), num_s()).prop_map(|(id, num)| Call::SemGetZcnt { id, num }),
        1 => slot().prop_map(|id| Call::SemGetAll { id }),
        2 => (slot(), num_s(), val).prop_map(|(id, num, val)| Call::SemSetVal { id, num, val }),
        2 => (slot(), vals).prop_map(|(id, vals)| Call::SemSetAll { id, vals }),
        1 => slot().prop_map(|id| Call::SemStat { id }),
        1 => (slot(), owner_s(), owner_s(), set_mode_s()).prop_map(|(id, uid, gid, mode)| Call::SemSet { id, uid, gid, mode }),
        1 => slot().prop_map(|id| Call::SemRmid { id }),
        1 => Just(Call::SemInfo),
        1 => (index_s(), any::<bool>()).prop_map(|(index, any)| Call::StatIndex { kind: 1, index, any }),
        1 => Just(Call::IpcInfo { kind: 1 }),
    ]
}

fn shm_s() -> impl Strategy<Value = Call> {
    let size =
        proptest::sample::select(vec![0usize, 1, 100, 4096, 5000, 1 << 16, usize::MAX, SHMMAX as usize + 1]);
    prop_oneof![
        3 => (key_s(), size, get_flags_s()).prop_map(|(key, size, flags)| Call::ShmGet { key, size, flags }),
        4 => (slot(), prop_oneof![Just(0), Just(SHM_RDONLY)]).prop_map(|(id, flags)| Call::ShmAt { id, flags }),
        3 => any::<u8>().prop_map(|t| Call::ShmDt { token: u64::from(t) }),
        1 => slot().prop_map(|id| Call::ShmStat { id }),
        1 => (slot(), owner_s(), owner_s(), set_mode_s()).prop_map(|(id, uid, gid, mode)| Call::ShmSet { id, uid, gid, mode }),
        2 => slot().prop_map(|id| Call::ShmRmid { id }),
        1 => slot().prop_map(|id| Call::ShmLock { id }),
        1 => slot().prop_map(|id| Call::ShmUnlock { id }),
        1 => Just(Call::ShmInfo),
        1 => (index_s(), any::<bool>()).prop_map(|(index, any)| Call::StatIndex { kind: 2, index, any }),
        1 => Just(Call::IpcInfo { kind: 2 }),
    ]
}

/// A `*_next_id` value: refused (negative, -1 included), a low slot with sequence 0 (often
/// taken), one with a higher sequence, the last slot, the largest id (slot 32767 again), and
/// the largest sequence number.
fn next_id_s() -> impl Strategy<Value = i32> {
    prop_oneof![
        2 => Just(-1),
        1 => Just(-2),
        1 => Just(i32::MIN),
        4 => 0i32..4,
        2 => (1i32..4, 0i32..4).prop_map(|(seq, idx)| seq << 15 | idx),
        1 => Just(32767),
        1 => Just(i32::MAX),
        1 => Just(65535 << 15 | 1),
    ]
}

/// The sysctl writes: `{msg,sem,shm}_next_id` and `shm_rmid_forced`.
fn sysctl_s() -> impl Strategy<Value = Call> {
    prop_oneof![
        3 => (0u8..3, next_id_s()).prop_map(|(kind, id)| Call::SetNextId { kind, id }),
        1 => any::<bool>().prop_map(|on| Call::SetShmRmidForced { on }),
    ]
}

fn step_s() -> impl Strategy<Value = Step> {
    let call = prop_oneof![
        10 => msg_s(),
        10 => sem_s(),
        8 => shm_s(),
        2 => sysctl_s(),
        1 => Just(Call::Exit),
    ];
    (any::<u8>(), call, proptest::bool::weighted(0.8)).prop_map(|(actor, call, fit)| Step {
        actor,
        call,
        fit,
    })
}

// ===== running =====

/// Every id of each kind handed out so far (live or not).
#[derive(Default)]
struct Seen([Vec<i32>; 3]);

/// The id a slot stands for: mostly a live object of the kind, sometimes any id handed out
/// so far (maybe removed), one never handed out, or a negative one.
fn pick(b: &Both, seen: &Seen, kind: u8, slot: i32) -> i32 {
    let live = b.model.ids(kind);
    let all = &seen.0[kind as usize];
    let i = slot as usize / 16;
    match slot % 16 {
        15 => -1,
        14 => 7 | 1 << 15,
        12 | 13 if !all.is_empty() => all[i % all.len()],
        _ if !live.is_empty() => live[i % live.len()],
        _ if !all.is_empty() => all[i % all.len()],
        _ => 3,
    }
}

/// The concrete call a step makes now.
fn resolve(b: &Both, seen: &Seen, actor: usize, step: &Step) -> Call {
    let mut call = step.call.clone();
    let kind = match call {
        Call::MsgSnd { .. }
        | Call::MsgRcv { .. }
        | Call::MsgStat { .. }
        | Call::MsgSet { .. }
        | Call::MsgRmid { .. } => 0,
        Call::ShmAt { .. }
        | Call::ShmStat { .. }
        | Call::ShmSet { .. }
        | Call::ShmRmid { .. }
        | Call::ShmLock { .. }
        | Call::ShmUnlock { .. } => 2,
        _ => 1,
    };
    match &mut call {
        Call::MsgSnd { id, .. }
        | Call::MsgRcv { id, .. }
        | Call::MsgStat { id }
        | Call::MsgSet { id, .. }
        | Call::MsgRmid { id }
        | Call::SemOp { id, .. }
        | Call::SemGetVal { id, .. }
        | Call::SemGetPid { id, .. }
        | Call::SemGetNcnt { id, .. }
        | Call::SemGetZcnt { id, .. }
        | Call::SemGetAll { id }
        | Call::SemSetVal { id, .. }
        | Call::SemStat { id }
        | Call::SemSet { id, .. }
        | Call::SemRmid { id }
        | Call::ShmAt { id, .. }
        | Call::ShmStat { id }
        | Call::ShmSet { id, .. }
        | Call::ShmRmid { id }
        | Call::ShmLock { id }
        | Call::ShmUnlock { id } => *id = pick(b, seen, kind, *id),
        Call::SemSetAll { id, vals } => {
            *id = pick(b, seen, 1, *id);
            if step.fit && !vals.is_empty() {
                if let Some(ObjState::Sem { vals: now, .. }) = b.model.state().objects.get(&(1, *id)) {
                    *vals = (0..now.len()).map(|i| vals[i % vals.len()]).collect();
                }
            }
        }
        Call::ShmDt { token } => {
            let mine: Vec<u64> = b.model.attachments(actor).map(|(t, _)| t).collect();
            if *token % 8 != 7 && !mine.is_empty() {
                *token = mine[*token as usize % mine.len()];
            }
        }
        _ => {}
    }
    call
}

fn run(actors: &[Cred], steps: &[Step]) {
    let mut b = Both::new();
    for c in actors {
        b.add_actor(c.clone());
    }
    let mut seen = Seen::default();
    for step in steps {
        let actor = step.actor as usize % actors.len();
        let call = resolve(&b, &seen, actor, step);
        let r = b.apply(actor, &call);
        note(&mut seen, &call, &r);
        b.check_state();
    }
}

/// Notes the id an open handed out.
fn note(seen: &mut Seen, call: &Call, r: &Ret) {
    let kind = match call {
        Call::MsgGet { .. } => 0,
        Call::SemGet { .. } => 1,
        Call::ShmGet { .. } => 2,
        _ => return,
    };
    if let Ret::Val(id) = r {
        if !seen.0[kind].contains(&(*id as i32)) {
            seen.0[kind].push(*id as i32);
        }
    }
}

/// Replays exact calls (a shrunk failure), checking answers and state after each.
fn replay(actors: &[Cred], calls: &[(usize, Call)]) {
    let mut b = Both::new();
    for c in actors {
        b.add_actor(c.clone());
    }
    for (actor, call) in calls {
        b.apply(*actor, call);
        b.check_state();
    }
}

/// Steps dense in SEM_UNDO, semadj overflow, SETVAL/SETALL and exits: one shared set.
fn undo_step_s() -> impl Strategy<Value = Step> {
    let op = prop_oneof![4 => -3i16..=3, 1 => Just(20000), 1 => Just(-20000), 1 => Just(32767)];
    let sop = (0u16..2, op, prop_oneof![3 => Just(SEM_UNDO as i16), 1 => Just(0)]);
    let call = prop_oneof![
        1 => Just(Call::SemGet { key: 1, nsems: 2, flags: IPC_CREAT | 0o666 }),
        6 => proptest::collection::vec(sop, 1..3).prop_map(|sops| Call::SemOp { id: 0, sops }),
        1 => (0i32..2, 0i32..5).prop_map(|(num, val)| Call::SemSetVal { id: 0, num, val }),
        1 => proptest::collection::vec(0u16..5, 2).prop_map(|vals| Call::SemSetAll { id: 0, vals }),
        1 => Just(Call::SemRmid { id: 0 }),
        3 => Just(Call::Exit),
    ];
    (any::<u8>(), call).prop_map(|(actor, call)| Step { actor, call, fit: true })
}

/// Steps dense in what `shm_rmid_forced` changes: segments made (private and keyed) and
/// attached by several actors, detaches, removes, exits, the setting switched on and off, and
/// `shm_next_id` writes.
fn shm_exit_step_s() -> impl Strategy<Value = Step> {
    let flags = prop_oneof![Just(IPC_CREAT | 0o666), Just(0o666), Just(IPC_CREAT | IPC_EXCL | 0o666)];
    let call = prop_oneof![
        3 => (0i32..3, flags).prop_map(|(key, flags)| Call::ShmGet { key, size: 4096, flags }),
        4 => slot().prop_map(|id| Call::ShmAt { id, flags: 0 }),
        3 => any::<u8>().prop_map(|t| Call::ShmDt { token: u64::from(t) }),
        1 => slot().prop_map(|id| Call::ShmRmid { id }),
        3 => Just(Call::Exit),
        2 => any::<bool>().prop_map(|on| Call::SetShmRmidForced { on }),
        1 => prop_oneof![0i32..4, Just(1 << 15 | 2)].prop_map(|id| Call::SetNextId { kind: 2, id }),
    ];
    (any::<u8>(), call).prop_map(|(actor, call)| Step { actor, call, fit: true })
}

proptest! {
    #![proptest_config(Config { cases: cases(), ..Config::default() })]

    #[test]
    fn shm_rmid_forced_and_exits_agree(actors in actors_s(), steps in proptest::collection::vec(shm_exit_step_s(), 1..40)) {
        run(&actors, &steps);
    }

    #[test]
    fn sem_undo_and_exits_agree(actors in actors_s(), steps in proptest::collection::vec(undo_step_s(), 1..40)) {
        let mut steps = steps;
        steps.insert(0, Step { actor: 0, call: Call::SemGet { key: 1, nsems: 2, flags: IPC_CREAT | 0o666 }, fit: true });
        run(&actors, &steps);
    }

    #[test]
    fn svipc_agrees_with_model(actors in actors_s(), steps in proptest::collection::vec(step_s(), 1..40)) {
        run(&actors, &steps);
    }
}

// ===== hand-written sequences and regressions =====

#[test]
fn smoke() {
    let owner = Cred::new(1000, 1000);
    let other = Cred::new(2000, 2000);
    replay(
        &[owner, other],
        &[
            (0, Call::MsgGet { key: 5, flags: IPC_CREAT | 0o640 }),
            (0, Call::MsgSnd { id: 0, mtype: 3, msg: vec![1, 2, 3] }),
            (1, Call::MsgSnd { id: 0, mtype: 3, msg: vec![1, 2, 3] }),
            (0, Call::MsgRcv { id: 0, bufsz: 2, msgtyp: -4, flags: MSG_NOERROR }),
            (0, Call::MsgRcv { id: 7, bufsz: 2, msgtyp: -4, flags: MSG_NOERROR }),
            (0, Call::SemGet { key: 0, nsems: 2, flags: 0o600 }),
            (0, Call::SemOp { id: 0, sops: vec![(0, 2, SEM_UNDO as i16), (1, 1, 0)] }),
            (0, Call::Exit),
            (0, Call::SemOp { id: 5, sops: vec![(0, 2, SEM_UNDO as i16); 501] }),
            (0, Call::SemOp { id: 5, sops: vec![(3, 2, SEM_UNDO as i16)] }),
            (0, Call::SemSetVal { id: 5, num: 0, val: -1 }),
            (0, Call::ShmGet { key: 9, size: 5000, flags: IPC_CREAT | 0o600 }),
            (0, Call::ShmAt { id: 0, flags: 0 }),
            (0, Call::ShmRmid { id: 0 }),
            (0, Call::ShmLock { id: 0 }),
            (1, Call::ShmLock { id: 0 }),
            (0, Call::Exit),
            (0, Call::MsgInfo),
            (0, Call::SemInfo),
            (0, Call::ShmInfo),
        ],
    );
}

/// msgrcv with `msgsz` above `LONG_MAX` is `EINVAL` before anything else (`(long) bufsz < 0`
/// in `do_msgrcv`); svipc took it as a huge buffer and answered ENOMSG.
#[test]
fn regression_msgrcv_bufsz_above_long_max() {
    let root = Cred::new(0, 0).caps(CAP_ALL);
    let big = i64::MAX as usize + 1;
    replay(
        &[root],
        &[
            (0, Call::MsgGet { key: 0, flags: 0o600 }),
            (0, Call::MsgRcv { id: 0, bufsz: usize::MAX, msgtyp: 1, flags: 0 }),
            (0, Call::MsgSnd { id: 0, mtype: 1, msg: vec![1] }),
            (0, Call::MsgRcv { id: 0, bufsz: big, msgtyp: 0, flags: MSG_NOERROR }),
            (0, Call::MsgRcv { id: 0, bufsz: big, msgtyp: 0, flags: MSG_COPY }),
            (0, Call::MsgRcv { id: 0, bufsz: big - 1, msgtyp: 0, flags: MSG_COPY }),
        ],
    );
}

/// `*_next_id` cannot be set to -1: the sysctl's range is `[0, INT_MAX]`, so the kernel
/// answers EINVAL and keeps the setting. svipc took -1 as "unset".
#[test]
fn regression_next_id_refuses_minus_one() {
    let root = Cred::new(0, 0).caps(CAP_ALL);
    replay(
        &[root],
        &[
            (0, Call::SetNextId { kind: 0, id: 5 }),
            (0, Call::SetNextId { kind: 0, id: -1 }),
            (0, Call::MsgGet { key: 0, flags: 0o600 }),
        ],
    );
}

// ===== the model against the real kernel =====
//
// Linux only: `model::kernel` needs `unshare` and per-thread credentials.

/// The calls of [`ids_cycle_like_the_kernel`] for one kind: an open (IPC_PRIVATE) and a
/// remove of the id it returned.
fn open_private(kind: u8) -> Call {
    match kind {
        0 => Call::MsgGet { key: 0, flags: 0o600 },
        1 => Call::SemGet { key: 0, nsems: 1, flags: 0o600 },
        _ => Call::ShmGet { key: 0, size: 1, flags: 0o600 },
    }
}

fn remove(kind: u8, id: i32) -> Call {
    match kind {
        0 => Call::MsgRmid { id },
        1 => Call::SemRmid { id },
        _ => Call::ShmRmid { id },
    }
}

/// Two objects stay; then 70 rounds of open and remove. `apply` answers a call; returns the
/// ids handed out.
fn cycle(kind: u8, mut apply: impl FnMut(&Call) -> Ret) -> Vec<i32> {
    let mut ids = Vec::new();
    let mut open = |apply: &mut dyn FnMut(&Call) -> Ret| match apply(&open_private(kind)) {
        Ret::Val(id) => {
            ids.push(id as i32);
            id as i32
        }
        r => panic!("open: {r:?}"),
    };
    open(&mut apply);
    open(&mut apply);
    for _ in 0..70 {
        let id = open(&mut apply);
        assert_eq!(apply(&remove(kind, id)), Ret::Val(0));
    }
    ids
}

/// Ids cycle as the kernel's allocator does: a removed index is not reused until the cursor
/// wraps past 63, and the wrap bumps the sequence (`id + 32768`), skipping busy indexes.
#[test]
fn ids_cycle_like_the_kernel() {
    for kind in 0..3 {
        let mut b = Both::new();
        b.add_actor(Cred::new(0, 0).caps(CAP_ALL));
        let ids = cycle(kind, |c| {
            let r = b.apply(0, c);
            b.check_state();
            r
        });
        // 0 and 1 stay; 2..=63 come and go; then the wrap: index 2 again, sequence 1.
        assert_eq!(ids[..4], [0, 1, 2, 3]);
        assert_eq!(ids[63], 63);
        assert_eq!(ids[64..67], [32768 + 2, 32768 + 3, 32768 + 4]);
    }
}

/// The `*_next_id` rules for one kind, answered by `apply`; returns the ids handed out.
/// The callers compare the states after (the setting is -1 again after each creation, and
/// stays through calls that create nothing).
fn next_id_rules(kind: u8, mut apply: impl FnMut(&Call) -> Ret) -> Vec<Ret> {
    let set = |id| Call::SetNextId { kind, id };
    let mut out = Vec::new();
    let mut run = |c: &Call| {
        let r = apply(c);
        if !matches!(c, Call::SetNextId { .. }) {
            out.push(r.clone());
        }
        r
    };
    run(&open_private(kind)); // 0
    run(&open_private(kind)); // 1
    assert_eq!(run(&set(-2)), Ret::Err(EINVAL), "negative");
    assert_eq!(run(&set(3 << 15 | 5)), Ret::Val(0));
    assert_eq!(run(&set(-1)), Ret::Err(EINVAL), "-1 cannot be written: the setting stays");
    run(&open_private(kind)); // 3 << 15 | 5: that sequence, that slot
    run(&open_private(kind)); // 2: the cursor and sequence were not touched
    run(&set(5)); // slot 5 is taken: the next free one above
    run(&open_private(kind)); // 6
    run(&set(32767));
    run(&open_private(kind)); // 32767
    run(&set(i32::MAX)); // slot 32767 again, sequence 65535: nothing free at or above
    run(&open_private(kind)); // ENOSPC, and the setting is gone
    run(&open_private(kind)); // 3
                              // A call that creates nothing leaves the setting for the next creation.
    let keyed = match open_private(kind) {
        Call::MsgGet { flags, .. } => Call::MsgGet { key: 9, flags: flags | IPC_CREAT },
        Call::SemGet { nsems, flags, .. } => Call::SemGet { key: 9, nsems, flags: flags | IPC_CREAT },
        Call::ShmGet { size, flags, .. } => Call::ShmGet { key: 9, size, flags: flags | IPC_CREAT },
        c => unreachable!("{c:?}"),
    };
    run(&keyed); // 4
    run(&set(40));
    run(&keyed); // found: 4 again
    run(&match kind {
        0 => Call::MsgGet { key: 10, flags: 0o600 },          // ENOENT
        1 => Call::SemGet { key: 0, nsems: 0, flags: 0o600 }, // EINVAL
        _ => Call::ShmGet { key: 0, size: 0, flags: 0o600 },  // EINVAL
    });
    run(&open_private(kind)); // 40
    out
}

/// What [`next_id_rules`] answers.
fn next_id_expected(kind: u8) -> Vec<Ret> {
    let refused = if kind == 0 { ENOENT } else { EINVAL };
    [
        Ok(0),
        Ok(1),
        Ok(3 << 15 | 5),
        Ok(2),
        Ok(6),
        Ok(32767),
        Err(ENOSPC),
        Ok(3),
        Ok(4),
        Ok(4),
        Err(refused),
        Ok(40),
    ]
    .into_iter()
    .map(|r| r.map_or_else(Ret::Err, |v| Ret::Val(v as i64)))
    .collect()
}

#[test]
fn next_id_like_the_kernel() {
    for kind in 0..3 {
        let mut b = Both::new();
        b.add_actor(Cred::new(0, 0).caps(CAP_ALL));
        let got = next_id_rules(kind, |c| {
            let r = b.apply(0, c);
            b.check_state();
            r
        });
        assert_eq!(got, next_id_expected(kind), "kind {kind}");
        assert_eq!(b.model.state().next_id, [-1; 3]);
    }
}

/// `shm_rmid_forced` with exits, answered by `apply(actor, call)`: actor 0 stays, actor 1
/// creates and exits. Returns every answer (the callers compare the states too).
fn rmid_forced_story(mut apply: impl FnMut(usize, &Call) -> Ret) -> Vec<Ret> {
    let get = |key| Call::ShmGet { key, size: 100, flags: IPC_CREAT | 0o666 };
    let (at, stat) = (|id| Call::ShmAt { id, flags: 0 }, |id| Call::ShmStat { id });
    let forced = |on| Call::SetShmRmidForced { on };
    let calls = [
        (1, get(0)),                   // a = 0
        (1, get(5)),                   // b = 1
        (0, at(1)),                    // b attached by 0 (token 1)
        (1, at(0)),                    // a attached by its creator
        (1, Call::Exit),               // not forced: a (detached now) and b live on as orphans
        (0, stat(0)),                  //
        (0, forced(true)),             // destroys the unattached orphan a
        (0, stat(0)),                  // EINVAL
        (0, stat(1)),                  // b is attached: still there
        (0, Call::ShmDt { token: 1 }), // the last detach destroys b, SHM_DEST or not
        (0, stat(1)),                  // EINVAL
        (1, get(0)),                   // c = 2
        (1, get(0)),                   // d = 3
        (1, get(0)),                   // e = 4
        (0, at(3)),                    // d attached by 0 (token 2)
        (0, at(4)),                    // e attached by 0 (token 3)
        (0, Call::ShmDt { token: 3 }), // forced: e goes though its creator lives
        (1, Call::Exit),               // forced: c (unattached) goes, d stays as an orphan
        (0, stat(2)),                  // EINVAL
        (0, stat(3)),                  // alive
        (0, forced(false)),
        (0, Call::ShmDt { token: 2 }), // not forced: d stays, unattached
        (0, stat(3)),                  // alive
        (0, forced(true)),             // d goes
        (0, stat(3)),                  // EINVAL
        (0, forced(true)),             // again: nothing to do
        (0, get(0)),                   // f = 5, 0 creates
        (0, forced(true)),             // f's creator lives: f stays
        (0, stat(5)),                  // alive
    ];
    calls.iter().map(|(actor, call)| apply(*actor, call)).collect()
}

/// Which answers of [`rmid_forced_story`] are `EINVAL` (a destroyed segment); the others
/// succeed.
const RMID_FORCED_GONE: [usize; 4] = [7, 10, 18, 24];

fn check_rmid_forced_story(rets: &[Ret]) {
    for (i, r) in rets.iter().enumerate() {
        if RMID_FORCED_GONE.contains(&i) {
            assert_eq!(r, &Ret::Err(EINVAL), "step {i}");
        } else {
            assert!(!matches!(r, Ret::Err(_)), "step {i}: {r:?}");
        }
    }
}

#[test]
fn shm_rmid_forced_like_the_kernel() {
    let mut b = Both::new();
    b.add_actor(Cred::new(0, 0).caps(CAP_ALL));
    b.add_actor(Cred::new(1000, 1000));
    let rets = rmid_forced_story(|actor, c| {
        let r = b.apply(actor, c);
        b.check_state();
        r
    });
    check_rmid_forced_story(&rets);
    assert_eq!(b.model.ids(2), [5]);
}

/// The per-kind object limit (MSGMNI, SEMMNI, SHMMNI): that many opens succeed, the next
/// is ENOSPC; a `*_next_id` set then is not consumed by the open the limit refuses (the
/// callers compare the states after). `apply` answers a call.
fn fill(kind: u8, mut apply: impl FnMut(&Call) -> Ret) {
    let limit = [MSGMNI, SEMMNI, SHMMNI][kind as usize];
    for n in 0..limit {
        assert!(matches!(apply(&open_private(kind)), Ret::Val(_)), "open {n}");
    }
    assert_eq!(apply(&open_private(kind)), Ret::Err(ENOSPC));
    assert_eq!(apply(&Call::SetNextId { kind, id: 7 << 15 | 7 }), Ret::Val(0));
    assert_eq!(apply(&open_private(kind)), Ret::Err(ENOSPC));
}

fn limit_enospc(kind: u8) {
    let mut b = Both::new();
    b.add_actor(Cred::new(0, 0).caps(CAP_ALL));
    fill(kind, |c| b.apply(0, c));
    b.check_state();
    assert_eq!(b.model.state().next_id[kind as usize], 7 << 15 | 7, "not consumed");
}

#[test]
fn msgmni_gives_enospc() {
    limit_enospc(0);
}

#[test]
fn semmni_gives_enospc() {
    limit_enospc(1);
}

#[test]
fn shmmni_gives_enospc() {
    limit_enospc(2);
}

#[cfg(target_os = "linux")]
mod against_kernel {
    use super::*;
    use model::kernel::{no_pids, no_pids_state};

    /// The actors a kernel run draws from: those of [`pool`] whose capabilities this thread
    /// may hold (in a container's root, all but the ones with CAP_SYS_RESOURCE).
    fn kernel_pool() -> Vec<Cred> {
        cred_pool().into_iter().filter(kernel::can_play).collect()
    }

    /// Runs `steps` on the model and on the kernel (a fresh IPC namespace on a thread of its
    /// own), comparing answers and state after each. `SEM_UNDO` is kept for actor 0 only
    /// and actor 0's exits are skipped (one process, one undo list to the kernel; the other
    /// actors' exits end their shmget tasks, see `model::kernel`); SETALL always gets the
    /// set's length.
    fn run_kernel(actors: Vec<Cred>, steps: Vec<Step>) {
        let t = std::thread::spawn(move || {
            if !kernel::fresh_ipc_ns() {
                return;
            }
            let mut b = Both::new(); // only its model is used; resolve() reads it
            let mut kern = kernel::Kernel::new();
            for c in &actors {
                b.model.add_actor(c.clone());
                kern.add_actor(c);
            }
            let mut seen = Seen::default();
            let mut log = Vec::new();
            for step in steps {
                let actor = step.actor as usize % actors.len();
                let mut step = Step { fit: true, ..step };
                match &mut step.call {
                    Call::Exit if actor == 0 => continue,
                    Call::SemOp { sops, .. } if actor != 0 => {
                        sops.iter_mut().for_each(|s| s.2 &= !(SEM_UNDO as i16))
                    }
                    Call::SemSetAll { vals, .. } if vals.is_empty() => vals.push(0),
                    _ => {}
                }
                let call = resolve(&b, &seen, actor, &step);
                log.push((actor, call.clone()));
                let m = b.model.apply(actor, &call);
                let kr = kern.apply(actor, &call);
                assert_eq!(
                    no_pids(&call, kr.clone()),
                    no_pids(&call, m.clone()),
                    "actor {actor}: {call:?} (left kernel, right model); calls {log:#?}"
                );
                note(&mut seen, &call, &m);
                let (ks, ms) = (no_pids_state(kern.state()), no_pids_state(b.model.state()));
                assert_eq!(ks, ms, "after {call:?}: state (left kernel, right model); calls {log:#?}");
            }
        });
        if let Err(panic) = t.join() {
            std::panic::resume_unwind(panic);
        }
    }

    proptest! {
        #![proptest_config(Config { cases: cases(), ..Config::default() })]

        #[test]
        fn model_agrees_with_kernel(
            actors in proptest::sample::subsequence(kernel_pool(), 1..=3).prop_shuffle(),
            steps in proptest::collection::vec(step_s(), 1..40),
        ) {
            run_kernel(actors, steps);
        }

        #[test]
        fn shm_rmid_forced_and_exits_in_the_kernel(
            actors in proptest::sample::subsequence(kernel_pool(), 2..=3).prop_shuffle(),
            steps in proptest::collection::vec(shm_exit_step_s(), 1..40),
        ) {
            run_kernel(actors, steps);
        }
    }

    /// [`rmid_forced_story`] on the kernel, actor 1 a plain user whose shmgets run on a task
    /// of its own that ends at each exit.
    #[test]
    fn shm_rmid_forced_in_the_kernel() {
        std::thread::spawn(|| {
            if !kernel::fresh_ipc_ns() {
                return;
            }
            let creds = [Cred::new(0, 0).caps(kernel::root_caps()), Cred::new(1000, 1000)];
            let (mut m, mut k) = (Model::new(), kernel::Kernel::new());
            for c in &creds {
                m.add_actor(c.clone());
                k.add_actor(c);
            }
            let rets = rmid_forced_story(|actor, c| {
                let (mr, kr) = (m.apply(actor, c), k.apply(actor, c));
                assert_eq!(no_pids(c, kr), no_pids(c, mr.clone()), "{c:?} (left kernel, right model)");
                assert_eq!(no_pids_state(k.state()), no_pids_state(m.state()), "after {c:?}");
                mr
            });
            check_rmid_forced_story(&rets);
        })
        .join()
        .unwrap();
    }

    /// [`next_id_rules`] on the kernel.
    #[test]
    fn next_id_in_the_kernel() {
        on_kernel(|kind, apply| assert_eq!(next_id_rules(kind, apply), next_id_expected(kind)));
    }
    /// Answers one call (from both sides, asserting they agree).
    type Apply<'a> = &'a mut dyn FnMut(&Call) -> Ret;

    /// Runs `body` for each kind (0 msg, 1 sem, 2 shm) on a thread of its own in a fresh IPC
    /// namespace, with an `apply` that answers each call from the model and from the kernel
    /// (root in both) and asserts they agree; then their states must agree too.
    fn on_kernel(body: fn(u8, Apply<'_>)) {
        for kind in 0..3 {
            std::thread::spawn(move || {
                if !kernel::fresh_ipc_ns() {
                    return;
                }
                let root = Cred::new(0, 0).caps(kernel::root_caps());
                let (mut m, mut k) = (Model::new(), kernel::Kernel::new());
                m.add_actor(root.clone());
                k.add_actor(&root);
                body(kind, &mut |c| {
                    let (mr, kr) = (m.apply(0, c), k.apply(0, c));
                    assert_eq!(kr, mr, "{c:?} (left kernel, right model)");
                    mr
                });
                assert_eq!(no_pids_state(k.state()), no_pids_state(m.state()));
            })
            .join()
            .unwrap();
        }
    }

    /// [`ids_cycle_like_the_kernel`] on the kernel: the model's ids are the kernel's.
    #[test]
    fn ids_cycle_in_the_kernel() {
        on_kernel(|kind, apply| assert_eq!(cycle(kind, apply)[64], 32768 + 2));
    }

    /// The MSGMNI/SEMMNI/SHMMNI limits ([`fill`]) on the kernel.
    #[test]
    fn object_limits_in_the_kernel() {
        on_kernel(|kind, apply| fill(kind, apply));
    }
}
