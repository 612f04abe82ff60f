//! The one export client: reading a soak's ITER_SUMMARY files, streaming
//! summaries to exportd (one message-size limit for every caller), exportd in
//! this process for a Redis of the caller's, and what a failed batch's reason
//! says about the store.

use std::path::{Path, PathBuf};

use shadowkpi_domain::export::parse_iter_summary;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::{
    self, ExportOptions, ExportReport, ExportSummariesRequest, export_summaries_request::Payload,
};
use shadowkpi_runtime::config::redact_url;
use shadowkpi_runtime::status::Reason;
use shadowkpi_runtime::{ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};

use crate::error::{ClientError, ClientResult};

/// The ITER_SUMMARY files of a soak folder, read and checked.
#[derive(Debug, Clone)]
pub struct LoadedSummaries {
    /// The folder (after following `latest`).
    pub dir: PathBuf,
    /// The files, in iteration order.
    pub files: Vec<PathBuf>,
    /// One summary per file.
    pub summaries: Vec<IterSummary>,
}

fn iteration_of(path: &Path) -> Option<u64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("ITER_SUMMARY_")?
        .parse()
        .ok()
}

/// The `ITER_SUMMARY*.json` files of a folder, in iteration order.
pub fn summary_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ITER_SUMMARY"))
        })
        .collect();
    // ITER_SUMMARY_1000 comes after ITER_SUMMARY_999.
    files.sort_by(|a, b| (iteration_of(a), a.file_name()).cmp(&(iteration_of(b), b.file_name())));
    Ok(files)
}

/// Reads `src`: a folder (or a `latest` symlink to one) of
/// `ITER_SUMMARY_*.json`, or a single summary file. A file that cannot be read
/// is an error naming the file and the field; a folder without summaries says
/// so. Legacy files without an iteration get their 1-based position.
pub fn load_summaries(src: &Path) -> ClientResult<LoadedSummaries> {
    let not_found = |e: std::io::Error| {
        ClientError::Usage(format!(
            "{}: {e} (run `shadowctl soak` first, or point --src at a soak folder)",
            src.display()
        ))
    };
    let meta = std::fs::metadata(src).map_err(not_found)?;
    let (dir, files) = if meta.is_dir() {
        (src.to_path_buf(), summary_files(src).map_err(not_found)?)
    } else if src.file_name().is_some_and(|n| n == "latest") {
        // Where symlinks are unavailable, `latest` is a file naming the run folder.
        let name = std::fs::read_to_string(src).map_err(not_found)?;
        let target = src.with_file_name(name.trim());
        return load_summaries(&target);
    } else {
        (
            src.parent().unwrap_or(Path::new(".")).to_path_buf(),
            vec![src.to_path_buf()],
        )
    };
    if files.is_empty() {
        return Err(ClientError::Usage(format!(
            "{}: no ITER_SUMMARY_*.json files in this folder (run `shadowctl soak` first, or point --src at a soak folder)",
            src.display()
        )));
    }
    let mut summaries = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f)
            .map_err(|e| ClientError::Usage(format!("{}: {e}", f.display())))?;
        let mut s = parse_iter_summary(&text)
            .map_err(|e| ClientError::Usage(format!("{}: {e}", f.display())))?;
        if s.iteration == 0 {
            s.iteration = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        summaries.push(s);
    }
    Ok(LoadedSummaries {
        dir,
        files,
        summaries,
    })
}

/// Starts exportd in this process on `127.0.0.1:<free port>` over the Redis at
/// `redis_url` (connected lazily, so an unreachable Redis is reported by the
/// export itself). Stop it with [`ServingHandle::stop`].
pub async fn start_local_exportd(redis_url: &str) -> ClientResult<ServingHandle> {
    let store = RedisStore::open(redis_url, StoreOptions::default())
        .map_err(|e| ClientError::Usage(format!("--redis-url {}: {e}", redact_url(redis_url))))?;
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
    exportd::spawn_local(store, exportd::ExportConfig::default(), Shutdown::new())
        .await
        .map_err(|e| ClientError::Service(format!("cannot start exportd in-process: {e}")))
}

/// Streams `summaries` to exportd at `url` with `options` and returns its
/// report: the one export client of every command (the limits of a summary
/// message are exportd's own, [`exportd::MAX_MESSAGE_BYTES`], both ways). A
/// failed call is the status as exportd sent it; decide on it with
/// [`ClientError::from_status`].
pub async fn export_summaries(
    url: &str,
    options: ExportOptions,
    summaries: impl IntoIterator<Item = v1::IterSummary>,
) -> Result<ExportReport, tonic::Status> {
    let channel = shadowkpi_runtime::client::connect("exportd", url)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut client = ExportServiceClient::new(channel)
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(exportd::MAX_MESSAGE_BYTES);
    let messages: Vec<ExportSummariesRequest> = std::iter::once(ExportSummariesRequest {
        payload: Some(Payload::Options(options)),
    })
    .chain(summaries.into_iter().map(|s| ExportSummariesRequest {
        payload: Some(Payload::Summary(s)),
    }))
    .collect();
    let resp = client
        .export_summaries(tokio_stream::iter(messages))
        .await?;
    Ok(resp.into_inner().report.unwrap_or_default())
}

/// True when every failed batch of `report` failed because the store could
/// not be used ([`batch_store_unusable`]): exit 3 rather than 1.
pub fn failures_store_unusable(report: &v1::ExportReport) -> bool {
    report
        .batch_reports
        .iter()
        .filter(|b| !b.success)
        .all(batch_store_unusable)
}

/// True when a batch's reason says the store could not be used at all
/// (unreachable, timed out, circuit open, refused credentials), as opposed to
/// a command it rejected.
pub fn batch_store_unusable(b: &v1::BatchReport) -> bool {
    Reason::parse(&b.reason).is_some_and(Reason::is_store_unusable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_errors_are_classified_by_their_reason_not_their_text() {
        let batch = |error: &str, reason: &str| v1::BatchReport {
            error: error.into(),
            reason: reason.into(),
            ..v1::BatchReport::default()
        };
        assert!(batch_store_unusable(&batch(
            "store unavailable: redis://127.0.0.1:1: connection refused",
            "STORE_UNREACHABLE"
        )));
        assert!(batch_store_unusable(&batch(
            "store authentication failed: redis://u:***@h: WRONGPASS",
            "STORE_AUTH"
        )));
        assert!(batch_store_unusable(&batch("reworded", "STORE_TIMEOUT")));
        assert!(batch_store_unusable(&batch(
            "reworded",
            "STORE_CIRCUIT_OPEN"
        )));
        assert!(!batch_store_unusable(&batch(
            "store command failed: WRONGTYPE",
            "STORE_COMMAND"
        )));
        // The text alone decides nothing.
        assert!(!batch_store_unusable(&batch(
            "store unavailable: redis://127.0.0.1:1: connection refused",
            ""
        )));
    }

    #[test]
    fn summary_files_sort_by_iteration_number() {
        let mut v = [
            PathBuf::from("ITER_SUMMARY_1000.json"),
            PathBuf::from("ITER_SUMMARY_999.json"),
            PathBuf::from("ITER_SUMMARY_001.json"),
        ];
        v.sort_by(|a, b| (iteration_of(a), a.file_name()).cmp(&(iteration_of(b), b.file_name())));
        assert_eq!(v[0], PathBuf::from("ITER_SUMMARY_001.json"));
        assert_eq!(v[2], PathBuf::from("ITER_SUMMARY_1000.json"));
    }
}
