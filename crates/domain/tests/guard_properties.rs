//! Property tests of the feed guards (`feed::guard`): whatever the arrival
//! order, every tick pushed into a `SymbolGuard` comes out exactly once,
//! delivered or dropped as a duplicate, and the delivered sequence numbers
//! only rise; ticks that arrive less than the reorder window late all come out
//! delivered, in order, with exactly the feed's own gaps counted; repeats are
//! dropped, one duplicate each, and never cost a tick that should pass.

use proptest::prelude::*;
use shadowkpi_domain::feed::guard::{Guarded, Sequenced, SymbolGuard, Verdict};

const WINDOW_MS: i64 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct T {
    ts: i64,
    seq: u64,
}

impl Sequenced for T {
    fn ts_ms(&self) -> i64 {
        self.ts
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// Pushes `arrivals` in order (arrival clock = index), then releases all.
fn run(arrivals: &[T]) -> Vec<Guarded<T>> {
    let mut g = SymbolGuard::new(WINDOW_MS);
    let mut out = Vec::new();
    for (i, t) in arrivals.iter().enumerate() {
        g.push(*t, i as i64, &mut out);
    }
    g.release_all(&mut out);
    assert_eq!(g.held(), 0);
    out
}

fn delivered(out: &[Guarded<T>]) -> Vec<T> {
    out.iter()
        .filter(|g| matches!(g.verdict, Verdict::Deliver { .. }))
        .map(|g| g.item)
        .collect()
}

fn missing(out: &[Guarded<T>]) -> u64 {
    out.iter()
        .map(|g| match g.verdict {
            Verdict::Deliver { missing, .. } => missing,
            Verdict::Duplicate => 0,
        })
        .sum()
}

/// A feed in exchange order: sequence numbers rising by 1 or, where `gaps`
/// says, by more; event time never falling (ties allowed).
fn feed() -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec((0i64..6, prop::bool::weighted(0.1), 1u64..4), 1..200).prop_map(|steps| {
        let (mut ts, mut seq) = (1_000_000i64, 100u64);
        steps
            .into_iter()
            .map(|(dt, gap, skip)| {
                ts += dt;
                seq += if gap { 1 + skip } else { 1 };
                T { ts, seq }
            })
            .collect()
    })
}

/// Gaps of a feed: sequence numbers between its first and last it lacks.
fn gaps(feed: &[T]) -> u64 {
    feed.windows(2).map(|w| w[1].seq - w[0].seq - 1).sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any order at all, repeats included: nothing is lost or made up, and
    /// what is delivered rises strictly.
    #[test]
    fn any_arrival_order_loses_and_invents_nothing(
        feed in feed(),
        order in prop::collection::vec(any::<u32>(), 200),
        repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let mut arrivals = feed.clone();
        for r in &repeats {
            arrivals.push(*r.get(&feed));
        }
        // A shuffle by random keys.
        let mut keyed: Vec<(u32, T)> = arrivals
            .iter()
            .enumerate()
            .map(|(i, t)| (order[i % order.len()].wrapping_add(i as u32), *t))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let arrivals: Vec<T> = keyed.into_iter().map(|(_, t)| t).collect();

        let out = run(&arrivals);
        prop_assert_eq!(out.len(), arrivals.len(), "one verdict per tick");
        let mut came_in = arrivals.clone();
        came_in.sort();
        let mut came_out: Vec<T> = out.iter().map(|g| g.item).collect();
        came_out.sort();
        prop_assert_eq!(came_in, came_out, "the same ticks, each once");
        let d = delivered(&out);
        prop_assert!(d.windows(2).all(|w| w[0].seq < w[1].seq), "delivered seqs rise: {:?}", d);
        // Whatever was skipped is counted: delivered + counted gaps span the
        // delivered range exactly.
        if let (Some(first), Some(last)) = (d.first(), d.last()) {
            prop_assert_eq!(d.len() as u64 + missing(&out), last.seq - first.seq + 1);
        }
    }

    /// Ticks at most `WINDOW_MS - 1` late in event time, repeats included:
    /// every tick of the feed is delivered, in exchange order, with exactly
    /// the feed's own gaps counted, and each repeat is one duplicate.
    #[test]
    fn ticks_late_within_the_window_are_all_put_back_in_place(
        feed in feed(),
        delays in prop::collection::vec(0i64..WINDOW_MS, 200),
        repeats in prop::collection::vec((any::<prop::sample::Index>(), 0i64..WINDOW_MS), 0..20),
    ) {
        // Arrival order: by event time plus each tick's own delay.
        let mut arrivals: Vec<(i64, usize, T)> = feed
            .iter()
            .enumerate()
            .map(|(i, t)| (t.ts + delays[i % delays.len()], i, *t))
            .collect();
        for (j, (r, delay)) in repeats.iter().enumerate() {
            let t = *r.get(&feed);
            arrivals.push((t.ts + delay, feed.len() + j, t));
        }
        arrivals.sort_by_key(|(at, i, _)| (*at, *i));
        let arrivals: Vec<T> = arrivals.into_iter().map(|(_, _, t)| t).collect();

        let out = run(&arrivals);
        prop_assert_eq!(delivered(&out), feed.clone(), "every tick, in order");
        prop_assert_eq!(missing(&out), gaps(&feed), "the feed's own gaps, no more");
        let dups = out.iter().filter(|g| g.verdict == Verdict::Duplicate).count();
        prop_assert_eq!(dups, repeats.len(), "one duplicate per repeat");
    }
}
