//! Property tests of svipc against the reference model in `tests/model/` (issue 6, item 2).
//!
//! Run: `cargo test --test model_props` (`PROPTEST_CASES=N` for more cases).
#![cfg(not(loom))]

mod model;

use model::driver::Both;
use model::*;

#[test]
fn smoke() {
    let mut b = Both::new();
    let a = b.add_actor(Cred::new(1000, 1000));
    let o = b.add_actor(Cred::new(2000, 2000));
    let Ret::Val(q) = b.apply(a, &Call::MsgGet { key: 5, flags: IPC_CREAT | 0o640 }) else { panic!() };
    let q = q as i32;
    b.apply(a, &Call::MsgSnd { id: q, mtype: 3, msg: vec![1, 2, 3] });
    b.check_state();
    b.apply(o, &Call::MsgSnd { id: q, mtype: 3, msg: vec![1, 2, 3] });
    b.apply(a, &Call::MsgRcv { id: q, bufsz: 2, msgtyp: -4, flags: MSG_NOERROR });
    b.apply(a, &Call::MsgRcv { id: q + 7, bufsz: 2, msgtyp: -4, flags: MSG_NOERROR });
    let Ret::Val(s) = b.apply(a, &Call::SemGet { key: 0, nsems: 2, flags: 0o600 }) else { panic!() };
    let s = s as i32;
    b.apply(a, &Call::SemOp { id: s, sops: vec![(0, 2, SEM_UNDO as i16), (1, 1, 0)] });
    b.check_state();
    b.apply(a, &Call::Exit);
    b.check_state();
    b.apply(a, &Call::SemOp { id: s + 5, sops: vec![(0, 2, SEM_UNDO as i16); 501] });
    b.apply(a, &Call::SemOp { id: s + 5, sops: vec![(3, 2, SEM_UNDO as i16)] });
    b.apply(a, &Call::SemSetVal { id: s + 5, num: 0, val: -1 });
    let Ret::Val(m) = b.apply(a, &Call::ShmGet { key: 9, size: 5000, flags: IPC_CREAT | 0o600 }) else {
        panic!()
    };
    let m = m as i32;
    b.apply(a, &Call::ShmAt { id: m, flags: 0 });
    b.apply(a, &Call::ShmRmid { id: m });
    b.check_state();
    b.apply(a, &Call::ShmLock { id: m });
    b.apply(o, &Call::ShmLock { id: m });
    b.check_state();
    b.apply(a, &Call::Exit);
    b.check_state();
    b.apply(a, &Call::MsgInfo);
    b.apply(a, &Call::SemInfo);
    b.apply(a, &Call::ShmInfo);
}
