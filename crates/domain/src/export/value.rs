//! The number format of the KPI store.

use std::fmt::Write;

/// Formats a KPI value as the shortest decimal that reads back as the same
/// `f64`, without an exponent and without a trailing `.0`: `3.2`, `250`,
/// `0.0001`. `-0` is written as `0`.
///
/// Returns `None` for NaN and infinities: such a value is treated like an
/// absent KPI and never written.
pub fn format_value(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    if v == 0.0 {
        return Some("0".into());
    }
    // Rust's `Display` for f64 is the shortest round-trip representation and
    // never uses scientific notation or a `.0` suffix. Most values fit in 24
    // bytes: reserving them spares `format!` growing the string step by step.
    let mut s = String::with_capacity(24);
    let _ = write!(s, "{v}");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shortest_round_trip_decimals() {
        assert_eq!(format_value(3.2).as_deref(), Some("3.2"));
        assert_eq!(format_value(250.0).as_deref(), Some("250"));
        assert_eq!(format_value(0.85).as_deref(), Some("0.85"));
        assert_eq!(format_value(-1.5).as_deref(), Some("-1.5"));
        assert_eq!(format_value(-0.0).as_deref(), Some("0"));
        assert_eq!(
            format_value(0.1 + 0.2).as_deref(),
            Some("0.30000000000000004")
        );
        assert_eq!(format_value(1e-7).as_deref(), Some("0.0000001"));
        assert_eq!(
            format_value(1e21).as_deref(),
            Some("1000000000000000000000")
        );
        assert_eq!(format_value(f64::NAN), None);
        assert_eq!(format_value(f64::INFINITY), None);
        for v in [3.2, 250.0, 0.1 + 0.2, 1e-7, 123_456.789, f64::MIN_POSITIVE] {
            let s = format_value(v).unwrap();
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s} round-trips");
        }
    }
}
