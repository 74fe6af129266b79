//! `msgctl`: the typed handle's `IPC_STAT`, `IPC_SET` and `IPC_RMID`, and the calls an
//! `ipcs`-style walk and the C-shaped layer need beyond the handle: `msgctl(IPC_INFO)`,
//! `MSG_STAT`/`MSG_STAT_ANY` by slot index, and the payload-agnostic `msgget` of `svipc::c`.

#[cfg(not(loom))]
use super::store::Queue;
use super::{MessageQueue, MsgInfo, MsqidDs, MsqidSet, Payload};
#[cfg(not(loom))]
use crate::error::ErrorKind;
use crate::error::{Error, Op};
use crate::home::on_host;
use crate::ipc::IpcKind;
#[cfg(not(loom))]
use crate::ipc::{Header, IpcObject, Key, Ops};
use crate::namespace::Namespace;
use crate::process::Process;
#[cfg(not(loom))]
use crate::sync::Arc;
use crate::trace;

impl<T: Payload> MessageQueue<T> {
    /// `msgctl(msqid, IPC_STAT, &buf)`.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): the queue is removed.
    /// * [`ErrorKind::PermissionDenied`] (`EACCES`): no read permission.
    pub fn stat(&self) -> Result<MsqidDs, Error> {
        on_host!(self, Op::MsgCtl, h => h.stat());
        let r = self.stat_call();
        trace::call!(Op::MsgCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    fn stat_call(&self) -> Result<MsqidDs, Error> {
        let figs = self.h.queue.stat(self.h.process.credentials()).map_err(|k| self.error(Op::MsgCtl, k))?;
        Ok(MsqidDs {
            perm: self.h.queue.header().perm().load(),
            stime: figs.stime,
            rtime: figs.rtime,
            ctime: self.h.queue.header().ctime(),
            cbytes: figs.cbytes as u64,
            qnum: figs.qnum as u64,
            qbytes: figs.qbytes as u64,
            lspid: figs.lspid,
            lrpid: figs.lrpid,
        })
    }

    /// `msgctl(msqid, IPC_SET, &buf)`: sets owner uid and gid, the mode's low 9 bits and
    /// `msg_qbytes`, and `msg_ctime` to now. Every waiting receiver re-checks its permission
    /// (and fails with `EACCES` if it lost it); every waiting sender that now fits goes on.
    ///
    /// Lowering `msg_qbytes` needs no privilege, even to 0.
    ///
    /// # Errors
    ///
    /// In this order:
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): the queue is removed.
    /// * [`ErrorKind::NotPermitted`] (`EPERM`): the caller is neither owner nor creator and
    ///   lacks `CAP_SYS_ADMIN`; or `qbytes` exceeds `MSGMNB` and the caller lacks
    ///   `CAP_SYS_RESOURCE`.
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): `uid` or `gid` is `u32::MAX`
    ///   (`(uid_t)-1`).
    pub fn set(&self, set: MsqidSet) -> Result<(), Error> {
        on_host!(self, Op::MsgCtl, h => h.set(set));
        let msgmnb = self.h.process.namespace().limits().msgmnb;
        let qbytes = usize::try_from(set.qbytes).unwrap_or(usize::MAX);
        let r = self
            .h
            .queue
            .set(self.h.process.credentials(), msgmnb, set.uid, set.gid, set.mode, qbytes)
            .map_err(|k| self.error(Op::MsgCtl, k));
        if r.is_ok() {
            // The version moved: this handle's memo holds nothing now; fill it again here
            // rather than at each of its users' next calls (`PermCache::prime`).
            self.h.perm.prime(self.h.queue.header().perm(), self.h.process.credentials());
        }
        trace::call!(Op::MsgCtl, self.id(), self.h.process.pid(), &r);
        r
    }

    /// `msgctl(msqid, IPC_RMID, NULL)`: removes the queue. Every waiting send and receive
    /// fails with `EIDRM`, the queued messages are dropped, and every later call with this
    /// id or any handle on it fails with `EINVAL`.
    ///
    /// # Errors
    ///
    /// * [`ErrorKind::InvalidArgument`] (`EINVAL`): the queue is already removed.
    /// * [`ErrorKind::NotPermitted`] (`EPERM`): the caller is neither owner nor creator and
    ///   lacks `CAP_SYS_ADMIN`. No mode bits are needed.
    pub fn remove(&self) -> Result<(), Error> {
        on_host!(self, Op::MsgCtl, h => h.remove());
        let r = self.h.queue.header().check_live().map_err(|k| self.error(Op::MsgCtl, k)).and_then(|()| {
            self.h
                .process
                .namespace()
                .remove(self.h.process.credentials(), IpcKind::MessageQueue, self.id())
                .map_err(|k| self.error(Op::MsgCtl, k))
        });
        trace::call!(Op::MsgCtl, self.id(), self.h.process.pid(), &r);
        r
    }
}

impl Namespace {
    /// `msgctl(0, IPC_INFO, &buf)`: the limits, the kernel's constants in `msgpool`,
    /// `msgmap` and `msgtql` (see [`MsgInfo`]), and the highest index in use.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::Namespace;
    ///
    /// let info = Namespace::new().msg_ipc_info();
    /// assert_eq!((info.msgpool, info.msgmap, info.msgtql), (512000, 16384, 16384));
    /// assert_eq!((info.msgssz, info.msgseg, info.msgmax, info.max_index), (16, 65535, 8192, 0));
    /// ```
    pub fn msg_ipc_info(&self) -> MsgInfo {
        let limits = self.limits();
        let (_, _, max_index) = self.table_info(IpcKind::MessageQueue);
        MsgInfo {
            msgpool: MSGPOOL,
            msgmap: MSGMNB_DEFAULT as u64,
            msgtql: MSGMNB_DEFAULT as u64,
            msgssz: MSGSSZ,
            msgseg: MSGSEG,
            msgmax: limits.msgmax,
            msgmnb: limits.msgmnb,
            msgmni: limits.msgmni,
            max_index,
        }
    }
}

/// `<linux/msg.h>`'s compile-time `MSGMNB`, behind `MSGMAP` and `MSGTQL`.
const MSGMNB_DEFAULT: usize = 16384;
/// `MSGPOOL`: `MSGMNI * MSGMNB / 1024` of the compile-time constants.
const MSGPOOL: usize = 32000 * MSGMNB_DEFAULT / 1024;
/// `MSGSSZ`: the old message segment size.
pub(super) const MSGSSZ: usize = 16;
/// `MSGSEG`: `MSGPOOL * 1024 / MSGSSZ`, capped at 0xffff.
pub(super) const MSGSEG: usize = 0xffff;

impl Process {
    /// `msgctl(index, MSG_STAT, &buf)`: the queue in slot `index` of the table (what
    /// `ipcs -q` walks, from 0 to the `max_index` of [`Namespace::msg_info`]), whatever its
    /// payload type: its full `msqid` and its [`MsqidDs`]. Read permission is checked, as
    /// for `IPC_STAT`.
    ///
    /// # Errors
    ///
    /// In this order: [`ErrorKind::InvalidArgument`] (EINVAL) for a negative index or an
    /// empty slot; [`ErrorKind::PermissionDenied`] (EACCES) without read permission.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace};
    ///
    /// let ns = Namespace::new();
    /// let me = ns.process(Credentials::new(1000, 1000));
    /// let q: MessageQueue<String> = me.msg_queue(Key::new(9)).create(0o600).open()?;
    /// let (id, ds) = me.msg_stat(0)?;
    /// assert_eq!((id, ds.perm.key, ds.qbytes), (q.id(), Key::new(9), 16384));
    /// assert_eq!(me.msg_stat(1).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// let guest = ns.process(Credentials::new(2000, 2000));
    /// assert_eq!(guest.msg_stat(0).unwrap_err().kind(), ErrorKind::PermissionDenied);
    /// assert_eq!(guest.msg_stat_any(0)?.0, q.id()); // MSG_STAT_ANY skips the check
    /// # Ok::<(), svipc::Error>(())
    /// ```
    pub fn msg_stat(&self, index: i32) -> Result<(i32, MsqidDs), Error> {
        self.stat_index(IpcKind::MessageQueue, index, false, Op::MsgCtl)
    }

    /// `msgctl(index, MSG_STAT_ANY, &buf)`: [`msg_stat`](Self::msg_stat) without the read
    /// permission check (Linux 4.17).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (EINVAL) for a negative index or an empty slot.
    pub fn msg_stat_any(&self, index: i32) -> Result<(i32, MsqidDs), Error> {
        self.stat_index(IpcKind::MessageQueue, index, true, Op::MsgCtl)
    }
}

/// The hooks of the C layer's `msgget` (`svipc::c`): a new queue carries bytes
/// (`Vec<u8>`, so the typed `MessageQueue<Vec<u8>>` is the same queue), an existing one is
/// found whatever its payload type, and only the id comes back — a C caller holds ids.
#[cfg(not(loom))]
struct ByteIdOps {
    /// MSGMNB when the call was made.
    qbytes: usize,
}

#[cfg(not(loom))]
impl Ops for ByteIdOps {
    type Handle = i32;
    const KIND: IpcKind = IpcKind::MessageQueue;

    fn create(&self, header: Header) -> Result<(Box<dyn IpcObject>, i32), ErrorKind> {
        let id = header.id();
        Ok((Box::new(Arc::new(Queue::<Vec<u8>>::new(header, self.qbytes))), id))
    }

    fn associate(&self, existing: &dyn IpcObject) -> Result<i32, ErrorKind> {
        Ok(existing.header().id())
    }
}

impl Process {
    /// `msgget(key, flags)` for the C layer: the id of the key's queue, of any payload type;
    /// a queue it creates carries `Vec<u8>`.
    #[cfg(not(loom))]
    pub(crate) fn msgget_id(&self, key: Key, flags: crate::ipc::OpenFlags) -> Result<i32, Error> {
        let ops = ByteIdOps { qbytes: self.namespace().limits().msgmnb };
        self.namespace().ipcget(self.credentials(), key, flags, &ops).map_err(|f| f.at(Op::MsgGet))
    }
}
