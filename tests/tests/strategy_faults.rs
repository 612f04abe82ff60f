//! The strategy API's faults with the real services and a real strategy
//! process (`fault-strategy` from the test kit, the Rust example): every
//! fault of `docs/strategy-api.md` ends the run with its code and reason (or
//! is rejected back to the strategy and counted), the windows completed
//! before it are kept, and no session thread outlives the run.
//!
//! Each test has a stack of its own: a soak reads the feed from where the
//! previous subscriber left it.

mod stack_common;

use std::process::Command;
use std::time::Duration;

use shadowkpi_domain::feed::synthetic::Scenario;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::run_soak_response::Event as SoakEvent;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_proto::v1::validate_response::Event as ValidateEvent;
use shadowkpi_proto::v1::{
    AccuracyReport, ExportOptions, IterSummary, RunSoakRequest, SoakStarted, SoakVerdict,
    StrategyEndpoint, ValidateRequest,
};
use shadowkpi_runtime::status::code_and_reason;
use shadowkpi_testkit::cargo_bin;
use shadowkpi_testkit::process::ListeningProcess;
use stack_common::{Stack, channel, stack};
use tonic::Code;

const HANG: Duration = Duration::from_secs(120);
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
const WINDOW_MS: u64 = 10_000;

/// `fault-strategy` with `args`.
fn fault_strategy(args: &[&str]) -> ListeningProcess {
    let mut cmd = Command::new(cargo_bin("fault-strategy"));
    cmd.args(["--listen", "127.0.0.1:0"]).args(args);
    ListeningProcess::start(cmd)
}

/// The Rust example (`examples/strategies/rust`), waking on change.
fn rust_example() -> ListeningProcess {
    let mut cmd = Command::new(cargo_bin("quoting-strategy"));
    cmd.args(["--listen", "127.0.0.1:0", "--wake-on", "change"]);
    ListeningProcess::start(cmd)
}

/// A stack with `seconds` of the synthetic bounce market (seed 7) in its feed.
async fn fed_stack(seconds: i64) -> Stack {
    let s = stack().await;
    stack_common::feed(&*s.store, &SYMBOLS, seconds, Scenario::Bounce).await;
    s
}

fn endpoint(addr: &str, timeout_ms: u64) -> Option<StrategyEndpoint> {
    Some(StrategyEndpoint {
        address: addr.to_string(),
        timeout_ms,
    })
}

fn soak_request(iterations: u32, strategy: Option<StrategyEndpoint>) -> RunSoakRequest {
    RunSoakRequest {
        symbols: SYMBOLS.iter().map(|s| s.to_string()).collect(),
        iterations,
        window_ms: WINDOW_MS,
        seed: 7,
        idle_timeout_ms: 10_000,
        strategy,
        ..Default::default()
    }
}

/// What a soak streamed, and how it ended.
#[derive(Debug)]
struct Soak {
    started: Option<SoakStarted>,
    summaries: Vec<IterSummary>,
    verdict: Option<SoakVerdict>,
    export_keys: Option<u64>,
    error: Option<tonic::Status>,
}

async fn run_soak(s: &Stack, req: RunSoakRequest) -> Soak {
    let mut out = Soak {
        started: None,
        summaries: Vec::new(),
        verdict: None,
        export_keys: None,
        error: None,
    };
    let mut stream = match ShadowServiceClient::new(channel(&s.shadow.url()).await)
        .run_soak(req)
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => {
            out.error = Some(status);
            return out;
        }
    };
    loop {
        match tokio::time::timeout(HANG, stream.message())
            .await
            .expect("the soak hung")
        {
            Ok(Some(m)) => match m.event.unwrap() {
                SoakEvent::Started(st) => out.started = Some(st),
                SoakEvent::Summary(sum) => out.summaries.push(sum),
                SoakEvent::Verdict(v) => out.verdict = Some(v),
                SoakEvent::ExportReport(r) => out.export_keys = Some(r.keys_written),
            },
            Ok(None) => break,
            Err(status) => {
                out.error = Some(status);
                break;
            }
        }
    }
    out
}

/// Threads of this process named `strategy-session` (each session runs its
/// gRPC call on one), waited for up to five seconds to reach zero.
async fn session_threads() -> usize {
    let count = || {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(Result::ok)
                    .filter(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|c| c.trim() == "strategy-session")
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    for _ in 0..50 {
        if count() == 0 {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    count()
}

/// The event time `at event time T` in a fault's message names.
fn fault_at_ms(message: &str) -> i64 {
    let rest = message
        .split("at event time ")
        .nth(1)
        .unwrap_or_else(|| panic!("no event time in `{message}`"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no event time in `{message}`"))
}

/// A soak that ended with STRATEGY_FAILED: the message names the strategy,
/// the kind of fault and what it did; the windows streamed are contiguous and
/// all ended before the fault's decision; no session thread is left.
async fn assert_failed(out: &Soak, kind: &str, what: &str) -> usize {
    let err = out.error.as_ref().expect("the soak failed");
    assert_eq!(
        code_and_reason(err),
        (Code::Aborted, Some("STRATEGY_FAILED")),
        "{err:?}"
    );
    let msg = err.message();
    assert!(msg.contains("strategy `fault-strategy` at "), "{msg}");
    assert!(msg.contains(&format!("({kind})")), "{msg}");
    assert!(msg.contains(what), "{msg}");
    let at = fault_at_ms(msg);
    assert!(out.verdict.is_none(), "no verdict after a failed strategy");
    assert!(out.started.is_some());
    for (i, sum) in out.summaries.iter().enumerate() {
        assert_eq!(sum.iteration, i as u32 + 1);
        let w = sum.window.unwrap();
        assert!(
            w.end_ms <= at,
            "window {i} ends {} after the fault {at}",
            w.end_ms
        );
        assert_eq!(sum.strategy.as_ref().unwrap().name, "fault-strategy");
        for sym in SYMBOLS {
            assert!(sum.symbols[sym].ticks > 0, "{sym} had ticks");
        }
    }
    // Every window that ended before the fault was kept.
    if let Some(last) = out.summaries.last() {
        let end = last.window.unwrap().end_ms;
        assert!(
            end + WINDOW_MS as i64 > at,
            "the window ending {} was complete before the fault {at}",
            end + WINDOW_MS as i64
        );
    }
    assert_eq!(session_threads().await, 0, "the session's thread ended");
    println!(
        "{kind}: {} windows kept, fault at {at}",
        out.summaries.len()
    );
    out.summaries.len()
}

// ---------------------------------------------------------------------------
// Faults that end the run.

/// A soak of six windows over two minutes of feed through `fault-strategy`
/// with `args`.
async fn soak_through(args: &[&str], iterations: u32, timeout_ms: u64) -> Soak {
    let s = fed_stack(120).await;
    let strategy = fault_strategy(args);
    let addr = strategy.addr.to_string();
    run_soak(&s, soak_request(iterations, endpoint(&addr, timeout_ms))).await
}

/// `fault` at decision 800 ends a soak of six windows after its two
/// completed windows, with `kind` and `what` in the message.
async fn assert_fault_at_800_keeps_two_windows(
    fault: &str,
    timeout_ms: u64,
    kind: &str,
    what: &str,
) {
    let out = soak_through(&["--fault", fault, "--after", "800"], 6, timeout_ms).await;
    let windows = assert_failed(&out, kind, what).await;
    assert_eq!(windows, 2, "the windows before decision 800 were kept");
    let msg = out.error.unwrap().message().to_string();
    assert!(
        msg.contains("at decision 800 "),
        "the decision is named: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_stops_answering_ends_the_soak_after_its_completed_windows() {
    assert_fault_at_800_keeps_two_windows("hang", 300, "timeout", "no answer within 300ms").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_exits_ends_the_soak_as_disconnected() {
    // The message says how the call broke (which the transport words).
    let what = "at decision 800 (ETHUSDT at event time 1700000020522)";
    assert_fault_at_800_keeps_two_windows("exit", 5_000, "disconnected", what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_answers_another_sequence_ends_the_soak_as_garbage() {
    let what = "answered sequence 1800 instead of 800";
    assert_fault_at_800_keeps_two_windows("wrong-sequence", 5_000, "garbage", what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_cannot_be_used_is_unavailable_before_any_window() {
    let s = fed_stack(30).await;

    // No `ready` in answer to `start`.
    let strategy = fault_strategy(&["--fault", "no-ready"]);
    let addr = strategy.addr.to_string();
    let out = run_soak(&s, soak_request(2, endpoint(&addr, 2_000))).await;
    let err = out.error.expect("the soak failed");
    assert_eq!(
        code_and_reason(&err),
        (Code::Unavailable, Some("STRATEGY_UNAVAILABLE")),
        "{err:?}"
    );
    assert!(err.message().contains(&addr), "{}", err.message());
    assert!(
        err.message()
            .contains("answered `start` with a decision, not `ready`"),
        "{}",
        err.message()
    );
    assert!(out.summaries.is_empty());
    drop(strategy);

    // Nothing listening there.
    let dead = stack_common::listener().await;
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let out = run_soak(&s, soak_request(2, endpoint(&dead_addr, 2_000))).await;
    let err = out.error.expect("the soak failed");
    assert_eq!(
        code_and_reason(&err),
        (Code::Unavailable, Some("STRATEGY_UNAVAILABLE")),
        "{err:?}"
    );
    assert!(
        err.message().contains(&format!("strategy at {dead_addr}")),
        "{}",
        err.message()
    );
    assert!(out.summaries.is_empty());
    assert_eq!(session_threads().await, 0);

    // An address that is none, and a timeout out of range: INVALID_ARGUMENT
    // naming the field.
    for (endpoint, field) in [
        (endpoint("not an address", 1_000), "strategy.address"),
        (endpoint("127.0.0.1:1", 3_600_000), "strategy.timeout_ms"),
    ] {
        let out = run_soak(&s, soak_request(2, endpoint)).await;
        let err = out.error.expect("refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
    }
}

// ---------------------------------------------------------------------------
// Orders that are rejected back to the strategy: the soak goes on.

/// Reject counts of `sym` over all windows, by reason.
fn rejects(summaries: &[IterSummary], sym: &str) -> std::collections::BTreeMap<String, u64> {
    let mut total = std::collections::BTreeMap::new();
    for s in summaries {
        for (reason, n) in &s.symbols[sym].rejects {
            *total.entry(reason.clone()).or_insert(0) += n;
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_orders_are_rejected_with_their_reason_and_counted_and_the_soak_goes_on() {
    let out = soak_through(&["--fault", "bad-orders", "--after", "50"], 3, 5_000).await;
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.summaries.len(), 3);
    assert_eq!(out.verdict.as_ref().unwrap().windows, 3);

    // Decision 50 was one symbol's: its seven orders are rejected there, one
    // reason each; the other symbol sees only what quoting at the touch gets.
    let quoting = ["post_only_would_cross", "no_book"];
    let bad: Vec<_> = SYMBOLS
        .iter()
        .map(|sym| {
            let mut r = rejects(&out.summaries, sym);
            r.retain(|reason, _| !quoting.contains(&reason.as_str()));
            (sym, r)
        })
        .filter(|(_, r)| !r.is_empty())
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let expected: std::collections::BTreeMap<String, u64> = [
        ("invalid_size", 3),
        ("off_grid", 1),
        ("unknown_order", 1),
        ("unknown_symbol", 1),
        ("invalid_order", 1),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_string(), n))
    .collect();
    assert_eq!(bad[0].1, expected, "{}", bad[0].0);
    // The strategy kept quoting: every symbol traded in the soak.
    for sym in SYMBOLS {
        let fills: u64 = out
            .summaries
            .iter()
            .map(|x| x.symbols[sym].summary.unwrap().total_fills)
            .sum();
        assert!(fills > 0, "{sym} traded");
    }
    // And the metric adds them up.
    let metrics = shadowkpi_runtime::metrics::render();
    let line = format!(
        "shadow_order_rejects_total{{reason=\"off_grid\",symbol=\"{}\"}} 1",
        bad[0].0
    );
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
    assert_eq!(session_threads().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_orders_is_bounded_per_decision_and_the_excess_counted() {
    let args = ["--fault", "flood", "--after", "50", "--flood-count", "100"];
    let out = soak_through(&args, 3, 5_000).await;
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.summaries.len(), 3);
    let flooded: Vec<u64> = SYMBOLS
        .iter()
        .map(|sym| {
            rejects(&out.summaries, sym)
                .get("too_many_orders")
                .copied()
                .unwrap_or(0)
        })
        .collect();
    // 100 orders, at most 64 taken from one decision: 36 refused, all of one
    // symbol's decision.
    assert_eq!(flooded.iter().sum::<u64>(), 36, "{flooded:?}");
    assert!(flooded.contains(&36), "{flooded:?}");
}

// ---------------------------------------------------------------------------
// Both phases with the Rust example.

async fn validate(
    s: &Stack,
    iterations: u32,
    strategy: Option<StrategyEndpoint>,
) -> Result<AccuracyReport, tonic::Status> {
    let mut stream = DryRunServiceClient::new(channel(&s.dryrun.url()).await)
        .validate(ValidateRequest {
            strategy,
            ..stack_common::e2e_validate(&SYMBOLS, iterations)
        })
        .await?
        .into_inner();
    let mut progress = 0;
    let mut report = None;
    while let Some(m) = tokio::time::timeout(HANG, stream.message())
        .await
        .expect("validate hung")?
    {
        match m.event.unwrap() {
            ValidateEvent::Progress(_) => progress += 1,
            ValidateEvent::Report(r) => report = Some(r),
        }
    }
    let report = report.expect("a report");
    assert_eq!(progress, iterations as usize * SYMBOLS.len(), "{report:?}");
    Ok(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_and_its_dry_run_run_the_external_strategy_the_provenance_names() {
    // Ten minutes of feed for 40 s of soak and 20 s of dry run: what the
    // soak's subscription had read ahead when it ended is gone for the next
    // subscriber (ingestd acknowledges a tick once it hands it to gRPC).
    let s = fed_stack(600).await;
    let example = rust_example();
    let addr = example.addr.to_string();
    let mut req = soak_request(4, endpoint(&addr, 5_000));
    req.auto_export = true;
    req.export_options = Some(ExportOptions {
        env: "e2e".into(),
        ..Default::default()
    });
    let out = run_soak(&s, req).await;
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.summaries.len(), 4);
    let info = out.started.unwrap().strategy.unwrap();
    assert_eq!(
        (info.name.as_str(), info.address.as_str()),
        ("quoting-strategy-rust", addr.as_str())
    );
    assert!(out.export_keys.unwrap() >= 2);
    for sum in &out.summaries {
        assert_eq!(sum.strategy.as_ref().unwrap(), &info);
        assert!(
            sum.notes.contains("strategy=quoting-strategy-rust"),
            "{}",
            sum.notes
        );
    }

    // The dry run dials the address the provenance records.
    let report = validate(&s, 2, None).await.unwrap();
    assert_eq!(report.iterations, 2);
    assert_eq!(report.strategy.as_ref().unwrap(), &info);
    for sym in &report.symbols {
        assert!(sym.has_prediction, "{}", sym.symbol);
        // The edge exists only where the strategy traded.
        let edge = sym.kpis.iter().find(|k| k.kpi == "edge_bps").unwrap();
        assert!(
            edge.actuals.iter().any(|a| a.value.is_some()),
            "{}: the example traded in the dry run",
            sym.symbol
        );
    }

    // Another strategy than the soak's is refused, naming both.
    let other = fault_strategy(&[]);
    let err = validate(&s, 1, endpoint(&other.addr.to_string(), 5_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("fault-strategy"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("quoting-strategy"),
        "{}",
        err.message()
    );

    // The soak's strategy gone: the dry run cannot run it.
    drop(example);
    let err = validate(&s, 1, None).await.unwrap_err();
    assert_eq!(
        code_and_reason(&err),
        (Code::Unavailable, Some("STRATEGY_UNAVAILABLE")),
        "{err:?}"
    );
    assert!(err.message().contains(&addr), "{}", err.message());
    assert_eq!(session_threads().await, 0);
}
