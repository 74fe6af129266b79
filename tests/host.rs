//! svipc on the host kernel (`svipc::host`), against real peers: a C program built here
//! with the system C compiler (`tests/host/peer.c`), a second OS process running this test
//! binary, and stress tests that count every message and semaphore unit under random
//! cancellation.
//!
//! `harness = false`: `main` first calls `unshare(CLONE_NEWIPC)` while the process has one
//! thread, so every thread and child process after it works in a fresh, empty IPC
//! namespace, and checks `/proc/sysvipc/{msg,sem,shm}` empty before and after. Without the
//! privilege for `unshare` (root or `CAP_SYS_ADMIN`), or without a C compiler for the C
//! tests, it says so loudly and skips.

#[cfg(all(target_os = "linux", not(loom)))]
#[path = "host/linux.rs"]
mod linux;

#[cfg(all(target_os = "linux", not(loom)))]
fn main() -> std::process::ExitCode {
    linux::main()
}

#[cfg(not(all(target_os = "linux", not(loom))))]
fn main() {
    eprintln!("tests/host.rs: svipc::host exists on Linux only (and not under --cfg loom); nothing to test");
}
