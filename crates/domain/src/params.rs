//! Strategy parameters and partial overrides of them.

use serde::{Deserialize, Serialize};

/// The complete parameter set of the quoting market maker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyParams {
    /// How long a quote must rest at the touch before a fill can count (ms).
    pub touch_dwell_ms: f64,
    /// Quote size in base units.
    pub min_lot: f64,
    /// Distance of each quote from the mid, basis points.
    pub quote_offset_bps: f64,
    /// Absolute inventory (base units) at which the strategy hedges.
    pub inventory_limit: f64,
    /// Mid move (basis points) that triggers a requote.
    pub requote_threshold_bps: f64,
    /// Maker fee in basis points; negative is a rebate.
    pub maker_fee_bps: f64,
    /// Taker fee in basis points.
    pub taker_fee_bps: f64,
    /// Mark-out horizon for the reference mid (ms).
    pub markout_ms: f64,
}

/// Defaults for a liquid USDT perpetual quoted in BTC-sized lots (per-symbol
/// lots and limits belong in the profile):
///
/// - `touch_dwell_ms = 0`: the lenient shadow model counts a fill as soon as
///   the market trades at or through the quote; with a jittery mid almost every
///   tick requotes, and any dwell would then suppress nearly all fills. Auto-tune
///   explores 0–100 ms.
/// - `min_lot = 0.01`, `inventory_limit = 1.0`: 100 lots of room, so a day of
///   random fills keeps the risk ratio modest.
/// - `quote_offset_bps = 1.0`: close enough to the mid to fill on an ordinary
///   random-walk feed, deep enough not to sit on the touch of a 1-tick book.
/// - `requote_threshold_bps = 0.5`: requotes a few times a second on a
///   1–2 bp/√s feed, which keeps order ages (and `p95_latency_ms`) in the
///   hundreds of ms.
/// - `maker_fee_bps = -0.5` (a market-maker rebate), `taker_fee_bps = 5.5`,
///   `markout_ms = 1000`: typical top-tier USDT-perp fees and a one-second
///   mark-out.
impl Default for StrategyParams {
    fn default() -> Self {
        Self {
            touch_dwell_ms: 0.0,
            min_lot: 0.01,
            quote_offset_bps: 1.0,
            inventory_limit: 1.0,
            requote_threshold_bps: 0.5,
            maker_fee_bps: -0.5,
            taker_fee_bps: 5.5,
            markout_ms: 1000.0,
        }
    }
}

/// A parameter value the simulation cannot run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} {reason}, got {value}")]
pub struct ParamError {
    /// The offending field, e.g. `min_lot`.
    pub field: &'static str,
    /// What it must be, e.g. `must be positive`.
    pub reason: &'static str,
    /// The value given.
    pub value: f64,
}

impl StrategyParams {
    /// Checks that every value is finite and in range: `min_lot` and
    /// `inventory_limit` positive; `touch_dwell_ms`, `quote_offset_bps`,
    /// `requote_threshold_bps` and `markout_ms` non-negative. Fees may be
    /// negative (rebates).
    pub fn validate(&self) -> Result<(), ParamError> {
        for (field, value) in Self::FIELDS.into_iter().zip(self.values()) {
            let positive = matches!(field, "min_lot" | "inventory_limit");
            if !value.is_finite() {
                return Err(ParamError {
                    field,
                    reason: "must be finite",
                    value,
                });
            }
            let fee = field.ends_with("fee_bps");
            if positive && value <= 0.0 {
                return Err(ParamError {
                    field,
                    reason: "must be positive",
                    value,
                });
            }
            if !fee && value < 0.0 {
                return Err(ParamError {
                    field,
                    reason: "must not be negative",
                    value,
                });
            }
        }
        Ok(())
    }

    /// The field names, in declaration order (the order of [`Self::values`]).
    pub const FIELDS: [&'static str; 8] = [
        "touch_dwell_ms",
        "min_lot",
        "quote_offset_bps",
        "inventory_limit",
        "requote_threshold_bps",
        "maker_fee_bps",
        "taker_fee_bps",
        "markout_ms",
    ];

    /// The values, in the order of [`Self::FIELDS`].
    pub fn values(&self) -> [f64; 8] {
        [
            self.touch_dwell_ms,
            self.min_lot,
            self.quote_offset_bps,
            self.inventory_limit,
            self.requote_threshold_bps,
            self.maker_fee_bps,
            self.taker_fee_bps,
            self.markout_ms,
        ]
    }

    /// True when every field is bit-for-bit equal, so both serialise to the
    /// same JSON (`==` takes `-0.0` for `0.0`, whose JSON differs).
    pub fn bitwise_eq(&self, other: &Self) -> bool {
        self.values()
            .iter()
            .zip(other.values())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    }

    /// Returns a copy with every present override applied.
    pub fn with_overrides(&self, o: &ParamOverrides) -> Self {
        let mut p = self.clone();
        macro_rules! apply {
            ($($f:ident),*) => { $( if let Some(v) = o.$f { p.$f = v; } )* };
        }
        apply!(
            touch_dwell_ms,
            min_lot,
            quote_offset_bps,
            inventory_limit,
            requote_threshold_bps,
            maker_fee_bps,
            taker_fee_bps,
            markout_ms
        );
        p
    }
}

impl ParamOverrides {
    /// The values, in the order of [`StrategyParams::FIELDS`].
    pub fn values(&self) -> [Option<f64>; 8] {
        [
            self.touch_dwell_ms,
            self.min_lot,
            self.quote_offset_bps,
            self.inventory_limit,
            self.requote_threshold_bps,
            self.maker_fee_bps,
            self.taker_fee_bps,
            self.markout_ms,
        ]
    }
}

/// A partial parameter set: absent fields keep the value underneath.
/// Unknown keys are an error, so a typo in a profile is never a silent default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamOverrides {
    /// See [`StrategyParams::touch_dwell_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_dwell_ms: Option<f64>,
    /// See [`StrategyParams::min_lot`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lot: Option<f64>,
    /// See [`StrategyParams::quote_offset_bps`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_offset_bps: Option<f64>,
    /// See [`StrategyParams::inventory_limit`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_limit: Option<f64>,
    /// See [`StrategyParams::requote_threshold_bps`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requote_threshold_bps: Option<f64>,
    /// See [`StrategyParams::maker_fee_bps`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maker_fee_bps: Option<f64>,
    /// See [`StrategyParams::taker_fee_bps`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_fee_bps: Option<f64>,
    /// See [`StrategyParams::markout_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markout_ms: Option<f64>,
}

impl ParamOverrides {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl From<&StrategyParams> for ParamOverrides {
    fn from(p: &StrategyParams) -> Self {
        Self {
            touch_dwell_ms: Some(p.touch_dwell_ms),
            min_lot: Some(p.min_lot),
            quote_offset_bps: Some(p.quote_offset_bps),
            inventory_limit: Some(p.inventory_limit),
            requote_threshold_bps: Some(p.requote_threshold_bps),
            maker_fee_bps: Some(p.maker_fee_bps),
            taker_fee_bps: Some(p.taker_fee_bps),
            markout_ms: Some(p.markout_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_values_cover_every_serialised_field_in_order() {
        let p = StrategyParams {
            touch_dwell_ms: 1.0,
            min_lot: 2.0,
            quote_offset_bps: 3.0,
            inventory_limit: 4.0,
            requote_threshold_bps: 5.0,
            maker_fee_bps: 6.0,
            taker_fee_bps: 7.0,
            markout_ms: 8.0,
        };
        let json = serde_json::to_value(&p).unwrap();
        let object = json.as_object().unwrap();
        let serialised: Vec<(&str, f64)> = object
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_f64().unwrap()))
            .collect();
        let ours: Vec<(&str, f64)> = StrategyParams::FIELDS.into_iter().zip(p.values()).collect();
        assert_eq!(ours, serialised);
    }

    #[test]
    fn bitwise_equality_tells_signed_zeros_apart() {
        let fee = |maker_fee_bps| StrategyParams {
            maker_fee_bps,
            ..StrategyParams::default()
        };
        assert!(fee(0.0).bitwise_eq(&fee(0.0)));
        assert!(!fee(0.0).bitwise_eq(&fee(-0.0)));
        assert!(fee(-0.5).bitwise_eq(&StrategyParams::default()));
        assert_eq!(fee(0.0), fee(-0.0), "while == takes them for equal");
    }
}
