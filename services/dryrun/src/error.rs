//! The errors of dryrund and their single mapping to gRPC status codes.

use shadowkpi_store::StoreError;

/// Everything a dry run can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    /// A request field is wrong.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The KPI store failed.
    #[error("kpi store: {0}")]
    Store(StoreError),
    /// ingestd cannot be reached or its stream failed.
    #[error("ingest unavailable: {0}")]
    IngestUnavailable(String),
    /// The server is shutting down.
    #[error("dryrund is shutting down")]
    ShuttingDown,
}

impl DryRunError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DryRunError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<DryRunError> for tonic::Status {
    fn from(e: DryRunError) -> Self {
        let msg = e.to_string();
        match e {
            DryRunError::InvalidArgument { .. } => tonic::Status::invalid_argument(msg),
            DryRunError::Store(StoreError::Auth(_) | StoreError::Config(_)) => {
                tonic::Status::failed_precondition(msg)
            }
            DryRunError::Store(StoreError::Command(_)) => tonic::Status::internal(msg),
            DryRunError::Store(StoreError::Unavailable(_))
            | DryRunError::IngestUnavailable(_)
            | DryRunError::ShuttingDown => tonic::Status::unavailable(msg),
        }
    }
}
