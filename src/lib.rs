// The crate's front page is its own file, with intra-doc links; README.md is the repository's
// and crates.io's page, with plain links that work there. Doctests run both.
#![doc = include_str!("docs/crate.md")]
#![cfg_attr(doctest, doc = include_str!("../README.md"))]
//!
//! ## Module map
//!
//! The kernel's split: one module per mechanism over one generic layer (`ipc/util.c`), with
//! the namespace and the process at the top composing them. `sync` is the std/loom shim that
//! every atomic, lock and cell in the crate comes from.
//!
//! ## The public surface
//!
//! One policy for the three mechanisms, tokio's (`tokio::sync::{mpsc, Semaphore}`): each
//! family is a public module — [`msg`], [`sem`], [`shm`] — and the crate root re-exports only
//! the types a program names first: the handles ([`MessageQueue`], [`SemaphoreSet`],
//! [`Segment`]) and what their main calls take ([`Payload`], [`Select`], [`SemOp`]); the
//! namespace layer ([`Namespace`], [`Process`], [`OpenOptions`], [`Key`], [`Credentials`],
//! [`Capabilities`], [`IpcPerm`], [`IpcKind`], [`Limits`], [`Ipcs`], [`IpcsEntry`],
//! [`Figures`]); and the errors ([`Error`], [`ErrorKind`], [`Result`], [`SendError`],
//! [`Op`]). Everything else — futures, permits, guards, the `*Ds`, `*Set` and `*Info`
//! structs, the builders' parameter types, flag constants — has one path, through its
//! module: `svipc::msg::RecvFuture`, `svipc::sem::SemidDs`, `svipc::shm::Attached`. One
//! path per item keeps the root short and a name's family visible where it is used.
//!
//! Names follow one scheme across the modules: a future is named after its call and ends in
//! `Future` ([`msg::SendFuture`], [`msg::RecvFuture`], [`sem::SemopFuture`],
//! [`sem::AcquireFuture`]), so the future [`sem::SemopFuture`] and the operation [`SemOp`]
//! no longer differ by one capital letter; a guard that gives something back on drop is
//! `Permit` in its module ([`msg::Permit`], [`sem::Permit`]). The integer types are C's,
//! the same everywhere (the table is in the [`sem`] docs).
//!
//! ## Executors
//!
//! The plain calls run on any executor: `send`, `recv`, `reserve`, `semop`, `acquire`, the
//! streams and the sinks are futures that wake through the `Waker` they are polled with and
//! nothing else (tokio, smol, async-std, `futures::executor` or a hand-written `block_on`).
//! Two families need more, and say so under `# Panics`:
//!
//! * **`*_timeout`** (`recv_timeout`, `send_timeout`, `semop_timeout`) use tokio's timer
//!   when they must wait one of its 1 ms ticks or more, so they panic outside a tokio
//!   runtime with the time driver, as `tokio::time::sleep` does. A zero timeout answers at
//!   the first poll (`EAGAIN`, as `semtimedop` with a zero `timespec`), and a timeout below
//!   the tick expires on time by yielding to the executor until its deadline, without the
//!   timer; both work on any executor.
//! * **`blocking_*`** (`blocking_send`, `blocking_recv`, `blocking_semop`) block the thread,
//!   as a C call sleeps. Where the thread drives a tokio runtime (a `current_thread`
//!   runtime, a multi-thread worker, inside `block_on`) that would hang the runtime or take
//!   a worker away, so they panic there, where tokio's own `blocking_recv` does and with its
//!   message; call the `async` form there, or block in `tokio::task::spawn_blocking` or a
//!   plain thread. Threads of other executors cannot be detected.
#![cfg_attr(docsrs, feature(doc_cfg))]
// `unsafe` lives in a few audited files (`sync/` cells, ring, mailbox and wait list,
// `shm/attach.rs`, `sys.rs`), each of which allows it for itself; everything else is denied it
// (CONTRIBUTING.md, "Unsafe code").
#![deny(unsafe_code, unsafe_op_in_unsafe_fn, unused_must_use)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![doc(test(no_crate_inject, attr(deny(warnings, rust_2018_idioms))))]

#[cfg(not(loom))]
pub mod c;
#[cfg(all(feature = "counters", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "counters")))]
pub mod counters;
mod error;
mod home;
#[cfg(all(target_os = "linux", not(loom)))]
pub mod host;
mod ipc;
mod lifetime;
pub mod msg;
mod namespace;
mod process;
mod runtime;
pub mod sem;
pub mod shm;
mod sync;
mod sys;
mod trace;

pub use error::{Error, ErrorKind, Op, Result, SendError};
pub use ipc::{Capabilities, Credentials, Figures, IpcKind, IpcPerm, Key, Limits};
pub use msg::{MessageQueue, Payload, Select};
pub use namespace::{Ipcs, IpcsEntry, Namespace};
pub use process::{OpenOptions, Process};
pub use sem::{SemOp, SemaphoreSet};
pub use shm::Segment;

/// Engines exposed to the loom model checks; exists only under `--cfg loom`.
#[cfg(loom)]
#[doc(hidden)]
#[allow(missing_docs, unreachable_pub)]
pub mod __loom {
    pub use crate::ipc::perm::loom_api as perm;
    pub use crate::namespace::loom_api as ids;
    pub use crate::sync::ring::loom_api as ring;
    pub use crate::sync::wait_list::{WaitList, WaiterId, WaiterState, WakeList};
}
