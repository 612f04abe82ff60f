//! A duration string (`--window 60s`, `SHADOWKPI_DRAIN_TIMEOUT=500ms`): parsed
//! or refused with a message quoting it; a parsed duration reads back the same
//! from its own canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::duration::parse_duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_duration(text) {
        Ok(d) => {
            let canonical = humantime::format_duration(d).to_string();
            assert_eq!(parse_duration(&canonical), Ok(d), "{canonical}");
        }
        Err(e) => assert!(e == "empty duration" || e.contains(text), "{e}"),
    }
});
