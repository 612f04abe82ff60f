//! The calibrated synthetic market against the real Binance BTCUSDT USD-M
//! recording in `data/`: every statistic of [`MarketStats`] within its
//! tolerance of the recording's, measured here from the files; the bounce
//! scenario is not. `--nocapture` prints the calibration table of
//! `docs/synthetic-market.md`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use shadowkpi_domain::feed::replay::{MergeClock, TardisMerge, tardis_csv};
use shadowkpi_domain::feed::stats::MarketStats;
use shadowkpi_domain::feed::synthetic::{FeedEntry, Scenario, SyntheticConfig, SyntheticFeed};
use shadowkpi_domain::tick::Tick;

fn data(file: &str) -> Box<dyn BufRead> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/binance-btcusdt-2024-08-08")
        .join(file);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Box::new(BufReader::new(MultiGzDecoder::new(f)))
}

/// Quotes and trades of one market merged on `clock` (arrival order is the
/// replay's default).
fn recording(market: &str, clock: MergeClock) -> MarketStats {
    let sources = ["quotes", "trades"]
        .map(|kind| {
            let name = format!("{market}_{kind}.csv.gz");
            tardis_csv(data(&name), &name, clock).expect("a Tardis header")
        })
        .into_iter()
        .collect();
    let ticks: Vec<Tick> = TardisMerge::new(sources).filter_map(Result::ok).collect();
    assert!(ticks.len() > 80_000, "{market}: {} ticks", ticks.len());
    MarketStats::measure(&ticks)
}

/// `minutes` of one synthetic symbol at `rate` updates per second.
fn synthetic(symbol: &str, scenario: Scenario, rate: f64, minutes: i64) -> MarketStats {
    synthetic_seeded(symbol, scenario, rate, minutes, 7)
}

fn synthetic_seeded(
    symbol: &str,
    scenario: Scenario,
    rate: f64,
    minutes: i64,
    seed: u64,
) -> MarketStats {
    let feed = SyntheticFeed::new(SyntheticConfig {
        symbols: vec![symbol.into()],
        seed,
        rate,
        duration_ms: minutes * 60_000,
        scenario,
        ..SyntheticConfig::default()
    })
    .expect("valid config");
    let ticks: Vec<Tick> = feed
        .filter_map(|e| match e {
            FeedEntry::Tick(t) => Some(t),
            _ => None,
        })
        .collect();
    MarketStats::measure(&ticks)
}

/// How close a synthetic statistic must be to the recording's.
#[derive(Clone, Copy)]
enum Tol {
    /// Relative: |s − r| ≤ x·|r|.
    Rel(f64),
    /// Absolute: |s − r| ≤ x.
    Abs(f64),
}

impl Tol {
    fn holds(self, real: f64, synth: f64) -> bool {
        match self {
            Tol::Rel(x) => (synth - real).abs() <= x * real.abs(),
            Tol::Abs(x) => (synth - real).abs() <= x,
        }
    }

    fn label(self) -> String {
        match self {
            Tol::Rel(x) if x < 1e-6 => "equal".into(),
            Tol::Rel(x) => format!("±{:.0} %", x * 100.0),
            Tol::Abs(x) => format!("±{x}"),
        }
    }
}

/// The statistics compared and their tolerances (rates at a synthetic rate
/// equal to the recording's quote update rate). Volatility and mean
/// reversion are measured less precisely than the rest: the recording's two
/// clocks alone differ by 13 % and 0.08 on them (arrival jitter adds
/// variance and negative autocorrelation).
fn rows(s: &MarketStats) -> Vec<(&'static str, f64, Tol)> {
    vec![
        ("tick size", s.tick_size, Tol::Rel(1e-9)),
        (
            "share of quote updates at a 1-tick spread",
            s.spread_ticks_share[0],
            Tol::Abs(0.02),
        ),
        (
            "share of quote updates at 4+ ticks",
            s.spread_ticks_share[3],
            Tol::Abs(0.02),
        ),
        ("mean spread, ticks", s.mean_spread_ticks, Tol::Rel(0.15)),
        ("quote updates / s", s.quote_rate_hz, Tol::Rel(0.05)),
        ("trades / s", s.trade_rate_hz, Tol::Rel(0.05)),
        ("trade size mean", s.trade_qty.mean, Tol::Rel(0.15)),
        ("trade size median", s.trade_qty.median, Tol::Rel(0.15)),
        ("trade size p90", s.trade_qty.p90, Tol::Rel(0.25)),
        ("touch size mean", s.touch_qty.mean, Tol::Rel(0.15)),
        ("touch size median", s.touch_qty.median, Tol::Rel(0.15)),
        (
            "volatility of 1 s mid returns, bp",
            s.vol_1s_bps,
            Tol::Rel(0.15),
        ),
        ("trades at the touch", s.trade_at_share, Tol::Abs(0.03)),
        (
            "trades through the touch",
            s.trade_through_share,
            Tol::Abs(0.03),
        ),
        (
            "trades behind the touch",
            s.trade_behind_share,
            Tol::Abs(0.03),
        ),
        (
            "autocorrelation of 250 ms mid returns",
            s.autocorr_250ms,
            Tol::Abs(0.15),
        ),
        (
            "autocorrelation of 500 ms mid returns",
            s.autocorr_500ms,
            Tol::Abs(0.15),
        ),
        (
            "autocorrelation of 1 s mid returns",
            s.autocorr_1s,
            Tol::Abs(0.15),
        ),
    ]
}

/// The statistics of `synth` outside their tolerance of `real`'s.
fn misses(real: &MarketStats, synth: &MarketStats) -> Vec<String> {
    rows(real)
        .into_iter()
        .zip(rows(synth))
        .filter(|((_, r, tol), (_, s, _))| !tol.holds(*r, *s))
        .map(|((name, r, tol), (_, s, _))| {
            format!("{name}: real {r}, synthetic {s} ({})", tol.label())
        })
        .collect()
}

#[test]
fn the_calibrated_market_matches_the_usdm_recording_and_the_bounce_does_not() {
    let usdm = recording("usdm", MergeClock::Local);
    let usdm_exchange = recording("usdm", MergeClock::Exchange);
    let spot = recording("spot", MergeClock::Local);
    // The recording's ~192 quote updates/s: every synthetic tick is one.
    let rate = usdm.quote_rate_hz;
    let calibrated = synthetic("BTCUSDT", Scenario::Calibrated, rate, 30);
    let bounce = synthetic("BTCUSDT", Scenario::Bounce, rate, 10);

    println!(
        "| statistic | real USD-M | real USD-M, exchange clock | real spot | synthetic | tolerance | bounce |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|");
    let columns = [&usdm, &usdm_exchange, &spot, &calibrated, &bounce].map(rows);
    for (i, (name, _, tol)) in columns[0].iter().enumerate() {
        let v = |c: usize| format!("{:.4}", columns[c][i].1);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            v(0),
            v(1),
            v(2),
            v(3),
            tol.label(),
            v(4)
        );
    }

    let missed = misses(&usdm, &calibrated);
    assert!(
        missed.is_empty(),
        "calibrated misses:\n{}",
        missed.join("\n")
    );
    // The bounce is another market: its spread, sizes, volatility, prints
    // and mean reversion are all off.
    let missed = misses(&usdm, &bounce);
    for stat in [
        "share of quote updates at a 1-tick spread",
        "volatility of 1 s mid returns, bp",
        "trades through the touch",
        "autocorrelation of 1 s mid returns",
    ] {
        assert!(
            missed.iter().any(|m| m.starts_with(stat)),
            "the bounce matches {stat}: {missed:?}"
        );
    }
    assert!(bounce.autocorr_1s < -0.3, "{}", bounce.autocorr_1s);
}

#[test]
fn the_shape_does_not_depend_on_the_rate_and_the_rates_scale_with_it() {
    let fast = synthetic("BTCUSDT", Scenario::Calibrated, 100.0, 30);
    let slow = synthetic("BTCUSDT", Scenario::Calibrated, 20.0, 30);
    assert!(
        (slow.quote_rate_hz / 20.0 - 1.0).abs() < 0.02,
        "{}",
        slow.quote_rate_hz
    );
    let trade_share = |s: &MarketStats| s.trade_rate_hz / s.quote_rate_hz;
    assert!((trade_share(&slow) - trade_share(&fast)).abs() < 0.01);
    // The volatility regime (one-minute half-life) makes one path's 1 s
    // volatility uncertain by ~10 %: pool the variance of four seeds.
    let pooled = |rate: f64| {
        let var: f64 = (1..=4)
            .map(|seed| {
                synthetic_seeded("BTCUSDT", Scenario::Calibrated, rate, 30, seed)
                    .vol_1s_bps
                    .powi(2)
            })
            .sum();
        (var / 4.0).sqrt()
    };
    let (vol_slow, vol_fast) = (pooled(20.0), pooled(100.0));
    assert!(
        (vol_slow / vol_fast - 1.0).abs() < 0.1,
        "{vol_slow} vs {vol_fast}"
    );
    assert!((slow.spread_ticks_share[0] - fast.spread_ticks_share[0]).abs() < 0.01);
    assert!((slow.touch_qty.median / fast.touch_qty.median - 1.0).abs() < 0.1);
}

#[test]
fn the_calibrated_ethusdt_keeps_the_shape_at_its_own_price_and_sizes() {
    let btc = synthetic("BTCUSDT", Scenario::Calibrated, 100.0, 30);
    let eth = synthetic("ETHUSDT", Scenario::Calibrated, 100.0, 30);
    assert_eq!(eth.tick_size, 0.01);
    assert!((eth.spread_ticks_share[0] - btc.spread_ticks_share[0]).abs() < 0.01);
    // The same notional per trade and per touch (price 3 000 vs 60 000).
    let ratio = |e: f64, b: f64| e / b / 20.0;
    assert!((ratio(eth.trade_qty.median, btc.trade_qty.median) - 1.0).abs() < 0.1);
    assert!((ratio(eth.touch_qty.median, btc.touch_qty.median) - 1.0).abs() < 0.1);
    // A little more volatile than BTC, like the real pair.
    assert!(eth.vol_1s_bps > btc.vol_1s_bps && eth.vol_1s_bps < 2.0 * btc.vol_1s_bps);
}
