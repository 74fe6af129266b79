//! [`Select`]: which message a `msgrcv` takes — the kernel's `convert_mode` and `find_msg`.

#![deny(unsafe_code)]

use crate::error::ErrorKind;

/// `MSG_EXCEPT` (`<linux/msg.h>`): with `msgtyp > 0`, take the first message of any *other*
/// type.
pub const MSG_EXCEPT: i32 = 0o20000;
/// `MSG_COPY` (`<linux/msg.h>`): `msgtyp` is a position; copy the message, change nothing.
pub const MSG_COPY: i32 = 0o40000;
/// `MSG_NOERROR` (`<linux/msg.h>`): truncate a message larger than the buffer instead of
/// failing with `E2BIG`.
pub const MSG_NOERROR: i32 = 0o10000;
/// `IPC_NOWAIT` (`<linux/ipc.h>`): fail instead of waiting.
pub const IPC_NOWAIT: i32 = 0o4000;

/// Which message a receive takes: the `msgtyp` argument of `msgrcv(2)` (with
/// `MSG_EXCEPT`), as an enum.
///
/// | `Select` | C | message taken |
/// |---|---|---|
/// | [`Any`](Select::Any) | `msgtyp == 0` | the oldest message |
/// | [`Type(t)`](Select::Type) | `msgtyp == t > 0` | the oldest message of type `t` |
/// | [`Except(t)`](Select::Except) | `msgtyp == t > 0` with `MSG_EXCEPT` | the oldest message of any type but `t` |
/// | [`AtMost(t)`](Select::AtMost) | `msgtyp == -t < 0` | the oldest message of the *lowest* type `<= t` |
///
/// The typed variants take a positive type; `0` or a negative one makes the receive fail
/// with [`InvalidArgument`](ErrorKind::InvalidArgument) (`EINVAL`) before anything else is
/// checked. [`Select::from_raw`] maps the C arguments exactly as the kernel's
/// `convert_mode` does, `LONG_MIN` included.
///
/// # Examples
///
/// ```
/// use svipc::msg::{Select, MSG_EXCEPT};
///
/// assert_eq!(Select::from_raw(0, MSG_EXCEPT)?, Select::Any); // MSG_EXCEPT ignored
/// assert_eq!(Select::from_raw(5, 0)?, Select::Type(5));
/// assert_eq!(Select::from_raw(5, MSG_EXCEPT)?, Select::Except(5));
/// assert_eq!(Select::from_raw(-3, MSG_EXCEPT)?, Select::AtMost(3));
/// assert_eq!(Select::from_raw(i64::MIN, 0)?, Select::AtMost(i64::MAX));
/// # Ok::<(), svipc::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Select {
    /// `msgtyp == 0` (`SEARCH_ANY`): the oldest message in the queue.
    Any,
    /// `msgtyp > 0` (`SEARCH_EQUAL`): the oldest message of exactly this type.
    Type(i64),
    /// `msgtyp > 0` with `MSG_EXCEPT` (`SEARCH_NOTEQUAL`): the oldest message whose type is
    /// not this one.
    Except(i64),
    /// `msgtyp < 0` (`SEARCH_LESSEQUAL`, with `t = -msgtyp`): among the messages whose type
    /// is `<= t`, those of the lowest type; of them, the oldest.
    AtMost(i64),
}

impl Select {
    /// The kernel's `convert_mode(&msgtyp, msgflg)`: the selector a C `msgrcv(msgtyp,
    /// msgflg)` asks for.
    ///
    /// * `msgtyp == 0`: [`Any`](Select::Any), `MSG_EXCEPT` ignored;
    /// * `msgtyp < 0`: [`AtMost(-msgtyp)`](Select::AtMost), `MSG_EXCEPT` ignored, and
    ///   `LONG_MIN` (whose negation overflows) becomes `AtMost(i64::MAX)`;
    /// * `msgtyp > 0`: [`Except(msgtyp)`](Select::Except) with `MSG_EXCEPT`, else
    ///   [`Type(msgtyp)`](Select::Type).
    ///
    /// Other flag bits (`IPC_NOWAIT`, `MSG_NOERROR`) do not change the selector and are
    /// ignored here: they are [`try_recv`](crate::MessageQueue::try_recv) and
    /// [`Limit::no_error`](crate::msg::Limit::no_error).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] (`EINVAL`) for `MSG_COPY`: its `SEARCH_NUMBER` mode is
    /// not a selector here but [`peek`](crate::MessageQueue::peek), which takes the position.
    pub fn from_raw(msgtyp: i64, msgflg: i32) -> Result<Select, crate::Error> {
        if msgflg & MSG_COPY != 0 {
            return Err(crate::Error::new(crate::Op::MsgRcv, ErrorKind::InvalidArgument));
        }
        Ok(match msgtyp {
            0 => Select::Any,
            t if t < 0 => Select::AtMost(t.checked_neg().unwrap_or(i64::MAX)),
            t if msgflg & MSG_EXCEPT != 0 => Select::Except(t),
            t => Select::Type(t),
        })
    }

    /// The C arguments `(msgtyp, msgflg)` this selector stands for (`msgflg` is `0` or
    /// `MSG_EXCEPT`).
    pub const fn to_raw(self) -> (i64, i32) {
        match self {
            Select::Any => (0, 0),
            Select::Type(t) => (t, 0),
            Select::Except(t) => (t, MSG_EXCEPT),
            Select::AtMost(t) => (t.wrapping_neg(), 0),
        }
    }

    /// `EINVAL` for a typed variant whose type is not positive.
    pub(crate) fn validate(self) -> Result<(), ErrorKind> {
        match self {
            Select::Any => Ok(()),
            Select::Type(t) | Select::Except(t) | Select::AtMost(t) if t > 0 => Ok(()),
            _ => Err(ErrorKind::InvalidArgument),
        }
    }

    /// Whether a message of type `mtype` matches (`testmsg`).
    pub(crate) fn matches(self, mtype: i64) -> bool {
        match self {
            Select::Any => true,
            Select::Type(t) => mtype == t,
            Select::Except(t) => mtype != t,
            Select::AtMost(t) => mtype <= t,
        }
    }
}

impl Default for Select {
    /// [`Select::Any`].
    fn default() -> Select {
        Select::Any
    }
}
