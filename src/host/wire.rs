//! Typed messages on the wire: [`Wire`], how a value becomes the text of a C
//! `struct msgbuf` and back.
//!
//! The kernel carries bytes: a message is `struct { long mtype; char mtext[n]; }`, and
//! `msgsnd`'s `msgsz` is `n`. svipc puts the type in `mtype` (the `mtype` argument of
//! `send`) and the value's encoding in `mtext`:
//!
//! | Rust type | `mtext` | C declaration that reads it |
//! |---|---|---|
//! | `Vec<u8>`, `Box<[u8]>`, `bytes::Bytes` (feature `bytes`) | the bytes | `char mtext[MAX];` and `msgrcv`'s return value |
//! | `String` | the UTF-8 bytes, no terminating NUL | as above; a receive checks UTF-8 |
//! | `[u8; N]` | the `N` bytes | `char mtext[N];` |
//! | the integers and floats | `size_of` bytes, native byte order | `int32_t v;` etc. |
//! | [`SizeOf<T>`] with `T: bytemuck::Pod` | the bytes of the `#[repr(C)]` struct, padding-free | the same struct in C |
//! | `Serde<T>` (feature `serde`) | postcard's encoding | a postcard decoder, not a plain struct |
//!
//! A plain struct is the interchange type for C. `bytemuck::Pod` guarantees what a C peer
//! needs: `#[repr(C)]` (or `transparent`), no padding, every bit pattern valid. For
//!
//! ```
//! # use bytemuck::{Pod, Zeroable};
//! #[derive(Clone, Copy, Pod, Zeroable)]
//! #[repr(C)]
//! struct Order { id: u64, qty: u32, price_cents: i32 }
//! ```
//!
//! the C side declares
//!
//! ```c
//! struct order { uint64_t id; uint32_t qty; int32_t price_cents; };
//! struct order_msg { long mtype; struct order body; };
//! msgrcv(id, &m, sizeof m.body, 7, 0);   /* Rust: q.send(7, SizeOf(order)) */
//! ```
//!
//! The integers are in the machine's byte order: both ends run on the same host.
//!
//! A receive of a fixed-size type asks the kernel for exactly that many bytes (`msgsz`), so a
//! larger message fails with `E2BIG` and stays queued, as in C; a shorter one is received and
//! fails to decode. A message that fails to decode is never lost: the error
//! ([`DecodeError`]) carries its `mtype` and its bytes.
//!
//! `SizeOf<T>` is the in-process crate's wrapper for "a plain struct" (its size counts as
//! `msgsz` there); on the host it needs `T: Pod` because its bytes cross to another process.
//! One concept on both homes, rather than a second `Pod<T>` wrapper: a queue of
//! `SizeOf<Order>` is written once.

use std::error::Error as StdError;
use std::fmt;

pub use crate::msg::SizeOf;

/// The reason a decode failed: any error, boxed.
pub type DecodeReason = Box<dyn StdError + Send + Sync + 'static>;

/// How a message payload is written into a message's text (`mtext`) and read back.
///
/// See the [module docs](self) for the implementations and the C layout of each.
///
/// # Your own type
///
/// A plain `#[repr(C)]` struct derives `bytemuck::Pod` and is sent as
/// [`SizeOf<T>`](crate::msg::SizeOf); a type with its own format implements the two
/// methods:
///
/// ```
/// use svipc::host::{DecodeReason, Wire};
///
/// struct Line(String);
///
/// impl Wire for Line {
///     fn encode(&self, out: &mut Vec<u8>) {
///         out.extend_from_slice(self.0.as_bytes());
///         out.push(b'\n');
///     }
///     fn decode(text: &[u8]) -> Result<Line, DecodeReason> {
///         let body = text.strip_suffix(b"\n").ok_or("no newline")?;
///         Ok(Line(String::from_utf8(body.to_vec())?))
///     }
/// }
///
/// let mut buf = Vec::new();
/// Line("hi".into()).encode(&mut buf);
/// assert_eq!(buf, b"hi\n");
/// assert_eq!(Line::decode(b"hi\n").unwrap().0, "hi");
/// assert!(Line::decode(b"hi").is_err());
/// ```
pub trait Wire: Sized + Send + 'static {
    /// `Some(n)` when every value encodes to exactly `n` bytes: a receive then asks the
    /// kernel for `n` bytes (`msgsz`) instead of `MSGMAX`.
    const FIXED_LEN: Option<usize> = None;

    /// Appends the value's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The value a message's text encodes.
    ///
    /// # Errors
    ///
    /// Any reason the text is not a value of this type; the receive then fails with a
    /// [`DecodeError`] carrying the message.
    fn decode(text: &[u8]) -> Result<Self, DecodeReason>;
}

/// A received message whose text did not decode: its type, its bytes and the reason. The
/// message left the queue (the kernel cannot take it back in place); nothing is lost, as it
/// is all here.
#[derive(Debug)]
pub struct DecodeError {
    mtype: i64,
    bytes: Vec<u8>,
    reason: DecodeReason,
}

impl DecodeError {
    pub(crate) fn new(mtype: i64, bytes: Vec<u8>, reason: DecodeReason) -> DecodeError {
        DecodeError { mtype, bytes, reason }
    }

    /// The message's `mtype`.
    pub fn mtype(&self) -> i64 {
        self.mtype
    }

    /// The message's text, as received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The type and the text, as received.
    pub fn into_message(self) -> (i64, Vec<u8>) {
        (self.mtype, self.bytes)
    }

    /// Why it did not decode.
    pub fn reason(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.reason
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "msgrcv: a message of type {} ({} bytes) did not decode: {}",
            self.mtype,
            self.bytes.len(),
            self.reason
        )
    }
}

impl StdError for DecodeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.reason)
    }
}

/// A text of the wrong length for a fixed-size type.
#[derive(Debug)]
struct WrongLength {
    expected: usize,
    got: usize,
}

impl fmt::Display for WrongLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} bytes, got {}", self.expected, self.got)
    }
}

impl StdError for WrongLength {}

fn exact(text: &[u8], expected: usize) -> Result<(), DecodeReason> {
    if text.len() == expected {
        Ok(())
    } else {
        Err(Box::new(WrongLength { expected, got: text.len() }))
    }
}

impl Wire for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn decode(text: &[u8]) -> Result<Vec<u8>, DecodeReason> {
        Ok(text.to_vec())
    }
}

impl Wire for Box<[u8]> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn decode(text: &[u8]) -> Result<Box<[u8]>, DecodeReason> {
        Ok(text.into())
    }
}

/// UTF-8 without a terminating NUL; a receive checks the encoding.
impl Wire for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn decode(text: &[u8]) -> Result<String, DecodeReason> {
        Ok(std::str::from_utf8(text)?.to_owned())
    }
}

impl<const N: usize> Wire for [u8; N] {
    const FIXED_LEN: Option<usize> = Some(N);

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn decode(text: &[u8]) -> Result<[u8; N], DecodeReason> {
        exact(text, N)?;
        Ok(text.try_into().expect("length checked"))
    }
}

#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl Wire for bytes::Bytes {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn decode(text: &[u8]) -> Result<bytes::Bytes, DecodeReason> {
        Ok(bytes::Bytes::copy_from_slice(text))
    }
}

/// The struct's bytes (`#[repr(C)]`, no padding: `bytemuck::Pod`), native byte order.
impl<T: bytemuck::Pod + Send> Wire for SizeOf<T> {
    const FIXED_LEN: Option<usize> = Some(std::mem::size_of::<T>());

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(bytemuck::bytes_of(&self.0));
    }

    fn decode(text: &[u8]) -> Result<SizeOf<T>, DecodeReason> {
        exact(text, std::mem::size_of::<T>())?;
        Ok(SizeOf(bytemuck::pod_read_unaligned(text)))
    }
}

macro_rules! wire_number {
    ($($t:ty)*) => {$(
        /// `size_of` bytes in native byte order.
        impl Wire for $t {
            const FIXED_LEN: Option<usize> = Some(std::mem::size_of::<$t>());

            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_ne_bytes());
            }

            fn decode(text: &[u8]) -> Result<$t, DecodeReason> {
                exact(text, std::mem::size_of::<$t>())?;
                Ok(<$t>::from_ne_bytes(text.try_into().expect("length checked")))
            }
        }
    )*};
}

wire_number!(u8 u16 u32 u64 i8 i16 i32 i64 f32 f64);

/// Any serde type as a host message, in postcard's compact format (feature `serde`).
///
/// For Rust-to-Rust traffic over the host kernel; a C peer would need a postcard decoder,
/// so messages for C are plain structs ([`SizeOf<T>`]) instead.
///
/// # Panics
///
/// `encode` panics where postcard refuses the value: a sequence or map serialized without
/// a length (a hand-written `serialize_seq(None)`); serde's derives and the std types
/// always give one.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use svipc::host::{Serde, Wire};
///
/// let mut text = Vec::new();
/// Serde((7u32, String::from("hi"))).encode(&mut text);
/// assert_eq!(text, [7, 2, b'h', b'i']); // varint 7, length 2, the bytes
/// let Serde(back) = Serde::<(u32, String)>::decode(&text).unwrap();
/// assert_eq!(back, (7, "hi".to_string()));
/// # }
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Serde<T>(pub T);

/// Its size is the length of its postcard encoding: what `msgsnd` of it copies.
#[cfg(feature = "serde")]
impl<T> crate::Payload for Serde<T>
where
    T: serde::Serialize + Send + 'static,
{
    fn size(&self) -> usize {
        postcard::to_extend(&self.0, Counter(0)).map_or(0, |c| c.0)
    }
}

/// Counts the bytes an encoding appends.
#[cfg(feature = "serde")]
struct Counter(usize);

#[cfg(feature = "serde")]
impl Extend<u8> for Counter {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        self.0 += iter.into_iter().count();
    }
}

#[cfg(feature = "serde")]
impl<T> Wire for Serde<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    fn encode(&self, out: &mut Vec<u8>) {
        let buf = std::mem::take(out);
        *out = postcard::to_extend(&self.0, buf).expect("postcard encodes into a Vec without failing");
    }

    fn decode(text: &[u8]) -> Result<Serde<T>, DecodeReason> {
        Ok(Serde(postcard::from_bytes(text)?))
    }
}
