//! Errors: the errno values of the System V IPC calls, as Rust types.
//!
//! Every fallible svipc call fails with an [`Error`]: an [`ErrorKind`], which is the errno
//! the kernel would have returned from the same call in the same situation (the paths in
//! `ipc/msg.c`, `ipc/sem.c`, `ipc/shm.c` and `ipc/util.c`), plus the [`Op`] naming that C
//! call. Calls that consume a value give it back on failure inside a payload error, as
//! crossbeam-channel and tokio's `mpsc` do: [`SendError`] carries the message a `msgsnd`
//! could not queue.
//!
//! An [`Error`] converts into a [`std::io::Error`] built from the raw errno, so
//! [`raw_os_error`](std::io::Error::raw_os_error) is the number a C programmer expects and
//! [`io::Error::kind`](std::io::Error::kind) is the standard library's own mapping of it.
//!
//! | [`ErrorKind`]                         | errno    | Produced by                                                         |
//! |---------------------------------------|----------|---------------------------------------------------------------------|
//! | [`NotFound`](ErrorKind::NotFound)                 | `ENOENT` | `msgget`/`semget`/`shmget` without `IPC_CREAT` on a missing key |
//! | [`AlreadyExists`](ErrorKind::AlreadyExists)       | `EEXIST` | `IPC_CREAT \| IPC_EXCL` on a key that exists                    |
//! | [`PermissionDenied`](ErrorKind::PermissionDenied) | `EACCES` | the mode check (`ipcperms`) of any call                         |
//! | [`NotPermitted`](ErrorKind::NotPermitted)         | `EPERM`  | ownership and capability checks: `IPC_SET`, `IPC_RMID`, raising `msg_qbytes`, `SHM_LOCK` |
//! | [`Removed`](ErrorKind::Removed)                   | `EIDRM`  | a call that was *waiting* when its object was removed           |
//! | [`WouldBlock`](ErrorKind::WouldBlock)             | `EAGAIN` | `IPC_NOWAIT` `msgsnd`/`semop`; `semtimedop` timeout             |
//! | [`NoMessage`](ErrorKind::NoMessage)               | `ENOMSG` | `IPC_NOWAIT` `msgrcv` that found no matching message            |
//! | [`TooBig`](ErrorKind::TooBig)                     | `E2BIG`  | `msgrcv` buffer too small; `semop` with `nsops > SEMOPM`        |
//! | [`FileTooBig`](ErrorKind::FileTooBig)             | `EFBIG`  | `semop` with `sem_num` out of range                             |
//! | [`OutOfRange`](ErrorKind::OutOfRange)             | `ERANGE` | `semop`/`semctl` past `SEMVMX`, or a semadj out of range        |
//! | [`NoSpace`](ErrorKind::NoSpace)                   | `ENOSPC` | `MSGMNI`, `SEMMNI`, `SEMMNS`, `SHMMNI`, `SHMALL` limits         |
//! | [`InvalidArgument`](ErrorKind::InvalidArgument)   | `EINVAL` | a bad argument; an unknown or stale id                          |
//! | [`OutOfMemory`](ErrorKind::OutOfMemory)           | `ENOMEM` | a mapping or `mlock` the system refused                         |
//! | [`TypeMismatch`](ErrorKind::TypeMismatch)         | `EINVAL` | svipc only: a queue opened with another payload type            |
//!
//! A stale or unknown id is [`InvalidArgument`](ErrorKind::InvalidArgument), never
//! [`Removed`](ErrorKind::Removed): as in the kernel, `EIDRM` is reserved for a caller that
//! was already asleep on the object when `IPC_RMID` removed it.
//!
//! # Examples
//!
//! ```
//! use svipc::{Error, ErrorKind, Op};
//!
//! let err = Error::new(Op::MsgRcv, ErrorKind::NoMessage);
//! assert!(err.is_no_message());
//! assert_eq!(err.to_string(), "msgrcv: no message of the requested type (ENOMSG)");
//! ```

use std::fmt;
use std::io;

// ===== ErrorKind =====

/// The kind of an [`Error`]: which errno the System V call would have set.
///
/// The variants mirror errno values, not Rust-side categories, so each one is documented
/// with the errno and the calls that produce it. New variants may be added, hence
/// `#[non_exhaustive]`.
///
/// | [`ErrorKind`]                         | errno    | Produced by                                                         |
/// |---------------------------------------|----------|---------------------------------------------------------------------|
/// | [`NotFound`](ErrorKind::NotFound)                 | `ENOENT` | `msgget`/`semget`/`shmget` without `IPC_CREAT` on a missing key |
/// | [`AlreadyExists`](ErrorKind::AlreadyExists)       | `EEXIST` | `IPC_CREAT \| IPC_EXCL` on a key that exists                    |
/// | [`PermissionDenied`](ErrorKind::PermissionDenied) | `EACCES` | the mode check (`ipcperms`) of any call                         |
/// | [`NotPermitted`](ErrorKind::NotPermitted)         | `EPERM`  | ownership and capability checks: `IPC_SET`, `IPC_RMID`, raising `msg_qbytes`, `SHM_LOCK` |
/// | [`Removed`](ErrorKind::Removed)                   | `EIDRM`  | a call that was *waiting* when its object was removed           |
/// | [`WouldBlock`](ErrorKind::WouldBlock)             | `EAGAIN` | `IPC_NOWAIT` `msgsnd`/`semop`; `semtimedop` timeout             |
/// | [`NoMessage`](ErrorKind::NoMessage)               | `ENOMSG` | `IPC_NOWAIT` `msgrcv` that found no matching message            |
/// | [`TooBig`](ErrorKind::TooBig)                     | `E2BIG`  | `msgrcv` buffer too small; `semop` with `nsops > SEMOPM`        |
/// | [`FileTooBig`](ErrorKind::FileTooBig)             | `EFBIG`  | `semop` with `sem_num` out of range                             |
/// | [`OutOfRange`](ErrorKind::OutOfRange)             | `ERANGE` | `semop`/`semctl` past `SEMVMX`, or a semadj out of range        |
/// | [`NoSpace`](ErrorKind::NoSpace)                   | `ENOSPC` | `MSGMNI`, `SEMMNI`, `SEMMNS`, `SHMMNI`, `SHMALL` limits         |
/// | [`InvalidArgument`](ErrorKind::InvalidArgument)   | `EINVAL` | a bad argument; an unknown or stale id                          |
/// | [`OutOfMemory`](ErrorKind::OutOfMemory)           | `ENOMEM` | a mapping or `mlock` the system refused                         |
/// | [`TypeMismatch`](ErrorKind::TypeMismatch)         | `EINVAL` | svipc only: a queue opened with another payload type            |
///
/// A stale or unknown id is [`InvalidArgument`](ErrorKind::InvalidArgument), never
/// [`Removed`](ErrorKind::Removed): as in the kernel, `EIDRM` is reserved for a caller that
/// was already asleep on the object when `IPC_RMID` removed it.
///
/// # Examples
///
/// ```
/// use svipc::ErrorKind;
///
/// let kind = ErrorKind::PermissionDenied;
/// assert_eq!(kind.errno_name(), "EACCES");
/// assert_eq!(ErrorKind::from_errno(kind.errno()), Some(kind));
/// assert_eq!(kind.to_string(), "permission denied");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `ENOENT`: no object has this key, and the get call (`msgget`, `semget`, `shmget`)
    /// was made without `IPC_CREAT`.
    NotFound,
    /// `EEXIST`: `IPC_CREAT | IPC_EXCL` was given for a key that already has an object.
    AlreadyExists,
    /// `EACCES`: the caller's credentials fail the object's mode check (`ipcperms`), on
    /// any get, send, receive, semop, attach or `IPC_STAT`.
    PermissionDenied,
    /// `EPERM`: an ownership or capability check failed: `IPC_SET` or `IPC_RMID` by
    /// someone who is neither owner, creator nor privileged, raising `msg_qbytes` above the
    /// limit without `CAP_SYS_RESOURCE`, or `SHM_LOCK`/`SHM_UNLOCK` without the capability.
    NotPermitted,
    /// `EIDRM`: the object was removed while this call was waiting on it (a blocked
    /// `msgsnd`, `msgrcv` or `semop`).
    ///
    /// A call that *starts* on a removed object sees a stale id and fails with
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) instead.
    Removed,
    /// `EAGAIN`: the call would have to wait and `IPC_NOWAIT` was given (`msgsnd` on a full
    /// queue, `semop`), or a `semtimedop` timeout expired (see [`Error::is_timeout`]).
    WouldBlock,
    /// `ENOMSG`: `msgrcv` with `IPC_NOWAIT` found no message of the requested type.
    NoMessage,
    /// `E2BIG`: `msgrcv` found a message larger than the caller's buffer (without
    /// `MSG_NOERROR`; the message stays queued), or `semop` was given more than `SEMOPM`
    /// operations.
    TooBig,
    /// `EFBIG`: a `semop` operation names a `sem_num` outside the set.
    FileTooBig,
    /// `ERANGE`: a semaphore value would exceed `SEMVMX`, or a semadj value would leave its
    /// range (`semop`, `semctl` `SETVAL`/`SETALL`).
    OutOfRange,
    /// `ENOSPC`: a system-wide limit was reached creating an object: `MSGMNI` queues,
    /// `SEMMNI` sets or `SEMMNS` semaphores, `SHMMNI` segments or `SHMALL` pages.
    NoSpace,
    /// `EINVAL`: an invalid argument, or an unknown or stale id (an object removed before
    /// the call began).
    InvalidArgument,
    /// `ENOMEM`: the system refused memory: a segment mapping (`shmget`, `shmat`) or an
    /// `mlock` (`SHM_LOCK`).
    OutOfMemory,
    /// svipc's own kind: a key or id was opened as a `MessageQueue<T>` with a different
    /// payload type `T` than the queue was created with. Its errno is `EINVAL`.
    TypeMismatch,
}

impl ErrorKind {
    /// The errno value the System V call would have set for this kind.
    ///
    /// [`TypeMismatch`](ErrorKind::TypeMismatch) has no errno of its own and reports
    /// `EINVAL`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::TypeMismatch.errno(), ErrorKind::InvalidArgument.errno());
    /// ```
    #[must_use]
    pub const fn errno(self) -> i32 {
        match self {
            ErrorKind::NotFound => libc::ENOENT,
            ErrorKind::AlreadyExists => libc::EEXIST,
            ErrorKind::PermissionDenied => libc::EACCES,
            ErrorKind::NotPermitted => libc::EPERM,
            ErrorKind::Removed => libc::EIDRM,
            ErrorKind::WouldBlock => libc::EAGAIN,
            ErrorKind::NoMessage => libc::ENOMSG,
            ErrorKind::TooBig => libc::E2BIG,
            ErrorKind::FileTooBig => libc::EFBIG,
            ErrorKind::OutOfRange => libc::ERANGE,
            ErrorKind::NoSpace => libc::ENOSPC,
            ErrorKind::InvalidArgument | ErrorKind::TypeMismatch => libc::EINVAL,
            ErrorKind::OutOfMemory => libc::ENOMEM,
        }
    }

    /// The symbolic name of [`errno`](ErrorKind::errno), such as `"EAGAIN"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::WouldBlock.errno_name(), "EAGAIN");
    /// assert_eq!(ErrorKind::TypeMismatch.errno_name(), "EINVAL");
    /// ```
    #[must_use]
    pub const fn errno_name(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "ENOENT",
            ErrorKind::AlreadyExists => "EEXIST",
            ErrorKind::PermissionDenied => "EACCES",
            ErrorKind::NotPermitted => "EPERM",
            ErrorKind::Removed => "EIDRM",
            ErrorKind::WouldBlock => "EAGAIN",
            ErrorKind::NoMessage => "ENOMSG",
            ErrorKind::TooBig => "E2BIG",
            ErrorKind::FileTooBig => "EFBIG",
            ErrorKind::OutOfRange => "ERANGE",
            ErrorKind::NoSpace => "ENOSPC",
            ErrorKind::InvalidArgument | ErrorKind::TypeMismatch => "EINVAL",
            ErrorKind::OutOfMemory => "ENOMEM",
        }
    }

    /// The kind for an errno value, or `None` if no kind has that errno.
    ///
    /// This inverts [`errno`](ErrorKind::errno): `EINVAL` maps to
    /// [`InvalidArgument`](ErrorKind::InvalidArgument), never to
    /// [`TypeMismatch`](ErrorKind::TypeMismatch).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::ErrorKind;
    ///
    /// let einval = ErrorKind::TypeMismatch.errno();
    /// assert_eq!(ErrorKind::from_errno(einval), Some(ErrorKind::InvalidArgument));
    /// assert_eq!(ErrorKind::from_errno(0), None);
    /// ```
    #[must_use]
    pub fn from_errno(errno: i32) -> Option<ErrorKind> {
        let kind = match errno {
            libc::ENOENT => ErrorKind::NotFound,
            libc::EEXIST => ErrorKind::AlreadyExists,
            libc::EACCES => ErrorKind::PermissionDenied,
            libc::EPERM => ErrorKind::NotPermitted,
            libc::EIDRM => ErrorKind::Removed,
            libc::EAGAIN => ErrorKind::WouldBlock,
            libc::ENOMSG => ErrorKind::NoMessage,
            libc::E2BIG => ErrorKind::TooBig,
            libc::EFBIG => ErrorKind::FileTooBig,
            libc::ERANGE => ErrorKind::OutOfRange,
            libc::ENOSPC => ErrorKind::NoSpace,
            libc::EINVAL => ErrorKind::InvalidArgument,
            libc::ENOMEM => ErrorKind::OutOfMemory,
            _ => return None,
        };
        Some(kind)
    }

    /// The lowercase description used by `Display`.
    const fn description(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "no object exists for the key",
            ErrorKind::AlreadyExists => "an object already exists for the key",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::NotPermitted => "operation not permitted",
            ErrorKind::Removed => "object removed while waiting",
            ErrorKind::WouldBlock => "resource temporarily unavailable",
            ErrorKind::NoMessage => "no message of the requested type",
            ErrorKind::TooBig => "message or operation list too big",
            ErrorKind::FileTooBig => "semaphore number out of range",
            ErrorKind::OutOfRange => "semaphore value out of range",
            ErrorKind::NoSpace => "system limit on ipc objects reached",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::TypeMismatch => "type mismatch",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.description())
    }
}

// ===== Op =====

/// The System V call an [`Error`] came from.
///
/// Each svipc operation names the C call it stands for, so an error prints as the
/// `perror`-style line a C programmer would expect (`msgsnd: ...`).
///
/// # Examples
///
/// ```
/// use svipc::Op;
///
/// assert_eq!(Op::SemOp.name(), "semop");
/// assert_eq!(Op::IpcRm.to_string(), "ipcrm");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `msgget`: open or create a message queue.
    MsgGet,
    /// `msgsnd`: send a message.
    MsgSnd,
    /// `msgrcv`: receive a message.
    MsgRcv,
    /// `msgctl`: stat, set or remove a message queue.
    MsgCtl,
    /// `semget`: open or create a semaphore set.
    SemGet,
    /// `semop` / `semtimedop`: apply operations to a semaphore set.
    SemOp,
    /// `semctl`: read, set, stat or remove a semaphore set.
    SemCtl,
    /// `shmget`: open or create a shared memory segment.
    ShmGet,
    /// `shmat`: attach a segment.
    ShmAt,
    /// `shmdt`: detach a segment.
    ShmDt,
    /// `shmctl`: stat, set, lock or remove a segment.
    ShmCtl,
    /// `ipcrm`: remove an object by key or id.
    IpcRm,
    /// A write of the `kernel.msg*`, `kernel.sem` or `kernel.shm*` sysctls
    /// ([`Namespace::set_limits`](crate::Namespace::set_limits)).
    Sysctl,
}

impl Op {
    /// The C name of the call, such as `"msgsnd"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Op::MsgGet => "msgget",
            Op::MsgSnd => "msgsnd",
            Op::MsgRcv => "msgrcv",
            Op::MsgCtl => "msgctl",
            Op::SemGet => "semget",
            Op::SemOp => "semop",
            Op::SemCtl => "semctl",
            Op::ShmGet => "shmget",
            Op::ShmAt => "shmat",
            Op::ShmDt => "shmdt",
            Op::ShmCtl => "shmctl",
            Op::IpcRm => "ipcrm",
            Op::Sysctl => "sysctl",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

// ===== Error =====

/// The error of every fallible svipc call: an [`ErrorKind`] (the errno) and the [`Op`]
/// (the System V call) it came from.
///
/// A timed wait that expires (`semtimedop`, a timed receive) fails with
/// [`ErrorKind::WouldBlock`], as the kernel reports it; [`is_timeout`](Error::is_timeout)
/// tells that case apart from an `IPC_NOWAIT` failure.
///
/// `Display` prints a `perror`-style line, `"{op}: {kind} ({ERRNO})"`, followed by
/// `": {detail}"` where svipc knows which argument was wrong ([`detail`](Error::detail)).
///
/// # The object I was using is gone
///
/// A service stops by removing its objects, and each of its tasks must tell that apart from
/// its own mistakes. The kernel gives two errnos for it — `EIDRM` to a call that was waiting
/// when the object went, `EINVAL` to a call that started after — and `EINVAL` is also the
/// errno of a bad argument. svipc keeps the kernel's errnos and adds one predicate,
/// [`Error::is_removed`], true in both cases and only in them: a handle knows its own
/// object, so an `EINVAL` that a handle's call got because *that handle's* object was
/// removed is marked as such, while an `EINVAL` for a bad argument (a zero `mtype`, an empty
/// `semop`) is not, even on a removed object. (Argument checks come first, as in the
/// kernel.)
///
/// # Examples
///
/// Converting to [`std::io::Error`] keeps the errno:
///
/// ```
/// use std::io;
/// use svipc::{Error, ErrorKind, Op};
///
/// let err = Error::new(Op::MsgSnd, ErrorKind::WouldBlock);
/// assert!(err.is_would_block());
/// assert_eq!(err.to_string(), "msgsnd: resource temporarily unavailable (EAGAIN)");
///
/// let io_err = io::Error::from(err);
/// assert_eq!(io_err.raw_os_error(), Some(ErrorKind::WouldBlock.errno())); // EAGAIN
/// assert_eq!(io_err.kind(), io::ErrorKind::WouldBlock);
///
/// let back = ErrorKind::from_errno(io_err.raw_os_error().unwrap_or(0));
/// assert_eq!(back, Some(ErrorKind::WouldBlock));
/// ```
///
/// A timeout is a `WouldBlock` that knows it timed out:
///
/// ```
/// use svipc::{Error, ErrorKind, Op};
///
/// let err = Error::timed_out(Op::SemOp);
/// assert_eq!(err.kind(), ErrorKind::WouldBlock);
/// assert!(err.is_timeout() && err.is_would_block());
/// assert_eq!(err.to_string(), "semop: timed out (EAGAIN)");
/// ```
///
/// Where the mistake is a common one — a missing `.nsems(n)` or `.size(n)`, a decimal mode,
/// an argument out of range — the error also names the argument, after the errno text; the
/// kind and the errno are the kernel's all the same:
///
/// ```
/// use svipc::{Credentials, ErrorKind, Key, Namespace};
///
/// let me = Namespace::new().process(Credentials::new(1000, 1000));
/// let err = me.sem_set(Key::PRIVATE).create(0o600).open().unwrap_err(); // no .nsems(n)
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(err.detail(), Some("nsems is 0: a new set needs .nsems(n)"));
/// assert_eq!(err.to_string(), "semget: invalid argument (EINVAL): nsems is 0: a new set needs .nsems(n)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    op: Op,
    timeout: bool,
    /// One byte, not a `&'static str`: an `Error` stays a few bytes, so the `Result`s of
    /// the lock-free calls stay as small as the kernel's `int` return.
    detail: Option<Detail>,
    /// The `EINVAL` of a call through a handle whose own object was removed (the module
    /// docs' "the object I was using is gone").
    removed: bool,
}

/// A `Result` whose error defaults to svipc's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` from the call `op`.
    #[must_use]
    pub const fn new(op: Op, kind: ErrorKind) -> Error {
        Error { kind, op, timeout: false, detail: None, removed: false }
    }

    /// The same error, naming the argument that was wrong.
    pub(crate) const fn with(mut self, detail: Detail) -> Error {
        self.detail = Some(detail);
        self
    }

    /// The error of a call made through a handle whose object was removed before the call
    /// began: kind [`InvalidArgument`](ErrorKind::InvalidArgument) (`EINVAL`, the dead id),
    /// with [`is_removed`](Error::is_removed) true.
    pub(crate) const fn object_removed(op: Op) -> Error {
        Error { kind: ErrorKind::InvalidArgument, op, timeout: false, detail: None, removed: true }
    }

    /// `Error::new(op, kind)`, marked [`object_removed`](Error::object_removed) when the
    /// handle that made the call sees its object removed and the kind is the dead id's
    /// `EINVAL`. Only for errors the object's engine returned, never for an argument check.
    pub(crate) fn of_handle(op: Op, kind: ErrorKind, removed: bool) -> Error {
        if removed && matches!(kind, ErrorKind::InvalidArgument) {
            Error::object_removed(op)
        } else {
            Error::new(op, kind)
        }
    }

    /// The error of a timed wait in `op` that expired: kind
    /// [`WouldBlock`](ErrorKind::WouldBlock) (`EAGAIN`, as `semtimedop` reports it), with
    /// [`is_timeout`](Error::is_timeout) true.
    #[must_use]
    pub const fn timed_out(op: Op) -> Error {
        Error { kind: ErrorKind::WouldBlock, op, timeout: true, detail: None, removed: false }
    }

    /// The kind of error.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The System V call the error came from.
    #[must_use]
    pub const fn op(&self) -> Op {
        self.op
    }

    /// The errno value, [`ErrorKind::errno`] of [`kind`](Error::kind).
    #[must_use]
    pub const fn errno(&self) -> i32 {
        self.kind.errno()
    }

    /// Which argument was wrong, where svipc can tell: a short fixed text such as
    /// `"nsems is 0: a new set needs .nsems(n)"` or `"mode has bits outside 0o777"`.
    /// `None` for the errors the arguments alone do not explain (a missing key, a denied
    /// permission, a full queue, …). C has no counterpart: a C caller sees only the errno,
    /// which stays the same.
    #[must_use]
    pub const fn detail(&self) -> Option<&'static str> {
        match self.detail {
            Some(d) => Some(d.text()),
            None => None,
        }
    }

    /// Whether a timed wait expired ([`Error::timed_out`]).
    #[must_use]
    pub const fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// Whether the kind is [`WouldBlock`](ErrorKind::WouldBlock) (`EAGAIN`), which
    /// includes timeouts.
    #[must_use]
    pub const fn is_would_block(&self) -> bool {
        matches!(self.kind, ErrorKind::WouldBlock)
    }

    /// Whether the object this call used is gone: true for [`Removed`](ErrorKind::Removed)
    /// (`EIDRM`, the object was removed while the call waited) and for the
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) (`EINVAL`) that a call through a
    /// handle gets once the handle's own object was removed; false for every other error,
    /// including an `EINVAL` for a bad argument. The errno stays the kernel's; see the
    /// [type docs](Error#the-object-i-was-using-is-gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Select};
    ///
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let q: MessageQueue<u8> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// q.remove()?;
    /// let gone = q.try_recv(Select::Any).unwrap_err();
    /// assert_eq!(gone.kind(), ErrorKind::InvalidArgument); // the kernel's EINVAL
    /// assert!(gone.is_removed());
    /// let bad = q.try_recv(Select::Type(0)).unwrap_err(); // a bad msgtyp: checked first
    /// assert_eq!(bad.kind(), ErrorKind::InvalidArgument);
    /// assert!(!bad.is_removed());
    /// # Ok::<(), svipc::Error>(())
    /// ```
    #[must_use]
    pub const fn is_removed(&self) -> bool {
        self.removed || matches!(self.kind, ErrorKind::Removed)
    }

    /// Whether the kind is [`NoMessage`](ErrorKind::NoMessage) (`ENOMSG`).
    #[must_use]
    pub const fn is_no_message(&self) -> bool {
        matches!(self.kind, ErrorKind::NoMessage)
    }

    /// Whether the kind is [`PermissionDenied`](ErrorKind::PermissionDenied) (`EACCES`).
    #[must_use]
    pub const fn is_permission_denied(&self) -> bool {
        matches!(self.kind, ErrorKind::PermissionDenied)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("op", &self.op).field("kind", &self.kind);
        if self.timeout {
            d.field("timeout", &true);
        }
        if self.removed {
            d.field("removed", &true);
        }
        if let Some(detail) = self.detail {
            d.field("detail", &detail.text());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if self.timeout {
            "timed out"
        } else if self.removed {
            "the object was removed"
        } else {
            self.kind.description()
        };
        write!(f, "{}: {} ({})", self.op, text, self.kind.errno_name())?;
        match self.detail {
            Some(detail) => write!(f, ": {}", detail.text()),
            None => Ok(()),
        }
    }
}

// ===== Detail, Fault =====

/// The argument a common mistake is about: [`Error::detail`]'s text, kept as one byte.
///
/// Each names the argument as the builder or method spells it, and says what was wrong
/// with it; where the fix is one call, it names the call. The list grows where users trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Detail {
    /// `semget` creating a set without `.nsems(n)`.
    NsemsZero,
    /// `semget` with `nsems > SEMMSL`.
    NsemsAboveSemmsl,
    /// `semget` of an existing set with fewer semaphores than asked.
    NsemsAboveExisting,
    /// `shmget` creating a segment without `.size(n)`.
    SizeZero,
    /// `shmget` with `0 < size < SHMMIN` (only when `SHMMIN` was raised).
    SizeBelowShmmin,
    /// `shmget` with `size > SHMMAX`.
    SizeAboveShmmax,
    /// `shmget` of an existing segment smaller than asked.
    SizeAboveExisting,
    /// A `create(mode)` or `mode(mode)` with bits above the nine permission bits (a
    /// decimal `600` for `0o600`, or a C flag such as `IPC_CREAT` folded in).
    ModeBits,
    /// `Key::PRIVATE` opened without `.create(mode)`.
    PrivateWithoutCreate,
    /// `semop` with no operation.
    OpsEmpty,
    /// `acquire` of more than 32767 units.
    UnitsAboveShortMax,
    /// A `semctl` on a semaphore number at or beyond `nsems`.
    NumBeyondSet,
    /// `SETALL` with a slice that does not have `nsems` values.
    ValsLength,
    /// `SETVAL`/`SETALL` with a value above `SEMVMX`.
    ValAboveSemvmx,
    /// `msgsnd` with `mtype < 1`.
    MtypeBelowOne,
    /// `msgsnd` of a message larger than `MSGMAX`.
    SizeAboveMsgmax,
    /// `MSG_COPY` on a host kernel built without `CONFIG_CHECKPOINT_RESTORE` (its `ENOSYS`).
    #[cfg_attr(any(loom, not(target_os = "linux")), allow(dead_code))]
    MsgCopyUnsupported,
    /// A send reservation on a host queue, whose kernel cannot hold room for a message.
    #[cfg_attr(any(loom, not(target_os = "linux")), allow(dead_code))]
    ReserveOnHost,
}

impl Detail {
    /// The text [`Error::detail`] returns.
    pub(crate) const fn text(self) -> &'static str {
        match self {
            Detail::NsemsZero => "nsems is 0: a new set needs .nsems(n)",
            Detail::NsemsAboveSemmsl => "nsems is above SEMMSL",
            Detail::NsemsAboveExisting => "nsems is above the existing set's",
            Detail::SizeZero => "size is 0: a new segment needs .size(n)",
            Detail::SizeBelowShmmin => "size is below SHMMIN",
            Detail::SizeAboveShmmax => "size is above SHMMAX",
            Detail::SizeAboveExisting => "size is above the existing segment's",
            Detail::ModeBits => "mode has bits outside 0o777",
            Detail::PrivateWithoutCreate => "Key::PRIVATE always creates: call .create(mode)",
            Detail::OpsEmpty => "ops is empty",
            Detail::UnitsAboveShortMax => "units above 32767 in one acquire",
            Detail::NumBeyondSet => "num is not below nsems",
            Detail::ValsLength => "vals does not have nsems values",
            Detail::ValAboveSemvmx => "value is above SEMVMX",
            Detail::MtypeBelowOne => "mtype is below 1",
            Detail::SizeAboveMsgmax => "size is above MSGMAX",
            Detail::MsgCopyUnsupported => "MSG_COPY needs a kernel built with CONFIG_CHECKPOINT_RESTORE",
            Detail::ReserveOnHost => "a host queue cannot reserve room: reserve is in-process only",
        }
    }
}

/// An errno with an optional [`Detail`], as the engines report it before the facade names
/// the call ([`Fault::at`]). Every `ErrorKind` converts into one, so `?` works unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Fault {
    pub(crate) kind: ErrorKind,
    pub(crate) detail: Option<Detail>,
}

impl Fault {
    /// `kind`, naming the argument.
    pub(crate) const fn new(kind: ErrorKind, detail: Detail) -> Fault {
        Fault { kind, detail: Some(detail) }
    }

    /// The public error, from the call `op`.
    pub(crate) const fn at(self, op: Op) -> Error {
        Error { kind: self.kind, op, timeout: false, detail: self.detail, removed: false }
    }
}

impl From<ErrorKind> for Fault {
    fn from(kind: ErrorKind) -> Fault {
        Fault { kind, detail: None }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    /// An `io::Error` from the raw errno, so `raw_os_error()` is the System V errno and
    /// `kind()` is std's mapping of it.
    fn from(err: Error) -> io::Error {
        io::Error::from_raw_os_error(err.errno())
    }
}

// ===== SendError =====

/// A failed send, with the message given back.
///
/// Returned by the message-queue send calls (`MessageQueue::send` and its non-blocking
/// and timed forms, standing for `msgsnd`) so a message that could not be queued is not
/// lost: [`into_inner`](SendError::into_inner) returns it.
///
/// `Debug` does not require `T: Debug`; it prints the error and elides the message.
///
/// # Examples
///
/// ```
/// use svipc::{Error, ErrorKind, Op, SendError};
///
/// struct Job(u32);
///
/// let err = SendError::new(Error::new(Op::MsgSnd, ErrorKind::WouldBlock), Job(7));
/// assert!(err.is_would_block());
/// assert_eq!(format!("{err:?}"), "SendError { op: MsgSnd, kind: WouldBlock, .. }");
/// assert_eq!(err.into_inner().0, 7);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SendError<T> {
    error: Error,
    msg: T,
}

impl<T> SendError<T> {
    /// A send that failed with `error`, giving back `msg`.
    #[must_use]
    pub const fn new(error: Error, msg: T) -> SendError<T> {
        SendError { error, msg }
    }

    /// The message that was not sent.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.msg
    }

    /// The error and the message that was not sent.
    #[must_use]
    pub fn into_parts(self) -> (Error, T) {
        (self.error, self.msg)
    }

    /// The error, without the message.
    #[must_use]
    pub const fn error(&self) -> Error {
        self.error
    }

    /// The kind of error.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.error.kind
    }

    /// Whether the queue was full and the send did not wait (`EAGAIN`), including a timed
    /// send that expired.
    #[must_use]
    pub const fn is_would_block(&self) -> bool {
        self.error.is_would_block()
    }

    /// Whether the queue is gone: removed while the send waited (`EIDRM`), or before it
    /// began (the handle's `EINVAL`); see [`Error::is_removed`].
    #[must_use]
    pub const fn is_removed(&self) -> bool {
        self.error.is_removed()
    }

    /// Whether a timed send expired.
    #[must_use]
    pub const fn is_timeout(&self) -> bool {
        self.error.is_timeout()
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SendError");
        d.field("op", &self.error.op).field("kind", &self.error.kind);
        if self.error.timeout {
            d.field("timeout", &true);
        }
        d.finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> From<SendError<T>> for Error {
    /// The error, dropping the message.
    fn from(err: SendError<T>) -> Error {
        err.error
    }
}

impl<T> From<SendError<T>> for io::Error {
    /// An `io::Error` from the errno, dropping the message.
    fn from(err: SendError<T>) -> io::Error {
        io::Error::from(err.error)
    }
}
