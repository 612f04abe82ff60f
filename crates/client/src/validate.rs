//! The dry-run client: `Validate` on dryrund, its accuracy report written
//! when the report arrives (`DRYRUN_ACCURACY_REPORT.{md,json,html}`).

use std::path::PathBuf;

use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::ValidateRequest;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::validate_response::Event;

use crate::error::{ClientError, ClientResult};
use crate::report::{ReportDoc, write_all};
use crate::services::Cluster;
use crate::soak::Observer;

/// The soak's window summaries for the report (see
/// [`ReportDoc::attach_soak`]) and where they came from.
pub type SoakSeries<'a> = (&'a [IterSummary], String);

/// Runs a validation on `cluster`; the report is written under
/// `dir_for(run_id)`, with the soak's per-window series when `soak` has them.
pub async fn run_validate(
    cluster: &Cluster,
    req: ValidateRequest,
    dir_for: impl FnOnce(&str) -> PathBuf,
    observer: &mut dyn Observer,
    soak: Option<SoakSeries<'_>>,
) -> ClientResult<(ReportDoc, PathBuf)> {
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
    while let Some(msg) = stream.message().await.map_err(status_err)? {
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
    let dir = dir_for(&doc.run_id);
    write_all(&dir, &doc)?;
    Ok((doc, dir))
}

/// A store reason from dryrund is exit 3; everything else keeps its kind.
fn status_err(s: tonic::Status) -> ClientError {
    ClientError::from_status("validate", &s)
}
