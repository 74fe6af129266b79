//! Linearizability of message queues, semaphore sets and shared memory (issue 6, item 5).
//! Run: `cargo test --test linearizability`.
// Runtimes, threads and timers: not for the loom build (loom-tests/ models the engine).
#![cfg(not(loom))]

mod lincheck;
