//! The operating-system calls svipc makes, in one audited place.
//!
//! svipc re-builds System V IPC in-process, so it needs the OS only to learn who the real
//! process is ([`Credentials::current`](crate::Credentials::current)). The house rules
//! (CONTRIBUTING.md, "Unsafe code") keep `unsafe` out of `ipc/`, `msg/` and `sem/`; the foreign calls that `libc` can only offer as
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

/// Seconds since the Unix epoch from `CLOCK_REALTIME_COARSE`: the clock of every `*_time`
/// field (through [`crate::ipc::now`]). The fast paths set `sem_otime`, `msg_stime` and
/// `msg_rtime` on every operation; this clock costs a few nanoseconds where
/// `SystemTime::now()` (`CLOCK_REALTIME`) costs about thirty, and lags it by at most one
/// scheduler tick, which a field counted in seconds can afford. Falls back to `SystemTime`
/// if the clock is unavailable, and elsewhere than Linux.
#[inline]
#[cfg(any(target_os = "linux", target_os = "android"))]
#[cfg_attr(loom, allow(dead_code))] // loom models run on a constant clock (`ipc::now`)
pub(crate) fn coarse_now() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
    // clock_gettime(2) writes nothing else.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if r == 0 {
        #[allow(clippy::unnecessary_cast)] // time_t is 32 bits on some targets
        let secs = ts.tv_sec as i64;
        secs
    } else {
        system_now()
    }
}

/// `SystemTime` seconds where `CLOCK_REALTIME_COARSE` does not exist.
#[inline]
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn coarse_now() -> i64 {
    system_now()
}

/// Seconds since the Unix epoch from `SystemTime` (`CLOCK_REALTIME`).
#[cfg_attr(loom, allow(dead_code))]
fn system_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
