//! Shared helpers of the `export_*` tests: summaries, an exportd client, and
//! plain-Redis views of what was written.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::summary::{IterSummary, SymbolSummary, Window};
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::{
    ExportOptions, ExportReport, ExportSummariesRequest, export_summaries_request::Payload,
};
use shadowkpi_runtime::{ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};

/// Start of the first window of the test summaries (2024-01-15T00:00:00Z).
pub const T0: i64 = 1_705_276_800_000;

/// KPIs with the four contract values.
pub fn kpis(edge: f64, ratio: f64, p95: Option<f64>, risk: f64) -> KpiSet {
    KpiSet {
        edge_bps: Some(edge),
        maker_taker_ratio: Some(ratio),
        p95_latency_ms: p95,
        risk_ratio: Some(risk),
        maker_count: 9,
        taker_count: 1,
        total_fills: 10,
        clock_drift_ms: None,
    }
}

/// Fixed parameters (not the defaults, which may change).
pub fn params() -> StrategyParams {
    StrategyParams {
        touch_dwell_ms: 50.0,
        min_lot: 0.01,
        quote_offset_bps: 1.0,
        inventory_limit: 1.0,
        requote_threshold_bps: 0.5,
        maker_fee_bps: -0.5,
        taker_fee_bps: 5.5,
        markout_ms: 1000.0,
    }
}

/// The `iteration`-th one-minute window of run `run` with the given symbols.
pub fn summary(run: &str, iteration: u32, symbols: &[(&str, KpiSet)]) -> IterSummary {
    let start = T0 + i64::from(iteration - 1) * 60_000;
    IterSummary {
        schema_version: "1.0".into(),
        run_id: run.into(),
        iteration,
        window: Window {
            start_ms: start,
            end_ms: start + 60_000,
        },
        source: "synthetic".into(),
        profile: "default".into(),
        symbols: symbols
            .iter()
            .map(|(s, k)| {
                (
                    s.to_string(),
                    SymbolSummary {
                        summary: k.clone(),
                        ..SymbolSummary::default()
                    },
                )
            })
            .collect(),
        params: Some(params()),
        ..IterSummary::default()
    }
}

/// A Redis store on `url` with short timeouts.
pub fn redis_store(url: &str) -> Arc<dyn Store> {
    Arc::new(RedisStore::open(url, StoreOptions::default()).expect("redis url"))
}

/// Starts exportd over `store` on a loopback port.
pub async fn start_exportd(store: Arc<dyn Store>, config: exportd::ExportConfig) -> ServingHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    exportd::spawn_with(store, config, listener, Shutdown::new()).unwrap()
}

/// Options with the defaults of the contract except where overridden.
pub fn options() -> ExportOptions {
    ExportOptions {
        env: "dev".into(),
        exchange: "bybit".into(),
        ttl_seconds: 3600,
        batch_size: 50,
        ..ExportOptions::default()
    }
}

/// Sends the raw messages to exportd.
pub async fn send(
    exportd: &ServingHandle,
    messages: Vec<ExportSummariesRequest>,
) -> Result<ExportReport, tonic::Status> {
    let mut client = ExportServiceClient::connect(exportd.url())
        .await
        .unwrap()
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(exportd::MAX_MESSAGE_BYTES);
    client
        .export_summaries(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner().report.expect("report"))
}

/// Options first, then the summaries.
pub fn messages(options: ExportOptions, summaries: &[IterSummary]) -> Vec<ExportSummariesRequest> {
    let mut m = vec![ExportSummariesRequest {
        payload: Some(Payload::Options(options)),
    }];
    m.extend(summaries.iter().map(|s| ExportSummariesRequest {
        payload: Some(Payload::Summary(s.into())),
    }));
    m
}

/// Exports `summaries` with `options`.
pub async fn export(
    exportd: &ServingHandle,
    options: ExportOptions,
    summaries: &[IterSummary],
) -> Result<ExportReport, tonic::Status> {
    send(exportd, messages(options, summaries)).await
}

/// Every key matching `pattern`, by `SCAN`, sorted.
pub fn scan(c: &mut redis::Connection, pattern: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000)
        .clone()
        .iter(c)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    keys.sort();
    keys
}

/// `HGETALL` as a map.
pub fn hgetall(c: &mut redis::Connection, key: &str) -> BTreeMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(c).unwrap()
}

/// `TTL` in seconds (-2 missing, -1 no expiry).
pub fn ttl(c: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(c).unwrap()
}

/// `DUMP` of every key matching `pattern`, plus whether each has a TTL: the
/// full serialized content of the keys.
pub fn dump(c: &mut redis::Connection, pattern: &str) -> BTreeMap<String, (Vec<u8>, bool)> {
    scan(c, pattern)
        .into_iter()
        .map(|k| {
            let bytes: Vec<u8> = redis::cmd("DUMP").arg(&k).query(c).unwrap();
            let expires = ttl(c, &k) > 0;
            (k, (bytes, expires))
        })
        .collect()
}

/// Map literal helper.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of an unlabelled metric (or one with exactly `labels`) in a
/// Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let (n, v) = l.rsplit_once(' ')?;
            (n == name).then(|| v.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("metric {name} not found"))
}
