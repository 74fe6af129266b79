//! The operating-system calls svipc makes, in one audited place.
//!
//! svipc re-builds System V IPC in-process, so it needs the OS only to learn who the real
//! process is ([`Credentials::current`](crate::Credentials::current)). STYLE.md keeps
//! `unsafe` out of `ipc/`, `msg/` and `sem/`; the foreign calls that `libc` can only offer as
//! `unsafe fn`s therefore live here, each with its safety argument, and `ipc/` calls these
//! safe wrappers.

/// `(getpid(), geteuid(), getegid())`.
pub(crate) fn ids() -> (i32, u32, u32) {
    // SAFETY: getpid(2), geteuid(2) and getegid(2) take no arguments, touch no memory of
    // ours and "are always successful"; `libc` marks them unsafe only because every foreign
    // function is.
    unsafe { (libc::getpid(), libc::geteuid(), libc::getegid()) }
}

/// The supplementary groups, `getgroups(2)`.
pub(crate) fn groups() -> Vec<u32> {
    let mut buf: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let cap = libc::c_int::try_from(buf.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `buf` holds at least `cap` initialized, writable `gid_t` slots, and
        // getgroups(2) writes at most `cap` entries; when they do not fit it returns -1
        // (EINVAL) without writing.
        let n = unsafe { libc::getgroups(cap, buf.as_mut_ptr()) };
        if let Ok(n) = usize::try_from(n) {
            buf.truncate(n);
            return buf;
        }
        if buf.len() >= 1 << 16 {
            // NGROUPS_MAX is 65536 on Linux; a failure past it is not "too small a buffer".
            return Vec::new();
        }
        let len = buf.len() * 2;
        buf.resize(len, 0);
    }
}

/// Seconds since the epoch from `CLOCK_REALTIME_COARSE`: the resolution of a clock tick,
/// ample for the `*_time` fields (whole seconds), at a fraction of `SystemTime::now()`'s
/// cost — the message-queue engine reads it on every send and receive. Falls back to
/// `SystemTime` should the coarse clock be refused.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_now() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable `timespec`; clock_gettime(2) writes only it, and
    // CLOCK_REALTIME_COARSE exists on every Linux since 2.6.32 (an error leaves `ts` alone
    // and is handled below).
    let r = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if r == 0 {
        // time_t is i32 on some 32-bit targets.
        #[allow(clippy::unnecessary_cast)]
        let secs = ts.tv_sec as i64;
        secs
    } else {
        crate::ipc::now()
    }
}

/// `SystemTime` where there is no `CLOCK_REALTIME_COARSE`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now() -> i64 {
    crate::ipc::now()
}
