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
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, unused_must_use)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![doc(test(no_crate_inject, attr(deny(warnings, rust_2018_idioms))))]

#[cfg(all(feature = "counters", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "counters")))]
pub mod counters;
mod error;
mod ipc;
pub mod msg;
mod namespace;
mod process;
pub mod sem;
pub mod shm;
mod sync;
mod sys;

pub use error::{Error, ErrorKind, Op, Result, SendError};
pub use ipc::{Capabilities, Credentials, Figures, IpcKind, IpcPerm, Key};
pub use msg::{MessageQueue, Payload, Select};
pub use namespace::{Ipcs, IpcsEntry, Limits, Namespace};
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
