//! The errors of dryrund and their single mapping to gRPC status codes (through
//! the reasons of [`shadowkpi_runtime::status`]).

use shadowkpi_runtime::status::{self, PeerFailure, Reason};
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
    IngestUnavailable(PeerFailure),
    /// The server is shutting down.
    #[error("dryrund is shutting down")]
    ShuttingDown,
    /// The external strategy cannot be reached or refused the session.
    #[error("strategy unavailable: {0}")]
    StrategyUnavailable(String),
    /// The external strategy stopped deciding during the dry run.
    #[error("strategy failed: {0}")]
    StrategyFailed(String),
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
            DryRunError::InvalidArgument { field, message } => {
                status::invalid_argument(field, message, msg)
            }
            DryRunError::Store(s) => status::store_status(&s, msg),
            DryRunError::IngestUnavailable(p) => {
                status::with_upstream(Reason::FeedUnavailable, msg, p.upstream)
            }
            DryRunError::ShuttingDown => status::status(Reason::ShuttingDown, msg),
            DryRunError::StrategyUnavailable(_) => status::status(Reason::StrategyUnavailable, msg),
            DryRunError::StrategyFailed(_) => status::status(Reason::StrategyFailed, msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error, its code and its reason by name.
    #[test]
    fn errors_carry_their_code_and_reason() {
        let cases = [
            (
                DryRunError::invalid("iterations", "must be positive"),
                tonic::Code::InvalidArgument,
                "INVALID_ARGUMENT",
            ),
            (
                DryRunError::Store(StoreError::Unavailable("refused".into())),
                tonic::Code::Unavailable,
                "STORE_UNREACHABLE",
            ),
            (
                DryRunError::Store(StoreError::Timeout("slow".into())),
                tonic::Code::Unavailable,
                "STORE_TIMEOUT",
            ),
            (
                DryRunError::Store(StoreError::Auth("WRONGPASS".into())),
                tonic::Code::FailedPrecondition,
                "STORE_AUTH",
            ),
            (
                DryRunError::Store(StoreError::Config("bad url".into())),
                tonic::Code::FailedPrecondition,
                "STORE_CONFIG",
            ),
            (
                DryRunError::Store(StoreError::Command("WRONGTYPE".into())),
                tonic::Code::Internal,
                "STORE_COMMAND",
            ),
            (
                DryRunError::IngestUnavailable(PeerFailure::new("connection refused")),
                tonic::Code::Unavailable,
                "FEED_UNAVAILABLE",
            ),
            (
                DryRunError::ShuttingDown,
                tonic::Code::Unavailable,
                "SHUTTING_DOWN",
            ),
        ];
        let forwarded = tonic::Status::from(DryRunError::IngestUnavailable(PeerFailure {
            message: "subscribe: redis down".into(),
            upstream: Some(Reason::StoreUnreachable),
        }));
        assert_eq!(
            status::upstream_of(&forwarded),
            Some(Reason::StoreUnreachable)
        );
        for (e, code, reason) in cases {
            let s = tonic::Status::from(e);
            assert_eq!(status::code_and_reason(&s), (code, Some(reason)), "{s:?}");
        }
    }
}
