//! Placeholder, replaced by the message-queue benchmarks.
fn main() {}
