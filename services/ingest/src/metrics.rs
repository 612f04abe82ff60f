//! Prometheus metrics of ingestd (names of the contract in docs/contract.md plus a
//! few operational ones). Registered once per process in the default registry.

use std::sync::LazyLock;

use prometheus::{Gauge, IntCounter, IntCounterVec};
use shadowkpi_runtime::metrics::{register_counter_vec, register_gauge_vec};

/// The metrics of ingestd.
#[derive(Debug)]
pub struct IngestMetrics {
    /// `shadow_ingest_ticks_total{symbol}`: ticks delivered downstream of the guards.
    pub ticks: IntCounterVec,
    /// `shadow_seq_gaps_total{symbol}`: sequence numbers skipped by the feed.
    pub seq_gaps: IntCounterVec,
    /// `shadow_reordered_total{symbol}`: ticks the reorder buffer moved into place.
    pub reordered: IntCounterVec,
    /// `shadow_duplicates_total{symbol}`: repeated or older sequence numbers dropped.
    pub duplicates: IntCounterVec,
    /// `shadow_backpressure_drops_total{symbol}`: ticks dropped for slow subscribers.
    pub bp_drops: IntCounterVec,
    /// `shadow_ingest_rejected_total{reason}`: entries sent to the dead-letter stream.
    pub rejected: IntCounterVec,
    /// `shadow_ingest_entries_read_total`: stream entries read (new, pending, claimed).
    pub entries_read: IntCounter,
    /// `shadow_ingest_acked_total`: entries acknowledged.
    pub acked: IntCounter,
    /// `shadow_ingest_claimed_total`: entries claimed from other consumers.
    pub claimed: IntCounter,
    /// `shadow_ingest_lag_msgs`: consumer-group lag (entries not yet read by the group).
    pub lag: Gauge,
    /// `shadow_ingest_subscribers`: open subscriptions.
    pub subscribers: Gauge,
    /// `shadow_ingest_queued_ticks`: ticks waiting in subscriber buffers.
    pub queued: Gauge,
    /// `shadow_ingest_redis_up`: 1 while Redis answers, 0 otherwise.
    pub redis_up: Gauge,
}

const NO_LABELS: &[&str] = &[];

/// The metrics, registered on first use.
pub static METRICS: LazyLock<IngestMetrics> = LazyLock::new(|| IngestMetrics {
    ticks: register_counter_vec(
        "shadow_ingest_ticks_total",
        "ticks delivered to subscribers after the reorder and sequence guards",
        &["symbol"],
    ),
    seq_gaps: register_counter_vec(
        "shadow_seq_gaps_total",
        "sequence numbers skipped by the feed",
        &["symbol"],
    ),
    reordered: register_counter_vec(
        "shadow_reordered_total",
        "ticks the reorder buffer moved back into event-time order",
        &["symbol"],
    ),
    duplicates: register_counter_vec(
        "shadow_duplicates_total",
        "repeated or older sequence numbers dropped",
        &["symbol"],
    ),
    bp_drops: register_counter_vec(
        "shadow_backpressure_drops_total",
        "ticks dropped because a subscriber was too slow",
        &["symbol"],
    ),
    rejected: register_counter_vec(
        "shadow_ingest_rejected_total",
        "feed entries that could not be decoded, copied to the dead-letter stream",
        &["reason"],
    ),
    entries_read: register_counter_vec(
        "shadow_ingest_entries_read_total",
        "stream entries read (new, pending and claimed)",
        &[],
    )
    .with_label_values(NO_LABELS),
    acked: register_counter_vec(
        "shadow_ingest_acked_total",
        "stream entries acknowledged",
        &[],
    )
    .with_label_values(NO_LABELS),
    claimed: register_counter_vec(
        "shadow_ingest_claimed_total",
        "stream entries claimed from idle consumers",
        &[],
    )
    .with_label_values(NO_LABELS),
    lag: register_gauge_vec(
        "shadow_ingest_lag_msgs",
        "consumer group lag: entries of the feed stream not yet read by the group",
        &[],
    )
    .with_label_values(NO_LABELS),
    subscribers: register_gauge_vec("shadow_ingest_subscribers", "open Subscribe streams", &[])
        .with_label_values(NO_LABELS),
    queued: register_gauge_vec(
        "shadow_ingest_queued_ticks",
        "ticks waiting in subscriber buffers",
        &[],
    )
    .with_label_values(NO_LABELS),
    redis_up: register_gauge_vec(
        "shadow_ingest_redis_up",
        "1 while Redis answers ingestd, 0 otherwise",
        &[],
    )
    .with_label_values(NO_LABELS),
});
