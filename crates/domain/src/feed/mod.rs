//! The market feed: decoding stream entries, the feed guards, the synthetic
//! market and replay files. Pure: it moves no bytes and reads no clock; the
//! ingest service and the feed publisher do the I/O around it.
//!
//! # Layout
//! - [`decode`]: stream fields → [`crate::tick::Tick`] or a [`decode::Reject`]
//!   with a stable reason label; ticks → fields.
//! - [`guard`]: [`guard::ReorderBuffer`] (event-time window, wall-clock bound
//!   passed in), [`guard::SeqGapGuard`], and [`guard::SymbolGuard`] chaining
//!   them in the right order.
//! - [`synthetic`]: the deterministic synthetic market with fault injection
//!   counted exactly ([`synthetic::SyntheticFeed`]).
//! - [`split`]: a recording split in two by event time (soak, then dry run).
//! - [`replay`]: JSON Lines and Tardis-style CSV (quotes and trades merged by
//!   time).
//! - [`stats`]: the statistics of a feed ([`stats::MarketStats`]), measured
//!   the same way on a recording and on the synthetic market.

pub mod decode;
pub mod guard;
pub mod replay;
pub mod split;
pub mod stats;
pub mod synthetic;
