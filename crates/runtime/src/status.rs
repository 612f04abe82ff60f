//! The error model on the wire: every status a service answers with carries a
//! `google.rpc.ErrorInfo` whose `reason` is one of [`Reason`] and whose
//! `domain` is [`DOMAIN`]. A reason decides its gRPC code ([`Reason::code`]),
//! so the same failure has the same code in every service, and clients decide
//! on the code and the reason, never on the message text (which is for
//! people and may be reworded).
//!
//! The store's errors are mapped here once ([`Reason::of_store`],
//! [`store_status`]) for ingestd, shadowd, exportd and dryrund alike.
//! The reasons, their codes and the CLI's exit codes are listed in
//! `docs/contract.md`, section "Error reasons".

use std::collections::HashMap;

use shadowkpi_store::StoreError;
use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `domain` of every [`ErrorInfo`](tonic_types::ErrorInfo) a service sends.
pub const DOMAIN: &str = "shadowkpi.v1";

/// The `ErrorInfo.metadata` key naming the offending request field of an
/// [`Reason::InvalidArgument`].
pub const FIELD_KEY: &str = "field";

/// The `ErrorInfo.metadata` key naming the reason a peer gave, when a
/// service fails because its peer did ([`Reason::FeedUnavailable`] from
/// ingestd, [`Reason::ExportFailed`] from exportd): `STORE_UNREACHABLE` when
/// the peer's Redis was down, say.
pub const UPSTREAM_REASON_KEY: &str = "upstream_reason";

/// Why a request failed: the stable, machine-readable `ErrorInfo.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The KPI store or feed store cannot be reached (refused, dropped, loading).
    StoreUnreachable,
    /// Connecting to the store or a command's answer timed out.
    StoreTimeout,
    /// The store refused the service's credentials (wrong password, ACL).
    StoreAuth,
    /// The service's store URL or options are invalid.
    StoreConfig,
    /// The store answered a command with an error.
    StoreCommand,
    /// exportd's circuit breaker is open after repeated store failures.
    StoreCircuitOpen,
    /// A request field is wrong (`ErrorInfo.metadata["field"]` names it when
    /// known, and a `BadRequest` field violation says what is wrong).
    InvalidArgument,
    /// A soak or dry run cannot reach ingestd, or its feed stream failed.
    FeedUnavailable,
    /// shadowd's export of a soak's summaries to exportd failed.
    ExportFailed,
    /// Too many subscriptions or requests at once; retry later.
    Overloaded,
    /// The request did not complete within the service's request timeout.
    DeadlineExceeded,
    /// The service is shutting down.
    ShuttingDown,
    /// A soak or dry run cannot reach its external strategy, or the
    /// strategy refused the session (no `ready`).
    StrategyUnavailable,
    /// The external strategy stopped deciding during the run: it did not
    /// answer in time, went away, or answered out of protocol. The windows
    /// completed before were sent.
    StrategyFailed,
    /// The request carried no bearer token, or not the service's
    /// (`SHADOWKPI_AUTH_TOKEN`).
    Unauthenticated,
    /// A subscription from a feed position (a resumed soak or dry run) asked
    /// for entries the stream has trimmed away (MAXLEN): continuing would
    /// leave a hole; the message says how much is missing.
    FeedTrimmed,
}

impl Reason {
    /// Every reason, in the order of the contract's table.
    pub const ALL: [Reason; 16] = [
        Reason::StoreUnreachable,
        Reason::StoreTimeout,
        Reason::StoreAuth,
        Reason::StoreConfig,
        Reason::StoreCommand,
        Reason::StoreCircuitOpen,
        Reason::InvalidArgument,
        Reason::FeedUnavailable,
        Reason::ExportFailed,
        Reason::Overloaded,
        Reason::DeadlineExceeded,
        Reason::ShuttingDown,
        Reason::StrategyUnavailable,
        Reason::StrategyFailed,
        Reason::Unauthenticated,
        Reason::FeedTrimmed,
    ];

    /// The `ErrorInfo.reason` string (`UPPER_SNAKE_CASE`, stable).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::StoreUnreachable => "STORE_UNREACHABLE",
            Reason::StoreTimeout => "STORE_TIMEOUT",
            Reason::StoreAuth => "STORE_AUTH",
            Reason::StoreConfig => "STORE_CONFIG",
            Reason::StoreCommand => "STORE_COMMAND",
            Reason::StoreCircuitOpen => "STORE_CIRCUIT_OPEN",
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::FeedUnavailable => "FEED_UNAVAILABLE",
            Reason::ExportFailed => "EXPORT_FAILED",
            Reason::Overloaded => "OVERLOADED",
            Reason::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Reason::ShuttingDown => "SHUTTING_DOWN",
            Reason::StrategyUnavailable => "STRATEGY_UNAVAILABLE",
            Reason::StrategyFailed => "STRATEGY_FAILED",
            Reason::Unauthenticated => "UNAUTHENTICATED",
            Reason::FeedTrimmed => "FEED_TRIMMED",
        }
    }

    /// The reason named `s` (exactly as [`Reason::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The gRPC code of a status with this reason: the one mapping of the
    /// contract.
    pub fn code(self) -> Code {
        match self {
            // Transient: a client may retry.
            Reason::StoreUnreachable
            | Reason::StoreTimeout
            | Reason::StoreCircuitOpen
            | Reason::FeedUnavailable
            | Reason::StrategyUnavailable
            | Reason::ShuttingDown => Code::Unavailable,
            // Not UNAVAILABLE: clients retry that, and a wrong password or a
            // bad URL must not be retried in a loop.
            Reason::StoreAuth | Reason::StoreConfig | Reason::FeedTrimmed => {
                Code::FailedPrecondition
            }
            Reason::StoreCommand => Code::Internal,
            Reason::InvalidArgument => Code::InvalidArgument,
            Reason::ExportFailed | Reason::StrategyFailed => Code::Aborted,
            Reason::Overloaded => Code::ResourceExhausted,
            Reason::DeadlineExceeded => Code::DeadlineExceeded,
            Reason::Unauthenticated => Code::Unauthenticated,
        }
    }

    /// True when the store could not be used at all (unreachable, timed out,
    /// circuit open, credentials or URL refused), as opposed to a command it
    /// rejected: nothing was written or read.
    pub fn is_store_unusable(self) -> bool {
        matches!(
            self,
            Reason::StoreUnreachable
                | Reason::StoreTimeout
                | Reason::StoreAuth
                | Reason::StoreConfig
                | Reason::StoreCircuitOpen
        )
    }

    /// The reason of a store error.
    pub fn of_store(e: &StoreError) -> Reason {
        match e {
            StoreError::Unavailable(_) => Reason::StoreUnreachable,
            StoreError::Timeout(_) => Reason::StoreTimeout,
            StoreError::Auth(_) => Reason::StoreAuth,
            StoreError::Config(_) => Reason::StoreConfig,
            StoreError::Command(_) => Reason::StoreCommand,
        }
    }

    /// The reason a status carries: its `ErrorInfo` of [`DOMAIN`], if any, with
    /// a reason of this list.
    pub fn of_status(s: &tonic::Status) -> Option<Reason> {
        let info = s.get_details_error_info()?;
        if info.domain != DOMAIN {
            return None;
        }
        Reason::parse(&info.reason)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status's code and the name of its reason (`None` without an `ErrorInfo`
/// of [`DOMAIN`]): what a client decides on, and what tests compare.
pub fn code_and_reason(s: &tonic::Status) -> (Code, Option<&'static str>) {
    (s.code(), Reason::of_status(s).map(Reason::as_str))
}

/// A status of `reason`'s code with `message` and the reason's `ErrorInfo`.
pub fn status(reason: Reason, message: impl Into<String>) -> tonic::Status {
    with_details(reason, message, ErrorDetails::new(), HashMap::new())
}

/// An `INVALID_ARGUMENT` naming `field`: `ErrorInfo` with `metadata["field"]`
/// and a `BadRequest` field violation with `description`.
pub fn invalid_argument(
    field: impl Into<String>,
    description: impl Into<String>,
    message: impl Into<String>,
) -> tonic::Status {
    let field = field.into();
    let mut details = ErrorDetails::new();
    details.set_bad_request(vec![FieldViolation::new(field.clone(), description)]);
    let metadata = HashMap::from([(FIELD_KEY.to_string(), field)]);
    with_details(Reason::InvalidArgument, message, details, metadata)
}

/// The status of a store error `e`, with `message` (which should name the
/// store, never a password).
pub fn store_status(e: &StoreError, message: impl Into<String>) -> tonic::Status {
    status(Reason::of_store(e), message)
}

fn with_details(
    reason: Reason,
    message: impl Into<String>,
    mut details: ErrorDetails,
    metadata: HashMap<String, String>,
) -> tonic::Status {
    details.set_error_info(reason.as_str(), DOMAIN, metadata);
    tonic::Status::with_error_details(reason.code(), message, details)
}

/// Why a call to a peer service failed: the message, and the peer's reason
/// when its status carried one (forwarded as [`UPSTREAM_REASON_KEY`] by
/// [`with_upstream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerFailure {
    /// What failed, for people.
    pub message: String,
    /// The peer's reason, if it answered with one.
    pub upstream: Option<Reason>,
}

impl PeerFailure {
    /// A failure without a status of the peer (unreachable, stream closed).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            upstream: None,
        }
    }

    /// The peer answered `status`: `context: <its message>`, with its reason.
    pub fn of_status(context: &str, status: &tonic::Status) -> Self {
        Self {
            message: format!("{context}: {}", status.message()),
            upstream: Reason::of_status(status),
        }
    }
}

impl std::fmt::Display for PeerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A status of `reason` because a peer failed with `upstream` (its reason,
/// when its status carried one): [`UPSTREAM_REASON_KEY`] in the metadata.
pub fn with_upstream(
    reason: Reason,
    message: impl Into<String>,
    upstream: Option<Reason>,
) -> tonic::Status {
    let metadata = upstream
        .map(|u| HashMap::from([(UPSTREAM_REASON_KEY.to_string(), u.as_str().to_string())]))
        .unwrap_or_default();
    with_details(reason, message, ErrorDetails::new(), metadata)
}

/// The peer's reason a status forwards ([`UPSTREAM_REASON_KEY`]), if any.
pub fn upstream_of(s: &tonic::Status) -> Option<Reason> {
    let info = s.get_details_error_info()?;
    if info.domain != DOMAIN {
        return None;
    }
    Reason::parse(info.metadata.get(UPSTREAM_REASON_KEY)?)
}

/// The field an `INVALID_ARGUMENT` status names (`ErrorInfo.metadata["field"]`).
pub fn field_of(s: &tonic::Status) -> Option<String> {
    let mut info = s.get_details_error_info()?;
    if info.domain != DOMAIN {
        return None;
    }
    info.metadata.remove(FIELD_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_reason_is_read_back_by_name() {
        let s = with_upstream(
            Reason::ExportFailed,
            "export failed",
            Some(Reason::StoreUnreachable),
        );
        assert_eq!(code_and_reason(&s), (Code::Aborted, Some("EXPORT_FAILED")));
        assert_eq!(upstream_of(&s), Some(Reason::StoreUnreachable));
        let plain = with_upstream(Reason::FeedUnavailable, "ingestd down", None);
        assert_eq!(upstream_of(&plain), None);
        assert_eq!(upstream_of(&status(Reason::ExportFailed, "x")), None);
    }

    /// Each store error variant, its code and its reason, by name.
    #[test]
    fn store_errors_map_to_one_code_and_reason() {
        let cases = [
            (
                StoreError::Unavailable("redis://h:1: refused".into()),
                Code::Unavailable,
                "STORE_UNREACHABLE",
            ),
            (
                StoreError::Timeout("redis://h:1: timed out".into()),
                Code::Unavailable,
                "STORE_TIMEOUT",
            ),
            (
                StoreError::Auth("redis://u:***@h:1: WRONGPASS".into()),
                Code::FailedPrecondition,
                "STORE_AUTH",
            ),
            (
                StoreError::Config("redis url: InvalidClientConfig".into()),
                Code::FailedPrecondition,
                "STORE_CONFIG",
            ),
            (
                StoreError::Command("WRONGTYPE".into()),
                Code::Internal,
                "STORE_COMMAND",
            ),
        ];
        for (e, code, reason) in cases {
            let s = store_status(&e, e.to_string());
            assert_eq!(s.code(), code, "{e}");
            assert_eq!(Reason::of_status(&s).map(Reason::as_str), Some(reason));
            let info = s.get_details_error_info().unwrap();
            assert_eq!(info.reason, reason);
            assert_eq!(info.domain, "shadowkpi.v1");
            assert_eq!(s.message(), e.to_string());
        }
    }

    #[test]
    fn every_reason_has_its_code_and_round_trips_by_name() {
        let expected = [
            ("STORE_UNREACHABLE", Code::Unavailable, true),
            ("STORE_TIMEOUT", Code::Unavailable, true),
            ("STORE_AUTH", Code::FailedPrecondition, true),
            ("STORE_CONFIG", Code::FailedPrecondition, true),
            ("STORE_COMMAND", Code::Internal, false),
            ("STORE_CIRCUIT_OPEN", Code::Unavailable, true),
            ("INVALID_ARGUMENT", Code::InvalidArgument, false),
            ("FEED_UNAVAILABLE", Code::Unavailable, false),
            ("EXPORT_FAILED", Code::Aborted, false),
            ("OVERLOADED", Code::ResourceExhausted, false),
            ("DEADLINE_EXCEEDED", Code::DeadlineExceeded, false),
            ("SHUTTING_DOWN", Code::Unavailable, false),
            ("STRATEGY_UNAVAILABLE", Code::Unavailable, false),
            ("STRATEGY_FAILED", Code::Aborted, false),
            ("UNAUTHENTICATED", Code::Unauthenticated, false),
            ("FEED_TRIMMED", Code::FailedPrecondition, false),
        ];
        assert_eq!(Reason::ALL.len(), expected.len());
        for (r, (name, code, unusable)) in Reason::ALL.into_iter().zip(expected) {
            assert_eq!(r.as_str(), name);
            assert_eq!(r.to_string(), name);
            assert_eq!(Reason::parse(name), Some(r));
            assert_eq!(r.code(), code, "{name}");
            assert_eq!(r.is_store_unusable(), unusable, "{name}");
            // The status survives encoding to the wire's header form and back.
            let s = status(r, "text for people");
            let mut headers = http::HeaderMap::new();
            s.add_header(&mut headers).unwrap();
            let back = tonic::Status::from_header_map(&headers).unwrap();
            assert_eq!(back.code(), code);
            assert_eq!(Reason::of_status(&back), Some(r), "{name}");
        }
        assert_eq!(Reason::parse("store_unreachable"), None);
        assert_eq!(Reason::parse(""), None);
    }

    #[test]
    fn an_invalid_argument_names_its_field_twice() {
        let s = invalid_argument("options.batch_size", "must be at least 1", "bad");
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(Reason::of_status(&s), Some(Reason::InvalidArgument));
        assert_eq!(field_of(&s).as_deref(), Some("options.batch_size"));
        let v = &s.get_details_bad_request().unwrap().field_violations[0];
        assert_eq!(v.field, "options.batch_size");
        assert_eq!(v.description, "must be at least 1");
    }

    #[test]
    fn statuses_without_our_error_info_have_no_reason() {
        assert_eq!(Reason::of_status(&tonic::Status::unavailable("x")), None);
        let foreign = tonic::Status::with_error_details(
            Code::Unavailable,
            "x",
            ErrorDetails::with_error_info("STORE_UNREACHABLE", "example.com", HashMap::new()),
        );
        assert_eq!(Reason::of_status(&foreign), None);
        assert_eq!(field_of(&foreign), None);
    }
}
