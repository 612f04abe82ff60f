//! The real recording of `data/binance-btcusdt-2024-08-08/` for the tests
//! that run on it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use shadowkpi_domain::feed::replay::{MergeClock, TardisMerge, tardis_csv};
use shadowkpi_domain::tick::Tick;

/// A file of the recording, gunzipped on the fly.
pub fn data(file: &str) -> Box<dyn BufRead> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/binance-btcusdt-2024-08-08")
        .join(file);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Box::new(BufReader::new(MultiGzDecoder::new(f)))
}

/// The first `seconds` of the USD-M recording, quotes and trades merged on
/// the exchange's clock.
pub fn usdm(seconds: i64) -> Vec<Tick> {
    let sources = ["usdm_quotes.csv.gz", "usdm_trades.csv.gz"]
        .map(|name| tardis_csv(data(name), name, MergeClock::Exchange).expect("a Tardis header"))
        .into_iter()
        .collect();
    let ticks: Vec<Tick> = TardisMerge::new(sources).filter_map(Result::ok).collect();
    let t0 = ticks[0].ts_server_ms;
    ticks
        .into_iter()
        .take_while(|t| t.ts_server_ms < t0 + seconds * 1000)
        .collect()
}
