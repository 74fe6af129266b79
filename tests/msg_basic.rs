//! Message queues through the public API: open, send, receive, selection, stat fields,
//! MSG_COPY, size limits, MSG_INFO. Sources: msgop(2), msgctl(2), docs/kernel-rules.md §2.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

use svipc::msg::MsqidSet;
use svipc::msg::{Limit, MSG_COPY, MSG_EXCEPT};
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Process, Select};

fn root(ns: &Namespace) -> Process {
    ns.process(Credentials::new(0, 0).with_pid(100))
}

fn queue<T: svipc::Payload>(p: &Process) -> MessageQueue<T> {
    p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap()
}

#[test]
fn smoke() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns));
    q.try_send(1, b"hi".to_vec()).unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, b"hi".to_vec()));
}

#[test]
fn open_rules() {
    let ns = Namespace::new();
    let me = root(&ns);
    let err = me.msg_queue::<u64>(Key::new(5)).open().unwrap_err();
    assert_eq!((err.kind(), err.errno()), (ErrorKind::NotFound, libc::ENOENT));
    let q: MessageQueue<u64> = me.msg_queue(Key::new(5)).create(0o640).exclusive().open().unwrap();
    assert_eq!(q.id(), 0);
    let err = me.msg_queue::<u64>(Key::new(5)).create(0o600).exclusive().open().unwrap_err();
    assert_eq!(err.errno(), libc::EEXIST);
    // IPC_CREAT on an existing key: the same queue, mode ignored
    let again: MessageQueue<u64> = me.msg_queue(Key::new(5)).create(0o777).open().unwrap();
    assert_eq!(again.id(), q.id());
    assert_eq!(again.stat().unwrap().perm.mode, 0o640);
    // another payload type: TypeMismatch (EINVAL), by key and by id
    let err = me.msg_queue::<String>(Key::new(5)).open().unwrap_err();
    assert_eq!((err.kind(), err.errno()), (ErrorKind::TypeMismatch, libc::EINVAL));
    assert_eq!(me.msg_queue_by_id::<String>(q.id()).unwrap_err().kind(), ErrorKind::TypeMismatch);
    // open by id
    let by_id: MessageQueue<u64> = me.msg_queue_by_id(q.id()).unwrap();
    by_id.try_send(1, 5).unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 5));
    assert_eq!(me.msg_queue_by_id::<u64>(-1).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(me.msg_queue_by_id::<u64>(q.id() + 32768).unwrap_err().errno(), libc::EINVAL);
    // private queues are distinct
    let a: MessageQueue<u64> = queue(&me);
    let b: MessageQueue<u64> = queue(&me);
    assert_ne!(a.id(), b.id());
    // MSGMNI
    let mut limits = ns.limits();
    limits.msgmni = 3;
    ns.set_limits(limits).unwrap();
    assert_eq!(me.msg_queue::<u64>(Key::PRIVATE).create(0o600).open().unwrap_err().errno(), libc::ENOSPC);
}

#[test]
fn new_queue_fields() {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(1000, 50).with_pid(7));
    let before = now();
    // svipc refuses a mode above 0o777 (the kernel would keep its low nine bits).
    let e = me.msg_queue::<u64>(Key::new(9)).create(0o1640).open().unwrap_err();
    assert_eq!((e.kind(), e.detail()), (ErrorKind::InvalidArgument, Some("mode has bits outside 0o777")));
    let q: MessageQueue<u64> = me.msg_queue(Key::new(9)).create(0o640).open().unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.stime, ds.rtime, ds.cbytes, ds.qnum, ds.lspid, ds.lrpid), (0, 0, 0, 0, 0, 0));
    assert_eq!(ds.qbytes, 16384);
    // The `*_time` fields come from the coarse realtime clock, which lags `SystemTime` by up
    // to a scheduler tick: across a second's boundary the stamp may still read the second
    // before.
    assert!(ds.ctime >= before - 1 && ds.ctime <= now(), "ctime {} against {before}", ds.ctime);
    let p = ds.perm;
    assert_eq!(
        (p.key, p.uid, p.gid, p.cuid, p.cgid, p.mode, p.seq),
        (Key::new(9), 1000, 50, 1000, 50, 0o640, 0)
    );
    // a new queue takes MSGMNB as it is when created
    let mut limits = ns.limits();
    limits.msgmnb = 100;
    ns.set_limits(limits).unwrap();
    let r: MessageQueue<u64> = queue(&me);
    assert_eq!(r.stat().unwrap().qbytes, 100);
    assert_eq!(q.stat().unwrap().qbytes, 16384);
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn field_updates_on_send_recv_and_handoff() {
    let ns = Namespace::new();
    let owner = ns.process(Credentials::new(0, 0).with_pid(11));
    let q: MessageQueue<Vec<u8>> = queue(&owner);
    let sender = q.with_process(&ns.process(Credentials::new(0, 0).with_pid(22))).unwrap();
    let receiver = q.with_process(&ns.process(Credentials::new(0, 0).with_pid(33))).unwrap();
    sender.send(1, vec![0; 10]).await.unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.lspid, ds.lrpid, ds.qnum, ds.cbytes), (22, 0, 1, 10));
    assert!(ds.stime > 0 && ds.rtime == 0);
    receiver.recv(Select::Any).await.unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.lspid, ds.lrpid, ds.qnum, ds.cbytes), (22, 33, 0, 0));
    assert!(ds.rtime > 0);

    // handoff: the message never enters the queue; lrpid is the receiver's, set by the send
    let r2 = q.with_process(&ns.process(Credentials::new(0, 0).with_pid(44))).unwrap();
    let waiting = tokio::spawn(async move { r2.recv(Select::Type(5)).await });
    // current_thread: the spawned receiver runs (and registers) before we go on
    tokio::task::yield_now().await;
    let s2 = q.with_process(&ns.process(Credentials::new(0, 0).with_pid(55))).unwrap();
    s2.try_send(5, vec![1, 2]).unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.lspid, ds.lrpid, ds.qnum, ds.cbytes), (55, 44, 0, 0), "handed off at send time");
    assert_eq!(waiting.await.unwrap().unwrap(), (5, vec![1, 2]));
    let ds = q.stat().unwrap();
    assert_eq!((ds.lspid, ds.lrpid, ds.qnum, ds.cbytes), (55, 44, 0, 0));
}

#[test]
fn selection_order() {
    let ns = Namespace::new();
    let q: MessageQueue<u32> = queue(&root(&ns));
    for (t, v) in [(3, 1), (1, 2), (2, 3), (1, 4), (3, 5), (2, 6)] {
        q.try_send(t, v).unwrap();
    }
    assert_eq!(q.try_recv(Select::Type(2)).unwrap(), (2, 3));
    assert_eq!(q.try_recv(Select::Except(3)).unwrap(), (1, 2));
    // AtMost: lowest type <= 3 is 1 -> (1, 4)
    assert_eq!(q.try_recv(Select::AtMost(3)).unwrap(), (1, 4));
    assert_eq!(q.try_recv(Select::AtMost(1)).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::AtMost(2)).unwrap(), (2, 6));
    assert_eq!(q.try_recv(Select::Any).unwrap(), (3, 1));
    assert_eq!(q.try_recv(Select::Except(3)).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.try_recv(Select::Type(3)).unwrap(), (3, 5));
    assert_eq!(q.try_recv(Select::Any).unwrap_err().kind(), ErrorKind::NoMessage);
    // Except(t) with only type t queued, then another type arrives after
    q.try_send(7, 1).unwrap();
    q.try_send(8, 2).unwrap();
    q.try_send(7, 3).unwrap();
    assert_eq!(q.try_recv(Select::Except(7)).unwrap(), (8, 2));
    assert_eq!(q.try_recv(Select::Any).unwrap(), (7, 1));
    assert_eq!(q.try_recv(Select::Any).unwrap(), (7, 3));
    // i64::MAX types and AtMost(i64::MAX) (LONG_MIN)
    q.try_send(i64::MAX, 9).unwrap();
    assert_eq!(q.try_recv(Select::from_raw(i64::MIN, 0).unwrap()).unwrap(), (i64::MAX, 9));
}

#[test]
fn from_raw_is_convert_mode() {
    assert_eq!(Select::from_raw(0, 0).unwrap(), Select::Any);
    assert_eq!(Select::from_raw(0, MSG_EXCEPT).unwrap(), Select::Any);
    assert_eq!(Select::from_raw(4, 0).unwrap(), Select::Type(4));
    assert_eq!(Select::from_raw(4, MSG_EXCEPT).unwrap(), Select::Except(4));
    assert_eq!(Select::from_raw(-4, 0).unwrap(), Select::AtMost(4));
    assert_eq!(Select::from_raw(-4, MSG_EXCEPT).unwrap(), Select::AtMost(4));
    assert_eq!(Select::from_raw(i64::MIN, 0).unwrap(), Select::AtMost(i64::MAX));
    assert_eq!(Select::from_raw(1, MSG_COPY).unwrap_err().errno(), libc::EINVAL);
    for s in [Select::Any, Select::Type(3), Select::Except(3), Select::AtMost(3)] {
        let (t, f) = s.to_raw();
        assert_eq!(Select::from_raw(t, f).unwrap(), s);
    }
}

#[test]
fn peek_is_msg_copy() {
    let ns = Namespace::new();
    let me = root(&ns);
    let q: MessageQueue<String> = queue(&me);
    for (t, s) in [(2, "a"), (1, "b"), (2, "c"), (3, "d")] {
        q.try_send(t, s.to_string()).unwrap();
    }
    let before = q.stat().unwrap();
    let got: Vec<_> = (0..4).map(|i| q.peek(i).unwrap()).collect();
    assert_eq!(got, [(2, "a".into()), (1, "b".into()), (2, "c".into()), (3, "d".into())]);
    assert_eq!(q.peek(4).unwrap_err().errno(), libc::ENOMSG);
    assert_eq!(q.peek(usize::MAX).unwrap_err().errno(), libc::ENOMSG);
    let after = q.stat().unwrap();
    assert_eq!(before, after, "MSG_COPY changes nothing");
    assert_eq!(q.peek_limited(0, Limit::bytes(0)).unwrap_err().errno(), libc::E2BIG);
    assert_eq!(q.peek_limited(0, Limit::bytes(0).no_error()).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.peek_limited(0, Limit::bytes(1)).unwrap(), (2, "a".into()));
    // after a receive from the middle the walk skips it
    q.try_recv(Select::Type(1)).unwrap();
    assert_eq!(q.peek(1).unwrap(), (2, "c".into()));
}

#[test]
fn size_limited_receive() {
    let ns = Namespace::new();
    let me = root(&ns);
    let q: MessageQueue<Vec<u8>> = queue(&me);
    q.try_send(1, vec![7; 10]).unwrap();
    let err = q.try_recv_limited(Select::Any, Limit::bytes(9)).unwrap_err();
    assert_eq!(err.errno(), libc::E2BIG);
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes, ds.rtime, ds.lrpid), (1, 10, 0, 0), "E2BIG leaves it queued");
    assert_eq!(q.try_recv_limited(Select::Any, Limit::bytes(10)).unwrap(), (1, vec![7; 10]));
    q.try_send(1, vec![7; 10]).unwrap();
    assert_eq!(q.try_recv_limited(Select::Any, Limit::bytes(3).no_error()).unwrap(), (1, vec![7; 3]));
    assert_eq!(q.stat().unwrap().cbytes, 0);

    // String truncates at a char boundary, never longer than the limit
    let s: MessageQueue<String> = queue(&me);
    s.try_send(1, "héllo".to_string()).unwrap(); // h, é (2 bytes), l, l, o
    assert_eq!(s.try_recv_limited(Select::Any, Limit::bytes(2).no_error()).unwrap().1, "h");
    s.try_send(1, "héllo".to_string()).unwrap();
    assert_eq!(s.try_recv_limited(Select::Any, Limit::bytes(3).no_error()).unwrap().1, "hé");
    // Box<[u8]>
    let b: MessageQueue<Box<[u8]>> = queue(&me);
    b.try_send(1, vec![1, 2, 3].into_boxed_slice()).unwrap();
    assert_eq!(&*b.try_recv_limited(Select::Any, Limit::bytes(1).no_error()).unwrap().1, &[1]);
}

#[test]
fn msg_info() {
    let ns = Namespace::new();
    let me = root(&ns);
    let info = ns.msg_info();
    assert_eq!((info.msgpool, info.msgmap, info.msgtql, info.max_index), (0, 0, 0, 0));
    assert_eq!((info.msgmax, info.msgmnb, info.msgmni), (8192, 16384, 32000));
    let a: MessageQueue<Vec<u8>> = queue(&me);
    let b: MessageQueue<Vec<u8>> = queue(&me);
    let c: MessageQueue<Vec<u8>> = queue(&me);
    a.try_send(1, vec![0; 3]).unwrap();
    c.try_send(1, vec![0; 4]).unwrap();
    c.try_send(1, vec![0; 5]).unwrap();
    b.remove().unwrap();
    let info = ns.msg_info();
    assert_eq!((info.msgpool, info.msgmap, info.msgtql, info.max_index), (2, 3, 12, 2));
    let ipcs = ns.ipcs();
    assert!(ipcs.to_string().contains("Message Queues"));
}

#[test]
fn bad_input_is_a_typed_error() {
    let ns = Namespace::new();
    let me = root(&ns);
    let q: MessageQueue<Vec<u8>> = queue(&me);
    for mtype in [0, -1, i64::MIN] {
        let e = q.try_send(mtype, vec![1]).unwrap_err();
        assert_eq!(e.error().errno(), libc::EINVAL);
        assert_eq!(e.into_inner(), vec![1]);
    }
    assert_eq!(q.try_send(1, vec![0; 8193]).unwrap_err().error().errno(), libc::EINVAL);
    q.try_send(1, vec![0; 8192]).unwrap();
    for s in
        [Select::Type(0), Select::Type(-5), Select::Except(0), Select::AtMost(0), Select::AtMost(i64::MIN)]
    {
        assert_eq!(q.try_recv(s).unwrap_err().errno(), libc::EINVAL, "{s:?}");
    }
    assert_eq!(q.try_reserve(0, 1).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(q.try_reserve(1, usize::MAX).unwrap_err().errno(), libc::EINVAL);
    let big = MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: u64::MAX };
    q.set(big).unwrap(); // root has CAP_SYS_RESOURCE
    assert_eq!(q.stat().unwrap().cbytes, 8192);
    // any selector value on a queue with messages: never panics
    for t in [i64::MIN, -1, 0, 1, i64::MAX] {
        for f in [0, MSG_EXCEPT] {
            if let Ok(s) = Select::from_raw(t, f) {
                let _ = q.try_recv(s);
            }
        }
    }
}

#[tokio::test]
async fn stream_and_sink() {
    use futures::{SinkExt, StreamExt};
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns));
    let mut sink = q.sink(4);
    sink.send_all(&mut futures::stream::iter([1u64, 2, 3]).map(Ok)).await.unwrap();
    q.try_send(5, 99).unwrap();
    let got: Vec<_> = q.stream(Select::Type(4)).take(3).map(Result::unwrap).collect().await;
    assert_eq!(got, [(4, 1), (4, 2), (4, 3)]);
    assert_eq!(q.stat().unwrap().qnum, 1);
    // sink errors give the message back
    let mut bad = q.sink(0);
    let err = bad.send(7).await.unwrap_err();
    assert_eq!((err.error().errno(), err.into_inner()), (libc::EINVAL, 7));
    // the stream ends (None, no error item) when the queue is removed while it waits
    let mut st = q.stream(Select::Type(9));
    let q2 = q.clone();
    let rm = tokio::spawn(async move {
        tokio::task::yield_now().await;
        q2.remove().unwrap();
    });
    assert!(st.next().await.is_none());
    assert!(st.next().await.is_none());
    rm.await.unwrap();
}

#[test]
fn blocking_forms() {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns));
    let q2 = q.clone();
    let t = std::thread::spawn(move || q2.blocking_recv(Select::Type(2)));
    q.blocking_send(1, 10).unwrap();
    q.blocking_send(2, 20).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), (2, 20));
    assert_eq!(q.blocking_recv(Select::Any).unwrap(), (1, 10));
}

#[tokio::test]
async fn timed_forms() {
    use std::time::Duration;
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns));
    let err = q.recv_timeout(Select::Any, Duration::from_millis(10)).await.unwrap_err();
    assert!(err.is_timeout() && err.errno() == libc::EAGAIN);
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 8 }).unwrap();
    q.send_timeout(1, 1, Duration::from_millis(10)).await.unwrap();
    let err = q.send_timeout(1, 2, Duration::from_millis(10)).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(err.into_inner(), 2);
    assert_eq!(q.stat().unwrap().qnum, 1);
    assert_eq!(q.recv_timeout(Select::Any, Duration::from_millis(10)).await.unwrap(), (1, 1));
}

#[tokio::test]
async fn reserve_and_permit() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns));
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes: 10 }).unwrap();
    let p = q.reserve(1, 6).await.unwrap();
    assert_eq!((p.mtype(), p.size()), (1, 6));
    // held room counts against qbytes but not in cbytes/qnum
    assert_eq!(q.stat().unwrap().cbytes, 0);
    assert_eq!(q.try_send(1, vec![0; 5]).unwrap_err().error().errno(), libc::EAGAIN);
    q.try_send(1, vec![0; 4]).unwrap();
    // a message larger than the permit: EINVAL, the message back, the room given back
    let err = p.send(vec![0; 7]).unwrap_err();
    assert_eq!(err.error().errno(), libc::EINVAL);
    assert_eq!(err.into_inner().len(), 7);
    assert_eq!(q.stat().unwrap().cbytes, 4);
    let p = q.try_reserve(1, 6).unwrap(); // the 6 bytes are free again
    p.send(vec![1; 2]).unwrap(); // 4 of the 6 bytes go back
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (2, 6));
    q.try_send(1, vec![0; 4]).unwrap();
    // a dropped permit gives its room back
    let full = q.try_reserve(1, 1).unwrap_err();
    assert_eq!(full.errno(), libc::EAGAIN);
    q.try_recv(Select::Any).unwrap();
    let p = q.try_reserve(1, 4).unwrap();
    assert_eq!(q.try_send(1, vec![0]).unwrap_err().error().errno(), libc::EAGAIN);
    drop(p);
    q.try_send(1, vec![0; 4]).unwrap();
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_payload() {
    let ns = Namespace::new();
    let q: MessageQueue<bytes::Bytes> = queue(&root(&ns));
    q.try_send(1, bytes::Bytes::from_static(b"abcdef")).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 6);
    let (_, m) = q.try_recv_limited(Select::Any, Limit::bytes(2).no_error()).unwrap();
    assert_eq!(&m[..], b"ab");
}
