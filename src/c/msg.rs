//! `msgget`, `msgsnd`, `msgrcv`, `msgctl` with C arguments (`ipc/msg.c`'s `ksys_msg*`).

use super::{
    as_op, fail, int, msginfo, msqid_ds, open_flags, CallFuture, MsgctlBuf, IPC_INFO, IPC_NOWAIT, IPC_RMID,
    IPC_SET, IPC_STAT, MSG_COPY, MSG_EXCEPT, MSG_INFO, MSG_NOERROR, MSG_STAT, MSG_STAT_ANY,
};
use crate::error::{Error, ErrorKind, Op};
use crate::ipc::{IpcKind, Key};
use crate::msg::{Limit, MsgInfo, MsqidDs, MsqidSet, Select};
use crate::process::Process;

impl From<MsqidDs> for msqid_ds {
    fn from(ds: MsqidDs) -> msqid_ds {
        msqid_ds {
            msg_perm: ds.perm.into(),
            msg_stime: ds.stime,
            msg_rtime: ds.rtime,
            msg_ctime: ds.ctime,
            msg_cbytes: ds.cbytes,
            msg_qnum: ds.qnum,
            msg_qbytes: ds.qbytes,
            msg_lspid: ds.lspid,
            msg_lrpid: ds.lrpid,
        }
    }
}

impl From<MsgInfo> for msginfo {
    fn from(i: MsgInfo) -> msginfo {
        msginfo {
            msgpool: int(i.msgpool as u64),
            msgmap: int(i.msgmap),
            msgmax: int(i.msgmax as u64),
            msgmnb: int(i.msgmnb as u64),
            msgmni: int(i.msgmni as u64),
            msgssz: int(i.msgssz as u64),
            msgtql: int(i.msgtql),
            msgseg: i.msgseg as u16,
        }
    }
}

impl Process {
    /// `msgget(key, msgflg)`: the id of the queue of `key`, created if `msgflg` has
    /// `IPC_CREAT` (with `IPC_EXCL`: `EEXIST` if it exists) with permissions
    /// `msgflg & 0o777`; on an existing queue those bits are the access asked.
    ///
    /// A queue created here carries bytes (`MessageQueue<Vec<u8>>` in the typed API); an
    /// existing queue of any payload type is found (see the [module docs](crate::c)).
    ///
    /// # Errors
    ///
    /// The kernel's, in its order: `ENOENT` (no queue, no `IPC_CREAT`), `EEXIST`, `EACCES`,
    /// `ENOSPC` (`MSGMNI`).
    pub fn msgget(&self, key: i32, msgflg: i32) -> Result<i32, Error> {
        crate::trace::c_get!(Op::MsgGet, key, self.pid(), || self.msgget_call(key, msgflg))
    }

    fn msgget_call(&self, key: i32, msgflg: i32) -> Result<i32, Error> {
        self.msgget_id(Key::new(key), open_flags(key, msgflg))
    }

    /// `msgsnd(msqid, &{ mtype, mtext }, msgsz, msgflg)`: sends the first `msgsz` bytes of
    /// `mtext` with type `mtype`; waits for room unless `msgflg` has `IPC_NOWAIT`.
    ///
    /// # Errors
    ///
    /// Before the lookup, in the kernel's order: `EINVAL` for `msgsz > MSGMAX` (a
    /// `(size_t)-1` included) or `msqid < 0`, then for `mtype < 1`; then `EINVAL` for an
    /// `mtext` shorter than `msgsz` (C: `EFAULT`). Then `EINVAL` for a stale or unknown id
    /// (`TypeMismatch`, errno `EINVAL`, for a queue of another payload type), and the typed
    /// [`send`](crate::MessageQueue::send)'s: `EACCES`, `EAGAIN` (`IPC_NOWAIT`), `EIDRM`.
    pub fn msgsnd<'a>(
        &'a self,
        msqid: i32,
        mtype: i64,
        mtext: &'a [u8],
        msgsz: usize,
        msgflg: i32,
    ) -> CallFuture<'a, ()> {
        const OP: Op = Op::MsgSnd;
        CallFuture::new(OP, async move {
            if msgsz > self.namespace().limits().msgmax || msgsz > isize::MAX as usize || msqid < 0 {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            if mtype < 1 {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            let Some(bytes) = mtext.get(..msgsz) else {
                return fail(OP, ErrorKind::InvalidArgument);
            };
            let q = self.msg_queue_by_id::<Vec<u8>>(msqid).map_err(as_op(OP))?;
            let sent = if msgflg & IPC_NOWAIT != 0 {
                q.try_send(mtype, bytes.to_vec())
            } else {
                q.send(mtype, bytes.to_vec()).await
            };
            sent.map_err(|e| e.into_parts().0)
        })
        .traced(msqid, self.pid())
    }

    /// `msgrcv(msqid, &{ mtype, mtext }, msgsz, msgtyp, msgflg)`: receives a message into
    /// `mtext` and returns `(mtype, bytes written)`.
    ///
    /// `msgtyp` and `MSG_EXCEPT` select as in C ([`Select::from_raw`]); `MSG_NOERROR`
    /// truncates a message longer than `msgsz` instead of `E2BIG`; `IPC_NOWAIT` answers
    /// `ENOMSG` instead of waiting; `MSG_COPY` (with `IPC_NOWAIT`) copies the message at
    /// position `msgtyp` (0 = oldest) and leaves it queued.
    ///
    /// # Errors
    ///
    /// Before the lookup, in the kernel's order: `EINVAL` for `msqid < 0` or `msgsz` above
    /// `LONG_MAX` (`(size_t)-1`); `EINVAL` for `MSG_COPY` with `MSG_EXCEPT` or without
    /// `IPC_NOWAIT`; `EINVAL` for an `mtext` shorter than `msgsz` (C: `EFAULT`, after the
    /// message was taken). Then `EINVAL` for a stale or unknown id (`TypeMismatch` for a
    /// queue of another payload type), and the typed receive's: `EACCES`, `E2BIG`, `ENOMSG`,
    /// `EIDRM`.
    pub fn msgrcv<'a>(
        &'a self,
        msqid: i32,
        mtext: &'a mut [u8],
        msgsz: usize,
        msgtyp: i64,
        msgflg: i32,
    ) -> CallFuture<'a, (i64, usize)> {
        const OP: Op = Op::MsgRcv;
        CallFuture::new(OP, async move {
            if msqid < 0 || msgsz > isize::MAX as usize {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            let copy = msgflg & MSG_COPY != 0;
            if copy && (msgflg & MSG_EXCEPT != 0 || msgflg & IPC_NOWAIT == 0) {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            if mtext.len() < msgsz {
                return fail(OP, ErrorKind::InvalidArgument);
            }
            let q = self.msg_queue_by_id::<Vec<u8>>(msqid).map_err(as_op(OP))?;
            let limit =
                if msgflg & MSG_NOERROR != 0 { Limit::bytes(msgsz).no_error() } else { Limit::bytes(msgsz) };
            let (mtype, msg) = if copy {
                // SEARCH_NUMBER: a negative position matches no message (ENOMSG after the
                // permission check).
                q.peek_limited(usize::try_from(msgtyp).unwrap_or(usize::MAX), limit)?
            } else {
                let select = Select::from_raw(msgtyp, msgflg)?;
                if msgflg & IPC_NOWAIT != 0 {
                    q.try_recv_limited(select, limit)?
                } else {
                    q.recv_limited(select, limit).await?
                }
            };
            mtext[..msg.len()].copy_from_slice(&msg);
            Ok((mtype, msg.len()))
        })
        .traced(msqid, self.pid())
    }

    /// `msgctl(msqid, cmd, buf)`: `IPC_STAT`, `IPC_SET`, `IPC_RMID`, `IPC_INFO`, `MSG_INFO`,
    /// `MSG_STAT`, `MSG_STAT_ANY`. Returns what the C call returns: 0; the highest index
    /// in use for `IPC_INFO`/`MSG_INFO`; the full id for `MSG_STAT`/`MSG_STAT_ANY` (whose
    /// `msqid` is a slot index).
    ///
    /// # Errors
    ///
    /// In the kernel's order: `EINVAL` for `msqid < 0` or `cmd < 0`, then per command —
    /// `IPC_STAT`: `EINVAL` (lookup), `EACCES`; `MSG_STAT`: `EINVAL` (empty slot), `EACCES`
    /// (not for `MSG_STAT_ANY`); `IPC_SET`: the buffer, then `EINVAL`, `EPERM`, `EINVAL`
    /// (unmappable uid/gid); `IPC_RMID`: `EINVAL`, `EPERM`; any other command: `EINVAL`. A
    /// buffer variant that does not fit the command is `EINVAL` (C: `EFAULT`) where the
    /// kernel would touch it. `IPC_SET` on a queue of another payload type is
    /// `TypeMismatch` (errno `EINVAL`).
    pub fn msgctl(&self, msqid: i32, cmd: i32, buf: MsgctlBuf<'_>) -> Result<i32, Error> {
        crate::trace::c_call!(Op::MsgCtl, msqid, self.pid(), || self.msgctl_call(msqid, cmd, buf))
    }

    fn msgctl_call(&self, msqid: i32, cmd: i32, buf: MsgctlBuf<'_>) -> Result<i32, Error> {
        const OP: Op = Op::MsgCtl;
        let einval = || Error::new(OP, ErrorKind::InvalidArgument);
        if msqid < 0 || cmd < 0 {
            return Err(einval());
        }
        match cmd {
            IPC_INFO | MSG_INFO => {
                let ns = self.namespace();
                let info = if cmd == IPC_INFO { ns.msg_ipc_info() } else { ns.msg_info() };
                let MsgctlBuf::Info(out) = buf else { return Err(einval()) };
                *out = info.into();
                Ok(info.max_index)
            }
            IPC_STAT => {
                let ds: MsqidDs = self.stat_id(IpcKind::MessageQueue, msqid, OP)?;
                let MsgctlBuf::Ds(out) = buf else { return Err(einval()) };
                *out = ds.into();
                Ok(0)
            }
            MSG_STAT | MSG_STAT_ANY => {
                let (id, ds) =
                    if cmd == MSG_STAT { self.msg_stat(msqid)? } else { self.msg_stat_any(msqid)? };
                let MsgctlBuf::Ds(out) = buf else { return Err(einval()) };
                *out = ds.into();
                Ok(id)
            }
            IPC_SET => {
                let MsgctlBuf::Ds(ds) = buf else { return Err(einval()) };
                let q = self.msg_queue_by_id::<Vec<u8>>(msqid).map_err(as_op(OP))?;
                let p = &ds.msg_perm;
                q.set(MsqidSet { uid: p.uid, gid: p.gid, mode: p.mode, qbytes: ds.msg_qbytes })?;
                Ok(0)
            }
            IPC_RMID => {
                self.namespace()
                    .remove(self.credentials(), IpcKind::MessageQueue, msqid)
                    .map_err(|k| Error::new(OP, k))?;
                Ok(0)
            }
            _ => Err(einval()),
        }
    }
}
