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
    // The detail is one byte, not a `&'static str` (which alone would make it 24): an
    // `Error`, and a `Result<(), Error>`, fit in one register.
    assert!(std::mem::size_of::<Error>() <= 8, "{}", std::mem::size_of::<Error>());
    assert!(std::mem::size_of::<Result<(), Error>>() <= 8);
}

/// The common mistakes name their argument after the errno text; kind and errno stay the
/// kernel's. Each row is made through the public API and checked to the byte.
#[test]
fn details_name_the_argument() {
    use svipc::{Credentials, Key, MessageQueue, Namespace, SemOp};

    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 1000));
    let set = me.sem_set(Key::new(1)).create(0o600).nsems(2).open().unwrap();
    let _seg = me.shm_segment(Key::new(2)).size(100).create(0o600).open().unwrap();
    let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let rows: Vec<(Error, &str)> = vec![
        (
            me.sem_set(Key::PRIVATE).create(0o600).open().unwrap_err(),
            "semget: invalid argument (EINVAL): nsems is 0: a new set needs .nsems(n)",
        ),
        (
            me.sem_set(Key::new(9)).create(0o600).nsems(32001).open().unwrap_err(),
            "semget: invalid argument (EINVAL): nsems is above SEMMSL",
        ),
        (
            me.sem_set(Key::new(1)).nsems(3).open().unwrap_err(),
            "semget: invalid argument (EINVAL): nsems is above the existing set's",
        ),
        (
            me.shm_segment(Key::PRIVATE).create(0o600).open().unwrap_err(),
            "shmget: invalid argument (EINVAL): size is 0: a new segment needs .size(n)",
        ),
        (
            me.shm_segment(Key::PRIVATE).size(usize::MAX).create(0o600).open().unwrap_err(),
            "shmget: invalid argument (EINVAL): size is above SHMMAX",
        ),
        (
            me.shm_segment(Key::new(2)).size(101).open().unwrap_err(),
            "shmget: invalid argument (EINVAL): size is above the existing segment's",
        ),
        (
            me.msg_queue::<Vec<u8>>(Key::new(3)).create(600).open().unwrap_err(),
            "msgget: invalid argument (EINVAL): mode has bits outside 0o777",
        ),
        (
            me.msg_queue::<Vec<u8>>(Key::PRIVATE).open().unwrap_err(),
            "msgget: invalid argument (EINVAL): Key::PRIVATE always creates: call .create(mode)",
        ),
        (
            me.sem_set(Key::PRIVATE).mode(0o600).nsems(1).open().unwrap_err(),
            "semget: invalid argument (EINVAL): Key::PRIVATE always creates: call .create(mode)",
        ),
        (set.try_semop(&[]).unwrap_err(), "semop: invalid argument (EINVAL): ops is empty"),
        (
            futures::executor::block_on(set.acquire(0, 40000)).unwrap_err(),
            "semop: invalid argument (EINVAL): units above 32767 in one acquire",
        ),
        (set.get_val(2).unwrap_err(), "semctl: invalid argument (EINVAL): num is not below nsems"),
        (set.set_val(2, 1).unwrap_err(), "semctl: invalid argument (EINVAL): num is not below nsems"),
        (
            set.set_all(&[1]).unwrap_err(),
            "semctl: invalid argument (EINVAL): vals does not have nsems values",
        ),
        (
            set.set_val(0, 32768).unwrap_err(),
            "semctl: semaphore value out of range (ERANGE): value is above SEMVMX",
        ),
        (
            set.set_all(&[0, 40000]).unwrap_err(),
            "semctl: semaphore value out of range (ERANGE): value is above SEMVMX",
        ),
        (q.try_send(0, vec![1]).unwrap_err().error(), "msgsnd: invalid argument (EINVAL): mtype is below 1"),
        (
            q.try_send(1, vec![0; 8193]).unwrap_err().error(),
            "msgsnd: invalid argument (EINVAL): size is above MSGMAX",
        ),
        (q.try_reserve(1, 8193).unwrap_err(), "msgsnd: invalid argument (EINVAL): size is above MSGMAX"),
    ];
    for (err, text) in &rows {
        assert_eq!(err.to_string(), *text);
        assert_eq!(err.detail(), text.splitn(3, ": ").nth(2), "{err:?}");
    }
    // The kind and the errno are unchanged by a detail.
    assert_eq!((rows[0].0.kind(), rows[0].0.errno()), (ErrorKind::InvalidArgument, 22));
    assert_eq!(io::Error::from(rows[0].0).raw_os_error(), Some(22));
    assert_eq!(
        format!("{:?}", rows[9].0),
        r#"Error { op: SemOp, kind: InvalidArgument, detail: "ops is empty" }"#
    );
    // Errors the arguments alone do not explain carry none.
    assert_eq!(me.msg_queue::<Vec<u8>>(Key::new(77)).open().unwrap_err().detail(), None); // ENOENT
    assert_eq!(set.try_semop(&[SemOp::new(0, -1)]).unwrap_err().detail(), None); // EAGAIN
    let mut limits = ns.limits();
    limits.shmmin = 16;
    ns.set_limits(limits).unwrap();
    assert_eq!(
        me.shm_segment(Key::PRIVATE).size(8).create(0o600).open().unwrap_err().to_string(),
        "shmget: invalid argument (EINVAL): size is below SHMMIN"
    );
}
