//! The normalised top-of-book tick.

use serde::{Deserialize, Serialize};

/// Aggressor side of the last trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The feed did not say.
    #[default]
    Unspecified,
    /// A buyer lifted the ask.
    Buy,
    /// A seller hit the bid.
    Sell,
}

/// One decoded, normalised market update.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tick {
    /// Normalised symbol (`A-Z0-9`).
    pub symbol: String,
    /// Exchange sequence number, increasing per symbol.
    pub seq: u64,
    /// Exchange event time, milliseconds since the epoch.
    pub ts_server_ms: i64,
    /// Best bid price.
    pub bid: f64,
    /// Best ask price.
    pub ask: f64,
    /// Size of the last trade (0 when none).
    pub last_qty: f64,
    /// Size at the best bid, when known.
    pub bid_qty: Option<f64>,
    /// Size at the best ask, when known.
    pub ask_qty: Option<f64>,
    /// Price of the last trade, when known.
    pub last_px: Option<f64>,
    /// Aggressor side of the last trade.
    pub side: Side,
    /// Wall-clock time ingestd read the entry, or for a replay that time on
    /// the replay's schedule (0 when unknown, e.g. an unpaced replay); see
    /// [`crate::feed::decode::ingest_time_ms`].
    pub ts_ingest_ms: i64,
    /// When the feed's recorder received the event, milliseconds since the
    /// epoch on the recorder's clock (which may be offset from the
    /// exchange's), for recordings that carry both clocks; `None` otherwise.
    /// A model set with `feed_latency: "recorded"` takes the feed delay from
    /// it (see `engine::latency::RecordedFeed`).
    pub ts_recv_ms: Option<i64>,
}

impl Tick {
    /// Mid price `(bid + ask) / 2`.
    pub fn mid(&self) -> f64 {
        (self.bid + self.ask) / 2.0
    }
}
