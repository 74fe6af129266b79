//! Message queues: [`MessageQueue<T>`], the kernel's `msgget`, `msgsnd`, `msgrcv` and
//! `msgctl` (`ipc/msg.c`) as a typed, async, cancel-safe API.
//!
//! | System V | svipc |
//! |---|---|
//! | `msgget(key, IPC_CREAT \| IPC_EXCL \| mode)` | [`Process::msg_queue`]`(key).create(mode).exclusive().open()` |
//! | `msgget(IPC_PRIVATE, mode)` | [`Process::msg_queue`]`(Key::PRIVATE).create(mode).open()` |
//! | a `msqid` handed over | [`Process::msg_queue_by_id`]`(id)` |
//! | `msgsnd(id, msg, sz, 0)` | [`MessageQueue::send`]`(mtype, msg).await` |
//! | `msgsnd(.., IPC_NOWAIT)` | [`MessageQueue::try_send`] (`EAGAIN`) |
//! | `msgrcv(id, buf, sz, msgtyp, 0)` | [`MessageQueue::recv`]`(Select::…).await` |
//! | `msgrcv(.., IPC_NOWAIT)` | [`MessageQueue::try_recv`] (`ENOMSG`) |
//! | `msgrcv(.., bufsz, .., MSG_NOERROR)` | [`MessageQueue::recv_limited`]`(select, Limit::bytes(n).no_error())` |
//! | `msgrcv(.., MSG_EXCEPT)`, `msgtyp < 0` | [`Select::Except`], [`Select::AtMost`], [`Select::from_raw`] |
//! | `msgrcv(.., index, MSG_COPY \| IPC_NOWAIT)` | [`MessageQueue::peek`]`(index)` |
//! | `msgctl(IPC_STAT)` | [`MessageQueue::stat`] → [`MsqidDs`] |
//! | `msgctl(IPC_SET)` | [`MessageQueue::set`]`(MsqidSet { .. })` |
//! | `msgctl(IPC_RMID)` | [`MessageQueue::remove`]; or, opted in, the last handle's drop ([`OpenOptions::remove_on_drop`]) |
//! | room first, the message later | [`MessageQueue::reserve`], [`MessageQueue::reserve_owned`] (`'static`, for another task) |
//! | `msgctl(MSG_INFO)` | [`Namespace::msg_info`] → [`MsgInfo`] |
//!
//! # User-visible behaviour
//!
//! Exactly the kernel's, to the errno, with futures where it sleeps:
//!
//! * **Payload size.** A message is a typed `T: Payload`; its [`Payload::size`] is its
//!   `msgsz`. `msg_cbytes`, `msg_qbytes` and `MSGMAX` count those bytes.
//! * **Fit.** A message fits when `cbytes + size <= qbytes` **and** `qnum + 1 <= qbytes`:
//!   `msg_qbytes` caps the count too, and `qbytes = 0` makes every send wait. A message
//!   larger than `msg_qbytes` (but within `MSGMAX`) waits (or gets `EAGAIN`) until `IPC_SET`
//!   raises `msg_qbytes`; it never gets `EINVAL`. The fit check comes **before** the handoff:
//!   a full queue makes a send wait even when a receiver waits for exactly that message.
//! * **Handoff.** A send first offers its message to the waiting receivers in arrival
//!   order (`pipelined_send`): each one whose selector matches but whose size limit is too
//!   small fails with `E2BIG` and the next is tried; the first that takes it gets it directly
//!   — it never enters the queue (`msg_qnum`/`msg_cbytes` unchanged) and `msg_lrpid`/
//!   `msg_rtime` are set at the handoff.
//! * **Selection** is FIFO within what a [`Select`] matches. [`Select::AtMost`] takes the
//!   oldest message of the *lowest* type `<= t`. A size-limited receive of a message that
//!   is too big fails with `E2BIG` and leaves the message queued; under
//!   [`Limit::no_error`] it is truncated ([`Truncate`]).
//! * **Waking senders** follows `ss_wakeup`, with one difference in *which* tasks wake, never
//!   in what a call returns: the kernel wakes every waiting sender whose size fits the free
//!   room on its own, and those that lose the race sleep again; svipc wakes, oldest first, as
//!   many as the free room takes together (the rest move to the tail), and a woken sender
//!   that finds its room taken, fails or is dropped passes the wake-up on. As in the kernel,
//!   a new sender that fits may pass older waiting ones (no FIFO among senders, no
//!   starvation protection).
//! * **`IPC_SET`** wakes every waiting receiver to re-check its permission (one that lost
//!   read permission fails with `EACCES`) and the senders that now fit.
//! * **`IPC_RMID`** fails every waiting call with `EIDRM`; any later call through a handle
//!   or the id fails with `EINVAL`, like a C call with a dead id. Both answer
//!   [`Error::is_removed`] (the handle knows its queue is gone; a bad argument's `EINVAL`
//!   does not), and a [`RecvStream`] ends with `None`.
//! * **Cancellation** (the kernel's `EINTR`): dropping any future leaves the queue as if
//!   the call had never been made. A dropped [`RecvFuture`] that had already been handed a
//!   message passes it to the next matching receiver or puts it back at its place (oldest
//!   first); a dropped [`SendFuture`] has sent its message exactly once (it completed) or
//!   not at all (the message drops with it); a dropped [`Permit`] gives its room back; a
//!   wake-up a dropped future had taken passes on.
//!
//! Deviations, all invisible to a single-threaded C program: `msg_lrpid` on a handoff is
//! the receiving actor's pid, not a thread id; a put-back message keeps the
//! `msg_rtime`/`msg_lrpid` its handoff set and may briefly take `msg_cbytes` above
//! `msg_qbytes` (senders simply wait longer); `stat` reads each field atomically but, while
//! lock-free operations run, not all fields at one instant; when lock-free sends (or
//! receives) of different actors overlap, `msg_lspid` (`msg_lrpid`) may name any of the
//! overlapping callers, not necessarily the one whose message went in (came out) last — each
//! stores its pid beside its push or pop, not in the same atomic step, where the kernel sets
//! both under the queue lock; calls that do not overlap record the last caller's pid, and the
//! linearizability check (`tests/linearizability.rs`) leaves these two fields out for that
//! reason; `MSG_COPY` is [`MessageQueue::peek`], not a selector; a lock-free send that
//! takes its room and then must go back — its message's type is not the one the ring holds,
//! or an `IPC_SET` changed the permissions after the caller's check — gives the room back,
//! and a `stat` or `MSG_INFO` in that window counts its message once too often (then the
//! send completes through the lock, or fails with `EACCES` if the write permission went);
//! a send to a waiting receiver of any message pushes first and hands over after, so a
//! receive that runs in between may take that message before the waiting one (the send has
//! not returned yet, so no caller can tell it from the receive coming first).
//!
//! **Permissions and lock-free calls.** A send or receive that takes no lock still never
//! succeeds on a permission that an `IPC_SET` which completed before it had taken away: the
//! change is seen and the call checks again under the queue's lock.
//!
//! # Memory ordering
//!
//! A completed `send` *happens before* the `recv` that returns its message, and before any
//! `stat` that counts it, as with any channel: everything the sender wrote before `send` is
//! visible to the receiver after `recv`.
//!
//! # Performance
//!
//! A queue whose messages all have one type, and on which no receiver with a type selector
//! or a size limit waits, sends and receives without a lock (a bounded lock-free ring, with
//! the room counted in two atomic words); senders that find it full, and receivers of any
//! message that find it empty, wait without taking that path away (a send hands such a
//! receiver its message under a short lock of the receivers' own). Everything else — a
//! second type, a waiting receiver with a selector or a limit, a size-limited receive,
//! `MSG_COPY`, `IPC_SET`, `IPC_RMID`, a reservation — runs under the queue's lock, with
//! per-type lanes so that [`Select::Type`] finds its message in O(log types) whatever the
//! backlog of other types.
//! The queue switches back as soon as its messages are of one type again and no such
//! receiver waits. None of this changes what a call returns.
#![deny(unsafe_code)]

mod ctl;
mod futures;
mod handle;
mod owned;
mod payload;
mod select;
mod store;

use std::fmt;

use crate::home::on_host;
use std::marker::PhantomData;
#[cfg(not(loom))]
use std::time::Duration;

use self::ctl::{MSGSEG, MSGSSZ};
pub use self::futures::{
    Permit, RecvFuture, RecvLimitedFuture, RecvStream, ReserveFuture, SendFuture, SendSink,
};
use self::handle::{Extra, Handle};
pub use self::owned::{OwnedPermit, ReserveOwnedFuture};
pub use self::payload::{Limit, Payload, SizeOf, Truncate};
pub use self::select::{Select, IPC_NOWAIT, MSG_COPY, MSG_EXCEPT, MSG_NOERROR};
use self::store::{Queue, RecvOp, ReserveOp, SendOp};
use crate::error::{Detail, Error, ErrorKind, Fault, Op, SendError};
use crate::ipc::perm::Octal;
use crate::ipc::{Figures, Header, IpcKind, IpcObject, IpcPerm, Key, Ops};
use crate::lifetime::RemoveOnDrop;
use crate::namespace::Namespace;
use crate::process::{OpenOptions, Process};
use crate::sync::Arc;
use crate::trace;

// ===== MsqidDs / MsqidSet / MsgInfo =====

/// `struct msqid_ds` (svipc(7)): what [`MessageQueue::stat`] (`IPC_STAT`) returns.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct MsqidDs {
    /// `msg_perm`: key, owner, creator, mode, sequence number.
    pub perm: IpcPerm,
    /// `msg_stime`: time of the last successful send (seconds since the epoch), 0 if none.
    pub stime: i64,
    /// `msg_rtime`: time of the last successful receive (set at a handoff by the sender),
    /// 0 if none.
    pub rtime: i64,
    /// `msg_ctime`: time of creation or the last `IPC_SET`.
    pub ctime: i64,
    /// `msg_cbytes` (`__msg_cbytes`): bytes of the queued messages.
    pub cbytes: u64,
    /// `msg_qnum`: messages queued.
    pub qnum: u64,
    /// `msg_qbytes`: the most bytes — and messages — the queue holds.
    pub qbytes: u64,
    /// `msg_lspid`: pid of the last successful sender, 0 if none.
    pub lspid: i32,
    /// `msg_lrpid`: pid of the last successful receiver, 0 if none.
    pub lrpid: i32,
}

/// The fields `IPC_SET` changes ([`MessageQueue::set`]): `msg_perm.uid`, `msg_perm.gid`,
/// the low 9 bits of `msg_perm.mode`, and `msg_qbytes`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsqidSet {
    /// The new owner uid.
    pub uid: u32,
    /// The new owner gid.
    pub gid: u32,
    /// The new mode; only `mode & 0o777` is used.
    pub mode: u32,
    /// The new `msg_qbytes`.
    pub qbytes: u64,
}

impl fmt::Debug for MsqidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsqidSet")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("mode", &Octal(self.mode))
            .field("qbytes", &self.qbytes)
            .finish()
    }
}

impl From<&MsqidDs> for MsqidSet {
    /// The C idiom: `IPC_STAT`, change some fields, `IPC_SET`.
    fn from(ds: &MsqidDs) -> MsqidSet {
        MsqidSet { uid: ds.perm.uid, gid: ds.perm.gid, mode: ds.perm.mode, qbytes: ds.qbytes }
    }
}

/// `msgctl(MSG_INFO)`'s and `msgctl(IPC_INFO)`'s `struct msginfo` and return value
/// ([`Namespace::msg_info`], [`Namespace::msg_ipc_info`]).
///
/// As in the kernel, with `MSG_INFO` three fields mean something other than their names:
/// `msgpool` is the number of queues, `msgmap` the number of messages, `msgtql` the number
/// of bytes, all namespace-wide (the last two capped at `INT_MAX`). With `IPC_INFO` they
/// are the kernel's compile-time constants `MSGPOOL` (512000), `MSGMAP` and `MSGTQL`
/// (16384 each), whatever the sysctls say; `msgssz` (16) and `msgseg` (65535) are constants
/// in both, relics of the old segment allocator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct MsgInfo {
    /// `MSG_INFO`: the queues in use; `IPC_INFO`: `MSGPOOL`, 512000.
    pub msgpool: usize,
    /// `MSG_INFO`: the messages queued in all queues; `IPC_INFO`: `MSGMAP`, 16384.
    pub msgmap: u64,
    /// `MSG_INFO`: the bytes queued in all queues; `IPC_INFO`: `MSGTQL`, 16384.
    pub msgtql: u64,
    /// `MSGSSZ`: 16.
    pub msgssz: usize,
    /// `MSGSEG`: 65535.
    pub msgseg: usize,
    /// `MSGMAX`.
    pub msgmax: usize,
    /// `MSGMNB`.
    pub msgmnb: usize,
    /// `MSGMNI`.
    pub msgmni: usize,
    /// The call's return value: the highest index in use in the queue table, 0 when none.
    pub max_index: i32,
}

impl Namespace {
    /// `msgctl(0, MSG_INFO, &buf)`: the namespace-wide message-queue figures.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, MessageQueue, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// q.try_send(1, b"hello".to_vec())?;
    /// let info = ns.msg_info();
    /// assert_eq!((info.msgpool, info.msgmap, info.msgtql, info.max_index), (1, 1, 5, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn msg_info(&self) -> MsgInfo {
        let limits = self.limits();
        let (in_use, _, max_index) = self.table_info(IpcKind::MessageQueue);
        let (msgmap, msgtql) = self.fold_figures(IpcKind::MessageQueue, (0, 0), |(map, tql), f| match f {
            Figures::MessageQueue { used_bytes, messages } => (map + messages, tql + used_bytes),
            _ => (map, tql),
        });
        MsgInfo {
            msgpool: in_use,
            msgmap: msgmap.min(i32::MAX as u64),
            msgtql: msgtql.min(i32::MAX as u64),
            msgssz: MSGSSZ,
            msgseg: MSGSEG,
            msgmax: limits.msgmax,
            msgmnb: limits.msgmnb,
            msgmni: limits.msgmni,
            max_index,
        }
    }
}

// ===== open =====

/// The payload type of a `msgget` being built: the `P` of [`OpenOptions`] made by
/// [`Process::msg_queue`].
pub struct QueueParams<T> {
    remove_on_drop: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for QueueParams<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(&format!("QueueParams<{}>", std::any::type_name::<T>()))
            .field("remove_on_drop", &self.remove_on_drop)
            .finish()
    }
}

/// The hooks of `ipcget` for message queues (`msg_ops`).
struct MsgOps<T> {
    /// MSGMNB when the call was made: a new queue's `msg_qbytes`.
    qbytes: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: Payload> Ops for MsgOps<T> {
    type Handle = Arc<Queue<T>>;
    const KIND: IpcKind = IpcKind::MessageQueue;

    fn create(&self, header: Header) -> Result<(Box<dyn IpcObject>, Arc<Queue<T>>), ErrorKind> {
        let q = Arc::new(Queue::new(header, self.qbytes));
        Ok((Box::new(q.clone()), q))
    }

    fn associate(&self, existing: &dyn IpcObject) -> Result<Arc<Queue<T>>, ErrorKind> {
        existing.as_any().downcast_ref::<Arc<Queue<T>>>().cloned().ok_or(ErrorKind::TypeMismatch)
    }
}

impl Process {
    /// `msgget(key, flags)`: starts opening or creating the message queue of `key`, carrying
    /// messages of type `T`. Finish with [`create`](OpenOptions::create),
    /// [`exclusive`](OpenOptions::exclusive), [`mode`](OpenOptions::mode) and
    /// [`open`](OpenOptions::open).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let q: MessageQueue<String> = me.msg_queue(Key::new(42)).create(0o600).exclusive().open()?;
    /// // the same key again, IPC_CREAT | IPC_EXCL: EEXIST
    /// let again = me.msg_queue::<String>(Key::new(42)).create(0o600).exclusive().open();
    /// assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
    /// // the same key with another payload type: a typed error, never UB
    /// let other = me.msg_queue::<Vec<u8>>(Key::new(42)).open();
    /// assert_eq!(other.unwrap_err().kind(), ErrorKind::TypeMismatch);
    /// # drop(q);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn msg_queue<T: Payload>(&self, key: Key) -> OpenOptions<'_, QueueParams<T>> {
        OpenOptions::new(self, key, QueueParams { remove_on_drop: false, _t: PhantomData })
    }

    /// Opens the message queue with id `msqid`, as a C caller uses an id another process
    /// handed it. No permission is checked here; each later call checks its own.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): no live queue has this id (negative,
    ///   never handed out, or removed).
    /// * [`ErrorKind::TypeMismatch`] (`EINVAL`): the queue carries another payload type.
    pub fn msg_queue_by_id<T: Payload>(&self, msqid: i32) -> Result<MessageQueue<T>, Error> {
        let ops = MsgOps::<T> { qbytes: 0, _t: PhantomData };
        let queue = self.namespace().open_id(msqid, &ops).map_err(|k| Error::new(Op::MsgGet, k))?;
        Ok(MessageQueue::new(queue, self.clone(), None))
    }
}

impl<T: Payload> OpenOptions<'_, QueueParams<T>> {
    /// Opts in to a lifetime: the queue is removed (`IPC_RMID`, with this process's
    /// credentials) when the last handle made from this open drops — the handle `open`
    /// returns, its clones and [`with_process`](MessageQueue::with_process) copies, and the
    /// streams, sinks and owned permits made from them. Waiting calls of other handles then
    /// fail with `EIDRM`, later ones with `EINVAL`; both are
    /// [`is_removed`](Error::is_removed). Handles opened separately, by key or id, do not
    /// keep the queue alive. A removal this process may not make (`EPERM`) does nothing.
    ///
    /// System V has no such flag; without it a queue lives until `IPC_RMID`, as in the
    /// kernel, and a `Key::PRIVATE` queue whose handles are all gone stays listed by
    /// [`Namespace::ipcs`].
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, MessageQueue, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).remove_on_drop().open()?;
    /// let q2 = q.clone();
    /// drop(q);
    /// assert_eq!(ns.ipcs().len(), 1); // q2 still holds it
    /// drop(q2);
    /// assert!(ns.ipcs().is_empty());
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn remove_on_drop(mut self) -> Self {
        self.params.remove_on_drop = true;
        self
    }

    /// Makes the `msgget` call.
    ///
    /// A new queue has `msg_qbytes` = the namespace's `MSGMNB`, `msg_ctime` = now, every
    /// other figure 0, and mode `mode`.
    ///
    /// # Errors
    ///
    /// First, svipc's own: `EINVAL` for [`Key::PRIVATE`](crate::Key::PRIVATE) without
    /// `create`, or a mode above `0o777` (see [`OpenOptions`]'s
    /// [two checks](OpenOptions#two-checks-c-does-not-make)). Then:
    /// * [`ErrorKind::NotFound`] (`ENOENT`): no queue has the key and `create` was not set.
    /// * [`ErrorKind::AlreadyExists`] (`EEXIST`): `create().exclusive()` and the key exists.
    /// * [`ErrorKind::PermissionDenied`] (`EACCES`): the existing queue denies the access
    ///   asked by the mode bits.
    /// * [`ErrorKind::NoSpace`] (`ENOSPC`): `MSGMNI` queues exist already.
    /// * [`ErrorKind::TypeMismatch`] (`EINVAL`): the key's queue carries another type.
    pub fn open(self) -> Result<MessageQueue<T>, Error> {
        let ops = MsgOps::<T> { qbytes: self.process.namespace().limits().msgmnb, _t: PhantomData };
        let queue = self.ipcget(&ops, Op::MsgGet);
        trace::get!(
            Op::MsgGet,
            self.key().raw(),
            self.process.pid(),
            queue.as_ref().map(|q| q.header().id())
        );
        let queue = queue?;
        let extra = self.params.remove_on_drop.then(|| {
            let object: Box<dyn IpcObject> = Box::new(queue.clone());
            Arc::new(Extra::Life(
                RemoveOnDrop::new(self.process.clone(), IpcKind::MessageQueue, object),
                PhantomData,
            ))
        });
        Ok(MessageQueue::new(queue, self.process.clone(), extra))
    }
}

// ===== MessageQueue =====

/// A handle on a System V message queue carrying messages of type `T`: what a `msqid` is
/// to a C program, bound to the [`Process`] that opened it.
///
/// Cheap to clone (two reference counts); `Send + Sync`. Every call is checked with the
/// process's credentials and records its pid. Opened with [`Process::msg_queue`] or
/// [`Process::msg_queue_by_id`]; see the [module docs](crate::msg) for the semantics.
///
/// On Linux the same type also stands for a queue of the host kernel, opened with
/// `svipc::host::Host::current().msg_queue::<T>(key)`: its calls are then the real
/// `msgsnd`/`msgrcv`/`msgctl`, with the differences the `svipc::host` docs list.
///
/// # Memory ordering
///
/// A completed [`send`](Self::send) happens before the [`recv`](Self::recv) that returns its
/// message.
///
/// # Examples
///
/// ```
/// use svipc::{Credentials, Key, MessageQueue, Namespace, Select};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ns = Namespace::new();
/// let me = ns.process(Credentials::new(1000, 1000));
/// let q: MessageQueue<String> = me.msg_queue(Key::new(7)).create(0o600).open()?;
/// q.send(2, "low priority".to_string()).await?;
/// q.send(1, "urgent".to_string()).await?;
/// // msgtyp = -2: the lowest type <= 2 first
/// assert_eq!(q.recv(Select::AtMost(2)).await?, (1, "urgent".to_string()));
/// assert_eq!(q.try_recv(Select::Any)?, (2, "low priority".to_string()));
/// # Ok(())
/// # }
/// ```
pub struct MessageQueue<T> {
    h: Arc<Handle<T>>,
}

impl<T> fmt::Debug for MessageQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageQueue")
            .field("id", &self.h.queue.header().id())
            .field("pid", &self.h.process.pid())
            .finish_non_exhaustive()
    }
}

impl<T: Payload> MessageQueue<T> {
    /// The queue's id (`msqid`).
    pub fn id(&self) -> i32 {
        self.h.queue.header().id() // a host handle's placeholder has the host id
    }

    /// The process whose credentials this handle's calls use (on the host, a placeholder
    /// with this process's credentials and pid in a namespace of its own: the kernel checks
    /// the real ones, and objects opened through it are in-process ones).
    pub fn process(&self) -> &Process {
        &self.h.process
    }

    /// This queue, used by another actor of the same namespace: the same queue, `other`'s
    /// credentials and pid (a C process using a `msqid` another one handed it).
    ///
    /// Every call of the new handle reaches this queue, never another object with the same
    /// id: an id means something only in its own namespace, so a process of another
    /// namespace is refused.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`, as a `msqid` used in another IPC namespace
    /// is unknown there), [`Op::MsgGet`]: `other` lives in another [`Namespace`].
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let owner = ns.process(Credentials::new(1000, 1000));
    /// let q: MessageQueue<u8> = owner.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// let other = ns.process(Credentials::new(2000, 2000));
    /// let as_other = q.with_process(&other)?;
    /// assert!(as_other.try_recv(svipc::Select::Any).unwrap_err().is_permission_denied());
    ///
    /// let stranger = Namespace::new().process(Credentials::new(0, 0));
    /// assert_eq!(q.with_process(&stranger).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn with_process(&self, other: &Process) -> Result<MessageQueue<T>, Error> {
        on_host!(self, h => h.with_process(other).map(|_| unreachable!("the host answers EPERM")));
        if !self.h.process.namespace().same(other.namespace()) {
            return Err(Error::new(Op::MsgGet, ErrorKind::InvalidArgument));
        }
        Ok(MessageQueue::new(self.h.queue.clone(), other.clone(), self.h.extra.clone()))
    }

    /// `msgsnd`'s argument checks, made before the lookup: `EINVAL` for `msgsz > MSGMAX`,
    /// then for `mtype < 1`.
    fn check_send_args(&self, mtype: i64, size: usize) -> Option<Fault> {
        let msgmax = self.h.process.namespace().msgmax();
        if size > msgmax || size > i64::MAX as usize {
            return Some(Fault::new(ErrorKind::InvalidArgument, Detail::SizeAboveMsgmax));
        }
        if mtype < 1 {
            return Some(Fault::new(ErrorKind::InvalidArgument, Detail::MtypeBelowOne));
        }
        None
    }

    /// A reservation's checks: a host handle's `EINVAL` (the kernel cannot hold room for a
    /// message), else `msgsnd`'s ([`check_send_args`](Self::check_send_args)).
    pub(super) fn check_reserve_args(&self, mtype: i64, size: usize) -> Option<Fault> {
        #[cfg(all(target_os = "linux", not(loom)))]
        if self.host().is_some() {
            return Some(Fault::new(ErrorKind::InvalidArgument, Detail::ReserveOnHost));
        }
        self.check_send_args(mtype, size)
    }

    // ----- send -----

    /// `msgsnd(msqid, msg, size, 0)`: sends `msg` with type `mtype`, waiting while it does
    /// not fit (`cbytes + size > qbytes` or `qnum + 1 > qbytes`).
    ///
    /// The message goes to the oldest waiting receiver that matches and takes it, or into
    /// the queue; `msg_stime` and `msg_lspid` are updated.
    ///
    /// # Errors
    ///
    /// The message comes back inside the [`SendError`].
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): `msg.size() > MSGMAX` or `mtype < 1`
    ///   (checked first), or the queue is removed (a dead id).
    /// * [`ErrorKind::PermissionDenied`] (`EACCES`): no write permission (checked again
    ///   after every wake-up).
    /// * [`ErrorKind::Removed`] (`EIDRM`): the queue was removed while the send waited.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes sends nothing and drops the message with
    /// it; the queue is as if the call had never been made. Use [`reserve`](Self::reserve)
    /// to wait for room without risking the message.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, MessageQueue, Namespace};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// q.send(1, vec![1, 2, 3]).await?;
    /// assert_eq!(q.stat()?.cbytes, 3);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn send(&self, mtype: i64, msg: T) -> SendFuture<'_, T> {
        // One construction for both homes (a host handle's future turns to the host at its
        // first poll): a second, early-returning construction made the compiler build the
        // future aside and copy it into the caller's state, a store-forwarding stall on
        // every call.
        let size = msg.size();
        let pre = self.check_send_args(mtype, size);
        SendFuture {
            q: self,
            op: SendOp::new(mtype, size, msg),
            pre,
            #[cfg(all(target_os = "linux", not(loom)))]
            host: futures::HostCall::NONE,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }

    /// `msgsnd(msqid, msg, size, IPC_NOWAIT)`: sends `msg` if it fits now.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and [`ErrorKind::WouldBlock`] (`EAGAIN`) where `send` would
    /// wait. The message comes back inside the [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::msg::MsqidSet;
    /// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// let mut set = MsqidSet::from(&q.stat()?);
    /// set.qbytes = 8; // room for one u64
    /// q.set(set)?;
    /// q.try_send(1, 10)?;
    /// let err = q.try_send(1, 11).unwrap_err();
    /// assert_eq!((err.kind(), err.into_inner()), (ErrorKind::WouldBlock, 11));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_send(&self, mtype: i64, msg: T) -> Result<(), SendError<T>> {
        on_host!(self, Op::MsgSnd, h => h.try_send(mtype, msg));
        let r = self.try_send_call(mtype, msg);
        trace::call!(Op::MsgSnd, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn try_send_call(&self, mtype: i64, msg: T) -> Result<(), SendError<T>> {
        let size = msg.size();
        if let Some(kind) = self.check_send_args(mtype, size) {
            return Err(futures_snd_err(kind, msg));
        }
        let mut op = SendOp::new(mtype, size, msg);
        match self.h.queue.poll_send(self.caller(), &mut op, None) {
            std::task::Poll::Ready(Err(kind)) => match op.msg.take() {
                Some(msg) => Err(SendError::new(self.error(Op::MsgSnd, kind), msg)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// [`send`](Self::send) for code outside an async runtime: blocks the thread while the
    /// message does not fit.
    /// (`msgsnd` without `IPC_NOWAIT`, as a C program calls it: the thread sleeps.)
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Panics
    ///
    /// On a thread that drives a tokio runtime (a `current_thread` runtime, a multi-thread
    /// worker, `block_on`), where it would hang the runtime or take a worker away, with
    /// tokio's own message: call [`send`](Self::send)`(..).await` there, or make the
    /// blocking call from `tokio::task::spawn_blocking` or a plain thread. See the
    /// [crate docs](crate#executors).
    #[cfg(not(loom))]
    #[track_caller]
    pub fn blocking_send(&self, mtype: i64, msg: T) -> Result<(), SendError<T>> {
        on_host!(self, Op::MsgSnd, h => h.blocking_send(mtype, msg));
        crate::runtime::block_on(self.send(mtype, msg))
    }

    /// [`send`](Self::send) that gives up after `timeout`, giving the message back.
    /// (`msgsnd` with a deadline, which System V itself lacks; expiry is `EAGAIN` with `is_timeout()`.)
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); on expiry [`ErrorKind::WouldBlock`] (`EAGAIN`) with
    /// [`SendError::is_timeout`] true and the message inside.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send): dropping the future sends nothing and drops the message.
    ///
    /// # Panics
    ///
    /// When it has to wait one millisecond (tokio's timer tick) or more, outside a tokio
    /// runtime with the time driver enabled, as `tokio::time::sleep` does. A zero or
    /// sub-millisecond timeout and a call that completes at once need no timer. See the
    /// [crate docs](crate#executors).
    #[cfg(not(loom))]
    pub async fn send_timeout(&self, mtype: i64, msg: T, timeout: Duration) -> Result<(), SendError<T>> {
        on_host!(self, Op::MsgSnd, async h => h.send_timeout(mtype, msg, timeout).await);
        use std::future::Future;
        let mut fut = self.send(mtype, msg);
        let mut deadline = crate::runtime::Deadline::after(timeout);
        std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(r) = std::pin::Pin::new(&mut fut).poll(cx) {
                return std::task::Poll::Ready(r);
            }
            if deadline.poll_expired(cx).is_ready() {
                if let Some(msg) = fut.cancel() {
                    trace::expired!(fut.wait, Op::MsgSnd, self.id(), self.h.process.pid());
                    return std::task::Poll::Ready(Err(SendError::new(Error::timed_out(Op::MsgSnd), msg)));
                }
                return std::task::Poll::Ready(Ok(()));
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Waits for room for one message of up to `size` bytes and holds it: the permit's
    /// [`send`](Permit::send) cannot wait (tokio's `Sender::reserve` pattern), so the message
    /// need not exist — or be risked — while waiting.
    /// (The room check of `msgsnd`, taken ahead of the message.)
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send) (argument checks on `size` and `mtype`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future reserves nothing; a wake-up it had taken passes on to the next
    /// sender that fits. Dropping the [`Permit`] unused gives the room back.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, MessageQueue, Namespace, Select};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<String> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// let permit = q.reserve(3, 5).await?;
    /// permit.send("hello".to_string())?;
    /// assert_eq!(q.try_recv(Select::Type(3))?.1, "hello");
    /// # Ok(())
    /// # }
    /// ```
    pub fn reserve(&self, mtype: i64, size: usize) -> ReserveFuture<'_, T> {
        let pre = self.check_reserve_args(mtype, size);
        ReserveFuture {
            q: self,
            op: ReserveOp::new(size),
            mtype,
            pre,
            done: false,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }

    /// [`reserve`](Self::reserve) with `IPC_NOWAIT`.
    ///
    /// # Errors
    ///
    /// As [`reserve`](Self::reserve), and [`ErrorKind::WouldBlock`] (`EAGAIN`) where it
    /// would wait.
    pub fn try_reserve(&self, mtype: i64, size: usize) -> Result<Permit<'_, T>, Error> {
        on_host!(self, Op::MsgSnd, _h => Err(Error::new(Op::MsgSnd, ErrorKind::InvalidArgument).with(Detail::ReserveOnHost)));
        let r = self.try_reserve_call(mtype, size);
        trace::call!(Op::MsgSnd, self.id(), self.h.process.pid(), &r);
        r
    }

    #[inline]
    fn try_reserve_call(&self, mtype: i64, size: usize) -> Result<Permit<'_, T>, Error> {
        let mut fut = self.reserve(mtype, size);
        if let Some(fault) = fut.pre {
            return Err(fault.at(Op::MsgSnd));
        }
        match self.h.queue.poll_reserve(self.caller(), &mut fut.op, None) {
            std::task::Poll::Ready(Ok(())) => Ok(Permit::new(self, mtype, size)),
            std::task::Poll::Ready(Err(kind)) => Err(self.error(Op::MsgSnd, kind)),
            std::task::Poll::Pending => Err(Error::new(Op::MsgSnd, ErrorKind::WouldBlock)),
        }
    }

    // ----- recv -----

    /// `msgrcv(msqid, buf, INT_MAX, msgtyp, 0)`: receives the message `select` picks,
    /// waiting until there is one. Returns `(mtype, message)`.
    ///
    /// `msg_rtime` and `msg_lrpid` are updated; the senders that now fit are woken.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): a typed selector with a type `<= 0`
    ///   (checked first), or the queue is removed (a dead id).
    /// * [`ErrorKind::PermissionDenied`] (`EACCES`): no read permission (checked again
    ///   after an `IPC_SET`).
    /// * [`ErrorKind::Removed`] (`EIDRM`): the queue was removed while the receive waited.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no message. One it had already been handed
    /// goes to the next matching receiver or back into the queue, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, MessageQueue, Namespace, Select};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// let q2 = q.clone();
    /// let rx = tokio::spawn(async move { q2.recv(Select::Type(9)).await });
    /// q.send(3, 30).await?;
    /// q.send(9, 90).await?;
    /// assert_eq!(rx.await??, (9, 90));
    /// assert_eq!(q.stat()?.qnum, 1); // type 3 still queued
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn recv(&self, select: Select) -> RecvFuture<'_, T> {
        // One construction for both homes, as in `send`.
        RecvFuture::new(self, RecvOp::new(select, usize::MAX), select.validate().err())
    }

    /// `msgrcv(.., IPC_NOWAIT)`: receives the message `select` picks, if there is one now.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), and [`ErrorKind::NoMessage`] (`ENOMSG`) where `recv` would
    /// wait.
    #[inline]
    pub fn try_recv(&self, select: Select) -> Result<(i64, T), Error> {
        let r = self.try_recv_now(select, None);
        trace::call!(Op::MsgRcv, self.id(), self.h.process.pid(), &r);
        r
    }

    /// [`try_recv`](Self::try_recv) with the size limit `limit` (`msgrcv`'s `msgsz`).
    fn try_recv_limited_call(&self, select: Select, limit: Limit) -> Result<(i64, T), Error> {
        let r = self.try_recv_now(select, Some(limit.maxsize()));
        trace::call!(Op::MsgRcv, self.id(), self.h.process.pid(), &r);
        r
    }

    /// The non-blocking receive on either home, `max` the size limit if there is one.
    ///
    /// The host's receive is made out of line and cold, and its message joins the engine's
    /// path as an engine message, before the one place that builds the result. Returned
    /// from the host's branch as a result of its own, it was a second source of the
    /// `Result<(i64, T), Error>` in the caller of this inlined call, and the compiler merged
    /// the two in a stack slot written in 8-byte stores and read in a 16-byte load: a
    /// store-forwarding stall on every in-process receive (the selective-receive bench ran
    /// 1.18x its time before the host handles; BENCHMARKS "The third A/B").
    #[inline]
    fn try_recv_now(&self, select: Select, max: Option<usize>) -> Result<(i64, T), Error> {
        select.validate().map_err(|k| Error::new(Op::MsgRcv, k))?;
        #[cfg(all(target_os = "linux", not(loom)))]
        let got = match self.host() {
            Some(h) => match crate::home::cold(|| self.host_try_recv(h, select, max)) {
                Ok((mtype, payload)) => std::task::Poll::Ready(Ok(store::Msg::from_host(mtype, payload))),
                Err(e) => return Err(e),
            },
            None => self.engine_try_recv(select, max),
        };
        #[cfg(not(all(target_os = "linux", not(loom))))]
        let got = self.engine_try_recv(select, max);
        match got {
            std::task::Poll::Ready(Ok(m)) => Ok((m.mtype, m.payload)),
            std::task::Poll::Ready(Err(kind)) => Err(self.error(Op::MsgRcv, kind)),
            std::task::Poll::Pending => Err(Error::new(Op::MsgRcv, ErrorKind::NoMessage)),
        }
    }

    /// The engine's one pass of a receive that does not wait.
    #[inline]
    fn engine_try_recv(
        &self,
        select: Select,
        max: Option<usize>,
    ) -> std::task::Poll<Result<store::Msg<T>, ErrorKind>> {
        let mut op = RecvOp::new(select, max.unwrap_or(usize::MAX));
        self.h.queue.poll_recv(self.caller(), &mut op, None)
    }

    /// The host's `msgrcv(.., IPC_NOWAIT)`, with a buffer of the limit if there is one.
    #[cfg(all(target_os = "linux", not(loom)))]
    fn host_try_recv(
        &self,
        h: &crate::host::msg::Queue<T>,
        select: Select,
        max: Option<usize>,
    ) -> Result<(i64, T), Error> {
        match max {
            None => h.try_recv(select),
            Some(max) => h.try_recv_max(select, max),
        }
        .map_err(|e| self.host_recv_error(e))
    }

    /// [`recv`](Self::recv) for code outside an async runtime: blocks the thread until a
    /// message arrives.
    /// (`msgrcv` without `IPC_NOWAIT`, as a C program calls it: the thread sleeps.)
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Panics
    ///
    /// On a thread that drives a tokio runtime (a `current_thread` runtime, a multi-thread
    /// worker, `block_on`), where it would hang the runtime or take a worker away, with
    /// tokio's own message: call [`recv`](Self::recv)`(..).await` there, or make the
    /// blocking call from `tokio::task::spawn_blocking` or a plain thread. See the
    /// [crate docs](crate#executors).
    #[cfg(not(loom))]
    #[track_caller]
    pub fn blocking_recv(&self, select: Select) -> Result<(i64, T), Error> {
        on_host!(self, Op::MsgRcv, h => h.blocking_recv(select).map_err(|e| self.host_recv_error(e)));
        crate::runtime::block_on(self.recv(select))
    }

    /// [`recv`](Self::recv) that gives up after `timeout`.
    /// (`msgrcv` with a deadline, which System V itself lacks; expiry is `EAGAIN` with `is_timeout()`.)
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv); on expiry [`ErrorKind::WouldBlock`] (`EAGAIN`) with
    /// [`Error::is_timeout`] true.
    ///
    /// # Cancel safety
    ///
    /// As [`recv`](Self::recv): no message is lost on expiry or drop.
    ///
    /// # Panics
    ///
    /// When it has to wait one millisecond (tokio's timer tick) or more, outside a tokio
    /// runtime with the time driver enabled, as `tokio::time::sleep` does. A zero or
    /// sub-millisecond timeout and a call that completes at once need no timer. See the
    /// [crate docs](crate#executors).
    #[cfg(not(loom))]
    pub async fn recv_timeout(&self, select: Select, timeout: Duration) -> Result<(i64, T), Error> {
        on_host!(self, Op::MsgRcv, async h => h.recv_timeout(select, timeout).await.map_err(|e| self.host_recv_error(e)));
        let mut fut = self.recv(select);
        crate::runtime::timeout(&mut fut, timeout).await.unwrap_or_else(|| {
            trace::expired!(fut.wait, Op::MsgRcv, self.id(), self.h.process.pid());
            Err(Error::timed_out(Op::MsgRcv))
        })
    }

    /// `msgrcv(msqid, buf, limit, msgtyp, flags)` for byte payloads: receives with a buffer
    /// of `limit.max()` bytes. A larger message fails the receive with `E2BIG` and stays
    /// queued, or — under [`Limit::no_error`] (`MSG_NOERROR`) — is taken and truncated
    /// ([`Truncate`]; a `String` at a char boundary).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), and [`ErrorKind::TooBig`] (`E2BIG`) without `no_error`:
    /// for the message found in the queue (it stays there), or for a message a send handed
    /// this waiting receiver (the send goes on to the next receiver).
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`) for a limit above `isize::MAX` (C's
    /// `(long) msgsz < 0`), also for [`peek_limited`](Self::peek_limited).
    ///
    /// # Cancel safety
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::msg::Limit;
    /// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Select};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(0, 0));
    /// let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
    /// q.send(1, b"abcdef".to_vec()).await?;
    /// let err = q.recv_limited(Select::Any, Limit::bytes(4)).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooBig); // still queued
    /// let (_, m) = q.recv_limited(Select::Any, Limit::bytes(4).no_error()).await?;
    /// assert_eq!(m, b"abcd");
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_limited(&self, select: Select, limit: Limit) -> RecvLimitedFuture<'_, T>
    where
        T: Truncate,
    {
        let truncate = limit.no_error.then_some(limit.max);
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(h) = self.host() {
            let call = futures::RecvCall::Host(futures::HostCall::new(h.recv_max(select, limit.maxsize())));
            let inner = RecvFuture::with_call(self, call, limit.check().err());
            return RecvLimitedFuture { inner, truncate };
        }
        let pre = limit.check().and(select.validate()).err();
        let inner = RecvFuture::new(self, RecvOp::new(select, limit.maxsize()), pre);
        RecvLimitedFuture { inner, truncate }
    }

    /// [`recv_limited`](Self::recv_limited) with `IPC_NOWAIT`.
    ///
    /// # Errors
    ///
    /// As [`recv_limited`](Self::recv_limited), and [`ErrorKind::NoMessage`] (`ENOMSG`)
    /// where it would wait.
    pub fn try_recv_limited(&self, select: Select, limit: Limit) -> Result<(i64, T), Error>
    where
        T: Truncate,
    {
        if let Err(k) = limit.check() {
            let e = Error::new(Op::MsgRcv, k);
            trace::call!(Op::MsgRcv, self.id(), self.h.process.pid(), &Err::<(), _>(e));
            return Err(e);
        }
        let (t, mut m) = self.try_recv_limited_call(select, limit)?;
        if limit.no_error {
            m.truncate_to(limit.max);
        }
        Ok((t, m))
    }

    /// `msgrcv(msqid, buf, INT_MAX, index, MSG_COPY | IPC_NOWAIT)`: a copy of the
    /// `index`-th queued message (0 = the oldest, counting every type), changing nothing —
    /// not the queue, not `msg_rtime` or `msg_lrpid`.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): the queue is removed (a dead id).
    /// * [`ErrorKind::PermissionDenied`] (`EACCES`): no read permission.
    /// * [`ErrorKind::NoMessage`] (`ENOMSG`): `index` is out of range.
    pub fn peek(&self, index: usize) -> Result<(i64, T), Error>
    where
        T: Clone,
    {
        // A message that does not decode stays queued: no put-back (`host_recv_error`).
        on_host!(self, Op::MsgRcv, h => h.peek(index).map_err(|e| e.error()));
        let r = self
            .h
            .queue
            .peek(self.h.process.credentials(), index, usize::MAX, false)
            .map_err(|k| self.error(Op::MsgRcv, k));
        trace::call!(Op::MsgRcv, self.id(), self.h.process.pid(), &r);
        r
    }

    /// [`peek`](Self::peek) with a buffer size: `E2BIG` for a larger message, and under
    /// `MSG_NOERROR` `EINVAL` (the kernel's `copy_msg` refuses to truncate a copy).
    ///
    /// # Errors
    ///
    /// As [`peek`](Self::peek), plus [`ErrorKind::TooBig`] (`E2BIG`) or, with
    /// [`Limit::no_error`], [`ErrorKind::InvalidArgument`] (`EINVAL`) for a message larger
    /// than the limit.
    pub fn peek_limited(&self, index: usize, limit: Limit) -> Result<(i64, T), Error>
    where
        T: Clone,
    {
        on_host!(self, Op::MsgRcv, h => h.peek_limited(index, limit).map_err(|e| e.error()));
        let r = limit.check().map_err(|k| Error::new(Op::MsgRcv, k)).and_then(|()| {
            self.h
                .queue
                .peek(self.h.process.credentials(), index, limit.max, limit.no_error)
                .map_err(|k| self.error(Op::MsgRcv, k))
        });
        trace::call!(Op::MsgRcv, self.id(), self.h.process.pid(), &r);
        r
    }

    /// A [`Stream`](futures_core::Stream) of the messages `select` matches, each one a
    /// [`recv`](Self::recv); see [`RecvStream`].
    /// (`msgrcv` in a loop.)
    pub fn stream(&self, select: Select) -> RecvStream<T> {
        RecvStream::new(self.clone(), select)
    }

    /// A [`Sink`](futures_sink::Sink) sending every item with type `mtype`, each one a
    /// [`send`](Self::send); see [`SendSink`].
    /// (`msgsnd` in a loop.)
    pub fn sink(&self, mtype: i64) -> SendSink<T> {
        SendSink::new(self.clone(), mtype)
    }

    /// The error of a call the queue's engine refused: `kind` from `op`, marked
    /// [`is_removed`](Error::is_removed) when it is the `EINVAL` of this handle's own queue
    /// having been removed. Argument checks made before the engine use `Error::new`.
    // Cold and out of line: built in the callers' polls, the error's bytes were assembled
    // on the success path too and read back wider than written (a store-forwarding stall
    // on every receive).
    #[cold]
    #[inline(never)]
    pub(super) fn error(&self, op: Op, kind: ErrorKind) -> Error {
        Error::of_handle(op, kind, self.h.queue.header().is_deleted())
    }

    /// A host receive's error as the crate's `Error`: the errno; for a message that does
    /// not decode as `T`, [`ErrorKind::TypeMismatch`] (`EINVAL`), the message sent back to
    /// the queue (its tail) so that it is not lost.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(super) fn host_recv_error(&self, e: crate::host::RecvError) -> Error {
        let error = e.error();
        if let (Some(h), crate::host::RecvError::Decode(d)) = (self.host(), e) {
            h.put_back(d);
        }
        error
    }
}

fn futures_snd_err<T>(fault: impl Into<Fault>, msg: T) -> SendError<T> {
    SendError::new(fault.into().at(Op::MsgSnd), msg)
}
