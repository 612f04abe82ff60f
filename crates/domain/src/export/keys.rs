//! The key names of the KPI store.

use crate::kpi::Kpi;

/// An `env` or `exchange` segment that cannot be used in a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct KeyError {
    /// `env` or `exchange`.
    pub field: &'static str,
    /// Why the value is rejected.
    pub reason: String,
}

/// The key prefix `{env}:{exchange}:shadow` and every key below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    prefix: String,
}

fn check_segment(field: &'static str, value: &str) -> Result<(), KeyError> {
    if value.is_empty() {
        return Err(KeyError {
            field,
            reason: "must not be empty".into(),
        });
    }
    // `:` would shift every segment; glob characters would make SCAN patterns
    // over the schema match other keys.
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(KeyError {
            field,
            reason: format!("`{value}` contains `{c}`; use letters, digits, `-`, `_` or `.`"),
        });
    }
    Ok(())
}

impl KeySchema {
    /// The schema of one environment and exchange (`dev`, `bybit`). Both must be
    /// non-empty and made of letters, digits, `-`, `_` and `.`.
    pub fn new(env: &str, exchange: &str) -> Result<Self, KeyError> {
        check_segment("env", env)?;
        check_segment("exchange", exchange)?;
        Ok(Self {
            prefix: format!("{env}:{exchange}:shadow"),
        })
    }

    /// `{env}:{exchange}:shadow`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}:{kind}:{symbol}[:{suffix}]`, allocated once at its final
    /// size (keys are built for every symbol of an export).
    fn key(&self, kind: &str, symbol: &str, suffix: Option<&str>) -> String {
        let extra = suffix.map_or(0, |s| s.len() + 1);
        let mut k =
            String::with_capacity(self.prefix.len() + kind.len() + symbol.len() + 2 + extra);
        k.push_str(&self.prefix);
        k.push(':');
        k.push_str(kind);
        k.push(':');
        k.push_str(symbol);
        if let Some(s) = suffix {
            k.push(':');
            k.push_str(s);
        }
        k
    }

    /// Hash of the latest KPIs: `{env}:{exchange}:shadow:latest:{SYMBOL}`.
    pub fn latest(&self, symbol: &str) -> String {
        self.key("latest", symbol, None)
    }

    /// Flat key of one KPI: `{env}:{exchange}:shadow:latest:{SYMBOL}:{kpi}`.
    pub fn flat(&self, symbol: &str, kpi: Kpi) -> String {
        self.key("latest", symbol, Some(kpi.name()))
    }

    /// Stream of per-window KPIs: `{env}:{exchange}:shadow:stream:{SYMBOL}`.
    pub fn stream(&self, symbol: &str) -> String {
        self.key("stream", symbol, None)
    }

    /// Provenance hash: `{env}:{exchange}:shadow:meta:{SYMBOL}`.
    pub fn meta(&self, symbol: &str) -> String {
        self.key("meta", symbol, None)
    }

    /// `SCAN` pattern matching every key of this schema.
    pub fn pattern(&self) -> String {
        format!("{}:*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        let k = KeySchema::new("dev", "bybit").unwrap();
        assert_eq!(k.latest("BTCUSDT"), "dev:bybit:shadow:latest:BTCUSDT");
        assert_eq!(
            k.flat("BTCUSDT", Kpi::P95LatencyMs),
            "dev:bybit:shadow:latest:BTCUSDT:p95_latency_ms"
        );
        assert_eq!(k.stream("ETHUSDT"), "dev:bybit:shadow:stream:ETHUSDT");
        assert_eq!(k.meta("ETHUSDT"), "dev:bybit:shadow:meta:ETHUSDT");
        assert_eq!(k.pattern(), "dev:bybit:shadow:*");
    }

    #[test]
    fn segments_that_would_break_the_schema_are_rejected() {
        assert_eq!(KeySchema::new("", "bybit").unwrap_err().field, "env");
        let e = KeySchema::new("dev", "by:bit").unwrap_err();
        assert_eq!(e.field, "exchange");
        assert!(e.to_string().contains("`:`"), "{e}");
        assert!(KeySchema::new("prod-eu", "okx_v5.1").is_ok());
        assert!(KeySchema::new("dev*", "bybit").is_err());
        assert!(KeySchema::new("dev", "by bit").is_err());
    }
}
