//! Counters of one ingestd instance, for `GetStats` (the Prometheus metrics in
//! [`crate::metrics`] are process-wide; these are per instance).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use prometheus::IntCounter;
use shadowkpi_proto::v1::{IngestCounters, SymbolStats};

use crate::metrics::METRICS;

/// One symbol: its name, its counters and its metric handles (looked up once,
/// so the hot path never hashes a label).
#[derive(Debug)]
pub(crate) struct SymbolMeta {
    pub name: String,
    ticks: AtomicU64,
    seq_gaps: AtomicU64,
    reordered: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    bp_drops: AtomicU64,
    last_seq: AtomicU64,
    last_ts: AtomicI64,
    m_ticks: IntCounter,
    m_seq_gaps: IntCounter,
    m_reordered: IntCounter,
    m_duplicates: IntCounter,
    m_bp_drops: IntCounter,
}

impl SymbolMeta {
    pub fn new(name: String) -> Self {
        let l = [name.as_str()];
        Self {
            ticks: AtomicU64::new(0),
            seq_gaps: AtomicU64::new(0),
            reordered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            bp_drops: AtomicU64::new(0),
            last_seq: AtomicU64::new(0),
            last_ts: AtomicI64::new(0),
            m_ticks: METRICS.ticks.with_label_values(&l),
            m_seq_gaps: METRICS.seq_gaps.with_label_values(&l),
            m_reordered: METRICS.reordered.with_label_values(&l),
            m_duplicates: METRICS.duplicates.with_label_values(&l),
            m_bp_drops: METRICS.bp_drops.with_label_values(&l),
            name,
        }
    }

    pub fn delivered(&self, seq: u64, ts: i64) {
        self.ticks.fetch_add(1, Relaxed);
        self.m_ticks.inc();
        self.last_seq.store(seq, Relaxed);
        self.last_ts.store(ts, Relaxed);
    }

    pub fn gaps(&self, n: u64) {
        self.seq_gaps.fetch_add(n, Relaxed);
        self.m_seq_gaps.inc_by(n);
    }

    pub fn reordered(&self) {
        self.reordered.fetch_add(1, Relaxed);
        self.m_reordered.inc();
    }

    pub fn duplicate(&self) {
        self.duplicates.fetch_add(1, Relaxed);
        self.m_duplicates.inc();
    }

    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    pub fn bp_drop(&self) {
        self.bp_drops.fetch_add(1, Relaxed);
        self.m_bp_drops.inc();
    }

    pub fn counters(&self) -> IngestCounters {
        IngestCounters {
            seq_gaps: self.seq_gaps.load(Relaxed),
            reordered: self.reordered.load(Relaxed),
            bp_drops: self.bp_drops.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
        }
    }

    pub fn stats(&self) -> SymbolStats {
        SymbolStats {
            symbol: self.name.clone(),
            ticks: self.ticks.load(Relaxed),
            counters: Some(self.counters()),
            last_seq: self.last_seq.load(Relaxed),
            last_ts_server_ms: self.last_ts.load(Relaxed),
        }
    }
}

/// Instance-wide counters.
#[derive(Debug)]
pub(crate) struct Stats {
    pub entries_read: AtomicU64,
    pub acked: AtomicU64,
    pub claimed: AtomicU64,
    pub rejected: AtomicU64,
    pub lag: AtomicU64,
    redis_up: AtomicBool,
    symbols: Mutex<Vec<Arc<SymbolMeta>>>,
}

impl Stats {
    pub fn new() -> Self {
        METRICS.redis_up.set(1.0);
        Self {
            entries_read: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            claimed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            lag: AtomicU64::new(0),
            redis_up: AtomicBool::new(true),
            symbols: Mutex::new(Vec::new()),
        }
    }

    pub fn add_symbol(&self, meta: Arc<SymbolMeta>) {
        self.symbols
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(meta);
    }

    /// Per-symbol stats, ordered by symbol.
    pub fn symbols(&self) -> Vec<SymbolStats> {
        let mut v: Vec<SymbolStats> = self
            .symbols
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|m| m.stats())
            .collect();
        v.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        v
    }

    /// Records whether Redis answered; returns the previous state.
    pub fn set_redis_up(&self, up: bool) -> bool {
        METRICS.redis_up.set(if up { 1.0 } else { 0.0 });
        self.redis_up.swap(up, Relaxed)
    }

    pub fn redis_up(&self) -> bool {
        self.redis_up.load(Relaxed)
    }
}

/// Sums counters.
pub(crate) fn add_counters(a: &mut IngestCounters, b: &IngestCounters) {
    a.seq_gaps += b.seq_gaps;
    a.reordered += b.reordered;
    a.bp_drops += b.bp_drops;
    a.duplicates += b.duplicates;
    a.rejected += b.rejected;
}
