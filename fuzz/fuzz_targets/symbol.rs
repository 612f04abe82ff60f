//! A symbol as users and feeds write it (`BTC-USDT`, `btc/usdt`): normalising
//! gives `A-Z0-9` or nothing, is idempotent, and agrees with `has_symbol`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::feed::decode::has_symbol;
use shadowkpi_domain::symbol::{is_normalized, normalize_symbol};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let normal = normalize_symbol(raw);
    assert_eq!(normal.is_some(), has_symbol(raw), "{raw:?}");
    if let Some(n) = normal {
        assert!(is_normalized(&n), "{n:?}");
        assert_eq!(normalize_symbol(&n).as_deref(), Some(n.as_str()));
        let kept = raw.chars().filter(char::is_ascii_alphanumeric).count();
        assert_eq!(n.len(), kept);
    }
});
