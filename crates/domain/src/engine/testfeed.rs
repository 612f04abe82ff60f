//! A small deterministic tick generator for tests, benches and auto-tune
//! experiments: one symbol per spec, a `Vec` of ticks, no faults, no
//! calibration. It is *not* the synthetic market ([`crate::feed::synthetic`],
//! calibrated on a real recording, with fault injection, streamed); the two
//! share their random draws (`crate::draw`), and the engine's tests and
//! benchmarks keep this one because their figures are pinned to its ticks.
//!
//! Per symbol: an efficient price following a Gaussian random walk in log
//! space, plus optional mean-reverting microstructure noise (an AR(1) in basis
//! points, the "bounce" a quoting maker earns from); a spread of 1..=N ticks
//! that changes now and then; exponential top-of-book sizes; trades on a given
//! fraction of ticks with a random aggressor, printed at the touch; exponential
//! inter-arrival times. Everything is drawn from one ChaCha8 stream per spec,
//! so a spec and its seed always give the same ticks.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::draw::{exponential, normal, unit};
use crate::tick::{Side, Tick};

/// Parameters of one generated symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    /// Normalised symbol.
    pub symbol: String,
    /// Starting mid.
    pub start_price: f64,
    /// Price increment.
    pub tick_size: f64,
    /// `ts_server_ms` of the first tick.
    pub start_ms: i64,
    /// Length of the recording, ms.
    pub duration_ms: i64,
    /// Mean time between ticks, ms (exponential).
    pub mean_interval_ms: f64,
    /// Volatility of the efficient price, bps per √second.
    pub vol_bps_per_sqrt_s: f64,
    /// Stationary standard deviation of the mean-reverting noise, bps (0: a
    /// pure random walk).
    pub noise_bps: f64,
    /// Half-life of the noise, ms.
    pub noise_half_life_ms: f64,
    /// Widest spread, ticks (spread is uniform in `1..=max_spread_ticks`).
    pub max_spread_ticks: u32,
    /// Probability that a tick carries a trade.
    pub trade_probability: f64,
    /// Mean trade size, base units.
    pub mean_trade_qty: f64,
    /// Mean displayed size at each touch, base units.
    pub mean_level_qty: f64,
    /// `ts_ingest_ms − ts_server_ms`, ms (0: no ingest time).
    pub ingest_delay_ms: i64,
    /// Seed of the stream.
    pub seed: u64,
}

impl FeedSpec {
    /// BTCUSDT-like: ~60 000, tick 0.1, ~40 ticks/s, 1 bp/√s random walk,
    /// 1–4 tick spread, 4 bp of 200 ms half-life bounce, trades on 40 % of
    /// ticks.
    pub fn btc_like(seed: u64, start_ms: i64, duration_ms: i64) -> Self {
        Self {
            symbol: "BTCUSDT".into(),
            start_price: 60_000.0,
            tick_size: 0.1,
            start_ms,
            duration_ms,
            mean_interval_ms: 25.0,
            vol_bps_per_sqrt_s: 1.0,
            noise_bps: 4.0,
            noise_half_life_ms: 200.0,
            max_spread_ticks: 4,
            trade_probability: 0.4,
            mean_trade_qty: 0.05,
            mean_level_qty: 1.5,
            ingest_delay_ms: 3,
            seed,
        }
    }

    /// ETHUSDT-like: ~3 000, tick 0.01, otherwise like [`btc_like`](Self::btc_like)
    /// with sizes in ETH.
    pub fn eth_like(seed: u64, start_ms: i64, duration_ms: i64) -> Self {
        Self {
            symbol: "ETHUSDT".into(),
            start_price: 3_000.0,
            tick_size: 0.01,
            mean_trade_qty: 1.0,
            mean_level_qty: 30.0,
            ..Self::btc_like(seed, start_ms, duration_ms)
        }
    }

    /// The same spec without microstructure noise: a pure random walk, on
    /// which a passive maker's expected edge is half the spread plus the rebate.
    pub fn without_noise(mut self) -> Self {
        self.noise_bps = 0.0;
        self
    }

    /// Generates the ticks, ordered by time, `seq` from 1.
    pub fn generate(&self) -> Vec<Tick> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut out = Vec::new();
        let mut t = self.start_ms;
        let end = self.start_ms.saturating_add(self.duration_ms);
        let mut log_eff = 0.0_f64;
        let mut noise = 0.0_f64;
        let mut spread_ticks = 1 + uniform_u32(&mut rng, self.max_spread_ticks.max(1));
        let mut seq = 0u64;
        while t < end {
            let dt = (exponential(&mut rng, self.mean_interval_ms).round() as i64).max(1);
            t += dt;
            if t >= end {
                break;
            }
            let dt_s = dt as f64 / 1000.0;
            log_eff += self.vol_bps_per_sqrt_s / 1e4 * dt_s.sqrt() * normal(&mut rng);
            if self.noise_bps > 0.0 && self.noise_half_life_ms > 0.0 {
                let phi = (-(dt as f64) * std::f64::consts::LN_2 / self.noise_half_life_ms).exp();
                noise = phi * noise + self.noise_bps * (1.0 - phi * phi).sqrt() * normal(&mut rng);
            }
            // Spread changes on about 5 % of ticks, so it widens and narrows
            // over seconds rather than flickering.
            if unit(&mut rng) < 0.05 {
                spread_ticks = 1 + uniform_u32(&mut rng, self.max_spread_ticks.max(1));
            }
            let mid = self.start_price * log_eff.exp() * (1.0 + noise / 1e4);
            let half = f64::from(spread_ticks) * self.tick_size / 2.0;
            let bid_ticks = ((mid - half) / self.tick_size).round();
            let bid = round_to(bid_ticks * self.tick_size, self.tick_size);
            let ask = round_to(
                (bid_ticks + f64::from(spread_ticks)) * self.tick_size,
                self.tick_size,
            );
            let bid_qty =
                round_qty(exponential(&mut rng, self.mean_level_qty) + self.mean_level_qty * 0.1);
            let ask_qty =
                round_qty(exponential(&mut rng, self.mean_level_qty) + self.mean_level_qty * 0.1);
            let (last_px, last_qty, side) = if unit(&mut rng) < self.trade_probability {
                let qty = round_qty(
                    exponential(&mut rng, self.mean_trade_qty).max(self.mean_trade_qty * 0.05),
                );
                if unit(&mut rng) < 0.5 {
                    (Some(ask), qty, Side::Buy)
                } else {
                    (Some(bid), qty, Side::Sell)
                }
            } else {
                (None, 0.0, Side::Unspecified)
            };
            seq += 1;
            out.push(Tick {
                symbol: self.symbol.clone(),
                seq,
                ts_server_ms: t,
                bid,
                ask,
                last_qty,
                bid_qty: Some(bid_qty),
                ask_qty: Some(ask_qty),
                last_px,
                side,
                ts_ingest_ms: if self.ingest_delay_ms > 0 {
                    t + self.ingest_delay_ms
                } else {
                    0
                },
                ts_recv_ms: None,
            });
        }
        out
    }
}

/// The benchmarks' feed: `symbols` BTC-like symbols (`SYM000USDT`, …, seeds
/// 1, 2, …) from `t0_ms` over `duration_ms` of event time, merged in time
/// order.
pub fn btc_like_symbols(symbols: usize, t0_ms: i64, duration_ms: i64) -> Vec<Tick> {
    let feeds = (0..symbols)
        .map(|i| {
            let mut spec = FeedSpec::btc_like(i as u64 + 1, t0_ms, duration_ms);
            spec.symbol = format!("SYM{i:03}USDT");
            spec.generate()
        })
        .collect();
    merge(feeds)
}

/// Merges per-symbol recordings into one feed ordered by `ts_server_ms`
/// (ties keep the order of `feeds`), as a multiplexed stream would deliver it.
pub fn merge(feeds: Vec<Vec<Tick>>) -> Vec<Tick> {
    let mut all: Vec<(i64, usize, usize, Tick)> = feeds
        .into_iter()
        .enumerate()
        .flat_map(|(f, ticks)| {
            ticks
                .into_iter()
                .enumerate()
                .map(move |(i, t)| (t.ts_server_ms, f, i, t))
        })
        .collect();
    all.sort_by_key(|(ts, f, i, _)| (*ts, *f, *i));
    all.into_iter().map(|(_, _, _, t)| t).collect()
}

fn round_to(x: f64, step: f64) -> f64 {
    // Keep prices on a clean decimal grid (0.1, 0.01) for readable fixtures.
    let decimals = (-step.log10()).ceil().max(0.0) as i32;
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn round_qty(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Uniform in `0..n`.
fn uniform_u32(rng: &mut ChaCha8Rng, n: u32) -> u32 {
    (rng.next_u64() % u64::from(n.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_well_formed() {
        let spec = FeedSpec::btc_like(7, 1_000_000, 60_000);
        let a = spec.generate();
        let b = spec.generate();
        assert_eq!(a, b);
        // ~40 ticks/s over 60 s
        assert!((2_100..2_700).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0].ts_server_ms < w[1].ts_server_ms));
        assert!(
            a.iter()
                .all(|t| t.bid < t.ask && t.ask - t.bid <= 0.4 + 1e-9)
        );
        let trades = a.iter().filter(|t| t.last_qty > 0.0).count() as f64 / a.len() as f64;
        assert!((0.3..0.5).contains(&trades), "{trades}");
    }
}
