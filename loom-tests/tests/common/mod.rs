//! Setup shared by the project's loom files (`mod common;` in each). `user_protocol.rs`
//! keeps its own copy on purpose: it is the template users copy whole.
// Each test file is its own crate and uses only part of this module.
#![allow(dead_code)]

use svipc::msg::MsqidSet;
use svipc::{Credentials, Key, MessageQueue, Namespace};

/// A fresh namespace's private queue of u64s, `msg_qbytes` set to `qbytes`.
pub fn queue(qbytes: u64) -> MessageQueue<u64> {
    let ns = Namespace::new();
    let me = ns.process(Credentials::new(0, 0));
    let q: MessageQueue<u64> = me.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { uid: 0, gid: 0, mode: 0o600, qbytes }).unwrap();
    q
}

/// Runs a model at `LOOM_MAX_PREEMPTIONS`, or 2 when it is unset (every model here
/// finishes in seconds at 2).
pub fn bounded(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// [`bounded`] with at least `min` preemptions, for a model whose race needs more than two
/// switches to show (and that still finishes in seconds at `min`).
pub fn bounded_at_least(min: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(b.preemption_bound.map_or(min, |n| n.max(min)));
    b.check(f);
}
