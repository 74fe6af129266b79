//! Auto traits of the message-queue types (tokio's `async_send_sync.rs` pattern): a
//! regression here fails to compile.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

use svipc::msg::MsqidDs;
use svipc::msg::{
    Limit, OwnedPermit, Permit, RecvFuture, RecvLimitedFuture, RecvStream, ReserveFuture, ReserveOwnedFuture,
    SendFuture, SendSink,
};
use svipc::{Credentials, Key, MessageQueue, Namespace, Select};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}
fn unpin<T: Unpin>() {}
fn is_send_sync<T: Send + Sync>(_: &T) {}
fn is_unpin<T: Unpin>(_: &T) {}

/// A payload that is `Send` but not `Sync`.
struct NotSync(#[allow(dead_code)] std::cell::Cell<u8>);
impl svipc::Payload for NotSync {
    fn size(&self) -> usize {
        1
    }
}

#[test]
fn smoke() {
    send_sync::<MessageQueue<Vec<u8>>>();
    send_sync::<MsqidDs>();
    send_sync::<Select>();
    send_sync::<Limit>();
}

/// The owned forms exist to move into a spawned task: `'static + Send` (and `Sync`), also
/// for a payload that is only `Send`.
#[test]
fn owned_permits_are_static_and_send() {
    fn static_send<T: Send + Sync + Unpin + 'static>() {}
    static_send::<OwnedPermit<Vec<u8>>>();
    static_send::<ReserveOwnedFuture<Vec<u8>>>();
    static_send::<OwnedPermit<NotSync>>();
    static_send::<ReserveOwnedFuture<NotSync>>();
    // `Permit::send`'s error borrows nothing: it converts to a boxed error (as `?` into
    // anyhow does) for any `Send + Sync + 'static` payload.
    fn boxed<T: Send + Sync + 'static>(e: svipc::SendError<T>) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(e)
    }
    let _ = boxed::<Vec<u8>>;
}

#[test]
fn handles_futures_and_permits() {
    // Send + Sync even for a payload that is only Send: the queue owns its messages behind
    // a lock, as a channel does.
    send_sync::<MessageQueue<NotSync>>();
    send_sync::<RecvFuture<'static, Vec<u8>>>();
    send_sync::<RecvLimitedFuture<'static, Vec<u8>>>();
    send_sync::<ReserveFuture<'static, Vec<u8>>>();
    send_sync::<Permit<'static, Vec<u8>>>();
    send_sync::<RecvStream<Vec<u8>>>();
    send_sync::<SendSink<Vec<u8>>>();
    send_sync::<SendFuture<'static, Vec<u8>>>();
    send::<SendFuture<'static, NotSync>>();
    send::<RecvFuture<'static, NotSync>>();
    unpin::<SendFuture<'static, NotSync>>();
    unpin::<RecvFuture<'static, NotSync>>();
    unpin::<RecvStream<NotSync>>();
    unpin::<SendSink<NotSync>>();
    unpin::<ReserveFuture<'static, NotSync>>();

    // and the values the methods return, checked on real instances
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q: MessageQueue<Vec<u8>> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    let f = q.recv(Select::Any);
    is_send_sync(&f);
    is_unpin(&f);
    let s = q.send(1, vec![]);
    is_send_sync(&s);
    is_unpin(&s);
    let p = q.try_reserve(1, 0).unwrap();
    is_send_sync(&p);
    drop(p);
    assert_eq!(q.stat().unwrap().qnum, 0);
}

#[test]
fn sizes() {
    use std::mem::size_of;
    let (h, r, s, p) = (
        size_of::<MessageQueue<u64>>(),
        size_of::<RecvFuture<'static, u64>>(),
        size_of::<SendFuture<'static, u64>>(),
        size_of::<Permit<'static, u64>>(),
    );
    println!("MessageQueue {h}, RecvFuture {r}, SendFuture {s}, Permit {p}");
    assert_eq!(
        h,
        size_of::<usize>(),
        "one Arc: the clones of an open share its queue, process, guard and memo"
    );
    // The `tracing` feature adds one word to each future (when it first waited).
    let wait = if cfg!(feature = "tracing") { 8 } else { 0 };
    assert!(r <= 64 + wait && s <= 80 + wait && p <= 40, "{r} {s} {p}");
}
