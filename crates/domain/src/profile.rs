//! Strategy profiles: the `profiles/shadow_profiles.json` document.
//!
//! ```json
//! {
//!   "description": "optional free text",
//!   "defaults": { "touch_dwell_ms": 0, "quote_offset_bps": 6 },
//!   "presets":  { "maker_bias_uplift_v1": { "quote_offset_bps": 7 } },
//!   "symbols":  { "BTCUSDT": { "min_lot": 0.01 } }
//! }
//! ```
//!
//! Every section is a partial parameter set ([`ParamOverrides`]); parameters
//! resolve as built-in defaults → `defaults` → preset → per-symbol → request
//! overrides, each layer replacing only the fields it sets. Unknown keys are
//! errors at every level, and the error names where the key is
//! (`presets.maker_bias_uplift_v1: unknown field `offset_bps`, …`), so a typo
//! can never silently fall back to a default. Symbol keys are normalised
//! (`btc-usdt` → `BTCUSDT`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::params::{ParamOverrides, StrategyParams};
use crate::symbol::normalize_symbol;

/// Why a profile could not be read or resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// The text is not JSON.
    #[error("profile is not valid JSON: {0}")]
    Syntax(String),
    /// A key or value is wrong at `path`.
    #[error("profile `{path}`: {message}")]
    Invalid {
        /// Dotted path of the offending section, e.g. `presets.foo`.
        path: String,
        /// What is wrong (serde's message, naming the key).
        message: String,
    },
    /// The requested preset does not exist.
    #[error("unknown preset `{name}` (available: {})", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The presets the profile has.
        available: Vec<String>,
    },
    /// A symbol normalises to nothing.
    #[error("symbol `{0}` is empty after normalisation")]
    InvalidSymbol(String),
    /// The resolved parameters are out of range.
    #[error("resolved params for `{symbol}` are invalid: {message}")]
    InvalidParams {
        /// The symbol being resolved.
        symbol: String,
        /// Which field and why.
        message: String,
    },
}

/// A profile document; see the module docs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Free text, e.g. where the values came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Applied to every symbol, over the built-in defaults.
    #[serde(default)]
    pub defaults: ParamOverrides,
    /// Named parameter sets chosen per run.
    #[serde(default)]
    pub presets: BTreeMap<String, ParamOverrides>,
    /// Per-symbol overrides; keys are normalised symbols.
    #[serde(default)]
    pub symbols: BTreeMap<String, ParamOverrides>,
}

const TOP_LEVEL_KEYS: [&str; 4] = ["description", "defaults", "presets", "symbols"];

impl Profile {
    /// Parses a profile, naming the path of any unknown key or bad value.
    pub fn from_json_str(text: &str) -> Result<Profile, ProfileError> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| ProfileError::Syntax(e.to_string()))?;
        let Value::Object(root) = root else {
            return Err(invalid("", "expected an object at the top level"));
        };
        let mut profile = Profile::default();
        for (key, value) in root {
            match key.as_str() {
                "description" => {
                    profile.description = match value {
                        Value::Null => None,
                        Value::String(s) => Some(s),
                        _ => return Err(invalid("description", "expected a string")),
                    }
                }
                "defaults" => profile.defaults = overrides_at("defaults", value)?,
                "presets" => {
                    for (name, v) in section("presets", value)? {
                        let path = format!("presets.{name}");
                        let o = overrides_at(&path, v)?;
                        profile.presets.insert(name, o);
                    }
                }
                "symbols" => {
                    for (raw, v) in section("symbols", value)? {
                        let path = format!("symbols.{raw}");
                        let sym = normalize_symbol(&raw)
                            .ok_or_else(|| invalid(&path, "symbol is empty after normalisation"))?;
                        let o = overrides_at(&path, v)?;
                        if profile.symbols.insert(sym.clone(), o).is_some() {
                            return Err(invalid(
                                &path,
                                &format!("duplicates `{sym}` after normalisation"),
                            ));
                        }
                    }
                }
                other => {
                    return Err(invalid(
                        other,
                        &format!(
                            "unknown field `{other}`, expected one of {}",
                            TOP_LEVEL_KEYS.map(|k| format!("`{k}`")).join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(profile)
    }

    /// Pretty JSON in the same format (keys ordered, so output is stable).
    pub fn to_json_string(&self) -> String {
        // Serialising plain maps of f64 cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Preset names, sorted.
    pub fn preset_names(&self) -> Vec<String> {
        self.presets.keys().cloned().collect()
    }

    /// The effective parameters of `symbol`: built-in defaults → `defaults` →
    /// `preset` → the symbol's overrides → `request`. Fails on an unknown
    /// preset (naming it), an empty symbol or out-of-range results.
    pub fn resolve(
        &self,
        symbol: &str,
        preset: Option<&str>,
        request: &ParamOverrides,
    ) -> Result<StrategyParams, ProfileError> {
        let sym =
            normalize_symbol(symbol).ok_or_else(|| ProfileError::InvalidSymbol(symbol.into()))?;
        let mut p = StrategyParams::default().with_overrides(&self.defaults);
        if let Some(name) = preset.filter(|n| !n.is_empty()) {
            let o = self
                .presets
                .get(name)
                .ok_or_else(|| ProfileError::UnknownPreset {
                    name: name.to_string(),
                    available: self.preset_names(),
                })?;
            p = p.with_overrides(o);
        }
        if let Some(o) = self.symbols.get(&sym) {
            p = p.with_overrides(o);
        }
        p = p.with_overrides(request);
        p.validate().map_err(|e| ProfileError::InvalidParams {
            symbol: sym,
            message: e.to_string(),
        })?;
        Ok(p)
    }

    /// Sets (replaces) the overrides of one symbol, normalising its name.
    pub fn set_symbol(
        &mut self,
        symbol: &str,
        overrides: ParamOverrides,
    ) -> Result<(), ProfileError> {
        let sym =
            normalize_symbol(symbol).ok_or_else(|| ProfileError::InvalidSymbol(symbol.into()))?;
        self.symbols.insert(sym, overrides);
        Ok(())
    }
}

fn invalid(path: &str, message: &str) -> ProfileError {
    ProfileError::Invalid {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn section(path: &str, value: Value) -> Result<serde_json::Map<String, Value>, ProfileError> {
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(serde_json::Map::new()),
        _ => Err(invalid(path, "expected an object")),
    }
}

fn overrides_at(path: &str, value: Value) -> Result<ParamOverrides, ProfileError> {
    if value.is_null() {
        return Ok(ParamOverrides::default());
    }
    serde_json::from_value(value).map_err(|e| invalid(path, &e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../profiles/shadow_profiles.json");

    #[test]
    fn shipped_profile_parses_and_resolves() {
        let p = Profile::from_json_str(SHIPPED).unwrap();
        assert!(p.presets.contains_key("maker_bias_uplift_v1"));
        assert!(p.symbols.contains_key("BTCUSDT") && p.symbols.contains_key("ETHUSDT"));
        for sym in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] {
            for preset in [None, Some("maker_bias_uplift_v1")] {
                p.resolve(sym, preset, &ParamOverrides::default()).unwrap();
            }
        }
        // round trip through the writer
        assert_eq!(Profile::from_json_str(&p.to_json_string()).unwrap(), p);
    }

    #[test]
    fn layers_apply_in_order() {
        let p = Profile::from_json_str(
            r#"{
                "defaults": {"quote_offset_bps": 2.0, "min_lot": 0.5, "touch_dwell_ms": 10},
                "presets": {"wide": {"quote_offset_bps": 4.0, "min_lot": 0.7}},
                "symbols": {"btc-usdt": {"min_lot": 0.01}}
            }"#,
        )
        .unwrap();
        let req = ParamOverrides {
            touch_dwell_ms: Some(99.0),
            ..ParamOverrides::default()
        };
        let r = p.resolve("BTC_USDT", Some("wide"), &req).unwrap();
        assert_eq!(r.quote_offset_bps, 4.0); // preset over defaults
        assert_eq!(r.min_lot, 0.01); // symbol over preset
        assert_eq!(r.touch_dwell_ms, 99.0); // request over everything
        assert_eq!(r.markout_ms, StrategyParams::default().markout_ms);
        let eth = p
            .resolve("ETHUSDT", None, &ParamOverrides::default())
            .unwrap();
        assert_eq!((eth.quote_offset_bps, eth.min_lot), (2.0, 0.5));
    }

    #[test]
    fn unknown_key_error_names_the_key_and_its_path() {
        let err = Profile::from_json_str(
            r#"{"presets": {"maker_bias_uplift_v1": {"quote_ofset_bps": 3}}}"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("presets.maker_bias_uplift_v1"), "{msg}");
        assert!(msg.contains("unknown field `quote_ofset_bps`"), "{msg}");

        let err = Profile::from_json_str(r#"{"symbols": {"ETHUSDT": {"lot": 1}}}"#).unwrap_err();
        assert!(err.to_string().contains("symbols.ETHUSDT"), "{err}");
        assert!(err.to_string().contains("unknown field `lot`"), "{err}");

        let err = Profile::from_json_str(r#"{"default": {}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `default`"), "{err}");

        let err = Profile::from_json_str(r#"{"defaults": {"min_lot": "big"}}"#).unwrap_err();
        assert!(err.to_string().contains("`defaults`"), "{err}");

        assert!(matches!(
            Profile::from_json_str("{nope"),
            Err(ProfileError::Syntax(_))
        ));
        let dup = Profile::from_json_str(r#"{"symbols": {"BTCUSDT": {}, "btc-usdt": {}}}"#);
        assert!(
            dup.unwrap_err()
                .to_string()
                .contains("duplicates `BTCUSDT`")
        );
    }

    #[test]
    fn unknown_preset_is_an_error_naming_it() {
        let p = Profile::from_json_str(r#"{"presets": {"a": {}, "b": {}}}"#).unwrap();
        let err = p
            .resolve(
                "BTCUSDT",
                Some("maker_bias_uplift_v9"),
                &ParamOverrides::default(),
            )
            .unwrap_err();
        assert_eq!(
            err,
            ProfileError::UnknownPreset {
                name: "maker_bias_uplift_v9".into(),
                available: vec!["a".into(), "b".into()],
            }
        );
        assert_eq!(
            err.to_string(),
            "unknown preset `maker_bias_uplift_v9` (available: a, b)"
        );
    }

    #[test]
    fn out_of_range_result_is_rejected() {
        let p = Profile::from_json_str(r#"{"defaults": {"min_lot": 0}}"#).unwrap();
        let err = p
            .resolve("BTCUSDT", None, &ParamOverrides::default())
            .unwrap_err();
        assert!(
            err.to_string().contains("min_lot must be positive"),
            "{err}"
        );
    }
}
