//! The host kernel's System V calls and the few thread and signal calls the waiters need,
//! each wrapped once, safely, in this one audited file.
//!
//! Every wrapper returns the kernel's errno as `Err(errno)`; the callers name the C call
//! ([`crate::Op`]) when they turn it into an [`Error`](crate::Error). Nothing here retries
//! or interprets: `EINTR` comes back as `Err(EINTR)`, for the waiters to decide.
//!
//! The memory of an attached segment is reached through [`Mapping`], whose copies are
//! atomic (relaxed): another process may write any byte at any time, so no Rust reference
//! to the bytes is made here. The crate's attachments take its base address for their
//! atomic views and raw pointers, whose `unsafe` contracts cover the rest.

// The crate denies `unsafe_code`; this file is one of its few audited exceptions
// (CONTRIBUTING.md, "Unsafe code").
#![allow(unsafe_code)]

use std::cell::Cell;
use std::mem::{align_of, size_of, MaybeUninit};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use libc::{c_int, c_long, c_void};

/// The calling thread's errno.
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)
}

/// `Ok(r)` for a non-negative return, `Err(errno)` for -1.
fn check(r: c_int) -> Result<c_int, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

// ===== message buffers =====

/// The bytes of a C `struct msgbuf { long mtype; char mtext[]; }`: the first
/// `size_of::<long>()` bytes are the type, the rest the text.
///
/// A `Vec<u8>`, so a [`Wire`](super::Wire) encodes straight into it and a receive decodes
/// straight from it. The kernel reads `mtype` with `get_user`, which wants a `long`-aligned
/// address on some architectures; the global allocator gives every allocation of 8 bytes
/// or more that alignment in practice (malloc's 16), and a buffer that lacks it is copied
/// through an aligned one, so correctness never depends on the allocator.
#[derive(Default)]
pub(crate) struct MsgBuf {
    bytes: Vec<u8>,
}

/// Bytes of the `mtype` header.
const HDR: usize = size_of::<c_long>();

impl MsgBuf {
    /// An empty buffer with room for `cap` bytes of text.
    pub(crate) fn with_capacity(cap: usize) -> MsgBuf {
        let mut bytes = Vec::with_capacity(HDR + cap);
        bytes.resize(HDR, 0);
        MsgBuf { bytes }
    }

    /// Empties the text, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.bytes.resize(HDR, 0);
    }

    /// Replaces the text with what `encode` appends to the vector it is given (which holds
    /// the header before the text; an encoder only appends).
    ///
    /// # Panics
    ///
    /// If `encode` shortened the vector into the header (a `Wire` impl that does not only
    /// append).
    pub(crate) fn encode_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        self.clear();
        encode(&mut self.bytes);
        assert!(self.bytes.len() >= HDR, "Wire::encode must only append to its vector");
    }

    /// The text in use.
    pub(crate) fn text(&self) -> &[u8] {
        &self.bytes[HDR..]
    }

    /// The text as an owned vector (the buffer is consumed).
    pub(crate) fn into_text(mut self) -> Vec<u8> {
        self.bytes.drain(..HDR);
        self.bytes
    }

    fn aligned(&self) -> bool {
        self.bytes.as_ptr() as usize % align_of::<c_long>() == 0
    }
}

// ===== msg =====

/// `msgget(key, msgflg)`.
pub(crate) fn msgget(key: i32, flags: i32) -> Result<i32, i32> {
    // SAFETY: msgget(2) takes two integers and touches no memory of ours.
    check(unsafe { libc::msgget(key, flags) })
}

/// `msgsnd(msqid, buf, len, msgflg)` with `buf.mtype = mtype`.
pub(crate) fn msgsnd(id: i32, buf: &mut MsgBuf, mtype: i64, flags: i32) -> Result<(), i32> {
    let mtype = c_long::try_from(mtype).map_err(|_| libc::EINVAL)?; // 32-bit `long`
    buf.bytes[..HDR].copy_from_slice(&mtype.to_ne_bytes());
    let len = buf.bytes.len() - HDR;
    if !buf.aligned() {
        let mut words: Vec<c_long> = vec![0; buf.bytes.len().div_ceil(HDR)];
        // SAFETY: `words` holds at least `bytes.len()` bytes; the two allocations are
        // distinct.
        unsafe {
            std::ptr::copy_nonoverlapping(
                buf.bytes.as_ptr(),
                words.as_mut_ptr().cast::<u8>(),
                buf.bytes.len(),
            )
        };
        // SAFETY: `words` is a `long`-aligned msgbuf holding the header and `len` bytes of
        // text, all that msgsnd(2) reads; it keeps no pointer.
        return check(unsafe { libc::msgsnd(id, words.as_ptr().cast::<c_void>(), len, flags) }).map(drop);
    }
    // SAFETY: `buf.bytes` is a `long`-aligned (checked) msgbuf holding the header and `len`
    // bytes of text, all that msgsnd(2) reads (`msgsz = len`); the kernel copies them before
    // returning and keeps no pointer.
    check(unsafe { libc::msgsnd(id, buf.bytes.as_ptr().cast::<c_void>(), len, flags) }).map(drop)
}

/// `msgrcv(msqid, buf, cap, msgtyp, msgflg)` (the buffer grows to `cap` bytes of text if
/// it must): the message's type; its text is then `buf.text()`.
pub(crate) fn msgrcv(id: i32, buf: &mut MsgBuf, cap: usize, msgtyp: i64, flags: i32) -> Result<i64, i32> {
    let msgtyp = c_long::try_from(msgtyp).map_err(|_| libc::EINVAL)?;
    buf.clear();
    buf.bytes.reserve(cap);
    if !buf.aligned() {
        let mut words: Vec<c_long> = vec![0; 1 + cap.div_ceil(HDR)];
        // SAFETY: `words` is a writable, `long`-aligned buffer of at least `HDR + cap`
        // bytes; msgrcv(2) writes the type and at most `cap` bytes of text.
        let n = unsafe { libc::msgrcv(id, words.as_mut_ptr().cast::<c_void>(), cap, msgtyp, flags) };
        let n = usize::try_from(n).map_err(|_| errno())?.min(cap);
        // SAFETY: `words` holds `HDR + n` initialized bytes (zeroed, then written).
        let got = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), HDR + n) };
        buf.bytes.clear();
        buf.bytes.extend_from_slice(got);
        #[allow(clippy::useless_conversion)] // `long` is 32 bits on some targets
        return Ok(i64::from(words[0]));
    }
    // SAFETY: `buf.bytes` has capacity for `HDR + cap` bytes at a `long`-aligned address
    // (checked); msgrcv(2) writes the type and at most `msgsz = cap` bytes of text into it,
    // and nothing else reads the spare capacity meanwhile (we hold `&mut`).
    let n = unsafe { libc::msgrcv(id, buf.bytes.as_mut_ptr().cast::<c_void>(), cap, msgtyp, flags) };
    let n = usize::try_from(n).map_err(|_| errno())?.min(cap);
    // SAFETY: the kernel initialized the header and `n` bytes of text (its return value,
    // at most `cap`, within the capacity).
    unsafe { buf.bytes.set_len(HDR + n) };
    let mut mtype = [0; HDR];
    mtype.copy_from_slice(&buf.bytes[..HDR]);
    #[allow(clippy::useless_conversion)] // `long` is 32 bits on some targets
    Ok(i64::from(c_long::from_ne_bytes(mtype)))
}

/// `msgctl(msqid, IPC_STAT, &ds)`.
pub(crate) fn msgctl_stat(id: i32) -> Result<libc::msqid_ds, i32> {
    let mut ds = MaybeUninit::<libc::msqid_ds>::zeroed();
    // SAFETY: `ds` is a writable `struct msqid_ds` (zeroed, so every field is initialized
    // even where the kernel leaves padding alone); IPC_STAT writes only that struct.
    check(unsafe { libc::msgctl(id, libc::IPC_STAT, ds.as_mut_ptr()) })?;
    // SAFETY: zero-initialized and then filled by the kernel: every field holds a valid
    // integer.
    Ok(unsafe { ds.assume_init() })
}

/// `msgctl(msqid, IPC_SET, &ds)` with the four fields IPC_SET reads.
pub(crate) fn msgctl_set(id: i32, uid: u32, gid: u32, mode: u32, qbytes: u64) -> Result<(), i32> {
    let mut ds = msgctl_stat(id)?;
    ds.msg_perm.uid = uid;
    ds.msg_perm.gid = gid;
    ds.msg_perm.mode = (mode & 0o777) as _;
    ds.msg_qbytes = qbytes as _;
    // SAFETY: `ds` is a valid, initialized `struct msqid_ds` that IPC_SET only reads.
    check(unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) }).map(drop)
}

/// `msgctl(msqid, IPC_RMID, NULL)`.
pub(crate) fn msgctl_rmid(id: i32) -> Result<(), i32> {
    // SAFETY: IPC_RMID ignores the buffer argument; NULL is what C passes.
    check(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}

// ===== sem =====

/// `semget(key, nsems, semflg)`.
pub(crate) fn semget(key: i32, nsems: i32, flags: i32) -> Result<i32, i32> {
    // SAFETY: semget(2) takes three integers and touches no memory of ours.
    check(unsafe { libc::semget(key, nsems, flags) })
}

/// A C `struct sembuf`.
pub(crate) fn sembuf(num: u16, op: i16, flags: i16) -> libc::sembuf {
    libc::sembuf { sem_num: num, sem_op: op, sem_flg: flags }
}

/// `semop(semid, sops, nsops)`.
pub(crate) fn semop(id: i32, ops: &mut [libc::sembuf]) -> Result<(), i32> {
    // SAFETY: `ops` is a valid array of `ops.len()` `struct sembuf`s, which semop(2) reads
    // (and, on some kernels, writes back unchanged); it keeps no pointer after returning.
    check(unsafe { libc::semop(id, ops.as_mut_ptr(), ops.len()) }).map(drop)
}

/// `union semun`, the fourth argument of `semctl`.
#[repr(C)]
#[derive(Clone, Copy)]
union Semun {
    val: c_int,
    buf: *mut libc::semid_ds,
    array: *mut u16,
}

/// `semctl(semid, semnum, cmd, arg)`.
///
/// # Safety
///
/// `arg` must be what `cmd` reads or writes: a valid `semid_ds` for `IPC_STAT`/`IPC_SET`,
/// an array of `nsems` `unsigned short`s for `GETALL`/`SETALL`, anything for the others.
unsafe fn semctl(id: i32, num: i32, cmd: c_int, arg: Semun) -> Result<c_int, i32> {
    // SAFETY: the caller's contract; glibc reads the fourth argument as `union semun`,
    // which `Semun` is (`#[repr(C)]`, same members).
    check(unsafe { libc::semctl(id, num, cmd, arg) })
}

/// `semctl(semid, semnum, cmd)` for the commands that read or write one integer:
/// `GETVAL`, `GETPID`, `GETNCNT`, `GETZCNT`, `SETVAL` (with `val`), `IPC_RMID`.
pub(crate) fn semctl_int(id: i32, num: i32, cmd: c_int, val: c_int) -> Result<c_int, i32> {
    assert!(matches!(
        cmd,
        libc::GETVAL | libc::GETPID | libc::GETNCNT | libc::GETZCNT | libc::SETVAL | libc::IPC_RMID
    ));
    // SAFETY: these commands use no pointer from `arg` (SETVAL reads `arg.val`).
    unsafe { semctl(id, num, cmd, Semun { val }) }
}

/// `semctl(semid, 0, GETALL, vals)`: `vals` must have `nsems` entries.
pub(crate) fn semctl_getall(id: i32, vals: &mut [u16]) -> Result<(), i32> {
    let nsems = semctl_stat(id)?.sem_nsems as usize;
    if vals.len() < nsems {
        return Err(libc::EINVAL);
    }
    // SAFETY: `vals` holds at least `nsems` writable `unsigned short`s (checked above; a
    // set's size never changes), which is what GETALL writes.
    unsafe { semctl(id, 0, libc::GETALL, Semun { array: vals.as_mut_ptr() }) }.map(drop)
}

/// `semctl(semid, 0, SETALL, vals)`: `vals` must have `nsems` entries.
pub(crate) fn semctl_setall(id: i32, vals: &[u16]) -> Result<(), i32> {
    let nsems = semctl_stat(id)?.sem_nsems as usize;
    if vals.len() != nsems {
        return Err(libc::EINVAL);
    }
    // SAFETY: `vals` holds exactly `nsems` `unsigned short`s, which SETALL only reads (the
    // pointer is `*mut` by C's declaration).
    unsafe { semctl(id, 0, libc::SETALL, Semun { array: vals.as_ptr().cast_mut() }) }.map(drop)
}

/// `semctl(semid, 0, IPC_STAT, &ds)`.
pub(crate) fn semctl_stat(id: i32) -> Result<libc::semid_ds, i32> {
    let mut ds = MaybeUninit::<libc::semid_ds>::zeroed();
    // SAFETY: `ds` is a writable `struct semid_ds`, which IPC_STAT fills.
    unsafe { semctl(id, 0, libc::IPC_STAT, Semun { buf: ds.as_mut_ptr() }) }?;
    // SAFETY: zeroed, then filled by the kernel: every field is an initialized integer.
    Ok(unsafe { ds.assume_init() })
}

/// `semctl(semid, 0, IPC_SET, &ds)` with the owner and mode.
pub(crate) fn semctl_set(id: i32, uid: u32, gid: u32, mode: u32) -> Result<(), i32> {
    let mut ds = semctl_stat(id)?;
    ds.sem_perm.uid = uid;
    ds.sem_perm.gid = gid;
    ds.sem_perm.mode = (mode & 0o777) as _;
    // SAFETY: `ds` is a valid `struct semid_ds`, which IPC_SET reads.
    unsafe { semctl(id, 0, libc::IPC_SET, Semun { buf: &mut ds }) }.map(drop)
}

// ===== shm =====

/// `shmget(key, size, shmflg)`.
pub(crate) fn shmget(key: i32, size: usize, flags: i32) -> Result<i32, i32> {
    // SAFETY: shmget(2) takes integers and touches no memory of ours.
    check(unsafe { libc::shmget(key, size, flags) })
}

/// `shmctl(shmid, IPC_STAT, &ds)`.
pub(crate) fn shmctl_stat(id: i32) -> Result<libc::shmid_ds, i32> {
    let mut ds = MaybeUninit::<libc::shmid_ds>::zeroed();
    // SAFETY: `ds` is a writable `struct shmid_ds`, which IPC_STAT fills.
    check(unsafe { libc::shmctl(id, libc::IPC_STAT, ds.as_mut_ptr()) })?;
    // SAFETY: zeroed, then filled by the kernel: every field is an initialized integer.
    Ok(unsafe { ds.assume_init() })
}

/// `shmctl(shmid, IPC_SET, &ds)` with the owner and mode.
pub(crate) fn shmctl_set(id: i32, uid: u32, gid: u32, mode: u32) -> Result<(), i32> {
    let mut ds = shmctl_stat(id)?;
    ds.shm_perm.uid = uid;
    ds.shm_perm.gid = gid;
    ds.shm_perm.mode = (mode & 0o777) as _;
    // SAFETY: `ds` is a valid `struct shmid_ds`, which IPC_SET reads.
    check(unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) }).map(drop)
}

/// `shmctl(shmid, cmd, NULL)` for `IPC_RMID`, `SHM_LOCK`, `SHM_UNLOCK`.
pub(crate) fn shmctl_cmd(id: i32, cmd: c_int) -> Result<(), i32> {
    assert!(matches!(cmd, libc::IPC_RMID | libc::SHM_LOCK | libc::SHM_UNLOCK));
    // SAFETY: these commands ignore the buffer argument.
    check(unsafe { libc::shmctl(id, cmd, std::ptr::null_mut()) }).map(drop)
}

/// An attachment of a segment (`shmat`), detached (`shmdt`) on drop.
///
/// The bytes may be written at any moment by another process (or by another attachment in
/// this one), so they are only ever reached through atomic accesses: [`read`](Self::read)
/// and [`write`](Self::write) copy with relaxed atomic loads and stores (word-sized where
/// aligned, bytes at the edges), and [`atomic_u32`](Self::atomic_u32) /
/// [`atomic_u64`](Self::atomic_u64) give atomic views at aligned offsets. A race with a C
/// writer is then a race between atomics, which both languages define, never undefined
/// behaviour; the order it gives is the one the caller builds with acquire/release on the
/// views.
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY (Send, Sync): the mapping stays at `base` until `Mapping` drops (shmdt runs only
// there), whichever thread that is; every access to the bytes is atomic, so shared use from
// several threads is a race between atomics, which is defined.
unsafe impl Send for Mapping {}
// SAFETY: see `Send` above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `shmat(shmid, NULL, read_only ? SHM_RDONLY : 0)`, covering `len` bytes (the
    /// segment's `shm_segsz`, which the mapping is at least as long as).
    pub(crate) fn attach(id: i32, len: usize, read_only: bool) -> Result<Mapping, i32> {
        let flags = if read_only { libc::SHM_RDONLY } else { 0 };
        // SAFETY: with a NULL address the kernel picks a free range: no existing mapping of
        // ours is replaced. The result is checked below.
        let p = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if p as isize == -1 {
            return Err(errno());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or(libc::EINVAL)?;
        Ok(Mapping { base, len, writable: !read_only })
    }

    /// The address `shmat` returned: for the crate's attachments, which reach the bytes
    /// through it under the same rule (atomic accesses, or the `unsafe` accessors' contracts).
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Bytes covered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the attachment is read-write.
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    /// `Err(EINVAL)` unless `off..off + n` lies within the mapping.
    fn check_range(&self, off: usize, n: usize) -> Result<(), i32> {
        match off.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(libc::EINVAL),
        }
    }

    /// Copies `dst.len()` bytes at `off` out of the segment, with relaxed atomic loads;
    /// `Err(EINVAL)` if they are not all within it.
    pub(crate) fn read(&self, off: usize, dst: &mut [u8]) -> Result<(), i32> {
        self.check_range(off, dst.len())?;
        let mut i = 0;
        while i < dst.len() {
            let p = self.base.as_ptr().wrapping_add(off + i);
            if p as usize % align_of::<AtomicU64>() == 0 && dst.len() - i >= 8 {
                // SAFETY: `p` is 8-aligned and `p..p+8` lies in the live mapping (range
                // checked above); the memory is only ever accessed atomically by us, and an
                // `AtomicU64` has the layout of a `u64`. No `&mut` to it exists.
                let w = unsafe { &*p.cast::<AtomicU64>() }.load(Ordering::Relaxed);
                dst[i..i + 8].copy_from_slice(&w.to_ne_bytes());
                i += 8;
            } else {
                // SAFETY: `p` lies in the live mapping; an `AtomicU8` has alignment 1.
                dst[i] = unsafe { &*p.cast::<AtomicU8>() }.load(Ordering::Relaxed);
                i += 1;
            }
        }
        Ok(())
    }

    /// Copies `src` into the segment at `off`, with relaxed atomic stores; `Err(EINVAL)` if
    /// the bytes are not all within it.
    ///
    /// Panics if the attachment is read-only (a store would fault; the safe types never
    /// call it on one).
    pub(crate) fn write(&self, off: usize, src: &[u8]) -> Result<(), i32> {
        assert!(self.writable, "write to a read-only attachment");
        self.check_range(off, src.len())?;
        let mut i = 0;
        while i < src.len() {
            let p = self.base.as_ptr().wrapping_add(off + i);
            if p as usize % align_of::<AtomicU64>() == 0 && src.len() - i >= 8 {
                let w = u64::from_ne_bytes(src[i..i + 8].try_into().expect("8 bytes"));
                // SAFETY: as in `read`; the mapping is writable (asserted above).
                unsafe { &*p.cast::<AtomicU64>() }.store(w, Ordering::Relaxed);
                i += 8;
            } else {
                // SAFETY: as in `read`; the mapping is writable (asserted above).
                unsafe { &*p.cast::<AtomicU8>() }.store(src[i], Ordering::Relaxed);
                i += 1;
            }
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` is the address shmat returned, not yet detached; no reference into
        // the mapping outlives `self` (the atomic views borrow it).
        unsafe { libc::shmdt(self.base.as_ptr().cast::<c_void>()) };
    }
}

// ===== threads and signals =====

/// The calling thread's id (`gettid`).
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid(2) takes nothing and always succeeds.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// The process id (`getpid`).
pub(crate) fn getpid() -> i32 {
    // SAFETY: getpid(2) takes nothing and always succeeds.
    unsafe { libc::getpid() }
}

/// `tgkill(getpid(), tid, sig)`: a signal to one thread of this process.
pub(crate) fn tgkill(tid: i32, sig: i32) -> Result<(), i32> {
    // SAFETY: tgkill(2) takes integers; a thread that has exited answers ESRCH.
    check(unsafe { libc::syscall(libc::SYS_tgkill, getpid(), tid, sig) } as c_int).map(drop)
}

/// Unblocks `sig` in the calling thread's signal mask (`pthread_sigmask(SIG_UNBLOCK)`).
pub(crate) fn unblock(sig: i32) {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: `set` is a writable sigset_t; sigemptyset and sigaddset initialize it, and
    // pthread_sigmask only reads it (the old-mask pointer is NULL).
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, set.as_ptr(), std::ptr::null_mut());
    }
}

thread_local! {
    /// Whether this thread is one of svipc's waiter threads. Const-initialized and without
    /// a destructor, so reading it in a signal handler touches only the thread's static TLS
    /// block (no lazy initialization, no allocation).
    static WAITER: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a waiter thread for the signal handler.
pub(crate) fn mark_waiter_thread() {
    WAITER.with(|w| w.set(true));
}

/// The `sigaction` that was installed for the signal before ours: the handler chains to it
/// for every signal that is not svipc's own interruption. Written once, before our handler
/// is installed, and never freed.
static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(std::ptr::null_mut());

/// The handler: nothing for svipc's own `tgkill` to a waiter thread (its only job is to make
/// the blocked call return `EINTR`); everything else goes to the previous handler.
extern "C" fn on_signal(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let waiter = WAITER.try_with(Cell::get).unwrap_or(false);
    if waiter && !info.is_null() {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t; `si_code` is always
        // set and `si_pid` is valid for SI_TKILL.
        let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
        // SAFETY: getpid is async-signal-safe and takes nothing.
        if code == libc::SI_TKILL && pid == unsafe { libc::getpid() } {
            return;
        }
    }
    let prev = PREVIOUS.load(Ordering::Acquire);
    if prev.is_null() {
        return;
    }
    // SAFETY: `prev` was leaked from a Box before our handler was installed and is never
    // freed or written again.
    let prev = unsafe { &*prev };
    let h = prev.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // The signal svipc uses by default (SIGURG) is ignored by default; for any other the
        // docs ask for one whose default action is to ignore it.
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this
        // three-argument signature; we pass it the kernel's own arguments.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) = unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO the previous handler is a one-argument `sa_handler`.
        let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

/// Installs the interruption handler for `sig` (once per process; the caller ensures it):
/// `SA_SIGINFO`, without `SA_RESTART` so a blocked System V call returns `EINTR`, and with
/// the previous disposition kept for chaining.
pub(crate) fn install_handler(sig: i32) -> Result<(), i32> {
    let mut old = Box::new(MaybeUninit::<libc::sigaction>::zeroed());
    // SAFETY: a NULL new action only reads the current one into `old`.
    check(unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) })?;
    // SAFETY: zeroed, then filled by the kernel.
    let old: Box<libc::sigaction> = unsafe { Box::from_raw(Box::into_raw(old).cast()) };
    PREVIOUS.store(Box::into_raw(old), Ordering::Release);
    let mut act = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: `act` is a zeroed sigaction that we fill: an empty mask, SA_SIGINFO, and our
    // handler, whose signature is the three-argument one SA_SIGINFO calls.
    let act = unsafe {
        let p = act.as_mut_ptr();
        libc::sigemptyset(&mut (*p).sa_mask);
        (*p).sa_flags = libc::SA_SIGINFO;
        (*p).sa_sigaction = on_signal as *const () as usize;
        act.assume_init()
    };
    // SAFETY: `act` is a valid sigaction; the old one is not asked for (already saved).
    check(unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) }).map(drop)
}

/// Whether `sig` can carry the interruption: a real signal other than SIGKILL and SIGSTOP.
pub(crate) fn signal_usable(sig: i32) -> bool {
    (1..=libc::SIGRTMAX()).contains(&sig) && sig != libc::SIGKILL && sig != libc::SIGSTOP
}
