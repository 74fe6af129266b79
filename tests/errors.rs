//! The public error types: errno values, the `io::Error` round trip, `Display`/`Debug`
//! text, payload errors and the timeout predicates.

use std::io;

use svipc::{Error, ErrorKind, Op, SendError};

/// Every kind with its errno number on Linux (x86-64, aarch64: the generic errno table) and
/// its errno name.
const KINDS: [(ErrorKind, i32, &str); 14] = [
    (ErrorKind::NotFound, 2, "ENOENT"),
    (ErrorKind::AlreadyExists, 17, "EEXIST"),
    (ErrorKind::PermissionDenied, 13, "EACCES"),
    (ErrorKind::NotPermitted, 1, "EPERM"),
    (ErrorKind::Removed, 43, "EIDRM"),
    (ErrorKind::WouldBlock, 11, "EAGAIN"),
    (ErrorKind::NoMessage, 42, "ENOMSG"),
    (ErrorKind::TooBig, 7, "E2BIG"),
    (ErrorKind::FileTooBig, 27, "EFBIG"),
    (ErrorKind::OutOfRange, 34, "ERANGE"),
    (ErrorKind::NoSpace, 28, "ENOSPC"),
    (ErrorKind::InvalidArgument, 22, "EINVAL"),
    (ErrorKind::OutOfMemory, 12, "ENOMEM"),
    (ErrorKind::TypeMismatch, 22, "EINVAL"),
];

const ALL_OPS: [Op; 12] = [
    Op::MsgGet,
    Op::MsgSnd,
    Op::MsgRcv,
    Op::MsgCtl,
    Op::SemGet,
    Op::SemOp,
    Op::SemCtl,
    Op::ShmGet,
    Op::ShmAt,
    Op::ShmDt,
    Op::ShmCtl,
    Op::IpcRm,
];

/// A payload that implements nothing, to show `SendError` needs no bounds.
struct Opaque(u64);

#[test]
fn smoke() {
    let err = Error::new(Op::MsgSnd, ErrorKind::WouldBlock);
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert_eq!(err.op(), Op::MsgSnd);
    assert!(err.is_would_block());
    assert!(!err.is_timeout());
    assert_eq!(err.to_string(), "msgsnd: resource temporarily unavailable (EAGAIN)");
    assert_eq!(format!("{err:?}"), "Error { op: MsgSnd, kind: WouldBlock }");
}

#[test]
fn errno_matches_libc() {
    let libc_values = [
        libc::ENOENT,
        libc::EEXIST,
        libc::EACCES,
        libc::EPERM,
        libc::EIDRM,
        libc::EAGAIN,
        libc::ENOMSG,
        libc::E2BIG,
        libc::EFBIG,
        libc::ERANGE,
        libc::ENOSPC,
        libc::EINVAL,
        libc::ENOMEM,
        libc::EINVAL,
    ];
    for ((kind, _, name), expected) in KINDS.into_iter().zip(libc_values) {
        assert_eq!(kind.errno(), expected, "{kind:?}");
        assert_eq!(kind.errno_name(), name, "{kind:?}");
        assert_eq!(Error::new(Op::IpcRm, kind).errno(), expected, "{kind:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn errno_numbers_on_linux() {
    for (kind, number, _) in KINDS {
        assert_eq!(kind.errno(), number, "{kind:?}");
    }
}

#[test]
fn from_errno_round_trip() {
    for (kind, _, _) in KINDS {
        if kind == ErrorKind::TypeMismatch {
            continue;
        }
        assert_eq!(ErrorKind::from_errno(kind.errno()), Some(kind), "{kind:?}");
    }
    assert_eq!(ErrorKind::from_errno(ErrorKind::TypeMismatch.errno()), Some(ErrorKind::InvalidArgument));
    assert_eq!(ErrorKind::from_errno(0), None);
    assert_eq!(ErrorKind::from_errno(-1), None);
    assert_eq!(ErrorKind::from_errno(libc::EBADF), None);
    assert_eq!(ErrorKind::from_errno(i32::MAX), None);
}

#[test]
fn io_error_round_trip() {
    for (kind, _, _) in KINDS {
        let io_err = io::Error::from(Error::new(Op::SemCtl, kind));
        assert_eq!(io_err.raw_os_error(), Some(kind.errno()), "{kind:?}");
    }
    let cases = [
        (ErrorKind::WouldBlock, io::ErrorKind::WouldBlock),
        (ErrorKind::PermissionDenied, io::ErrorKind::PermissionDenied),
        (ErrorKind::NotPermitted, io::ErrorKind::PermissionDenied),
        (ErrorKind::NotFound, io::ErrorKind::NotFound),
        (ErrorKind::AlreadyExists, io::ErrorKind::AlreadyExists),
        (ErrorKind::InvalidArgument, io::ErrorKind::InvalidInput),
        (ErrorKind::TypeMismatch, io::ErrorKind::InvalidInput),
        (ErrorKind::OutOfMemory, io::ErrorKind::OutOfMemory),
    ];
    for (kind, io_kind) in cases {
        let io_err = io::Error::from(Error::new(Op::MsgGet, kind));
        assert_eq!(io_err.kind(), io_kind, "{kind:?}");
    }

    let timeout = io::Error::from(Error::timed_out(Op::SemOp));
    assert_eq!(timeout.raw_os_error(), Some(11)); // EAGAIN
    assert_eq!(timeout.kind(), io::ErrorKind::WouldBlock);

    let back = ErrorKind::from_errno(timeout.raw_os_error().unwrap_or(0));
    assert_eq!(back, Some(ErrorKind::WouldBlock));
}

#[test]
fn kind_display() {
    let expected = [
        (ErrorKind::NotFound, "no object exists for the key"),
        (ErrorKind::AlreadyExists, "an object already exists for the key"),
        (ErrorKind::PermissionDenied, "permission denied"),
        (ErrorKind::NotPermitted, "operation not permitted"),
        (ErrorKind::Removed, "object removed while waiting"),
        (ErrorKind::WouldBlock, "resource temporarily unavailable"),
        (ErrorKind::NoMessage, "no message of the requested type"),
        (ErrorKind::TooBig, "message or operation list too big"),
        (ErrorKind::FileTooBig, "semaphore number out of range"),
        (ErrorKind::OutOfRange, "semaphore value out of range"),
        (ErrorKind::NoSpace, "system limit on ipc objects reached"),
        (ErrorKind::InvalidArgument, "invalid argument"),
        (ErrorKind::OutOfMemory, "out of memory"),
        (ErrorKind::TypeMismatch, "type mismatch"),
    ];
    for (kind, text) in expected {
        let shown = kind.to_string();
        assert_eq!(shown, text, "{kind:?}");
        assert!(!shown.ends_with('.'));
        assert_eq!(shown, shown.to_lowercase());
    }
}

#[test]
fn op_names() {
    let names = [
        "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semctl", "shmget", "shmat", "shmdt",
        "shmctl", "ipcrm",
    ];
    for (op, name) in ALL_OPS.into_iter().zip(names) {
        assert_eq!(op.name(), name);
        assert_eq!(op.to_string(), name);
    }
}

#[test]
fn error_display_and_debug() {
    let cases = [
        (Error::new(Op::MsgRcv, ErrorKind::NoMessage), "msgrcv: no message of the requested type (ENOMSG)"),
        (Error::new(Op::SemOp, ErrorKind::Removed), "semop: object removed while waiting (EIDRM)"),
        (Error::new(Op::ShmGet, ErrorKind::PermissionDenied), "shmget: permission denied (EACCES)"),
        (Error::new(Op::MsgGet, ErrorKind::TypeMismatch), "msgget: type mismatch (EINVAL)"),
        (Error::timed_out(Op::SemOp), "semop: timed out (EAGAIN)"),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
    assert_eq!(
        format!("{:?}", Error::timed_out(Op::MsgRcv)),
        "Error { op: MsgRcv, kind: WouldBlock, timeout: true }"
    );
    assert_eq!(
        format!("{:?}", Error::new(Op::ShmAt, ErrorKind::OutOfMemory)),
        "Error { op: ShmAt, kind: OutOfMemory }"
    );
}

#[test]
fn predicates() {
    let timeout = Error::timed_out(Op::SemOp);
    assert!(timeout.is_timeout());
    assert!(timeout.is_would_block());
    assert_eq!(timeout.kind(), ErrorKind::WouldBlock);
    assert_eq!(timeout.op(), Op::SemOp);
    assert!(!timeout.is_removed());

    let nowait = Error::new(Op::SemOp, ErrorKind::WouldBlock);
    assert!(nowait.is_would_block());
    assert!(!nowait.is_timeout());
    assert_ne!(nowait, timeout);

    assert!(Error::new(Op::MsgRcv, ErrorKind::Removed).is_removed());
    assert!(Error::new(Op::MsgRcv, ErrorKind::NoMessage).is_no_message());
    assert!(Error::new(Op::MsgGet, ErrorKind::PermissionDenied).is_permission_denied());

    let invalid = Error::new(Op::MsgCtl, ErrorKind::InvalidArgument);
    assert!(!invalid.is_would_block());
    assert!(!invalid.is_removed());
    assert!(!invalid.is_no_message());
    assert!(!invalid.is_permission_denied());
    assert!(!invalid.is_timeout());
}

#[test]
fn send_error_gives_back_the_message() {
    let error = Error::new(Op::MsgSnd, ErrorKind::WouldBlock);
    let err = SendError::new(error, Opaque(42));
    assert_eq!(format!("{err:?}"), "SendError { op: MsgSnd, kind: WouldBlock, .. }");
    assert_eq!(err.to_string(), "msgsnd: resource temporarily unavailable (EAGAIN)");
    assert_eq!(err.error(), error);
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(err.is_would_block());
    assert!(!err.is_removed());
    assert!(!err.is_timeout());
    assert_eq!(err.into_inner().0, 42);

    let (e, msg) = SendError::new(error, Opaque(7)).into_parts();
    assert_eq!(e, error);
    assert_eq!(msg.0, 7);

    let removed = SendError::new(Error::new(Op::MsgSnd, ErrorKind::Removed), Opaque(1));
    assert!(removed.is_removed());
    assert!(!removed.is_would_block());

    let timed = SendError::new(Error::timed_out(Op::MsgSnd), Opaque(2));
    assert!(timed.is_timeout());
    assert!(timed.is_would_block());
    assert_eq!(format!("{timed:?}"), "SendError { op: MsgSnd, kind: WouldBlock, timeout: true, .. }");
}

#[test]
fn send_error_conversions() {
    let error = Error::new(Op::MsgSnd, ErrorKind::Removed);

    let as_error: Error = SendError::new(error, Opaque(0)).into();
    assert_eq!(as_error, error);

    let io_err: io::Error = SendError::new(error, Opaque(0)).into();
    assert_eq!(io_err.raw_os_error(), Some(43)); // EIDRM on Linux
    assert_eq!(io_err.raw_os_error(), Some(ErrorKind::Removed.errno()));

    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(SendError::new(error, 5u8));
    assert_eq!(boxed.to_string(), "msgsnd: object removed while waiting (EIDRM)");

    let a = SendError::new(error, String::from("m"));
    let b = a.clone();
    assert_eq!(a, b);
    assert_ne!(a, SendError::new(error, String::from("n")));
}

#[test]
fn question_mark_into_io_error() {
    fn send() -> svipc::Result<()> {
        Err(Error::new(Op::MsgSnd, ErrorKind::WouldBlock))
    }
    fn caller() -> io::Result<()> {
        send()?;
        Ok(())
    }
    let err = caller().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(err.raw_os_error(), Some(ErrorKind::WouldBlock.errno()));
}

#[test]
fn errors_are_send_sync_static() {
    fn assert_traits<T: Send + Sync + Copy + std::hash::Hash + std::error::Error + 'static>() {}
    fn assert_send_error<T: Send + Sync + std::error::Error + 'static>() {}
    assert_traits::<Error>();
    assert_send_error::<SendError<Opaque>>();
}
