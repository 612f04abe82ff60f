//! The pure domain of shadowkpi.
//!
//! Everything that decides a number lives here: tick decoding and symbol
//! normalisation, the feed guards, the simulated exchange and the quoting
//! strategy, KPI windows, the Go/No-Go gate, aggregation and prediction
//! accuracy. This crate does no I/O, spawns nothing and never reads the clock:
//! callers pass event time in, so the same input and seed give the same output,
//! bit for bit. It knows nothing about gRPC or Redis.
//!
//! # Layout
//! - [`symbol`]: symbol normalisation (`btc-usdt` → `BTCUSDT`).
//! - [`tick`]: the [`tick::Tick`] model.
//! - [`kpi`]: [`kpi::KpiSet`] and the KPI names of the contract.
//! - [`params`]: strategy parameters and overrides.
//! - [`summary`]: the ITER_SUMMARY document and its counters.

pub mod kpi;
pub mod params;
pub mod summary;
pub mod symbol;
pub mod tick;
