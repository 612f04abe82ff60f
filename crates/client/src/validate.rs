//! The dry-run client: `Validate` on dryrund, its accuracy report written
//! when the report arrives (`DRYRUN_ACCURACY_REPORT.{md,json,html}`).

use std::path::PathBuf;

use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::ValidateRequest;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::validate_response::Event;

use crate::artifacts::{create_dir, write_json};
use crate::error::{ClientError, ClientResult, is_vanished};
use crate::report::{ReportDoc, write_all};
use crate::services::Cluster;
use crate::soak::Observer;

/// The soak's window summaries for the report (see
/// [`ReportDoc::attach_soak`]) and where they came from.
pub type SoakSeries<'a> = (&'a [IterSummary], String);

/// `CHECKPOINT.json` of a dry run that reads from a feed position: the
/// request and the position, so `shadowctl validate --resume RUN_ID` runs it
/// again on exactly the same ticks (a dry run has no windows of its own on
/// disk to keep: it is computed again from its start, the same ticks giving
/// the same report).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DryRunCheckpoint {
    /// Format version (`1.0`).
    pub schema_version: String,
    /// Run id.
    pub run_id: String,
    /// The feed position the dry run reads after.
    pub feed_position: String,
    /// Iterations requested.
    pub iterations: u32,
    /// The Validate request, protobuf bytes in hex.
    pub request: String,
}

impl DryRunCheckpoint {
    /// Reads `dir/CHECKPOINT.json`; errors name the file.
    pub fn read(dir: &std::path::Path) -> ClientResult<DryRunCheckpoint> {
        crate::soak::read_checkpoint(dir, "dry run")
    }

    /// The request that runs the dry run again on the same ticks.
    pub fn resume_request(&self) -> ClientResult<ValidateRequest> {
        let mut req: ValidateRequest = crate::soak::decode_request(&self.request)?;
        req.run_id.clone_from(&self.run_id);
        req.feed_from.clone_from(&self.feed_position);
        Ok(req)
    }
}

/// Runs a validation on `cluster`; the report is written under
/// `dir_for(run_id)`, with the soak's per-window series when `soak` has them.
/// A dry run that reads from a feed position gets a run id here (unless it
/// has one) and keeps its `CHECKPOINT.json` in `dir_for(run_id)`.
pub async fn run_validate(
    cluster: &Cluster,
    mut req: ValidateRequest,
    dir_for: impl FnOnce(&str) -> PathBuf,
    observer: &mut dyn Observer,
    soak: Option<SoakSeries<'_>>,
) -> ClientResult<(ReportDoc, PathBuf)> {
    if !req.feed_from.is_empty() && req.run_id.is_empty() {
        req.run_id = shadowd::soak::new_run_id("dryrun");
    }
    let mut dir_for = Some(dir_for);
    let early_dir = match dir_for.take() {
        Some(f) if !req.run_id.is_empty() => Some(f(&req.run_id)),
        f => {
            dir_for = f;
            None
        }
    };
    let channel = shadowkpi_runtime::client::connect("dryrund", &cluster.dryrun)
        .await
        .map_err(|e| ClientError::Service(e.to_string()))?;
    // The report carries every symbol's equity path over all iterations.
    let mut stream = DryRunServiceClient::new(channel)
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .validate(req.clone())
        .await
        .map_err(status_err)?
        .into_inner();
    observer.phase_started("dry run", u64::from(req.iterations));
    let mut report = None;
    let mut last_iteration = 0;
    let mut checkpointed = false;
    loop {
        let msg = match stream.message().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(s) if is_vanished(&s) => {
                return Err(vanished(
                    &s,
                    &req,
                    last_iteration,
                    early_dir.as_deref(),
                    checkpointed,
                ));
            }
            Err(s) => return Err(status_err(s)),
        };
        if !checkpointed
            && !msg.feed_position.is_empty()
            && let Some(dir) = &early_dir
        {
            create_dir(dir)?;
            use prost::Message;
            let cp = DryRunCheckpoint {
                schema_version: "1.0".into(),
                run_id: req.run_id.clone(),
                feed_position: msg.feed_position.clone(),
                iterations: req.iterations,
                request: crate::soak::hex(&req.encode_to_vec()),
            };
            write_json(&dir.join(crate::soak::CHECKPOINT_FILE), &cp)?;
            checkpointed = true;
        }
        match msg.event {
            Some(Event::Progress(p)) if p.iteration != last_iteration => {
                last_iteration = p.iteration;
                observer.advanced(u64::from(p.iteration));
            }
            Some(Event::Progress(_)) => {}
            Some(Event::Report(r)) => report = Some(r),
            None => {}
        }
    }
    observer.finished();
    let report =
        report.ok_or_else(|| ClientError::Service("dryrund ended without a report".into()))?;
    let mut doc = ReportDoc::from_wire(&report);
    if let Some((summaries, source)) = soak {
        doc.attach_soak(summaries, source);
    }
    let dir = match (early_dir, dir_for.take()) {
        (Some(d), _) => d,
        (None, Some(f)) => f(&doc.run_id),
        (None, None) => PathBuf::new(),
    };
    write_all(&dir, &doc)?;
    Ok((doc, dir))
}

/// A store reason from dryrund is exit 3; everything else keeps its kind.
fn status_err(s: tonic::Status) -> ClientError {
    ClientError::from_status("validate", &s)
}

/// The error of a dry run whose dryrund went away.
fn vanished(
    s: &tonic::Status,
    req: &ValidateRequest,
    iteration: u32,
    dir: Option<&std::path::Path>,
    checkpointed: bool,
) -> ClientError {
    let run = if req.run_id.is_empty() {
        "dry run".to_string()
    } else {
        format!("dry run {}", req.run_id)
    };
    let last = match iteration {
        0 => "no iteration was completed".to_string(),
        n => format!("the last completed iteration is {n} of {}", req.iterations),
    };
    let next = match dir {
        Some(d) if checkpointed => format!(
            "its checkpoint is in {}; run it again on the same ticks with \
             `shadowctl validate --resume {}` once dryrund is back",
            d.display(),
            req.run_id
        ),
        _ => "it left no checkpoint (it read the live feed, or went away before its first \
              iteration); run it again"
            .to_string(),
    };
    ClientError::Vanished(format!(
        "{run}: dryrund went away ({}); {last}; {next}",
        s.message()
    ))
}
