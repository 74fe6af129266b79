//! Owned acquires (tokio's `Semaphore::acquire_owned`): a future and a permit that hold a
//! clone of the [`SemaphoreSet`] handle instead of borrowing it, so they are `'static` and
//! `Send` and can move into a spawned task — "acquire in the accept loop, release in the
//! connection's task". They are the borrowed [`AcquireFuture`](super::AcquireFuture) and
//! [`Permit`](super::Permit) in every other respect: the same `semop`, the same cancel
//! safety, the same give-back on drop.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::op::OpList;
use super::{release, SemaphoreSet, Stage};
use crate::error::Error;
use crate::trace;

impl SemaphoreSet {
    /// [`acquire`](Self::acquire) whose future and permit own a clone of this handle
    /// (tokio's `Semaphore::acquire_owned`): both are `'static + Send`. The C calls are the
    /// same: `semop(semid, {num, -n, 0})` to take, `semop(semid, {num, +n, 0})` on drop.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::{Credentials, Key, Namespace};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), svipc::Error> {
    /// let me = Namespace::new().process(Credentials::new(0, 0));
    /// let slots = me.sem_set(Key::PRIVATE).create(0o600).nsems(1).open()?;
    /// slots.set_val(0, 2)?;
    /// let mut tasks = Vec::new();
    /// for job in 0..4u32 {
    ///     let permit = slots.acquire_owned(0, 1).await?; // waits while two jobs run
    ///     tasks.push(tokio::spawn(async move {
    ///         let _permit = permit; // given back when the task ends
    ///         job * 2
    ///     }));
    /// }
    /// for t in tasks {
    ///     t.await.unwrap();
    /// }
    /// assert_eq!(slots.get_val(0)?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_owned(&self, num: u16, n: u16) -> AcquireOwnedFuture {
        self.acquire_many_owned(&[(num, n)])
    }

    /// [`acquire_many`](Self::acquire_many) whose future and permit own a clone of this
    /// handle (tokio's `Semaphore::acquire_many_owned`, over several semaphores in one
    /// atomic `semop`).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub fn acquire_many_owned(&self, units: &[(u16, u16)]) -> AcquireOwnedFuture {
        let (ops, checks) = self.acquire_checks(units);
        AcquireOwnedFuture {
            set: self.clone(),
            ops,
            checks: Some(checks),
            stage: Stage::Start,
            #[cfg(feature = "tracing")]
            wait: trace::Wait::default(),
        }
    }
}

/// The future of [`SemaphoreSet::acquire_owned`] and
/// [`acquire_many_owned`](SemaphoreSet::acquire_many_owned): an
/// [`AcquireFuture`](super::AcquireFuture) that owns its handle. Dropped before it
/// completes, it takes nothing (or gives back what a waker took for it); polled again after
/// it completed, it takes nothing more and returns `EINVAL`.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AcquireOwnedFuture {
    set: SemaphoreSet,
    ops: OpList,
    checks: Option<Result<(), Error>>,
    stage: Stage,
    #[cfg(feature = "tracing")]
    wait: trace::Wait,
}

impl Future for AcquireOwnedFuture {
    type Output = Result<OwnedPermit, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let set = &this.set;
        let p = set
            .poll_acquire(&this.ops, &mut this.checks, &mut this.stage, cx)
            .map_ok(|ops| OwnedPermit { set: set.clone(), ops });
        trace::poll!(this.wait, crate::error::Op::SemOp, set.id(), set.pid(), &p);
        p
    }
}

impl Drop for AcquireOwnedFuture {
    fn drop(&mut self) {
        self.set.cancel(&mut self.stage, &self.ops);
        trace::dropped!(self.wait, crate::error::Op::SemOp, self.set.id(), self.set.pid());
    }
}

impl fmt::Debug for AcquireOwnedFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwnedFuture")
            .field("set", &self.set.id())
            .field("ops", &self.ops)
            .field("waiting", &matches!(self.stage, Stage::Waiting(_)))
            .finish()
    }
}

/// Units taken by [`SemaphoreSet::acquire_owned`] or
/// [`acquire_many_owned`](SemaphoreSet::acquire_many_owned), holding a clone of the handle:
/// a [`Permit`](super::Permit) that is `'static`. Dropping it gives the units back in one
/// `semop`, under the same rules.
#[must_use = "dropping the permit gives the units back at once"]
#[clippy::has_significant_drop]
pub struct OwnedPermit {
    set: SemaphoreSet,
    /// The increments that give the units back.
    ops: OpList,
}

impl OwnedPermit {
    /// Keeps the units taken: dropping the permit no longer gives them back (tokio's
    /// `OwnedSemaphorePermit::forget`).
    pub fn forget(mut self) {
        self.ops = OpList::default();
    }

    /// The set the units were taken from.
    pub fn set(&self) -> &SemaphoreSet {
        &self.set
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        release(&self.set, &self.ops);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").field("set", &self.set.id()).field("give_back", &self.ops).finish()
    }
}
