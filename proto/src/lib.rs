//! The `shadowkpi.v1` gRPC contracts.
//!
//! The `.proto` files under `proto/shadowkpi/v1/` are the source of truth; this
//! crate compiles them at build time with a pure-Rust compiler, so no system
//! `protoc` is needed, and exposes the encoded file descriptor set for server
//! reflection. It holds generated code only: no logic lives here.
//!
//! # Layout
//! - [`v1`]: messages, enums, clients and servers of every service.
//! - [`FILE_DESCRIPTOR_SET`]: the descriptor set for `tonic-reflection`.
//! - [`convert`]: conversions between wire messages and domain types, so
//!   services stay thin adapters.

pub mod convert;

/// Messages and services of package `shadowkpi.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("shadowkpi.v1");
}

/// The encoded `FileDescriptorSet` of every shadowkpi proto file.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shadowkpi_descriptor.bin"));

/// Fully qualified gRPC service names, as listed by reflection and health.
pub mod service_names {
    /// `shadowkpi.v1.IngestService`.
    pub const INGEST: &str = "shadowkpi.v1.IngestService";
    /// `shadowkpi.v1.ShadowService`.
    pub const SHADOW: &str = "shadowkpi.v1.ShadowService";
    /// `shadowkpi.v1.ExportService`.
    pub const EXPORT: &str = "shadowkpi.v1.ExportService";
    /// `shadowkpi.v1.DryRunService`.
    pub const DRYRUN: &str = "shadowkpi.v1.DryRunService";
}
