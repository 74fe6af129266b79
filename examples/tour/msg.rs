//! The message-queue part of the tour: msgget, msgsnd, msgrcv with every selector,
//! MSG_NOERROR, MSG_COPY, msgctl, and what a waiting receiver sees when the queue goes.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use svipc::msg::Limit;
use svipc::msg::MsqidSet;
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Select};

/// Runs the part; prints what each C call would have printed.
pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== message queues ==");
    let ns = Namespace::new();
    let server = ns.process(Credentials::new(1000, 1000).with_pid(100));
    let client = ns.process(Credentials::new(1000, 1000).with_pid(200));

    // msgget(0x51, IPC_CREAT | IPC_EXCL | 0600)
    let q: MessageQueue<String> = server.msg_queue(Key::new(0x51)).create(0o600).exclusive().open()?;
    // the client finds it by key (msgget(0x51, 0))
    let c: MessageQueue<String> = client.msg_queue(Key::new(0x51)).open()?;
    println!("msgget -> msqid {}", q.id());

    // msgsnd with three types; msgrcv by type, by MSG_EXCEPT, by msgtyp < 0
    c.send(3, "low".into()).await?;
    c.send(1, "urgent".into()).await?;
    c.send(2, "normal".into()).await?;
    println!("msgrcv(msgtyp=-3)         -> {:?}", q.recv(Select::AtMost(3)).await?);
    println!("msgrcv(msgtyp=3)          -> {:?}", q.recv(Select::Type(3)).await?);
    println!("msgrcv(2, MSG_EXCEPT)     -> {:?}", q.try_recv(Select::Except(2)).unwrap_err());
    println!("msgrcv(0)                 -> {:?}", q.recv(Select::from_raw(0, 0)?).await?);

    // a waiting receiver is handed the message directly (it never enters the queue)
    let waiter = q.clone();
    let handed = tokio::spawn(async move { waiter.recv(Select::Type(9)).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    c.send(9, "for the waiter".into()).await?;
    println!("handoff                   -> {:?}", handed.await??);

    // MSG_NOERROR truncates at a char boundary; without it, E2BIG leaves the message queued
    c.send(4, "héllo wörld".into()).await?;
    let err = q.try_recv_limited(Select::Any, Limit::bytes(4)).unwrap_err();
    println!("msgrcv(bufsz=4)           -> {err}");
    println!("MSG_COPY index 0          -> {:?}", q.peek(0)?);
    println!(
        "msgrcv(bufsz=4, NOERROR)  -> {:?}",
        q.try_recv_limited(Select::Any, Limit::bytes(4).no_error())?
    );

    // msg_qbytes caps bytes and count: IPC_NOWAIT gets EAGAIN with the message back
    let ds = q.stat()?;
    q.set(MsqidSet { qbytes: 5, ..MsqidSet::from(&ds) })?;
    c.try_send(1, "12345".into())?;
    let full = c.try_send(1, "6".into()).unwrap_err();
    println!("msgsnd(IPC_NOWAIT), full  -> {} (message back: {:?})", full.error(), full.into_inner());
    q.recv(Select::Any).await?;
    q.set(MsqidSet { qbytes: 16384, ..MsqidSet::from(&q.stat()?) })?;

    // streams and sinks
    let mut sink = c.sink(7);
    sink.send("via Sink".into()).await?;
    let (t, m) = q.stream(Select::Type(7)).next().await.ok_or("stream ended")??;
    println!("Stream<Item = (mtype, msg)> -> ({t}, {m:?})");

    // msgctl(IPC_STAT)
    let ds = q.stat()?;
    println!(
        "IPC_STAT: qnum {} cbytes {} qbytes {} lspid {} lrpid {} stime>0 {}",
        ds.qnum,
        ds.cbytes,
        ds.qbytes,
        ds.lspid,
        ds.lrpid,
        ds.stime > 0
    );
    let info = ns.msg_info();
    println!("MSG_INFO: queues {} messages {} bytes {}", info.msgpool, info.msgmap, info.msgtql);

    // IPC_RMID: a waiting receiver gets EIDRM, later calls EINVAL
    let waiter = c.clone();
    let waiting = tokio::spawn(async move { waiter.recv(Select::Any).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    q.remove()?;
    let err = waiting.await?.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Removed);
    println!("waiting msgrcv after IPC_RMID -> {err}");
    println!("later msgsnd                  -> {}", c.try_send(1, "x".into()).unwrap_err().error());
    Ok(())
}
