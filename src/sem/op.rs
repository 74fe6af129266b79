//! `SemOp`: one `struct sembuf` of a `semop` call.

/// `IPC_NOWAIT` as a `sem_flg` bit (`0o4000`).
pub(crate) const IPC_NOWAIT: i16 = 0o4000;
/// `SEM_UNDO` as a `sem_flg` bit (`0x1000`).
pub(crate) const SEM_UNDO: i16 = 0x1000;

/// One operation of a [`semop`](crate::SemaphoreSet::semop) call: the C `struct sembuf`
/// `{ sem_num, sem_op, sem_flg }`.
///
/// * `op > 0` adds `op` to semaphore `num` (never blocks; `ERANGE` above `SEMVMX`);
/// * `op < 0` subtracts `|op|`, waiting until the value is at least `|op|`;
/// * `op == 0` waits until the value is zero.
///
/// [`nowait`](SemOp::nowait) sets `IPC_NOWAIT` on this operation and
/// [`undo`](SemOp::undo) sets `SEM_UNDO`. The types are C's: `sem_num` is an
/// `unsigned short` and `sem_op` a `short`, so no value of either can be malformed; a
/// `num` beyond the set gives `EFBIG` at `semop` time.
///
/// # Examples
///
/// ```
/// use svipc::SemOp;
///
/// // struct sembuf { .sem_num = 2, .sem_op = -1, .sem_flg = IPC_NOWAIT | SEM_UNDO }
/// let op = SemOp::new(2, -1).nowait().undo();
/// assert_eq!((op.num(), op.op(), op.is_nowait(), op.is_undo()), (2, -1, true, true));
/// assert_eq!(op.flags(), 0o4000 | 0x1000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SemOp {
    num: u16,
    op: i16,
    flags: i16,
}

impl SemOp {
    /// `{ sem_num: num, sem_op: op, sem_flg: 0 }`.
    pub const fn new(num: u16, op: i16) -> SemOp {
        SemOp { num, op, flags: 0 }
    }

    /// A `struct sembuf` as C spells it: only the `IPC_NOWAIT` (`0o4000`) and `SEM_UNDO`
    /// (`0x1000`) bits of `sem_flg` mean anything; the kernel ignores the others, and so
    /// does this.
    pub const fn from_raw(num: u16, op: i16, sem_flg: i16) -> SemOp {
        SemOp { num, op, flags: sem_flg & (IPC_NOWAIT | SEM_UNDO) }
    }

    /// Sets `IPC_NOWAIT` on this operation: if it is the operation the call would block on,
    /// the call fails with `EAGAIN` instead. The flag on any *other* operation of the call
    /// does not matter, as in the kernel.
    pub const fn nowait(mut self) -> SemOp {
        self.flags |= IPC_NOWAIT;
        self
    }

    /// Sets `SEM_UNDO`: the operation is recorded in the calling
    /// [`Process`](crate::Process)'s adjustment for this semaphore (`semadj -= op`), which
    /// is added back when the process exits.
    pub const fn undo(mut self) -> SemOp {
        self.flags |= SEM_UNDO;
        self
    }

    /// `sem_num`.
    pub const fn num(self) -> u16 {
        self.num
    }

    /// `sem_op`.
    pub const fn op(self) -> i16 {
        self.op
    }

    /// `sem_flg` (only `IPC_NOWAIT` and `SEM_UNDO` are kept).
    pub const fn flags(self) -> i16 {
        self.flags
    }

    /// Whether `IPC_NOWAIT` is set.
    pub const fn is_nowait(self) -> bool {
        self.flags & IPC_NOWAIT != 0
    }

    /// Whether `SEM_UNDO` is set.
    pub const fn is_undo(self) -> bool {
        self.flags & SEM_UNDO != 0
    }

    /// Whether this operation alters the semaphore (`sem_op != 0`).
    pub(crate) const fn alters(self) -> bool {
        self.op != 0
    }
}

/// The operations of one `semop` kept past the call (a sleeping op's, an `acquire`
/// guard's): one inline, none or two or more boxed (an empty `Box<[_]>` allocates nothing).
/// Most calls name one semaphore, and a `Box` for it would cost an allocation and a free
/// per sleep or guard. Two variants, so the box's non-null pointer is the tag: 16 bytes.
#[derive(Clone, Debug)]
pub(crate) enum OpList {
    /// One operation, inline.
    One(SemOp),
    /// None, or two or more.
    Many(Box<[SemOp]>),
}

impl Default for OpList {
    fn default() -> OpList {
        OpList::Many(Box::default())
    }
}

impl OpList {
    /// The list of `ops`' items (allocating only for two or more).
    pub(crate) fn new(mut ops: impl Iterator<Item = SemOp>) -> OpList {
        let Some(first) = ops.next() else { return OpList::default() };
        match ops.next() {
            None => OpList::One(first),
            Some(second) => {
                crate::sync::counters::count(crate::sync::counters::Event::SemAlloc);
                OpList::Many([first, second].into_iter().chain(ops).collect())
            }
        }
    }

    /// A copy of `ops`.
    pub(crate) fn of(ops: &[SemOp]) -> OpList {
        match ops {
            [] => OpList::default(),
            [op] => OpList::One(*op),
            _ => OpList::new(ops.iter().copied()),
        }
    }
}

impl std::ops::Deref for OpList {
    type Target = [SemOp];

    fn deref(&self) -> &[SemOp] {
        match self {
            OpList::One(op) => std::slice::from_ref(op),
            OpList::Many(ops) => ops,
        }
    }
}
