//! The errors of shadowd and their single mapping to gRPC status codes (through
//! the reasons of [`shadowkpi_runtime::status`]).

use shadowkpi_runtime::status::{self, PeerFailure, Reason};

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
    IngestUnavailable(PeerFailure),
    /// exportd cannot be reached or the export failed.
    #[error("export failed: {0}")]
    Export(PeerFailure),
    /// The server is shutting down.
    #[error("shadowd is shutting down")]
    ShuttingDown,
    /// The external strategy cannot be reached or refused the session.
    #[error("strategy unavailable: {0}")]
    StrategyUnavailable(String),
    /// The external strategy stopped deciding during the soak.
    #[error("strategy failed: {0}")]
    StrategyFailed(String),
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
            ShadowError::InvalidArgument { field, message } => {
                status::invalid_argument(field, message, msg)
            }
            ShadowError::IngestUnavailable(p) => {
                status::with_upstream(Reason::FeedUnavailable, msg, p.upstream)
            }
            ShadowError::ShuttingDown => status::status(Reason::ShuttingDown, msg),
            ShadowError::Export(p) => status::with_upstream(Reason::ExportFailed, msg, p.upstream),
            ShadowError::StrategyUnavailable(_) => status::status(Reason::StrategyUnavailable, msg),
            ShadowError::StrategyFailed(_) => status::status(Reason::StrategyFailed, msg),
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
                ShadowError::invalid("window_ms", "must be positive"),
                tonic::Code::InvalidArgument,
                "INVALID_ARGUMENT",
            ),
            (
                ShadowError::IngestUnavailable(PeerFailure::new("connection refused")),
                tonic::Code::Unavailable,
                "FEED_UNAVAILABLE",
            ),
            (
                ShadowError::Export(PeerFailure::new("exportd: refused")),
                tonic::Code::Aborted,
                "EXPORT_FAILED",
            ),
            (
                ShadowError::ShuttingDown,
                tonic::Code::Unavailable,
                "SHUTTING_DOWN",
            ),
            (
                ShadowError::StrategyUnavailable("connection refused".into()),
                tonic::Code::Unavailable,
                "STRATEGY_UNAVAILABLE",
            ),
            (
                ShadowError::StrategyFailed("no answer within 5s".into()),
                tonic::Code::Aborted,
                "STRATEGY_FAILED",
            ),
        ];
        let forwarded = tonic::Status::from(ShadowError::IngestUnavailable(PeerFailure {
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
        let s = tonic::Status::from(ShadowError::invalid("window_ms", "must be positive"));
        assert_eq!(status::field_of(&s).as_deref(), Some("window_ms"));
    }
}
