//! A message queue of the host kernel: [`Queue<T>`], `msgsnd`/`msgrcv`/`msgctl` with typed
//! payloads ([`Wire`]), futures that wait on a waiter thread, and the cancellation rule.
//!
//! # Cancellation
//!
//! * A dropped [`SendFuture`] has sent its message exactly once (the kernel completed the
//!   `msgsnd`) or not at all (the message drops with the future), as in-process.
//! * A dropped [`RecvFuture`] whose `msgrcv` the kernel completed anyway (the interruption
//!   came too late) sends the message back to the queue with `msgsnd`, from a waiter
//!   thread, waiting for room if the queue filled up meanwhile. The message then sits at the
//!   **tail** of the queue: it is received after the messages of its type that were sent
//!   after it was first taken (the kernel has no way to put a message back at its place).
//!   Its `mtype` and bytes are unchanged; `msg_lspid` and `msg_stime` name the re-send. If
//!   the queue was removed meanwhile, the message goes with the queue, as every other
//!   message in it did.
//! * `recv_timeout` and `send_timeout` are exact: a call that the kernel completed as the
//!   deadline passed returns its result (the message, or `Ok` for a send), never a timeout
//!   with the effect done.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::sys::{self, MsgBuf};
use super::wait::{with_timeout, Blocking, Timed, WaitFuture};
use super::wire::{DecodeError, Wire};
use super::{os_error, perm_of};
use crate::error::Detail;
use crate::error::{Error, ErrorKind, Op, SendError};
use crate::msg::{Limit, MsqidDs, MsqidSet, Select, IPC_NOWAIT};

/// A message queue of the host kernel carrying `T`s: a `msqid`.
///
/// Opened by [`Host::msg_queue`](super::Host::msg_queue). The handle is the id: cloning it
/// is copying an integer, and dropping it removes nothing (`IPC_RMID` is
/// [`remove`](Self::remove)).
pub struct Queue<T> {
    id: i32,
    /// `msgsz` of a receive: `T::FIXED_LEN`, or `MSGMAX` when the queue was opened.
    recv_len: usize,
    /// `MSGMAX` when the queue was opened: a longer message is refused before the call.
    msgmax: usize,
    codec: Codec<T>,
}

/// `T`'s [`Wire`] functions, taken when the queue is opened: the calls then need no `Wire`
/// bound, so a handle type that is generic over any payload (the crate's `MessageQueue<T>`)
/// can hold a host queue and dispatch to it.
struct Codec<T> {
    encode: fn(&T, &mut Vec<u8>),
    decode: fn(&[u8]) -> Result<T, super::wire::DecodeReason>,
}

impl<T> Clone for Codec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Codec<T> {}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue { id: self.id, recv_len: self.recv_len, msgmax: self.msgmax, codec: self.codec }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("id", &self.id).field("recv_len", &self.recv_len).finish()
    }
}

/// A failed receive: the kernel's errno, or a message that did not decode as `T`.
#[derive(Debug)]
pub enum RecvError {
    /// `msgrcv` failed: the kernel's errno.
    Os(Error),
    /// A message was received but is not a `T`; it is inside, type and bytes.
    Decode(DecodeError),
}

impl RecvError {
    /// The error as the crate's [`Error`]: the errno of [`Os`](RecvError::Os), and
    /// [`ErrorKind::TypeMismatch`] (`EINVAL`) for [`Decode`](RecvError::Decode) — a
    /// message of another payload type, the kind the in-process queue gives a handle of
    /// the wrong type.
    pub fn error(&self) -> Error {
        match self {
            RecvError::Os(e) => *e,
            RecvError::Decode(_) => Error::new(Op::MsgRcv, ErrorKind::TypeMismatch),
        }
    }

    /// The kind of [`error`](Self::error).
    pub fn kind(&self) -> ErrorKind {
        self.error().kind()
    }

    /// The message that did not decode, if that is the failure.
    pub fn into_message(self) -> Option<(i64, Vec<u8>)> {
        match self {
            RecvError::Os(_) => None,
            RecvError::Decode(d) => Some(d.into_message()),
        }
    }
}

impl From<Error> for RecvError {
    fn from(e: Error) -> RecvError {
        RecvError::Os(e)
    }
}

impl From<RecvError> for Error {
    /// [`RecvError::error`]; a message that did not decode is dropped.
    fn from(e: RecvError) -> Error {
        e.error()
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Os(e) => e.fmt(f),
            RecvError::Decode(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Os(e) => Some(e),
            RecvError::Decode(d) => Some(d),
        }
    }
}

// ===== the calls =====

/// `msgsnd` of an encoded message.
struct SendJob {
    id: i32,
    mtype: i64,
    buf: MsgBuf,
}

impl Blocking for SendJob {
    type Output = ();

    fn attempt(&mut self, nowait: bool) -> Result<(), i32> {
        sys::msgsnd(self.id, &mut self.buf, self.mtype, if nowait { IPC_NOWAIT } else { 0 })
    }

    fn would_block(errno: i32) -> bool {
        errno == libc::EAGAIN
    }

    fn undo(&mut self, (): ()) {
        // A send that completed is simply done.
    }
}

/// `msgrcv` into a buffer of the queue's receive length.
struct RecvJob {
    id: i32,
    /// `msgsz`.
    len: usize,
    msgtyp: i64,
    flags: i32,
    buf: MsgBuf,
}

impl Blocking for RecvJob {
    type Output = (i64, MsgBuf);

    fn attempt(&mut self, nowait: bool) -> Result<(i64, MsgBuf), i32> {
        let flags = self.flags | if nowait { IPC_NOWAIT } else { 0 };
        let mtype = sys::msgrcv(self.id, &mut self.buf, self.len, self.msgtyp, flags)?;
        // Successful: the job ends, so its buffer goes with the message.
        Ok((mtype, std::mem::take(&mut self.buf)))
    }

    fn would_block(errno: i32) -> bool {
        errno == libc::ENOMSG
    }

    fn undo(&mut self, (mtype, mut buf): (i64, MsgBuf)) {
        loop {
            match sys::msgsnd(self.id, &mut buf, mtype, 0) {
                Err(libc::EINTR) => continue,
                // Sent back; or the queue is gone (EIDRM, EINVAL) with its messages.
                _ => return,
            }
        }
    }
}

impl RecvJob {
    fn new<T>(q: &Queue<T>, select: Select) -> Result<RecvJob, Error> {
        select.validate().map_err(|k| Error::new(Op::MsgRcv, k))?;
        let (msgtyp, flags) = select.to_raw();
        Ok(RecvJob { id: q.id, len: q.recv_len, msgtyp, flags, buf: MsgBuf::with_capacity(q.recv_len) })
    }

    /// A receive with a buffer of at most `max` bytes (`usize::MAX`: any message, under
    /// `MSG_NOERROR`; see [`Queue::recv_max`]).
    fn with_max<T>(q: &Queue<T>, select: Select, max: usize) -> Result<RecvJob, Error> {
        select.validate().map_err(|k| Error::new(Op::MsgRcv, k))?;
        let (msgtyp, flags) = select.to_raw();
        let (len, flags) = recv_size(q.recv_len, max, flags);
        Ok(RecvJob { id: q.id, len, msgtyp, flags, buf: MsgBuf::with_capacity(len) })
    }
}

/// `msgsz` and the flags of a receive limited to `max` bytes from a queue whose receives
/// take `recv_len`: a smaller `max` is the buffer (a longer message fails with `E2BIG` and
/// stays queued); `usize::MAX`, the engine's "any size" (`MSG_NOERROR`), takes the whole
/// message (`recv_len`, with `MSG_NOERROR` so that not even a message above the `MSGMAX`
/// read at open fails), for the caller to truncate as in-process (a `String` at a char
/// boundary, which the kernel's byte cut would not respect).
fn recv_size(recv_len: usize, max: usize, flags: i32) -> (usize, i32) {
    if max == usize::MAX {
        (recv_len, flags | libc::MSG_NOERROR)
    } else {
        (max.min(recv_len), flags)
    }
}

/// The error of a call through a handle: `EINVAL` from `msgrcv` (with a checked selector),
/// `msgsnd` (with checked arguments) or `msgctl` can only mean that the id is dead, so it is
/// marked [`is_removed`](Error::is_removed), as the in-process handle's is.
fn handle_error(op: Op, errno: i32) -> Error {
    if errno == libc::EINVAL {
        Error::object_removed(op)
    } else {
        os_error(op, errno)
    }
}

fn decode<T>(codec: Codec<T>, r: Result<(i64, MsgBuf), i32>) -> Result<(i64, T), RecvError> {
    let (mtype, buf) = r.map_err(|e| RecvError::Os(handle_error(Op::MsgRcv, e)))?;
    match (codec.decode)(buf.text()) {
        Ok(v) => Ok((mtype, v)),
        Err(reason) => Err(RecvError::Decode(DecodeError::new(mtype, buf.into_text(), reason))),
    }
}

// ===== the futures =====

/// The future of [`Queue::send`].
///
/// # Cancel safety
///
/// Dropped, it has sent the message exactly once (the kernel completed the `msgsnd`) or not
/// at all (the message drops with it).
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<T> {
    msg: Option<T>,
    call: Result<WaitFuture<SendJob>, Error>,
}

impl<T> fmt::Debug for SendFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture").finish_non_exhaustive()
    }
}

// The message is never pinned: it is moved out whole when the future completes.
impl<T> Unpin for SendFuture<T> {}

impl<T> Future for SendFuture<T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let r = match &mut this.call {
            Ok(fut) => match Pin::new(fut).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.map_err(|e| handle_error(Op::MsgSnd, e)),
            },
            Err(e) => Err(*e),
        };
        match this.msg.take() {
            Some(msg) => Poll::Ready(r.map_err(|e| SendError::new(e, msg))),
            // Polled after completion: nothing left to send, as in-process.
            None => Poll::Ready(Ok(())),
        }
    }
}

/// The future of [`Queue::recv`].
///
/// # Cancel safety
///
/// Dropped, it has taken nothing: a message the kernel gave it as it was dropped is sent
/// back to the queue, at the tail (see the [module docs](self#cancellation)).
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<T> {
    call: Result<WaitFuture<RecvJob>, Error>,
    codec: Codec<T>,
}

impl<T> fmt::Debug for RecvFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture").finish_non_exhaustive()
    }
}

impl<T> Future for RecvFuture<T> {
    type Output = Result<(i64, T), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let codec = this.codec;
        match &mut this.call {
            Ok(fut) => Pin::new(fut).poll(cx).map(|r| decode(codec, r)),
            Err(e) => Poll::Ready(Err(RecvError::Os(*e))),
        }
    }
}

// ===== Queue =====

impl<T: Wire> Queue<T> {
    pub(crate) fn from_id(id: i32) -> Queue<T> {
        let msgmax = msgmax();
        let recv_len = T::FIXED_LEN.unwrap_or(msgmax);
        Queue { id, recv_len, msgmax, codec: Codec { encode: T::encode, decode: T::decode } }
    }
}

impl<T: Send + 'static> Queue<T> {
    /// The queue's id (`msqid`), which any process may pass to `msgsnd`/`msgrcv`.
    pub fn id(&self) -> i32 {
        self.id
    }

    fn encode(&self, mtype: i64, msg: &T) -> Result<SendJob, Error> {
        let mut buf = MsgBuf::default();
        buf.encode_with(|out| (self.codec.encode)(msg, out));
        self.check_send(mtype, &buf)?;
        Ok(SendJob { id: self.id, mtype, buf })
    }

    /// `msgsnd`'s argument checks, made before the call as in-process (so that the kernel's
    /// `EINVAL` afterwards can only mean a dead id): the size against `MSGMAX`, then
    /// `mtype < 1`.
    fn check_send(&self, mtype: i64, buf: &MsgBuf) -> Result<(), Error> {
        let invalid = |d| Error::new(Op::MsgSnd, ErrorKind::InvalidArgument).with(d);
        if buf.text().len() > self.msgmax {
            return Err(invalid(Detail::SizeAboveMsgmax));
        }
        if mtype < 1 {
            return Err(invalid(Detail::MtypeBelowOne));
        }
        Ok(())
    }

    /// `msgsnd(msqid, {mtype, encode(msg)}, len, 0)`: sends `msg`, waiting (on a waiter
    /// thread, not the runtime) while the queue is full.
    ///
    /// # Errors
    ///
    /// The kernel's errno, the message given back inside the [`SendError`]: `EINVAL` for
    /// `mtype < 1`, a message above `MSGMAX` or a dead id; `EACCES` without write
    /// permission; `EIDRM` if the queue was removed while the send waited.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future sends the message exactly once or not at all.
    pub fn send(&self, mtype: i64, msg: T) -> SendFuture<T> {
        let call = self.encode(mtype, &msg).map(WaitFuture::new);
        SendFuture { msg: Some(msg), call }
    }

    /// `msgsnd(.., IPC_NOWAIT)`: sends `msg` if it fits now.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and `EAGAIN` where `send` would wait.
    pub fn try_send(&self, mtype: i64, msg: T) -> Result<(), SendError<T>> {
        let r = with_scratch(|buf| {
            buf.encode_with(|out| (self.codec.encode)(&msg, out));
            self.check_send(mtype, buf)?;
            loop {
                match sys::msgsnd(self.id, buf, mtype, IPC_NOWAIT) {
                    Err(libc::EINTR) => continue,
                    r => return r.map_err(|e| handle_error(Op::MsgSnd, e)),
                }
            }
        });
        r.map_err(|e| SendError::new(e, msg))
    }

    /// `msgsnd` without `IPC_NOWAIT` on this thread, as C calls it: the thread sleeps while
    /// the queue is full.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Panics
    ///
    /// On a thread that drives a tokio runtime, as the in-process `blocking_send`.
    #[track_caller]
    pub fn blocking_send(&self, mtype: i64, msg: T) -> Result<(), SendError<T>> {
        let mut job = match self.encode(mtype, &msg) {
            Ok(job) => job,
            Err(e) => return Err(SendError::new(e, msg)),
        };
        let r = crate::runtime::block_on(std::future::poll_fn(|_| Poll::Ready(job.run_blocking())));
        r.map_err(|e| SendError::new(handle_error(Op::MsgSnd, e), msg))
    }

    /// [`send`](Self::send) that gives up after `timeout` (`EAGAIN` with `is_timeout()`),
    /// giving the message back.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); on expiry `EAGAIN` with [`SendError::is_timeout`].
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    ///
    /// # Panics
    ///
    /// Where it must wait a millisecond or more outside a tokio runtime with a timer, as
    /// the in-process `send_timeout`.
    pub async fn send_timeout(&self, mtype: i64, msg: T, timeout: Duration) -> Result<(), SendError<T>> {
        let job = match self.encode(mtype, &msg) {
            Ok(job) => job,
            Err(e) => return Err(SendError::new(e, msg)),
        };
        match with_timeout(WaitFuture::new(job), timeout).await {
            Timed::Done(Ok(())) => Ok(()),
            Timed::Done(Err(e)) => Err(SendError::new(handle_error(Op::MsgSnd, e), msg)),
            Timed::Expired => Err(SendError::new(Error::timed_out(Op::MsgSnd), msg)),
        }
    }

    /// `msgrcv(msqid, buf, len, msgtyp, flags)`: the oldest message `select` matches,
    /// waiting (on a waiter thread) until there is one. `len` is `T::FIXED_LEN`, or
    /// `MSGMAX`.
    ///
    /// # Errors
    ///
    /// The kernel's errno in [`RecvError::Os`]: `EINVAL` for a non-positive type in
    /// `select` or a dead id, `E2BIG` for a message longer than `len` (it stays queued),
    /// `EACCES` without read permission, `EIDRM` if the queue was removed while the call
    /// waited; [`RecvError::Decode`] with the message for one that is not a `T`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses no message: one the kernel gave it as it was dropped is
    /// sent back to the queue (at the tail; see the [module docs](self#cancellation)).
    pub fn recv(&self, select: Select) -> RecvFuture<T> {
        RecvFuture { call: RecvJob::new(self, select).map(WaitFuture::new), codec: self.codec }
    }

    /// `msgrcv` with a buffer of `max` bytes: [`recv`](Self::recv) for the crate's
    /// `MessageQueue::recv_limited`. A message longer than `max` fails with `E2BIG` and
    /// stays queued; `usize::MAX` (the crate's `Limit::no_error`) receives the whole message
    /// under `MSG_NOERROR`, for the caller to truncate.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Cancel safety
    ///
    /// As [`recv`](Self::recv).
    pub fn recv_max(&self, select: Select, max: usize) -> RecvFuture<T> {
        RecvFuture { call: RecvJob::with_max(self, select, max).map(WaitFuture::new), codec: self.codec }
    }

    /// `msgrcv(.., IPC_NOWAIT)`: the oldest matching message, if there is one now.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), and `ENOMSG` where `recv` would wait.
    pub fn try_recv(&self, select: Select) -> Result<(i64, T), RecvError> {
        self.try_recv_len(select, None)
    }

    /// [`recv_max`](Self::recv_max) with `IPC_NOWAIT`.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv).
    pub fn try_recv_max(&self, select: Select, max: usize) -> Result<(i64, T), RecvError> {
        self.try_recv_len(select, Some(max))
    }

    /// `msgrcv(msqid, buf, len, index, MSG_COPY | IPC_NOWAIT)`: a copy of the `index`-th
    /// queued message (0 = the oldest, counting every type), the queue unchanged — not its
    /// messages, not `msg_rtime` or `msg_lrpid`. The crate's `MessageQueue::peek`.
    ///
    /// # Errors
    ///
    /// `ENOMSG` for an `index` out of range, `EACCES` without read permission, `EINVAL`
    /// ([`is_removed`](Error::is_removed)) for a dead id, and `EINVAL` with a
    /// [`detail`](Error::detail) where the kernel was built without
    /// `CONFIG_CHECKPOINT_RESTORE` (its `ENOSYS`: `MSG_COPY` does not exist there);
    /// [`RecvError::Decode`] for a message that is not a `T` (it stays queued).
    pub fn peek(&self, index: usize) -> Result<(i64, T), RecvError> {
        self.peek_limited(index, Limit::bytes(self.recv_len))
    }

    /// [`peek`](Self::peek) with a buffer of `limit` bytes: `E2BIG` for a longer message,
    /// and under [`Limit::no_error`] `EINVAL` (the kernel's `copy_msg` refuses to truncate a
    /// copy), as the crate's `MessageQueue::peek_limited`.
    ///
    /// # Errors
    ///
    /// As [`peek`](Self::peek), and `EINVAL` for a limit above `isize::MAX` (the kernel's
    /// `(long) bufsz < 0`).
    pub fn peek_limited(&self, index: usize, limit: Limit) -> Result<(i64, T), RecvError> {
        if limit.max() > isize::MAX as usize {
            return Err(RecvError::Os(Error::new(Op::MsgRcv, ErrorKind::InvalidArgument)));
        }
        // A position beyond `i64::MAX` is beyond any queue; the kernel's `SEARCH_NUMBER`
        // never matches a negative one, so it answers `ENOMSG` as the in-process queue does.
        let msgtyp = i64::try_from(index).unwrap_or(-1);
        let len = limit.max().min(self.recv_len);
        let flags = libc::MSG_COPY | IPC_NOWAIT | if limit.is_no_error() { libc::MSG_NOERROR } else { 0 };
        with_scratch(|buf| {
            let mtype = loop {
                match sys::msgrcv(self.id, buf, len, msgtyp, flags) {
                    Err(libc::EINTR) => continue,
                    Ok(mtype) => break mtype,
                    Err(libc::ENOSYS) => {
                        let e = Error::new(Op::MsgRcv, ErrorKind::InvalidArgument)
                            .with(Detail::MsgCopyUnsupported);
                        return Err(RecvError::Os(e));
                    }
                    // Under `MSG_NOERROR`, `EINVAL` is also the copy a truncation refuses:
                    // the id is dead only if `IPC_STAT` says so too.
                    Err(libc::EINVAL) if limit.is_no_error() && sys::msgctl_stat(self.id).is_ok() => {
                        return Err(RecvError::Os(Error::new(Op::MsgRcv, ErrorKind::InvalidArgument)));
                    }
                    Err(e) => return Err(RecvError::Os(handle_error(Op::MsgRcv, e))),
                }
            };
            match (self.codec.decode)(buf.text()) {
                Ok(v) => Ok((mtype, v)),
                Err(reason) => Err(RecvError::Decode(DecodeError::new(mtype, buf.text().to_vec(), reason))),
            }
        })
    }

    /// `msgrcv(.., IPC_NOWAIT)` with the queue's receive length, or limited to `max`.
    fn try_recv_len(&self, select: Select, max: Option<usize>) -> Result<(i64, T), RecvError> {
        select.validate().map_err(|k| Error::new(Op::MsgRcv, k))?;
        let (msgtyp, flags) = select.to_raw();
        let (len, flags) = match max {
            Some(max) => recv_size(self.recv_len, max, flags),
            None => (self.recv_len, flags),
        };
        with_scratch(|buf| {
            let mtype = loop {
                match sys::msgrcv(self.id, buf, len, msgtyp, flags | IPC_NOWAIT) {
                    Err(libc::EINTR) => continue,
                    r => break r.map_err(|e| RecvError::Os(handle_error(Op::MsgRcv, e)))?,
                }
            };
            match (self.codec.decode)(buf.text()) {
                Ok(v) => Ok((mtype, v)),
                Err(reason) => Err(RecvError::Decode(DecodeError::new(mtype, buf.text().to_vec(), reason))),
            }
        })
    }

    /// `msgrcv` without `IPC_NOWAIT` on this thread, as C calls it.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Panics
    ///
    /// On a thread that drives a tokio runtime, as the in-process `blocking_recv`.
    #[track_caller]
    pub fn blocking_recv(&self, select: Select) -> Result<(i64, T), RecvError> {
        let mut job = RecvJob::new(self, select)?;
        decode(
            self.codec,
            crate::runtime::block_on(std::future::poll_fn(|_| Poll::Ready(job.run_blocking()))),
        )
    }

    /// [`recv`](Self::recv) that gives up after `timeout`: `EAGAIN` with `is_timeout()`
    /// (as the in-process queue answers).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv); on expiry `EAGAIN` with [`Error::is_timeout`].
    ///
    /// # Cancel safety
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Panics
    ///
    /// Where it must wait a millisecond or more outside a tokio runtime with a timer.
    pub async fn recv_timeout(&self, select: Select, timeout: Duration) -> Result<(i64, T), RecvError> {
        let job = RecvJob::new(self, select)?;
        match with_timeout(WaitFuture::new(job), timeout).await {
            Timed::Done(r) => decode(self.codec, r),
            Timed::Expired => Err(RecvError::Os(Error::timed_out(Op::MsgRcv))),
        }
    }
}

impl<T> Queue<T> {
    /// Sends a message that did not decode back to the queue (at its tail), so that a
    /// caller that cannot take the bytes (the crate's `MessageQueue::recv`) loses nothing:
    /// at once if it fits, else from a waiter thread when room comes.
    pub(crate) fn put_back(&self, d: DecodeError) {
        let (mtype, text) = d.into_message();
        let mut buf = MsgBuf::default();
        buf.encode_with(|out| out.extend_from_slice(&text));
        let mut job = SendJob { id: self.id, mtype, buf };
        match job.attempt(true) {
            Err(libc::EAGAIN) | Err(libc::EINTR) => super::wait::detach(job),
            // Sent; or the queue is gone, with its messages.
            _ => {}
        }
    }

    /// In-process, `with_process` gives a handle that acts as another
    /// [`Process`](crate::Process) with its credentials; the host checks this process's
    /// own, which a library cannot change for one call.
    ///
    /// # Errors
    ///
    /// Always [`ErrorKind::NotPermitted`] (`EPERM`).
    pub fn with_process(&self, _other: &crate::Process) -> Result<Queue<T>, Error> {
        Err(Error::new(Op::MsgGet, ErrorKind::NotPermitted))
    }

    /// `msgctl(msqid, IPC_STAT)`: the kernel's `struct msqid_ds`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a dead id, `EACCES` without read permission.
    #[allow(clippy::unnecessary_cast)] // time_t and the counters are 32 bits on some targets
    pub fn stat(&self) -> Result<MsqidDs, Error> {
        let ds = sys::msgctl_stat(self.id).map_err(|e| handle_error(Op::MsgCtl, e))?;
        Ok(MsqidDs {
            perm: perm_of(&ds.msg_perm),
            stime: ds.msg_stime as i64,
            rtime: ds.msg_rtime as i64,
            ctime: ds.msg_ctime as i64,
            cbytes: ds.__msg_cbytes as u64,
            qnum: ds.msg_qnum as u64,
            qbytes: ds.msg_qbytes as u64,
            lspid: ds.msg_lspid,
            lrpid: ds.msg_lrpid,
        })
    }

    /// `msgctl(msqid, IPC_SET)`: owner, mode and `msg_qbytes`.
    ///
    /// # Errors
    ///
    /// `EPERM` for a caller who is neither owner, creator nor privileged, or raising
    /// `msg_qbytes` above `MSGMNB` without `CAP_SYS_RESOURCE`; `EINVAL` for a dead id.
    pub fn set(&self, set: MsqidSet) -> Result<(), Error> {
        sys::msgctl_set(self.id, set.uid, set.gid, set.mode, set.qbytes)
            .map_err(|e| handle_error(Op::MsgCtl, e))
    }

    /// `msgctl(msqid, IPC_RMID)`: removes the queue; waiting calls fail with `EIDRM`.
    ///
    /// # Errors
    ///
    /// `EPERM` for a caller who is neither owner, creator nor privileged; `EINVAL` for a
    /// dead id.
    pub fn remove(&self) -> Result<(), Error> {
        sys::msgctl_rmid(self.id).map_err(|e| handle_error(Op::MsgCtl, e))
    }
}

/// Runs `f` with this thread's scratch message buffer (the non-blocking calls' buffer,
/// reused so they allocate nothing), or a fresh one if `f` runs inside another call's `f`
/// (a `Wire` impl that sends).
fn with_scratch<R>(f: impl FnOnce(&mut MsgBuf) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<MsgBuf> = std::cell::RefCell::new(MsgBuf::with_capacity(64));
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut MsgBuf::default()),
    })
}

/// `MSGMAX` of the calling thread's IPC namespace (`/proc/sys/kernel/msgmax`), 8192 (the
/// kernel's default) if it cannot be read.
fn msgmax() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/msgmax")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(8192)
}
