//! The errors of ingestd (service and feed publisher) and their single mapping
//! to gRPC status codes.

use shadowkpi_runtime::status::{self, Reason};
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
    /// A subscription's feed position has been trimmed from the stream.
    #[error("{0}")]
    FeedTrimmed(String),
    /// The store failed (Redis unreachable, command error).
    #[error(transparent)]
    Store(#[from] StoreError),
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
            IngestError::InvalidArgument { field, message } => {
                status::invalid_argument(field, message, msg)
            }
            IngestError::TooManySubscribers { .. } => status::status(Reason::Overloaded, msg),
            IngestError::ShuttingDown => status::status(Reason::ShuttingDown, msg),
            IngestError::FeedTrimmed(_) => status::status(Reason::FeedTrimmed, msg),
            IngestError::Store(s) => status::store_status(&s, msg),
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

    /// Every error, its code and its reason by name.
    #[test]
    fn errors_carry_their_reason() {
        let cases: Vec<(IngestError, tonic::Code, &str)> = vec![
            (
                IngestError::invalid("symbols", "empty"),
                tonic::Code::InvalidArgument,
                "INVALID_ARGUMENT",
            ),
            (
                IngestError::TooManySubscribers { limit: 1 },
                tonic::Code::ResourceExhausted,
                "OVERLOADED",
            ),
            (
                IngestError::ShuttingDown,
                tonic::Code::Unavailable,
                "SHUTTING_DOWN",
            ),
            (
                IngestError::FeedTrimmed("gone".into()),
                tonic::Code::FailedPrecondition,
                "FEED_TRIMMED",
            ),
            (
                StoreError::Unavailable("down".into()).into(),
                tonic::Code::Unavailable,
                "STORE_UNREACHABLE",
            ),
            (
                StoreError::Timeout("slow".into()).into(),
                tonic::Code::Unavailable,
                "STORE_TIMEOUT",
            ),
            // The same code as exportd and dryrund: a wrong password is not
            // retried as if the store were down.
            (
                StoreError::Auth("WRONGPASS".into()).into(),
                tonic::Code::FailedPrecondition,
                "STORE_AUTH",
            ),
            (
                StoreError::Config("bad url".into()).into(),
                tonic::Code::FailedPrecondition,
                "STORE_CONFIG",
            ),
            (
                StoreError::Command("WRONGTYPE".into()).into(),
                tonic::Code::Internal,
                "STORE_COMMAND",
            ),
        ];
        for (e, code, reason) in cases {
            let s = tonic::Status::from(e);
            assert_eq!(status::code_and_reason(&s), (code, Some(reason)), "{s:?}");
        }
        let s = tonic::Status::from(IngestError::invalid("symbols", "empty"));
        assert_eq!(status::field_of(&s).as_deref(), Some("symbols"));
    }
}
