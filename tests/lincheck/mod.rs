//! A linearizability checker and a history recorder for `tests/linearizability.rs` (a module
//! of that test, not a test target of its own); its own unit tests run with it:
//! `cargo test --test linearizability lincheck`.
//!
//! # The checker
//!
//! Wing & Gong's search ("Testing and verifying concurrent objects", J. Parallel Distrib.
//! Comput. 17, 1993) with Lowe's just-in-time linearization and memoization ("Testing for
//! linearizability", Concurrency and Computation 29, 2017), the algorithm behind Knossos and
//! Porcupine:
//!
//! * a history is a set of completed operations, each with an invocation and a response time
//!   read from one counter, its operation and the result it returned;
//! * an operation may be linearized next only if it was invoked before every operation still
//!   left has responded (otherwise some remaining operation precedes it in real time);
//! * linearizing it applies the sequential [`Spec`] to the current state; the result must equal
//!   the recorded one;
//! * an **optional** entry (a cancelled call that may or may not have taken effect) may also
//!   be left out, and an entry with an `after` dependency may only be linearized once that
//!   one has been (not left out): enough for "a cancelled op, then maybe its inverse";
//! * a depth-first search over these choices, backtracking on a mismatch, remembers every
//!   (set of entries done, set of those left out, spec state) triple it has already explored,
//!   so each is expanded at most once and histories of a few dozen operations stay fast.
//!
//! A history is linearizable iff the search linearizes every entry that is not optional. When it is not, the
//! [`Failure`] names the longest prefix the search reached, the spec state there and what the
//! spec answered for each operation it could have taken next; its `Display` prints that and
//! the whole history per task, with intervals and results.
//!
//! # The recorder
//!
//! [`Recorder`] hands out timestamps from one `AtomicU64` (`SeqCst` `fetch_add`: a response
//! stamp smaller than an invocation stamp means the first call happened before the second) and
//! collects [`Entry`]s from several tasks or threads. The caller takes the invocation stamp
//! right before the call starts and the response stamp right after it returns, so the recorded
//! interval contains the real one; a wider interval can only make the check more lenient, never
//! report a correct object as broken.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

// ===== Spec =====

/// A sequential specification: the state machine a history must be explainable by.
pub trait Spec {
    /// The state; `Hash + Eq` for the memo.
    type State: Clone + Eq + Hash + Debug;
    /// One operation, with its arguments (and the actor performing it, where that matters).
    type Op: Debug;
    /// What an operation returns.
    type Ret: PartialEq + Debug;

    /// Applies `op` to `state` sequentially, as if nothing else ran, and returns its result.
    fn step(&self, state: &mut Self::State, op: &Self::Op) -> Self::Ret;
}

// ===== History =====

/// One completed operation of a history.
#[derive(Clone, Debug)]
pub struct Entry<O, R> {
    /// The task (or thread) that ran it; only for the report.
    pub task: usize,
    /// Invocation time (a [`Recorder`] stamp).
    pub start: u64,
    /// Response time; `start < end`.
    pub end: u64,
    /// The operation, as the spec takes it.
    pub op: O,
    /// The result the implementation returned, as the spec would write it.
    pub ret: R,
    /// A note for the report: the real call behind this spec operation, where it differs
    /// (an awaiting call, a call split in two); empty otherwise.
    pub note: String,
    /// The operation may have taken effect or not (a cancelled call whose effect the
    /// implementation may have kept): the search may also leave it out.
    pub optional: bool,
    /// Only after this entry (its [`Entry::id`]) has been linearized, not left out.
    pub after: Option<usize>,
    /// Unique within a history: the order of [`Recorder::push`] calls.
    pub id: usize,
}

impl<O, R> Entry<O, R> {
    /// A plain entry: not optional, no dependency, `id` 0 (for hand-made histories).
    pub fn new(task: usize, start: u64, end: u64, op: O, ret: R) -> Self {
        Entry { task, start, end, op, ret, note: String::new(), optional: false, after: None, id: 0 }
    }
}

/// Timestamps and the entries of one concurrent run.
#[derive(Debug)]
pub struct Recorder<O, R> {
    clock: AtomicU64,
    entries: Mutex<Vec<Entry<O, R>>>,
}

impl<O, R> Default for Recorder<O, R> {
    fn default() -> Self {
        Recorder { clock: AtomicU64::new(0), entries: Mutex::new(Vec::new()) }
    }
}

impl<O, R> Recorder<O, R> {
    /// A fresh recorder; its clock starts at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A timestamp: unique, increasing, and ordered with every other stamp by happens-before.
    pub fn now(&self) -> u64 {
        self.clock.fetch_add(1, SeqCst)
    }

    /// The clock's current value, without taking a stamp: unchanged means nobody started or
    /// finished a call since.
    pub fn peek(&self) -> u64 {
        self.clock.load(SeqCst)
    }

    /// Adds one completed operation; returns its id.
    pub fn push(&self, task: usize, start: u64, end: u64, op: O, ret: R, note: impl Into<String>) -> usize {
        self.push_entry(Entry {
            task,
            start,
            end,
            op,
            ret,
            note: note.into(),
            optional: false,
            after: None,
            id: 0,
        })
    }

    /// Adds an optional operation (see [`Entry::optional`]), only after `after` if given;
    /// returns its id.
    pub fn push_optional(
        &self,
        task: usize,
        (start, end): (u64, u64),
        op: O,
        ret: R,
        note: impl Into<String>,
        after: Option<usize>,
    ) -> usize {
        self.push_entry(Entry { task, start, end, op, ret, note: note.into(), optional: true, after, id: 0 })
    }

    fn push_entry(&self, mut e: Entry<O, R>) -> usize {
        assert!(e.start < e.end, "an operation ends after it starts");
        let mut entries = self.entries.lock().unwrap();
        let id = entries.len();
        e.id = id;
        entries.push(e);
        id
    }

    /// Runs `fut` between two stamps: `(output, start, end)`.
    pub async fn timed<F: std::future::Future>(&self, fut: F) -> (F::Output, u64, u64) {
        let start = self.now();
        let out = fut.await;
        let end = self.now();
        (out, start, end)
    }

    /// The history recorded so far, sorted by invocation.
    pub fn history(&self) -> Vec<Entry<O, R>>
    where
        O: Clone,
        R: Clone,
    {
        let mut h = self.entries.lock().unwrap().clone();
        h.sort_by_key(|e| e.start);
        h
    }
}

// ===== Checker =====

/// Why a history is not linearizable: where the search got furthest.
pub struct Failure<'h, S: Spec> {
    history: &'h [Entry<S::Op, S::Ret>],
    /// The longest sequence of entry indices the search could linearize.
    pub prefix: Vec<usize>,
    /// The spec state after that prefix.
    pub state: S::State,
    /// For each entry that could have come next there: its index and what the spec answered.
    pub tried: Vec<(usize, S::Ret)>,
}

/// A linearization: the entry indices in the order the spec applied them.
pub type Order = Vec<usize>;

/// Searches for a linearization of `history` from `init`. Entries may be in any order.
pub fn check<'h, S: Spec>(
    spec: &S,
    init: S::State,
    history: &'h [Entry<S::Op, S::Ret>],
) -> Result<Order, Failure<'h, S>> {
    assert!(history.len() <= 128, "the done-set is a u128: at most 128 operations per history");
    let after = history
        .iter()
        .map(|e| {
            e.after.map(|id| {
                history.iter().position(|d| d.id == id).expect("an entry's dependency is in the history")
            })
        })
        .collect();
    let mut search = Search {
        spec,
        history,
        after,
        memo: HashSet::new(),
        order: Vec::with_capacity(history.len()),
        best: None,
    };
    if search.dfs(0, 0, &init) {
        return Ok(search.order);
    }
    let (prefix, state, tried) = search.best.expect("a failed search records where it stopped");
    Err(Failure { history, prefix, state, tried })
}

/// The deepest point of a failed search: prefix, state, (candidate, spec's answer).
type Best<S> = (Vec<usize>, <S as Spec>::State, Vec<(usize, <S as Spec>::Ret)>);

struct Search<'s, 'h, S: Spec> {
    spec: &'s S,
    history: &'h [Entry<S::Op, S::Ret>],
    /// Each entry's dependency as an index into `history`.
    after: Vec<Option<usize>>,
    /// (done set, left-out set, state) triples already explored without success.
    memo: HashSet<(u128, u128, S::State)>,
    order: Vec<usize>,
    best: Option<Best<S>>,
}

impl<S: Spec> Search<'_, '_, S> {
    /// True if the entries not in `done` can all be linearized (or, if optional, left out)
    /// from `state`. `skipped` is the subset of `done` that was left out.
    fn dfs(&mut self, done: u128, skipped: u128, state: &S::State) -> bool {
        let n = self.history.len();
        if done.count_ones() as usize == n {
            return true;
        }
        if !self.memo.insert((done, skipped, state.clone())) {
            return false;
        }
        let left = (0..n).filter(|&i| done & (1 << i) == 0);
        // Just-in-time: only an entry invoked before every remaining one has responded can
        // take effect (or be left out) next.
        let first_end = left.clone().map(|i| self.history[i].end).min().expect("entries left");
        let mut tried = Vec::new();
        for i in left.filter(|&i| self.history[i].start < first_end) {
            let e = &self.history[i];
            let ready = self.after[i].is_none_or(|j| done & !skipped & (1 << j) != 0);
            if ready {
                let mut next = state.clone();
                let got = self.spec.step(&mut next, &e.op);
                if got == e.ret {
                    self.order.push(i);
                    if self.dfs(done | (1 << i), skipped, &next) {
                        return true;
                    }
                    self.order.pop();
                } else {
                    tried.push((i, got));
                }
            }
            if e.optional && self.dfs(done | (1 << i), skipped | (1 << i), state) {
                return true;
            }
        }
        if self.best.as_ref().is_none_or(|b| b.0.len() < self.order.len()) {
            self.best = Some((self.order.clone(), state.clone(), tried));
        }
        false
    }
}

// ===== Report =====

/// The whole history, one block per task, each entry as `[start, end] op -> ret`.
pub fn format_history<O: Debug, R: Debug>(history: &[Entry<O, R>]) -> String {
    let mut tasks: Vec<usize> = history.iter().map(|e| e.task).collect();
    tasks.sort_unstable();
    tasks.dedup();
    let mut out = String::new();
    for t in tasks {
        out.push_str(&format!("  task {t}:\n"));
        let mut mine: Vec<(usize, &Entry<O, R>)> =
            history.iter().enumerate().filter(|(_, e)| e.task == t).collect();
        mine.sort_by_key(|(_, e)| e.start);
        for (i, e) in mine {
            out.push_str(&format!("    #{i:<2} [{:>3}, {:>3}] {:?} -> {:?}", e.start, e.end, e.op, e.ret));
            if e.optional {
                out.push_str("   [optional]");
            }
            if !e.note.is_empty() {
                out.push_str(&format!("   ({})", e.note));
            }
            out.push('\n');
        }
    }
    out
}

impl<S: Spec> fmt::Display for Failure<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "history not linearizable ({} operations):", self.history.len())?;
        f.write_str(&format_history(self.history))?;
        writeln!(
            f,
            "longest linearizable prefix ({} of {}; optional entries left out are not listed):",
            self.prefix.len(),
            self.history.len()
        )?;
        for &i in &self.prefix {
            let e = &self.history[i];
            writeln!(f, "    #{i:<2} task {}: {:?} -> {:?}", e.task, e.op, e.ret)?;
        }
        writeln!(f, "spec state there:\n    {:#?}", self.state)?;
        if self.tried.is_empty() {
            writeln!(f, "every candidate's result matched, but no order of the rest did")?;
        } else {
            writeln!(f, "candidates for the next step and what the spec answered:")?;
            for (i, got) in &self.tried {
                let e = &self.history[*i];
                writeln!(f, "    #{i:<2} task {}: {:?}: recorded {:?}, spec {:?}", e.task, e.op, e.ret, got)?;
            }
        }
        Ok(())
    }
}

impl<S: Spec> Debug for Failure<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Checks `history` and panics with the full report if it is not linearizable.
pub fn assert_linearizable<S: Spec>(spec: &S, init: S::State, history: &[Entry<S::Op, S::Ret>], what: &str) {
    if let Err(failure) = check(spec, init, history) {
        panic!("{what}: {failure}");
    }
}

// ===== Tests of the checker itself =====

#[cfg(test)]
mod tests {
    use super::*;

    /// A read/write register of one integer, starting at 0.
    struct Register;

    #[derive(Debug, Clone, Copy)]
    enum RegOp {
        Write(u32),
        Read,
    }

    impl Spec for Register {
        type State = u32;
        type Op = RegOp;
        type Ret = Option<u32>;
        fn step(&self, state: &mut u32, op: &RegOp) -> Option<u32> {
            match *op {
                RegOp::Write(v) => {
                    *state = v;
                    None
                }
                RegOp::Read => Some(*state),
            }
        }
    }

    fn e(task: usize, start: u64, end: u64, op: RegOp, ret: Option<u32>) -> Entry<RegOp, Option<u32>> {
        Entry::new(task, start, end, op, ret)
    }

    #[test]
    fn lincheck_register_overlapping_read_sees_old_or_new() {
        // Task 0 writes 1 over [0, 5]; task 1 reads 0 over [1, 2], then 1 over [3, 4]: the
        // write took effect between the two reads.
        let h = vec![
            e(0, 0, 5, RegOp::Write(1), None),
            e(1, 1, 2, RegOp::Read, Some(0)),
            e(1, 3, 4, RegOp::Read, Some(1)),
        ];
        assert_eq!(check(&Register, 0, &h).unwrap(), vec![1, 0, 2]);
    }

    #[test]
    fn lincheck_register_stale_read_is_rejected() {
        // The write of 1 has returned (end 1) before the read starts (2): reading 0 is stale.
        let h = vec![e(0, 0, 1, RegOp::Write(1), None), e(1, 2, 3, RegOp::Read, Some(0))];
        let failure = check(&Register, 0, &h).unwrap_err();
        assert_eq!(failure.prefix, vec![0]);
        assert_eq!(failure.state, 1);
        assert_eq!(failure.tried, vec![(1, Some(1))]);
        let text = failure.to_string();
        assert!(text.contains("task 1:\n    #1  [  2,   3] Read -> Some(0)"), "{text}");
        assert!(text.contains("recorded Some(0), spec Some(1)"), "{text}");
    }

    #[test]
    fn lincheck_register_new_then_old_is_rejected() {
        // Both reads overlap the write, but they do not overlap each other: 1 then 0 would
        // need the register to go back.
        let h = vec![
            e(0, 0, 9, RegOp::Write(1), None),
            e(1, 1, 2, RegOp::Read, Some(1)),
            e(2, 3, 4, RegOp::Read, Some(0)),
        ];
        let failure = check(&Register, 0, &h).unwrap_err();
        // Read 0 first needs read #2, which starts after #1 ended; the write then read 1 is
        // as far as it gets.
        assert_eq!(failure.prefix.len(), 2);
        assert_eq!(failure.state, 1);
    }

    /// A FIFO queue of integers: push, and pop returning the oldest.
    struct Fifo;

    #[derive(Debug, Clone, Copy)]
    enum FifoOp {
        Push(u32),
        Pop,
    }

    impl Spec for Fifo {
        type State = Vec<u32>;
        type Op = FifoOp;
        type Ret = Option<u32>;
        fn step(&self, q: &mut Vec<u32>, op: &FifoOp) -> Option<u32> {
            match *op {
                FifoOp::Push(v) => {
                    q.push(v);
                    None
                }
                FifoOp::Pop => (!q.is_empty()).then(|| q.remove(0)),
            }
        }
    }

    fn f(task: usize, start: u64, end: u64, op: FifoOp, ret: Option<u32>) -> Entry<FifoOp, Option<u32>> {
        Entry::new(task, start, end, op, ret)
    }

    #[test]
    fn lincheck_fifo_pop_of_the_younger_message_is_rejected() {
        // 1 is pushed and returns before 2's push starts; a pop after both returns 2: the
        // injected bug the real test looks for (recv(Any) picking a younger message).
        let bad = vec![
            f(0, 0, 1, FifoOp::Push(1), None),
            f(0, 2, 3, FifoOp::Push(2), None),
            f(1, 4, 5, FifoOp::Pop, Some(2)),
        ];
        let failure = check(&Fifo, vec![], &bad).unwrap_err();
        assert_eq!(failure.state, vec![1, 2]);
        assert_eq!(failure.tried, vec![(2, Some(1))]);
        // The same pop overlapping both pushes may return 2: push 2 took effect first.
        let ok = vec![
            f(0, 0, 3, FifoOp::Push(1), None),
            f(1, 1, 6, FifoOp::Push(2), None),
            f(2, 2, 5, FifoOp::Pop, Some(2)),
        ];
        assert_eq!(check(&Fifo, vec![], &ok).unwrap(), vec![1, 0, 2]);
    }

    /// A counter: increment (returns nothing) and read.
    struct Counter;

    #[derive(Debug, Clone, Copy)]
    enum CountOp {
        Inc,
        Read,
    }

    impl Spec for Counter {
        type State = u32;
        type Op = CountOp;
        type Ret = Option<u32>;
        fn step(&self, n: &mut u32, op: &CountOp) -> Option<u32> {
            match op {
                CountOp::Inc => {
                    *n += 1;
                    None
                }
                CountOp::Read => Some(*n),
            }
        }
    }

    #[test]
    fn lincheck_memo_keeps_a_wide_history_fast() {
        // 16 increments all overlapping, then a read after all of them. A read of 15 is
        // wrong, and refuting it means trying every order of the increments: 16! paths
        // without the memo, 2^16 (done set, count) pairs with it.
        let mut h: Vec<Entry<CountOp, Option<u32>>> =
            (0..16u64).map(|k| Entry::new(k as usize, k, 100, CountOp::Inc, None)).collect();
        h.push(Entry::new(16, 200, 201, CountOp::Read, Some(15)));
        let t = std::time::Instant::now();
        let failure = check(&Counter, 0, &h).unwrap_err();
        assert_eq!(failure.prefix.len(), 16);
        assert_eq!(failure.state, 16);
        assert_eq!(failure.tried, vec![(16, Some(16))]);
        h[16].ret = Some(16);
        assert_eq!(check(&Counter, 0, &h).unwrap().len(), 17);
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[test]
    fn lincheck_optional_entries_may_be_left_out() {
        // An optional write of 5 over [0, 10], then a read after it: 5 (it took effect) and 0
        // (it did not) are both fine, 6 is not.
        for (read, ok) in [(5, true), (0, true), (6, false)] {
            let mut w = Entry::new(0, 0, 10, RegOp::Write(5), None);
            w.optional = true;
            let h = vec![w, e(1, 11, 12, RegOp::Read, Some(read))];
            assert_eq!(check(&Register, 0, &h).is_ok(), ok, "read {read}");
        }
    }

    #[test]
    fn lincheck_after_orders_an_optional_entry() {
        // P writes 5 over [5, 10]; Q, optional and only after P, writes 7 over [0, 4]: Q
        // cannot follow P in real time, so a later read of 7 is impossible.
        let mut p = Entry::new(0, 5, 10, RegOp::Write(5), None);
        p.id = 1;
        let mut q = Entry::new(1, 0, 4, RegOp::Write(7), None);
        (q.id, q.optional, q.after) = (2, true, Some(1));
        let read = |v| Entry { id: 3, ..e(2, 11, 12, RegOp::Read, Some(v)) };
        assert!(check(&Register, 0, &[p.clone(), q.clone(), read(7)]).is_err());
        assert_eq!(check(&Register, 0, &[p.clone(), q.clone(), read(5)]).unwrap(), vec![0, 2]);
        // Without the dependency Q may go first and P overwrite it; 7 is still impossible,
        // but Q over [0, 4] then a read of 7 inside [4, 5) is not: shift the read.
        q.after = None;
        let early = Entry { id: 3, ..e(2, 4, 5, RegOp::Read, Some(7)) };
        assert_eq!(check(&Register, 0, &[p.clone(), q.clone(), early.clone()]).unwrap(), vec![1, 2, 0]);
        q.after = Some(1);
        assert!(check(&Register, 0, &[p, q, early]).is_err());
    }
}
