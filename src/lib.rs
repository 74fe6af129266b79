//! svipc: System V IPC in-process, for async Rust (skeleton; docs come with the README).
#![deny(unsafe_op_in_unsafe_fn, unused_must_use)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod sync;
