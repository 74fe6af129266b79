//! Loom models of the id/key layer: get-or-create, lookup and removal racing each other.
#![cfg(loom)]

use loom::thread;
use svipc::__loom::ids;
use svipc::{Credentials, ErrorKind, Namespace};

fn root() -> Credentials {
    Credentials::new(0, 0)
}

/// Two threads `*get(key, IPC_CREAT|IPC_EXCL)`: exactly one creates, the other gets EEXIST.
#[test]
fn create_excl_race_has_one_winner() {
    loom::model(|| {
        let ns = Namespace::new();
        let ns2 = ns.clone();
        let t = thread::spawn(move || ids::get(&ns2, &root(), 42, true, true).map(|h| h.id()));
        let mine = ids::get(&ns, &root(), 42, true, true).map(|h| h.id());
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            (Ok(0), Err(ErrorKind::AlreadyExists)) | (Err(ErrorKind::AlreadyExists), Ok(0)) => {}
            other => panic!("expected one creator and one EEXIST, got {other:?}"),
        }
        assert_eq!(ids::in_use(&ns), 1);
        assert_eq!(ids::get(&ns, &root(), 42, false, false).unwrap().id(), 0);
    });
}

/// Two threads `*get(key, IPC_CREAT)`: one creates, both get the same object.
#[test]
fn create_race_shares_one_object() {
    loom::model(|| {
        let ns = Namespace::new();
        let ns2 = ns.clone();
        let t = thread::spawn(move || ids::get(&ns2, &root(), 7, true, false).unwrap());
        let mine = ids::get(&ns, &root(), 7, true, false).unwrap();
        let theirs = t.join().unwrap();
        assert!(mine.same(&theirs));
        assert_eq!(ids::in_use(&ns), 1);
    });
}

/// A lookup by id races IPC_RMID: the lookup either finds the object (which is then seen
/// removed) or gets EINVAL; never a half-removed object, and the table ends empty.
#[test]
fn lookup_races_removal() {
    loom::model(|| {
        let ns = Namespace::new();
        let obj = ids::get(&ns, &root(), 9, true, true).unwrap();
        let id = obj.id();
        let ns2 = ns.clone();
        let t = thread::spawn(move || ids::remove(&ns2, &root(), id));
        let looked = ids::open_id(&ns, id);
        let by_key = ids::get(&ns, &root(), 9, false, false);
        t.join().unwrap().unwrap();
        match looked {
            Ok(h) => assert!(h.same(&obj)),
            Err(e) => assert_eq!(e, ErrorKind::InvalidArgument),
        }
        match by_key {
            Ok(h) => assert!(h.same(&obj)),
            Err(e) => assert_eq!(e, ErrorKind::NotFound),
        }
        assert!(obj.is_deleted());
        assert_eq!(ids::in_use(&ns), 0);
        assert_eq!(ids::open_id(&ns, id).err(), Some(ErrorKind::InvalidArgument));
    });
}

/// Re-creation by key races removal: the creator gets the old object (then removed) or a
/// new one under a new id, never the removed id back.
#[test]
fn recreate_races_removal() {
    loom::model(|| {
        let ns = Namespace::new();
        let old = ids::get(&ns, &root(), 3, true, false).unwrap();
        let ns2 = ns.clone();
        let t = thread::spawn(move || ids::remove(&ns2, &root(), 0));
        let got = ids::get(&ns, &root(), 3, true, false).unwrap();
        t.join().unwrap().unwrap();
        if got.same(&old) {
            assert!(got.is_deleted());
            assert_eq!(ids::in_use(&ns), 0);
        } else {
            assert_eq!(got.id(), 1);
            assert!(!got.is_deleted());
            assert_eq!(ids::in_use(&ns), 1);
        }
    });
}

/// IPC_SET (uid, gid, mode together) racing two readers of the permission seqlock: each
/// reader sees the whole old or the whole new triple, never a mix.
#[test]
fn perm_seqlock_snapshots_are_whole() {
    use loom::sync::Arc;
    use svipc::__loom::perm::Perm;
    loom::model(|| {
        let perm = Arc::new(Perm::new());
        let writer = {
            let perm = perm.clone();
            thread::spawn(move || {
                perm.set(2, 2, 0o640);
                perm.set(3, 3, 0o604);
            })
        };
        let reader = {
            let perm = perm.clone();
            thread::spawn(move || perm.load())
        };
        let mine = perm.load();
        let theirs = reader.join().unwrap();
        writer.join().unwrap();
        for p in [mine, theirs] {
            assert!(
                matches!((p.uid, p.gid, p.mode), (1, 1, 0o600) | (2, 2, 0o640) | (3, 3, 0o604)),
                "torn snapshot {p:?}"
            );
            assert_eq!((p.cuid, p.cgid), (1, 1));
        }
        let last = perm.load();
        assert_eq!((last.uid, last.gid, last.mode), (3, 3, 0o604));
    });
}
