//! CLI errors and the exit codes of the contract: 0 success, 1 a gate or
//! validation failed, 2 usage or input error, 3 the store was unreachable, 4 a
//! service went away mid-run.

use std::process::ExitCode;

use shadowkpi_runtime::status::{self, Reason};

/// Exit code: a gate or validation failed.
pub const EXIT_GATE: u8 = 1;
/// Exit code: usage or input error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the store (Redis) was unreachable.
pub const EXIT_STORE: u8 = 3;
/// Exit code: a service failed (also [`EXIT_GATE`]'s number).
pub const EXIT_SERVICE: u8 = 1;
/// Exit code: a service went away in the middle of a run (its process or
/// node died, the connection broke); the message says how to resume.
pub const EXIT_VANISHED: u8 = 4;

/// An error that ends the command.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad flags, bad files, bad input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The store could not be reached (exit 3).
    #[error("{message}")]
    StoreUnreachable {
        /// What failed, naming the URL without password.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A service failed or could not be reached (exit 1).
    #[error("{0}")]
    Service(String),
    /// A service went away in the middle of a run (exit 4): the message
    /// names it, the last completed window, the artifacts and how to resume.
    #[error("{0}")]
    Vanished(String),
}

impl ClientError {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            ClientError::Usage(_) => EXIT_USAGE,
            ClientError::StoreUnreachable { .. } => EXIT_STORE,
            ClientError::Service(_) => EXIT_SERVICE,
            ClientError::Vanished(_) => EXIT_VANISHED,
        })
    }

    /// A hint to print after the error, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ClientError::StoreUnreachable { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// Maps a gRPC status to a CLI error from its code and its `ErrorInfo`
    /// reason only, never its message: a store reason that says the store
    /// could not be used is exit 3, `INVALID_ARGUMENT`, `FAILED_PRECONDITION`
    /// and `NOT_FOUND` otherwise are exit 2, anything else exit 1.
    pub fn from_status(what: &str, s: &tonic::Status) -> Self {
        let message = format!("{what}: {}", s.message());
        match exit_code_of(s) {
            EXIT_STORE => ClientError::StoreUnreachable {
                message,
                hint: Some(crate::services::REDIS_HINT.into()),
            },
            EXIT_USAGE => ClientError::Usage(message),
            _ => ClientError::Service(format!("{message} ({:?})", s.code())),
        }
    }
}

/// True when a failed call's status says the service itself is gone (the
/// connection broke or was refused, no answer of ours) rather than that it
/// answered with an error.
pub fn is_vanished(s: &tonic::Status) -> bool {
    Reason::of_status(s).is_none()
        && matches!(
            s.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        )
}

/// The exit code of a reason when a command fails with it.
pub fn exit_code_of_reason(r: Reason) -> u8 {
    if r.is_store_unusable() {
        EXIT_STORE
    } else {
        match r.code() {
            tonic::Code::InvalidArgument
            | tonic::Code::FailedPrecondition
            | tonic::Code::NotFound
            | tonic::Code::Unauthenticated => EXIT_USAGE,
            _ => EXIT_SERVICE,
        }
    }
}

/// The exit code of a failed call: from the status's reason when it carries
/// one of ours, else from its code alone. A service that failed because its
/// peer's store could not be used (`FEED_UNAVAILABLE` or `EXPORT_FAILED`
/// forwarding `STORE_UNREACHABLE`, say) is exit 3 like the store reason
/// itself.
pub fn exit_code_of(s: &tonic::Status) -> u8 {
    match Reason::of_status(s) {
        Some(Reason::FeedUnavailable | Reason::ExportFailed)
            if status::upstream_of(s).is_some_and(Reason::is_store_unusable) =>
        {
            EXIT_STORE
        }
        Some(Reason::FeedUnavailable) if status::upstream_of(s) == Some(Reason::FeedTrimmed) => {
            EXIT_USAGE
        }
        Some(r) => exit_code_of_reason(r),
        None => match s.code() {
            tonic::Code::InvalidArgument
            | tonic::Code::FailedPrecondition
            | tonic::Code::NotFound => EXIT_USAGE,
            _ => EXIT_SERVICE,
        },
    }
}

/// Result alias of the CLI.
pub type ClientResult<T> = Result<T, ClientError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_connection_is_a_vanished_service_and_an_answer_is_not() {
        assert!(is_vanished(&tonic::Status::unknown(
            "h2 protocol error: error reading a body from connection"
        )));
        assert!(is_vanished(&tonic::Status::unavailable(
            "connection refused"
        )));
        let answered = status::status(Reason::FeedUnavailable, "ingestd is down");
        assert!(!is_vanished(&answered));
        assert!(!is_vanished(&tonic::Status::invalid_argument("bad")));
        assert_eq!(
            ClientError::Vanished("x".into()).exit_code(),
            ExitCode::from(EXIT_VANISHED)
        );
    }
    use shadowkpi_runtime::status;

    /// The exit code of every reason, by name; the same as the contract's
    /// table of reasons says.
    #[test]
    fn every_reason_has_the_exit_code_of_the_contract() {
        let expected = [
            ("STORE_UNREACHABLE", 3),
            ("STORE_TIMEOUT", 3),
            ("STORE_AUTH", 3),
            ("STORE_CONFIG", 3),
            ("STORE_COMMAND", 1),
            ("STORE_CIRCUIT_OPEN", 3),
            ("INVALID_ARGUMENT", 2),
            ("FEED_UNAVAILABLE", 1),
            ("EXPORT_FAILED", 1),
            ("OVERLOADED", 1),
            ("DEADLINE_EXCEEDED", 1),
            ("SHUTTING_DOWN", 1),
            ("STRATEGY_UNAVAILABLE", 1),
            ("STRATEGY_FAILED", 1),
            ("UNAUTHENTICATED", 2),
            ("FEED_TRIMMED", 2),
        ];
        assert_eq!(Reason::ALL.len(), expected.len());
        let contract = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/contract.md"),
        )
        .unwrap();
        for (name, exit) in expected {
            let r = Reason::parse(name).unwrap();
            assert_eq!(exit_code_of_reason(r), exit, "{name}");
            let s = status::status(r, "any wording at all");
            assert_eq!(exit_code_of(&s), exit, "{name}");
            assert_eq!(
                ClientError::from_status("x", &s).exit_code(),
                ExitCode::from(exit),
                "{name}"
            );
            // The contract's row: | `REASON` | `CODE` | when | exit |
            let code = format!("{:?}", r.code());
            let row = contract
                .lines()
                .find(|l| l.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("docs/contract.md has no row for {name}"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(
                cells[2].trim_matches('`').replace('_', "").to_lowercase(),
                code.to_lowercase(),
                "{row}"
            );
            // "1" or "1 (3 when the upstream reason is exit 3)"
            assert_eq!(
                cells[4].split_whitespace().next(),
                Some(exit.to_string().as_str()),
                "{row}"
            );
        }
    }

    /// A service that failed because its peer's store could not be used is
    /// exit 3; because of anything else its peer said, the reason's own exit.
    #[test]
    fn a_forwarded_store_reason_is_exit_3() {
        for outer in [Reason::FeedUnavailable, Reason::ExportFailed] {
            for (upstream, exit) in [
                (Some(Reason::StoreUnreachable), EXIT_STORE),
                (Some(Reason::StoreAuth), EXIT_STORE),
                (Some(Reason::StoreTimeout), EXIT_STORE),
                (Some(Reason::StoreCommand), EXIT_SERVICE),
                (Some(Reason::Overloaded), EXIT_SERVICE),
                (Some(Reason::InvalidArgument), EXIT_SERVICE),
                (None, EXIT_SERVICE),
            ] {
                let s = status::with_upstream(outer, "any wording", upstream);
                assert_eq!(exit_code_of(&s), exit, "{outer} after {upstream:?}");
            }
        }
        // Only a peer failure forwards: another reason's metadata decides nothing.
        let s = status::with_upstream(Reason::InvalidArgument, "x", Some(Reason::StoreAuth));
        assert_eq!(exit_code_of(&s), EXIT_USAGE);
    }

    #[test]
    fn the_message_never_decides_the_exit_code() {
        // A store-like message without the reason is just UNAVAILABLE: exit 1.
        let s = tonic::Status::unavailable("kpi store: store unavailable: redis down");
        assert_eq!(exit_code_of(&s), EXIT_SERVICE);
        // The reason with any message is exit 3.
        let s = status::status(Reason::StoreUnreachable, "reworded entirely");
        assert_eq!(exit_code_of(&s), EXIT_STORE);
        // Codes without a reason keep their meaning.
        assert_eq!(
            exit_code_of(&tonic::Status::invalid_argument("x")),
            EXIT_USAGE
        );
        assert_eq!(exit_code_of(&tonic::Status::not_found("x")), EXIT_USAGE);
        assert_eq!(exit_code_of(&tonic::Status::internal("x")), EXIT_SERVICE);
        let e = ClientError::from_status("validate", &status::status(Reason::StoreAuth, "no"));
        assert!(matches!(e, ClientError::StoreUnreachable { .. }), "{e:?}");
        assert!(e.hint().is_some());
    }
}
