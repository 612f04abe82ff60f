//! The swappable models of the simulated exchange and the set they form.
//!
//! As in hftbacktest, the exchange's *rules* are fixed (see [`super::exchange`])
//! while what is uncertain about a real venue is injected as a [`ModelSet`]:
//!
//! - [`QueueModel`]: where our order sits in the queue at its price;
//! - [`LatencyModel`]: feed, order-entry and response delays;
//! - [`FeeModel`]: maker/taker fees in basis points;
//! - `partial_fills`: whether an order at the front of the queue executes only
//!   what traded past it (hftbacktest's `PartialFillExchange`) or whole
//!   (`NoPartialFillExchange`, the default).
//!
//! Shadow mode and the dry run differ only in the set they get:
//! [`ModelSet::shadow`] (constant expected latency, front of the queue) and
//! [`ModelSet::strict`] (seeded random latency, risk-averse queue). Models are
//! stateless and shared; randomness lives in a per-symbol `ChaCha8Rng` owned by
//! the exchange, so each symbol's draws depend only on that symbol's events,
//! never on how symbols interleave.

use std::fmt;
use std::sync::Arc;

use crate::params::StrategyParams;

use super::fill::Liquidity;
use super::latency::{ConstantLatency, LatencyModel};
use super::queue::{FrontOfQueue, QueueModel};

/// Fee in basis points of notional for a fill; negative is a rebate.
pub trait FeeModel: fmt::Debug + Send + Sync {
    /// Short description for logs and reports.
    fn describe(&self) -> String;

    /// Fee for a fill with this liquidity under these parameters.
    fn fee_bps(&self, liquidity: Liquidity, params: &StrategyParams) -> f64;
}

/// Fees straight from the parameters: `maker_fee_bps` / `taker_fee_bps`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParamsFee;

impl FeeModel for ParamsFee {
    fn describe(&self) -> String {
        "params".into()
    }

    fn fee_bps(&self, liquidity: Liquidity, params: &StrategyParams) -> f64 {
        match liquidity {
            Liquidity::Maker => params.maker_fee_bps,
            Liquidity::Taker => params.taker_fee_bps,
        }
    }
}

/// The models handed to the simulated exchange. Cloning is cheap (shared
/// `Arc`s).
#[derive(Debug, Clone)]
pub struct ModelSet {
    /// Where our orders sit in the queue.
    pub queue: Arc<dyn QueueModel>,
    /// Feed, order-entry and response delays.
    pub latency: Arc<dyn LatencyModel>,
    /// Fees.
    pub fee: Arc<dyn FeeModel>,
    /// Execute only what traded past the front of the queue (true), or the
    /// whole order once anything did (false).
    pub partial_fills: bool,
    /// Add the feed delay the recording's two clocks show
    /// ([`RecordedFeed`](super::latency::RecordedFeed)) to the latency
    /// model's.
    pub recorded_feed: bool,
}

impl ModelSet {
    /// No latency at all, front of the queue, whole-order fills, fees from the
    /// parameters: the optimistic bound.
    pub fn lenient() -> Self {
        ModelSetBuilder::default().build()
    }

    /// The built-in dry-run set (`dryrun` in
    /// [`builtin_sets`](super::model_spec::builtin_sets)): seeded random
    /// latency, risk-averse queue; `seed` seeds the latency.
    pub fn strict(seed: u64) -> Self {
        builtin("dryrun", seed)
    }

    /// The built-in shadow set (`shadow` in
    /// [`builtin_sets`](super::model_spec::builtin_sets)): the dry run's mean
    /// latency as constants, front of the queue.
    pub fn shadow() -> Self {
        builtin("shadow", 0)
    }

    /// A builder starting from the lenient models.
    pub fn builder() -> ModelSetBuilder {
        ModelSetBuilder::default()
    }

    /// One-line description, e.g.
    /// `queue=front latency=constant(feed=0ms,entry=0ms,response=0ms) fee=params fills=whole`
    /// (with ` feed=recorded` when the recorded feed delay is added).
    pub fn describe(&self) -> String {
        format!(
            "queue={} latency={} fee={} fills={}{}",
            self.queue.describe(),
            self.latency.describe(),
            self.fee.describe(),
            if self.partial_fills {
                "partial"
            } else {
                "whole"
            },
            if self.recorded_feed {
                " feed=recorded"
            } else {
                ""
            }
        )
    }
}

/// A built-in set by name. The built-in specs are constants that a test
/// builds, so the fallback (lenient) is never taken.
fn builtin(name: &str, seed: u64) -> ModelSet {
    super::model_spec::builtin_sets()
        .get(name)
        .and_then(|spec| spec.build(seed).ok())
        .unwrap_or_else(ModelSet::lenient)
}

impl Default for ModelSet {
    fn default() -> Self {
        Self::lenient()
    }
}

/// Builds a [`ModelSet`]; every model not set stays lenient.
#[derive(Debug)]
pub struct ModelSetBuilder {
    queue: Arc<dyn QueueModel>,
    latency: Arc<dyn LatencyModel>,
    fee: Arc<dyn FeeModel>,
    partial_fills: bool,
    recorded_feed: bool,
}

impl Default for ModelSetBuilder {
    fn default() -> Self {
        Self {
            queue: Arc::new(FrontOfQueue),
            latency: Arc::new(ConstantLatency::default()),
            fee: Arc::new(ParamsFee),
            partial_fills: false,
            recorded_feed: false,
        }
    }
}

impl ModelSetBuilder {
    /// Sets the queue model.
    pub fn queue(mut self, m: impl QueueModel + 'static) -> Self {
        self.queue = Arc::new(m);
        self
    }

    /// Sets a shared queue model.
    pub fn queue_arc(mut self, m: Arc<dyn QueueModel>) -> Self {
        self.queue = m;
        self
    }

    /// Sets the latency model.
    pub fn latency(mut self, m: impl LatencyModel + 'static) -> Self {
        self.latency = Arc::new(m);
        self
    }

    /// Sets a shared latency model.
    pub fn latency_arc(mut self, m: Arc<dyn LatencyModel>) -> Self {
        self.latency = m;
        self
    }

    /// Sets the fee model.
    pub fn fee(mut self, m: impl FeeModel + 'static) -> Self {
        self.fee = Arc::new(m);
        self
    }

    /// Chooses partial (true) or whole-order (false) fills.
    pub fn partial_fills(mut self, on: bool) -> Self {
        self.partial_fills = on;
        self
    }

    /// Adds the feed delay recorded in the ticks (true) to the latency
    /// model's, or not (false).
    pub fn recorded_feed(mut self, on: bool) -> Self {
        self.recorded_feed = on;
        self
    }

    /// The finished set.
    pub fn build(self) -> ModelSet {
        ModelSet {
            queue: self.queue,
            latency: self.latency,
            fee: self.fee,
            partial_fills: self.partial_fills,
            recorded_feed: self.recorded_feed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_describe_every_model() {
        assert_eq!(
            ModelSet::lenient().describe(),
            "queue=front latency=constant(feed=0ms,entry=0ms,response=0ms) fee=params fills=whole"
        );
        assert_eq!(
            ModelSet::strict(7).describe(),
            "queue=risk_averse latency=uniform(feed=2..10ms,entry=10..40ms,response=10..40ms,seed=7) fee=params fills=whole"
        );
        assert_eq!(
            ModelSet::shadow().describe(),
            "queue=front latency=constant(feed=6ms,entry=25ms,response=25ms) fee=params fills=whole"
        );
        let partial = ModelSet::builder().partial_fills(true).build();
        assert!(partial.describe().ends_with("fills=partial"));
    }
}
