//! The C-shaped layer: `msgget`, `msgsnd`, `msgrcv`, `msgctl`, `semget`, `semop`,
//! `semtimedop`, `semctl`, `shmget`, `shmat`, `shmdt` and `shmctl` as methods on
//! [`Process`], with the C argument types, the flag words and command numbers of Linux, the
//! C structs as plain Rust structs, and the kernel's errno for any argument.
//!
//! It is for code being ported from C, and for tools such as `ipcs(1)` that walk a
//! namespace by slot index (`MSG_STAT`, `SEM_STAT`, `SHM_STAT`): every call takes ids and
//! flag words as C does and makes **every check in the kernel's order, including those the
//! kernel makes before it looks the id up** — `semop` with more than `SEMOPM` operations
//! is `E2BIG` even on id -1, `semctl(SETVAL)` out of `[0, SEMVMX]` is `ERANGE` even on an id
//! nobody holds, a bad `timespec` is `EINVAL` before the lookup, `MSG_COPY` without
//! `IPC_NOWAIT` is `EINVAL`, a `(size_t)-1` size is `EINVAL`. Then it opens the object by
//! id and makes the typed call, so the semantics past the lookup are the typed API's,
//! shared to the line.
//!
//! | C | here |
//! |---|---|
//! | `msgget(key, msgflg)` | [`Process::msgget`] |
//! | `msgsnd(id, &m, msgsz, msgflg)` | [`Process::msgsnd`]`(id, mtype, &mtext, msgsz, msgflg).await` |
//! | `msgrcv(id, &m, msgsz, msgtyp, msgflg)` | [`Process::msgrcv`]`(id, &mut mtext, msgsz, msgtyp, msgflg).await` → `(mtype, len)` |
//! | `msgctl(id, cmd, buf)` | [`Process::msgctl`]`(id, cmd, MsgctlBuf::…)` |
//! | `semget(key, nsems, semflg)` | [`Process::semget`] |
//! | `semop(id, sops, nsops)` | [`Process::semop`]`(id, &sops, nsops).await` |
//! | `semtimedop(id, sops, nsops, timeout)` | [`Process::semtimedop`]`(id, &sops, nsops, Some(&ts)).await` |
//! | `semctl(id, semnum, cmd, arg)` | [`Process::semctl`]`(id, semnum, cmd, semun::…)` |
//! | `shmget(key, size, shmflg)` | [`Process::shmget`] |
//! | `shmat(id, shmaddr, shmflg)` | [`Process::shmat`] → [`ShmAttach`] (the typed guards) |
//! | `shmdt(shmaddr)` | [`Process::shmdt`]`(guard)` (or drop the guard) |
//! | `shmctl(id, cmd, buf)` | [`Process::shmctl`]`(id, cmd, ShmctlBuf::…)` |
//!
//! # What differs from C, and why
//!
//! * **Buffers are slices.** `void *` becomes `&[u8]` / `&mut [u8]`: `msgsnd` takes the
//!   `mtype` and the `mtext` bytes apart, `msgrcv` fills a byte slice and returns
//!   `(mtype, bytes written)`. A slice shorter than `msgsz` is what C would answer with
//!   `EFAULT` (the kernel reading or writing past the buffer); here it is `EINVAL`, checked
//!   right after the size checks and before the lookup, so no message is consumed.
//! * **`semun` and the `*ctl` buffers are enums** ([`semun`], [`MsgctlBuf`],
//!   [`ShmctlBuf`]): C passes one pointer whose type the command decides; here the
//!   variant carries it. A variant that does not fit the command — [`MsgctlBuf::Null`] for
//!   `IPC_STAT`, say — is what a bad pointer is in C (`EFAULT`); here it is `EINVAL`, after
//!   every check the kernel makes before it would touch the buffer.
//! * **`shmat` returns the attach guard** ([`ShmAttach`]): the typed layer's
//!   [`Attached`](crate::shm::Attached) or [`AttachedMut`](crate::shm::AttachedMut), not a raw
//!   pointer. The memory is reached through the guard's checked views, `shmdt` is dropping
//!   it (or [`Process::shmdt`]), and no address can dangle. `shmaddr` must therefore be 0:
//!   a non-zero address gets the kernel's alignment checks (`EINVAL` when misaligned
//!   without `SHM_RND`) and then `EINVAL`, because svipc cannot place memory at a given
//!   address. `SHM_REMAP` without an address is `EINVAL`, as in the kernel. `SHM_EXEC` asks
//!   for execute permission as the kernel does (`EACCES` without an `x` bit for the
//!   caller), and then attaches; the memory is never mapped executable in-process.
//! * **Messages are bytes.** A queue made by [`Process::msgget`] carries `Vec<u8>`
//!   messages, so it is the same queue as `MessageQueue<Vec<u8>>` of the typed API: a
//!   message sent through either is received through either. A queue created through the
//!   typed API with another payload type (`MessageQueue<String>`) has an id like any other
//!   — `msgget` finds it, `msgctl(IPC_STAT)`, `MSG_STAT` and `IPC_RMID` work on it — but
//!   `msgsnd`, `msgrcv` and `msgctl(IPC_SET)` answer it with
//!   [`ErrorKind::TypeMismatch`] (errno `EINVAL`), after
//!   the checks the kernel makes before the lookup: its messages are not bytes.
//! * **Sleeping calls are futures.** `msgsnd`, `msgrcv`, `semop` and `semtimedop` return a
//!   [`CallFuture`]; with `IPC_NOWAIT` (on the `semop` that would block) they complete on
//!   the first poll without waiting. Dropping one is the kernel's `EINTR`: the typed
//!   futures' cancel safety holds (nothing sent, nothing taken, the semaphores as before).
//!   Each call opens its object by id — one namespace lock — as the kernel's lookup does;
//!   hot loops should hold a typed handle instead.
//! * **Commands a 64-bit Linux does not know are `EINVAL`**, including `cmd | IPC_64`
//!   (glibc on x86-64 never sets it).
//!
//! # Naming
//!
//! The structs keep the C spellings (`msqid_ds`, `sembuf`, `semun`, …) so that ported code
//! reads like its original; hence `#[allow(non_camel_case_types)]` on them. The constants
//! are the Linux names and values (`<sys/ipc.h>`, `<sys/msg.h>`, `<sys/sem.h>`,
//! `<sys/shm.h>`).
//!
//! # Examples
//!
//! ```
//! use svipc::c::{msqid_ds, MsgctlBuf, IPC_CREAT, IPC_NOWAIT, IPC_PRIVATE, IPC_STAT};
//! use svipc::{Credentials, Namespace};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), svipc::Error> {
//! let me = Namespace::new().process(Credentials::new(1000, 1000));
//! let id = me.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)?;
//! me.msgsnd(id, 1, b"hello", 5, 0).await?;
//! let mut buf = [0u8; 16];
//! let (mtype, n) = me.msgrcv(id, &mut buf, 16, 0, IPC_NOWAIT).await?;
//! assert_eq!((mtype, &buf[..n]), (1, &b"hello"[..]));
//! let mut ds = msqid_ds::default();
//! me.msgctl(id, IPC_STAT, MsgctlBuf::Ds(&mut ds))?;
//! assert_eq!((ds.msg_qnum, ds.msg_lspid, ds.msg_perm.mode), (0, me.pid(), 0o600));
//! // before the lookup: a size over MSGMAX is EINVAL even for an id nobody holds
//! assert_eq!(me.msgsnd(12345, 1, &[0; 9000], 9000, 0).await.unwrap_err().errno(), 22);
//! # Ok(())
//! # }
//! ```

mod msg;
mod sem;
mod shm;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use self::shm::ShmAttach;
use crate::error::{Error, ErrorKind, Op};
use crate::ipc::{IpcPerm, OpenFlags};
#[cfg(doc)]
use crate::Process;

// ===== constants =====

/// `IPC_PRIVATE`: the key that always creates.
pub const IPC_PRIVATE: i32 = 0;
/// `IPC_CREAT` (`*get`): create if the key names nothing.
pub const IPC_CREAT: i32 = 0o1000;
/// `IPC_EXCL` (`*get`): with `IPC_CREAT`, fail with `EEXIST` if the key exists.
pub const IPC_EXCL: i32 = 0o2000;
/// `IPC_RMID` (`*ctl`): remove.
pub const IPC_RMID: i32 = 0;
/// `IPC_SET` (`*ctl`): set owner, mode (and `msg_qbytes`).
pub const IPC_SET: i32 = 1;
/// `IPC_STAT` (`*ctl`): read the `*_ds`.
pub const IPC_STAT: i32 = 2;
/// `IPC_INFO` (`*ctl`): the limits.
pub const IPC_INFO: i32 = 3;
/// `IPC_64`: the "new" `*_ds` layout flag of 32-bit ABIs; not a command on 64-bit Linux.
pub const IPC_64: i32 = 0x100;

/// `MSG_STAT` (`msgctl`): `IPC_STAT` by slot index, returning the id.
pub const MSG_STAT: i32 = 11;
/// `MSG_INFO` (`msgctl`): the usage figures.
pub const MSG_INFO: i32 = 12;
/// `MSG_STAT_ANY` (`msgctl`): `MSG_STAT` without the read permission check.
pub const MSG_STAT_ANY: i32 = 13;
// `IPC_NOWAIT` and the `msgrcv` flags are the ones `Select::from_raw` reads.
pub use crate::msg::{IPC_NOWAIT, MSG_COPY, MSG_EXCEPT, MSG_NOERROR};

/// `SEM_UNDO` (`sem_flg`): undo the operation when the process exits.
pub const SEM_UNDO: i16 = 0x1000;
/// `GETPID` (`semctl`): `sempid` of a semaphore.
pub const GETPID: i32 = 11;
/// `GETVAL` (`semctl`): `semval`.
pub const GETVAL: i32 = 12;
/// `GETALL` (`semctl`): every `semval`.
pub const GETALL: i32 = 13;
/// `GETNCNT` (`semctl`): `semncnt`.
pub const GETNCNT: i32 = 14;
/// `GETZCNT` (`semctl`): `semzcnt`.
pub const GETZCNT: i32 = 15;
/// `SETVAL` (`semctl`): set one value.
pub const SETVAL: i32 = 16;
/// `SETALL` (`semctl`): set every value.
pub const SETALL: i32 = 17;
/// `SEM_STAT` (`semctl`): `IPC_STAT` by slot index, returning the id.
pub const SEM_STAT: i32 = 18;
/// `SEM_INFO` (`semctl`): the usage figures.
pub const SEM_INFO: i32 = 19;
/// `SEM_STAT_ANY` (`semctl`): `SEM_STAT` without the read permission check.
pub const SEM_STAT_ANY: i32 = 20;

/// `SHM_RDONLY` (`shmat`): attach read-only.
pub const SHM_RDONLY: i32 = 0o10000;
/// `SHM_RND` (`shmat`): round `shmaddr` down to `SHMLBA`.
pub const SHM_RND: i32 = 0o20000;
/// `SHM_REMAP` (`shmat`): replace an existing mapping at `shmaddr`.
pub const SHM_REMAP: i32 = 0o40000;
/// `SHM_EXEC` (`shmat`): execute access.
pub const SHM_EXEC: i32 = 0o100000;
/// `SHM_HUGETLB` (`shmget`): huge pages; svipc maps ordinary pages and ignores it.
pub const SHM_HUGETLB: i32 = 0o4000;
/// `SHM_NORESERVE` (`shmget`): no swap reservation; ignored, as the mapping reserves none.
pub const SHM_NORESERVE: i32 = 0o10000;
/// `SHM_LOCK` (`shmctl`): lock the segment in memory.
pub const SHM_LOCK: i32 = 11;
/// `SHM_UNLOCK` (`shmctl`): unlock it.
pub const SHM_UNLOCK: i32 = 12;
/// `SHM_STAT` (`shmctl`): `IPC_STAT` by slot index, returning the id.
pub const SHM_STAT: i32 = 13;
/// `SHM_INFO` (`shmctl`): the usage figures.
pub const SHM_INFO: i32 = 14;
/// `SHM_STAT_ANY` (`shmctl`): `SHM_STAT` without the read permission check.
pub const SHM_STAT_ANY: i32 = 15;
/// `SHM_DEST` in `shm_perm.mode`: removed while attached.
pub const SHM_DEST: u32 = crate::shm::ShmidDs::SHM_DEST;
/// `SHM_LOCKED` in `shm_perm.mode`: locked by `SHM_LOCK`.
pub const SHM_LOCKED: u32 = crate::shm::ShmidDs::SHM_LOCKED;

// ===== structs =====

/// `struct ipc_perm` (`<sys/ipc.h>`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ipc_perm {
    /// `__key`.
    pub __key: i32,
    /// `uid`: owner.
    pub uid: u32,
    /// `gid`: owner's group.
    pub gid: u32,
    /// `cuid`: creator.
    pub cuid: u32,
    /// `cgid`: creator's group.
    pub cgid: u32,
    /// `mode`: permissions, and `SHM_DEST`/`SHM_LOCKED` for segments.
    pub mode: u32,
    /// `__seq`: the id's sequence number.
    pub __seq: u16,
}

impl From<IpcPerm> for ipc_perm {
    fn from(p: IpcPerm) -> ipc_perm {
        ipc_perm {
            __key: p.key.raw(),
            uid: p.uid,
            gid: p.gid,
            cuid: p.cuid,
            cgid: p.cgid,
            mode: p.mode,
            __seq: p.seq as u16,
        }
    }
}

/// `struct msqid_ds` (`<sys/msg.h>`; glibc spells `msg_cbytes` `__msg_cbytes`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct msqid_ds {
    /// `msg_perm`.
    pub msg_perm: ipc_perm,
    /// `msg_stime`: last `msgsnd`.
    pub msg_stime: i64,
    /// `msg_rtime`: last `msgrcv`.
    pub msg_rtime: i64,
    /// `msg_ctime`: creation or last `IPC_SET`.
    pub msg_ctime: i64,
    /// `msg_cbytes`: bytes queued.
    pub msg_cbytes: u64,
    /// `msg_qnum`: messages queued.
    pub msg_qnum: u64,
    /// `msg_qbytes`: the most bytes queued.
    pub msg_qbytes: u64,
    /// `msg_lspid`: pid of the last `msgsnd`.
    pub msg_lspid: i32,
    /// `msg_lrpid`: pid of the last `msgrcv`.
    pub msg_lrpid: i32,
}

/// `struct msginfo` (`<sys/msg.h>`), filled by `IPC_INFO` and `MSG_INFO`; see
/// [`MsgInfo`](crate::msg::MsgInfo) for what each field means under each command.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct msginfo {
    /// `msgpool`.
    pub msgpool: i32,
    /// `msgmap`.
    pub msgmap: i32,
    /// `msgmax`.
    pub msgmax: i32,
    /// `msgmnb`.
    pub msgmnb: i32,
    /// `msgmni`.
    pub msgmni: i32,
    /// `msgssz`.
    pub msgssz: i32,
    /// `msgtql`.
    pub msgtql: i32,
    /// `msgseg`.
    pub msgseg: u16,
}

/// `struct sembuf` (`<sys/sem.h>`): one operation of a `semop`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct sembuf {
    /// `sem_num`: which semaphore.
    pub sem_num: u16,
    /// `sem_op`: add (> 0), take (< 0) or wait for zero (0).
    pub sem_op: i16,
    /// `sem_flg`: `IPC_NOWAIT`, `SEM_UNDO`.
    pub sem_flg: i16,
}

/// `struct semid_ds` (`<sys/sem.h>`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct semid_ds {
    /// `sem_perm`.
    pub sem_perm: ipc_perm,
    /// `sem_otime`: last `semop`.
    pub sem_otime: i64,
    /// `sem_ctime`: creation, `IPC_SET`, `SETVAL`, `SETALL`.
    pub sem_ctime: i64,
    /// `sem_nsems`.
    pub sem_nsems: u64,
}

/// `struct seminfo` (`<sys/sem.h>`), filled by `IPC_INFO` and `SEM_INFO`; see
/// [`SemInfo`](crate::sem::SemInfo).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct seminfo {
    /// `semmap`.
    pub semmap: i32,
    /// `semmni`.
    pub semmni: i32,
    /// `semmns`.
    pub semmns: i32,
    /// `semmnu`.
    pub semmnu: i32,
    /// `semmsl`.
    pub semmsl: i32,
    /// `semopm`.
    pub semopm: i32,
    /// `semume`.
    pub semume: i32,
    /// `semusz`.
    pub semusz: i32,
    /// `semvmx`.
    pub semvmx: i32,
    /// `semaem`.
    pub semaem: i32,
}

/// `union semun`, the fourth argument of `semctl`, as an enum: the variant is the member
/// the command reads or writes ([`semun::None`] where C passes nothing).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub enum semun<'a> {
    /// No argument (`GETVAL`, `GETPID`, `GETNCNT`, `GETZCNT`, `IPC_RMID`).
    None,
    /// `int val` (`SETVAL`).
    Val(i32),
    /// `struct semid_ds *buf` (`IPC_STAT`, `IPC_SET`, `SEM_STAT`, `SEM_STAT_ANY`).
    Buf(&'a mut semid_ds),
    /// `unsigned short *array` (`GETALL`, `SETALL`): at least `sem_nsems` entries.
    Array(&'a mut [u16]),
    /// `struct seminfo *__buf` (`IPC_INFO`, `SEM_INFO`).
    Info(&'a mut seminfo),
}

/// `struct shmid_ds` (`<sys/shm.h>`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct shmid_ds {
    /// `shm_perm` (its mode with `SHM_DEST` and `SHM_LOCKED`).
    pub shm_perm: ipc_perm,
    /// `shm_segsz`: the size asked for.
    pub shm_segsz: usize,
    /// `shm_atime`: last `shmat`.
    pub shm_atime: i64,
    /// `shm_dtime`: last `shmdt`.
    pub shm_dtime: i64,
    /// `shm_ctime`: creation or last `IPC_SET`.
    pub shm_ctime: i64,
    /// `shm_cpid`: creator's pid.
    pub shm_cpid: i32,
    /// `shm_lpid`: pid of the last `shmat`/`shmdt`.
    pub shm_lpid: i32,
    /// `shm_nattch`: attachments.
    pub shm_nattch: u64,
}

/// `struct shminfo` (`<sys/shm.h>`), filled by `shmctl(IPC_INFO)`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct shminfo {
    /// `shmmax`.
    pub shmmax: u64,
    /// `shmmin`.
    pub shmmin: u64,
    /// `shmmni`.
    pub shmmni: u64,
    /// `shmseg`.
    pub shmseg: u64,
    /// `shmall`.
    pub shmall: u64,
}

/// `struct shm_info` (`<sys/shm.h>`), filled by `shmctl(SHM_INFO)`; see
/// [`ShmInfo`](crate::shm::ShmInfo) for what `shm_rss` and `shm_swp` count here.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct shm_info {
    /// `used_ids`.
    pub used_ids: i32,
    /// `shm_tot`: pages of all segments.
    pub shm_tot: u64,
    /// `shm_rss`.
    pub shm_rss: u64,
    /// `shm_swp`.
    pub shm_swp: u64,
    /// `swap_attempts`: 0.
    pub swap_attempts: u64,
    /// `swap_successes`: 0.
    pub swap_successes: u64,
}

/// `struct timespec`: `semtimedop`'s timeout.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct timespec {
    /// `tv_sec`.
    pub tv_sec: i64,
    /// `tv_nsec`: in `[0, 999_999_999]`.
    pub tv_nsec: i64,
}

/// The buffer argument of `msgctl`, as an enum: the variant is what the command reads or
/// writes.
#[derive(Debug)]
pub enum MsgctlBuf<'a> {
    /// `NULL` (`IPC_RMID`).
    Null,
    /// `struct msqid_ds *` (`IPC_STAT`, `IPC_SET`, `MSG_STAT`, `MSG_STAT_ANY`).
    Ds(&'a mut msqid_ds),
    /// `struct msginfo *` (`IPC_INFO`, `MSG_INFO`).
    Info(&'a mut msginfo),
}

/// The buffer argument of `shmctl`, as an enum: the variant is what the command reads or
/// writes.
#[derive(Debug)]
pub enum ShmctlBuf<'a> {
    /// `NULL` (`IPC_RMID`, `SHM_LOCK`, `SHM_UNLOCK`).
    Null,
    /// `struct shmid_ds *` (`IPC_STAT`, `IPC_SET`, `SHM_STAT`, `SHM_STAT_ANY`).
    Ds(&'a mut shmid_ds),
    /// `struct shminfo *` (`IPC_INFO`).
    Info(&'a mut shminfo),
    /// `struct shm_info *` (`SHM_INFO`).
    ShmInfo(&'a mut shm_info),
}

// ===== CallFuture =====

/// The future of a C call that may sleep (`msgsnd`, `msgrcv`, `semop`, `semtimedop`).
///
/// It owns the call (boxed: the C layer is for porting, not for hot loops), so it is
/// cancel-safe exactly as the typed future it drives — dropping it is the kernel's `EINTR`
/// — and safe to poll after completion: it then answers `EINVAL` at once, as the typed
/// futures do, and never panics.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CallFuture<'a, T> {
    /// The call; `None` once it completed.
    call: Option<BoxedCall<'a, T>>,
    op: Op,
    /// The event's id and pid, and the wait (the `tracing` feature).
    #[cfg(feature = "tracing")]
    trace: (i32, i32, crate::trace::Wait),
}

type BoxedCall<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

impl<'a, T> CallFuture<'a, T> {
    fn new(op: Op, call: impl Future<Output = Result<T, Error>> + Send + 'a) -> Self {
        CallFuture {
            call: Some(Box::pin(call)),
            op,
            #[cfg(feature = "tracing")]
            trace: (-1, 0, crate::trace::Wait::default()),
        }
    }

    /// The id and pid its one event reports (the typed calls it makes are muted).
    #[cfg(feature = "tracing")]
    fn traced(mut self, id: i32, pid: i32) -> Self {
        self.trace.0 = id;
        self.trace.1 = pid;
        self
    }

    /// Without the `tracing` feature: nothing to record.
    #[cfg(not(feature = "tracing"))]
    #[inline(always)]
    fn traced(self, _id: i32, _pid: i32) -> Self {
        self
    }
}

impl<T> Future for CallFuture<'_, T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(call) = this.call.as_mut() else {
            return Poll::Ready(Err(Error::new(this.op, ErrorKind::InvalidArgument)));
        };
        #[cfg(feature = "tracing")]
        let p = crate::trace::muted(|| call.as_mut().poll(cx));
        #[cfg(not(feature = "tracing"))]
        let p = call.as_mut().poll(cx);
        crate::trace::poll!(this.trace.2, this.op, this.trace.0, this.trace.1, &p);
        let out = std::task::ready!(p);
        #[cfg(feature = "tracing")]
        crate::trace::muted(|| this.call = None);
        #[cfg(not(feature = "tracing"))]
        {
            this.call = None;
        }
        Poll::Ready(out)
    }
}

/// With the `tracing` feature: the typed future inside drops muted, and a call dropped
/// while it waited reports `cancelled` once.
#[cfg(feature = "tracing")]
impl<T> Drop for CallFuture<'_, T> {
    fn drop(&mut self) {
        let call = self.call.take();
        crate::trace::muted(|| drop(call));
        self.trace.2.dropped(self.op, self.trace.0, self.trace.1);
    }
}

impl<T> fmt::Debug for CallFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallFuture").field("op", &self.op).field("done", &self.call.is_none()).finish()
    }
}

// ===== helpers =====

/// The flags of a `*get` call on `key`: `IPC_CREAT`, `IPC_EXCL` and the mode bits
/// (`& 0o777`); the kernel ignores the other bits (`SHM_HUGETLB`, ...). `IPC_PRIVATE`
/// creates with or without `IPC_CREAT`, as in the kernel, so it is passed as a create (the
/// typed builder asks for `.create(mode)` there).
fn open_flags(key: i32, flg: i32) -> OpenFlags {
    OpenFlags {
        create: flg & IPC_CREAT != 0 || key == IPC_PRIVATE,
        exclusive: flg & IPC_EXCL != 0,
        mode: flg as u32 & 0o777,
    }
}

/// An error of this call.
fn fail<T>(op: Op, kind: ErrorKind) -> Result<T, Error> {
    Err(Error::new(op, kind))
}

/// The same error, as the call that reports it (the typed layer names `msgget` for the
/// lookup by id; the C call that looked the id up is the one that fails).
fn as_op(op: Op) -> impl Fn(Error) -> Error {
    move |e| Error::new(op, e.kind())
}

/// Saturating `int` of a figure, as the kernel's `min_t(int, ...)`.
fn int(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
