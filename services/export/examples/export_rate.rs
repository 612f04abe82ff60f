//! Export throughput: 10,000 symbols in hash mode through exportd, against a
//! bare pipelined `HSET` (4 fields) + `EXPIRE` loop on the same Redis with the
//! same batch size.
//!
//! ```text
//! cargo run --release -p exportd --example export_rate              # private redis-server
//! cargo run --release -p exportd --example export_rate -- redis://127.0.0.1:6379
//! ```
//!
//! Both sides write the same `…:shadow:latest:{SYMBOL}` hashes; exportd also
//! writes the provenance hash of every symbol, so it sends twice the commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_domain::summary::{IterSummary, SymbolSummary, Window};
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::{
    ExportOptions, ExportSummariesRequest, export_summaries_request::Payload,
};
use shadowkpi_runtime::Shutdown;
use shadowkpi_store::{RedisStore, Store, StoreOptions};

const SYMBOLS: usize = 10_000;
const BATCH: usize = 50;
const ROUNDS: usize = 5;

fn summary() -> IterSummary {
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
        symbols: (0..SYMBOLS)
            .map(|i| {
                (
                    format!("SYM{i:05}USDT"),
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

async fn via_exportd(url: &str, s: &IterSummary, dry_run: bool) -> Duration {
    let mut client = ExportServiceClient::connect(url.to_string())
        .await
        .expect("connect exportd")
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(exportd::MAX_MESSAGE_BYTES);
    let messages = vec![
        ExportSummariesRequest {
            payload: Some(Payload::Options(ExportOptions {
                env: "bench".into(),
                exchange: "bybit".into(),
                ttl_seconds: 3600,
                batch_size: BATCH as u32,
                dry_run,
                ..ExportOptions::default()
            })),
        },
        ExportSummariesRequest {
            payload: Some(Payload::Summary(s.into())),
        },
    ];
    let started = Instant::now();
    let report = client
        .export_summaries(tokio_stream::iter(messages))
        .await
        .expect("export")
        .into_inner()
        .report
        .expect("report");
    let took = started.elapsed();
    assert_eq!(report.batches_failed, 0, "export failed");
    assert_eq!(report.symbols.len(), SYMBOLS);
    took
}

async fn bare(url: &str, in_flight: usize) -> Duration {
    let client = redis::Client::open(url).expect("redis url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect redis");
    let keys: Vec<String> = (0..SYMBOLS)
        .map(|i| format!("bare:bybit:shadow:latest:SYM{i:05}USDT"))
        .collect();
    let started = Instant::now();
    let pipelines = keys.chunks(BATCH).map(|chunk| {
        let mut conn = conn.clone();
        let mut pipe = redis::pipe();
        for (i, key) in chunk.iter().enumerate() {
            pipe.cmd("HSET")
                .arg(key)
                .arg("edge_bps")
                .arg(format!("{}", 3.2 + i as f64 * 1e-4))
                .arg("maker_taker_ratio")
                .arg("0.85")
                .arg("p95_latency_ms")
                .arg("250")
                .arg("risk_ratio")
                .arg("0.31")
                .ignore();
            pipe.cmd("EXPIRE").arg(key).arg(3600).ignore();
        }
        async move { pipe.query_async::<()>(&mut conn).await.expect("pipeline") }
    });
    use futures::StreamExt;
    futures::stream::iter(pipelines)
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

fn rate(d: Duration) -> f64 {
    SYMBOLS as f64 / d.as_secs_f64()
}

fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let private;
    let url = match std::env::args().nth(1) {
        Some(u) => u,
        None => {
            private = shadowkpi_testkit::RedisServer::start();
            private.url()
        }
    };
    let store: Arc<dyn Store> =
        Arc::new(RedisStore::open(&url, StoreOptions::default()).expect("redis url"));
    let exportd = exportd::spawn_local(store, exportd::ExportConfig::default(), Shutdown::new())
        .await
        .expect("start exportd");
    let s = summary();
    println!(
        "redis {}: {SYMBOLS} symbols, hash mode, batch size {BATCH}, {ROUNDS} rounds (first round warms up)",
        shadowkpi_runtime::config::redact_url(&url)
    );

    let mut e = Vec::new();
    let mut d = Vec::new();
    let mut b1 = Vec::new();
    let mut b4 = Vec::new();
    for round in 0..=ROUNDS {
        let te = via_exportd(&exportd.url(), &s, false).await;
        let td = via_exportd(&exportd.url(), &s, true).await;
        let t1 = bare(&url, 1).await;
        let t4 = bare(&url, 4).await;
        if round > 0 {
            e.push(te);
            d.push(td);
            b1.push(t1);
            b4.push(t4);
        }
    }
    let line = |name: &str, v: &[Duration], cmds: usize| {
        println!(
            "{name:<48} median {:>8.1} ms  {:>9.0} symbols/s   best {:>9.0} symbols/s   ({cmds} commands)",
            median(v).as_secs_f64() * 1e3,
            rate(median(v)),
            rate(best(v)),
        );
    };
    line("exportd (gRPC in, 4 pipelines in flight)", &e, SYMBOLS * 4);
    line("exportd dry run (gRPC + plan, no Redis)", &d, 0);
    line("bare HSET+EXPIRE pipelines, 1 in flight", &b1, SYMBOLS * 2);
    line("bare HSET+EXPIRE pipelines, 4 in flight", &b4, SYMBOLS * 2);
    println!(
        "ratio exportd / bare: {:.2} (1 in flight), {:.2} (4 in flight)",
        rate(median(&e)) / rate(median(&b1)),
        rate(median(&e)) / rate(median(&b4)),
    );
    let _ = exportd.stop().await;
}
