//! Request/reply over one message queue, the classic System V server: `cargo run --example
//! request_reply`.
//!
//! Every request is sent with `mtype` 1 and carries its sender's pid; the server receives
//! `msgtyp = 1` and answers with `mtype = pid`, and each client receives only `msgtyp = its
//! own pid`. One queue serves any number of clients, and no client ever sees another's
//! reply. In C:
//!
//! ```c
//! msgsnd(q, &(struct req){ .mtype = 1, .pid = getpid(), ... }, sizeof req - sizeof(long), 0);
//! msgrcv(q, &reply, sizeof reply - sizeof(long), getpid(), 0);
//! ```
//!
//! Shown here: a typed payload with its own `Payload` impl (its size counts against
//! `msg_qbytes` as the C struct's would), `Select::Type` for routing, a reply awaited with a
//! deadline, and a clean stop: a shutdown request the server answers before it returns,
//! then `IPC_RMID`.

use std::time::Duration;

use svipc::{Credentials, Key, MessageQueue, Namespace, Payload, Select};

/// The server's `mtype`. Clients' pids start above it, so the two never collide.
const SERVER: i64 = 1;

/// What travels on the queue: a request from `pid`, or the answer to one.
#[derive(Debug, PartialEq)]
enum Msg {
    /// Add two numbers, answer to `pid`.
    Add { pid: i32, a: i64, b: i64 },
    /// Stop serving, answer to `pid` first.
    Shutdown { pid: i32 },
    /// The answer: the sum, or the number of requests served on shutdown.
    Reply(i64),
}

impl Payload for Msg {
    /// The bytes the C struct would take after its `long mtype`.
    fn size(&self) -> usize {
        match self {
            Msg::Add { .. } => 4 + 8 + 8,
            Msg::Shutdown { .. } => 4,
            Msg::Reply(_) => 8,
        }
    }
}

/// Serves until a shutdown request; returns how many sums it computed.
async fn serve(q: MessageQueue<Msg>) -> Result<i64, svipc::Error> {
    let mut served = 0;
    loop {
        // msgrcv(q, &req, size, 1, 0): requests only, never a reply meant for a client.
        let (_, req) = q.recv(Select::Type(SERVER)).await?;
        match req {
            Msg::Add { pid, a, b } => {
                served += 1;
                // msgsnd(q, &reply with mtype = pid, ...)
                q.send(i64::from(pid), Msg::Reply(a + b)).await.map_err(|e| e.error())?;
            }
            Msg::Shutdown { pid } => {
                q.send(i64::from(pid), Msg::Reply(served)).await.map_err(|e| e.error())?;
                return Ok(served);
            }
            Msg::Reply(_) => unreachable!("replies are never sent with the server's mtype"),
        }
    }
}

/// One client: `n` requests, each answered before the next is sent.
async fn client(q: MessageQueue<Msg>, n: i64) -> Result<i64, svipc::Error> {
    let pid = q.process().pid();
    let mut total = 0;
    for i in 0..n {
        q.send(SERVER, Msg::Add { pid, a: i64::from(pid), b: i }).await.map_err(|e| e.error())?;
        // msgrcv(q, &reply, size, getpid(), 0), with a deadline System V itself lacks (what
        // `recv_timeout` does; a receive dropped at its deadline loses no message).
        let reply = tokio::time::timeout(Duration::from_secs(5), q.recv(Select::Type(i64::from(pid))));
        match reply.await.expect("the server answers within 5 s")? {
            (mtype, Msg::Reply(sum)) => {
                assert_eq!((mtype, sum), (i64::from(pid), i64::from(pid) + i));
                total += sum;
            }
            (_, other) => panic!("client {pid} got {other:?}"),
        }
    }
    Ok(total)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ns = Namespace::new();
    let key = Key::new(0x5e4e); // a well-known key: clients find the queue by it (msgget)

    // The server creates the queue; each client is an actor of its own, with its own pid.
    let server = ns.process(Credentials::new(1000, 1000).with_pid(100));
    // 0660: the owner and its group (the clients) may send and receive; others nothing.
    let q: MessageQueue<Msg> = server.msg_queue(key).create(0o660).exclusive().open()?;
    let server_task = tokio::spawn(serve(q.clone()));

    // Someone outside the group asks for read and write: EACCES, as msgget answers.
    let outsider = ns.process(Credentials::new(3000, 3000).with_pid(150));
    let err = outsider.msg_queue::<Msg>(key).mode(0o600).open().unwrap_err();
    assert!(err.is_permission_denied());
    assert_eq!(err.errno(), 13); // EACCES

    const CLIENTS: i32 = 4;
    const REQUESTS: i64 = 25;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        // Another user of the server's group; msgget(key, 0600) asks for read and write.
        let me = ns.process(Credentials::new(2000 + c as u32, 1000).with_pid(200 + c));
        let theirs: MessageQueue<Msg> = me.msg_queue(key).mode(0o600).open()?;
        clients.push(tokio::spawn(client(theirs, REQUESTS)));
    }
    let mut sums = Vec::new();
    for c in clients {
        sums.push(c.await??);
    }
    // Client 200 + c sent a = 200 + c, b = 0..25: 25 * (200 + c) + 300.
    assert_eq!(sums, (0..CLIENTS).map(|c| 25 * i64::from(200 + c) + 300).collect::<Vec<_>>());

    // A clean stop: the shutdown request is answered with the count, then the queue goes.
    let admin = ns.process(Credentials::new(1000, 1000).with_pid(300));
    let mine: MessageQueue<Msg> = admin.msg_queue(key).mode(0o600).open()?;
    mine.send(SERVER, Msg::Shutdown { pid: 300 }).await.map_err(|e| e.error())?;
    assert_eq!(mine.recv(Select::Type(300)).await?, (300, Msg::Reply(i64::from(CLIENTS) * REQUESTS)));
    assert_eq!(server_task.await??, i64::from(CLIENTS) * REQUESTS);

    let ds = q.stat()?; // msgctl(IPC_STAT): nothing left behind
    assert_eq!((ds.qnum, ds.cbytes), (0, 0));
    println!("{CLIENTS} clients, {REQUESTS} requests each, every reply routed by pid; sums {sums:?}");
    q.remove()?; // msgctl(IPC_RMID)
    Ok(())
}
