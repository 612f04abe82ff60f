//! One validation: read predictions, dry-run the strategy on fresh ticks with
//! the requested model set, compare, report.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::accuracy::{
    AccuracyStatus, AccuracyThresholds, KpiAccuracy, compare_symbol, worst,
};
use shadowkpi_domain::engine::model_spec::DEFAULT_DRYRUN_MODEL;
use shadowkpi_domain::engine::{EngineConfig, ModelSet, ShadowEngine, WindowResult};
use shadowkpi_domain::export::keys::KeySchema;
use shadowkpi_domain::kpi::{Kpi, KpiSet};
use shadowkpi_domain::params::{ParamOverrides, StrategyParams};
use shadowkpi_domain::profile::Profile;
use shadowkpi_domain::summary::{ModelSetInfo, PathPoint, StrategyInfo};
use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_driver::{self as driver, DriveEnd, DriveError, DriveLimits, WindowSink};
use shadowkpi_proto::convert::accuracy_status_to_wire;
use shadowkpi_proto::v1::validate_response::Event;
use shadowkpi_proto::v1::{
    self, AccuracyReport, SymbolAccuracy, ValidateProgress, ValidateRequest, ValidateResponse,
};
use shadowkpi_store::{Store, StoreError};
use shadowkpi_strategy::{Endpoint, Phase, SessionConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::DryRunConfig;
use crate::error::DryRunError;
use crate::metrics::METRICS;

/// Most iterations one dry run may ask for.
const MAX_ITERATIONS: u32 = 10_000;

/// A validated request.
#[derive(Debug, Clone)]
pub struct ValidatePlan {
    /// Run id.
    pub run_id: String,
    /// Requested symbols (normalised); empty means every symbol in the store.
    pub symbols: Vec<String>,
    /// Key namespace.
    pub keys: KeySchema,
    /// `env` segment of the keys.
    pub env: String,
    /// `exchange` segment of the keys.
    pub exchange: String,
    /// Iterations (windows).
    pub iterations: u32,
    /// Window length, event-time ms.
    pub window_ms: i64,
    /// Grading thresholds.
    pub thresholds: AccuracyThresholds,
    /// Seed of the random models.
    pub seed: u64,
    /// End early when no tick arrived for this long.
    pub idle_timeout: Duration,
    /// The profile: the request's, else the server's.
    pub profile: Arc<Profile>,
    /// The dry run's execution models.
    pub models: ModelSet,
    /// Name and description of the dry run's model set.
    pub model: ModelSetInfo,
    /// Where to dial the predictions' external strategy instead of the
    /// address their provenance records.
    pub strategy: Option<Endpoint>,
    /// The feed position to read from (`ValidateRequest.feed_from`); `None`:
    /// live, through the consumer group.
    pub feed_from: Option<String>,
}

/// Validates a request against the server's profile.
pub fn plan(
    req: &ValidateRequest,
    server_profile: &Arc<Profile>,
) -> Result<ValidatePlan, DryRunError> {
    let mut symbols = BTreeSet::new();
    for s in &req.symbols {
        symbols.insert(normalize_symbol(s).ok_or_else(|| {
            DryRunError::invalid("symbols", format!("`{s}` is empty after normalisation"))
        })?);
    }
    let env = if req.env.is_empty() { "dev" } else { &req.env };
    let exchange = if req.exchange.is_empty() {
        "bybit"
    } else {
        &req.exchange
    };
    let keys = KeySchema::new(env, exchange)
        .map_err(|e| DryRunError::invalid(e.field, e.reason.clone()))?;
    let iterations = match req.iterations {
        0 => 6,
        n if n > MAX_ITERATIONS => {
            return Err(DryRunError::invalid(
                "iterations",
                format!("{n} is more than the maximum {MAX_ITERATIONS}"),
            ));
        }
        n => n,
    };
    let window_ms = match req.window_ms {
        0 => 60_000,
        w if w > i64::MAX as u64 / 4 => {
            return Err(DryRunError::invalid(
                "window_ms",
                format!("{w} is too large"),
            ));
        }
        w => w as i64,
    };
    let thresholds: AccuracyThresholds =
        req.thresholds.as_ref().map(Into::into).unwrap_or_default();
    thresholds.validate().map_err(|m| {
        let field = if m.contains("fail_above_pct") {
            "thresholds.fail_above_pct"
        } else {
            "thresholds.pass_below_pct"
        };
        DryRunError::invalid(field, m)
    })?;
    let run_id = shadowkpi_runtime::ids::run_id_or_new(&req.run_id, "dryrun")
        .map_err(|m| DryRunError::invalid("run_id", m))?;
    let profile = if req.profile_json.trim().is_empty() {
        server_profile.clone()
    } else {
        Arc::new(
            Profile::from_json_str(&req.profile_json)
                .map_err(|e| DryRunError::invalid("profile_json", e.to_string()))?,
        )
    };
    let name = if req.model_set.is_empty() {
        DEFAULT_DRYRUN_MODEL
    } else {
        req.model_set.as_str()
    };
    let spec = profile
        .model_set(name)
        .map_err(|e| DryRunError::invalid("model_set", e.to_string()))?;
    let models = spec
        .build(req.seed)
        .map_err(|e| DryRunError::invalid("model_set", format!("model set `{name}`: {e}")))?;
    Ok(ValidatePlan {
        run_id,
        symbols: symbols.into_iter().collect(),
        keys,
        env: env.to_string(),
        exchange: exchange.to_string(),
        iterations,
        window_ms,
        thresholds,
        seed: req.seed,
        idle_timeout: Duration::from_millis(if req.idle_timeout_ms == 0 {
            30_000
        } else {
            req.idle_timeout_ms
        }),
        profile,
        models,
        model: ModelSetInfo {
            name: name.to_string(),
            description: spec.describe(),
        },
        strategy: req
            .strategy
            .as_ref()
            .map(|e| Endpoint::from_wire(e).map_err(|(field, m)| DryRunError::invalid(field, m)))
            .transpose()?,
        feed_from: Some(req.feed_from.trim().to_string()).filter(|f| !f.is_empty()),
    })
}

/// What the store holds for one symbol.
#[derive(Debug, Clone, Default)]
pub struct Prediction {
    /// Predicted KPIs; `None` when nothing was stored.
    pub kpis: Option<KpiSet>,
    /// Parameters from the provenance hash.
    pub params: Option<StrategyParams>,
    /// The soak(s) that produced it.
    pub run_id: String,
    /// The model set of the soak, from the provenance.
    pub model: Option<ModelSetInfo>,
    /// The strategy of the soak, from the provenance (absent: built-in).
    pub strategy: Option<StrategyInfo>,
}

fn store_err(e: StoreError) -> DryRunError {
    DryRunError::Store(e)
}

/// Every symbol with a prediction in the namespace, found with `SCAN`.
pub async fn discover(store: &dyn Store, keys: &KeySchema) -> Result<Vec<String>, DryRunError> {
    let prefix = keys.latest("");
    let found = store.scan(&format!("{prefix}*")).await.map_err(store_err)?;
    let mut out = BTreeSet::new();
    for k in found {
        if let Some(rest) = k.strip_prefix(&prefix) {
            // hash keys end with the symbol, flat keys with `{symbol}:{kpi}`
            let sym = rest.split(':').next().unwrap_or_default();
            if !sym.is_empty() {
                out.insert(sym.to_string());
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Reads one symbol's prediction (hash mode, falling back to flat keys) and
/// its provenance.
pub async fn read_prediction(
    store: &dyn Store,
    keys: &KeySchema,
    symbol: &str,
) -> Result<Prediction, DryRunError> {
    let mut kpis = KpiSet::default();
    let mut found = false;
    let hash = store
        .hgetall(&keys.latest(symbol))
        .await
        .map_err(store_err)?;
    for kpi in Kpi::ALL {
        let raw = match hash.get(kpi.name()) {
            Some(v) => Some(v.clone()),
            None if hash.is_empty() => store
                .get(&keys.flat(symbol, kpi))
                .await
                .map_err(store_err)?,
            None => None,
        };
        if let Some(v) = raw
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
        {
            kpis.set(kpi, Some(v));
            found = true;
        }
    }
    let meta = store.hgetall(&keys.meta(symbol)).await.map_err(store_err)?;
    let params = meta
        .get("params")
        .and_then(|p| serde_json::from_str::<ParamOverrides>(p).ok())
        .map(|o| StrategyParams::default().with_overrides(&o));
    Ok(Prediction {
        kpis: found.then_some(kpis),
        params,
        run_id: meta.get("run_id").cloned().unwrap_or_default(),
        model: meta
            .get("model")
            .and_then(|m| serde_json::from_str::<ModelSetInfo>(m).ok()),
        strategy: meta
            .get("strategy")
            .and_then(|m| serde_json::from_str::<StrategyInfo>(m).ok()),
    })
}

type Tx = mpsc::Sender<Result<ValidateResponse, tonic::Status>>;

async fn send(tx: &Tx, event: Event, position: &str) -> bool {
    tx.send(Ok(ValidateResponse {
        event: Some(event),
        feed_position: position.to_string(),
    }))
    .await
    .is_ok()
}

/// Runs a planned validation, streaming progress and the report into `tx`.
pub async fn run(
    plan: ValidatePlan,
    config: DryRunConfig,
    store: Arc<dyn Store>,
    tx: Tx,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("dryrun", run_id = %plan.run_id);
    async move {
        match run_inner(plan, config, store, &tx, cancel).await {
            Ok(()) => tracing::info!("dry run finished"),
            Err(e) => {
                tracing::warn!(error = %e, "dry run failed");
                let _ = tx.send(Err(e.into())).await;
            }
        }
    }
    .instrument(span)
    .await;
}

async fn run_inner(
    plan: ValidatePlan,
    config: DryRunConfig,
    store: Arc<dyn Store>,
    tx: &Tx,
    cancel: CancellationToken,
) -> Result<(), DryRunError> {
    let symbols = if plan.symbols.is_empty() {
        discover(&*store, &plan.keys).await?
    } else {
        plan.symbols.clone()
    };
    if symbols.is_empty() {
        return Err(DryRunError::invalid(
            "symbols",
            format!(
                "no symbols given and no predictions found under `{}*`",
                plan.keys.latest("")
            ),
        ));
    }
    let mut predictions = BTreeMap::new();
    for s in &symbols {
        predictions.insert(s.clone(), read_prediction(&*store, &plan.keys, s).await?);
    }

    // The same strategy and parameters as the prediction, the dry run's models.
    tracing::info!(model = %plan.model.name, models = %plan.model.description, "dry-run model set");
    let profile = plan.profile.clone();
    let mut engine_cfg = EngineConfig::new(plan.window_ms)
        .with_models(plan.models.clone())
        .with_seed(plan.seed);
    // The profile's grids (symbols without one are inferred from the feed).
    engine_cfg.instruments = profile.instruments.clone();
    let mut params_used = BTreeMap::new();
    for s in &symbols {
        let p = match predictions.get(s).and_then(|p| p.params.clone()) {
            Some(p) => p,
            None => profile
                .resolve(s, None, &ParamOverrides::default())
                .unwrap_or_default(),
        };
        engine_cfg = engine_cfg.with_symbol(s, p.clone());
        params_used.insert(s.clone(), p);
    }
    let strategy = match predictions_strategy(&plan, &predictions)? {
        None => StrategyInfo::builtin(),
        Some((want, endpoint)) => {
            let remote = shadowkpi_strategy::open(SessionConfig::new(
                &endpoint,
                &plan.run_id,
                Phase::DryRun,
                &params_used,
                engine_cfg.max_orders_per_decision,
                &plan.model.name,
                plan.seed,
            ))
            .await
            .map_err(|e| DryRunError::StrategyUnavailable(e.to_string()))?;
            let info = remote.info();
            if info.name != want.name {
                return Err(DryRunError::invalid(
                    "strategy",
                    format!(
                        "the strategy at {} is `{}`, the predictions were made with `{}` \
                         (a dry run checks the soak's own strategy)",
                        info.address, info.name, want.name
                    ),
                ));
            }
            engine_cfg = engine_cfg.with_strategy(Arc::new(remote));
            info
        }
    };
    tracing::info!(strategy = %strategy.name, "dry-run strategy");
    let mut engine =
        ShadowEngine::new(engine_cfg).map_err(|e| DryRunError::invalid("params", e.to_string()))?;

    let mut ticks = driver::subscribe(
        &config.ingest_addr,
        &symbols,
        format!("dryrund/{}", plan.run_id),
        plan.feed_from.as_deref(),
    )
    .await
    .map_err(drive_error)?;
    let limits = DriveLimits {
        iterations: plan.iterations,
        idle_timeout: plan.idle_timeout,
    };
    let start = ticks.start().unwrap_or_default().to_string();
    let mut sink = DryRunSink {
        start: start.clone(),
        plan: &plan,
        tx,
        actuals: BTreeMap::new(),
        paths: BTreeMap::new(),
    };
    let outcome = driver::drive(&mut engine, &mut ticks, limits, &cancel, &mut sink)
        .await
        .map_err(drive_error)?;
    drop(ticks);
    if outcome.end == DriveEnd::ClientGone {
        return Ok(());
    }
    let actuals = sink.actuals;
    let paths = sink.paths;
    let done = outcome.windows;

    let mut report = AccuracyReport {
        run_id: plan.run_id.clone(),
        env: plan.env.clone(),
        exchange: plan.exchange.clone(),
        iterations: done,
        window_ms: plan.window_ms as u64,
        thresholds: Some((&plan.thresholds).into()),
        symbols: Vec::new(),
        overall: 0,
        model: Some((&plan.model).into()),
        strategy: Some((&strategy).into()),
    };
    let mut statuses = Vec::new();
    for s in &symbols {
        let pred = predictions.get(s).cloned().unwrap_or_default();
        let acts = actuals.get(s).cloned().unwrap_or_default();
        let kpis: Vec<KpiAccuracy> = compare_symbol(pred.kpis.as_ref(), &acts, &plan.thresholds);
        let status = if pred.kpis.is_none() {
            AccuracyStatus::NoPrediction
        } else {
            worst(kpis.iter().map(|k| k.status))
        };
        for k in &kpis {
            if let Some(m) = k.mape_pct {
                METRICS.mape(s, k.kpi.name(), m);
            }
        }
        statuses.push(status);
        report.symbols.push(SymbolAccuracy {
            symbol: s.clone(),
            has_prediction: pred.kpis.is_some(),
            kpis: kpis.iter().map(Into::into).collect(),
            status: accuracy_status_to_wire(status),
            params: params_used.get(s).map(Into::into),
            prediction_run_id: pred.run_id.clone(),
            prediction_model: pred.model.as_ref().map(Into::into),
            path: paths
                .get(s)
                .map(|p| p.iter().map(Into::into).collect())
                .unwrap_or_default(),
        });
    }
    let overall = worst(statuses);
    report.overall = accuracy_status_to_wire(overall);
    tracing::info!(
        overall = overall.label(),
        iterations = done,
        "dry run graded"
    );
    send(tx, Event::Report(report), &start).await;
    Ok(())
}

fn drive_error(e: DriveError) -> DryRunError {
    match e {
        DriveError::Feed(m) => DryRunError::IngestUnavailable(m),
        DriveError::Cancelled => DryRunError::ShuttingDown,
        DriveError::Strategy(f) => DryRunError::StrategyFailed(f.message),
    }
}

/// The external strategy the predictions were made with, and where to dial
/// it (the request's endpoint, else the provenance's address); `None` when
/// they were made with the built-in one. Every symbol's predictions must
/// name the same strategy.
fn predictions_strategy(
    plan: &ValidatePlan,
    predictions: &BTreeMap<String, Prediction>,
) -> Result<Option<(StrategyInfo, Endpoint)>, DryRunError> {
    let mut named: Option<(&str, StrategyInfo)> = None;
    for (sym, p) in predictions {
        let s = p.strategy.clone().unwrap_or_else(StrategyInfo::builtin);
        match &named {
            None => named = Some((sym, s)),
            Some((first, n)) if n.name != s.name => {
                return Err(DryRunError::invalid(
                    "symbols",
                    format!(
                        "the predictions of {first} were made with strategy `{}` and those of \
                         {sym} with `{}`: validate them separately",
                        n.name, s.name
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let Some((_, info)) = named else {
        return Ok(None);
    };
    if info.is_builtin() {
        if plan.strategy.is_some() {
            return Err(DryRunError::invalid(
                "strategy",
                "the predictions were made with the built-in strategy; a dry run checks \
                 the soak's own strategy",
            ));
        }
        return Ok(None);
    }
    let endpoint = match &plan.strategy {
        Some(e) => e.clone(),
        None if info.address.is_empty() => {
            return Err(DryRunError::invalid(
                "strategy",
                format!(
                    "the predictions were made with strategy `{}` and record no address: \
                     give its address",
                    info.name
                ),
            ));
        }
        None => Endpoint {
            address: info.address.clone(),
            timeout: shadowkpi_strategy::DEFAULT_TIMEOUT,
        },
    };
    Ok(Some((info, endpoint)))
}

/// What a dry run does with the drive: every window's KPIs are an
/// iteration's actuals, streamed to the client as progress.
struct DryRunSink<'a> {
    plan: &'a ValidatePlan,
    tx: &'a Tx,
    /// The feed position the dry run reads after (empty when live).
    start: String,
    actuals: BTreeMap<String, Vec<KpiSet>>,
    /// Every window's equity path, joined per symbol.
    paths: BTreeMap<String, Vec<PathPoint>>,
}

impl WindowSink for DryRunSink<'_> {
    async fn window(&mut self, w: &WindowResult, _position: &str) -> bool {
        let span = tracing::info_span!("dryrun.iteration", iteration = w.iteration);
        span.in_scope(|| tracing::debug!(partial = w.partial, "iteration done"));
        for (sym, sw) in &w.symbols {
            self.actuals
                .entry(sym.clone())
                .or_default()
                .push(sw.kpis.clone());
            self.paths
                .entry(sym.clone())
                .or_default()
                .extend_from_slice(&sw.path);
            let ev = Event::Progress(ValidateProgress {
                iteration: w.iteration,
                iterations: self.plan.iterations,
                symbol: sym.clone(),
                actual: Some(v1::KpiSet::from(&sw.kpis)),
                window: Some((&w.window).into()),
            });
            if !send(self.tx, ev, &self.start).await {
                return false;
            }
        }
        true
    }

    async fn closed(&self) {
        self.tx.closed().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_fields_are_named() {
        let server = Arc::new(Profile::builtin());
        let p = plan(&ValidateRequest::default(), &server).unwrap();
        assert_eq!(p.iterations, 6);
        assert_eq!(p.window_ms, 60_000);
        assert_eq!(p.keys.latest("BTCUSDT"), "dev:bybit:shadow:latest:BTCUSDT");
        assert_eq!(p.thresholds, AccuracyThresholds::default());

        let err = plan(
            &ValidateRequest {
                thresholds: Some(v1::AccuracyThresholds {
                    pass_below_pct: Some(40.0),
                    fail_above_pct: Some(30.0),
                }),
                ..Default::default()
            },
            &server,
        )
        .unwrap_err();
        let status: tonic::Status = err.into();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().starts_with("thresholds.fail_above_pct"),
            "{}",
            status.message()
        );

        let err = plan(
            &ValidateRequest {
                symbols: vec!["--".into()],
                ..Default::default()
            },
            &server,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("symbols:"), "{err}");
    }

    fn model_of(req: ValidateRequest) -> Result<ModelSetInfo, String> {
        plan(&req, &Arc::new(Profile::builtin()))
            .map(|p| p.model)
            .map_err(|e| tonic::Status::from(e).message().to_string())
    }

    #[test]
    fn model_set_defaults_to_dryrun_and_resolves_the_request_profile() {
        let m = model_of(ValidateRequest::default()).unwrap();
        assert_eq!(m.name, "dryrun");
        assert_eq!(
            m.description,
            "latency=uniform(feed=2..10ms,entry=10..40ms,response=10..40ms,seeded) queue=risk_averse partial_fills=false fees=params"
        );
        let m = model_of(ValidateRequest {
            model_set: "measured_example".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(
            m.description.contains("queue=prob_power(n=3)"),
            "{}",
            m.description
        );
        let m = model_of(ValidateRequest {
            model_set: "mine".into(),
            profile_json: r#"{"models": {"mine": {"queue": {"kind": "prob_log"}}}}"#.into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            m.description,
            "latency=constant(feed=0ms,entry=0ms,response=0ms) queue=prob_log partial_fills=false fees=params"
        );
        let err = model_of(ValidateRequest {
            model_set: "strict".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err,
            "model_set: unknown model set `strict` (available: dryrun, lenient, measured_example, shadow)"
        );
        let err = model_of(ValidateRequest {
            profile_json: r#"{"models": {"dryrun": {"queue": {"kind": "front", "nn": 1}}}}"#.into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err,
            "profile_json: profile `models.dryrun.queue`: unknown field `nn`, there are no fields"
        );
    }
}
