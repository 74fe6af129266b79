//! Auto traits of the shared-memory handles, guards and views (tokio's `async_send_sync.rs`
//! pattern): a handle and an attach guard can move to and be shared with other threads and
//! tasks; a view holds a lock guard, so it can be shared but not sent (never held across an
//! `.await` in a `Send` future).

use std::sync::atomic::{AtomicU32, AtomicU64};

use svipc::shm::{
    Attached, AttachedMut, ShmAtomic, ShmInfo, ShmIpcInfo, ShmParams, ShmRead, ShmWrite, ShmidDs,
};
use svipc::Segment;

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}
fn static_<T: 'static>() {}

/// `T: !Send`, proven by ambiguity: the second impl applies only when `T: Send`, and then
/// `check` cannot infer which impl is meant, so the program would not compile.
trait NotSend<A> {
    fn check() {}
}
impl<T: ?Sized> NotSend<()> for T {}
struct IsSend;
impl<T: ?Sized + Send> NotSend<IsSend> for T {}

#[test]
fn smoke() {
    send::<Segment>();
    sync::<Segment>();
}

#[test]
fn handles_and_guards_are_send_sync_unpin_static() {
    send::<Segment>();
    sync::<Segment>();
    unpin::<Segment>();
    static_::<Segment>();
    send::<Attached>();
    sync::<Attached>();
    unpin::<Attached>();
    static_::<Attached>();
    send::<AttachedMut>();
    sync::<AttachedMut>();
    unpin::<AttachedMut>();
    static_::<AttachedMut>();
    send::<ShmidDs>();
    sync::<ShmidDs>();
    send::<ShmInfo>();
    send::<ShmIpcInfo>();
    send::<ShmParams>();
}

#[test]
fn views_are_sync_but_not_send() {
    sync::<ShmRead<'static>>();
    sync::<ShmWrite<'static>>();
    unpin::<ShmRead<'static>>();
    <ShmRead<'static> as NotSend<_>>::check();
    <ShmWrite<'static> as NotSend<_>>::check();
}

#[test]
fn atomic_views_are_core_atomics() {
    fn shm_atomic<A: ShmAtomic>() {}
    shm_atomic::<AtomicU32>();
    shm_atomic::<AtomicU64>();
    send::<&AtomicU32>();
}

#[tokio::test]
async fn guards_cross_tasks() {
    let ns = svipc::Namespace::new();
    let me = ns.process(svipc::Credentials::new(1000, 1000));
    let seg = me.shm_segment(svipc::Key::PRIVATE).size(8).create(0o600).open().unwrap();
    let g = seg.attach().unwrap();
    let back = tokio::spawn(async move {
        g.write_at(0, &[5]).unwrap();
        tokio::task::yield_now().await;
        g
    })
    .await
    .unwrap();
    assert_eq!(back.read()[0], 5);
}
