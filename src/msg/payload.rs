//! [`Payload`]: what a message queue carries and how many bytes each message counts
//! (`msgsz`), with the impls for std's types and the [`SizeOf`] wrapper; [`Truncate`]:
//! `MSG_NOERROR`'s cut; [`Limit`]: the buffer size of a size-limited receive.
//!
//! The size is all the queue needs from a message: `MSGMAX`, `msg_qbytes` and
//! `msg_cbytes` are counted in it. Containers and wrappers count what they carry, never the
//! pointer, since a C program's `msgsnd` copies the bytes themselves.

#[cfg(doc)]
use super::MessageQueue;
use crate::error::ErrorKind;

/// What a message queue carries: a value that reports its size in bytes, the `msgsz` of a
/// `msgsnd`.
///
/// The size counts against `MSGMAX` (one message), `msg_qbytes` (the queue) and shows in
/// `msg_cbytes`, so the kernel's limits work on typed messages. It is read once, when the
/// message is sent.
///
/// # What implements it
///
/// | type | size |
/// |---|---|
/// | `Vec<u8>`, `Box<[u8]>`, `String`, `Box<str>`, `Arc<[u8]>`, `Arc<str>`, `[u8; N]` (and `bytes::Bytes` with the `bytes` feature) | the length in bytes |
/// | the integers, floats, `bool`, `char`, `()` | their `size_of` |
/// | [`SizeOf<T>`]: any `T: Send + 'static` wrapped | `size_of::<T>()` |
/// | `Box<T>`, `Arc<T>` (`T: Sync`) | `T`'s: the bytes a C program would copy, not the pointer |
/// | `Vec<T>`, `[T]` | the sum of the elements' |
/// | `Option<T>` | `T`'s for `Some`, 0 for `None` (a zero-length message, which `msgsnd` allows) |
/// | tuples up to six elements | the sum of the elements' |
///
/// # Your own type
///
/// A plain struct needs no impl: wrap it in [`SizeOf`], which counts `size_of::<T>()` —
/// what `msgsnd` of the struct would copy in C:
///
/// ```
/// use svipc::msg::SizeOf;
/// use svipc::Payload;
///
/// struct Order { id: u64, qty: u32 }
///
/// let order = SizeOf(Order { id: 7, qty: 3 });
/// assert_eq!((order.id, order.qty, order.size()), (7, 3, 16)); // derefs to the Order
/// ```
///
/// A type that owns heap data counts what it means to send; there the impl is one line
/// (`SizeOf` would count only the pointers):
///
/// ```
/// use svipc::Payload;
///
/// struct Note { to: u32, text: String }
/// impl Payload for Note { fn size(&self) -> usize { 4 + self.text.len() } }
///
/// let note = Note { to: 1, text: "hello".into() };
/// assert_eq!((note.to, note.size()), (1, 9));
/// ```
///
/// A derive was weighed and left out: it needs a proc-macro crate beside this one for what
/// `SizeOf` and a one-line impl already do.
pub trait Payload: Send + 'static {
    /// `Some(n)` when every value of the type has size `n` (a fixed-size value): a `Vec`
    /// or slice of them then counts `len * n` without visiting each element. Leave it
    /// `None` (the default) unless that holds; a wrong `Some` miscounts, though never
    /// unsafely. (A function, not an associated const, so `dyn Payload` stays possible.)
    fn fixed_size() -> Option<usize>
    where
        Self: Sized,
    {
        None
    }

    /// The message's size in bytes (`msgsz`).
    fn size(&self) -> usize;
}

/// A byte payload that a size-limited receive may cut short: `MSG_NOERROR`'s truncation.
/// See [`MessageQueue::recv_limited`].
pub trait Truncate: Payload {
    /// Shortens the payload to at most `max` bytes.
    fn truncate_to(&mut self, max: usize);
}

/// Any `T` as a message of `size_of::<T>()` bytes: what `msgsnd` of a C struct copies.
///
/// The wrapper is transparent: it derefs to `T`, converts from it, and
/// [`into_inner`](SizeOf::into_inner) unwraps it. Heap data `T` owns is not counted (a
/// `String` field counts its 24-byte header); such a type reports its own size with a
/// one-line [`Payload`] impl instead.
///
/// # Examples
///
/// ```
/// use svipc::msg::SizeOf;
/// use svipc::{Key, MessageQueue, Process, Select};
///
/// #[derive(Debug, PartialEq)]
/// struct Tick { seq: u64, at: f64 }
///
/// let me = Process::current();
/// let q: MessageQueue<SizeOf<Tick>> = me.msg_queue(Key::PRIVATE).create(0o600).open()?;
/// q.try_send(1, SizeOf(Tick { seq: 1, at: 0.5 }))?;
/// assert_eq!(q.stat()?.cbytes, 16); // size_of::<Tick>()
/// let (_, tick) = q.try_recv(Select::Any)?;
/// assert_eq!(tick.into_inner(), Tick { seq: 1, at: 0.5 });
/// q.remove()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
#[repr(transparent)]
pub struct SizeOf<T>(pub T);

impl<T> SizeOf<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for SizeOf<T> {
    fn from(value: T) -> SizeOf<T> {
        SizeOf(value)
    }
}

impl<T> std::ops::Deref for SizeOf<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for SizeOf<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Send + 'static> Payload for SizeOf<T> {
    fn fixed_size() -> Option<usize> {
        Some(std::mem::size_of::<T>())
    }

    fn size(&self) -> usize {
        std::mem::size_of::<T>()
    }
}

/// The sum of the elements' sizes; `len * n` for fixed-size elements.
impl<T: Payload> Payload for [T] {
    fn size(&self) -> usize {
        match T::fixed_size() {
            Some(n) => self.len() * n,
            None => self.iter().map(Payload::size).sum(),
        }
    }
}

impl<T: Payload> Payload for Vec<T> {
    fn size(&self) -> usize {
        self.as_slice().size()
    }
}

impl Truncate for Vec<u8> {
    fn truncate_to(&mut self, max: usize) {
        self.truncate(max);
    }
}

impl Payload for str {
    fn size(&self) -> usize {
        self.len()
    }
}

/// The boxed value's size, not the pointer's.
impl<T: Payload + ?Sized> Payload for Box<T> {
    fn size(&self) -> usize {
        (**self).size()
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

/// The shared value's size: each message counts the bytes it carries, as each `msgsnd`
/// copies them in C, however many messages share them here.
impl<T: Payload + Sync + ?Sized> Payload for crate::sync::UserArc<T> {
    fn size(&self) -> usize {
        (**self).size()
    }
}

/// `Some`: the value's size; `None`: 0.
impl<T: Payload> Payload for Option<T> {
    fn size(&self) -> usize {
        self.as_ref().map_or(0, Payload::size)
    }
}

macro_rules! tuple_payload {
    ($($name:ident)+) => {
        /// The sum of the elements' sizes.
        impl<$($name: Payload),+> Payload for ($($name,)+) {
            fn fixed_size() -> Option<usize> {
                Some(0 $(+ $name::fixed_size()?)+)
            }

            #[allow(non_snake_case)]
            fn size(&self) -> usize {
                let ($($name,)+) = self;
                0 $(+ $name.size())+
            }
        }
    };
}

tuple_payload!(A);
tuple_payload!(A B);
tuple_payload!(A B C);
tuple_payload!(A B C D);
tuple_payload!(A B C D E);
tuple_payload!(A B C D E F);

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
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl Payload for bytes::Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl Truncate for bytes::Bytes {
    fn truncate_to(&mut self, max: usize) {
        self.truncate(max);
    }
}

impl<const N: usize> Payload for [u8; N] {
    fn fixed_size() -> Option<usize> {
        Some(N)
    }

    fn size(&self) -> usize {
        N
    }
}

macro_rules! fixed_size_payload {
    ($($t:ty),*) => {$(
        /// Its `size_of`.
        impl Payload for $t {
            fn fixed_size() -> Option<usize> {
                Some(std::mem::size_of::<$t>())
            }

            fn size(&self) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}

fixed_size_payload!((), bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// ===== Limit =====

/// The buffer size of a size-limited receive ([`MessageQueue::recv_limited`]): the
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
