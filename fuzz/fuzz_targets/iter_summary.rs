//! An ITER_SUMMARY document (ours or either legacy shape), as `exportd` and
//! `dryrund` read them from the artifacts directory: parsed and normalised, it
//! must serialise to our format and read back as the same summary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::export::reader::{normalize_summary, parse_iter_summary};
use shadowkpi_domain::symbol::is_normalized;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(summary) = parse_iter_summary(text) else {
        return;
    };
    let Ok(summary) = normalize_summary(summary) else {
        return;
    };
    for symbol in summary.symbols.keys() {
        assert!(is_normalized(symbol), "symbol {symbol:?} not normalised");
    }
    let ours = serde_json::to_string(&summary).expect("a summary serialises");
    let back = parse_iter_summary(&ours)
        .unwrap_or_else(|e| panic!("our own serialisation is refused: {e}\n{ours}"));
    let back = normalize_summary(back).expect("normalised twice");
    // NaN never reaches a summary (JSON has none), so equality is exact.
    assert_eq!(back, summary, "serialise → parse changed the summary");
});
