//! A recorded latency file (`latency_file` of a model set): a CSV of
//! `ts_ms,entry_ms,response_ms` or hftbacktest's `req_ts,exch_ts,resp_ts`.
//! Errors name the file; an accepted file has non-negative latencies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::engine::latency::EmpiricalLatency;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match EmpiricalLatency::parse(text, "fuzz.csv") {
        Ok(latency) => {
            for p in latency.points() {
                assert!(p.entry_ms >= 0.0 && p.response_ms >= 0.0, "{p:?}");
                assert!(p.entry_ms.is_finite() && p.response_ms.is_finite(), "{p:?}");
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.csv"), "{e}"),
    }
});
