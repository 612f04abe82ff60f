//! Configuration of the ingest pipeline: [`IngestConfig`] (what the library
//! takes) and [`IngestArgs`] (the flags and environment variables of the
//! binary that build it).

use std::time::Duration;

use shadowkpi_runtime::parse_duration;

/// Everything the ingest pipeline needs besides the store.
///
/// [`IngestConfig::default`] gives the production defaults; tests shorten the
/// timings they exercise (for example `autoclaim_idle`).
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    /// The feed stream (`lob:ticks`).
    pub stream: String,
    /// The consumer group (`shadow`).
    pub group: String,
    /// This instance's consumer name. Must be stable across restarts (a
    /// StatefulSet pod name), so a restarted instance drains its own pending
    /// entries.
    pub consumer: String,
    /// The dead-letter stream (`<stream>:dlq`).
    pub dlq_stream: String,
    /// Approximate length cap of the dead-letter stream (`MAXLEN ~`).
    pub dlq_maxlen: u64,
    /// `XREADGROUP … COUNT`.
    pub read_count: usize,
    /// `XREADGROUP … BLOCK`.
    pub block: Duration,
    /// Entries pending this long in any consumer are claimed (`XAUTOCLAIM`).
    pub autoclaim_idle: Duration,
    /// How often to look for entries to claim.
    pub autoclaim_interval: Duration,
    /// Event-time window of the reorder buffer, ms.
    pub reorder_window_ms: i64,
    /// Wall-clock bound on holding a tick in the reorder buffer once the
    /// stream has been read to its end (a quiet symbol is flushed after it).
    /// While a backlog is being read, ticks may wait up to ten times longer,
    /// because event time is about to advance anyway.
    pub reorder_max_hold: Duration,
    /// Ticks buffered per subscriber; when full the oldest is dropped.
    pub subscriber_buffer: usize,
    /// Largest batch of ticks per response (a request may ask for fewer).
    pub max_batch: usize,
    /// Subscriptions at once; more are refused with RESOURCE_EXHAUSTED.
    pub max_subscribers: usize,
    /// How often the consumer-group lag is polled.
    pub lag_interval: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            stream: "lob:ticks".into(),
            group: "shadow".into(),
            consumer: default_consumer(),
            dlq_stream: "lob:ticks:dlq".into(),
            dlq_maxlen: 100_000,
            read_count: 1_000,
            block: Duration::from_secs(1),
            autoclaim_idle: Duration::from_secs(30),
            autoclaim_interval: Duration::from_secs(5),
            reorder_window_ms: 40,
            reorder_max_hold: Duration::from_millis(100),
            subscriber_buffer: 4_000,
            max_batch: 500,
            max_subscribers: 64,
            lag_interval: Duration::from_secs(1),
        }
    }
}

impl IngestConfig {
    /// The default configuration reading `stream`, with its dead-letter stream
    /// next to it.
    pub fn for_stream(stream: &str) -> Self {
        Self {
            stream: stream.to_string(),
            dlq_stream: format!("{stream}:dlq"),
            ..Self::default()
        }
    }
}

/// The host name, or `ingestd` when it cannot be read.
pub fn default_consumer() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ingestd".into())
}

/// Flags of the ingest pipeline, each with an environment fallback.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Redis Stream of the market feed.
    #[arg(long, env = "SHADOWKPI_STREAM", default_value = "lob:ticks")]
    pub stream: String,
    /// Consumer group.
    #[arg(long, env = "SHADOWKPI_GROUP", default_value = "shadow")]
    pub group: String,
    /// Consumer name in the group (default: the host name, e.g. a StatefulSet
    /// pod name).
    #[arg(long, env = "SHADOWKPI_CONSUMER")]
    pub consumer: Option<String>,
    /// Dead-letter stream (default: the stream name with `:dlq` appended).
    #[arg(long, env = "SHADOWKPI_DLQ_STREAM")]
    pub dlq_stream: Option<String>,
    /// Approximate length cap of the dead-letter stream.
    #[arg(long, env = "SHADOWKPI_DLQ_MAXLEN", default_value_t = 100_000)]
    pub dlq_maxlen: u64,
    /// Entries per XREADGROUP.
    #[arg(long, env = "SHADOWKPI_READ_COUNT", default_value_t = 1_000)]
    pub read_count: usize,
    /// XREADGROUP block time.
    #[arg(long, env = "SHADOWKPI_READ_BLOCK", default_value = "1s", value_parser = parse_duration)]
    pub read_block: Duration,
    /// Claim entries pending this long in other (dead) consumers.
    #[arg(long, env = "SHADOWKPI_AUTOCLAIM_IDLE", default_value = "30s", value_parser = parse_duration)]
    pub autoclaim_idle: Duration,
    /// How often to look for entries to claim.
    #[arg(long, env = "SHADOWKPI_AUTOCLAIM_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub autoclaim_interval: Duration,
    /// Event-time window of the reorder buffer.
    #[arg(long, env = "SHADOWKPI_REORDER_WINDOW", default_value = "40ms", value_parser = parse_duration)]
    pub reorder_window: Duration,
    /// Wall-clock bound on holding a tick in the reorder buffer.
    #[arg(long, env = "SHADOWKPI_REORDER_MAX_HOLD", default_value = "100ms", value_parser = parse_duration)]
    pub reorder_max_hold: Duration,
    /// Ticks buffered per subscriber before the oldest are dropped.
    #[arg(long, env = "SHADOWKPI_SUBSCRIBER_BUFFER", default_value_t = 4_000)]
    pub subscriber_buffer: usize,
    /// Largest batch of ticks per response.
    #[arg(long, env = "SHADOWKPI_MAX_BATCH", default_value_t = 500)]
    pub max_batch: usize,
    /// Subscriptions at once.
    #[arg(long, env = "SHADOWKPI_MAX_SUBSCRIBERS", default_value_t = 64)]
    pub max_subscribers: usize,
}

impl IngestArgs {
    /// The configuration these flags describe.
    pub fn to_config(&self) -> IngestConfig {
        IngestConfig {
            stream: self.stream.clone(),
            group: self.group.clone(),
            consumer: self.consumer.clone().unwrap_or_else(default_consumer),
            dlq_stream: self
                .dlq_stream
                .clone()
                .unwrap_or_else(|| format!("{}:dlq", self.stream)),
            dlq_maxlen: self.dlq_maxlen,
            read_count: self.read_count.max(1),
            block: self.read_block,
            autoclaim_idle: self.autoclaim_idle,
            autoclaim_interval: self.autoclaim_interval,
            reorder_window_ms: self.reorder_window.as_millis() as i64,
            reorder_max_hold: self.reorder_max_hold,
            subscriber_buffer: self.subscriber_buffer.max(1),
            max_batch: self.max_batch.max(1),
            max_subscribers: self.max_subscribers.max(1),
            ..IngestConfig::default()
        }
    }
}
