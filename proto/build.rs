//! Compiles `shadowkpi/v1/*.proto` with protox (pure Rust, no system `protoc`)
//! and emits the file descriptor set used by gRPC server reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "shadowkpi/v1/common.proto",
    "shadowkpi/v1/ingest.proto",
    "shadowkpi/v1/shadow.proto",
    "shadowkpi/v1/export.proto",
    "shadowkpi/v1/dryrun.proto",
    "shadowkpi/v1/strategy.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    let fds = protox::compile(&files, [&root])?;
    std::fs::write(
        out_dir.join("shadowkpi_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .btree_map(".")
        .compile_fds(fds)?;
    Ok(())
}
