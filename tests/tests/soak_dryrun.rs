//! Soak and dry run end to end, against a real Redis and the real services:
//! synthetic feed → Redis Stream → ingestd → shadowd (→ exportd) → Redis KPI
//! store → dryrund.

mod stack_common;

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Commands;
use shadowkpi_domain::accuracy::{AccuracyThresholds, relative_floor};
use shadowkpi_domain::aggregate::{Aggregation, aggregate};
use shadowkpi_domain::feed::synthetic::Scenario;
use shadowkpi_domain::kpi::{Kpi, KpiSet};
use shadowkpi_proto::convert::accuracy_status_from_wire;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::run_soak_response::Event as SoakEvent;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_proto::v1::validate_response::Event as ValidateEvent;
use shadowkpi_proto::v1::{
    AccuracyReport, ExportOptions, GateVerdict, IterSummary, RunSoakRequest, SoakVerdict,
    ValidateRequest,
};
use shadowkpi_runtime::Shutdown;
use shadowkpi_runtime::status::Reason;
use shadowkpi_store::Store;
use stack_common::{Stack, channel, listener, stack};

const HANG: Duration = Duration::from_secs(120);
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

/// `seconds` of event time of the synthetic bounce market (seed 7), the
/// market this soak's numbers were pinned on.
async fn feed(store: &dyn Store, seconds: i64) {
    stack_common::feed(store, &SYMBOLS, seconds, Scenario::Bounce).await;
}

struct Soak {
    summaries: Vec<IterSummary>,
    verdict: SoakVerdict,
    export_keys: Option<u64>,
}

async fn soak(s: &Stack, iterations: u32, env: Option<&str>) -> Soak {
    let req = RunSoakRequest {
        symbols: SYMBOLS.iter().map(|s| s.to_lowercase()).collect(),
        iterations,
        window_ms: 10_000,
        seed: 7,
        auto_export: env.is_some(),
        export_options: env.map(|e| ExportOptions {
            env: e.into(),
            ..Default::default()
        }),
        idle_timeout_ms: 10_000,
        // Quote at 1 bp, not the shipped profile's tuned offset: many fills in
        // every short window, whatever the profile says (the dry run reads the
        // parameters back from the exported provenance).
        overrides: Some(shadowkpi_proto::v1::StrategyParams {
            quote_offset_bps: Some(1.0),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut stream = ShadowServiceClient::new(channel(&s.shadow.url()).await)
        .run_soak(req)
        .await
        .unwrap()
        .into_inner();
    let mut out = Soak {
        summaries: Vec::new(),
        verdict: SoakVerdict::default(),
        export_keys: None,
    };
    let mut started = false;
    let mut verdict = None;
    while let Some(m) = tokio::time::timeout(HANG, stream.message())
        .await
        .expect("soak hung")
        .unwrap()
    {
        match m.event.unwrap() {
            SoakEvent::Started(st) => {
                assert!(!started && out.summaries.is_empty(), "started comes first");
                assert_eq!(st.symbols, SYMBOLS);
                started = true;
            }
            SoakEvent::Summary(sum) => {
                assert!(verdict.is_none(), "no summary after the verdict");
                out.summaries.push(sum);
            }
            SoakEvent::Verdict(v) => verdict = Some(v),
            SoakEvent::ExportReport(r) => {
                assert_eq!(r.batches_failed, 0);
                out.export_keys = Some(r.keys_written);
            }
        }
    }
    assert!(started);
    out.verdict = verdict.expect("a verdict");
    out
}

fn kpis(s: &IterSummary, sym: &str) -> KpiSet {
    (&s.symbols[sym].summary.unwrap()).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_streams_one_summary_per_window_gates_and_auto_exports() {
    let s = stack().await;
    feed(&*s.store, 120).await;
    let out = soak(&s, 6, Some("e2e")).await;

    // One summary per window, contiguous 10 s windows, 1-based.
    assert_eq!(out.summaries.len(), 6);
    for (i, sum) in out.summaries.iter().enumerate() {
        assert_eq!(sum.iteration, i as u32 + 1);
        let w = sum.window.unwrap();
        assert_eq!(w.end_ms - w.start_ms, 10_000);
        if i > 0 {
            assert_eq!(w.start_ms, out.summaries[i - 1].window.unwrap().end_ms);
        }
        assert_eq!(sum.symbols.keys().collect::<Vec<_>>(), SYMBOLS);
        for sym in SYMBOLS {
            assert!(sum.symbols[sym].ticks > 100, "{sym} had ticks");
        }
        assert!(sum.notes.contains("seq_gaps=0"), "{}", sum.notes);
    }

    // Six windows cannot pass a gate that wants 48: every symbol says so.
    assert_eq!(out.verdict.verdict, GateVerdict::Hold as i32);
    assert_eq!(out.verdict.windows, 6);
    for v in &out.verdict.symbols {
        assert!(
            v.reasons.iter().any(|r| r == "windows 6 < 48"),
            "{:?}",
            v.reasons
        );
    }

    // Auto-export wrote the median of the windows to the hash of each symbol.
    assert!(out.export_keys.unwrap() >= 2);
    let mut c = s.redis.connection();
    for sym in SYMBOLS {
        let windows: Vec<KpiSet> = out.summaries.iter().map(|x| kpis(x, sym)).collect();
        let median = aggregate(&windows, Aggregation::Median);
        let h: BTreeMap<String, String> =
            c.hgetall(format!("e2e:bybit:shadow:latest:{sym}")).unwrap();
        for kpi in Kpi::ALL {
            match median.get(kpi) {
                Some(v) => assert_eq!(h.get(kpi.name()), Some(&v.to_string()), "{sym} {kpi}"),
                None => assert!(!h.contains_key(kpi.name()), "{sym} {kpi} absent"),
            }
        }
        let ttl: i64 = c.ttl(format!("e2e:bybit:shadow:latest:{sym}")).unwrap();
        assert!(ttl > 3500 && ttl <= 3600, "ttl {ttl}");
    }

    // The live gauges carry the last window.
    let metrics = shadowkpi_runtime::metrics::render();
    assert!(
        metrics.contains("shadow_edge_bps{symbol=\"BTCUSDT\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("shadow_risk_ratio{symbol=\"ETHUSDT\"}"));
    drop(s.ingest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_feed_and_seed_give_identical_kpis() {
    let (a, b) = (stack().await, stack().await);
    feed(&*a.store, 60).await;
    feed(&*b.store, 60).await;
    let (ra, rb) = (soak(&a, 4, None).await, soak(&b, 4, None).await);
    assert_eq!(ra.summaries.len(), 4);
    for (x, y) in ra.summaries.iter().zip(&rb.summaries) {
        for sym in SYMBOLS {
            let (mut kx, mut ky) = (kpis(x, sym), kpis(y, sym));
            // Wall-clock observations may differ between runs; nothing else may.
            kx.clock_drift_ms = None;
            ky.clock_drift_ms = None;
            let bits = |k: &KpiSet| {
                Kpi::ALL
                    .iter()
                    .map(|q| k.get(*q).map(f64::to_bits))
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&kx), bits(&ky), "{sym} iteration {}", x.iteration);
            assert_eq!(kx, ky);
            assert!(kx.total_fills > 0, "the strategy traded");
        }
    }
}

async fn validate(s: &Stack, symbols: &[&str], iterations: u32) -> AccuracyReport {
    let mut stream = DryRunServiceClient::new(channel(&s.dryrun.url()).await)
        .validate(stack_common::e2e_validate(symbols, iterations))
        .await
        .unwrap()
        .into_inner();
    let mut progress = 0;
    let mut report = None;
    while let Some(m) = tokio::time::timeout(HANG, stream.message())
        .await
        .expect("validate hung")
        .unwrap()
    {
        match m.event.unwrap() {
            ValidateEvent::Progress(p) => {
                assert!(report.is_none());
                assert_eq!(p.iterations, iterations);
                progress += 1;
            }
            ValidateEvent::Report(r) => report = Some(r),
        }
    }
    let report = report.expect("a report");
    assert_eq!(progress, iterations as usize * symbols.len());
    report
}

/// Recomputes every number of the report from the per-iteration actuals it
/// lists and the documented rule.
fn assert_report_is_consistent(r: &AccuracyReport) {
    let t = AccuracyThresholds::default();
    for sym in &r.symbols {
        for k in &sym.kpis {
            let kpi = Kpi::parse(&k.kpi).unwrap();
            let present: Vec<f64> = k.actuals.iter().filter_map(|a| a.value).collect();
            assert_eq!(k.actuals.len() as u32, r.iterations);
            let mut sorted = present.clone();
            sorted.sort_by(f64::total_cmp);
            let median = match sorted.len() {
                0 => None,
                n if n % 2 == 1 => Some(sorted[n / 2]),
                n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
            };
            assert_eq!(k.median_actual, median, "{} {}", sym.symbol, k.kpi);
            let status = accuracy_status_from_wire(k.status);
            match (k.predicted, present.is_empty()) {
                (Some(p), false) => {
                    let scale = p.abs().max(relative_floor(kpi));
                    let mape = present.iter().map(|a| (a - p).abs() / scale).sum::<f64>()
                        / present.len() as f64
                        * 100.0;
                    let got = k.mape_pct.unwrap();
                    assert!(
                        (got - mape).abs() < 1e-9,
                        "{} {}: {got} vs {mape}",
                        sym.symbol,
                        k.kpi
                    );
                    assert_eq!(status, t.grade(mape));
                }
                _ => assert_eq!(k.mape_pct, None),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_consistent_numbers_and_fails_a_corrupted_prediction() {
    let s = stack().await;
    feed(&*s.store, 240).await;
    let soaked = soak(&s, 6, Some("e2e")).await;
    assert_eq!(soaked.summaries.len(), 6);

    // A symbol without a prediction is reported as such, not skipped.
    let r = validate(&s, &["BTCUSDT", "ETHUSDT", "SOLUSDT"], 3).await;
    assert_eq!(r.iterations, 3);
    assert_eq!(r.symbols.len(), 3);
    assert_report_is_consistent(&r);
    let sol = r.symbols.iter().find(|x| x.symbol == "SOLUSDT").unwrap();
    assert!(!sol.has_prediction);
    assert_eq!(
        accuracy_status_from_wire(sol.status),
        shadowkpi_domain::accuracy::AccuracyStatus::NoPrediction
    );
    let btc = r.symbols.iter().find(|x| x.symbol == "BTCUSDT").unwrap();
    assert!(btc.has_prediction);
    assert!(
        btc.prediction_run_id.starts_with("soak-"),
        "{}",
        btc.prediction_run_id
    );

    // Corrupt BTCUSDT's edge: ten times the prediction, and far from anything real.
    let mut c = s.redis.connection();
    let key = "e2e:bybit:shadow:latest:BTCUSDT";
    let edge: f64 = c
        .hget::<_, _, String>(key, "edge_bps")
        .unwrap()
        .parse()
        .unwrap();
    let corrupted = if edge.abs() > 1.0 { edge * 10.0 } else { 25.0 };
    let _: () = c.hset(key, "edge_bps", corrupted.to_string()).unwrap();
    let r = validate(&s, &["BTCUSDT"], 3).await;
    assert_report_is_consistent(&r);
    let edge_row = &r.symbols[0].kpis[0];
    assert_eq!(edge_row.kpi, "edge_bps");
    assert_eq!(edge_row.predicted, Some(corrupted));
    assert_eq!(
        accuracy_status_from_wire(edge_row.status),
        shadowkpi_domain::accuracy::AccuracyStatus::Fail
    );
    assert_eq!(
        accuracy_status_from_wire(r.overall),
        shadowkpi_domain::accuracy::AccuracyStatus::Fail
    );
}

/// The error a dry run of BTCUSDT on the dryrund at `url` ends with.
async fn validate_error(url: &str) -> tonic::Status {
    DryRunServiceClient::new(channel(url).await)
        .validate(ValidateRequest {
            symbols: vec!["BTCUSDT".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_with_redis_down_is_unavailable_and_with_ingest_down_fails_fast() {
    let mut s = stack().await;
    s.redis.stop();
    let err = validate_error(&s.dryrun.url()).await;
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_UNREACHABLE"),
        "{err:?}"
    );
    s.redis.restart();

    // ingestd gone: a clear UNAVAILABLE, no hang.
    let dead = listener().await;
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let lonely = dryrund::spawn(
        dryrund::DryRunConfig {
            ingest_addr: dead_url,
        },
        s.store.clone(),
        listener().await,
        Shutdown::new(),
    )
    .unwrap();
    let err = tokio::time::timeout(HANG, validate_error(&lonely.url()))
        .await
        .expect("validate must not hang when ingestd is down");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        err.message().starts_with("ingest unavailable"),
        "{}",
        err.message()
    );
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("FEED_UNAVAILABLE"),
        "{err:?}"
    );
    drop(s.export);
}

/// dryrund over a Redis that refuses its password: FAILED_PRECONDITION with
/// the reason STORE_AUTH (the same code and reason as exportd's), the message
/// naming the store without the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_with_a_wrong_redis_password_is_store_auth() {
    let redis = shadowkpi_testkit::RedisServer::start_with(
        shadowkpi_testkit::RedisConfig::acl_user("grader", "right-s3cret"),
    );
    let wrong = redis.url().replace("right-s3cret", "wrong-s3cret");
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
        shadowkpi_store::RedisStore::open(&wrong, shadowkpi_store::StoreOptions::default())
            .unwrap(),
    );
    let dead = listener().await;
    let ingest_addr = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let dryrun = dryrund::spawn(
        dryrund::DryRunConfig { ingest_addr },
        store,
        listener().await,
        Shutdown::new(),
    )
    .unwrap();
    let err = validate_error(&dryrun.url()).await;
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_AUTH"),
        "{err:?}"
    );
    assert!(!err.message().contains("s3cret"), "{}", err.message());
}

/// shadowd's auto-export into an exportd whose Redis refuses its password:
/// the soak fails with EXPORT_FAILED and forwards exportd's own reason,
/// STORE_AUTH, in its ErrorInfo (what makes `shadowctl soak` exit 3, as
/// `shadowctl export` does on the same store), after streaming its windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_export_into_a_store_that_refuses_the_password_forwards_store_auth() {
    use shadowkpi_runtime::status::upstream_of;
    use shadowkpi_store::{RedisStore, StoreOptions};
    use shadowkpi_testkit::{RedisConfig, RedisServer};

    let s = stack().await;
    feed(&*s.store, 30).await;
    let locked = RedisServer::start_with(RedisConfig::acl_user("kpi", "right"));
    let wrong = format!("redis://kpi:wrong@127.0.0.1:{}", locked.port());
    let export = exportd::spawn(
        std::sync::Arc::new(RedisStore::open(&wrong, StoreOptions::default()).unwrap()),
        listener().await,
        Shutdown::new(),
    )
    .unwrap();
    let shadow = shadowd::spawn(
        shadowd::ShadowConfig {
            ingest_addr: s.ingest.url(),
            export_addr: export.url(),
        },
        listener().await,
        Shutdown::new(),
    )
    .unwrap();
    let req = RunSoakRequest {
        symbols: SYMBOLS.iter().map(|s| s.to_string()).collect(),
        iterations: 2,
        window_ms: 10_000,
        seed: 7,
        auto_export: true,
        export_options: Some(ExportOptions {
            env: "e2e".into(),
            ..Default::default()
        }),
        idle_timeout_ms: 10_000,
        ..Default::default()
    };
    let mut stream = ShadowServiceClient::new(channel(&shadow.url()).await)
        .run_soak(req)
        .await
        .unwrap()
        .into_inner();
    let mut summaries = 0;
    let err = loop {
        match tokio::time::timeout(HANG, stream.message())
            .await
            .expect("soak hung")
        {
            Ok(Some(m)) => {
                if let Some(SoakEvent::Summary(_)) = m.event {
                    summaries += 1;
                }
            }
            Ok(None) => panic!("the soak ended without the export's failure"),
            Err(status) => break status,
        }
    };
    assert_eq!(summaries, 2, "the windows still reach the client");
    assert_eq!(
        shadowkpi_runtime::status::code_and_reason(&err),
        (tonic::Code::Aborted, Some("EXPORT_FAILED")),
        "{err:?}"
    );
    assert_eq!(upstream_of(&err), Some(Reason::StoreAuth), "{err:?}");
    assert!(!err.message().contains("wrong"), "no password: {err:?}");
}
