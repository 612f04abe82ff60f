//! Feed guards for one symbol: a [`ReorderBuffer`] that puts ticks back in
//! event-time order, then a [`SeqGapGuard`] that counts skipped sequence
//! numbers and drops repeats. [`SymbolGuard`] chains them in that order.
//!
//! # Why reorder first
//! A tick that arrives a little late (inside the window) must be put back in
//! its place. If the sequence guard ran first, it would count a gap when the
//! successor arrived and then drop the late tick as a duplicate; running the
//! reorder buffer first, the sequence guard sees `…, n, n+1, …` and counts
//! nothing.
//!
//! # Time
//! The buffer releases a tick once the symbol's event time (the largest
//! `ts_server_ms` seen) is `window_ms` past it. So that a quiet symbol does not
//! hold ticks forever, [`ReorderBuffer::release_stale`] also releases ticks that
//! have waited longer than a wall-clock bound. The domain never reads the clock:
//! the caller passes its "now" (any monotonic millisecond count) in.

use std::collections::VecDeque;

use crate::tick::Tick;

/// Something ordered by event time and sequence number.
pub trait Sequenced {
    /// Event time in milliseconds.
    fn ts_ms(&self) -> i64;
    /// Sequence number.
    fn seq(&self) -> u64;
}

impl Sequenced for Tick {
    fn ts_ms(&self) -> i64 {
        self.ts_server_ms
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

type Key = (i64, u64);

fn key<T: Sequenced>(t: &T) -> Key {
    (t.ts_ms(), t.seq())
}

#[derive(Debug)]
struct Held<T> {
    item: T,
    key: Key,
    arrived_ms: i64,
    moved: bool,
}

/// A tick leaving the reorder buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Released<T> {
    /// The item.
    pub item: T,
    /// True when it arrived after an item that sorts behind it, i.e. the buffer
    /// moved it back into place.
    pub moved: bool,
}

/// What [`ReorderBuffer::push`] did with an item.
#[derive(Debug, PartialEq)]
pub enum Admit<T> {
    /// Held until its time comes; `moved` is true when it was put in front of
    /// items that arrived earlier.
    Held {
        /// The item overtook earlier arrivals.
        moved: bool,
    },
    /// Too late to be put in place (it sorts at or before a tick already
    /// released): handed back for the caller to deal with, normally by passing
    /// it to the [`SeqGapGuard`], which drops it as a duplicate.
    Late(T),
}

/// Holds one symbol's ticks for an event-time window and releases them sorted
/// by `(ts_server_ms, seq)`.
#[derive(Debug)]
pub struct ReorderBuffer<T> {
    window_ms: i64,
    items: VecDeque<Held<T>>,
    max_ts: Option<i64>,
    last_released: Option<Key>,
}

impl<T: Sequenced> ReorderBuffer<T> {
    /// A buffer holding ticks for `window_ms` of event time (0 releases each
    /// tick as soon as a tick at the same or a later time arrives).
    pub fn new(window_ms: i64) -> Self {
        Self {
            window_ms: window_ms.max(0),
            items: VecDeque::new(),
            max_ts: None,
            last_released: None,
        }
    }

    /// The event-time window.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Ticks held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes an item that arrived at `now_ms` (caller's clock).
    pub fn push(&mut self, item: T, now_ms: i64) -> Admit<T> {
        let k = key(&item);
        if self.last_released.is_some_and(|last| k <= last) {
            return Admit::Late(item);
        }
        self.max_ts = Some(self.max_ts.map_or(k.0, |m| m.max(k.0)));
        let moved = self.items.back().is_some_and(|b| k < b.key);
        let held = Held {
            item,
            key: k,
            arrived_ms: now_ms,
            moved,
        };
        if moved {
            // Equal keys keep arrival order (after the existing ones).
            let at = self.items.partition_point(|h| h.key <= k);
            self.items.insert(at, held);
        } else {
            self.items.push_back(held);
        }
        Admit::Held { moved }
    }

    fn pop_front(&mut self) -> Option<Released<T>> {
        let h = self.items.pop_front()?;
        self.last_released = Some(h.key);
        Some(Released {
            item: h.item,
            moved: h.moved,
        })
    }

    /// Releases, in order, every item at least `window_ms` older than the
    /// newest event time seen.
    pub fn release_ready(&mut self, out: &mut Vec<Released<T>>) {
        let Some(max) = self.max_ts else { return };
        let cut = max.saturating_sub(self.window_ms);
        while self.items.front().is_some_and(|h| h.key.0 <= cut) {
            out.extend(self.pop_front());
        }
    }

    /// Releases, in order, every item that has waited at least `max_hold_ms`
    /// since it arrived, and everything that sorts before it.
    pub fn release_stale(&mut self, now_ms: i64, max_hold_ms: i64, out: &mut Vec<Released<T>>) {
        let deadline = now_ms.saturating_sub(max_hold_ms);
        let Some(last_stale) = self.items.iter().rposition(|h| h.arrived_ms <= deadline) else {
            return;
        };
        for _ in 0..=last_stale {
            out.extend(self.pop_front());
        }
    }

    /// Releases everything, in order (end of feed, shutdown).
    pub fn release_all(&mut self, out: &mut Vec<Released<T>>) {
        while let Some(r) = self.pop_front() {
            out.push(r);
        }
    }

    /// Arrival time of the item that has waited longest, if any.
    pub fn oldest_arrival_ms(&self) -> Option<i64> {
        self.items.iter().map(|h| h.arrived_ms).min()
    }

    /// Forgets everything (held items are handed back unreleased) and starts
    /// afresh, as for a new feed.
    pub fn reset(&mut self) -> Vec<T> {
        self.max_ts = None;
        self.last_released = None;
        self.items.drain(..).map(|h| h.item).collect()
    }
}

/// The verdict of the [`SeqGapGuard`] on one sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// A new sequence number; `missing` numbers were skipped before it.
    Accept {
        /// Sequence numbers skipped since the last accepted one.
        missing: u64,
    },
    /// A repeat of, or older than, the last accepted sequence number.
    Duplicate,
}

/// Per-symbol sequence guard: a jump forward is a gap of the skipped numbers, a
/// repeat or an older number is a duplicate.
#[derive(Debug, Clone, Default)]
pub struct SeqGapGuard {
    last: Option<u64>,
}

impl SeqGapGuard {
    /// A guard that has seen nothing (the first number is accepted without gap).
    pub fn new() -> Self {
        Self::default()
    }

    /// The last accepted sequence number.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Checks `seq` and, when accepted, remembers it.
    pub fn check(&mut self, seq: u64) -> SeqVerdict {
        match self.last {
            Some(last) if seq <= last => SeqVerdict::Duplicate,
            Some(last) => {
                self.last = Some(seq);
                SeqVerdict::Accept {
                    missing: seq - last - 1,
                }
            }
            None => {
                self.last = Some(seq);
                SeqVerdict::Accept { missing: 0 }
            }
        }
    }

    /// Forgets the last number.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// A tick that passed both guards, or a duplicate to drop.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded<T> {
    /// The item.
    pub item: T,
    /// What the guards decided.
    pub verdict: Verdict,
}

/// The decision of [`SymbolGuard`] on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it.
    Deliver {
        /// Sequence numbers skipped right before it.
        missing: u64,
        /// The reorder buffer moved it back into place.
        moved: bool,
    },
    /// Drop it: a repeated or older sequence number.
    Duplicate,
}

/// Reorder buffer, then sequence guard, for one symbol.
#[derive(Debug)]
pub struct SymbolGuard<T> {
    reorder: ReorderBuffer<T>,
    seq: SeqGapGuard,
    scratch: Vec<Released<T>>,
}

impl<T: Sequenced> SymbolGuard<T> {
    /// Guards with a reorder window of `window_ms` of event time.
    pub fn new(window_ms: i64) -> Self {
        Self {
            reorder: ReorderBuffer::new(window_ms),
            seq: SeqGapGuard::new(),
            scratch: Vec::new(),
        }
    }

    /// Ticks held in the reorder buffer.
    pub fn held(&self) -> usize {
        self.reorder.len()
    }

    /// The last accepted sequence number.
    pub fn last_seq(&self) -> Option<u64> {
        self.seq.last()
    }

    /// Takes an item that arrived at `now_ms`; appends what leaves the guards,
    /// in order, to `out`.
    pub fn push(&mut self, item: T, now_ms: i64, out: &mut Vec<Guarded<T>>) {
        match self.reorder.push(item, now_ms) {
            Admit::Held { .. } => {
                let mut scratch = std::mem::take(&mut self.scratch);
                self.reorder.release_ready(&mut scratch);
                self.judge(&mut scratch, out);
                self.scratch = scratch;
            }
            Admit::Late(item) => {
                let verdict = match self.seq.check(item.seq()) {
                    SeqVerdict::Accept { missing } => Verdict::Deliver {
                        missing,
                        moved: false,
                    },
                    SeqVerdict::Duplicate => Verdict::Duplicate,
                };
                out.push(Guarded { item, verdict });
            }
        }
    }

    /// Releases items that waited `max_hold_ms` or more (wall clock).
    pub fn release_stale(&mut self, now_ms: i64, max_hold_ms: i64, out: &mut Vec<Guarded<T>>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.reorder
            .release_stale(now_ms, max_hold_ms, &mut scratch);
        self.judge(&mut scratch, out);
        self.scratch = scratch;
    }

    /// Releases everything held.
    pub fn release_all(&mut self, out: &mut Vec<Guarded<T>>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.reorder.release_all(&mut scratch);
        self.judge(&mut scratch, out);
        self.scratch = scratch;
    }

    /// Arrival time of the item that has waited longest, if any.
    pub fn oldest_arrival_ms(&self) -> Option<i64> {
        self.reorder.oldest_arrival_ms()
    }

    /// Starts afresh (new feed session); held items are handed back unjudged.
    pub fn reset(&mut self) -> Vec<T> {
        self.seq.reset();
        self.reorder.reset()
    }

    fn judge(&mut self, released: &mut Vec<Released<T>>, out: &mut Vec<Guarded<T>>) {
        for r in released.drain(..) {
            let verdict = match self.seq.check(r.item.seq()) {
                SeqVerdict::Accept { missing } => Verdict::Deliver {
                    missing,
                    moved: r.moved,
                },
                SeqVerdict::Duplicate => Verdict::Duplicate,
            };
            out.push(Guarded {
                item: r.item,
                verdict,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct T(i64, u64);

    impl Sequenced for T {
        fn ts_ms(&self) -> i64 {
            self.0
        }
        fn seq(&self) -> u64 {
            self.1
        }
    }

    fn seqs(out: &[Guarded<T>]) -> Vec<u64> {
        out.iter().map(|g| g.item.1).collect()
    }

    #[test]
    fn releases_after_the_event_time_window_in_order() {
        let mut b = ReorderBuffer::new(40);
        let mut out = Vec::new();
        assert_eq!(b.push(T(100, 1), 0), Admit::Held { moved: false });
        assert_eq!(b.push(T(120, 3), 0), Admit::Held { moved: false });
        assert_eq!(b.push(T(110, 2), 0), Admit::Held { moved: true });
        b.release_ready(&mut out);
        assert!(out.is_empty(), "nothing is 40 ms old yet");
        assert_eq!(b.push(T(150, 4), 0), Admit::Held { moved: false });
        b.release_ready(&mut out);
        let got: Vec<_> = out.iter().map(|r| (r.item.1, r.moved)).collect();
        assert_eq!(got, vec![(1, false), (2, true)]);
        out.clear();
        b.release_all(&mut out);
        assert_eq!(out.iter().map(|r| r.item.1).collect::<Vec<_>>(), vec![3, 4]);
    }

    #[test]
    fn a_tick_behind_a_released_one_is_late() {
        let mut b = ReorderBuffer::new(10);
        let mut out = Vec::new();
        b.push(T(100, 1), 0);
        b.push(T(200, 3), 0);
        b.release_ready(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(b.push(T(90, 0), 0), Admit::Late(T(90, 0)));
        // Same key as the released tick: late too (a duplicate).
        assert_eq!(b.push(T(100, 1), 0), Admit::Late(T(100, 1)));
        assert_eq!(b.push(T(195, 2), 0), Admit::Held { moved: true });
    }

    #[test]
    fn a_quiet_symbol_is_flushed_on_the_wall_clock_bound() {
        let mut b = ReorderBuffer::new(40);
        let mut out = Vec::new();
        b.push(T(100, 1), 1_000);
        b.push(T(105, 2), 1_050);
        b.release_ready(&mut out);
        assert!(out.is_empty());
        b.release_stale(1_099, 100, &mut out);
        assert!(out.is_empty(), "nothing waited 100 ms yet");
        b.release_stale(1_100, 100, &mut out);
        assert_eq!(out.iter().map(|r| r.item.1).collect::<Vec<_>>(), vec![1]);
        b.release_stale(1_150, 100, &mut out);
        assert_eq!(out.len(), 2);
        assert!(b.is_empty());
    }

    #[test]
    fn a_stale_tick_releases_everything_that_sorts_before_it() {
        let mut b = ReorderBuffer::new(1_000);
        let mut out = Vec::new();
        b.push(T(100, 2), 0); // arrives first
        b.push(T(90, 1), 50); // sorts first, arrives later
        b.release_stale(100, 100, &mut out);
        // Only seq 2 is stale, but seq 1 sorts before it and goes first.
        assert_eq!(out.iter().map(|r| r.item.1).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn seq_guard_counts_gaps_and_duplicates() {
        let mut g = SeqGapGuard::new();
        assert_eq!(g.check(7), SeqVerdict::Accept { missing: 0 });
        assert_eq!(g.check(8), SeqVerdict::Accept { missing: 0 });
        assert_eq!(g.check(11), SeqVerdict::Accept { missing: 2 });
        assert_eq!(g.check(11), SeqVerdict::Duplicate);
        assert_eq!(g.check(9), SeqVerdict::Duplicate);
        assert_eq!(g.last(), Some(11));
        g.reset();
        assert_eq!(g.check(1), SeqVerdict::Accept { missing: 0 });
    }

    #[test]
    fn a_late_tick_inside_the_window_is_neither_a_gap_nor_a_duplicate() {
        // Arrival order 1, 3, 2, 4: reorder first, then the sequence guard.
        let mut g = SymbolGuard::new(40);
        let mut out = Vec::new();
        for t in [T(100, 1), T(120, 3), T(110, 2), T(130, 4)] {
            g.push(t, 0, &mut out);
        }
        g.release_all(&mut out);
        assert_eq!(seqs(&out), vec![1, 2, 3, 4]);
        let verdicts: Vec<_> = out.iter().map(|g| g.verdict).collect();
        assert_eq!(
            verdicts,
            vec![
                Verdict::Deliver {
                    missing: 0,
                    moved: false
                },
                Verdict::Deliver {
                    missing: 0,
                    moved: true
                },
                Verdict::Deliver {
                    missing: 0,
                    moved: false
                },
                Verdict::Deliver {
                    missing: 0,
                    moved: false
                },
            ]
        );
    }

    #[test]
    fn guard_order_matters() {
        // The same arrival order through the sequence guard alone: one gap and
        // one duplicate, both wrong.
        let mut s = SeqGapGuard::new();
        let v: Vec<_> = [1, 3, 2, 4].into_iter().map(|n| s.check(n)).collect();
        assert_eq!(v[1], SeqVerdict::Accept { missing: 1 });
        assert_eq!(v[2], SeqVerdict::Duplicate);
    }

    #[test]
    fn gaps_duplicates_and_late_ticks_through_the_symbol_guard() {
        let mut g = SymbolGuard::new(10);
        let mut out = Vec::new();
        // 1, 2, 2 (dup), 5 (gap of 2), then 4 after 5 was released (late).
        for t in [T(0, 1), T(1, 2), T(1, 2), T(30, 5), T(50, 6), T(29, 4)] {
            g.push(t, 0, &mut out);
        }
        g.release_all(&mut out);
        let got: Vec<_> = out.iter().map(|g| (g.item.1, g.verdict)).collect();
        assert_eq!(
            got,
            vec![
                (
                    1,
                    Verdict::Deliver {
                        missing: 0,
                        moved: false
                    }
                ),
                (
                    2,
                    Verdict::Deliver {
                        missing: 0,
                        moved: false
                    }
                ),
                (2, Verdict::Duplicate),
                (
                    5,
                    Verdict::Deliver {
                        missing: 2,
                        moved: false
                    }
                ),
                (4, Verdict::Duplicate),
                (
                    6,
                    Verdict::Deliver {
                        missing: 0,
                        moved: false
                    }
                ),
            ]
        );
    }

    #[test]
    fn reset_hands_back_held_items_and_forgets_the_sequence() {
        let mut g = SymbolGuard::new(40);
        let mut out = Vec::new();
        g.push(T(0, 10), 0, &mut out);
        g.push(T(100, 11), 0, &mut out);
        assert_eq!(seqs(&out), vec![10]);
        assert_eq!(g.reset(), vec![T(100, 11)]);
        assert_eq!(g.last_seq(), None);
        out.clear();
        g.push(T(100, 11), 0, &mut out);
        g.release_all(&mut out);
        assert_eq!(
            out[0].verdict,
            Verdict::Deliver {
                missing: 0,
                moved: false
            }
        );
    }
}
