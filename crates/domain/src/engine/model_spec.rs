//! Execution model sets as configuration: the `models` section of a profile.
//!
//! ```json
//! "models": {
//!   "measured": {
//!     "latency": {"kind": "empirical", "file": "latency/orders.csv"},
//!     "queue": {"kind": "prob_power", "n": 3},
//!     "partial_fills": false,
//!     "fees": {"maker_bps": -0.5, "taker_bps": 4.5}
//!   }
//! }
//! ```
//!
//! A [`ModelSetSpec`] names the latency, queue and fee models of the simulated
//! exchange and [`ModelSetSpec::build`] turns it into a [`ModelSet`]. Three
//! sets exist without any profile ([`builtin_sets`]): `lenient` (no latency,
//! front of the queue), `shadow` (the default of a soak: the dry run's mean
//! latency as a constant, front of the queue) and `dryrun` (the default of a
//! dry run: seeded uniform latency, risk-averse queue). A profile may add sets
//! and redefine these names.
//!
//! - latency kinds: `constant` (`feed_ms`, `entry_ms`, `response_ms`),
//!   `uniform` (each a `[min, max]` range, drawn with the run's seed),
//!   `empirical` (a recording, `file` and/or inline `points`, plus a constant
//!   `feed_ms`; see [`EmpiricalLatency`]);
//! - queue kinds: `front`, `risk_averse`, `prob_power`, `prob_power2`,
//!   `prob_power3` (each with `n > 0`), `prob_log`, `prob_log2`;
//! - `partial_fills` (default `false`);
//! - `fees` (optional): `maker_bps` / `taker_bps`, replacing the strategy
//!   parameters' `maker_fee_bps` / `taker_fee_bps`.
//!
//! Unknown keys and kinds are errors naming their path
//! (`models.dryrun.queue: unknown field `nn`, …`). This module does no I/O: an
//! empirical `file` is read by the caller and handed to
//! [`ModelSetSpec::load_latency_file`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::params::StrategyParams;

use super::fill::Liquidity;
use super::latency::{
    ConstantLatency, EmpiricalLatency, LatencyFileError, LatencyModel, LatencyPoint, UniformLatency,
};
use super::models::{FeeModel, ModelSet};
use super::queue::{self, ProbFunc, ProbQueue, RiskAverseQueue};

/// The model set a soak uses when none is named.
pub const DEFAULT_SOAK_MODEL: &str = "shadow";
/// The model set a dry run uses when none is named.
pub const DEFAULT_DRYRUN_MODEL: &str = "dryrun";

/// A bad model set: where (`models.<name>.<key>…`) and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ModelSpecError {
    /// Dotted path of the offending value, e.g. `models.dryrun.queue`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ModelSpecError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// A latency in milliseconds: a whole, non-negative number.
type Millis = f64;

/// How long the feed, order entry and responses take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencySpec {
    /// Fixed delays.
    Constant {
        /// Feed delay, ms.
        #[serde(default)]
        feed_ms: Millis,
        /// Order entry delay, ms.
        #[serde(default)]
        entry_ms: Millis,
        /// Response delay, ms.
        #[serde(default)]
        response_ms: Millis,
    },
    /// Delays drawn uniformly from inclusive `[min, max]` ranges with the run's seed.
    Uniform {
        /// Feed delay range, ms.
        #[serde(default)]
        feed_ms: [Millis; 2],
        /// Order entry range, ms.
        #[serde(default)]
        entry_ms: [Millis; 2],
        /// Response range, ms.
        #[serde(default)]
        response_ms: [Millis; 2],
    },
    /// Measured order latency over time, interpolated (see [`EmpiricalLatency`]).
    Empirical {
        /// The recording, relative to the profile file's directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        /// The recording inline, as `[ts_ms, entry_ms, response_ms]` rows;
        /// filled in from `file` by [`ModelSetSpec::load_latency_file`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        points: Option<Vec<(i64, f64, f64)>>,
        /// Constant feed delay, ms.
        #[serde(default)]
        feed_ms: Millis,
    },
}

/// Where a resting order sits in the queue at its price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum QueueSpec {
    /// Always at the front (optimistic).
    Front {},
    /// Behind the displayed size, advanced only by trades (pessimistic).
    RiskAverse {},
    /// Probabilistic, `f(x) = x^n`, `f(back) / (f(back) + f(front))`.
    ProbPower {
        /// Exponent, > 0.
        n: f64,
    },
    /// Probabilistic, `f(x) = x^n`, `f(back) / f(back + front)`.
    ProbPower2 {
        /// Exponent, > 0.
        n: f64,
    },
    /// Probabilistic, `1 − (front / (front + back))^n`.
    ProbPower3 {
        /// Exponent, > 0.
        n: f64,
    },
    /// Probabilistic, `f(x) = ln(1 + x)`, `f(back) / (f(back) + f(front))`.
    ProbLog {},
    /// Probabilistic, `f(x) = ln(1 + x)`, `f(back) / f(back + front)`.
    ProbLog2 {},
}

/// Fixed maker/taker fees replacing the strategy parameters' fees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSpec {
    /// Maker fee, bps of notional (negative is a rebate).
    pub maker_bps: f64,
    /// Taker fee, bps of notional.
    pub taker_bps: f64,
}

/// One named execution model set; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSetSpec {
    /// Feed, order entry and response latency (default: none).
    #[serde(default = "no_latency")]
    pub latency: LatencySpec,
    /// Queue position (default: front).
    #[serde(default = "front")]
    pub queue: QueueSpec,
    /// Whether a trade smaller than the order fills it partially.
    #[serde(default)]
    pub partial_fills: bool,
    /// Fees replacing the strategy parameters' fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<FeeSpec>,
    /// Where the feed delay comes from (default: the latency model alone).
    #[serde(default, skip_serializing_if = "FeedLatencySpec::is_model")]
    pub feed_latency: FeedLatencySpec,
}

/// Where a set's feed delay comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedLatencySpec {
    /// The latency model's `feed_ms` alone.
    #[default]
    Model,
    /// The latency model's `feed_ms` plus the delay the recording's two
    /// clocks show, for ticks that carry a receive time
    /// ([`RecordedFeed`](super::latency::RecordedFeed)).
    Recorded,
}

impl FeedLatencySpec {
    fn is_model(&self) -> bool {
        *self == FeedLatencySpec::Model
    }
}

fn no_latency() -> LatencySpec {
    LatencySpec::Constant {
        feed_ms: 0.0,
        entry_ms: 0.0,
        response_ms: 0.0,
    }
}

fn front() -> QueueSpec {
    QueueSpec::Front {}
}

/// The sets that exist without a profile: `lenient`, `shadow` and `dryrun`.
/// This is the one place their values are written down.
///
/// `shadow` runs at the mean latency of `dryrun` (feed 6 ms, entry and
/// response 25 ms) at the front of the queue, so the two differ only in what
/// the dry run adds on purpose — random latency and queue position — and a
/// prediction is not off by the mean latency alone.
pub fn builtin_sets() -> BTreeMap<String, ModelSetSpec> {
    let set = |latency, queue| ModelSetSpec {
        latency,
        queue,
        partial_fills: false,
        fees: None,
        feed_latency: FeedLatencySpec::Model,
    };
    BTreeMap::from([
        ("lenient".to_string(), set(no_latency(), front())),
        (
            "shadow".to_string(),
            set(
                LatencySpec::Constant {
                    feed_ms: 6.0,
                    entry_ms: 25.0,
                    response_ms: 25.0,
                },
                front(),
            ),
        ),
        (
            "dryrun".to_string(),
            set(
                LatencySpec::Uniform {
                    feed_ms: [2.0, 10.0],
                    entry_ms: [10.0, 40.0],
                    response_ms: [10.0, 40.0],
                },
                QueueSpec::RiskAverse {},
            ),
        ),
    ])
}

/// Fees fixed by the model set, whatever the strategy parameters say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedFee {
    /// Maker fee, bps.
    pub maker_bps: f64,
    /// Taker fee, bps.
    pub taker_bps: f64,
}

impl FeeModel for FixedFee {
    fn describe(&self) -> String {
        format!(
            "fixed(maker={}bps,taker={}bps)",
            self.maker_bps, self.taker_bps
        )
    }

    fn fee_bps(&self, liquidity: Liquidity, _params: &StrategyParams) -> f64 {
        match liquidity {
            Liquidity::Maker => self.maker_bps,
            Liquidity::Taker => self.taker_bps,
        }
    }
}

impl ModelSetSpec {
    /// Parses one set from JSON; errors name `path` (e.g. `models.dryrun`)
    /// and the key below it.
    pub fn from_value(path: &str, value: Value) -> Result<Self, ModelSpecError> {
        let Value::Object(map) = value else {
            return Err(ModelSpecError::new(
                path,
                "expected an object with `latency`, `queue`, `partial_fills`, `fees`, `feed_latency`",
            ));
        };
        let mut spec = ModelSetSpec {
            latency: no_latency(),
            queue: front(),
            partial_fills: false,
            fees: None,
            feed_latency: FeedLatencySpec::Model,
        };
        for (key, v) in map {
            let at = format!("{path}.{key}");
            let msg = |e: serde_json::Error| ModelSpecError::new(&at, e.to_string());
            match key.as_str() {
                "latency" => spec.latency = serde_json::from_value(v).map_err(msg)?,
                "queue" => spec.queue = serde_json::from_value(v).map_err(msg)?,
                "partial_fills" => spec.partial_fills = serde_json::from_value(v).map_err(msg)?,
                "fees" => spec.fees = serde_json::from_value(v).map_err(msg)?,
                "feed_latency" => spec.feed_latency = serde_json::from_value(v).map_err(msg)?,
                other => {
                    return Err(ModelSpecError::new(
                        path,
                        format!(
                            "unknown field `{other}`, expected one of `latency`, `queue`, `partial_fills`, `fees`, `feed_latency`"
                        ),
                    ));
                }
            }
        }
        spec.validate(path)?;
        Ok(spec)
    }

    /// Checks every value: latencies whole, finite and non-negative, ranges
    /// `min <= max`, queue exponents positive, fees finite, inline points sorted.
    pub fn validate(&self, path: &str) -> Result<(), ModelSpecError> {
        let lat = join(path, "latency");
        match &self.latency {
            LatencySpec::Constant {
                feed_ms,
                entry_ms,
                response_ms,
            } => {
                for (k, v) in [
                    ("feed_ms", feed_ms),
                    ("entry_ms", entry_ms),
                    ("response_ms", response_ms),
                ] {
                    check_ms(&format!("{lat}.{k}"), *v)?;
                }
            }
            LatencySpec::Uniform {
                feed_ms,
                entry_ms,
                response_ms,
            } => {
                for (k, [lo, hi]) in [
                    ("feed_ms", feed_ms),
                    ("entry_ms", entry_ms),
                    ("response_ms", response_ms),
                ] {
                    let at = format!("{lat}.{k}");
                    check_ms(&at, *lo)?;
                    check_ms(&at, *hi)?;
                    if lo > hi {
                        return Err(ModelSpecError::new(
                            &at,
                            format!("min {lo} > max {hi}, expected `[min, max]` with min <= max"),
                        ));
                    }
                }
            }
            LatencySpec::Empirical {
                file,
                points,
                feed_ms,
            } => {
                check_ms(&format!("{lat}.feed_ms"), *feed_ms)?;
                match points {
                    Some(_) => {
                        self.empirical(path)?;
                    }
                    None if file.is_none() => {
                        return Err(ModelSpecError::new(
                            &lat,
                            "empirical latency needs `file` (a CSV recording) or `points`",
                        ));
                    }
                    None => {}
                }
            }
        }
        if let QueueSpec::ProbPower { n }
        | QueueSpec::ProbPower2 { n }
        | QueueSpec::ProbPower3 { n } = &self.queue
            && !(n.is_finite() && *n > 0.0)
        {
            return Err(ModelSpecError::new(
                &join(path, "queue.n"),
                format!("{n} is not a positive number, expected n > 0"),
            ));
        }
        if let Some(f) = &self.fees {
            for (k, v) in [("maker_bps", f.maker_bps), ("taker_bps", f.taker_bps)] {
                if !v.is_finite() {
                    return Err(ModelSpecError::new(
                        &join(path, &format!("fees.{k}")),
                        format!("{v} is not a finite number of basis points"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The recording file this set still needs read, if any (an `empirical`
    /// latency with a `file` and no inline `points`).
    pub fn latency_file(&self) -> Option<&str> {
        match &self.latency {
            LatencySpec::Empirical {
                file: Some(f),
                points: None,
                ..
            } => Some(f),
            _ => None,
        }
    }

    /// Parses the text of [`ModelSetSpec::latency_file`] (read by the caller)
    /// and keeps its points inline, so the set is self-contained (it can be
    /// sent to a service as JSON). Errors name the file and line.
    pub fn load_latency_file(&mut self, text: &str) -> Result<(), LatencyFileError> {
        if let LatencySpec::Empirical {
            file: Some(f),
            points,
            ..
        } = &mut self.latency
        {
            let m = EmpiricalLatency::parse(text, f)?;
            *points = Some(
                m.points()
                    .iter()
                    .map(|p| (p.ts_ms, p.entry_ms, p.response_ms))
                    .collect(),
            );
        }
        Ok(())
    }

    fn empirical(&self, path: &str) -> Result<Option<EmpiricalLatency>, ModelSpecError> {
        let LatencySpec::Empirical {
            file,
            points,
            feed_ms,
        } = &self.latency
        else {
            return Ok(None);
        };
        let at = join(path, "latency");
        let Some(points) = points else {
            return Err(ModelSpecError::new(
                &at,
                format!(
                    "latency file `{}` was not loaded",
                    file.as_deref().unwrap_or_default()
                ),
            ));
        };
        let pts = points
            .iter()
            .map(|&(ts_ms, entry_ms, response_ms)| LatencyPoint {
                ts_ms,
                entry_ms,
                response_ms,
            })
            .collect();
        let source = file.clone().unwrap_or_else(|| "inline".to_string());
        EmpiricalLatency::new(source, pts, *feed_ms as i64)
            .map(Some)
            .map_err(|e| ModelSpecError::new(&format!("{at}.points"), e.message))
    }

    /// One stable line with every parameter, for notes and reports, e.g.
    /// `latency=constant(feed=6ms,entry=25ms,response=25ms) queue=front partial_fills=false fees=params`.
    pub fn describe(&self) -> String {
        let latency = match &self.latency {
            LatencySpec::Constant {
                feed_ms,
                entry_ms,
                response_ms,
            } => format!("constant(feed={feed_ms}ms,entry={entry_ms}ms,response={response_ms}ms)"),
            LatencySpec::Uniform {
                feed_ms,
                entry_ms,
                response_ms,
            } => format!(
                "uniform(feed={}..{}ms,entry={}..{}ms,response={}..{}ms,seeded)",
                feed_ms[0], feed_ms[1], entry_ms[0], entry_ms[1], response_ms[0], response_ms[1]
            ),
            LatencySpec::Empirical { file, feed_ms, .. } => match self.empirical("") {
                Ok(Some(m)) => m.describe(),
                _ => format!(
                    "empirical(source={},feed={feed_ms}ms)",
                    file.as_deref().unwrap_or("inline")
                ),
            },
        };
        let fees = match &self.fees {
            None => "params".to_string(),
            Some(f) => format!("fixed(maker={}bps,taker={}bps)", f.maker_bps, f.taker_bps),
        };
        let feed = match self.feed_latency {
            FeedLatencySpec::Model => "",
            FeedLatencySpec::Recorded => " feed_latency=recorded",
        };
        format!(
            "latency={latency} queue={} partial_fills={} fees={fees}{feed}",
            self.queue_model().describe(),
            self.partial_fills
        )
    }

    /// The queue model of this set.
    pub fn queue_model(&self) -> Box<dyn queue::QueueModel> {
        match self.queue {
            QueueSpec::Front {} => Box::new(queue::FrontOfQueue),
            QueueSpec::RiskAverse {} => Box::new(RiskAverseQueue),
            QueueSpec::ProbPower { n } => Box::new(ProbQueue::new(ProbFunc::Power(n))),
            QueueSpec::ProbPower2 { n } => Box::new(ProbQueue::new(ProbFunc::Power2(n))),
            QueueSpec::ProbPower3 { n } => Box::new(ProbQueue::new(ProbFunc::Power3(n))),
            QueueSpec::ProbLog {} => Box::new(ProbQueue::new(ProbFunc::Log)),
            QueueSpec::ProbLog2 {} => Box::new(ProbQueue::new(ProbFunc::Log2)),
        }
    }

    /// The models of this set; `seed` seeds a `uniform` latency. Fails when an
    /// empirical recording was not loaded or the engine cannot run the set
    /// (paths in the error are relative to the set: `latency`, `partial_fills`).
    pub fn build(&self, seed: u64) -> Result<ModelSet, ModelSpecError> {
        self.validate("")?;
        let ms = |v: f64| v as i64;
        let mut b = ModelSet::builder();
        b = match &self.latency {
            LatencySpec::Constant {
                feed_ms,
                entry_ms,
                response_ms,
            } => b.latency(ConstantLatency {
                feed_ms: ms(*feed_ms),
                entry_ms: ms(*entry_ms),
                response_ms: ms(*response_ms),
            }),
            LatencySpec::Uniform {
                feed_ms,
                entry_ms,
                response_ms,
            } => b.latency(UniformLatency {
                feed_ms: (ms(feed_ms[0]), ms(feed_ms[1])),
                entry_ms: (ms(entry_ms[0]), ms(entry_ms[1])),
                response_ms: (ms(response_ms[0]), ms(response_ms[1])),
                seed,
            }),
            LatencySpec::Empirical { .. } => match self.empirical("")? {
                Some(m) => b.latency(m),
                None => b,
            },
        };
        b = b
            .queue_arc(Arc::from(self.queue_model()))
            .partial_fills(self.partial_fills)
            .recorded_feed(self.feed_latency == FeedLatencySpec::Recorded);
        if let Some(f) = self.fees {
            b = b.fee(FixedFee {
                maker_bps: f.maker_bps,
                taker_bps: f.taker_bps,
            });
        }
        Ok(b.build())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn check_ms(path: &str, v: f64) -> Result<(), ModelSpecError> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 {
        return Err(ModelSpecError::new(
            path,
            format!("{v} is not a latency, expected a whole number of milliseconds >= 0"),
        ));
    }
    Ok(())
}

/// Every set: the built-in ones, then `extra` (which may redefine them).
pub fn merged_sets(extra: &BTreeMap<String, ModelSetSpec>) -> BTreeMap<String, ModelSetSpec> {
    let mut all = builtin_sets();
    all.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<ModelSetSpec, String> {
        ModelSetSpec::from_value("models.x", v).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_example_parses() {
        let spec = parse(json!({
            "latency": {"kind": "uniform", "feed_ms": [2, 10], "entry_ms": [10, 40], "response_ms": [10, 40]},
            "queue": {"kind": "prob_power", "n": 3},
            "partial_fills": false,
            "fees": {"maker_bps": -0.5, "taker_bps": 4.5}
        }))
        .unwrap();
        assert_eq!(
            spec.latency,
            LatencySpec::Uniform {
                feed_ms: [2.0, 10.0],
                entry_ms: [10.0, 40.0],
                response_ms: [10.0, 40.0]
            }
        );
        assert_eq!(spec.queue, QueueSpec::ProbPower { n: 3.0 });
        assert_eq!(
            spec.describe(),
            "latency=uniform(feed=2..10ms,entry=10..40ms,response=10..40ms,seeded) \
             queue=prob_power(n=3) partial_fills=false fees=fixed(maker=-0.5bps,taker=4.5bps)"
        );
        // defaults: no latency, front of the queue, fees from the params
        let bare = parse(json!({})).unwrap();
        assert_eq!(&bare, &builtin_sets()["lenient"]);
        assert_eq!(
            bare.describe(),
            "latency=constant(feed=0ms,entry=0ms,response=0ms) queue=front partial_fills=false fees=params"
        );
        // every queue kind
        for (q, want) in [
            (json!({"kind": "front"}), "front"),
            (json!({"kind": "risk_averse"}), "risk_averse"),
            (json!({"kind": "prob_power2", "n": 2}), "prob_power2(n=2)"),
            (
                json!({"kind": "prob_power3", "n": 0.5}),
                "prob_power3(n=0.5)",
            ),
            (json!({"kind": "prob_log"}), "prob_log"),
            (json!({"kind": "prob_log2"}), "prob_log2"),
        ] {
            let s = parse(json!({ "queue": q })).unwrap();
            assert_eq!(s.queue_model().describe(), want);
        }
    }

    #[test]
    fn bad_input_is_an_error_naming_the_path() {
        let cases = [
            (
                json!({"queue": {"kind": "front", "nn": 1}}),
                "models.x.queue: unknown field `nn`, there are no fields",
            ),
            (
                json!({"queue": {"kind": "prob_power", "nn": 1}}),
                "models.x.queue: unknown field `nn`, expected `n`",
            ),
            (
                json!({"queue": {"kind": "fifo"}}),
                "models.x.queue: unknown variant `fifo`, expected one of `front`, `risk_averse`, `prob_power`, `prob_power2`, `prob_power3`, `prob_log`, `prob_log2`",
            ),
            (
                json!({"queue": {"kind": "prob_power"}}),
                "models.x.queue: missing field `n`",
            ),
            (
                json!({"latency": {"kind": "gaussian"}}),
                "models.x.latency: unknown variant `gaussian`, expected one of `constant`, `uniform`, `empirical`",
            ),
            (
                json!({"latency": {"kind": "constant", "entry": 5}}),
                "models.x.latency: unknown field `entry`, expected one of `feed_ms`, `entry_ms`, `response_ms`",
            ),
            (
                json!({"latancy": {}}),
                "models.x: unknown field `latancy`, expected one of `latency`, `queue`, `partial_fills`, `fees`, `feed_latency`",
            ),
            (
                json!({"latency": {"kind": "constant", "entry_ms": -5}}),
                "models.x.latency.entry_ms: -5 is not a latency, expected a whole number of milliseconds >= 0",
            ),
            (
                json!({"latency": {"kind": "constant", "feed_ms": 2.5}}),
                "models.x.latency.feed_ms: 2.5 is not a latency, expected a whole number of milliseconds >= 0",
            ),
            (
                json!({"latency": {"kind": "uniform", "entry_ms": [40, 10]}}),
                "models.x.latency.entry_ms: min 40 > max 10, expected `[min, max]` with min <= max",
            ),
            (
                json!({"latency": {"kind": "uniform", "response_ms": [-1, 10]}}),
                "models.x.latency.response_ms: -1 is not a latency, expected a whole number of milliseconds >= 0",
            ),
            (
                json!({"latency": {"kind": "empirical"}}),
                "models.x.latency: empirical latency needs `file` (a CSV recording) or `points`",
            ),
            (
                json!({"latency": {"kind": "empirical", "points": [[2, 1, 1], [1, 1, 1]]}}),
                "models.x.latency.points: point 1: ts_ms 1 is before the previous point's 2 (points must be sorted by time)",
            ),
            (
                json!({"latency": {"kind": "empirical", "points": [[1, -3, 1]]}}),
                "models.x.latency.points: point 0: negative or non-finite entry delay -3 ms at ts 1, expected >= 0",
            ),
            (
                json!({"latency": {"kind": "empirical", "points": []}}),
                "models.x.latency.points: no latency points",
            ),
            (
                json!({"queue": {"kind": "prob_power", "n": 0}}),
                "models.x.queue.n: 0 is not a positive number, expected n > 0",
            ),
            (
                json!({"queue": {"kind": "prob_power3", "n": -2}}),
                "models.x.queue.n: -2 is not a positive number, expected n > 0",
            ),
            (
                json!({"partial_fills": "yes"}),
                "models.x.partial_fills: invalid type: string \"yes\", expected a boolean",
            ),
            (
                json!({"fees": {"maker_bps": 1}}),
                "models.x.fees: missing field `taker_bps`",
            ),
            (
                json!({"fees": {"maker_bps": 1, "taker_bps": 2, "rebate": 1}}),
                "models.x.fees: unknown field `rebate`, expected `maker_bps` or `taker_bps`",
            ),
            (
                json!(3),
                "models.x: expected an object with `latency`, `queue`, `partial_fills`, `fees`, `feed_latency`",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(parse(v.clone()).unwrap_err(), want, "{v}");
        }
        // a number JSON cannot hold as a finite f64 is refused by the parser
        let err = serde_json::from_str::<Value>(r#"{"kind":"constant","entry_ms":1e999}"#);
        assert!(err.is_err());
    }

    #[test]
    fn builtin_sets_are_the_documented_ones() {
        let b = builtin_sets();
        assert_eq!(
            b.keys().map(String::as_str).collect::<Vec<_>>(),
            ["dryrun", "lenient", "shadow"]
        );
        assert_eq!(
            b["shadow"].describe(),
            "latency=constant(feed=6ms,entry=25ms,response=25ms) queue=front partial_fills=false fees=params"
        );
        assert_eq!(
            b["dryrun"].describe(),
            "latency=uniform(feed=2..10ms,entry=10..40ms,response=10..40ms,seeded) queue=risk_averse partial_fills=false fees=params"
        );
        // built models: the shadow set draws the dry run's mean latency
        let shadow = b["shadow"].build(1).unwrap();
        let dry = b["dryrun"].build(1).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(shadow.latency.order_entry_ms(&mut rng, 0), 25);
        assert_eq!(shadow.latency.response_ms(&mut rng, 0), 25);
        assert_eq!(shadow.latency.feed_delay_ms(&mut rng, 0), 6);
        let draws: Vec<i64> = (0..400)
            .map(|_| dry.latency.order_entry_ms(&mut rng, 0))
            .collect();
        assert!(draws.iter().all(|d| (10..=40).contains(d)));
        let mean = draws.iter().sum::<i64>() as f64 / draws.len() as f64;
        assert!((mean - 25.0).abs() < 2.0, "{mean}");
        assert_eq!(dry.latency.seed(), 1);
        assert_eq!(b["dryrun"].build(9).unwrap().latency.seed(), 9);
        assert_eq!(shadow.queue.describe(), "front");
        assert_eq!(shadow.fee.describe(), "params");
    }

    #[test]
    fn fees_replace_the_params_fees() {
        let spec = parse(json!({"fees": {"maker_bps": -1.25, "taker_bps": 3}})).unwrap();
        let m = spec.build(0).unwrap();
        let params = StrategyParams::default();
        assert_eq!(m.fee.fee_bps(Liquidity::Maker, &params), -1.25);
        assert_eq!(m.fee.fee_bps(Liquidity::Taker, &params), 3.0);
        let dflt = builtin_sets()["lenient"].build(0).unwrap();
        assert_eq!(
            dflt.fee.fee_bps(Liquidity::Taker, &params),
            params.taker_fee_bps
        );
    }

    #[test]
    fn empirical_set_loads_its_file_and_interpolates() {
        let mut spec = parse(json!({
            "latency": {"kind": "empirical", "file": "lat.csv", "feed_ms": 4}
        }))
        .unwrap();
        assert_eq!(spec.latency_file(), Some("lat.csv"));
        assert_eq!(
            spec.build(0).unwrap_err().to_string(),
            "latency: latency file `lat.csv` was not loaded"
        );
        let err = spec
            .load_latency_file("ts_ms,entry_ms,response_ms\n10,1,1\n5,1,1\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "lat.csv line 3: `ts_ms` 5 is before the previous row's 10 (rows must be sorted by time)"
        );
        spec.load_latency_file("ts_ms,entry_ms,response_ms\n0,10,20\n100,30,40\n")
            .unwrap();
        assert_eq!(spec.latency_file(), None);
        let m = spec.build(0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(m.latency.order_entry_ms(&mut rng, 50), 20);
        assert_eq!(m.latency.response_ms(&mut rng, 25), 25);
        assert_eq!(m.latency.order_entry_ms(&mut rng, 1_000), 30);
        assert_eq!(m.latency.feed_delay_ms(&mut rng, 50), 4);
        assert_eq!(
            spec.describe(),
            "latency=empirical(source=lat.csv,points=2,ts=0..100ms,entry=10..30ms,response=20..40ms,feed=4ms) \
             queue=front partial_fills=false fees=params"
        );
        // the loaded set survives a JSON round trip (how it reaches a service)
        let back: ModelSetSpec =
            serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
        assert_eq!(back.describe(), spec.describe());
    }

    #[test]
    fn partial_fills_and_the_queue_reach_the_built_set() {
        let spec =
            parse(json!({"partial_fills": true, "queue": {"kind": "prob_power", "n": 3}})).unwrap();
        assert!(spec.describe().contains("partial_fills=true"));
        let m = spec.build(0).unwrap();
        assert!(m.partial_fills);
        assert_eq!(m.queue.describe(), "prob_power(n=3)");
    }

    #[test]
    fn feed_latency_recorded_reaches_the_built_set_and_a_bad_value_is_named() {
        let spec = parse(json!({"feed_latency": "recorded"})).unwrap();
        assert_eq!(spec.feed_latency, FeedLatencySpec::Recorded);
        assert!(
            spec.describe().ends_with(" feed_latency=recorded"),
            "{}",
            spec.describe()
        );
        let m = spec.build(0).unwrap();
        assert!(m.recorded_feed);
        assert!(m.describe().ends_with(" feed=recorded"), "{}", m.describe());
        assert!(!parse(json!({})).unwrap().build(0).unwrap().recorded_feed);
        let e = parse(json!({"feed_latency": "measured"})).unwrap_err();
        assert!(
            e.starts_with(
                "models.x.feed_latency: unknown variant `measured`, expected `model` or `recorded`"
            ),
            "{e}"
        );
    }
}
