//! `ipc_perm` and the kernel's permission checks (`ipcperms`, `ipcctl_obtain_check`,
//! `ipc_update_perm`).
//!
//! # Implementation
//!
//! Every operation checks permission, and the fast paths take no lock, so the mutable part
//! of an `ipc_perm` (key, uid, gid, mode) sits in a *seqlock* ([`PermCell`]): a version
//! word that is odd while a writer is inside, plus one atomic per field. A reader loads the
//! version (Acquire), the fields (Acquire), and the version again; if the two versions are
//! equal and even, the fields form one consistent snapshot — had any field load returned a
//! writer's store, that load would synchronize with the writer, whose odd-making CAS would
//! then be visible to the second version load. Writers (`IPC_SET`, `IPC_RMID` of a segment,
//! `SHM_LOCK`) are rare; they serialize among themselves by the CAS that makes the version
//! odd. So a permission check is linearizable against `IPC_SET` and costs a handful of
//! plain loads.

use std::fmt;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::cred::{Capabilities, Credentials};
use super::key::Key;
use crate::error::ErrorKind;
use crate::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};
use crate::sync::{hint, thread};

/// The `ipc_perm` of svipc(7): who owns an object, who created it, and its mode.
///
/// Returned inside every `*_ds` (the per-mechanism stat
/// structs) and by the namespace listing.
///
/// `Debug` prints `mode` in octal, as C programs and `ipcs` write it:
///
/// ```
/// use svipc::{Credentials, Key, Namespace};
///
/// let me = Namespace::new().process(Credentials::new(1000, 100));
/// let set = me.sem_set(Key::new(5)).create(0o640).nsems(1).open()?;
/// assert_eq!(
///     format!("{:?}", set.stat()?.perm),
///     "IpcPerm { key: Key(0x00000005), uid: 1000, gid: 100, cuid: 1000, cgid: 100, mode: 0o640, seq: 0 }"
/// );
/// # Ok::<(), svipc::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpcPerm {
    /// `__key`: the key the object was created with; [`Key::PRIVATE`] for private objects,
    /// and for a segment once `IPC_RMID` marked it while attached.
    pub key: Key,
    /// `uid`: the owner's effective uid (changed by `IPC_SET`).
    pub uid: u32,
    /// `gid`: the owner's effective gid (changed by `IPC_SET`).
    pub gid: u32,
    /// `cuid`: the creator's effective uid; never changes.
    pub cuid: u32,
    /// `cgid`: the creator's effective gid; never changes.
    pub cgid: u32,
    /// `mode`: the low 9 bits are the permissions; segments add `SHM_DEST` (0o1000) and
    /// `SHM_LOCKED` (0o2000).
    pub mode: u32,
    /// `__seq`: the sequence number, the id's high bits (`id >> 15`).
    pub seq: u32,
}

impl fmt::Debug for IpcPerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcPerm")
            .field("key", &self.key)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("cuid", &self.cuid)
            .field("cgid", &self.cgid)
            .field("mode", &Octal(self.mode))
            .field("seq", &self.seq)
            .finish()
    }
}

/// A mode word that `Debug` prints in octal (`0o600`), as C and `ipcs` write modes; used by
/// every `Debug` that shows a mode.
#[derive(Clone, Copy)]
pub(crate) struct Octal(pub(crate) u32);

impl fmt::Debug for Octal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#o}", self.0)
    }
}

/// Read permission as a `*get` flag or internal request (`S_IRUGO`).
pub(crate) const READ: u32 = 0o444;
/// Write ("alter") permission (`S_IWUGO`).
pub(crate) const WRITE: u32 = 0o222;
/// Execute permission (`S_IXUGO`): what `shmat` with `SHM_EXEC` asks for besides read.
#[cfg_attr(loom, allow(dead_code))] // its caller, the C layer (`svipc::c`), is not built under loom
pub(crate) const EXEC: u32 = 0o111;

/// The kernel's `ipcperms()`: may `creds` access an object with permissions `perm` in the
/// way `flag` asks?
///
/// The request's three triplets are OR-ed (`0400` and `0004` both mean "read"). The granted
/// triplet is the owner's if the caller's euid is the owner's or the creator's uid, else
/// the group's if the caller is in the owner's or the creator's group (effective or
/// supplementary), else other's. There is no fall-through: an owner whose owner bits deny is
/// denied even where group or other bits would allow. `CAP_IPC_OWNER` bypasses the check.
#[inline]
pub(crate) fn ipcperms(perm: &IpcPerm, creds: &Credentials, flag: u32) -> bool {
    let requested = requested(flag);
    let granted = if creds.uid() == perm.cuid || creds.uid() == perm.uid {
        perm.mode >> 6
    } else if creds.in_group(perm.cgid) || creds.in_group(perm.gid) {
        perm.mode >> 3
    } else {
        perm.mode
    };
    requested & !granted & 0o7 == 0 || creds.has(Capabilities::IPC_OWNER)
}

/// The triplet a request asks for: its three triplets OR-ed (`ipcperms`' `requested_mode`
/// folded to one triplet).
#[inline]
fn requested(flag: u32) -> u32 {
    ((flag >> 6) | (flag >> 3) | flag) & 0o7
}

/// The ownership rule of `IPC_SET` and `IPC_RMID` (`ipcctl_obtain_check`): the owner, the
/// creator, or `CAP_SYS_ADMIN`; no mode bits are needed.
pub(crate) fn is_owner_or_admin(perm: &IpcPerm, creds: &Credentials) -> bool {
    creds.uid() == perm.cuid || creds.uid() == perm.uid || creds.has(Capabilities::SYS_ADMIN)
}

/// Whether `id` is a uid or gid `IPC_SET` accepts: the kernel refuses ids that do not map
/// into the caller's user namespace, of which `(uid_t)-1` is the one every namespace has.
pub(crate) fn valid_id(id: u32) -> bool {
    id != u32::MAX
}

/// The mutable part of an `ipc_perm`, readable without a lock (see the module docs).
#[derive(Debug)]
pub(crate) struct PermCell {
    /// Seqlock version: odd while a writer is between its two stores to it.
    version: AtomicU32,
    key: AtomicI32,
    uid: AtomicU32,
    gid: AtomicU32,
    mode: AtomicU32,
    cuid: u32,
    cgid: u32,
    seq: u32,
}

impl PermCell {
    /// The permissions of a new object: owner and creator are the caller (`ipc_addid`), the
    /// mode is `mode & 0777` (the constructors' `flg & S_IRWXUGO`).
    pub(crate) fn new(key: Key, creds: &Credentials, mode: u32, seq: u32) -> PermCell {
        PermCell {
            version: AtomicU32::new(0),
            key: AtomicI32::new(key.raw()),
            uid: AtomicU32::new(creds.uid()),
            gid: AtomicU32::new(creds.gid()),
            mode: AtomicU32::new(mode & 0o777),
            cuid: creds.uid(),
            cgid: creds.gid(),
            seq,
        }
    }

    /// The fields as they are now, each loaded with `order`; consistent only under the
    /// seqlock protocol of [`load`](Self::load) or [`update`](Self::update).
    #[inline]
    fn fields(&self, order: std::sync::atomic::Ordering) -> IpcPerm {
        IpcPerm {
            key: Key::new(self.key.load(order)),
            uid: self.uid.load(order),
            gid: self.gid.load(order),
            mode: self.mode.load(order),
            cuid: self.cuid,
            cgid: self.cgid,
            seq: self.seq,
        }
    }

    /// One consistent snapshot.
    pub(crate) fn load(&self) -> IpcPerm {
        self.load_versioned().0
    }

    /// One consistent snapshot and the seqlock version it was read at.
    #[inline]
    fn load_versioned(&self) -> (IpcPerm, u32) {
        loop {
            let v1 = self.version.load(Acquire);
            if v1 & 1 == 0 {
                let perm = self.fields(Acquire);
                if self.version.load(Relaxed) == v1 {
                    return (perm, v1);
                }
            }
            hint::spin_loop();
        }
    }

    /// [`check`](Self::check), returning the version of the snapshot that passed, for
    /// [`unchanged_since`](Self::unchanged_since).
    #[inline]
    pub(crate) fn check_versioned(&self, creds: &Credentials, flag: u32) -> Result<u32, ErrorKind> {
        let (perm, version) = self.load_versioned();
        if ipcperms(&perm, creds, flag) {
            Ok(version)
        } else {
            Err(ErrorKind::PermissionDenied)
        }
    }

    /// Whether no [`update`](Self::update) ran since the snapshot of `version`. For a caller
    /// holding the lock under which its object's updates run (the lock orders this load
    /// after any earlier update): then an earlier check still holds, and need not be redone.
    #[inline]
    pub(crate) fn unchanged_since(&self, version: u32) -> bool {
        self.version.load(Relaxed) == version
    }

    /// `ipcperms` against the current snapshot: `Err(PermissionDenied)` (EACCES) when denied.
    #[inline]
    pub(crate) fn check(&self, creds: &Credentials, flag: u32) -> Result<(), ErrorKind> {
        self.check_versioned(creds, flag).map(drop)
    }

    /// The `IPC_SET`/`IPC_RMID` ownership check: `Err(NotPermitted)` (EPERM) when denied.
    pub(crate) fn check_owner(&self, creds: &Credentials) -> Result<(), ErrorKind> {
        if is_owner_or_admin(&self.load(), creds) {
            Ok(())
        } else {
            Err(ErrorKind::NotPermitted)
        }
    }

    /// Changes key, uid, gid or mode as one atomic step; `f` sees the current snapshot and
    /// edits it (cuid, cgid and seq are ignored: they never change).
    pub(crate) fn update(&self, f: impl FnOnce(&mut IpcPerm)) {
        let mut v = self.version.load(Relaxed);
        loop {
            if v & 1 == 0 {
                match self.version.compare_exchange_weak(v, v.wrapping_add(1), AcqRel, Relaxed) {
                    Ok(_) => break,
                    Err(now) => v = now,
                }
            } else {
                thread::yield_now();
                v = self.version.load(Relaxed);
            }
        }
        // We hold the write side: no other writer runs until the version is even again.
        let mut perm = self.fields(Relaxed);
        f(&mut perm);
        self.key.store(perm.key.raw(), Release);
        self.uid.store(perm.uid, Release);
        self.gid.store(perm.gid, Release);
        self.mode.store(perm.mode, Release);
        self.version.store(v.wrapping_add(2), Release);
    }

    /// `ipc_update_perm`: the `IPC_SET` change of uid, gid and the low 9 mode bits (higher
    /// bits such as `SHM_DEST` and `SHM_LOCKED` survive). The caller has checked ownership
    /// and the ids' validity.
    pub(crate) fn set(&self, uid: u32, gid: u32, mode: u32) {
        self.update(|p| {
            p.uid = uid;
            p.gid = gid;
            p.mode = (p.mode & !0o777) | (mode & 0o777);
        });
    }
}

/// A handle's memo of the permission checks that passed for it: the [`PermCell`] version
/// they passed at and the triplet bits they asked for (`rwx`, as [`ipcperms`] folds a
/// request), in one word (`version << 32 | bits`). A check that asks for bits already
/// granted, while the cell is still at that version, passes without reading the snapshot
/// again: the caller's credentials never change (a [`Credentials`] is fixed for its
/// process), so `ipcperms` would decide the same on the same fields.
///
/// # Why it is a correct check
///
/// * The version is even and unchanged only while no `update` began since the memo's
///   check read its snapshot: an update makes it odd first and leaves it 2 higher. Its one
///   load is the check's linearization point, as the two version loads are a full check's;
///   a writer that completed before it (in happens-before) left a version it cannot miss
///   (read-write coherence). Only a wrap of the 32-bit version (2^31 updates between a
///   check and the next) could fool it, as it could [`Caller::check_again`].
/// * Granted bits compose: for fixed credentials and fields `ipcperms` grants one fixed
///   triplet (or everything, with `CAP_IPC_OWNER`), so a request whose bits were each
///   granted before is granted now.
/// * Only passes are recorded; a denial is read again each time (it is the rare path).
///   Every stored word is a true statement about its version, so a racing store by another
///   user of the same handle (an older version overwriting a newer one) only costs a
///   full check later.
///
/// The memo is stored with Release and loaded with Acquire, though the argument above needs
/// neither (a plain `mov` either way on x86-64): a load that finds a newer memo then also
/// finds the version that memo was checked at, so it passes instead of refilling. That
/// matters to the loom models, not to the answers: with Relaxed, a thread whose memo was
/// refilled by another (an `IPC_SET`'s [`prime`](Self::prime)) could read the new memo beside
/// the old version and refill, one more store for every later load to choose from, and
/// `waiting_sender_races_a_receive_and_a_mode_switch` explored 78 s of interleavings
/// instead of 19.
#[derive(Debug)]
pub(crate) struct PermCache(AtomicU64);

impl PermCache {
    /// Nothing granted yet.
    pub(crate) fn new() -> PermCache {
        PermCache(AtomicU64::new(0))
    }

    /// A memo holding what `creds` are granted now of the two requests the calls make
    /// (`READ`: a receive, a wait-for-zero `semop`; `WRITE`: a send, an altering `semop`), for
    /// a handle being made; see [`prime`](Self::prime).
    pub(crate) fn primed(cell: &PermCell, creds: &Credentials) -> PermCache {
        let memo = PermCache::new();
        memo.prime(cell, creds);
        memo
    }

    /// Fills the memo with what `creds` are granted now of `READ` and `WRITE`: at the open,
    /// and by the handle that made an `IPC_SET` (which moved the version), after it.
    ///
    /// So the memo is only read by the handle's calls until another handle's `IPC_SET`,
    /// instead of being written by the first call of each of the handles' users, racing one
    /// another. A memo written by several threads gives every later check's load several
    /// values to choose from: the loom models of the message queue, whose threads share one
    /// handle's clones after an `IPC_SET` that sets `msg_qbytes`, explored eight to ten times
    /// the interleavings with a memo filled by its users (`two_receivers_different_selectors`
    /// 15 s → 170 s; 15 s again with this). Only passes are stored, so a denial here costs
    /// nothing later.
    pub(crate) fn prime(&self, cell: &PermCell, creds: &Credentials) {
        // The results are the memo's business: a denied request is asked again, and
        // answered, at the call that makes it.
        let _ = self.check(cell, creds, READ);
        let _ = self.check(cell, creds, WRITE);
    }

    /// [`PermCell::check`] for `creds`, which must be the same credentials at every call
    /// on this memo: `Ok` at once if the memo already holds a pass for these bits at the
    /// cell's current version, else the full check, remembered if it passed.
    #[inline]
    pub(crate) fn check(&self, cell: &PermCell, creds: &Credentials, flag: u32) -> Result<(), ErrorKind> {
        self.check_versioned(cell, creds, flag).map(drop)
    }

    /// [`check`](Self::check), returning the version the pass holds at (the cell's version
    /// at the check), for [`PermCell::unchanged_since`]: what [`PermCell::check_versioned`]
    /// returns, without its snapshot while the memo holds.
    #[inline]
    pub(crate) fn check_versioned(
        &self,
        cell: &PermCell,
        creds: &Credentials,
        flag: u32,
    ) -> Result<u32, ErrorKind> {
        let want = u64::from(requested(flag));
        let memo = self.0.load(Acquire);
        let version = (memo >> 32) as u32;
        if want & !memo == 0 && cell.version.load(Acquire) == version {
            return Ok(version);
        }
        self.refill(cell, creds, flag, memo, want)
    }

    /// The full check, and the memo updated on a pass: the bits of the same version kept,
    /// those of an older one dropped.
    #[inline(never)]
    fn refill(
        &self,
        cell: &PermCell,
        creds: &Credentials,
        flag: u32,
        memo: u64,
        want: u64,
    ) -> Result<u32, ErrorKind> {
        let version = cell.check_versioned(creds, flag)?;
        let kept = if (memo >> 32) as u32 == version { memo & 0o7 } else { 0 };
        self.0.store(u64::from(version) << 32 | kept | want, Release);
        Ok(version)
    }
}

/// Who makes a call on an object: the caller's credentials and its handle's [`PermCache`]
/// (which holds passes for these credentials only). The message queue's engine takes one
/// per call, so that its permission checks on every send and receive go through the memo.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    creds: &'a Credentials,
    memo: &'a PermCache,
}

impl<'a> Caller<'a> {
    /// `creds`, checked through `memo`, which must only ever be used with these credentials.
    #[inline]
    pub(crate) fn new(creds: &'a Credentials, memo: &'a PermCache) -> Caller<'a> {
        Caller { creds, memo }
    }

    /// The caller's pid (`msg_lspid`, `msg_lrpid`).
    #[inline]
    pub(crate) fn pid(self) -> i32 {
        self.creds.pid()
    }

    /// [`PermCell::check_versioned`] through the memo.
    #[inline]
    pub(crate) fn check(self, cell: &PermCell, flag: u32) -> Result<u32, ErrorKind> {
        self.memo.check_versioned(cell, self.creds, flag)
    }

    /// The check of a later pass of the same call, under the lock its object's updates run
    /// under (so that the version it loads is current): nothing to do while the version an
    /// earlier pass's check returned (`checked`) is unchanged, else [`check`](Self::check).
    #[inline]
    pub(crate) fn check_again(
        self,
        cell: &PermCell,
        flag: u32,
        checked: Option<u32>,
    ) -> Result<(), ErrorKind> {
        if checked.is_some_and(|v| cell.unchanged_since(v)) {
            Ok(())
        } else {
            self.check(cell, flag).map(drop)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn perm(uid: u32, gid: u32, cuid: u32, cgid: u32, mode: u32) -> IpcPerm {
        IpcPerm { key: Key::new(1), uid, gid, cuid, cgid, mode, seq: 0 }
    }

    fn user(uid: u32, gid: u32) -> Credentials {
        Credentials::new(uid, gid)
    }

    #[test]
    fn requested_triplets_are_ored() {
        let p = perm(1, 1, 1, 1, 0o400);
        let owner = user(1, 1);
        for flag in [0o400, 0o040, 0o004, 0o444, 0] {
            assert!(ipcperms(&p, &owner, flag), "flag {flag:o}");
        }
        for flag in [0o200, 0o020, 0o002, 0o600, 0o606] {
            assert!(!ipcperms(&p, &owner, flag), "flag {flag:o}");
        }
        // IPC_CREAT / IPC_EXCL bits of a *get flag never count as a request
        assert!(ipcperms(&p, &owner, 0o3000 | 0o400));
    }

    #[test]
    fn no_fall_through_and_every_class() {
        // owner denied by owner bits although group and other allow
        let p = perm(10, 20, 11, 21, 0o077);
        assert!(!ipcperms(&p, &user(10, 99), 0o444));
        assert!(!ipcperms(&p, &user(11, 99), 0o444), "creator is owner class");
        // group via gid, via cgid, via a supplementary group
        let p = perm(10, 20, 11, 21, 0o040);
        assert!(ipcperms(&p, &user(50, 20), 0o444));
        assert!(ipcperms(&p, &user(50, 21), 0o444));
        assert!(ipcperms(&p, &user(50, 99).with_groups([7, 21]), 0o444));
        assert!(!ipcperms(&p, &user(50, 99), 0o444), "other has no bits");
        // group member denied by group bits although other allows
        let p = perm(10, 20, 11, 21, 0o007);
        assert!(!ipcperms(&p, &user(50, 20), 0o444));
        assert!(ipcperms(&p, &user(50, 99), 0o666));
    }

    #[test]
    fn cap_ipc_owner_bypasses_only_mode() {
        let p = perm(10, 20, 10, 20, 0);
        let root = Credentials::new(0, 0);
        assert!(ipcperms(&p, &root, 0o666));
        let weak_root = root.clone().with_capabilities(Capabilities::ALL.without(Capabilities::IPC_OWNER));
        assert!(!ipcperms(&p, &weak_root, 0o444));
        assert!(is_owner_or_admin(&p, &weak_root), "CAP_SYS_ADMIN");
        let no_admin = root.with_capabilities(Capabilities::IPC_OWNER);
        assert!(!is_owner_or_admin(&p, &no_admin));
        assert!(ipcperms(&p, &no_admin, 0o666));
    }

    #[test]
    fn the_memo_passes_only_what_passed_at_the_current_version() {
        let owner = user(10, 20);
        let cell = PermCell::new(Key::new(5), &owner, 0o600, 0);
        let memo = PermCache::new();
        assert_eq!(memo.0.load(Relaxed), 0, "nothing granted");
        assert_eq!(memo.check(&cell, &owner, WRITE), Ok(()));
        assert_eq!(memo.0.load(Relaxed), 0o2, "version 0, write");
        assert_eq!(memo.check(&cell, &owner, READ), Ok(()));
        assert_eq!(memo.0.load(Relaxed), 0o6, "version 0, read and write");
        // IPC_SET takes write away: the memo is of an older version, and the check is
        // made again (denied); a denial is not remembered.
        cell.set(10, 20, 0o400);
        assert_eq!(memo.check(&cell, &owner, WRITE), Err(ErrorKind::PermissionDenied));
        assert_eq!(memo.0.load(Relaxed), 0o6);
        assert_eq!(memo.check(&cell, &owner, READ), Ok(()));
        assert_eq!(memo.0.load(Relaxed), 2 << 32 | 0o4, "version 2, read only");
        assert_eq!(memo.check(&cell, &owner, WRITE), Err(ErrorKind::PermissionDenied));
        // A later update (version 4, mode 0) voids it.
        cell.update(|p| p.mode = 0);
        assert_eq!(memo.0.load(Relaxed), 2 << 32 | 0o4);
        assert_eq!(memo.check(&cell, &owner, READ), Err(ErrorKind::PermissionDenied));
        // CAP_IPC_OWNER: every request passes, and is remembered as asked.
        let root = Credentials::new(0, 0);
        let memo = PermCache::new();
        assert_eq!(memo.check(&cell, &root, READ | WRITE), Ok(()));
        assert_eq!(memo.0.load(Relaxed), 4 << 32 | 0o6);
    }

    #[test]
    fn a_primed_memo_holds_what_the_credentials_are_granted_now() {
        let owner = user(10, 20);
        let cell = PermCell::new(Key::new(5), &owner, 0o640, 0);
        assert_eq!(PermCache::primed(&cell, &owner).0.load(Relaxed), 0o6, "owner: read and write");
        let member = user(50, 20);
        let memo = PermCache::primed(&cell, &member);
        assert_eq!(memo.0.load(Relaxed), 0o4, "group: read only; the denied write is not kept");
        assert_eq!(memo.check(&cell, &member, WRITE), Err(ErrorKind::PermissionDenied));
        assert_eq!(PermCache::primed(&cell, &user(60, 60)).0.load(Relaxed), 0, "other: nothing");
        // An update voids it; priming again (as the handle that made the IPC_SET does) holds
        // the new version's grants.
        let memo = PermCache::primed(&cell, &owner);
        cell.set(10, 20, 0o400);
        assert_eq!(memo.check(&cell, &owner, WRITE), Err(ErrorKind::PermissionDenied));
        memo.prime(&cell, &owner);
        assert_eq!(memo.0.load(Relaxed), 2 << 32 | 0o4, "version 2: read only");
    }

    #[test]
    fn set_keeps_high_mode_bits_and_creator() {
        let cell = PermCell::new(Key::new(5), &user(10, 20), 0o600, 3);
        cell.update(|p| p.mode |= 0o1000);
        cell.set(30, 40, 0o7044);
        let p = cell.load();
        assert_eq!((p.uid, p.gid, p.cuid, p.cgid, p.mode, p.seq), (30, 40, 10, 20, 0o1044, 3));
        // the creator keeps owner rights through cuid
        assert!(cell.check_owner(&user(10, 20)).is_ok());
        assert_eq!(cell.check_owner(&user(31, 40)), Err(ErrorKind::NotPermitted));
        assert_eq!(cell.check(&user(50, 40), 0o400), Ok(()));
        assert_eq!(cell.check(&user(50, 40), 0o200), Err(ErrorKind::PermissionDenied));
        assert_eq!(
            cell.check(&user(10, 20), 0o004),
            Err(ErrorKind::PermissionDenied),
            "creator: owner bits 0"
        );
        assert!(valid_id(0) && !valid_id(u32::MAX));
    }
}

/// The seqlock, exposed to the loom models (`loom-tests/tests/loom_ids.rs`); exists only
/// under `--cfg loom`.
#[cfg(loom)]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
pub mod loom_api {
    use super::*;

    pub struct Perm(PermCell);

    impl Default for Perm {
        fn default() -> Perm {
            Perm::new()
        }
    }

    impl Perm {
        /// An object created by uid 1, gid 1 with mode 0o600.
        pub fn new() -> Perm {
            Perm(PermCell::new(Key::new(1), &Credentials::new(1, 1), 0o600, 0))
        }
        pub fn set(&self, uid: u32, gid: u32, mode: u32) {
            self.0.set(uid, gid, mode)
        }
        pub fn load(&self) -> IpcPerm {
            self.0.load()
        }
    }
}
