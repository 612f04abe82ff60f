//! Engine throughput in ticks per second: 1 and 100 symbols, lenient and
//! strict models. A plain `harness = false` main timed with `std::time`, so it
//! needs nothing beyond the standard library:
//!
//! ```text
//! cargo bench -p shadowkpi-domain --bench engine
//! ```

use std::hint::black_box;
use std::time::Instant;

use shadowkpi_domain::engine::testfeed::btc_like_symbols;
use shadowkpi_domain::engine::{EngineConfig, ModelSet, ShadowEngine};
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::tick::Tick;

const T0: i64 = 1_700_000_000_000;

fn feed(symbols: usize, minutes: i64) -> Vec<Tick> {
    btc_like_symbols(symbols, T0, minutes * 60_000)
}

fn bench(label: &str, ticks: &[Tick], models: &ModelSet) {
    let params = StrategyParams {
        quote_offset_bps: 6.0,
        ..StrategyParams::default()
    };
    // Best of three, so a cold cache or a busy neighbour does not decide it.
    let mut best = f64::INFINITY;
    let mut windows = 0;
    for _ in 0..3 {
        let cfg = EngineConfig::new(60_000)
            .with_params(params.clone())
            .with_models(models.clone())
            .with_seed(1);
        let start = Instant::now();
        let mut engine = match ShadowEngine::new(cfg) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("bad bench config: {e}");
                return;
            }
        };
        let mut n = 0;
        for t in ticks {
            n += engine.on_tick(black_box(t)).len();
        }
        n += engine.finish().len();
        best = best.min(start.elapsed().as_secs_f64());
        windows = n;
    }
    println!(
        "{label:<28} {:>9} ticks {:>4} windows {:>8.3} s {:>12.0} ticks/s",
        ticks.len(),
        windows,
        best,
        ticks.len() as f64 / best
    );
}

fn main() {
    let one = feed(1, 30);
    let many = feed(100, 2);
    let sets = shadowkpi_domain::engine::model_spec::builtin_sets();
    for name in ["lenient", "dryrun"] {
        let Ok(models) = sets[name].build(7) else {
            continue;
        };
        bench(&format!("1 symbol, {name}"), &one, &models);
        bench(&format!("100 symbols, {name}"), &many, &models);
    }
}
