//! KPI export: what gets written to the KPI store, decided without touching it.
//!
//! The export service turns a set of ITER_SUMMARY documents into store writes;
//! everything about *which* keys, fields and values those are lives here, so it
//! is the same for a real export and a dry run and can be tested without Redis.
//! This module never talks to a store: it produces [`plan::KeyWrite`]s, which
//! the service converts into the store's own command type.
//!
//! The key schema of the contract (`{env}:{exchange}:shadow:…`):
//!
//! | mode | key | content |
//! |---|---|---|
//! | hash (default) | `…:shadow:latest:{SYMBOL}` | hash with `edge_bps`, `maker_taker_ratio`, `p95_latency_ms`, `risk_ratio` |
//! | flat (legacy) | `…:shadow:latest:{SYMBOL}:{kpi}` | one string per KPI |
//! | stream | `…:shadow:stream:{SYMBOL}` | one entry per window, id derived from the window |
//! | every mode | `…:shadow:meta:{SYMBOL}` | provenance hash (run id, windows, params, …) |
//!
//! Every written key gets the TTL. Values are shortest round-trip decimals
//! (`3.2`, `250`, never `250.0`). A KPI that could not be measured is not
//! written, and a value an earlier export left for it is removed (`HDEL` in
//! the hash, `DEL` of the flat key), so a hash never mixes two exports.
//!
//! # Layout
//! - [`reader`]: [`reader::parse_iter_summary`] for our ITER_SUMMARY format and
//!   the legacy single-symbol forms, and [`reader::normalize_summary`].
//! - [`keys`]: [`keys::KeySchema`], the key names.
//! - [`value`]: [`value::format_value`], the number format.
//! - [`series`]: per-symbol window series, aggregation and provenance
//!   ([`series::collect_symbols`]).
//! - [`plan`]: [`plan::ExportSpec`], [`plan::plan_symbol`] and [`plan::Planner`], the writes of one
//!   symbol.

pub mod keys;
pub mod plan;
pub mod reader;
pub mod series;
pub mod value;

pub use keys::{KeyError, KeySchema};
pub use plan::{
    ExportMode, ExportSpec, FieldName, KeyWrite, Planner, keys_written, parse_kpis, plan_symbol,
};
pub use reader::{SummaryError, normalize_summary, parse_iter_summary};
pub use series::{Provenance, SymbolExport, SymbolWindow, collect_symbols};
pub use value::format_value;

/// Default time to live of every written key, in seconds.
pub const DEFAULT_TTL_SECONDS: u64 = 3600;
/// Default number of symbols per pipeline.
pub const DEFAULT_BATCH_SIZE: u32 = 50;
/// Default approximate length cap of each KPI stream (`MAXLEN ~`).
pub const DEFAULT_STREAM_MAXLEN: u64 = 10_000;
