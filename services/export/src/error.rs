//! [`ExportError`], the one error type of the service, and its gRPC mapping.

use shadowkpi_domain::export::SummaryError;
use shadowkpi_runtime::status::{self, Reason};

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
        /// Its reason on the wire (`STORE_UNREACHABLE`, `STORE_TIMEOUT`,
        /// `STORE_CIRCUIT_OPEN`).
        cause: Reason,
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
        /// Its reason on the wire (`STORE_AUTH`, `STORE_CONFIG`).
        cause: Reason,
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
            ExportError::InvalidArgument { field, reason } => {
                status::invalid_argument(field, reason, msg)
            }
            ExportError::CircuitOpen { .. } => status::status(Reason::StoreCircuitOpen, msg),
            // Auth and a bad URL are FAILED_PRECONDITION, not UNAVAILABLE:
            // clients retry that, and a wrong password must not be retried in
            // a loop (the reason's code says so).
            ExportError::StoreUnavailable { cause, .. }
            | ExportError::StoreRejected { cause, .. } => status::status(cause, msg),
            ExportError::Stream(status) => status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error, its code and its reason by name.
    #[test]
    fn errors_carry_their_code_and_reason() {
        let unavailable = |cause| ExportError::StoreUnavailable {
            reason: "store unavailable: redis://h:1".into(),
            cause,
            symbols: 2,
            batches: 1,
        };
        let rejected = |cause| ExportError::StoreRejected {
            reason: "store authentication failed: redis://u:***@h:1".into(),
            cause,
        };
        let cases = [
            (
                ExportError::invalid("options.batch_size", "must be at least 1"),
                tonic::Code::InvalidArgument,
                "INVALID_ARGUMENT",
            ),
            (
                ExportError::CircuitOpen {
                    store: "redis://h:1".into(),
                    retry_in_ms: 10,
                },
                tonic::Code::Unavailable,
                "STORE_CIRCUIT_OPEN",
            ),
            (
                unavailable(Reason::StoreUnreachable),
                tonic::Code::Unavailable,
                "STORE_UNREACHABLE",
            ),
            (
                unavailable(Reason::StoreTimeout),
                tonic::Code::Unavailable,
                "STORE_TIMEOUT",
            ),
            (
                unavailable(Reason::StoreCircuitOpen),
                tonic::Code::Unavailable,
                "STORE_CIRCUIT_OPEN",
            ),
            (
                rejected(Reason::StoreAuth),
                tonic::Code::FailedPrecondition,
                "STORE_AUTH",
            ),
            (
                rejected(Reason::StoreConfig),
                tonic::Code::FailedPrecondition,
                "STORE_CONFIG",
            ),
        ];
        for (e, code, reason) in cases {
            let s = tonic::Status::from(e);
            assert_eq!(status::code_and_reason(&s), (code, Some(reason)), "{s:?}");
        }
        let s = tonic::Status::from(ExportError::invalid(
            "options.ttl_seconds",
            "must be positive",
        ));
        assert_eq!(status::field_of(&s).as_deref(), Some("options.ttl_seconds"));
        // The client's own stream error is passed on as it is.
        let s = tonic::Status::from(ExportError::Stream(tonic::Status::cancelled("gone")));
        assert_eq!(s.code(), tonic::Code::Cancelled);
        assert_eq!(Reason::of_status(&s), None);
    }
}
