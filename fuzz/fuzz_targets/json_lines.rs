//! A JSON Lines recording (`shadowctl feed --file x.jsonl`): every line is
//! either a tick or an error naming the file and the line; reading never stops
//! early on a bad line, and a tick's symbol is normalised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::feed::replay::{decode_json_line, jsonl};
use shadowkpi_domain::symbol::is_normalized;

fuzz_target!(|data: &[u8]| {
    let mut lines = 0usize;
    for item in jsonl(std::io::Cursor::new(data), "fuzz.jsonl") {
        lines += 1;
        assert!(lines <= data.len() + 1, "more items than lines");
        match item {
            Ok(tick) => assert!(is_normalized(&tick.symbol)),
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("fuzz.jsonl"),
                    "error does not name the file: {text}"
                );
                if e.fatal {
                    break;
                }
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(tick) = decode_json_line(text) {
            assert!(is_normalized(&tick.symbol));
        }
    }
});
