//! [`ExportError`], the one error type of the service, and its gRPC mapping.

use shadowkpi_domain::export::SummaryError;

/// Why an export was refused or failed as a whole. Failures of single batches
/// are not errors: they are reported in the export report.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A bad request (missing or late options, bad option value, bad summary).
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// Path of the offending field (`options.batch_size`, `summaries[2].window.end_ms`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The circuit breaker is open: the store failed repeatedly just now.
    #[error(
        "store unavailable: {store} failed repeatedly, circuit open for another {retry_in_ms} ms"
    )]
    CircuitOpen {
        /// The store, without credentials.
        store: String,
        /// Time until the breaker lets attempts through again.
        retry_in_ms: u64,
    },
    /// Every batch failed because the store could not be reached.
    #[error("{reason}; nothing was written ({symbols} symbols in {batches} batches failed)")]
    StoreUnavailable {
        /// The last store error (names the store, never a password).
        reason: String,
        /// Symbols that were not written.
        symbols: usize,
        /// Batches that failed.
        batches: usize,
    },
    /// The store refused the connection for good (authentication, bad URL):
    /// retrying cannot help, so nothing was retried.
    #[error("{reason}; nothing was written")]
    StoreRejected {
        /// The store error (names the store, never a password).
        reason: String,
    },
    /// The client's request stream failed.
    #[error("request stream: {}", .0.message())]
    Stream(tonic::Status),
}

impl ExportError {
    /// An invalid-argument error about `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ExportError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An invalid summary, the `index`-th of the stream.
    pub fn summary(index: usize, e: SummaryError) -> Self {
        let e = e.within(&format!("summaries[{index}]"));
        match e {
            SummaryError::Field { path, message } => ExportError::invalid(path, message),
            other => ExportError::invalid(format!("summaries[{index}]"), other.to_string()),
        }
    }
}

impl From<ExportError> for tonic::Status {
    fn from(e: ExportError) -> Self {
        let msg = e.to_string();
        match e {
            ExportError::InvalidArgument { .. } => tonic::Status::invalid_argument(msg),
            ExportError::CircuitOpen { .. } | ExportError::StoreUnavailable { .. } => {
                tonic::Status::unavailable(msg)
            }
            // Not UNAVAILABLE: clients retry that, and a wrong password must not
            // be retried in a loop.
            ExportError::StoreRejected { .. } => tonic::Status::failed_precondition(msg),
            ExportError::Stream(status) => status,
        }
    }
}
