//! One soak: validate the request into a [`SoakPlan`], then [`run`] it —
//! subscribe to ingestd, feed the engine, stream a summary per window, gate,
//! and optionally forward every summary to exportd.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::engine::model_spec::{DEFAULT_DRYRUN_MODEL, DEFAULT_SOAK_MODEL};
use shadowkpi_domain::engine::{EngineConfig, ModelSet, ShadowEngine, WindowResult};
use shadowkpi_domain::gate::GateThresholds;
use shadowkpi_domain::instrument::Instrument as Grid;
use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_domain::params::{ParamOverrides, StrategyParams};
use shadowkpi_domain::profile::Profile;
use shadowkpi_domain::summary::{
    IngestCounters, IterSummary, ModelSetInfo, SCHEMA_VERSION, StrategyInfo, SymbolSummary,
};
use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_driver::{self as driver, DriveEnd, DriveError, DriveLimits, WindowSink};
use shadowkpi_proto::convert::soak_verdict_to_wire;
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::run_soak_response::Event;
use shadowkpi_proto::v1::{
    self, ExecutionModel, ExportOptions, ExportSummariesRequest, ParamSources, RunSoakRequest,
    RunSoakResponse, SoakStarted, export_summaries_request,
};
use shadowkpi_runtime::status::PeerFailure;
use shadowkpi_strategy::{Endpoint, Phase, SessionConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::ShadowConfig;
use crate::error::ShadowError;
use crate::metrics::METRICS;

/// Commit the binary was built from, for the `notes` line.
pub const COMMIT: &str = env!("SHADOWKPI_COMMIT");

/// Most windows one soak may ask for.
const MAX_ITERATIONS: u32 = 100_000;

/// A validated soak request.
#[derive(Debug, Clone)]
pub struct SoakPlan {
    /// Run id.
    pub run_id: String,
    /// Normalised symbols, sorted.
    pub symbols: Vec<String>,
    /// Windows to complete.
    pub iterations: u32,
    /// Window length, event-time ms.
    pub window_ms: i64,
    /// Effective parameters per symbol.
    pub params: BTreeMap<String, StrategyParams>,
    /// Where each symbol's parameters came from, by field
    /// ([`Profile::resolve_explained`]).
    pub param_sources: BTreeMap<String, BTreeMap<&'static str, String>>,
    /// Parameters of the run without symbol overrides.
    pub default_params: StrategyParams,
    /// Profile or preset name for the summaries.
    pub profile_name: String,
    /// Execution models.
    pub models: ModelSet,
    /// The profile's price and size grids (symbols without one are inferred).
    pub instruments: BTreeMap<String, Grid>,
    /// Name and description of the model set, for the summaries.
    pub model: ModelSetInfo,
    /// Seed of random models.
    pub seed: u64,
    /// Gate thresholds.
    pub thresholds: GateThresholds,
    /// End the soak when no tick arrived for this long.
    pub idle_timeout: Duration,
    /// Forward summaries to exportd with these options.
    pub auto_export: Option<ExportOptions>,
    /// The external strategy, if the soak runs one.
    pub strategy: Option<Endpoint>,
    /// The feed position to read from (`RunSoakRequest.feed_from`); `None`:
    /// live, through the consumer group.
    pub feed_from: Option<String>,
    /// Windows the client already holds (a resume): computed and sent again,
    /// not exported again.
    pub resume_windows: u32,
}

/// Validates a request against the server's profile.
pub fn plan(req: &RunSoakRequest, server_profile: &Profile) -> Result<SoakPlan, ShadowError> {
    if req.symbols.is_empty() {
        return Err(ShadowError::invalid(
            "symbols",
            "at least one symbol is required",
        ));
    }
    let mut symbols = BTreeSet::new();
    for s in &req.symbols {
        let n = normalize_symbol(s).ok_or_else(|| {
            ShadowError::invalid("symbols", format!("`{s}` is empty after normalisation"))
        })?;
        symbols.insert(n);
    }
    let iterations = if req.iterations == 0 {
        48
    } else {
        req.iterations
    };
    if req.resume_windows > 0 && req.feed_from.trim().is_empty() {
        return Err(ShadowError::invalid(
            "resume_windows",
            "only a soak that reads from a feed position (`feed_from`) can be resumed",
        ));
    }
    if iterations > MAX_ITERATIONS {
        return Err(ShadowError::invalid(
            "iterations",
            format!("{iterations} is more than the maximum {MAX_ITERATIONS}"),
        ));
    }
    let window_ms = match req.window_ms {
        0 => 60_000,
        w if w > i64::MAX as u64 / 4 => {
            return Err(ShadowError::invalid(
                "window_ms",
                format!("{w} is too large"),
            ));
        }
        w => w as i64,
    };
    let parsed;
    let profile = if req.profile_json.trim().is_empty() {
        server_profile
    } else {
        parsed = Profile::from_json_str(&req.profile_json)
            .map_err(|e| ShadowError::invalid("profile_json", e.to_string()))?;
        &parsed
    };
    let preset = Some(req.preset.as_str()).filter(|p| !p.is_empty());
    let overrides: ParamOverrides = req.overrides.as_ref().map(Into::into).unwrap_or_default();
    let mut params = BTreeMap::new();
    let mut param_sources = BTreeMap::new();
    for s in &symbols {
        let (p, from) = profile
            .resolve_explained(s, preset, &overrides)
            .map_err(|e| ShadowError::invalid("profile", e.to_string()))?;
        params.insert(s.clone(), p);
        param_sources.insert(s.clone(), from);
    }
    let default_params = StrategyParams::default()
        .with_overrides(&profile.defaults)
        .with_overrides(&overrides);
    let seed = req.seed;
    let (models, model) = model_set(req, profile, seed)?;
    let thresholds: GateThresholds = req.thresholds.as_ref().map(Into::into).unwrap_or_default();
    let run_id = shadowkpi_runtime::ids::run_id_or_new(&req.run_id, "soak")
        .map_err(|m| ShadowError::invalid("run_id", m))?;
    let strategy = req
        .strategy
        .as_ref()
        .map(|e| Endpoint::from_wire(e).map_err(|(field, m)| ShadowError::invalid(field, m)))
        .transpose()?;
    Ok(SoakPlan {
        run_id,
        symbols: symbols.into_iter().collect(),
        iterations,
        window_ms,
        params,
        param_sources,
        default_params,
        profile_name: preset.unwrap_or("default").to_string(),
        models,
        instruments: profile.instruments.clone(),
        model,
        seed,
        thresholds,
        idle_timeout: Duration::from_millis(if req.idle_timeout_ms == 0 {
            30_000
        } else {
            req.idle_timeout_ms
        }),
        auto_export: req
            .auto_export
            .then(|| req.export_options.clone().unwrap_or_default()),
        strategy,
        feed_from: Some(req.feed_from.trim().to_string()).filter(|f| !f.is_empty()),
        resume_windows: req.resume_windows,
    })
}

/// The model set of a request: `model_set` by name from the profile (built-in
/// sets included), else the deprecated `model` enum (`shadow`, or `dryrun` for
/// STRICT). An unknown name is an invalid `model_set` listing the available sets.
pub fn model_set(
    req: &RunSoakRequest,
    profile: &Profile,
    seed: u64,
) -> Result<(ModelSet, ModelSetInfo), ShadowError> {
    let name = if req.model_set.is_empty() {
        match ExecutionModel::try_from(req.model) {
            Ok(ExecutionModel::Strict) => DEFAULT_DRYRUN_MODEL,
            Ok(_) => DEFAULT_SOAK_MODEL,
            Err(_) => {
                return Err(ShadowError::invalid(
                    "model",
                    format!("unknown execution model {}", req.model),
                ));
            }
        }
    } else {
        req.model_set.as_str()
    };
    let spec = profile
        .model_set(name)
        .map_err(|e| ShadowError::invalid("model_set", e.to_string()))?;
    let models = spec
        .build(seed)
        .map_err(|e| ShadowError::invalid("model_set", format!("model set `{name}`: {e}")))?;
    Ok((
        models,
        ModelSetInfo {
            name: name.to_string(),
            description: spec.describe(),
        },
    ))
}

pub use shadowkpi_runtime::ids::new_run_id;

type Tx = mpsc::Sender<Result<RunSoakResponse, tonic::Status>>;

async fn send(tx: &Tx, event: Event, position: &str) -> bool {
    tx.send(Ok(RunSoakResponse {
        event: Some(event),
        feed_position: position.to_string(),
    }))
    .await
    .is_ok()
}

/// The soak's state between windows.
struct SoakState {
    plan: SoakPlan,
    source: String,
    per_symbol: BTreeMap<String, Vec<KpiSet>>,
    pending_counters: BTreeMap<String, IngestCounters>,
    emitted: u32,
    strategy: StrategyInfo,
}

impl SoakState {
    fn summary(&mut self, w: &WindowResult) -> IterSummary {
        let mut s = IterSummary {
            schema_version: SCHEMA_VERSION.to_string(),
            run_id: self.plan.run_id.clone(),
            iteration: w.iteration,
            window: w.window,
            source: self.source.clone(),
            profile: self.plan.profile_name.clone(),
            params: Some(self.plan.default_params.clone()),
            model: Some(self.plan.model.clone()),
            strategy: Some(self.strategy.clone()),
            ..IterSummary::default()
        };
        for sym in &self.plan.symbols {
            let sw = w.symbols.get(sym);
            let kpis = sw.map(|s| s.kpis.clone()).unwrap_or_default();
            // Counters are attributed to the window being emitted when they
            // arrived; a window is emitted once its mark-outs are complete.
            let counters = self.pending_counters.remove(sym).unwrap_or_default();
            s.seq_gaps += counters.seq_gaps;
            s.reordered += counters.reordered;
            s.bp_drops += counters.bp_drops;
            METRICS.observe(sym, &kpis);
            if let Some(sw) = sw {
                METRICS.rejects(sym, &sw.rejects);
            }
            self.per_symbol
                .entry(sym.clone())
                .or_default()
                .push(kpis.clone());
            s.symbols.insert(
                sym.clone(),
                SymbolSummary {
                    summary: kpis,
                    params: self.plan.params.get(sym).cloned(),
                    counters,
                    ticks: sw.map(|s| s.ticks).unwrap_or(0),
                    path: sw.map(|s| s.path.clone()).unwrap_or_default(),
                    rejects: sw.map(|s| s.rejects.clone()).unwrap_or_default(),
                },
            );
        }
        s.notes = s.make_notes(COMMIT);
        s
    }
}

/// A symbol's grid as [`ParamSources::grid`] says it: the profile's, or
/// `inferred`.
pub fn grid_text(grid: Option<&Grid>) -> String {
    grid.map_or_else(
        || "inferred".to_string(),
        |g| format!("tick_size={} lot_size={}", g.tick_size, g.lot_size),
    )
}

/// Runs a planned soak, streaming its events into `tx` until done, cancelled
/// (`cancel`), or the client went away.
pub async fn run(plan: SoakPlan, config: ShadowConfig, tx: Tx, cancel: CancellationToken) {
    let run_id = plan.run_id.clone();
    let span = tracing::info_span!("soak", run_id = %run_id, symbols = ?plan.symbols, iterations = plan.iterations);
    async move {
        match run_inner(plan, config, &tx, cancel).await {
            Ok(()) => tracing::info!("soak finished"),
            Err(e) => {
                tracing::warn!(error = %e, "soak failed");
                let _ = tx.send(Err(e.into())).await;
            }
        }
    }
    .instrument(span)
    .await;
}

async fn run_inner(
    plan: SoakPlan,
    config: ShadowConfig,
    tx: &Tx,
    cancel: CancellationToken,
) -> Result<(), ShadowError> {
    let mut engine_cfg = EngineConfig::new(plan.window_ms)
        .with_params(plan.default_params.clone())
        .with_models(plan.models.clone())
        .with_seed(plan.seed);
    engine_cfg.instruments = plan.instruments.clone();
    for (s, p) in &plan.params {
        engine_cfg = engine_cfg.with_symbol(s, p.clone());
    }
    let strategy = match &plan.strategy {
        None => StrategyInfo::builtin(),
        Some(endpoint) => {
            let remote = shadowkpi_strategy::open(SessionConfig::new(
                endpoint,
                &plan.run_id,
                Phase::Soak,
                &plan.params,
                engine_cfg.max_orders_per_decision,
                &plan.model.name,
                plan.seed,
            ))
            .await
            .map_err(|e| ShadowError::StrategyUnavailable(e.to_string()))?;
            let info = remote.info();
            engine_cfg = engine_cfg.with_strategy(Arc::new(remote));
            info
        }
    };
    let mut engine =
        ShadowEngine::new(engine_cfg).map_err(|e| ShadowError::invalid("params", e.to_string()))?;

    let mut ticks = driver::subscribe(
        &config.ingest_addr,
        &plan.symbols,
        format!("shadowd/{}", plan.run_id),
        plan.feed_from.as_deref(),
    )
    .await
    .map_err(drive_error)?;

    // Auto-export: a client stream to exportd, options first.
    let export = match &plan.auto_export {
        None => None,
        Some(opts) => {
            let channel = shadowkpi_runtime::client::connect("exportd", &config.export_addr)
                .await
                .map_err(|e| ShadowError::Export(PeerFailure::new(e.to_string())))?;
            let (etx, erx) = mpsc::channel::<ExportSummariesRequest>(64);
            etx.send(ExportSummariesRequest {
                payload: Some(export_summaries_request::Payload::Options(opts.clone())),
            })
            .await
            .map_err(|_| ShadowError::Export(PeerFailure::new("export stream closed")))?;
            let call = tokio::spawn(
                async move {
                    ExportServiceClient::new(channel)
                        .export_summaries(tokio_stream::wrappers::ReceiverStream::new(erx))
                        .await
                }
                .in_current_span(),
            );
            Some((etx, call))
        }
    };

    let started = SoakStarted {
        run_id: plan.run_id.clone(),
        symbols: plan.symbols.clone(),
        params: plan
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.into()))
            .collect(),
        profile: plan.profile_name.clone(),
        model: Some((&plan.model).into()),
        strategy: Some((&strategy).into()),
        feed_position: ticks.start().unwrap_or_default().to_string(),
        param_sources: plan
            .param_sources
            .iter()
            .map(|(sym, from)| {
                let sources = ParamSources {
                    sources: from
                        .iter()
                        .map(|(f, l)| (f.to_string(), l.clone()))
                        .collect(),
                    grid: grid_text(plan.instruments.get(sym)),
                };
                (sym.clone(), sources)
            })
            .collect(),
    };
    if !send(tx, Event::Started(started), ticks.position()).await {
        return Ok(());
    }

    let state = SoakState {
        source: format!("ingest:{}", config.ingest_addr),
        per_symbol: BTreeMap::new(),
        pending_counters: BTreeMap::new(),
        emitted: 0,
        strategy,
        plan,
    };
    let limits = DriveLimits {
        iterations: state.plan.iterations,
        idle_timeout: state.plan.idle_timeout,
    };
    let mut sink = SoakSink {
        state,
        tx,
        export,
        span: tracing::info_span!("soak.window", iteration = 1u32),
    };
    let outcome = driver::drive(&mut engine, &mut ticks, limits, &cancel, &mut sink)
        .await
        .map_err(drive_error)?;
    drop(ticks);
    if outcome.end == DriveEnd::ClientGone {
        tracing::info!("client went away, soak cancelled");
        return Ok(());
    }
    let SoakSink {
        state, mut export, ..
    } = sink;

    let verdict = state.plan.thresholds.evaluate(&state.per_symbol);
    let wire = soak_verdict_to_wire(
        &state.plan.run_id,
        &verdict,
        state.emitted,
        &state.plan.thresholds,
    );
    tracing::info!(verdict = %verdict.verdict, windows = state.emitted, "soak gated");
    if !send(tx, Event::Verdict(wire), "").await {
        return Ok(());
    }
    if let Some((etx, call)) = export.take() {
        drop(etx);
        let report = call
            .await
            .map_err(|e| ShadowError::Export(PeerFailure::new(e.to_string())))?
            .map_err(|s| {
                ShadowError::Export(PeerFailure::of_status(&format!("{:?}", s.code()), &s))
            })?
            .into_inner()
            .report
            .unwrap_or_default();
        send(tx, Event::ExportReport(report), "").await;
    }
    Ok(())
}

type Export = Option<(
    mpsc::Sender<ExportSummariesRequest>,
    tokio::task::JoinHandle<Result<tonic::Response<v1::ExportSummariesResponse>, tonic::Status>>,
)>;

fn drive_error(e: DriveError) -> ShadowError {
    match e {
        DriveError::Feed(m) => ShadowError::IngestUnavailable(m),
        DriveError::Cancelled => ShadowError::ShuttingDown,
        DriveError::Strategy(f) => ShadowError::StrategyFailed(f.message),
    }
}

/// What a soak does with the drive: every window becomes an ITER_SUMMARY,
/// streamed to the client and, with auto-export, to exportd.
struct SoakSink<'a> {
    state: SoakState,
    tx: &'a Tx,
    export: Export,
    span: tracing::Span,
}

impl WindowSink for SoakSink<'_> {
    async fn window(&mut self, w: &WindowResult, position: &str) -> bool {
        let summary = {
            let _g = self.span.enter();
            self.state.summary(w)
        };
        self.state.emitted += 1;
        tracing::debug!(
            iteration = w.iteration,
            partial = w.partial,
            "window closed"
        );
        self.span = tracing::info_span!("soak.window", iteration = w.iteration + 1);
        let wire: v1::IterSummary = (&summary).into();
        // A resumed soak's first windows are the client's already (and
        // exported already): sent again to be compared, not exported again.
        let resent = w.iteration <= self.state.plan.resume_windows;
        if let Some((etx, _)) = self.export.as_ref().filter(|_| !resent)
            && etx
                .send(ExportSummariesRequest {
                    payload: Some(export_summaries_request::Payload::Summary(wire.clone())),
                })
                .await
                .is_err()
        {
            tracing::warn!("export stream closed early; the export report will say why");
        }
        send(self.tx, Event::Summary(wire), position).await
    }

    async fn closed(&self) {
        self.tx.closed().await;
    }

    fn counters(&mut self, symbol: &str, c: &v1::IngestCounters) {
        self.state
            .pending_counters
            .entry(symbol.to_string())
            .or_default()
            .add(&c.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::builtin()
    }

    fn model_of(req: RunSoakRequest) -> Result<ModelSetInfo, String> {
        let req = RunSoakRequest {
            symbols: vec!["BTCUSDT".into()],
            ..req
        };
        plan(&req, &profile())
            .map(|p| p.model)
            .map_err(|e| tonic::Status::from(e).message().to_string())
    }

    #[test]
    fn model_set_by_name_or_by_the_deprecated_enum() {
        let by_default = model_of(RunSoakRequest::default()).unwrap();
        assert_eq!(by_default.name, "shadow");
        assert_eq!(
            by_default.description,
            "latency=constant(feed=6ms,entry=25ms,response=25ms) queue=front partial_fills=false fees=params"
        );
        let strict = model_of(RunSoakRequest {
            model: ExecutionModel::Strict as i32,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(strict.name, "dryrun");
        let lenient = model_of(RunSoakRequest {
            model: ExecutionModel::Lenient as i32,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(lenient.name, "shadow");
        // the name wins over the enum; the profile's own sets are available
        let named = model_of(RunSoakRequest {
            model: ExecutionModel::Strict as i32,
            model_set: "measured_example".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(named.name, "measured_example");
        assert!(
            named
                .description
                .contains("latency=empirical(source=latency/example_orders.csv,points=25")
        );
        // an inline profile brings its own sets
        let inline = model_of(RunSoakRequest {
            model_set: "slow".into(),
            profile_json:
                r#"{"models": {"slow": {"latency": {"kind": "constant", "entry_ms": 90}}}}"#.into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            inline.description,
            "latency=constant(feed=0ms,entry=90ms,response=0ms) queue=front partial_fills=false fees=params"
        );
    }

    #[test]
    fn unknown_or_unusable_model_set_is_an_invalid_model_set() {
        let err = model_of(RunSoakRequest {
            model_set: "strict".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err,
            "model_set: unknown model set `strict` (available: dryrun, lenient, measured_example, shadow)"
        );
        let err = model_of(RunSoakRequest {
            model_set: "m".into(),
            profile_json:
                r#"{"models": {"m": {"latency": {"kind": "empirical", "file": "x.csv"}}}}"#.into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err,
            "model_set: model set `m`: latency: latency file `x.csv` was not loaded"
        );
        let err = model_of(RunSoakRequest {
            model: 9,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err, "model: unknown execution model 9");
    }

    #[test]
    fn empty_symbols_are_an_invalid_argument_naming_the_field() {
        let err = plan(&RunSoakRequest::default(), &profile()).unwrap_err();
        assert!(matches!(
            err,
            ShadowError::InvalidArgument {
                field: "symbols",
                ..
            }
        ));
        let status: tonic::Status = err.into();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().starts_with("symbols:"));
    }

    #[test]
    fn defaults_and_normalisation_apply() {
        let p = plan(
            &RunSoakRequest {
                symbols: vec!["btc-usdt".into(), "BTC_USDT".into(), "eth/usdt".into()],
                ..Default::default()
            },
            &profile(),
        )
        .unwrap();
        assert_eq!(p.symbols, ["BTCUSDT", "ETHUSDT"]);
        assert_eq!(p.iterations, 48);
        assert_eq!(p.window_ms, 60_000);
        assert_eq!(p.idle_timeout, Duration::from_secs(30));
        assert_eq!(p.thresholds, GateThresholds::default());
        assert!(p.run_id.starts_with("soak-"));
        // per-symbol overrides of the shipped profile
        assert_eq!(p.params["ETHUSDT"].min_lot, 0.2);
        assert_eq!(p.params["BTCUSDT"].min_lot, 0.01);
        // the shipped profile configures no grid: the engine infers it
        assert!(p.instruments.is_empty());
    }

    #[test]
    fn the_request_profile_s_instruments_reach_the_plan() {
        let p =
            plan(
                &RunSoakRequest {
                    symbols: vec!["BTCUSDT".into()],
                    profile_json:
                        r#"{"instruments": {"btc-usdt": {"tick_size": 0.1, "lot_size": 0.001}}}"#
                            .into(),
                    ..Default::default()
                },
                &profile(),
            )
            .unwrap();
        assert_eq!(
            p.instruments.get("BTCUSDT"),
            Some(&Grid::new(0.1, 0.001).unwrap())
        );
        let err = plan(
            &RunSoakRequest {
                symbols: vec!["BTCUSDT".into()],
                profile_json: r#"{"instruments": {"BTCUSDT": {"tick_size": -1, "lot_size": 1}}}"#
                    .into(),
                ..Default::default()
            },
            &profile(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("instruments.BTCUSDT`: tick_size must be positive and finite, got -1"),
            "{err}"
        );
    }

    #[test]
    fn unknown_preset_and_bad_profile_are_named() {
        let err = plan(
            &RunSoakRequest {
                symbols: vec!["BTCUSDT".into()],
                preset: "nope".into(),
                ..Default::default()
            },
            &profile(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown preset `nope`"), "{err}");
        let err = plan(
            &RunSoakRequest {
                symbols: vec!["BTCUSDT".into()],
                profile_json: r#"{"defaults": {"quote_ofset_bps": 1}}"#.into(),
                ..Default::default()
            },
            &profile(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("profile_json:"), "{err}");
        assert!(err.to_string().contains("quote_ofset_bps"), "{err}");
    }
}
