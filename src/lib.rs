#![doc = include_str!("../README.md")]
//!
//! ## Module map
//!
//! The kernel's split: one module per mechanism over one generic layer (`ipc/util.c`), with
//! the namespace and the process at the top composing them. `sync` is the std/loom shim that
//! every atomic, lock and cell in the crate comes from.
// `unsafe` lives in a few audited files (`sync/` cells, ring, mailbox and wait list,
// `shm/attach.rs`, `sys.rs`), each of which allows it for itself; everything else is denied it.
#![deny(unsafe_code, unsafe_op_in_unsafe_fn, unused_must_use)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![doc(test(no_crate_inject, attr(deny(warnings, rust_2018_idioms))))]

#[cfg(not(loom))]
pub mod c;
#[cfg(all(feature = "counters", not(loom)))]
pub mod counters;
pub mod error;
mod ipc;
pub mod msg;
mod namespace;
mod process;
mod sem;
mod shm;
mod sync;
mod sys;

pub use error::{Error, ErrorKind, Op, Result, SendError};
pub use ipc::{Capabilities, Credentials, Figures, IpcKind, IpcPerm, Key, Limits};
pub use msg::{MessageQueue, MsqidDs, MsqidSet, Payload, Select};
pub use namespace::{Ipcs, IpcsEntry, Namespace};
pub use process::{OpenOptions, Process};
pub use sem::{Acquire, SemInfo, SemOp, SemPermit, SemSetParams, SemaphoreSet, SemidDs, Semop};
pub use shm::{
    Attached, AttachedMut, Segment, ShmAtomic, ShmInfo, ShmIpcInfo, ShmParams, ShmRead, ShmWrite, ShmidDs,
};

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
