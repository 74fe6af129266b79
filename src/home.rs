//! The handle's home: the one dispatch every public call of a handle makes first.
//!
//! A [`MessageQueue`](crate::MessageQueue), [`SemaphoreSet`](crate::SemaphoreSet) or
//! [`Segment`](crate::Segment) lives either in an in-process namespace or on the host
//! kernel (`svipc::host`, Linux). A host handle keeps a removed in-process placeholder in
//! its engine fields, so that the handle's layout and every in-process path stay as they
//! are, and each call turns to the host before it reaches the engine. [`on_host!`] is that
//! turn, written once for the three kinds.

/// Returns `$e` from the enclosing function when the handle `$q` lives on the host kernel
/// (its `host()` is `Some`), with `$h` bound to the host object.
///
/// With an `$op` the call's `tracing` event (the `tracing` feature) is emitted for the
/// host's result as the in-process call emits it, so a subscriber sees one event per call
/// on either home, and the host's call is made out of line and cold ([`cold`]), which keeps
/// the host's code out of the in-process path it sits in front of (with `try_send`'s and
/// `try_recv`'s host calls in place: 660 instructions per selective-receive pair, out of
/// line: 599). An expression that awaits cannot go into a closure: `async $h => $e` makes
/// it in place. Without the host (not Linux, or under loom) the macro is empty.
macro_rules! on_host {
    ($q:expr, $h:ident => $e:expr) => {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some($h) = $q.host() {
            return $e;
        }
    };
    ($q:expr, $op:expr, $h:ident => $e:expr) => {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some($h) = $q.host() {
            return $crate::home::cold(|| {
                let r = $e;
                $crate::trace::call!($op, $q.id(), $q.process().pid(), &r);
                r
            });
        }
    };
    ($q:expr, $op:expr, async $h:ident => $e:expr) => {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some($h) = $q.host() {
            let r = $e;
            $crate::trace::call!($op, $q.id(), $q.process().pid(), &r);
            return r;
        }
    };
}

/// Runs `f` out of line, marked cold: a handle's turn to the host kernel, so that the
/// in-process path around it stays small enough to inline into its caller.
#[cfg(all(target_os = "linux", not(loom)))]
#[cold]
#[inline(never)]
pub(crate) fn cold<R>(f: impl FnOnce() -> R) -> R {
    f()
}
pub(crate) use on_host;
