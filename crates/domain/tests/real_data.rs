//! The engine on the real Binance BTCUSDT recordings shipped in `data/`
//! (spot and USD-M, every best bid/ask update and every trade): the shipped
//! profile fills in every window with the soak's and the dry run's model sets,
//! and the touch-joining maker of the hftbacktest cross-check reproduces the
//! reference's maker fill count (`tools/crosscheck`, `FIDELITY.md`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use shadowkpi_domain::engine::latency::RecordedFeed;
use shadowkpi_domain::engine::{
    ConstantLatency, EngineConfig, ModelSet, RiskAverseQueue, ShadowEngine, WindowResult,
};
use shadowkpi_domain::feed::replay::{MergeClock, TardisMerge, tardis_csv};
use shadowkpi_domain::instrument::Instrument;
use shadowkpi_domain::params::{ParamOverrides, StrategyParams};
use shadowkpi_domain::profile::Profile;
use shadowkpi_domain::tick::Tick;

const PROFILE: &str = include_str!("../../../profiles/shadow_profiles.json");

fn data(file: &str) -> Box<dyn BufRead> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/binance-btcusdt-2024-08-08")
        .join(file);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Box::new(BufReader::new(MultiGzDecoder::new(f)))
}

/// Quotes and trades of one market merged on `clock`.
fn merged(market: &str, clock: MergeClock) -> Vec<Tick> {
    let sources = ["quotes", "trades"]
        .map(|kind| {
            let name = format!("{market}_{kind}.csv.gz");
            tardis_csv(data(&name), &name, clock).expect("a Tardis header")
        })
        .into_iter()
        .collect();
    let ticks: Vec<Tick> = TardisMerge::new(sources).filter_map(Result::ok).collect();
    assert!(ticks.len() > 80_000, "{market}: {} ticks", ticks.len());
    ticks
}

/// Quotes and trades of one market merged in arrival order.
fn ticks(market: &str) -> Vec<Tick> {
    merged(market, MergeClock::Local)
}

fn grid(market: &str) -> Instrument {
    match market {
        "usdm" => Instrument::new(0.1, 0.001),
        _ => Instrument::new(0.01, 0.000_01),
    }
    .expect("valid grid")
}

fn run(market: &str, params: StrategyParams, models: ModelSet) -> Vec<WindowResult> {
    let cfg = EngineConfig::new(60_000)
        .with_symbol("BTCUSDT", params)
        .with_instrument("BTCUSDT", grid(market))
        .with_models(models)
        .with_seed(7);
    ShadowEngine::run(cfg, &ticks(market)).expect("valid config")
}

#[test]
fn the_shipped_profile_fills_in_every_window_of_both_recordings_with_both_model_sets() {
    let profile = Profile::from_json_str(PROFILE).expect("shipped profile parses");
    let params = profile
        .resolve("BTCUSDT", None, &ParamOverrides::default())
        .expect("BTCUSDT resolves");
    for market in ["usdm", "spot"] {
        for (set, models) in [
            ("shadow", ModelSet::shadow()),
            ("dryrun", ModelSet::strict(7)),
        ] {
            let windows = run(market, params.clone(), models);
            let full: Vec<&WindowResult> = windows.iter().filter(|w| !w.partial).collect();
            // USD-M spans 344 s, spot 650 s: 5 and 10 full minutes.
            let expected = if market == "usdm" { 5 } else { 10 };
            assert_eq!(full.len(), expected, "{market} {set}");
            for w in full {
                let k = &w.symbols["BTCUSDT"].kpis;
                assert!(
                    k.maker_count >= 10,
                    "{market} {set} window {}: {k:?}",
                    w.iteration
                );
                assert!(k.edge_bps.is_some() && k.p95_latency_ms.is_some());
            }
        }
    }
}

/// The touch-joining maker of the cross-check: 0.01 BTC, position limit
/// ±0.05, requote on any move of the touch, fees 0.
fn touch_join() -> StrategyParams {
    StrategyParams {
        touch_dwell_ms: 0.0,
        min_lot: 0.01,
        quote_offset_bps: 0.0,
        inventory_limit: 0.05,
        requote_threshold_bps: 0.0,
        maker_fee_bps: 0.0,
        taker_fee_bps: 0.0,
        markout_ms: 1_000.0,
    }
}

#[test]
fn the_touch_joining_maker_matches_hftbacktest_on_the_usdm_recording() {
    // hftbacktest 2.4.4, NoPartialFillExchange, risk-averse queue, the same
    // rows in the same milliseconds (tools/crosscheck): 951 maker fills at
    // 0 ms order latency, 544 at 10 ms, 321 at 50 ms.
    for (latency, reference) in [(0, 951.0), (10, 544.0), (50, 321.0)] {
        let models = ModelSet::builder()
            .queue(RiskAverseQueue)
            .latency(ConstantLatency {
                feed_ms: 0,
                entry_ms: latency,
                response_ms: latency,
            })
            .build();
        let windows = run("usdm", touch_join(), models);
        let makers: u64 = windows
            .iter()
            .map(|w| w.symbols["BTCUSDT"].kpis.maker_count)
            .sum();
        let diff = (makers as f64 - reference) / reference;
        assert!(
            diff.abs() <= 0.10,
            "latency {latency} ms: {makers} maker fills against hftbacktest's {reference}"
        );
    }
}

#[test]
fn the_recorded_feed_delay_of_the_usdm_recording_is_its_two_clocks_less_their_offset() {
    // Both USD-M files carry the exchange's time; the recorder's arrival
    // time rides along.
    let ticks = merged("usdm", MergeClock::Exchange);
    let offsets: Vec<i64> = ticks
        .iter()
        .filter_map(|t| t.ts_recv_ms.map(|r| r - t.ts_server_ms))
        .collect();
    // Every USD-M row has both clocks; the recorder runs ~1.27 s behind.
    assert_eq!(offsets.len(), ticks.len());
    let min = *offsets.iter().min().unwrap();
    assert!((-1_330..=-1_220).contains(&min), "clock offset {min} ms");
    let mut feed = RecordedFeed::new();
    let mut extra: Vec<i64> = ticks
        .iter()
        .map(|t| feed.extra_ms(t.ts_server_ms, t.ts_recv_ms))
        .collect();
    extra.sort_unstable();
    let q = |p: f64| extra[((extra.len() - 1) as f64 * p) as usize];
    // What is left is transit jitter: a few ms typically, tens at worst,
    // never negative and never the 1.27 s of the clocks' offset.
    assert!(q(0.0) >= 0, "{}", q(0.0));
    assert!(q(0.5) <= 10, "median {} ms", q(0.5));
    assert!((5..=100).contains(&q(0.95)), "p95 {} ms", q(0.95));
    assert!(q(1.0) < 1_000, "max {} ms", q(1.0));

    let models = |recorded| {
        ModelSet::builder()
            .queue(RiskAverseQueue)
            .latency(ConstantLatency {
                feed_ms: 0,
                entry_ms: 10,
                response_ms: 10,
            })
            .recorded_feed(recorded)
            .build()
    };
    let makers = |recorded| -> u64 {
        let cfg = EngineConfig::new(60_000)
            .with_symbol("BTCUSDT", touch_join())
            .with_instrument("BTCUSDT", grid("usdm"))
            .with_models(models(recorded))
            .with_seed(7);
        ShadowEngine::run(cfg, &ticks)
            .expect("valid config")
            .iter()
            .map(|w| w.symbols["BTCUSDT"].kpis.maker_count)
            .sum()
    };
    // Deciding that much later costs the touch-joining maker queue places:
    // 553 maker fills at 10 ms order latency become 461 with the recorded
    // feed delay on top.
    let (model, recorded) = (makers(false), makers(true));
    assert!(
        recorded < model && recorded as f64 > 0.5 * model as f64,
        "{recorded} maker fills with the recorded feed delay, {model} without"
    );
}
