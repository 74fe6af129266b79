//! Bad input never panics: random operations, numbers, flags and semctl arguments on small
//! sets give errno-shaped errors or succeed, and the set stays consistent.
// Under `--cfg loom` the loom-tests crate checks the engine; tokio's timers and threads
// stay out of what loom runs.
#![cfg(not(loom))]

use svipc::{Credentials, Key, Namespace, SemOp};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let set = ns.process(Credentials::new(0, 0)).sem_set(Key::PRIVATE).create(0o600).nsems(1).open().unwrap();
    assert!(set.try_semop(&[SemOp::from_raw(u16::MAX, i16::MIN, -1)]).is_err());
}

#[test]
fn random_calls_never_panic() {
    let ns = Namespace::new();
    let mut l = ns.limits();
    l.semopm = 8;
    ns.set_limits(l).unwrap();
    let p = ns.process(Credentials::new(0, 0).with_pid(3));
    let mut rng = Rng(12345);
    let sets: Vec<_> =
        (1..4).map(|n| p.sem_set(Key::PRIVATE).create(0o600).nsems(n).open().unwrap()).collect();
    let interesting = [i16::MIN, -32767, -2, -1, 0, 1, 2, 32767, i16::MAX];
    for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
        let set = &sets[(rng.next() % 3) as usize];
        let n = rng.next() % 10;
        let ops: Vec<SemOp> = (0..n)
            .map(|_| {
                let num = if rng.next() % 4 == 0 { rng.next() as u16 } else { (rng.next() % 4) as u16 };
                let op = if rng.next() % 2 == 0 {
                    interesting[(rng.next() % 9) as usize]
                } else {
                    rng.next() as i16
                };
                SemOp::from_raw(num, op, rng.next() as i16)
            })
            .collect();
        if let Err(e) = set.try_semop(&ops) {
            assert!([7, 11, 22, 27, 34].contains(&e.errno()), "{e:?}");
        }
        let num = (rng.next() % 5) as u16;
        let _ = set.set_val(num, rng.next() as u16);
        let _ = set.get_val(num);
        let _ = set.get_ncnt(num);
        let _ = set.get_zcnt(num);
        let _ = set.get_pid(num);
        let vals: Vec<u16> = (0..rng.next() % 5).map(|_| rng.next() as u16).collect();
        let _ = set.set_all(&vals);
        let _ = set.set(rng.next() as u32, rng.next() as u32, rng.next() as u32);
        // poll once, then drop: never waits
        let _ = futures::FutureExt::now_or_never(set.acquire(num, rng.next() as u16 % 3));
        for v in set.get_all().unwrap() {
            assert!(v <= 32767);
        }
        set.set(0, 0, 0o600).unwrap();
    }
    drop(p);
    let _ = ns.process(Credentials::new(0, 0)).sem_set(Key::new(-5)).nsems(u16::MAX).open();
    let _ = ns.process(Credentials::new(0, 0)).sem_set_by_id(i32::MIN);
}
