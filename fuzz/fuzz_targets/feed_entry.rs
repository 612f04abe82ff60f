//! A stream entry's fields, as ingestd reads them from `lob:ticks`: the input
//! is split on NUL into alternating names and values. A decoded tick must
//! survive encode → decode unchanged, and a rejection must name its field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::feed::decode::{decode, decode_raw, encode, has_symbol};
use shadowkpi_domain::symbol::is_normalized;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parts: Vec<&str> = text.split('\0').collect();
    let fields: Vec<(&str, &str)> = parts
        .chunks(2)
        .map(|c| (c[0], *c.get(1).unwrap_or(&"")))
        .collect();
    match decode(fields.iter().copied()) {
        Ok(tick) => {
            assert!(
                is_normalized(&tick.symbol),
                "symbol {:?} not normalised",
                tick.symbol
            );
            let raw = decode_raw(fields.iter().copied()).expect("decode_raw agrees with decode");
            assert!(has_symbol(raw.symbol));
            let again = encode(&tick);
            let back = decode(again.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .unwrap_or_else(|r| panic!("re-encoded tick rejected: {}", r.message));
            assert_eq!(back, tick, "encode → decode changed the tick");
        }
        Err(reject) => {
            assert!(!reject.message.is_empty());
            assert!(
                decode_raw(fields.iter().copied()).is_err(),
                "decode_raw accepts what decode rejects"
            );
        }
    }
});
