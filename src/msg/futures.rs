//! The futures, the permit, the stream and the sink of [`MessageQueue`]: thin poll wrappers
//! over the engine's operations (`store/`), one type per method, each cancel-safe in its
//! `Drop`.

#![deny(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;

use super::store::{RecvOp, ReserveOp, SendOp};
use super::{MessageQueue, Payload, Truncate};
use crate::error::{Error, ErrorKind, Fault, Op, SendError};
use crate::trace;

fn snd_err<T>(fault: impl Into<Fault>, msg: T) -> SendError<T> {
    SendError::new(fault.into().at(Op::MsgSnd), msg)
}

fn rcv_err(kind: ErrorKind) -> Error {
    Error::new(Op::MsgRcv, kind)
}

/// A boxed host-kernel future inside an engine future (`svipc::host`), or none: the
/// future's one field that only a handle on the host fills.
///
/// Its drop is an inline test with the box's release out of line and cold, so the
/// in-process futures' drop glue stays a few instructions: as a plain `Option<Box<F>>` the
/// glue was an out-of-line call on every in-process future's drop (9 instructions per
/// message each for `send` and `recv`, callgrind).
#[cfg(all(target_os = "linux", not(loom)))]
pub(super) struct HostCall<F>(std::mem::ManuallyDrop<Option<Box<F>>>);

#[cfg(all(target_os = "linux", not(loom)))]
impl<F> HostCall<F> {
    /// No host call: an in-process future's.
    pub(super) const NONE: HostCall<F> = HostCall(std::mem::ManuallyDrop::new(None));

    pub(super) fn new(f: F) -> HostCall<F> {
        HostCall(std::mem::ManuallyDrop::new(Some(Box::new(f))))
    }

    #[inline]
    fn is_some(&self) -> bool {
        self.0.is_some()
    }

    fn get(&mut self) -> &mut F {
        self.0.as_mut().expect("a host call")
    }

    /// Drops the boxed future. `ManuallyDrop` only keeps the compiler's drop glue away;
    /// the box is taken out as a plain `Option` and dropped here, leaving `None`, which
    /// owns nothing.
    #[cold]
    #[inline(never)]
    fn release(&mut self) {
        drop(self.0.take());
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
impl<F> Drop for HostCall<F> {
    #[inline]
    fn drop(&mut self) {
        if self.is_some() {
            self.release();
        }
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
impl<F: fmt::Debug> fmt::Debug for HostCall<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// ===== SendFuture =====

/// The future of [`MessageQueue::send`]: a `msgsnd` without `IPC_NOWAIT`.
///
/// Dropping it before it completes leaves the queue as if the call had never been made: the
/// message goes with the future (use [`MessageQueue::reserve`] when it must not be lost).
/// Polled again after it completed, it sends nothing and returns `Ok(())` (there is no
/// message left to give back in an error).
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SendFuture<'a, T: Payload> {
    pub(super) q: &'a MessageQueue<T>,
    pub(super) op: SendOp<T>,
    /// An argument error found when the call was made (`EINVAL`), reported on first poll.
    pub(super) pre: Option<Fault>,
    /// The host kernel's `msgsnd`, for a handle on the host (`svipc::host`); the message is
    /// then there, not in `op`.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(super) host: HostCall<crate::host::msg::SendFuture<T>>,
    #[cfg(feature = "tracing")]
    pub(super) wait: trace::Wait,
}

impl<T: Payload> Unpin for SendFuture<'_, T> {}

impl<T: Payload> SendFuture<'_, T> {
    /// Cancels the send (off the wait list, a wake-up passed on) and takes the message back.
    #[cfg_attr(loom, allow(dead_code))] // its callers, the timed forms, use tokio::time: not under loom
    pub(super) fn cancel(&mut self) -> Option<T> {
        self.q.h.queue.cancel_send_op(&mut self.op);
        self.op.msg.take()
    }
}

impl<T: Payload> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let p = this.poll_call(cx);
        trace::poll!(this.wait, Op::MsgSnd, this.q.id(), this.q.h.process.pid(), &p);
        p
    }
}

impl<T: Payload> SendFuture<'_, T> {
    #[inline]
    fn poll_call(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let this = self;
        #[cfg(all(target_os = "linux", not(loom)))]
        if this.q.host().is_some() {
            return this.poll_host(cx);
        }
        if let Some(kind) = this.pre.take() {
            if let Some(msg) = this.op.msg.take() {
                return Poll::Ready(Err(snd_err(kind, msg)));
            }
        }
        match this.q.h.queue.poll_send(this.q.caller(), &mut this.op, Some(cx)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(kind)) => match this.op.msg.take() {
                Some(msg) => Poll::Ready(Err(SendError::new(this.q.error(Op::MsgSnd, kind), msg))),
                // Polled after completion: nothing left to send.
                None => Poll::Ready(Ok(())),
            },
        }
    }
}

impl<T: Payload> SendFuture<'_, T> {
    /// The host's `msgsnd`, for a handle on the host: made at the first poll from the
    /// message the future was built with (the host checks the arguments itself, so `pre`,
    /// found against the handle's placeholder namespace, is not used), then polled. Out of
    /// line and cold, so that the in-process poll stays small enough to inline into the
    /// caller's.
    #[cfg(all(target_os = "linux", not(loom)))]
    #[cold]
    #[inline(never)]
    fn poll_host(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        if !self.host.is_some() {
            let Some(msg) = self.op.msg.take() else { return Poll::Ready(Ok(())) };
            let h = self.q.host().expect("a host handle");
            self.host = HostCall::new(h.send(self.op.mtype, msg));
        }
        Pin::new(self.host.get()).poll(cx)
    }
}

impl<T: Payload> Drop for SendFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.q.h.queue.cancel_send_op(&mut self.op);
        trace::dropped!(self.wait, Op::MsgSnd, self.q.id(), self.q.h.process.pid());
    }
}

impl<T: Payload> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("id", &self.q.id())
            .field("mtype", &self.op.mtype)
            .field("size", &self.op.size)
            .finish_non_exhaustive()
    }
}

// ===== ReserveFuture / Permit =====

/// The future of [`MessageQueue::reserve`]: waits for room as a `msgsnd` would and holds it.
///
/// Dropping it before it completes reserves nothing; a wake-up it had taken passes on.
/// Polled again after it completed, it reserves nothing more and returns
/// [`ErrorKind::InvalidArgument`] (`EINVAL`), as every svipc future does.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReserveFuture<'a, T: Payload> {
    pub(super) q: &'a MessageQueue<T>,
    pub(super) op: ReserveOp,
    pub(super) mtype: i64,
    pub(super) pre: Option<Fault>,
    /// It returned `Ready`: a later poll must not reserve again.
    pub(super) done: bool,
    #[cfg(feature = "tracing")]
    pub(super) wait: trace::Wait,
}

impl<T: Payload> Unpin for ReserveFuture<'_, T> {}

impl<'a, T: Payload> Future for ReserveFuture<'a, T> {
    type Output = Result<Permit<'a, T>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let p = this.poll_call(cx);
        trace::poll!(this.wait, Op::MsgSnd, this.q.id(), this.q.h.process.pid(), &p);
        p
    }
}

impl<'a, T: Payload> ReserveFuture<'a, T> {
    #[inline]
    fn poll_call(&mut self, cx: &mut Context<'_>) -> Poll<Result<Permit<'a, T>, Error>> {
        let this = self;
        if this.done {
            return Poll::Ready(Err(Error::new(Op::MsgSnd, ErrorKind::InvalidArgument)));
        }
        if let Some(fault) = this.pre {
            this.done = true;
            return Poll::Ready(Err(fault.at(Op::MsgSnd)));
        }
        let r = match this.q.h.queue.poll_reserve(this.q.caller(), &mut this.op, Some(cx)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => Ok(Permit::new(this.q, this.mtype, this.op.size)),
            Poll::Ready(Err(kind)) => Err(this.q.error(Op::MsgSnd, kind)),
        };
        this.done = true;
        Poll::Ready(r)
    }
}

impl<T: Payload> Drop for ReserveFuture<'_, T> {
    fn drop(&mut self) {
        self.q.h.queue.cancel_reserve(&mut self.op);
        trace::dropped!(self.wait, Op::MsgSnd, self.q.id(), self.q.h.process.pid());
    }
}

impl<T: Payload> fmt::Debug for ReserveFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReserveFuture")
            .field("id", &self.q.id())
            .field("mtype", &self.mtype)
            .field("size", &self.op.size)
            .finish_non_exhaustive()
    }
}

/// Room for one message of up to [`size`](Permit::size) bytes, held in the queue's
/// `msg_qbytes` budget: [`send`](Permit::send) cannot wait, and dropping the permit unused
/// gives the room back (waking a sender it now fits). Made by [`MessageQueue::reserve`] and
/// [`MessageQueue::try_reserve`].
///
/// Held room counts against `msg_qbytes` like a queued message but shows in neither
/// `msg_cbytes` nor `msg_qnum` until the message is sent.
#[must_use = "dropping a permit gives its room back"]
#[clippy::has_significant_drop]
pub struct Permit<'a, T: Payload> {
    q: &'a MessageQueue<T>,
    room: Room,
}

/// The room a permit holds, borrowed ([`Permit`]) or owned ([`OwnedPermit`](super::OwnedPermit)):
/// the one body of a permit's `send` and of its drop, given the queue.
#[derive(Debug)]
pub(super) struct Room {
    pub(super) mtype: i64,
    pub(super) size: usize,
    /// Still held: neither sent through nor given back.
    live: bool,
}

impl Room {
    pub(super) fn new(mtype: i64, size: usize) -> Room {
        Room { mtype, size, live: true }
    }

    /// The tail of a `msgsnd` that already passed its fit check (see [`Permit::send`]).
    pub(super) fn send<T: Payload>(&mut self, q: &MessageQueue<T>, msg: T) -> Result<(), SendError<T>> {
        let size = msg.size();
        if size > self.size {
            return Err(SendError::new(Error::new(Op::MsgSnd, ErrorKind::InvalidArgument), msg));
        }
        self.live = false;
        q.h.queue.send_reserved(q.h.process.pid(), self.size, self.mtype, size, msg);
        Ok(())
    }

    /// Gives the room back unless it was sent through (a permit's drop).
    pub(super) fn release<T: Payload>(&mut self, q: &MessageQueue<T>) {
        if std::mem::replace(&mut self.live, false) {
            q.h.queue.release(self.size);
        }
    }
}

impl<'a, T: Payload> Permit<'a, T> {
    pub(super) fn new(q: &'a MessageQueue<T>, mtype: i64, size: usize) -> Permit<'a, T> {
        Permit { q, room: Room::new(mtype, size) }
    }

    /// The message type the permit sends with.
    pub fn mtype(&self) -> i64 {
        self.room.mtype
    }

    /// The bytes of room held.
    pub fn size(&self) -> usize {
        self.room.size
    }

    /// Sends `msg` through the held room: the tail of a `msgsnd` that already passed its fit
    /// check (handed to a waiting receiver, or queued). It does not wait, and updates
    /// `msg_stime` and `msg_lspid` as a send does. Room the message does not use is given
    /// back. If the queue was removed meanwhile, the message is dropped with the queue's
    /// other messages, as tokio's `Permit::send` drops a value sent into a closed channel.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`) when `msg.size()` is larger than the room
    /// reserved: the message comes back in the [`SendError`] and the permit's room is given
    /// back (the permit is consumed either way, so the error borrows nothing and is
    /// `'static` for any `T: 'static`, ready for `?` into `anyhow` or `Box<dyn Error>`).
    pub fn send(mut self, msg: T) -> Result<(), SendError<T>> {
        self.room.send(self.q, msg)
    }
}

impl<T: Payload> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.room.release(self.q);
    }
}

impl<T: Payload> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("id", &self.q.id())
            .field("mtype", &self.room.mtype)
            .field("size", &self.room.size)
            .finish()
    }
}

// ===== RecvFuture =====

/// The future of [`MessageQueue::recv`]: a `msgrcv` without `IPC_NOWAIT`.
///
/// Dropping it at any point loses no message and duplicates none: a message it had been
/// handed but not yet returned goes to the next matching receiver or back into the queue at
/// its place.
///
/// Polled again after it completed, it receives nothing and returns
/// [`ErrorKind::InvalidArgument`] (`EINVAL`): a `msgrcv` is one message, never two.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RecvFuture<'a, T: Payload> {
    pub(super) q: &'a MessageQueue<T>,
    pub(super) op: RecvCall<T>,
    pub(super) pre: Option<ErrorKind>,
    /// It returned `Ready`: a later poll must not receive again.
    pub(super) done: bool,
    #[cfg(feature = "tracing")]
    pub(super) wait: trace::Wait,
}

/// What a receive runs: the engine's `msgrcv`, or, for a handle on the host kernel, the
/// host's (boxed, so the future stays within its size: the engine variant's niches hold the
/// discriminant).
pub(super) enum RecvCall<T> {
    /// (The marker names `T` where the host variant is not built.)
    Engine(RecvOp, std::marker::PhantomData<fn() -> T>),
    #[cfg(all(target_os = "linux", not(loom)))]
    Host(HostCall<crate::host::msg::RecvFuture<T>>),
}

impl<'a, T: Payload> RecvFuture<'a, T> {
    pub(super) fn new(q: &'a MessageQueue<T>, op: RecvOp, pre: Option<ErrorKind>) -> RecvFuture<'a, T> {
        RecvFuture::with_call(q, RecvCall::Engine(op, std::marker::PhantomData), pre)
    }

    pub(super) fn with_call(
        q: &'a MessageQueue<T>,
        op: RecvCall<T>,
        pre: Option<ErrorKind>,
    ) -> RecvFuture<'a, T> {
        RecvFuture {
            q,
            op,
            pre,
            done: false,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }
}

impl<T: Payload> Unpin for RecvFuture<'_, T> {}

impl<T: Payload> Future for RecvFuture<'_, T> {
    type Output = Result<(i64, T), Error>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let p = this.poll_call(cx);
        trace::poll!(this.wait, Op::MsgRcv, this.q.id(), this.q.h.process.pid(), &p);
        p
    }
}

impl<T: Payload> RecvFuture<'_, T> {
    #[inline(always)]
    fn poll_call(&mut self, cx: &mut Context<'_>) -> Poll<Result<(i64, T), Error>> {
        let this = self;
        if this.done {
            return Poll::Ready(Err(rcv_err(ErrorKind::InvalidArgument)));
        }
        // `pre` holds on both homes: a bad selector, or `recv_limited`'s limit above
        // `isize::MAX`, is the same `EINVAL` there (the host is never asked).
        if let Some(kind) = this.pre {
            this.done = true;
            return Poll::Ready(Err(rcv_err(kind)));
        }
        // A host handle's future turns to the host here.
        #[cfg(all(target_os = "linux", not(loom)))]
        if this.q.host().is_some() {
            return this.poll_host(cx);
        }
        let op = match &mut this.op {
            RecvCall::Engine(op, _) => op,
            #[cfg(all(target_os = "linux", not(loom)))]
            RecvCall::Host(_) => return this.poll_host(cx),
        };
        let r = match this.q.h.queue.poll_recv(this.q.caller(), op, Some(cx)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.done = true;
        Poll::Ready(r.map(|m| (m.mtype, m.payload)).map_err(|kind| this.q.error(Op::MsgRcv, kind)))
    }
}

impl<T: Payload> RecvFuture<'_, T> {
    /// The host's `msgrcv`, made at the first poll from the future's selector (a
    /// `recv_limited` future is built with its host call), then polled; out of line and
    /// cold, as [`SendFuture`]'s.
    #[cfg(all(target_os = "linux", not(loom)))]
    #[cold]
    #[inline(never)]
    fn poll_host(&mut self, cx: &mut Context<'_>) -> Poll<Result<(i64, T), Error>> {
        if let RecvCall::Engine(op, _) = &self.op {
            let h = self.q.host().expect("a host handle");
            self.op = RecvCall::Host(HostCall::new(h.recv(op.select)));
        }
        let RecvCall::Host(host) = &mut self.op else { unreachable!("a host call") };
        let r = std::task::ready!(Pin::new(host.get()).poll(cx));
        self.done = true;
        Poll::Ready(r.map_err(|e| self.q.host_recv_error(e)))
    }
}

impl<T: Payload> Drop for RecvFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        #[allow(irrefutable_let_patterns)] // one variant where the host is not built
        if let RecvCall::Engine(op, _) = &mut self.op {
            self.q.h.queue.cancel_recv(op);
        }
        trace::dropped!(self.wait, Op::MsgRcv, self.q.id(), self.q.h.process.pid());
    }
}

impl<T: Payload> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RecvFuture");
        d.field("id", &self.q.id());
        match &self.op {
            RecvCall::Engine(op, _) => d.field("select", &op.select).field("waiting", &op.is_waiting()),
            #[cfg(all(target_os = "linux", not(loom)))]
            RecvCall::Host(host) => d.field("host", host),
        };
        d.finish()
    }
}

/// The future of [`MessageQueue::recv_limited`]: a `msgrcv` with a buffer size, and
/// `MSG_NOERROR` when the [`Limit`](super::Limit) says so.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RecvLimitedFuture<'a, T: Truncate> {
    pub(super) inner: RecvFuture<'a, T>,
    /// `Some(max)` under `MSG_NOERROR`: truncate to `max` bytes.
    pub(super) truncate: Option<usize>,
}

impl<T: Truncate> Future for RecvLimitedFuture<'_, T> {
    type Output = Result<(i64, T), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let truncate = this.truncate;
        Pin::new(&mut this.inner).poll(cx).map_ok(|(t, mut m)| {
            if let Some(max) = truncate {
                m.truncate_to(max);
            }
            (t, m)
        })
    }
}

impl<T: Truncate> fmt::Debug for RecvLimitedFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvLimitedFuture")
            .field("inner", &self.inner)
            .field("truncate", &self.truncate)
            .finish()
    }
}

// ===== RecvStream =====

/// A [`Stream`] of the messages a selector matches: `msgrcv` in a loop. Made by
/// [`MessageQueue::stream`].
///
/// Each item is one receive. **The stream ends (`None`) once the queue is removed** — the
/// receive it was waiting in got `EIDRM`, or the next one found the queue gone (`EINVAL`) —
/// without an error item: the end of the queue is the end of the stream, as a channel's
/// stream ends when it closes. The messages queued before the removal went with the queue.
/// Every other error is an item and the stream goes on: after `EACCES` a later `IPC_SET` may
/// grant access again. A selector that can never match (`Select::Type(0)`) yields its
/// `EINVAL` once, then ends. Polled after it ended, it stays ended. Dropping it (or dropping
/// it between items) is as cancel-safe as dropping a [`RecvFuture`].
#[must_use = "streams do nothing unless polled"]
pub struct RecvStream<T: Payload> {
    q: MessageQueue<T>,
    op: RecvOp,
    done: bool,
    /// The receive in progress, for a handle on the host kernel.
    #[cfg(all(target_os = "linux", not(loom)))]
    host: Option<Box<crate::host::msg::RecvFuture<T>>>,
    #[cfg(feature = "tracing")]
    wait: trace::Wait,
}

impl<T: Payload> RecvStream<T> {
    pub(super) fn new(q: MessageQueue<T>, select: super::Select) -> RecvStream<T> {
        let done = false;
        RecvStream {
            q,
            op: RecvOp::new(select, usize::MAX),
            done,
            #[cfg(all(target_os = "linux", not(loom)))]
            host: None,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }
}

impl<T: Payload> Unpin for RecvStream<T> {}

impl<T: Payload> Stream for RecvStream<T> {
    type Item = Result<(i64, T), Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let p = this.poll_call(cx);
        trace::poll_item!(this.wait, Op::MsgRcv, this.q.id(), this.q.h.process.pid(), &p);
        let Poll::Ready(r) = p else { return Poll::Pending };
        match r {
            Err(err) if err.is_removed() => {
                this.done = true;
                Poll::Ready(None)
            }
            r => Poll::Ready(Some(r)),
        }
    }
}

impl<T: Payload> RecvStream<T> {
    /// One receive of the stream, the `msgrcv` its event reports.
    #[inline]
    fn poll_call(&mut self, cx: &mut Context<'_>) -> Poll<Result<(i64, T), Error>> {
        let this = self;
        if let Err(kind) = this.op.select.validate() {
            this.done = true;
            return Poll::Ready(Err(rcv_err(kind)));
        }
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(h) = this.q.host() {
            let select = this.op.select;
            let fut = this.host.get_or_insert_with(|| Box::new(h.recv(select)));
            let r = match Pin::new(&mut **fut).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.host = None;
            return Poll::Ready(r.map_err(|e| this.q.host_recv_error(e)));
        }
        let r = match this.q.h.queue.poll_recv(this.q.caller(), &mut this.op, Some(cx)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.op = RecvOp::new(this.op.select, usize::MAX);
        Poll::Ready(r.map(|m| (m.mtype, m.payload)).map_err(|kind| this.q.error(Op::MsgRcv, kind)))
    }
}

impl<T: Payload> Drop for RecvStream<T> {
    fn drop(&mut self) {
        self.q.h.queue.cancel_recv(&mut self.op);
        trace::dropped!(self.wait, Op::MsgRcv, self.q.id(), self.q.h.process.pid());
    }
}

impl<T: Payload> fmt::Debug for RecvStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("id", &self.q.id())
            .field("select", &self.op.select)
            .field("done", &self.done)
            .finish()
    }
}

// ===== SendSink =====

/// A [`Sink`] of messages sent with one type: `msgsnd` in a loop. Made by
/// [`MessageQueue::sink`].
///
/// It buffers one message: `start_send` takes it, and `poll_ready`/`poll_flush`/
/// `poll_close` drive its send, waiting for room as [`MessageQueue::send`] does. An error
/// gives the message back inside [`SendError`]. Dropping the sink with a message still
/// buffered drops that message, as dropping a [`SendFuture`] does.
#[must_use = "sinks do nothing unless polled"]
pub struct SendSink<T: Payload> {
    q: MessageQueue<T>,
    mtype: i64,
    pending: Option<SendOp<T>>,
    /// The send in progress, for a handle on the host kernel.
    #[cfg(all(target_os = "linux", not(loom)))]
    host: Option<Box<crate::host::msg::SendFuture<T>>>,
    #[cfg(feature = "tracing")]
    wait: trace::Wait,
}

impl<T: Payload> SendSink<T> {
    pub(super) fn new(q: MessageQueue<T>, mtype: i64) -> SendSink<T> {
        SendSink {
            q,
            mtype,
            pending: None,
            #[cfg(all(target_os = "linux", not(loom)))]
            host: None,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(fut) = self.host.as_mut() {
            let p = Pin::new(&mut **fut).poll(cx);
            if p.is_ready() {
                self.host = None;
            }
            return p;
        }
        let Some(op) = self.pending.as_mut() else { return Poll::Ready(Ok(())) };
        let r = match self.q.h.queue.poll_send(self.q.caller(), op, Some(cx)) {
            Poll::Pending => {
                trace::poll_item!(
                    self.wait,
                    Op::MsgSnd,
                    self.q.id(),
                    self.q.h.process.pid(),
                    &Poll::<Result<(), Error>>::Pending
                );
                return Poll::Pending;
            }
            Poll::Ready(r) => r,
        };
        let msg = self.pending.take().and_then(|mut op| op.msg.take());
        let p = Poll::Ready(match (r, msg) {
            (Err(kind), Some(msg)) => Err(SendError::new(self.q.error(Op::MsgSnd, kind), msg)),
            _ => Ok(()),
        });
        trace::poll_item!(self.wait, Op::MsgSnd, self.q.id(), self.q.h.process.pid(), &p);
        p
    }
}

impl<T: Payload> Unpin for SendSink<T> {}

impl<T: Payload> Sink<T> for SendSink<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if let Some(kind) = this.q.check_send_args(this.mtype, item.size()) {
            let e = snd_err(kind, item);
            trace::call!(Op::MsgSnd, this.q.id(), this.q.h.process.pid(), &Err::<(), _>(&e));
            return Err(e);
        }
        if this.pending.is_some() {
            // `poll_ready` was not called first: refuse rather than lose the buffered one.
            return Err(snd_err(ErrorKind::WouldBlock, item));
        }
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(h) = this.q.host() {
            if this.host.is_some() {
                return Err(snd_err(ErrorKind::WouldBlock, item));
            }
            this.host = Some(Box::new(h.send(this.mtype, item)));
            return Ok(());
        }
        let size = item.size();
        this.pending = Some(SendOp::new(this.mtype, size, item));
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_pending(cx)
    }
}

impl<T: Payload> Drop for SendSink<T> {
    fn drop(&mut self) {
        if let Some(op) = self.pending.as_mut() {
            self.q.h.queue.cancel_send_op(op);
        }
        trace::dropped!(self.wait, Op::MsgSnd, self.q.id(), self.q.h.process.pid());
    }
}

impl<T: Payload> fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("id", &self.q.id())
            .field("mtype", &self.mtype)
            .field("buffered", &self.pending.is_some())
            .finish()
    }
}
