//! `shadowkpi-client`: what a program needs to drive shadowkpi, so that
//! `shadowctl` is argument parsing, printing and calls into this crate, and
//! another program can make the same calls.
//!
//! # Layout
//! - [`services`]: where the four services are: deployed (addresses given) or
//!   started in this process on loopback ports (all-in-one), and the store.
//! - [`export`]: the one export client, reading ITER_SUMMARY files, exportd
//!   in this process, and what a failed batch says about the store.
//! - [`feedplan`]: the feed of a soak or pipeline (synthetic, a split
//!   recording, or external), published in two parts.
//! - [`soak`], [`validate`]: the soak and dry-run clients; each writes its
//!   artifacts as the stream delivers them and tells an [`soak::Observer`].
//! - [`pipeline`]: soak → export → dry run → gate in one run folder.
//! - [`artifacts`]: artifact files and `latest` links.
//! - [`report`]: the dry-run accuracy report (Markdown, JSON, HTML with SVG).
//! - [`error`]: [`ClientError`], decided from gRPC codes and reasons only, and
//!   the exit code of the contract each one means.
#![warn(clippy::unwrap_used)]

pub mod artifacts;
pub mod error;
pub mod export;
pub mod feedplan;
pub mod pipeline;
pub mod report;
pub mod services;
pub mod soak;
pub mod validate;

pub use error::{ClientError, ClientResult};
