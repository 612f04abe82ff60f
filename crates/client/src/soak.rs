//! The soak client: `RunSoak` on shadowd, its artifacts written as the
//! windows arrive (`ITER_SUMMARY_NNN.json`, then `SOAK_SUMMARY.json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use prost::Message;
use serde::{Deserialize, Serialize};
use shadowkpi_domain::gate::{GateThresholds, SoakVerdict, Verdict};
use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::run_soak_response::Event;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_proto::v1::{self, RunSoakRequest};

use crate::artifacts::{create_dir, write_json};
use crate::error::{ClientError, ClientResult, is_vanished};
use crate::services::Cluster;

/// What a caller sees of a running soak or dry run (a progress bar, the
/// soak's first lines); every method does nothing by default.
pub trait Observer {
    /// A phase (`soak`, `dry run`) of `len` windows begins.
    fn phase_started(&mut self, _phase: &str, _len: u64) {}
    /// A line worth telling a person (what a phase did).
    fn note(&mut self, _line: &str) {}
    /// The soak started: run id, profile, model set, each symbol's
    /// parameters and where they came from.
    fn soak_started(&mut self, _started: &v1::SoakStarted) {}
    /// The run reached `position` (windows or iterations done).
    fn advanced(&mut self, _position: u64) {}
    /// The run's stream ended.
    fn finished(&mut self) {}
}

/// An observer that sees nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {}

/// `SOAK_SUMMARY.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SoakSummaryDoc {
    /// Format version.
    pub schema_version: String,
    /// Run id.
    pub run_id: String,
    /// GO or HOLD.
    pub verdict: Verdict,
    /// Windows completed.
    pub windows: u32,
    /// Windows requested.
    pub iterations: u32,
    /// Window length, ms.
    pub window_ms: u64,
    /// Profile or preset.
    pub profile: String,
    /// Feed description.
    pub source: String,
    /// The execution model set of the soak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<shadowkpi_domain::summary::ModelSetInfo>,
    /// Gate thresholds.
    pub thresholds: GateThresholds,
    /// Per-symbol verdict, aggregates and reasons.
    pub symbols: BTreeMap<String, SymbolDoc>,
}

/// One symbol of `SOAK_SUMMARY.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SymbolDoc {
    /// GO or HOLD.
    pub verdict: Verdict,
    /// Median KPIs over the windows.
    pub aggregate: KpiSet,
    /// Windows with data.
    pub windows: u32,
    /// Every missed threshold.
    pub reasons: Vec<String>,
    /// Effective parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<StrategyParams>,
    /// Where each parameter came from, by field: `built-in`, `defaults`,
    /// `symbols.<SYMBOL>`, `presets.<NAME>` or `request`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub param_sources: BTreeMap<String, String>,
    /// The price and size grid: the profile's, or `inferred`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
}

/// `CHECKPOINT.json`: what a soak's artifacts need to be resumed
/// (`shadowctl soak --resume RUN_ID`), rewritten after every window.
///
/// shadowd keeps no state of its own: a resume computes the soak again from
/// the feed position it started at (the engine and a strategy are
/// deterministic on the same ticks and seed), sends the windows the
/// artifacts hold again to be compared with them, then goes on. So the
/// state to continue is the request and the position, and a resume that
/// would not reproduce what is on disk says so instead of going on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version (`1.0`).
    pub schema_version: String,
    /// Run id.
    pub run_id: String,
    /// The feed position the soak reads after (an entry id of the stream).
    pub feed_position: String,
    /// Windows completed and written (ITER_SUMMARY_001 … _NNN).
    pub windows: u32,
    /// Windows requested.
    pub iterations: u32,
    /// The feed position read through when the last window closed.
    pub position: String,
    /// The RunSoak request, protobuf bytes in hex (the inline profile
    /// included), so a resume asks for exactly the same soak.
    pub request: String,
}

/// The checkpoint's file name.
pub const CHECKPOINT_FILE: &str = "CHECKPOINT.json";

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// [`hex`] read back; `None` for anything that is not.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Checkpoint {
    /// Reads `dir/CHECKPOINT.json`; errors name the file and say what is wrong.
    pub fn read(dir: &std::path::Path) -> ClientResult<Checkpoint> {
        read_checkpoint(dir, "soak")
    }

    /// The request that resumes the soak, decoded.
    fn request(&self) -> ClientResult<RunSoakRequest> {
        decode_request(&self.request)
    }

    /// The request that resumes the soak: the original one, reading after
    /// the soak's starting position, with the windows already on disk.
    pub fn resume_request(&self) -> ClientResult<RunSoakRequest> {
        let mut req = self.request()?;
        req.run_id.clone_from(&self.run_id);
        req.feed_from.clone_from(&self.feed_position);
        req.resume_windows = self.windows;
        Ok(req)
    }
}

/// Reads `dir/CHECKPOINT.json` of a `what` (`soak`, `dry run`); errors name
/// the file and say what is wrong.
pub(crate) fn read_checkpoint<T: serde::de::DeserializeOwned>(
    dir: &std::path::Path,
    what: &str,
) -> ClientResult<T> {
    let path = dir.join(CHECKPOINT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ClientError::Usage(format!(
            "cannot resume: {} cannot be read ({e}); only a {what} that reads from a feed \
             position (--from) leaves one",
            path.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))
}

/// The request of a checkpoint (protobuf in hex), decoded.
pub(crate) fn decode_request<M: Message + Default>(hexed: &str) -> ClientResult<M> {
    let bytes = unhex(hexed)
        .ok_or_else(|| ClientError::Usage(format!("{CHECKPOINT_FILE}: `request` is not hex")))?;
    M::decode(bytes.as_slice())
        .map_err(|e| ClientError::Usage(format!("{CHECKPOINT_FILE}: `request`: {e}")))
}

/// A summary as compared on a resume: everything but each symbol's
/// `clock_drift_ms` (wall-clock lateness of the reading, not of the market).
fn comparable(mut doc: IterSummary) -> IterSummary {
    for s in doc.symbols.values_mut() {
        s.summary.clock_drift_ms = None;
    }
    doc
}

/// What a soak produced.
#[derive(Debug, Clone)]
pub struct SoakOutcome {
    /// Run id.
    pub run_id: String,
    /// Folder of the artifacts.
    pub dir: PathBuf,
    /// The summaries, in order.
    pub summaries: Vec<v1::IterSummary>,
    /// The gate verdict.
    pub verdict: SoakVerdict,
    /// The summary document written.
    pub doc: SoakSummaryDoc,
    /// The auto-export report, if requested.
    pub export_report: Option<v1::ExportReport>,
}

/// Runs a soak on `cluster` and writes its artifacts (ITER_SUMMARY_NNN.json
/// per window, then SOAK_SUMMARY.json) into `dir_for(run_id)` (created).
pub async fn run_soak(
    cluster: &Cluster,
    request: RunSoakRequest,
    dir_for: impl FnOnce(&str) -> PathBuf,
    observer: &mut dyn Observer,
) -> ClientResult<SoakOutcome> {
    let channel = shadowkpi_runtime::client::connect("shadowd", &cluster.shadow)
        .await
        .map_err(|e| ClientError::Service(e.to_string()))?;
    // A window summary carries every symbol's equity path: more than the
    // default 4 MiB for a few thousand symbols.
    let mut stream = ShadowServiceClient::new(channel)
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .run_soak(request.clone())
        .await
        .map_err(|s| ClientError::from_status("soak", &s))?
        .into_inner();

    observer.phase_started("soak", u64::from(request.iterations));
    let mut run_id = String::new();
    let mut dir = PathBuf::new();
    let mut summaries = Vec::new();
    let mut params = BTreeMap::new();
    let mut profile = String::new();
    let mut model = None;
    let mut sources = BTreeMap::new();
    let mut verdict_wire = None;
    let mut export_report = None;
    let mut dir_for = Some(dir_for);
    let mut checkpoint: Option<Checkpoint> = None;
    let resume = request.resume_windows;
    loop {
        let msg = match stream.message().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(s) if is_vanished(&s) && !run_id.is_empty() => {
                return Err(vanished(
                    &s,
                    &run_id,
                    &dir,
                    summaries.len(),
                    &request,
                    checkpoint.as_ref(),
                ));
            }
            Err(s) => return Err(ClientError::from_status("soak", &s)),
        };
        match msg.event {
            Some(Event::Started(s)) => {
                observer.soak_started(&s);
                run_id = s.run_id.clone();
                profile = s.profile.clone();
                model = s.model.map(Into::into);
                params = s.params;
                sources = s.param_sources;
                dir = dir_for.take().map(|f| f(&run_id)).unwrap_or_default();
                create_dir(&dir)?;
                if !s.feed_position.is_empty() {
                    let cp = Checkpoint {
                        schema_version: "1.0".into(),
                        run_id: run_id.clone(),
                        feed_position: s.feed_position.clone(),
                        windows: resume,
                        iterations: request.iterations,
                        position: s.feed_position.clone(),
                        request: hex(&RunSoakRequest {
                            resume_windows: 0,
                            run_id: run_id.clone(),
                            ..request.clone()
                        }
                        .encode_to_vec()),
                    };
                    if resume == 0 {
                        write_json(&dir.join(CHECKPOINT_FILE), &cp)?;
                    }
                    checkpoint = Some(cp);
                }
            }
            Some(Event::Summary(s)) => {
                let doc = IterSummary::from(&s);
                let path = dir.join(format!("ITER_SUMMARY_{:03}.json", s.iteration));
                if s.iteration <= resume {
                    let on_disk = std::fs::read_to_string(&path)
                        .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
                    let on_disk = shadowkpi_domain::export::reader::parse_iter_summary(&on_disk)
                        .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
                    if comparable(on_disk) != comparable(doc.clone()) {
                        return Err(ClientError::Service(format!(
                            "resume of soak {run_id}: window {} computed again differs from {}: \
                             the feed, the profile or the services changed since the soak \
                             started, so it cannot be continued",
                            s.iteration,
                            path.display()
                        )));
                    }
                } else {
                    write_json(&path, &doc)?;
                }
                if let Some(cp) = checkpoint.as_mut()
                    && s.iteration > cp.windows
                {
                    cp.windows = s.iteration;
                    cp.position.clone_from(&msg.feed_position);
                    write_json(&dir.join(CHECKPOINT_FILE), cp)?;
                }
                observer.advanced(u64::from(s.iteration));
                summaries.push(s);
            }
            Some(Event::Verdict(v)) => verdict_wire = Some(v),
            Some(Event::ExportReport(r)) => export_report = Some(r),
            None => {}
        }
    }
    observer.finished();
    let verdict_wire = verdict_wire
        .ok_or_else(|| ClientError::Service("shadowd ended the soak without a verdict".into()))?;
    let verdict = SoakVerdict::from(&verdict_wire);
    let thresholds: GateThresholds = verdict_wire
        .thresholds
        .as_ref()
        .map(Into::into)
        .unwrap_or_default();
    let base = StrategyParams::default();
    let doc = SoakSummaryDoc {
        schema_version: shadowkpi_domain::summary::SCHEMA_VERSION.into(),
        run_id: run_id.clone(),
        verdict: verdict.verdict,
        windows: verdict_wire.windows,
        iterations: request.iterations,
        window_ms: request.window_ms,
        profile,
        source: summaries
            .first()
            .map(|s| s.source.clone())
            .unwrap_or_default(),
        model,
        thresholds,
        symbols: verdict
            .symbols
            .iter()
            .map(|s| {
                (
                    s.symbol.clone(),
                    SymbolDoc {
                        verdict: s.verdict,
                        aggregate: s.aggregate.clone(),
                        windows: s.windows,
                        reasons: s.reasons.clone(),
                        params: params
                            .get(&s.symbol)
                            .map(|p| shadowkpi_proto::convert::params_over(&base, p)),
                        param_sources: sources
                            .get(&s.symbol)
                            .map(|p| p.sources.clone())
                            .unwrap_or_default(),
                        grid: sources.get(&s.symbol).map(|p| p.grid.clone()),
                    },
                )
            })
            .collect(),
    };
    write_json(&dir.join("SOAK_SUMMARY.json"), &doc)?;
    Ok(SoakOutcome {
        run_id,
        dir,
        summaries,
        verdict,
        doc,
        export_report,
    })
}

/// The error of a soak whose shadowd went away: which service, the last
/// completed window, where the artifacts are, and how to resume.
fn vanished(
    s: &tonic::Status,
    run_id: &str,
    dir: &std::path::Path,
    windows: usize,
    request: &RunSoakRequest,
    checkpoint: Option<&Checkpoint>,
) -> ClientError {
    let last = match checkpoint.map_or(windows as u32, |c| c.windows) {
        0 => "no window was completed".to_string(),
        n => format!("the last completed window is {n} of {}", request.iterations),
    };
    let next = if checkpoint.is_some() {
        format!("resume it with `shadowctl soak --resume {run_id}` once shadowd is back")
    } else {
        "it read the live feed (--from live), so it cannot be resumed; run it again".to_string()
    };
    ClientError::Vanished(format!(
        "soak {run_id}: shadowd went away ({}); {last}; artifacts in {}; {next}",
        s.message(),
        dir.display()
    ))
}
