//! Owned reservations (tokio's `Sender::reserve_owned`): a future and a permit that hold a
//! clone of the [`MessageQueue`] handle instead of borrowing it, so they are `'static` and
//! `Send` and can move into a spawned task. They are the borrowed
//! [`ReserveFuture`](super::ReserveFuture) and [`Permit`](super::Permit) in every other
//! respect: the same room check, the same cancel safety, the same give-back on drop.

#![deny(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::futures::Room;
use super::store::ReserveOp;
use super::{MessageQueue, Payload};
use crate::error::{Error, ErrorKind, Fault, Op, SendError};

impl<T: Payload> MessageQueue<T> {
    /// [`reserve`](Self::reserve) whose future and permit own a clone of this handle
    /// (tokio's `Sender::reserve_owned`): both are `'static + Send`, so the permit can be
    /// taken in one task and used in another. The C call is the same: the room check of
    /// `msgsnd`, taken ahead of the message.
    ///
    /// # Errors
    ///
    /// As [`reserve`](Self::reserve).
    ///
    /// # Cancel safety
    ///
    /// As [`reserve`](Self::reserve): dropping the future reserves nothing, dropping the
    /// [`OwnedPermit`] unused gives the room back.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, MessageQueue, Namespace, Select};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let q: MessageQueue<String> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// let permit = q.reserve_owned(1, 16).await?; // room first ...
    /// let task = tokio::spawn(async move {
    ///     permit.send("made later".to_string()) // ... the message in another task
    /// });
    /// task.await??;
    /// assert_eq!(q.try_recv(Select::Any)?, (1, "made later".to_string()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn reserve_owned(&self, mtype: i64, size: usize) -> ReserveOwnedFuture<T> {
        let pre = self.check_reserve_args(mtype, size);
        ReserveOwnedFuture {
            q: self.clone(),
            op: ReserveOp::new(size),
            mtype,
            pre,
            done: false,
            #[cfg(feature = "tracing")]
            wait: crate::trace::Wait::default(),
        }
    }
}

/// The future of [`MessageQueue::reserve_owned`]: a [`ReserveFuture`](super::ReserveFuture)
/// that owns its handle. Dropped before it completes, it reserves nothing; polled again
/// after it completed, it reserves nothing more and returns `EINVAL`.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReserveOwnedFuture<T: Payload> {
    q: MessageQueue<T>,
    op: ReserveOp,
    mtype: i64,
    pre: Option<Fault>,
    done: bool,
    #[cfg(feature = "tracing")]
    wait: crate::trace::Wait,
}

impl<T: Payload> Unpin for ReserveOwnedFuture<T> {}

impl<T: Payload> Future for ReserveOwnedFuture<T> {
    type Output = Result<OwnedPermit<T>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let p = this.poll_call(cx);
        crate::trace::poll!(this.wait, Op::MsgSnd, this.q.id(), this.q.h.process.pid(), &p);
        p
    }
}

impl<T: Payload> ReserveOwnedFuture<T> {
    #[inline]
    fn poll_call(&mut self, cx: &mut Context<'_>) -> Poll<Result<OwnedPermit<T>, Error>> {
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
            Poll::Ready(Ok(())) => {
                Ok(OwnedPermit { q: this.q.clone(), room: Room::new(this.mtype, this.op.size) })
            }
            Poll::Ready(Err(kind)) => Err(this.q.error(Op::MsgSnd, kind)),
        };
        this.done = true;
        Poll::Ready(r)
    }
}

impl<T: Payload> Drop for ReserveOwnedFuture<T> {
    fn drop(&mut self) {
        self.q.h.queue.cancel_reserve(&mut self.op);
        crate::trace::dropped!(self.wait, Op::MsgSnd, self.q.id(), self.q.h.process.pid());
    }
}

impl<T: Payload> fmt::Debug for ReserveOwnedFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReserveOwnedFuture")
            .field("id", &self.q.id())
            .field("mtype", &self.mtype)
            .field("size", &self.op.size)
            .finish_non_exhaustive()
    }
}

/// Room for one message, holding a clone of the handle: a [`Permit`](super::Permit) that is
/// `'static`. Made by [`MessageQueue::reserve_owned`]; [`send`](OwnedPermit::send) cannot
/// wait, and dropping it unused gives the room back.
#[must_use = "dropping a permit gives its room back"]
#[clippy::has_significant_drop]
pub struct OwnedPermit<T: Payload> {
    q: MessageQueue<T>,
    room: Room,
}

impl<T: Payload> OwnedPermit<T> {
    /// The message type the permit sends with.
    pub fn mtype(&self) -> i64 {
        self.room.mtype
    }

    /// The bytes of room held.
    pub fn size(&self) -> usize {
        self.room.size
    }

    /// Sends `msg` through the held room, as [`Permit::send`](super::Permit::send) does
    /// (the tail of a `msgsnd` that already passed its fit check).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`) when `msg.size()` is larger than the room
    /// reserved: the message comes back and the room is given back.
    pub fn send(mut self, msg: T) -> Result<(), SendError<T>> {
        self.room.send(&self.q, msg)
    }

    /// The queue the room is held in.
    pub fn queue(&self) -> &MessageQueue<T> {
        &self.q
    }
}

impl<T: Payload> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        self.room.release(&self.q);
    }
}

impl<T: Payload> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("id", &self.q.id())
            .field("mtype", &self.room.mtype)
            .field("size", &self.room.size)
            .finish()
    }
}
