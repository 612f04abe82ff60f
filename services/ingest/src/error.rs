//! The errors of ingestd (service and feed publisher) and their single mapping
//! to gRPC status codes.

use shadowkpi_store::StoreError;

/// Everything ingestd and its feed publisher can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A request field or an option is wrong.
    #[error("invalid `{field}`: {message}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Too many subscriptions are open.
    #[error("too many subscribers (limit {limit}); retry later")]
    TooManySubscribers {
        /// The configured limit.
        limit: usize,
    },
    /// The service is shutting down.
    #[error("ingestd is shutting down")]
    ShuttingDown,
    /// The store failed (Redis unreachable, command error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A replay file cannot be read.
    #[error("{0}")]
    Input(String),
}

impl IngestError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        IngestError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<IngestError> for tonic::Status {
    fn from(e: IngestError) -> Self {
        let msg = e.to_string();
        match e {
            IngestError::InvalidArgument { .. } | IngestError::Input(_) => {
                tonic::Status::invalid_argument(msg)
            }
            IngestError::TooManySubscribers { .. } => tonic::Status::resource_exhausted(msg),
            IngestError::ShuttingDown => tonic::Status::unavailable(msg),
            IngestError::Store(s) if s.is_transient() => tonic::Status::unavailable(msg),
            IngestError::Store(StoreError::Auth(_)) => tonic::Status::unavailable(msg),
            IngestError::Store(_) => tonic::Status::internal(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_codes_of_the_contract() {
        let code = |e: IngestError| tonic::Status::from(e).code();
        assert_eq!(
            code(IngestError::invalid("symbols", "empty")),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            code(IngestError::TooManySubscribers { limit: 1 }),
            tonic::Code::ResourceExhausted
        );
        assert_eq!(
            code(StoreError::Unavailable("down".into()).into()),
            tonic::Code::Unavailable
        );
        assert_eq!(code(IngestError::ShuttingDown), tonic::Code::Unavailable);
        let s = tonic::Status::from(IngestError::invalid("symbols", "`--` is empty"));
        assert!(s.message().contains("symbols"), "{}", s.message());
    }
}
