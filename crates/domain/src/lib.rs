//! The pure domain of shadowkpi.
//!
//! Everything that decides a number lives here: tick decoding and symbol
//! normalisation, the simulated exchange and the quoting strategy, KPI windows,
//! the Go/No-Go gate, aggregation, prediction accuracy, strategy profiles and
//! auto-tune. This crate
//! does no I/O, spawns nothing and never reads the clock: callers pass event
//! time in, so the same input and seed give the same output, bit for bit. It
//! knows nothing about gRPC or Redis.
//!
//! # Layout
//! - [`symbol`]: symbol normalisation (`btc-usdt` → `BTCUSDT`).
//! - [`tick`]: the [`tick::Tick`] model.
//! - [`instrument`]: the price and size grid ([`instrument::Instrument`]) and
//!   its inference from a feed.
//! - [`kpi`]: [`kpi::KpiSet`] and the KPI names of the contract.
//! - [`params`]: strategy parameters and overrides.
//! - [`summary`]: the ITER_SUMMARY document and its counters.
//! - [`stats`]: numpy-compatible percentiles, winsorising, median, mean.
//! - [`engine`]: the shadow engine — [`engine::ShadowEngine`] fed tick by tick,
//!   the simulated exchange with swappable models ([`engine::ModelSet`]:
//!   lenient for shadow, strict for the dry run), the quoting strategy, and
//!   event-time KPI windows ([`engine::WindowResult`]).
//! - [`aggregate`]: combining window KPIs (median, mean, last).
//! - [`gate`]: the Go/No-Go gate ([`gate::GateThresholds`], [`gate::SoakVerdict`]).
//! - [`profile`]: the strategy profile document and parameter resolution.
//! - [`autotune`]: grid search of quoting parameters on a recording.
//! - [`simulate`]: the engine run offline on a recording, windowed and gated
//!   as a soak (`shadowctl simulate`).
//! - [`accuracy`]: dry-run accuracy of the predictions (MAPE, PASS/WARN/FAIL).
//! - [`export`]: ITER_SUMMARY readers, the KPI store key schema and export plans.
//! - [`feed`]: feed decoding, the reorder and sequence guards, the synthetic
//!   market and replay files.
#![warn(clippy::unwrap_used)]

pub mod accuracy;
pub mod aggregate;
pub mod autotune;
mod draw;
pub mod duration;
pub mod engine;
pub mod export;
pub mod feed;
pub mod gate;
pub mod instrument;
pub mod kpi;
pub mod params;
pub mod profile;
pub mod simulate;
pub mod stats;
pub mod summary;
pub mod symbol;
pub mod tick;
