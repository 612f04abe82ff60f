//! Symbol normalisation: `BTC-USDT`, `btc/usdt` and `BTC_USDT` all become `BTCUSDT`.

/// Normalises a symbol to uppercase `A-Z0-9`, dropping every other character.
///
/// Returns `None` when nothing is left (an empty or punctuation-only symbol).
pub fn normalize_symbol(raw: &str) -> Option<String> {
    let out: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if out.is_empty() { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_case_are_removed() {
        for raw in ["BTC-USDT", "btc/usdt", "BTC_USDT", " btcusdt ", "BtC:UsDt"] {
            assert_eq!(normalize_symbol(raw).as_deref(), Some("BTCUSDT"), "{raw}");
        }
    }

    #[test]
    fn empty_symbol_is_rejected() {
        assert_eq!(normalize_symbol(""), None);
        assert_eq!(normalize_symbol("--/"), None);
    }
}
