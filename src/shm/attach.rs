//! Attachments: the mapped memory ([`Memory`]), the guards `shmat` returns ([`Attached`],
//! [`AttachedMut`]; dropping one is `shmdt`), and the views over the bytes ([`ShmRead`],
//! [`ShmWrite`], atomic views). The one file of `shm` where `unsafe` is allowed; the
//! memory-model argument is in the [module docs](super).

// The crate denies `unsafe_code`; this file is one of its few audited exceptions
// (CONTRIBUTING.md, "Unsafe code").
#![allow(unsafe_code)]

use std::fmt;
use std::mem::{align_of, size_of};
use std::ops::{Bound, Deref, DerefMut, RangeBounds};
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use memmap2::MmapMut;

use super::Segment;
use crate::error::{Error, ErrorKind, Op};
use crate::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The size of a page (`PAGE_SIZE`): what segments are rounded up to.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf(3) takes a constant name and touches no memory of ours; libc marks it
    // unsafe only because every foreign function is.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).ok().filter(|p| p.is_power_of_two()).unwrap_or(4096)
}

// ===== Memory =====

/// A segment's memory: one anonymous mapping, page-rounded and zero-filled, and the
/// reader-writer lock behind the safe views.
pub(crate) struct Memory {
    /// The first byte of the mapping, taken once from `map` at creation; every access goes
    /// through it (so no `&mut` to the mapping is ever made from `map` again).
    base: NonNull<u8>,
    /// Bytes the views cover: `shm_segsz`, at most the mapping's length.
    len: usize,
    /// Owns the mapping (unmapped on drop); otherwise only `mlock`/`munlock` touch it.
    map: Map,
    /// Held shared by [`ShmRead`] and exclusively by [`ShmWrite`].
    lock: RwLock<()>,
}

/// Who owns a [`Memory`]'s mapping.
enum Map {
    /// In-process: an anonymous mapping, shared by every attachment of the segment.
    Anon(MmapMut),
    /// On the host: this attachment's own `shmat` (`shmdt` on drop). Other processes may
    /// write its bytes at any moment, so the safe views copy (see the module docs).
    #[cfg(all(target_os = "linux", not(loom)))]
    Host(crate::host::shm::Mapping),
}

// SAFETY (Send): `Memory` owns its mapping outright (the `MmapMut`, or the host's
// `Mapping`, each itself `Send`); `base` points into that mapping, which stays mapped at the same address until `Memory` drops,
// whichever thread that happens on. Nothing in it is tied to a thread.
unsafe impl Send for Memory {}

// SAFETY (Sync): through `&Memory` the bytes are reached only (1) by the safe views, which
// hold `lock` shared while a `&[u8]` exists and exclusively while a `&mut [u8]` exists, so
// no reference to the bytes ever coexists with a conflicting one and every conflicting pair
// of accesses is ordered by the lock's release/acquire — on the host, where other processes
// write, the views make no reference into the mapping at all: they copy with atomic
// accesses (`Mapping::read`/`write`, which is `Sync`) and hand out references to their
// private copy; (2) by `unsafe` methods whose callers take on the same obligation (their
// `# Safety` sections); (3) by `mlock`/`munlock`, which do not read or write the bytes. The
// lock itself is `Sync`.
unsafe impl Sync for Memory {}

impl Memory {
    /// Maps `mapped` zero-filled bytes of which the views cover the first `len`.
    /// `ENOMEM` when the system refuses the mapping.
    pub(crate) fn new(len: usize, mapped: usize) -> Result<Memory, ErrorKind> {
        if mapped == 0 || len > mapped {
            return Err(ErrorKind::InvalidArgument);
        }
        let mut map =
            memmap2::MmapOptions::new().len(mapped).map_anon().map_err(|_| ErrorKind::OutOfMemory)?;
        let base = NonNull::new(map.as_mut_ptr()).ok_or(ErrorKind::OutOfMemory)?;
        Ok(Memory { base, len, map: Map::Anon(map), lock: RwLock::new(()) })
    }

    /// The memory of a host attachment: `len` bytes (`shm_segsz`) at the `shmat` address.
    #[cfg(all(target_os = "linux", not(loom)))]
    fn host(map: crate::host::shm::Mapping) -> Memory {
        Memory { base: map.base(), len: map.len(), map: Map::Host(map), lock: RwLock::new(()) }
    }

    /// The host mapping, when this is a host attachment's memory.
    #[cfg(all(target_os = "linux", not(loom)))]
    fn host_map(&self) -> Option<&crate::host::shm::Mapping> {
        match &self.map {
            Map::Host(m) => Some(m),
            Map::Anon(_) => None,
        }
    }

    /// On the host, a private copy of `offset..offset + len` (twice over when `twice`: the
    /// view's bytes, then the snapshot a write view compares them with on drop); `None`
    /// in-process, where the views borrow the mapping. The range is checked.
    #[inline]
    fn copy(&self, offset: usize, len: usize, twice: bool) -> Option<Box<[u8]>> {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(m) = self.host_map() {
            let mut copy = vec![0; if twice { 2 * len } else { len }].into_boxed_slice();
            m.read(offset, &mut copy[..len]).expect("the view's range is checked");
            if twice {
                let (view, snap) = copy.split_at_mut(len);
                snap.copy_from_slice(view);
            }
            return Some(copy);
        }
        let _ = (offset, len, twice);
        None
    }

    /// `SHM_LOCK`'s `mlock` of the whole mapping: `ENOMEM` when the system refuses.
    pub(crate) fn mlock(&self) -> Result<(), ErrorKind> {
        match &self.map {
            Map::Anon(map) => map.lock().map_err(|_| ErrorKind::OutOfMemory),
            // The engine locks only its own memory; the host's `SHM_LOCK` is the kernel's.
            #[cfg(all(target_os = "linux", not(loom)))]
            Map::Host(_) => Err(ErrorKind::InvalidArgument),
        }
    }

    /// `SHM_UNLOCK`'s `munlock`. munlock(2) fails only for a range that is not mapped,
    /// which ours always is.
    pub(crate) fn munlock(&self) {
        match &self.map {
            Map::Anon(map) => {
                let _ = map.unlock();
            }
            #[cfg(all(target_os = "linux", not(loom)))]
            Map::Host(_) => {}
        }
    }

    /// `EINVAL` unless `offset..offset + n` lies within the segment.
    fn check(&self, offset: usize, n: usize) -> Result<(), ErrorKind> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(ErrorKind::InvalidArgument),
        }
    }

    /// `(offset, len)` of a range of the segment, `EINVAL` if it does not lie within it.
    fn span(&self, range: impl RangeBounds<usize>) -> Result<(usize, usize), ErrorKind> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.checked_add(1).ok_or(ErrorKind::InvalidArgument)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1).ok_or(ErrorKind::InvalidArgument)?,
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.len,
        };
        if start > end || end > self.len {
            return Err(ErrorKind::InvalidArgument);
        }
        Ok((start, end - start))
    }

    /// A pointer to byte `offset`; the caller has checked `offset <= self.len`.
    fn at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset <= self.len);
        // `wrapping_add` keeps this safe; with `offset <= len <= mapped` it stays inside the
        // mapping (or one past its end), so it is the same pointer `add` would give.
        self.base.as_ptr().wrapping_add(offset)
    }

    /// The atomic of type `A` at `offset`: `EINVAL` if it does not lie within the segment
    /// or is not aligned for `A`.
    fn atomic_ptr<A: ShmAtomic>(&self, offset: usize) -> Result<*const A, ErrorKind> {
        self.check(offset, size_of::<A>())?;
        let ptr = self.at(offset);
        if ptr.addr() % align_of::<A>() != 0 {
            return Err(ErrorKind::InvalidArgument);
        }
        Ok(ptr.cast::<A>().cast_const())
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mapped = match &self.map {
            Map::Anon(map) => map.len(),
            #[cfg(all(target_os = "linux", not(loom)))]
            Map::Host(map) => map.len(),
        };
        f.debug_struct("Memory").field("len", &self.len).field("mapped", &mapped).finish()
    }
}

// ===== views =====

/// A shared view of a segment's bytes: derefs to `&[u8]`, zero-copy.
///
/// Made by [`Attached::read`] and its relatives. While it lives the segment's lock is held
/// shared, so other readers proceed and writers ([`AttachedMut::write`], from any guard or
/// thread) wait — the `semop(-1)` … `semop(+1)` bracket of the C idiom, made safe.
/// Dropping it releases the lock; it is `!Send`, so it cannot be held across an `.await`
/// in a task that must be `Send` (take it, copy or compute, drop it).
///
/// # Memory ordering
///
/// Taking a view acquires the segment's lock and dropping it releases it: everything a
/// thread wrote through a [`ShmWrite`] (and before it) happens-before everything a later
/// view of the same segment reads, whichever guard or thread holds it.
#[must_use = "the view holds the segment's lock until it is dropped"]
#[clippy::has_significant_drop]
pub struct ShmRead<'a> {
    mem: &'a Memory,
    offset: usize,
    len: usize,
    /// On the host: the snapshot the view shows; `None` in-process.
    copy: Option<Box<[u8]>>,
    _guard: RwLockReadGuard<'a, ()>,
}

impl<'a> ShmRead<'a> {
    /// The view of the checked range `offset..offset + len` under `guard` (on the host, a
    /// snapshot taken now).
    #[inline]
    fn new(mem: &'a Memory, offset: usize, len: usize, guard: RwLockReadGuard<'a, ()>) -> ShmRead<'a> {
        let copy = mem.copy(offset, len, false);
        ShmRead { mem, offset, len, copy, _guard: guard }
    }
}

impl Deref for ShmRead<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if let Some(copy) = &self.copy {
            return copy;
        }
        // SAFETY: the range lies in the mapping `mem` keeps alive, its bytes are initialized,
        // and the read lock held as long as `self` (so as the result) excludes every `&mut`;
        // writes by pointer or atomic racing this view break the `unsafe` accessors' contracts.
        unsafe { std::slice::from_raw_parts(self.mem.at(self.offset), self.len) }
    }
}

impl fmt::Debug for ShmRead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmRead").field("offset", &self.offset).field("len", &self.len).finish()
    }
}

/// An exclusive view of a segment's bytes: derefs to `&mut [u8]`, zero-copy.
///
/// Made by [`AttachedMut::write`] and its relatives, so only through a read-write
/// attachment. While it lives the segment's lock is held exclusively: every other view, of
/// every guard of the segment, waits. `!Send`, like [`ShmRead`].
#[must_use = "the view holds the segment's lock until it is dropped"]
#[clippy::has_significant_drop]
pub struct ShmWrite<'a> {
    mem: &'a Memory,
    offset: usize,
    len: usize,
    /// On the host: the view's bytes, then the snapshot they started as (`2 * len`);
    /// `None` in-process.
    copy: Option<Box<[u8]>>,
    _guard: RwLockWriteGuard<'a, ()>,
}

impl<'a> ShmWrite<'a> {
    /// The view of the checked range `offset..offset + len` under `guard` (on the host, a
    /// private copy taken now, written back on drop).
    #[inline]
    fn new(mem: &'a Memory, offset: usize, len: usize, guard: RwLockWriteGuard<'a, ()>) -> ShmWrite<'a> {
        let copy = mem.copy(offset, len, true);
        ShmWrite { mem, offset, len, copy, _guard: guard }
    }
}

impl Drop for ShmWrite<'_> {
    /// On the host: writes back the bytes the view changed (those that differ from the
    /// snapshot), each run of them with relaxed atomic stores, before the lock is released;
    /// bytes it did not change are not stored, so another process's writes to them stand.
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let (Some(copy), Some(map)) = (&self.copy, self.mem.host_map()) {
            let (view, snap) = copy.split_at(self.len);
            let mut i = 0;
            while i < view.len() {
                if view[i] == snap[i] {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < view.len() && view[i] != snap[i] {
                    i += 1;
                }
                map.write(self.offset + start, &view[start..i]).expect("the view's range is checked");
            }
        }
    }
}

impl Deref for ShmWrite<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if let Some(copy) = &self.copy {
            return &copy[..self.len];
        }
        // SAFETY: as in `ShmRead::deref`; the exclusive lock is held, and `&self` keeps the
        // `&mut` of `deref_mut` from coexisting with this reference.
        unsafe { std::slice::from_raw_parts(self.mem.at(self.offset), self.len) }
    }
}

impl DerefMut for ShmWrite<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        if let Some(copy) = &mut self.copy {
            return &mut copy[..self.len];
        }
        // SAFETY: the range lies in the live mapping, its bytes are initialized, and the write
        // lock held as long as `self` plus `&mut self` make this the only reference to them;
        // pointer or atomic access racing it breaks the `unsafe` accessors' contracts.
        unsafe { std::slice::from_raw_parts_mut(self.mem.at(self.offset), self.len) }
    }
}

impl fmt::Debug for ShmWrite<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmWrite").field("offset", &self.offset).field("len", &self.len).finish()
    }
}

// ===== atomic views =====

mod sealed {
    #[allow(unreachable_pub)] // the sealing idiom: public, in a private module
    pub trait Sealed {}
}

/// The `core::sync::atomic` types that may be viewed in segment memory
/// ([`AttachedMut::atomic`], [`Attached::load`]). Sealed.
///
/// These are the real `core` atomics, never loom's: the value lives in the mapping.
pub trait ShmAtomic: sealed::Sealed + Send + Sync + fmt::Debug {
    /// The plain value type (`u32` for `AtomicU32`).
    type Value: Copy + fmt::Debug;

    /// `load(order)` of the atomic.
    fn load_value(&self, order: Ordering) -> Self::Value;
}

macro_rules! shm_atomic {
    ($($atomic:ident => $value:ty),* $(,)?) => {$(
        impl sealed::Sealed for std::sync::atomic::$atomic {}
        impl ShmAtomic for std::sync::atomic::$atomic {
            type Value = $value;
            fn load_value(&self, order: Ordering) -> $value {
                self.load(order)
            }
        }
    )*};
}

shm_atomic! {
    AtomicU8 => u8, AtomicI8 => i8, AtomicU16 => u16, AtomicI16 => i16,
    AtomicU32 => u32, AtomicI32 => i32, AtomicU64 => u64, AtomicI64 => i64,
    AtomicUsize => usize, AtomicIsize => isize,
}

// ===== Attached =====

fn at_error(kind: ErrorKind) -> Error {
    Error::new(Op::ShmAt, kind)
}

/// A read-only attachment (`shmat(shmid, NULL, SHM_RDONLY)`); dropping it is `shmdt`.
///
/// Made by [`Segment::attach_read_only`]. It keeps the segment's memory alive: after
/// `IPC_RMID` the segment lives on, marked `SHM_DEST`, until its last guard drops.
///
/// A read-only attachment can read ([`read`](Self::read), [`read_at`](Self::read_at), ...)
/// but has no way to write: the methods that give `&mut [u8]` exist only on
/// [`AttachedMut`], so the refusal is by type, at compile time:
///
/// ```compile_fail,E0599
/// use svipc::{Credentials, Key, Namespace};
///
/// let ns = Namespace::new();
/// let me = ns.process(Credentials::new(1000, 1000));
/// let seg = me.shm_segment(Key::PRIVATE).size(64).create(0o600).open()?;
/// let ro = seg.attach_read_only()?;
/// ro.write()[0] = 1; // error[E0599]: no method named `write` found for struct `Attached`
/// # Ok::<(), svipc::Error>(())
/// ```
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, Key, Namespace};
///
/// let ns = Namespace::new();
/// let me = ns.process(Credentials::new(1000, 1000));
/// let seg = me.shm_segment(Key::PRIVATE).size(64).create(0o600).open()?; // shmget
/// let rw = seg.attach()?; // shmat(id, NULL, 0)
/// rw.write_at(0, b"hello")?;
/// let ro = seg.attach_read_only()?; // shmat(id, NULL, SHM_RDONLY)
/// assert_eq!(&ro.read()[..5], b"hello");
/// assert_eq!(seg.stat()?.shm_nattch, 2);
/// drop(ro); // shmdt
/// assert_eq!(seg.stat()?.shm_nattch, 1);
/// # Ok::<(), svipc::Error>(())
/// ```
#[must_use = "dropping the guard detaches the segment (shmdt)"]
#[clippy::has_significant_drop]
pub struct Attached {
    mem: Arc<Memory>,
    seg: Segment,
    writable: bool,
}

impl Attached {
    pub(crate) fn new(mem: Arc<Memory>, seg: Segment, writable: bool) -> Attached {
        Attached { mem, seg, writable }
    }

    /// The guard of a host attachment (`map`) of the host segment `seg`.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(crate) fn on_host(map: crate::host::shm::Mapping, seg: Segment) -> Attached {
        let writable = map.is_writable();
        Attached { mem: Arc::new(Memory::host(map)), seg, writable }
    }

    /// The segment this guard attaches.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Whether the attachment is read-only (`SHM_RDONLY`): false for the guard inside an
    /// [`AttachedMut`].
    pub fn is_read_only(&self) -> bool {
        !self.writable
    }

    /// The bytes the views cover: `shm_segsz`, the size asked for at creation. (The mapping
    /// itself is rounded up to whole pages; the tail past `shm_segsz` is not reachable.)
    pub fn len(&self) -> usize {
        self.mem.len
    }

    /// Whether [`len`](Self::len) is 0 (never, as `SHMMIN` is at least 1).
    pub fn is_empty(&self) -> bool {
        self.mem.len == 0
    }

    /// A shared view of the whole segment, waiting while a [`ShmWrite`] view of it exists.
    ///
    /// Blocks the thread (like a `semop` that waits): keep write views short, and never ask
    /// for a view while holding a [`ShmWrite`] of the same segment (deadlock).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(10).create(0o600).open()?;
    /// let guard = seg.attach_read_only()?;
    /// assert_eq!(&*guard.read(), &[0u8; 10]); // zero-filled, shm_segsz bytes
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn read(&self) -> ShmRead<'_> {
        ShmRead::new(&self.mem, 0, self.mem.len, self.mem.lock.read())
    }

    /// [`read`](Self::read) without waiting (the `IPC_NOWAIT` of the idiom).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] (EAGAIN): a [`ShmWrite`] view of the segment exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open()?;
    /// let (a, b) = (seg.attach()?, seg.attach_read_only()?);
    /// let writing = a.write();
    /// assert_eq!(b.try_read().unwrap_err().kind(), ErrorKind::WouldBlock); // EAGAIN
    /// drop(writing);
    /// assert_eq!(b.try_read()?.len(), 8);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn try_read(&self) -> Result<ShmRead<'_>, Error> {
        let guard = self.mem.lock.try_read().ok_or(at_error(ErrorKind::WouldBlock))?;
        Ok(ShmRead::new(&self.mem, 0, self.mem.len, guard))
    }

    /// A shared view of `range` of the segment (byte offsets), waiting like
    /// [`read`](Self::read).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): the range does not lie within the segment's
    /// [`len`](Self::len) bytes (or ends before it starts).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open()?;
    /// let g = seg.attach()?;
    /// g.write_at(4, b"tail")?;
    /// assert_eq!(&*g.read_range(4..)?, b"tail");
    /// assert_eq!(g.read_range(4..9).unwrap_err().errno(), 22); // EINVAL: past the end
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn read_range(&self, range: impl RangeBounds<usize>) -> Result<ShmRead<'_>, Error> {
        let (offset, len) = self.mem.span(range).map_err(at_error)?;
        Ok(ShmRead::new(&self.mem, offset, len, self.mem.lock.read()))
    }

    /// Copies `buf.len()` bytes from `offset` into `buf` under the shared lock.
    /// (In C: a `memcpy` from the `shmat` address, under a semaphore.)
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): `offset..offset + buf.len()` does not lie
    /// within the segment; nothing is copied.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open()?;
    /// let g = seg.attach()?;
    /// g.write_at(0, &[1, 2, 3])?;
    /// let mut buf = [0; 3];
    /// g.read_at(0, &mut buf)?;
    /// assert_eq!(buf, [1, 2, 3]);
    /// assert!(g.read_at(6, &mut buf).is_err()); // 6..9 is past the 8 bytes
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(map) = self.mem.host_map() {
            return map.read(offset, buf).map_err(|_| at_error(ErrorKind::InvalidArgument));
        }
        let view = self
            .read_range(offset..offset.checked_add(buf.len()).ok_or(at_error(ErrorKind::InvalidArgument))?)?;
        buf.copy_from_slice(&view);
        Ok(())
    }

    /// The address of the segment's first byte, for reading through raw pointers.
    ///
    /// # Safety
    ///
    /// Obtaining the pointer is harmless; the contract is on its use. The caller must
    /// ensure that:
    ///
    /// 1. only bytes `0..self.len()` are accessed, and only while this guard lives (the
    ///    memory may be unmapped after its last guard drops);
    /// 2. nothing is written through it: this may be a read-only attachment (a C program
    ///    would get `SIGSEGV`); write through [`AttachedMut::as_mut_ptr`] instead;
    /// 3. no read through it races a write to the same bytes by anyone — all writers
    ///    synchronize with the readers, for example by holding the segment's write view, or
    ///    through a semaphore whose `semop` gives release/acquire ordering (a `V` after
    ///    writing, a `P` before reading), or by using atomics throughout;
    /// 4. no `&mut [u8]` ([`ShmWrite`]) covering the bytes is alive while they are read.
    pub unsafe fn as_ptr(&self) -> *const u8 {
        self.mem.base.as_ptr().cast_const()
    }

    /// Atomically loads the `A` at byte `offset` (for example an `AtomicU32` counter that
    /// writers update through [`AttachedMut::atomic`]).
    ///
    /// # Safety
    ///
    /// While the load runs, no non-atomic write to those bytes may race it, and no atomic
    /// access of a *different size* may overlap them concurrently (mixed-size atomics are
    /// undefined behaviour in Rust's memory model). Concretely: the bytes must not be covered
    /// by a live [`ShmWrite`] view, nor be written through raw pointers, unless that write
    /// happens-before the load (a semaphore or lock in between).
    /// On a host segment the views are private copies ([module docs](super#on-the-host)),
    /// so only the raw pointers, and other processes, can break this.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): `offset..offset + size_of::<A>()` does not
    /// lie within the segment, or the address is not aligned for `A`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(64).create(0o600).open()?;
    /// let rw = seg.attach()?;
    /// let ro = seg.attach_read_only()?;
    /// // SAFETY: bytes 8..12 are only ever accessed as one AtomicU32.
    /// unsafe { rw.atomic::<AtomicU32>(8)?.fetch_add(5, Ordering::Release) };
    /// // SAFETY: the same four bytes, read atomically at the same size.
    /// assert_eq!(unsafe { ro.load::<AtomicU32>(8, Ordering::Acquire)? }, 5);
    /// // misaligned or out of range: EINVAL, never UB
    /// // SAFETY: nothing is accessed: the checks refuse both offsets.
    /// assert!(unsafe { ro.load::<AtomicU32>(9, Ordering::Acquire) }.is_err());
    /// assert!(unsafe { ro.load::<AtomicU32>(62, Ordering::Acquire) }.is_err());
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub unsafe fn load<A: ShmAtomic>(&self, offset: usize, order: Ordering) -> Result<A::Value, Error> {
        let ptr = self.mem.atomic_ptr::<A>(offset).map_err(at_error)?;
        // SAFETY: `atomic_ptr` checked bounds and alignment in the mapping `self.mem` keeps
        // alive; any initialized bit pattern is a valid integer atomic; the caller rules out
        // non-atomic or mixed-size access racing this load (`# Safety`).
        let atomic = unsafe { &*ptr };
        Ok(atomic.load_value(order))
    }
}

impl Drop for Attached {
    /// `shmdt`: `nattch--`, `dtime` and `lpid` set; the last detach of a segment marked
    /// `SHM_DEST` destroys it.
    fn drop(&mut self) {
        self.seg.detach();
    }
}

impl fmt::Debug for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attached")
            .field("id", &self.seg.id())
            .field("len", &self.mem.len)
            .field("read_only", &!self.writable)
            .finish()
    }
}

// ===== AttachedMut =====

/// A read-write attachment (`shmat(shmid, NULL, 0)`); dropping it is `shmdt`.
///
/// Made by [`Segment::attach`], which needs read and write permission. It derefs to
/// [`Attached`] for everything a reader can do, and adds the writing views.
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, Key, Namespace};
///
/// let me = Namespace::new().process(Credentials::new(1000, 1000));
/// let seg = me.shm_segment(Key::PRIVATE).size(16).create(0o600).open()?;
/// let a = seg.attach()?;
/// let b = seg.attach()?; // another attachment: the same bytes
/// a.write()[..4].copy_from_slice(b"ping");
/// assert_eq!(&b.read()[..4], b"ping");
/// # Ok::<(), svipc::Error>(())
/// ```
#[must_use = "dropping the guard detaches the segment (shmdt)"]
#[clippy::has_significant_drop]
pub struct AttachedMut {
    inner: Attached,
}

impl AttachedMut {
    pub(crate) fn new(inner: Attached) -> AttachedMut {
        AttachedMut { inner }
    }

    /// An exclusive view of the whole segment, waiting until no other view of it exists.
    /// (In C: writing through the `shmat` address while holding a semaphore.)
    ///
    /// Blocks the thread; never ask for it while holding another view of the same segment
    /// (deadlock).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(4).create(0o600).open()?;
    /// let g = seg.attach()?;
    /// let mut view = g.write(); // &mut [u8] of all 4 bytes, zero-copy
    /// view.copy_from_slice(b"abcd");
    /// view.reverse();
    /// drop(view);
    /// assert_eq!(&*g.read(), b"dcba");
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn write(&self) -> ShmWrite<'_> {
        let mem = &self.inner.mem;
        ShmWrite::new(mem, 0, mem.len, mem.lock.write())
    }

    /// [`write`](Self::write) without waiting.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] (EAGAIN): another view of the segment exists.
    pub fn try_write(&self) -> Result<ShmWrite<'_>, Error> {
        let mem = &self.inner.mem;
        let guard = mem.lock.try_write().ok_or(at_error(ErrorKind::WouldBlock))?;
        Ok(ShmWrite::new(mem, 0, mem.len, guard))
    }

    /// An exclusive view of `range` of the segment. The lock is the segment's (one per
    /// segment), so it excludes every other view even of other bytes.
    /// (In C: writing part of the `shmat` memory while holding a semaphore.)
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): the range does not lie within the segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(8).create(0o600).open()?;
    /// let g = seg.attach()?;
    /// g.write_range(2..4)?.fill(7);
    /// assert_eq!(&*g.read(), &[0, 0, 7, 7, 0, 0, 0, 0]);
    /// assert!(g.write_range(7..=8).is_err()); // EINVAL
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn write_range(&self, range: impl RangeBounds<usize>) -> Result<ShmWrite<'_>, Error> {
        let mem = &self.inner.mem;
        let (offset, len) = mem.span(range).map_err(at_error)?;
        Ok(ShmWrite::new(mem, offset, len, mem.lock.write()))
    }

    /// Copies `data` into the segment at `offset` under the exclusive lock.
    /// (In C: a `memcpy` to the `shmat` address, under a semaphore.)
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): `offset..offset + data.len()` does not lie
    /// within the segment; nothing is written.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(map) = self.inner.mem.host_map() {
            return map.write(offset, data).map_err(|_| at_error(ErrorKind::InvalidArgument));
        }
        let end = offset.checked_add(data.len()).ok_or(at_error(ErrorKind::InvalidArgument))?;
        self.write_range(offset..end)?.copy_from_slice(data);
        Ok(())
    }

    /// The address of the segment's first byte, for reading and writing through raw
    /// pointers (what `shmat` returns in C).
    ///
    /// # Safety
    ///
    /// Obtaining the pointer is harmless; the contract is on its use. The caller must
    /// ensure that:
    ///
    /// 1. only bytes `0..self.len()` are accessed, and only while this guard lives;
    /// 2. no access through it races another access to the same bytes where at least one
    ///    is a write — every writer synchronizes with every other accessor, for example
    ///    through a semaphore whose `semop` gives release/acquire ordering, or by holding
    ///    the segment's [`write`](Self::write) view around the access;
    /// 3. no [`ShmRead`] or [`ShmWrite`] covering the bytes is alive while they are written,
    ///    and no `ShmWrite` covering them while they are read;
    /// 4. bytes used through atomic views are accessed only atomically, at one size.
    pub unsafe fn as_mut_ptr(&self) -> *mut u8 {
        self.inner.mem.base.as_ptr()
    }

    /// A reference to the atomic `A` living at byte `offset` of the segment: a real
    /// `core::sync::atomic` type in the mapped memory, shared with every other attachment.
    ///
    /// # Safety
    ///
    /// For as long as the returned reference is used:
    ///
    /// 1. the bytes `offset..offset + size_of::<A>()` are accessed by nobody except through
    ///    atomics of this same type `A` at this same offset (mixed-size or non-atomic
    ///    racing accesses are undefined behaviour);
    /// 2. in particular no [`ShmRead`] or [`ShmWrite`] view covering those bytes is alive,
    ///    since a view asserts that no one else changes (`&[u8]`) or even reads (`&mut
    ///    [u8]`) them — use [`read_range`](Attached::read_range) /
    ///    [`write_range`](Self::write_range) for the bytes around the atomics.
    ///
    /// On a host segment the slice views are private copies (see the
    /// [module docs](super#on-the-host)), so condition 2 does not arise there; condition 1
    /// binds every process that maps the segment (a C peer uses C11 atomics of the same size).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL): the atomic does not lie within the segment,
    /// or `offset` is not aligned for `A`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// let me = Namespace::new().process(Credentials::new(1000, 1000));
    /// let seg = me.shm_segment(Key::PRIVATE).size(4096).create(0o600).open()?;
    /// let (a, b) = (seg.attach()?, seg.attach()?);
    /// // SAFETY: bytes 0..8 are only ever used as this one AtomicU64.
    /// let (ca, cb) = unsafe { (a.atomic::<AtomicU64>(0)?, b.atomic::<AtomicU64>(0)?) };
    /// std::thread::scope(|s| {
    ///     s.spawn(|| ca.fetch_add(1, Ordering::Relaxed));
    ///     s.spawn(|| cb.fetch_add(1, Ordering::Relaxed));
    /// });
    /// assert_eq!(ca.load(Ordering::Relaxed), 2);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub unsafe fn atomic<A: ShmAtomic>(&self, offset: usize) -> Result<&A, Error> {
        let ptr = self.inner.mem.atomic_ptr::<A>(offset).map_err(at_error)?;
        // SAFETY: checked bounds and alignment in a mapping `self.inner.mem` keeps alive, any
        // bit pattern valid; atomics are `UnsafeCell`s, so sharing admits others' writes; the
        // caller rules out non-atomic, mixed-size or view access to it (`# Safety`).
        Ok(unsafe { &*ptr })
    }
}

impl Deref for AttachedMut {
    type Target = Attached;

    fn deref(&self) -> &Attached {
        &self.inner
    }
}

impl fmt::Debug for AttachedMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AttachedMut").field(&self.inner).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn shm_memory_checks_ranges_and_alignment() {
        let mem = Memory::new(10, page_size()).unwrap();
        assert_eq!(mem.check(0, 10), Ok(()));
        assert_eq!(mem.check(10, 0), Ok(()));
        assert_eq!(mem.check(10, 1), Err(ErrorKind::InvalidArgument));
        assert_eq!(mem.check(usize::MAX, 2), Err(ErrorKind::InvalidArgument));
        assert_eq!(mem.span(..), Ok((0, 10)));
        assert_eq!(mem.span(2..=3), Ok((2, 2)));
        assert_eq!(
            mem.span((Bound::Excluded(usize::MAX), Bound::Unbounded)),
            Err(ErrorKind::InvalidArgument)
        );
        assert_eq!(mem.span(..=usize::MAX), Err(ErrorKind::InvalidArgument));
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = mem.span(5..4);
        assert_eq!(backwards, Err(ErrorKind::InvalidArgument));
        assert!(mem.atomic_ptr::<std::sync::atomic::AtomicU32>(4).is_ok());
        assert_eq!(mem.atomic_ptr::<std::sync::atomic::AtomicU32>(2), Err(ErrorKind::InvalidArgument));
        assert_eq!(mem.atomic_ptr::<std::sync::atomic::AtomicU64>(8), Err(ErrorKind::InvalidArgument));
        assert_eq!(Memory::new(2, 1).unwrap_err(), ErrorKind::InvalidArgument);
    }
}
