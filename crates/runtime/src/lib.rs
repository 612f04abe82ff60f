//! The service runtime every shadowkpi binary is built on.
//!
//! It owns everything a service needs that is not its own RPC logic: flags with
//! environment fallbacks, `tracing` logs (pretty or JSON), OpenTelemetry export
//! and W3C trace-context propagation through gRPC metadata, the Prometheus
//! `/metrics` endpoint, gRPC health and reflection, tower layers (timeout,
//! global concurrency limit, load shedding) and graceful shutdown with a drain
//! deadline. It must not know what any service does.
//!
//! # Layout
//! - [`config`]: [`config::ServiceArgs`] shared by every binary, duration and
//!   endpoint parsing.
//! - [`telemetry`]: logging and tracing setup, trace-context propagation.
//! - [`metrics`]: the `/metrics` HTTP server and the gRPC request metrics.
//! - [`deadline`]: the request deadline (client streams exempt).
//! - [`ids`]: run ids.
//! - [`observe`]: the server-side tower layer (span per RPC, metrics).
//! - [`shed`]: a request shed by the concurrency limit answered as
//!   `RESOURCE_EXHAUSTED` with the `OVERLOADED` reason.
//! - [`server`]: [`server::ServiceHost`], which serves a set of gRPC services.
//! - [`shutdown`]: signals and the drain token.
//! - [`client`]: connecting to peers with trace propagation.
//! - [`app`]: [`app::run_service`], the shared `main` of every binary.
//! - [`status`]: the error reasons of the wire and the one mapping of store
//!   errors to gRPC codes.
#![warn(clippy::unwrap_used)]

pub mod app;
pub mod auth;
pub mod client;
pub mod config;
pub mod deadline;
pub mod ids;
pub mod metrics;
pub mod observe;
pub mod retry;
pub mod server;
pub mod shed;
pub mod shutdown;
pub mod status;
pub mod telemetry;
pub mod tls;

pub use config::{ServiceArgs, normalize_endpoint, parse_duration};
pub use server::{ServiceHost, ServingHandle};
pub use shutdown::Shutdown;
