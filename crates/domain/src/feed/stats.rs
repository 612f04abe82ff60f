//! Statistics of a market feed, the same for a recording and for the
//! synthetic market, so one can be calibrated against the other
//! ([`MarketStats::measure`]).
//!
//! # Definitions
//! The ticks are those of one symbol in time order (a replay of a Tardis
//! recording merged by [`crate::feed::replay::TardisMerge`], or the synthetic
//! feed's ticks of one symbol).
//! - A **quote update** is a tick whose book (bid, ask, sizes) differs from
//!   the previous tick's; a **trade** is a tick with `last_qty > 0`. A
//!   recording's trade ticks carry the last seen book, so they are not quote
//!   updates; a synthetic tick is both when it carries a trade.
//! - Rates are per second of event time, over the span from the first to the
//!   last tick.
//! - The **tick size** is the smallest positive distance between two prices
//!   seen (bid–ask or a move of the bid or the ask).
//! - Spread and touch sizes are taken over quote updates (each update counts
//!   once, whatever it lasted); the touch size pools both sides.
//! - **Volatility** is the standard deviation of the log-returns of the mid
//!   sampled every second (the last mid at or before each second after the
//!   first tick), in basis points.
//! - A trade prints **at** the touch when its price equals the side it takes
//!   (the ask for a buy, the bid for a sell), **through** it when beyond
//!   (above the ask, below the bid), **behind** it otherwise (a recording's
//!   trade message often arrives after the quote it moved).
//! - **Mean reversion**: the first-order autocorrelation of the mid's
//!   log-returns sampled every 250 ms, 500 ms and 1 s; a bid/ask bounce makes
//!   it clearly negative.

use serde::{Deserialize, Serialize};

use crate::tick::{Side, Tick};

/// Mean, median and 90th percentile of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Distribution {
    /// Mean.
    pub mean: f64,
    /// Median (the lower middle value of an even sample).
    pub median: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
}

impl Distribution {
    /// The distribution of `values` (all zero when empty).
    pub fn of(values: &mut [f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let rank = |q: f64| values[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Self {
            mean: values.iter().sum::<f64>() / n as f64,
            median: rank(0.5),
            p90: rank(0.9),
        }
    }
}

/// Statistics of one symbol's feed (see the module documentation for the
/// definitions).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarketStats {
    /// Ticks measured.
    pub ticks: u64,
    /// Event time from the first to the last tick, seconds.
    pub span_s: f64,
    /// The smallest positive price distance seen.
    pub tick_size: f64,
    /// Share of quote updates with a spread of 1, 2, 3 and 4 or more ticks.
    pub spread_ticks_share: [f64; 4],
    /// Mean spread of quote updates, ticks.
    pub mean_spread_ticks: f64,
    /// Quote updates per second.
    pub quote_rate_hz: f64,
    /// Trades per second.
    pub trade_rate_hz: f64,
    /// Trade sizes.
    pub trade_qty: Distribution,
    /// Displayed size at the touch (both sides pooled) over quote updates.
    pub touch_qty: Distribution,
    /// Standard deviation of 1 s mid log-returns, bps.
    pub vol_1s_bps: f64,
    /// Share of trades printed at the touch.
    pub trade_at_share: f64,
    /// Share of trades printed through the touch.
    pub trade_through_share: f64,
    /// Share of trades printed behind the touch.
    pub trade_behind_share: f64,
    /// Lag-1 autocorrelation of mid log-returns sampled every 250 ms.
    pub autocorr_250ms: f64,
    /// Lag-1 autocorrelation of mid log-returns sampled every 500 ms.
    pub autocorr_500ms: f64,
    /// Lag-1 autocorrelation of mid log-returns sampled every second.
    pub autocorr_1s: f64,
}

impl MarketStats {
    /// Measures `ticks` (one symbol, in time order; ticks with a non-positive
    /// bid or ask are skipped). All zero for an empty feed.
    pub fn measure(ticks: &[Tick]) -> Self {
        let ticks: Vec<&Tick> = ticks
            .iter()
            .filter(|t| t.bid > 0.0 && t.ask > 0.0 && t.ask >= t.bid)
            .collect();
        let (Some(first), Some(last)) = (ticks.first(), ticks.last()) else {
            return Self::default();
        };
        let span_s = (last.ts_server_ms - first.ts_server_ms) as f64 / 1000.0;

        // Tick size: smallest positive distance, on a 1e-9 grid.
        let mut tick_size = f64::INFINITY;
        let mut consider = |d: f64| {
            let d = (d.abs() * 1e9).round() / 1e9;
            if d > 0.0 && d < tick_size {
                tick_size = d;
            }
        };
        let mut prev: Option<&Tick> = None;
        for t in &ticks {
            consider(t.ask - t.bid);
            if let Some(p) = prev {
                consider(t.bid - p.bid);
                consider(t.ask - p.ask);
            }
            prev = Some(t);
        }
        if !tick_size.is_finite() {
            tick_size = 0.0;
        }

        let mut spread_counts = [0u64; 4];
        let mut spread_sum = 0.0;
        let mut quotes = 0u64;
        let mut touch = Vec::new();
        let mut trades = Vec::new();
        let (mut at, mut through, mut behind) = (0u64, 0u64, 0u64);
        let half = tick_size / 2.0;
        let mut prev: Option<&Tick> = None;
        for t in &ticks {
            let book_changed = prev.is_none_or(|p| {
                (p.bid, p.ask, p.bid_qty, p.ask_qty) != (t.bid, t.ask, t.bid_qty, t.ask_qty)
            });
            prev = Some(t);
            if t.last_qty > 0.0 {
                trades.push(t.last_qty);
                let px = t.last_px.unwrap_or(match t.side {
                    Side::Sell => t.bid,
                    _ => t.ask,
                });
                // Beyond the side taken, in ticks (positive: through).
                let beyond = match t.side {
                    Side::Buy => Some(px - t.ask),
                    Side::Sell => Some(t.bid - px),
                    Side::Unspecified => None,
                };
                match beyond {
                    Some(d) if d.abs() <= half => at += 1,
                    Some(d) if d > 0.0 => through += 1,
                    Some(_) => behind += 1,
                    None => {}
                }
            }
            if !book_changed {
                continue;
            }
            quotes += 1;
            if tick_size > 0.0 {
                let spread = ((t.ask - t.bid) / tick_size).round();
                spread_sum += spread;
                spread_counts[(spread.max(1.0) as usize).min(4) - 1] += 1;
            }
            touch.extend(t.bid_qty);
            touch.extend(t.ask_qty);
        }
        let classified = (at + through + behind).max(1) as f64;
        let quotes_f = quotes.max(1) as f64;
        let per_s = |n: usize| if span_s > 0.0 { n as f64 / span_s } else { 0.0 };

        let returns = |step_ms: i64| sampled_log_returns(&ticks, step_ms);
        let r1 = returns(1000);
        Self {
            ticks: ticks.len() as u64,
            span_s,
            tick_size,
            spread_ticks_share: spread_counts.map(|c| c as f64 / quotes_f),
            mean_spread_ticks: spread_sum / quotes_f,
            quote_rate_hz: per_s(quotes as usize),
            trade_rate_hz: per_s(trades.len()),
            trade_qty: Distribution::of(&mut trades),
            touch_qty: Distribution::of(&mut touch),
            vol_1s_bps: stdev(&r1) * 1e4,
            trade_at_share: at as f64 / classified,
            trade_through_share: through as f64 / classified,
            trade_behind_share: behind as f64 / classified,
            autocorr_250ms: autocorr(&returns(250)),
            autocorr_500ms: autocorr(&returns(500)),
            autocorr_1s: autocorr(&r1),
        }
    }
}

/// Log-returns of the mid sampled every `step_ms` from the first tick (the
/// last mid at or before each sample time).
fn sampled_log_returns(ticks: &[&Tick], step_ms: i64) -> Vec<f64> {
    let Some(first) = ticks.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut next = first.ts_server_ms + step_ms;
    let mut last_mid = first.mid();
    let mut prev_sample = last_mid;
    for t in ticks {
        while t.ts_server_ms > next {
            out.push((last_mid / prev_sample).ln());
            prev_sample = last_mid;
            next += step_ms;
        }
        last_mid = t.mid();
    }
    let end = ticks.last().map_or(next, |t| t.ts_server_ms);
    while next <= end {
        out.push((last_mid / prev_sample).ln());
        prev_sample = last_mid;
        next += step_ms;
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

fn stdev(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

fn autocorr(x: &[f64]) -> f64 {
    if x.len() < 3 {
        return 0.0;
    }
    let m = mean(x);
    let var: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
    if var == 0.0 {
        return 0.0;
    }
    let cov: f64 = x.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    cov / var
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(ts: i64, bid: f64, ask: f64, qty: f64) -> Tick {
        Tick {
            symbol: "BTCUSDT".into(),
            ts_server_ms: ts,
            bid,
            ask,
            bid_qty: Some(qty),
            ask_qty: Some(qty),
            ..Tick::default()
        }
    }

    fn trade(ts: i64, book: &Tick, px: f64, qty: f64, side: Side) -> Tick {
        Tick {
            ts_server_ms: ts,
            last_qty: qty,
            last_px: Some(px),
            side,
            ..book.clone()
        }
    }

    #[test]
    fn a_hand_made_feed_measures_what_it_was_made_of() {
        let q1 = quote(0, 100.0, 100.1, 1.0);
        let q2 = quote(500, 100.1, 100.3, 3.0);
        let q3 = quote(1500, 100.0, 100.1, 2.0);
        let ticks = vec![
            q1.clone(),
            trade(100, &q1, 100.1, 0.5, Side::Buy), // at
            q2.clone(),
            trade(600, &q2, 100.0, 1.0, Side::Sell), // through
            trade(700, &q2, 100.3, 2.0, Side::Sell), // behind
            q3.clone(),
            trade(2000, &q3, 100.0, 4.0, Side::Sell), // at
        ];
        let s = MarketStats::measure(&ticks);
        assert_eq!(s.ticks, 7);
        assert_eq!(s.span_s, 2.0);
        assert!((s.tick_size - 0.1).abs() < 1e-9, "{}", s.tick_size);
        // Three quote updates: spreads 1, 2, 1 ticks.
        assert!((s.quote_rate_hz - 1.5).abs() < 1e-9);
        assert!((s.trade_rate_hz - 2.0).abs() < 1e-9);
        assert_eq!(s.spread_ticks_share, [2.0 / 3.0, 1.0 / 3.0, 0.0, 0.0]);
        assert!((s.mean_spread_ticks - 4.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            s.trade_qty,
            Distribution {
                mean: 1.875,
                median: 1.0,
                p90: 4.0
            }
        );
        assert_eq!(s.touch_qty.median, 2.0);
        assert_eq!(
            (
                s.trade_at_share,
                s.trade_through_share,
                s.trade_behind_share
            ),
            (0.5, 0.25, 0.25)
        );
        // Mid at 1 s: 100.2 (q2), at 2 s: 100.05 (q3): returns ±a, whose
        // sample deviation is a·√2.
        let a = (100.2f64 / 100.05).ln();
        let expected = a * 2f64.sqrt() * 1e4;
        assert!((s.vol_1s_bps - expected).abs() < 1e-6, "{}", s.vol_1s_bps);
    }

    #[test]
    fn an_alternating_mid_is_mean_reverting_and_a_trend_is_not() {
        let bounce: Vec<Tick> = (0..400)
            .map(|i| {
                let up = if i % 2 == 0 { 0.0 } else { 0.5 };
                quote(i * 250, 100.0 + up, 100.1 + up, 1.0)
            })
            .collect();
        let s = MarketStats::measure(&bounce);
        assert!(s.autocorr_250ms < -0.9, "{}", s.autocorr_250ms);
        // A random walk of ±1 tick a second: no autocorrelation to speak of.
        let (mut x, mut level) = (1u64, 1000i64);
        let walk: Vec<Tick> = (0..2000)
            .map(|i| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                level += if x >> 63 == 0 { 1 } else { -1 };
                quote(
                    i * 1000,
                    level as f64 / 10.0,
                    (level + 1) as f64 / 10.0,
                    1.0,
                )
            })
            .collect();
        let w = MarketStats::measure(&walk);
        assert!(w.autocorr_1s.abs() < 0.15, "{}", w.autocorr_1s);
        assert!(s.autocorr_250ms < w.autocorr_1s - 0.5);
        assert_eq!(MarketStats::measure(&[]), MarketStats::default());
    }
}
