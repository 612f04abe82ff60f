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
//! resolve as built-in defaults → `defaults` → per-symbol → preset → request
//! overrides, each layer replacing only the fields it sets: a preset named for
//! a run wins over the profile's per-symbol entries
//! ([`Profile::resolve_explained`] says which layer set each value). Unknown keys are
//! errors at every level, and the error names where the key is
//! (`presets.maker_bias_uplift_v1: unknown field `offset_bps`, …`), so a typo
//! can never silently fall back to a default. Symbol keys are normalised
//! (`btc-usdt` → `BTCUSDT`).
//!
//! The optional `models` section names execution model sets
//! ([`ModelSetSpec`], see [`crate::engine::model_spec`]); they add to the
//! built-in `lenient`, `shadow` and `dryrun` sets and may redefine them.
//! [`Profile::model_set`] is the one place a set name is resolved.
//!
//! The optional `instruments` section gives symbols their price and size grid
//! (`{"BTCUSDT": {"tick_size": 0.1, "lot_size": 0.001}}`, see
//! [`crate::instrument`]); a symbol without one has its grid inferred from
//! the feed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::model_spec::{self, ModelSetSpec};
use crate::instrument::Instrument;
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
    /// The requested model set does not exist.
    #[error("unknown model set `{name}` (available: {})", available.join(", "))]
    UnknownModelSet {
        /// The name asked for.
        name: String,
        /// Every set: built-in and the profile's.
        available: Vec<String>,
    },
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
    /// Named execution model sets, over the built-in ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, ModelSetSpec>,
    /// Per-symbol price and size grids; keys are normalised symbols.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instruments: BTreeMap<String, Instrument>,
}

const TOP_LEVEL_KEYS: [&str; 6] = [
    "description",
    "defaults",
    "presets",
    "symbols",
    "models",
    "instruments",
];

/// The profile shipped with shadowkpi (`profiles/shadow_profiles.json`).
pub const BUILTIN_PROFILE_JSON: &str = include_str!("../../../profiles/shadow_profiles.json");

/// The latency recordings the shipped profile refers to, by their path
/// relative to the profile (compiled in, so the built-in profile needs no files).
const BUILTIN_LATENCY_FILES: [(&str, &str); 1] = [(
    "latency/example_orders.csv",
    include_str!("../../../profiles/latency/example_orders.csv"),
)];

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
                "models" => {
                    for (name, v) in section("models", value)? {
                        let path = format!("models.{name}");
                        check_set_name(&path, &name)?;
                        let spec = ModelSetSpec::from_value(&path, v).map_err(|e| {
                            ProfileError::Invalid {
                                path: e.path,
                                message: e.message,
                            }
                        })?;
                        profile.models.insert(name, spec);
                    }
                }
                "instruments" => {
                    for (raw, v) in section("instruments", value)? {
                        let path = format!("instruments.{raw}");
                        let sym = normalize_symbol(&raw)
                            .ok_or_else(|| invalid(&path, "symbol is empty after normalisation"))?;
                        let i: Instrument = serde_json::from_value(v)
                            .map_err(|e| invalid(&path, &e.to_string()))?;
                        i.validate().map_err(|e| invalid(&path, &e.to_string()))?;
                        if profile.instruments.insert(sym.clone(), i).is_some() {
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

    /// The shipped profile with its latency recordings loaded; an empty
    /// profile should it ever not parse (a unit test checks it does).
    pub fn builtin() -> Profile {
        let Ok(mut p) = Profile::from_json_str(BUILTIN_PROFILE_JSON) else {
            return Profile::default();
        };
        let loaded = p.load_latency_files(|file| {
            BUILTIN_LATENCY_FILES
                .iter()
                .find(|(name, _)| *name == file)
                .map(|(_, text)| (*text).to_string())
                .ok_or_else(|| "not shipped with the built-in profile".to_string())
        });
        if loaded.is_err() {
            return Profile::default();
        }
        p
    }

    /// The configured grid of `symbol` (any spelling), if the profile has one.
    pub fn instrument(&self, symbol: &str) -> Option<Instrument> {
        normalize_symbol(symbol).and_then(|s| self.instruments.get(&s).copied())
    }

    /// Every model set name, sorted: the built-in ones and the profile's.
    pub fn model_set_names(&self) -> Vec<String> {
        model_spec::merged_sets(&self.models).into_keys().collect()
    }

    /// Every model set: the built-in ones, redefined or added to by the profile.
    pub fn model_sets(&self) -> BTreeMap<String, ModelSetSpec> {
        model_spec::merged_sets(&self.models)
    }

    /// The model set called `name` (the profile's first, then the built-in
    /// ones); an unknown name is an error listing every available set.
    pub fn model_set(&self, name: &str) -> Result<ModelSetSpec, ProfileError> {
        self.model_sets()
            .remove(name)
            .ok_or_else(|| ProfileError::UnknownModelSet {
                name: name.to_string(),
                available: self.model_set_names(),
            })
    }

    /// Reads every empirical latency `file` of the model sets through `read`
    /// (given the path as written, relative to the profile file; returns the
    /// text or why it could not be read) and keeps the points inline, so the
    /// profile is self-contained. Errors name the set, the file and the line.
    pub fn load_latency_files(
        &mut self,
        mut read: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<(), ProfileError> {
        for (name, spec) in &mut self.models {
            let Some(file) = spec.latency_file().map(str::to_string) else {
                continue;
            };
            let path = format!("models.{name}.latency.file");
            let text =
                read(&file).map_err(|e| invalid(&path, &format!("cannot read `{file}`: {e}")))?;
            spec.load_latency_file(&text)
                .map_err(|e| invalid(&path, &e.to_string()))?;
        }
        Ok(())
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
    /// the symbol's overrides → `preset` → `request`. A preset the user names
    /// wins over the profile's per-symbol entries (it is the more specific
    /// choice of this run); only the request's own overrides go over it. Fails
    /// on an unknown preset (naming it), an empty symbol or out-of-range
    /// results.
    pub fn resolve(
        &self,
        symbol: &str,
        preset: Option<&str>,
        request: &ParamOverrides,
    ) -> Result<StrategyParams, ProfileError> {
        self.resolve_explained(symbol, preset, request)
            .map(|(p, _)| p)
    }

    /// [`resolve`](Self::resolve), with where each field's value came from,
    /// by field name: `built-in`, `defaults`, `symbols.<SYMBOL>`,
    /// `presets.<NAME>` or `request`.
    pub fn resolve_explained(
        &self,
        symbol: &str,
        preset: Option<&str>,
        request: &ParamOverrides,
    ) -> Result<(StrategyParams, BTreeMap<&'static str, String>), ProfileError> {
        let sym =
            normalize_symbol(symbol).ok_or_else(|| ProfileError::InvalidSymbol(symbol.into()))?;
        let mut layers: Vec<(String, &ParamOverrides)> = vec![("defaults".into(), &self.defaults)];
        if let Some(o) = self.symbols.get(&sym) {
            layers.push((format!("symbols.{sym}"), o));
        }
        if let Some(name) = preset.filter(|n| !n.is_empty()) {
            let o = self
                .presets
                .get(name)
                .ok_or_else(|| ProfileError::UnknownPreset {
                    name: name.to_string(),
                    available: self.preset_names(),
                })?;
            layers.push((format!("presets.{name}"), o));
        }
        layers.push(("request".into(), request));
        let mut p = StrategyParams::default();
        let mut sources: BTreeMap<&'static str, String> = StrategyParams::FIELDS
            .into_iter()
            .map(|f| (f, "built-in".to_string()))
            .collect();
        for (name, o) in &layers {
            p = p.with_overrides(o);
            for (field, v) in StrategyParams::FIELDS.into_iter().zip(o.values()) {
                if v.is_some() {
                    sources.insert(field, name.clone());
                }
            }
        }
        p.validate().map_err(|e| ProfileError::InvalidParams {
            symbol: sym,
            message: e.to_string(),
        })?;
        Ok((p, sources))
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

/// Set names end up in notes (`model=<name>`) and flags: keep them plain.
fn check_set_name(path: &str, name: &str) -> Result<(), ProfileError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            &format!("model set name `{name}` must be non-empty letters, digits, `_`, `-` or `.`"),
        ))
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
        let (r, from) = p.resolve_explained("BTC_USDT", Some("wide"), &req).unwrap();
        assert_eq!(r.quote_offset_bps, 4.0); // preset over defaults
        assert_eq!(r.min_lot, 0.7); // the preset named for the run over the symbol's entry
        assert_eq!(r.touch_dwell_ms, 99.0); // request over everything
        assert_eq!(r.markout_ms, StrategyParams::default().markout_ms);
        assert_eq!(from["quote_offset_bps"], "presets.wide");
        assert_eq!(from["min_lot"], "presets.wide");
        assert_eq!(from["touch_dwell_ms"], "request");
        assert_eq!(from["markout_ms"], "built-in");
        assert_eq!(r, p.resolve("BTC_USDT", Some("wide"), &req).unwrap());
        // without a preset the symbol's entry applies over the defaults
        let (r, from) = p
            .resolve_explained("BTCUSDT", None, &ParamOverrides::default())
            .unwrap();
        assert_eq!((r.min_lot, r.quote_offset_bps), (0.01, 2.0));
        assert_eq!(from["min_lot"], "symbols.BTCUSDT");
        assert_eq!(from["quote_offset_bps"], "defaults");
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
    fn model_sets_resolve_builtin_and_profile_sets() {
        let p = Profile::from_json_str(
            r#"{"models": {
                "dryrun": {"latency": {"kind": "constant", "entry_ms": 70}, "queue": {"kind": "risk_averse"}},
                "slow": {"latency": {"kind": "constant", "feed_ms": 1, "entry_ms": 100}}
            }}"#,
        )
        .unwrap();
        assert_eq!(p.model_set_names(), ["dryrun", "lenient", "shadow", "slow"]);
        // a profile may redefine a built-in name
        assert_eq!(
            p.model_set("dryrun").unwrap().describe(),
            "latency=constant(feed=0ms,entry=70ms,response=0ms) queue=risk_averse partial_fills=false fees=params"
        );
        assert_eq!(
            p.model_set("shadow").unwrap(),
            model_spec::builtin_sets()["shadow"]
        );
        let err = p.model_set("strict").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown model set `strict` (available: dryrun, lenient, shadow, slow)"
        );
        // without a profile: the three built-in sets
        let err = Profile::default().model_set("").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown model set `` (available: dryrun, lenient, shadow)"
        );
        // round trip through the writer keeps the sets
        assert_eq!(Profile::from_json_str(&p.to_json_string()).unwrap(), p);
    }

    #[test]
    fn model_set_errors_name_the_path() {
        let err = Profile::from_json_str(
            r#"{"models": {"dryrun": {"queue": {"kind": "front", "nn": 3}}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile `models.dryrun.queue`: unknown field `nn`, there are no fields"
        );
        let err = Profile::from_json_str(r#"{"models": {"a b": {}}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile `models.a b`: model set name `a b` must be non-empty letters, digits, `_`, `-` or `.`"
        );
        let err = Profile::from_json_str(r#"{"models": []}"#).unwrap_err();
        assert_eq!(err.to_string(), "profile `models`: expected an object");
    }

    #[test]
    fn latency_files_are_read_through_the_caller_and_inlined() {
        let mut p = Profile::from_json_str(
            r#"{"models": {"m": {"latency": {"kind": "empirical", "file": "lat/a.csv"}}}}"#,
        )
        .unwrap();
        let mut asked = Vec::new();
        let err = p
            .clone()
            .load_latency_files(|f| {
                asked.push(f.to_string());
                Err("no such file".into())
            })
            .unwrap_err();
        assert_eq!(asked, ["lat/a.csv"]);
        assert_eq!(
            err.to_string(),
            "profile `models.m.latency.file`: cannot read `lat/a.csv`: no such file"
        );
        let err = p
            .clone()
            .load_latency_files(|_| Ok("ts_ms,entry_ms,response_ms\n1,x,2\n".into()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile `models.m.latency.file`: lat/a.csv line 2: `entry_ms` is `x`, expected a finite number"
        );
        p.load_latency_files(|_| Ok("ts_ms,entry_ms,response_ms\n0,10,2\n10,20,2\n".into()))
            .unwrap();
        let m = p.model_set("m").unwrap().build(0).unwrap();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        assert_eq!(m.latency.order_entry_ms(&mut rng, 5), 15);
        // inlined: the JSON sent to a service needs no file
        let sent = Profile::from_json_str(&p.to_json_string()).unwrap();
        assert_eq!(sent.model_set("m").unwrap().latency_file(), None);
        assert_eq!(sent, p);
    }

    #[test]
    fn builtin_profile_ships_an_empirical_set() {
        let p = Profile::builtin();
        assert_eq!(
            p.model_set_names(),
            ["dryrun", "lenient", "measured_example", "shadow"]
        );
        let spec = p.model_set("measured_example").unwrap();
        assert_eq!(spec.latency_file(), None, "recording is inlined");
        assert_eq!(
            spec.describe(),
            "latency=empirical(source=latency/example_orders.csv,points=25,\
             ts=1723075200000..1723161600000ms,entry=11.1..42ms,response=8..27.6ms,feed=6ms) \
             queue=prob_power(n=3) partial_fills=false fees=fixed(maker=-0.5bps,taker=4.5bps)"
        );
        let m = spec.build(7).unwrap();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        // 14:30 UTC, halfway between the 14:00 (42.0, 27.6) and 15:00 (40.9, 25.8) rows
        let t = 1_723_075_200_000 + 14 * 3_600_000 + 1_800_000;
        assert_eq!(m.latency.order_entry_ms(&mut rng, t), 41); // 41.45
        assert_eq!(m.latency.response_ms(&mut rng, t), 27); // 26.7
        // before the recording: its first row
        assert_eq!(m.latency.order_entry_ms(&mut rng, 0), 14);
        assert_eq!(m.latency.feed_delay_ms(&mut rng, 0), 6);
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

    #[test]
    fn instruments_are_read_per_symbol_and_bad_grids_are_named() {
        let p = Profile::from_json_str(
            r#"{"instruments": {"btc-usdt": {"tick_size": 0.1, "lot_size": 0.001}}}"#,
        )
        .unwrap();
        assert_eq!(
            p.instrument("BTC_USDT"),
            Some(Instrument::new(0.1, 0.001).unwrap())
        );
        assert_eq!(p.instrument("ETHUSDT"), None);
        assert_eq!(Profile::from_json_str(&p.to_json_string()).unwrap(), p);

        let err = Profile::from_json_str(
            r#"{"instruments": {"BTCUSDT": {"tick_size": 0, "lot_size": 0.001}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile `instruments.BTCUSDT`: tick_size must be positive and finite, got 0"
        );
        let err = Profile::from_json_str(
            r#"{"instruments": {"BTCUSDT": {"tick": 0.1, "lot_size": 0.001}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `tick`"), "{err}");
        let err = Profile::from_json_str(r#"{"instruments": {"BTCUSDT": {"tick_size": 0.1}}}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("missing field `lot_size`"),
            "{err}"
        );
    }
}
