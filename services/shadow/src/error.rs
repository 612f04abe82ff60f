//! The errors of shadowd and their single mapping to gRPC status codes.

/// Everything a soak can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    /// A request field is wrong.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// ingestd cannot be reached or its stream failed.
    #[error("ingest unavailable: {0}")]
    IngestUnavailable(String),
    /// exportd cannot be reached or the export failed.
    #[error("export failed: {0}")]
    Export(String),
    /// The server is shutting down.
    #[error("shadowd is shutting down")]
    ShuttingDown,
}

impl ShadowError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ShadowError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<ShadowError> for tonic::Status {
    fn from(e: ShadowError) -> Self {
        let msg = e.to_string();
        match e {
            ShadowError::InvalidArgument { .. } => tonic::Status::invalid_argument(msg),
            ShadowError::IngestUnavailable(_) | ShadowError::ShuttingDown => {
                tonic::Status::unavailable(msg)
            }
            ShadowError::Export(_) => tonic::Status::aborted(msg),
        }
    }
}
