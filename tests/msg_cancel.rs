//! Cancel safety (a dropped future is the kernel's EINTR): "poll once, then drop" for every future, stream, sink
//! and permit; a handed-off message put back in its place; a drop racing a send.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

use futures::{poll, SinkExt, StreamExt};
use svipc::msg::Limit;
use svipc::msg::MsqidSet;
use svipc::{Credentials, Key, MessageQueue, Namespace, Payload, Process, Select};

fn root(ns: &Namespace) -> Process {
    ns.process(Credentials::new(0, 0))
}

fn queue<T: Payload>(p: &Process, qbytes: u64) -> MessageQueue<T> {
    let q: MessageQueue<T> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
    q
}

async fn is_pending<F: Future + Unpin>(f: &mut F) -> bool {
    matches!(poll!(f), Poll::Pending)
}

/// A payload that counts its drops.
struct Counted(u64, Arc<AtomicUsize>);

impl Payload for Counted {
    fn size(&self) -> usize {
        8
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

#[tokio::test]
async fn smoke() {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 100);
    let mut f = Box::pin(q.recv(Select::Any));
    assert!(is_pending(&mut f).await);
    drop(f);
    q.try_send(1, 1).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 1, "nobody took it");
}

#[tokio::test]
async fn dropped_send_sends_nothing_and_drops_its_message() {
    let ns = Namespace::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let q: MessageQueue<Counted> = queue(&root(&ns), 8);
    q.try_send(1, Counted(0, drops.clone())).map_err(|_| ()).unwrap();
    let mut f = Box::pin(q.send(1, Counted(1, drops.clone())));
    assert!(is_pending(&mut f).await);
    let before = q.stat().unwrap();
    drop(f);
    assert_eq!(drops.load(SeqCst), 1, "the message went with the future");
    assert_eq!(q.stat().unwrap(), before);
    // the waiter is gone: a receive then a send proceed normally
    assert_eq!(q.try_recv(Select::Any).map_err(|_| ()).unwrap().1 .0, 0);
    q.try_send(1, Counted(2, drops.clone())).map_err(|_| ()).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 1);
}

#[tokio::test]
async fn dropped_woken_send_passes_nothing_wrong() {
    // a sender woken by a receive and dropped before it runs: the room stays free for others
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 8);
    q.try_send(1, 0).unwrap();
    let mut a = Box::pin(q.send(1, 1));
    let mut b = Box::pin(q.send(1, 2));
    assert!(is_pending(&mut a).await && is_pending(&mut b).await);
    q.try_recv(Select::Any).unwrap(); // wakes both (each fits)
    drop(a);
    b.await.unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 2));
}

#[tokio::test]
async fn dropped_recv_that_was_handed_a_message_puts_it_back_in_place() {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 100);
    q.try_send(2, 10).unwrap();
    let mut r = Box::pin(q.recv(Select::Type(1)));
    assert!(is_pending(&mut r).await);
    q.try_send(1, 20).unwrap(); // handed to r
    q.try_send(1, 30).unwrap(); // queued behind it
    q.try_send(2, 40).unwrap();
    assert_eq!(q.stat().unwrap().qnum, 3);
    drop(r); // never returned 20: it goes back, oldest first
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (4, 32));
    let order: Vec<_> = (0..4).map(|_| q.try_recv(Select::Any).unwrap().1).collect();
    assert_eq!(order, [10, 20, 30, 40]);
}

#[tokio::test]
async fn dropped_recv_passes_its_message_to_the_next_receiver() {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 100);
    let mut r1 = Box::pin(q.recv(Select::Any));
    let mut r2 = Box::pin(q.recv(Select::Type(1)));
    assert!(is_pending(&mut r1).await && is_pending(&mut r2).await);
    q.try_send(1, 7).unwrap(); // handed to r1
    drop(r1);
    assert_eq!(r2.await.unwrap(), (1, 7));
    assert_eq!(q.stat().unwrap().qnum, 0);
}

#[tokio::test]
async fn poll_once_then_drop_every_future() {
    let ns = Namespace::new();
    let q: MessageQueue<Vec<u8>> = queue(&root(&ns), 4);
    q.try_send(1, vec![0; 4]).unwrap(); // full

    let mut f = Box::pin(q.recv(Select::Type(9)));
    assert!(is_pending(&mut f).await);
    drop(f);
    let mut f = Box::pin(q.recv_limited(Select::Type(9), Limit::bytes(1)));
    assert!(is_pending(&mut f).await);
    drop(f);
    let mut f = Box::pin(q.send(1, vec![1]));
    assert!(is_pending(&mut f).await);
    drop(f);
    let mut f = Box::pin(q.reserve(1, 1));
    assert!(is_pending(&mut f).await);
    drop(f);
    let mut st = q.stream(Select::Type(9));
    assert!(matches!(poll!(st.next()), Poll::Pending));
    drop(st);
    let mut sink = q.sink(1);
    sink.start_send_unpin(vec![1]).unwrap();
    assert!(matches!(poll!(sink.flush()), Poll::Pending));
    drop(sink);
    // nothing changed and nothing is left waiting: the queue behaves as fresh
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (1, 4));
    q.try_recv(Select::Any).unwrap();
    let permit = q.try_reserve(1, 4).unwrap();
    drop(permit); // room back
    q.try_send(9, vec![0; 4]).unwrap();
    assert_eq!(q.try_recv(Select::Type(9)).unwrap().0, 9);
}

#[tokio::test]
async fn dropped_permit_wakes_a_waiting_sender() {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 8);
    let permit = q.try_reserve(1, 8).unwrap();
    let mut s = Box::pin(q.send(1, 5));
    assert!(is_pending(&mut s).await);
    drop(permit);
    s.await.unwrap();
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 5));
}

#[tokio::test]
async fn stream_dropped_between_items_loses_nothing() {
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 100);
    let mut st = q.stream(Select::Any);
    assert!(matches!(poll!(st.next()), Poll::Pending));
    q.try_send(1, 1).unwrap(); // handed to the stream's waiting receive
    drop(st);
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, 1));
}

fn race_drop_against_send(rt: tokio::runtime::Runtime) {
    const N: u64 = if cfg!(miri) { 20 } else { 2000 };
    let ns = Namespace::new();
    let q: MessageQueue<u64> = queue(&root(&ns), 16384);
    let mut got = rt.block_on(async {
        let mut got = Vec::new();
        for i in 0..N {
            let qr = q.clone();
            let r = tokio::spawn(async move { qr.recv(Select::Any).await });
            let qs = q.clone();
            let s = tokio::spawn(async move { qs.send(1, i).await });
            if i % 3 != 0 {
                tokio::task::yield_now().await;
            }
            r.abort();
            s.await.unwrap().unwrap();
            if let Ok(Ok((_, v))) = r.await {
                got.push(v);
            }
        }
        got
    });
    while let Ok((_, v)) = q.try_recv(Select::Any) {
        got.push(v);
    }
    got.sort_unstable();
    assert_eq!(got, (0..N).collect::<Vec<_>>(), "every message exactly once");
}

#[test]
fn drop_races_send_current_thread() {
    race_drop_against_send(tokio::runtime::Builder::new_current_thread().build().unwrap());
}

#[test]
fn drop_races_send_multi_thread() {
    race_drop_against_send(tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap());
}
