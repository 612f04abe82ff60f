//! Symbol normalisation: `BTC-USDT`, `btc/usdt` and `BTC_USDT` all become `BTCUSDT`.

/// Normalises a symbol to uppercase `A-Z0-9`, dropping every other character.
///
/// Returns `None` when nothing is left (an empty or punctuation-only symbol).
pub fn normalize_symbol(raw: &str) -> Option<String> {
    if is_normalized(raw) {
        return Some(raw.to_string());
    }
    let out: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if out.is_empty() { None } else { Some(out) }
}

/// True when `raw` is already normalised (non-empty, only `A-Z` and `0-9`):
/// [`normalize_symbol`] would return it unchanged.
pub fn is_normalized(raw: &str) -> bool {
    !raw.is_empty()
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
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
    fn normalised_symbols_are_recognised() {
        for s in [
            "BTCUSDT",
            "1000PEPEUSDT",
            "BTC-USDT",
            "btcusdt",
            "",
            "BTC USDT",
        ] {
            assert_eq!(
                is_normalized(s),
                normalize_symbol(s).as_deref() == Some(s),
                "{s:?}"
            );
        }
        assert!(is_normalized("BTCUSDT"));
        assert!(!is_normalized("BTC-USDT"));
    }

    #[test]
    fn empty_symbol_is_rejected() {
        assert_eq!(normalize_symbol(""), None);
        assert_eq!(normalize_symbol("--/"), None);
    }
}
