//! Loom model checks for svipc live in `tests/`; this crate has no library code.
