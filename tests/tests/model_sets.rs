//! Execution model sets through the real services: a soak and a dry run name
//! their set (`model_set`), the set changes the simulation, and its name and
//! description travel through ITER_SUMMARY, the exported meta hash and the
//! accuracy report. Real Redis, real ingestd/shadowd/exportd/dryrund.

mod stack_common;

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Commands;
use shadowkpi_domain::feed::synthetic::Scenario;
use shadowkpi_domain::profile::Profile;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::run_soak_response::Event as SoakEvent;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_proto::v1::validate_response::Event as ValidateEvent;
use shadowkpi_proto::v1::{
    AccuracyReport, ExecutionModel, ExportOptions, IterSummary, ModelSetInfo, RunSoakRequest,
    SoakStarted, ValidateRequest,
};
use shadowkpi_runtime::status::{Reason, field_of};
use shadowkpi_store::Store;
use stack_common::{Stack, channel, stack};

const HANG: Duration = Duration::from_secs(120);
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

/// A profile with one set of its own: slow order entry, the dry run's queue.
const PROFILE: &str = r#"{
  "models": {
    "slow": {
      "latency": {"kind": "constant", "feed_ms": 5, "entry_ms": 400, "response_ms": 100},
      "queue": {"kind": "risk_averse"}
    }
  }
}"#;
const SLOW: &str = "latency=constant(feed=5ms,entry=400ms,response=100ms) queue=risk_averse partial_fills=false fees=params";

/// The synthetic feed of these tests' symbols.
async fn feed(store: &dyn Store, seconds: i64) {
    stack_common::feed(store, &SYMBOLS, seconds, Scenario::Calibrated).await;
}

fn soak_request(iterations: u32, env: Option<&str>) -> RunSoakRequest {
    RunSoakRequest {
        symbols: SYMBOLS.iter().map(|s| s.to_string()).collect(),
        iterations,
        window_ms: 10_000,
        seed: 7,
        auto_export: env.is_some(),
        export_options: env.map(|e| ExportOptions {
            env: e.into(),
            ..Default::default()
        }),
        idle_timeout_ms: 10_000,
        profile_json: PROFILE.into(),
        // Many fills in every short window, whatever the profile says.
        overrides: Some(shadowkpi_proto::v1::StrategyParams {
            quote_offset_bps: Some(1.0),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn soak(
    s: &Stack,
    req: RunSoakRequest,
) -> Result<(SoakStarted, Vec<IterSummary>), tonic::Status> {
    let mut stream = ShadowServiceClient::new(channel(&s.shadow.url()).await)
        .run_soak(req)
        .await?
        .into_inner();
    let mut started = None;
    let mut summaries = Vec::new();
    while let Some(m) = tokio::time::timeout(HANG, stream.message())
        .await
        .expect("soak hung")?
    {
        match m.event.unwrap() {
            SoakEvent::Started(st) => started = Some(st),
            SoakEvent::Summary(sum) => summaries.push(sum),
            SoakEvent::Verdict(_) => {}
            SoakEvent::ExportReport(r) => assert_eq!(r.batches_failed, 0),
        }
    }
    Ok((started.expect("a started event"), summaries))
}

async fn validate(s: &Stack, req: ValidateRequest) -> Result<AccuracyReport, tonic::Status> {
    let mut stream = DryRunServiceClient::new(channel(&s.dryrun.url()).await)
        .validate(req)
        .await?
        .into_inner();
    let mut report = None;
    while let Some(m) = tokio::time::timeout(HANG, stream.message())
        .await
        .expect("validate hung")?
    {
        if let ValidateEvent::Report(r) = m.event.unwrap() {
            report = Some(r);
        }
    }
    Ok(report.expect("a report"))
}

fn fills(summaries: &[IterSummary]) -> u64 {
    summaries
        .iter()
        .flat_map(|s| s.symbols.values())
        .map(|s| s.summary.unwrap().total_fills)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_set_runs_the_soak_and_travels_to_the_meta_hash_and_the_dry_run_report() {
    let s = stack().await;
    feed(&*s.store, 240).await;

    let (started, summaries) = soak(
        &s,
        RunSoakRequest {
            model_set: "slow".into(),
            ..soak_request(6, Some("e2e"))
        },
    )
    .await
    .unwrap();
    let slow = ModelSetInfo {
        name: "slow".into(),
        description: SLOW.into(),
    };
    assert_eq!(started.model.as_ref(), Some(&slow));
    assert_eq!(summaries.len(), 6);
    for sum in &summaries {
        assert_eq!(sum.model.as_ref(), Some(&slow));
        assert!(sum.notes.contains(" model=slow "), "{}", sum.notes);
    }

    // The exported provenance names the set, as JSON.
    let mut c = s.redis.connection();
    for sym in SYMBOLS {
        let meta: BTreeMap<String, String> =
            c.hgetall(format!("e2e:bybit:shadow:meta:{sym}")).unwrap();
        let model: serde_json::Value = serde_json::from_str(&meta["model"]).unwrap();
        assert_eq!(model["name"], "slow");
        assert_eq!(model["description"], SLOW);
    }

    // The dry run resolves a set of the request's profile and reports both sets.
    let report = validate(
        &s,
        ValidateRequest {
            symbols: SYMBOLS.iter().map(|x| x.to_string()).collect(),
            env: "e2e".into(),
            iterations: 2,
            window_ms: 10_000,
            seed: 7,
            idle_timeout_ms: 10_000,
            model_set: "slow".into(),
            profile_json: PROFILE.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.model.as_ref(), Some(&slow));
    assert_eq!(report.symbols.len(), 2);
    for sym in &report.symbols {
        assert_eq!(sym.prediction_model.as_ref(), Some(&slow), "{}", sym.symbol);
    }

    // Without a name: the built-in dry-run set.
    let report = validate(
        &s,
        ValidateRequest {
            symbols: vec!["BTCUSDT".into()],
            env: "e2e".into(),
            iterations: 1,
            window_ms: 10_000,
            idle_timeout_ms: 10_000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let builtin = &shadowkpi_domain::engine::model_spec::builtin_sets()["dryrun"];
    assert_eq!(
        report.model,
        Some(ModelSetInfo {
            name: "dryrun".into(),
            description: builtin.describe(),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_set_changes_the_simulation_and_the_old_enum_still_works() {
    let (a, b) = (stack().await, stack().await);
    feed(&*a.store, 60).await;
    feed(&*b.store, 60).await;
    let (_, lenient) = soak(
        &a,
        RunSoakRequest {
            model_set: "lenient".into(),
            ..soak_request(4, None)
        },
    )
    .await
    .unwrap();
    // The deprecated enum: STRICT is the built-in `dryrun` set.
    let (started, strict) = soak(
        &b,
        RunSoakRequest {
            model: ExecutionModel::Strict as i32,
            ..soak_request(4, None)
        },
    )
    .await
    .unwrap();
    assert_eq!(started.model.unwrap().name, "dryrun");
    assert_eq!(lenient[0].model.as_ref().unwrap().name, "lenient");
    assert!(
        strict[0].notes.contains(" model=dryrun "),
        "{}",
        strict[0].notes
    );
    // Same ticks, same seed: the set reaches the engine and changes the
    // simulation (on the calibrated market latency leaves quotes stale, which
    // can add fills as well as cost them, so only the change is asserted),
    // and the order ages hold the dry run's 10–40 ms of order entry.
    let (l, d) = (fills(&lenient), fills(&strict));
    assert!(l > 0 && d > 0 && l != d, "lenient {l} fills, dryrun {d}");
    let p95 = |s: &[IterSummary]| {
        s.iter()
            .flat_map(|w| w.symbols.values())
            .filter_map(|sym| sym.summary.as_ref()?.p95_latency_ms)
            .fold(f64::NAN, f64::max)
    };
    assert!(
        p95(&strict) >= 10.0,
        "dryrun p95 order age {}",
        p95(&strict)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_set_is_invalid_argument_listing_the_available_sets() {
    let s = stack().await;
    let err = soak(
        &s,
        RunSoakRequest {
            model_set: "strict".into(),
            ..soak_request(1, None)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "model_set: unknown model set `strict` (available: dryrun, lenient, shadow, slow)"
    );
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("INVALID_ARGUMENT")
    );
    assert_eq!(field_of(&err).as_deref(), Some("model_set"));
    let err = validate(
        &s,
        ValidateRequest {
            symbols: vec!["BTCUSDT".into()],
            model_set: "nope".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("INVALID_ARGUMENT")
    );
    assert_eq!(field_of(&err).as_deref(), Some("model_set"));
    let names = Profile::builtin().model_set_names().join(", ");
    assert_eq!(
        err.message(),
        format!("model_set: unknown model set `nope` (available: {names})")
    );
}
