//! Latency models: how long market data takes to reach the strategy, orders
//! take to reach the exchange, and the exchange's responses take to come back.
//!
//! As in hftbacktest, an order's round trip has two legs: *entry* (strategy →
//! exchange; the order is live, or rejected, on arrival) and *response*
//! (exchange → strategy; acknowledgements, fills and cancel confirmations reach
//! the strategy that much later). The *feed* delay is the time between a tick's
//! event time and the strategy acting on it.
//!
//! Every delay is drawn per event from the symbol's seeded ChaCha8 stream and may
//! depend on the event time (`ts_ms`), so a model interpolated over a recording
//! of measured round trips fits the same trait.

use std::fmt;

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// Delays in event-time milliseconds, drawn per action from the symbol's
/// random stream (constant models ignore it).
pub trait LatencyModel: fmt::Debug + Send + Sync {
    /// Short description for logs and reports, with every parameter.
    fn describe(&self) -> String;

    /// Seed mixed into every symbol's random stream.
    fn seed(&self) -> u64 {
        0
    }

    /// Delay between a tick's event time `ts_ms` and the strategy seeing it.
    fn feed_delay_ms(&self, rng: &mut ChaCha8Rng, ts_ms: i64) -> i64;

    /// Delay between the strategy sending an order (or cancel) at `ts_ms` and
    /// the exchange processing it.
    fn order_entry_ms(&self, rng: &mut ChaCha8Rng, ts_ms: i64) -> i64;

    /// Delay between the exchange responding at `ts_ms` (acknowledgement,
    /// rejection, fill, cancel confirmation) and the strategy receiving it.
    fn response_ms(&self, rng: &mut ChaCha8Rng, ts_ms: i64) -> i64;
}

/// Fixed delays; `ConstantLatency::default()` is no latency at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConstantLatency {
    /// Feed delay, ms.
    pub feed_ms: i64,
    /// Order entry delay, ms.
    pub entry_ms: i64,
    /// Response delay, ms.
    pub response_ms: i64,
}

impl LatencyModel for ConstantLatency {
    fn describe(&self) -> String {
        format!(
            "constant(feed={}ms,entry={}ms,response={}ms)",
            self.feed_ms, self.entry_ms, self.response_ms
        )
    }

    fn feed_delay_ms(&self, _rng: &mut ChaCha8Rng, _ts_ms: i64) -> i64 {
        self.feed_ms.max(0)
    }

    fn order_entry_ms(&self, _rng: &mut ChaCha8Rng, _ts_ms: i64) -> i64 {
        self.entry_ms.max(0)
    }

    fn response_ms(&self, _rng: &mut ChaCha8Rng, _ts_ms: i64) -> i64 {
        self.response_ms.max(0)
    }
}

/// Delays drawn uniformly from inclusive ranges with the symbol's seeded
/// ChaCha8 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniformLatency {
    /// Feed delay range `(min, max)`, ms inclusive.
    pub feed_ms: (i64, i64),
    /// Order entry range `(min, max)`, ms inclusive.
    pub entry_ms: (i64, i64),
    /// Response range `(min, max)`, ms inclusive.
    pub response_ms: (i64, i64),
    /// Seed mixed into every symbol's stream.
    pub seed: u64,
}

impl LatencyModel for UniformLatency {
    fn describe(&self) -> String {
        format!(
            "uniform(feed={}..{}ms,entry={}..{}ms,response={}..{}ms,seed={})",
            self.feed_ms.0,
            self.feed_ms.1,
            self.entry_ms.0,
            self.entry_ms.1,
            self.response_ms.0,
            self.response_ms.1,
            self.seed
        )
    }

    fn seed(&self) -> u64 {
        self.seed
    }

    fn feed_delay_ms(&self, rng: &mut ChaCha8Rng, _ts_ms: i64) -> i64 {
        uniform_i64(rng, self.feed_ms)
    }

    fn order_entry_ms(&self, rng: &mut ChaCha8Rng, _ts_ms: i64) -> i64 {
        uniform_i64(rng, self.entry_ms)
    }

    fn response_ms(&self, rng: &mut ChaCha8Rng, _ts_ms: i64) -> i64 {
        uniform_i64(rng, self.response_ms)
    }
}

/// Uniform integer in an inclusive range from the raw 64-bit stream. Done by
/// hand (modulo; the bias is below 1e-16 for ranges this small) so results do
/// not depend on the sampling algorithm of a `rand` release.
pub(crate) fn uniform_i64(rng: &mut ChaCha8Rng, (lo, hi): (i64, i64)) -> i64 {
    let (lo, hi) = (lo.max(0), hi.max(0));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let span = (hi - lo) as u64 + 1;
    lo + (rng.next_u64() % span) as i64
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn uniform_latency_is_seeded_and_in_range() {
        let m = UniformLatency {
            feed_ms: (2, 10),
            entry_ms: (20, 80),
            response_ms: (5, 5),
            seed: 7,
        };
        let mut a = ChaCha8Rng::seed_from_u64(42);
        let mut b = ChaCha8Rng::seed_from_u64(42);
        let xs: Vec<i64> = (0..200).map(|_| m.order_entry_ms(&mut a, 0)).collect();
        let ys: Vec<i64> = (0..200).map(|_| m.order_entry_ms(&mut b, 0)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (20..=80).contains(x)));
        assert!(xs.iter().any(|&x| x < 30) && xs.iter().any(|&x| x > 70));
        assert_eq!(m.response_ms(&mut a, 0), 5);
    }
}
