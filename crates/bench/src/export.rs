//! Export measurements: one summary of many symbols through exportd (hash
//! mode) against bare pipelined writes of the same keys and values, with the
//! same batch size and the same number of pipelines in flight.

use std::time::Instant;

use futures::StreamExt;
use redis::aio::MultiplexedConnection;
use shadowkpi_domain::aggregate::Aggregation;
use shadowkpi_domain::export::keys::KeySchema;
use shadowkpi_domain::export::{ExportMode, ExportSpec, KeyWrite, collect_symbols, plan_symbol};
use shadowkpi_domain::kpi::{Kpi, KpiSet};
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::summary::{IterSummary, SymbolSummary, Window};
use shadowkpi_proto::v1;
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::export_summaries_request::Payload;
use shadowkpi_runtime::{ServingHandle, Shutdown};
use tonic::transport::{Channel, Endpoint};

use super::report::{Row, Section, fmt_number};
use super::{Env, bench_err, interleave, redis_err};
use crate::error::BenchResult;

/// Pipelines in flight on both sides (exportd's default).
pub const IN_FLIGHT: usize = 4;
/// Export runs per benchmark run.
const EXPORT_RUNS_FACTOR: usize = 5;
/// The Python exporter this replaces: about 50 symbols per 15 ms.
pub const LEGACY_RATE: f64 = 3_300.0;
/// `env` of the keys exportd writes.
const ENV: &str = "shadowkpibench";
/// `env` of the keys the bare client writes (same shape, other keys).
const BARE_ENV: &str = "shadowkpibare";
const EXCHANGE: &str = "bybit";
const TTL: u64 = 3600;

/// One window of `symbols` symbols with the four KPIs and the strategy
/// parameters, as a soak writes it.
pub fn summary(symbols: usize) -> IterSummary {
    IterSummary {
        schema_version: "1.0".into(),
        run_id: "bench".into(),
        iteration: 1,
        window: Window {
            start_ms: 1_705_276_800_000,
            end_ms: 1_705_276_860_000,
        },
        source: "synthetic".into(),
        profile: "default".into(),
        params: Some(StrategyParams::default()),
        symbols: (0..symbols)
            .map(|i| {
                (
                    format!("SYM{i:06}USDT"),
                    SymbolSummary {
                        summary: KpiSet {
                            edge_bps: Some(3.2 + i as f64 * 1e-4),
                            maker_taker_ratio: Some(0.85),
                            p95_latency_ms: Some(250.0),
                            risk_ratio: Some(0.31),
                            ..KpiSet::default()
                        },
                        ..SymbolSummary::default()
                    },
                )
            })
            .collect(),
        ..IterSummary::default()
    }
}

/// The writes exportd makes for `s` (from the same domain plan), keyed under
/// the bare client's `env`: per symbol `HSET latest` (4 fields) + `EXPIRE`,
/// then `HSET meta` (provenance) + `EXPIRE`.
fn planned_writes(s: &IterSummary) -> BenchResult<Vec<Vec<KeyWrite>>> {
    let keys = KeySchema::new(BARE_ENV, EXCHANGE).map_err(|e| bench_err("key schema", e.reason))?;
    let spec = ExportSpec {
        keys,
        mode: ExportMode::Hash,
        ttl_seconds: TTL,
        kpis: Kpi::ALL.to_vec(),
        stream_maxlen: 10_000,
    };
    Ok(
        collect_symbols(std::slice::from_ref(s), Aggregation::Median)
            .iter()
            .map(|sym| plan_symbol(&spec, sym))
            .collect(),
    )
}

/// The latest-hash writes only: `HSET` of the four KPIs + `EXPIRE`.
fn latest_only(writes: &[Vec<KeyWrite>]) -> Vec<Vec<KeyWrite>> {
    writes
        .iter()
        .map(|w| {
            w.iter()
                .filter(|c| match c {
                    KeyWrite::HSet { key, .. } | KeyWrite::Expire { key, .. } => {
                        key.contains(":latest:")
                    }
                    _ => false,
                })
                .cloned()
                .collect()
        })
        .collect()
}

/// Runs `writes` (one entry per symbol) as pipelines of `batch` symbols,
/// `IN_FLIGHT` at once, on one multiplexed connection; seconds taken.
async fn bare_pass(
    conn: &MultiplexedConnection,
    writes: &[Vec<KeyWrite>],
    batch: usize,
) -> BenchResult<f64> {
    let started = Instant::now();
    let pipelines = writes.chunks(batch).map(|chunk| {
        let mut conn = conn.clone();
        let mut pipe = redis::pipe();
        for w in chunk.iter().flatten() {
            match w {
                KeyWrite::HSet { key, fields } => {
                    let c = pipe.cmd("HSET").arg(key);
                    for (f, v) in fields {
                        c.arg(f).arg(v);
                    }
                    c.ignore();
                }
                KeyWrite::Expire { key, seconds } => {
                    pipe.cmd("EXPIRE").arg(key).arg(*seconds).ignore();
                }
                // Hash mode with every KPI present plans nothing else.
                _ => {}
            }
        }
        async move { pipe.query_async::<()>(&mut conn).await }
    });
    let results: Vec<_> = futures::stream::iter(pipelines)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for r in results {
        r.map_err(redis_err)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn start_exportd(env: &Env) -> BenchResult<ServingHandle> {
    let config = exportd::ExportConfig {
        max_in_flight: IN_FLIGHT,
        ..exportd::ExportConfig::default()
    };
    exportd::spawn_local(env.store.clone(), config, Shutdown::new())
        .await
        .map_err(|e| bench_err("start exportd", e))
}

async fn export_client(url: &str) -> BenchResult<ExportServiceClient<Channel>> {
    let ch = Endpoint::from_shared(url.to_string())
        .map_err(|e| bench_err("endpoint", e))?
        .connect()
        .await
        .map_err(|e| bench_err("connect to exportd", e))?;
    Ok(ExportServiceClient::new(ch)
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(exportd::MAX_MESSAGE_BYTES))
}

/// One export through exportd; seconds from the call to the report.
async fn exportd_pass(
    client: &mut ExportServiceClient<Channel>,
    summary: &v1::IterSummary,
    batch: usize,
    symbols: usize,
) -> BenchResult<f64> {
    let messages = vec![
        v1::ExportSummariesRequest {
            payload: Some(Payload::Options(v1::ExportOptions {
                env: ENV.into(),
                exchange: EXCHANGE.into(),
                ttl_seconds: TTL,
                batch_size: batch as u32,
                ..v1::ExportOptions::default()
            })),
        },
        v1::ExportSummariesRequest {
            payload: Some(Payload::Summary(summary.clone())),
        },
    ];
    let started = Instant::now();
    let report = client
        .export_summaries(tokio_stream::iter(messages))
        .await
        .map_err(|e| bench_err("export", e))?
        .into_inner()
        .report
        .ok_or_else(|| bench_err("export", "no report"))?;
    let secs = started.elapsed().as_secs_f64();
    if report.batches_failed > 0 || report.symbols.len() != symbols {
        return Err(bench_err(
            "export",
            format!(
                "{} batches failed, {} of {symbols} symbols",
                report.batches_failed,
                report.symbols.len()
            ),
        ));
    }
    Ok(secs)
}

/// exportd and the bare client (same writes) on `symbols` symbols with
/// `batch`; rates in symbols/s, plus the latest-only bare rates.
struct Measured {
    ours: Vec<f64>,
    bare: Vec<f64>,
    bare_latest: Vec<f64>,
}

async fn measure(
    env: &Env,
    url: &str,
    symbols: usize,
    batch: usize,
    latest: bool,
) -> BenchResult<Measured> {
    let s = summary(symbols);
    let wire = v1::IterSummary::from(&s);
    let writes = planned_writes(&s)?;
    let latest_writes = latest_only(&writes);
    let mut client = export_client(url).await?;
    let n = symbols as f64;
    // One untimed round of each, so every key exists and connections are warm.
    exportd_pass(&mut client, &wire, batch, symbols).await?;
    bare_pass(&env.conn, &writes, batch).await?;
    // An export of up to 10,000 symbols takes a tenth of a second: many
    // runs cost little and steady the figure on a shared machine.
    let runs = if symbols <= 10_000 {
        env.runs * EXPORT_RUNS_FACTOR
    } else {
        env.runs
    };
    let (ours, bare) = interleave(
        runs,
        async || Ok(n / exportd_pass(&mut client, &wire, batch, symbols).await?),
        async || Ok(n / bare_pass(&env.conn, &writes, batch).await?),
    )
    .await?;
    let mut bare_latest = Vec::new();
    if latest {
        for _ in 0..runs {
            bare_latest.push(n / bare_pass(&env.conn, &latest_writes, batch).await?);
        }
    }
    Ok(Measured {
        ours,
        bare,
        bare_latest,
    })
}

/// Section 3: 10,000 symbols (or `symbols`), batch 50 and 100.
pub async fn throughput(env: &Env, symbols: usize) -> BenchResult<Section> {
    let handle = start_exportd(env).await?;
    let url = handle.url();
    let mut section = Section::new(
        "export_throughput",
        "3. Export throughput",
        format!(
            "One IterSummary of {} symbols (four KPIs, strategy params) through exportd (in-process, gRPC in, hash mode, \
             {IN_FLIGHT} pipelines in flight), timed from the call to the report. exportd writes per symbol `HSET latest` \
             (4 fields) + `EXPIRE` and the provenance `HSET meta` (14 fields) + `EXPIRE`. Bare, same work: the same \
             commands with the same keys and values precomputed, pipelined with the same batch size and {IN_FLIGHT} \
             pipelines in flight on one connection. Bare, latest only: `HSET` (4 fields) + `EXPIRE` per symbol.",
            fmt_number(symbols as f64)
        ),
    );
    for batch in [50, 100] {
        let m = measure(env, &url, symbols, batch, true).await?;
        let row = Row::versus(
            format!("exportd, batch {batch} vs bare same writes"),
            "symbols/s",
            m.ours.clone(),
            m.bare,
        )
        .target(0.8);
        let factor = row.value / LEGACY_RATE;
        section.rows.push(row);
        let mut latest = Row::versus(
            format!("exportd, batch {batch} vs bare HSET+EXPIRE only"),
            "symbols/s",
            m.ours.clone(),
            m.bare_latest,
        );
        latest = latest.note("bare sends half the commands (no provenance hash)");
        section.rows.push(latest);
        section.rows.push(
            Row::plain(
                format!("exportd, batch {batch} over the Python exporter"),
                "×",
                m.ours.iter().map(|r| r / LEGACY_RATE).collect(),
            )
            .note(format!("{factor:.0}× of 3,300 symbols/s")),
        );
    }
    let _ = handle.stop().await;
    Ok(section)
}

/// Section 6b: export rate for several symbol counts (batch 50).
pub async fn scaling(env: &Env, sizes: &[usize], section: &mut Section) -> BenchResult<()> {
    let handle = start_exportd(env).await?;
    let url = handle.url();
    for &symbols in sizes {
        let m = measure(env, &url, symbols, 50, false).await?;
        section.rows.push(
            Row::versus(
                format!("export, {} symbols, batch 50", fmt_number(symbols as f64)),
                "symbols/s",
                m.ours,
                m.bare,
            )
            .target(0.8),
        );
    }
    let _ = handle.stop().await;
    Ok(())
}
