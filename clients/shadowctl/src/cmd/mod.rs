//! One module per subcommand; [`crate::cli::dispatch`] runs the chosen one.

pub mod audit;
pub mod autotune;
pub mod bench;
pub mod config;
pub mod export;
pub mod feed;
pub mod health;
pub mod keys;
pub mod pipeline;
pub mod simulate;
pub mod soak;
pub mod validate;
