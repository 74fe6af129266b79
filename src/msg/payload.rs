//! What a message queue carries: [`Payload`] (a message's `msgsz`), [`Truncate`]
//! (`MSG_NOERROR`'s cut) with their impls for the standard types, and [`Limit`], the
//! buffer size of a size-limited receive.

#![deny(unsafe_code)]

use crate::error::ErrorKind;

// ===== Payload =====

/// What a message queue carries: a value that reports its size in bytes, the `msgsz` of a
/// `msgsnd`.
///
/// The size counts against `MSGMAX` (one message), `msg_qbytes` (the queue) and shows in
/// `msg_cbytes`, so the kernel's limits work on typed messages. There is no blanket impl:
/// byte containers report their length, fixed-size values their `size_of`. A plain struct
/// gets its impl in one line:
///
/// ```
/// use svipc::Payload;
///
/// struct Order { id: u64, qty: u32 }
/// impl Payload for Order { fn size(&self) -> usize { std::mem::size_of::<Self>() } }
///
/// let order = Order { id: 7, qty: 3 };
/// assert_eq!((order.id, order.qty, order.size()), (7, 3, 16));
/// ```
///
/// The size is read once, when the message is sent.
pub trait Payload: Send + 'static {
    /// The message's size in bytes (`msgsz`).
    fn size(&self) -> usize;
}

/// A byte payload that a size-limited receive may cut short: `MSG_NOERROR`'s truncation.
/// See [`MessageQueue::recv_limited`](super::MessageQueue::recv_limited).
pub trait Truncate: Payload {
    /// Shortens the payload to at most `max` bytes.
    fn truncate_to(&mut self, max: usize);
}

impl Payload for Vec<u8> {
    fn size(&self) -> usize {
        self.len()
    }
}

impl Truncate for Vec<u8> {
    fn truncate_to(&mut self, max: usize) {
        self.truncate(max);
    }
}

impl Payload for Box<[u8]> {
    fn size(&self) -> usize {
        self.len()
    }
}

impl Truncate for Box<[u8]> {
    fn truncate_to(&mut self, max: usize) {
        if self.len() > max {
            let mut v = std::mem::take(self).into_vec();
            v.truncate(max);
            *self = v.into_boxed_slice();
        }
    }
}

impl Payload for String {
    fn size(&self) -> usize {
        self.len()
    }
}

/// A `String` is cut at the last char boundary at or below `max` bytes, so it stays valid
/// UTF-8 and may come out shorter than `max` (never longer).
impl Truncate for String {
    fn truncate_to(&mut self, max: usize) {
        if self.len() > max {
            let mut end = max;
            while !self.is_char_boundary(end) {
                end -= 1;
            }
            self.truncate(end);
        }
    }
}

#[cfg(feature = "bytes")]
impl Payload for bytes::Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

#[cfg(feature = "bytes")]
impl Truncate for bytes::Bytes {
    fn truncate_to(&mut self, max: usize) {
        self.truncate(max);
    }
}

impl<const N: usize> Payload for [u8; N] {
    fn size(&self) -> usize {
        N
    }
}

macro_rules! fixed_size_payload {
    ($($t:ty),*) => {$(
        /// Its `size_of`.
        impl Payload for $t {
            fn size(&self) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}

fixed_size_payload!((), bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// ===== Limit =====

/// The buffer size of a size-limited receive ([`MessageQueue::recv_limited`](super::MessageQueue::recv_limited)): the
/// `msgsz` argument of `msgrcv`, and whether `MSG_NOERROR` is set.
///
/// Without `no_error`, a message larger than the limit fails the receive with `E2BIG` and
/// stays queued (a waiting receiver handed such a message by a send gets `E2BIG` and the
/// send goes on to the next receiver). With it, the message is taken and truncated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Limit {
    pub(super) max: usize,
    pub(super) no_error: bool,
}

impl Limit {
    /// A buffer of `max` bytes (`msgsz`).
    pub const fn bytes(max: usize) -> Limit {
        Limit { max, no_error: false }
    }

    /// `MSG_NOERROR`: truncate a larger message to the limit instead of failing.
    pub const fn no_error(self) -> Limit {
        Limit { no_error: true, ..self }
    }

    /// The limit in bytes.
    pub const fn max(self) -> usize {
        self.max
    }

    /// Whether `MSG_NOERROR` is set.
    pub const fn is_no_error(self) -> bool {
        self.no_error
    }

    /// `do_msgrcv`'s `(long) bufsz < 0`: a limit above `isize::MAX` is `EINVAL`, with or
    /// without `MSG_NOERROR`, before anything is looked at.
    pub(super) fn check(self) -> Result<(), ErrorKind> {
        if self.max > isize::MAX as usize {
            Err(ErrorKind::InvalidArgument)
        } else {
            Ok(())
        }
    }

    /// The engine's `r_maxsize`: `usize::MAX` under `MSG_NOERROR`, as the kernel's
    /// `INT_MAX`.
    pub(super) fn maxsize(self) -> usize {
        if self.no_error {
            usize::MAX
        } else {
            self.max
        }
    }
}
