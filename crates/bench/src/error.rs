//! The one error of the benchmark, in three kinds a caller maps to its own
//! exit codes (`shadowctl`: 3, 2 and 1).

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The Redis under test could not be reached, went away, or the private
    /// `redis-server` did not start.
    #[error("{message}")]
    StoreUnreachable {
        /// What failed, naming the URL without password.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// Bad input: the report folder cannot be created or written.
    #[error("{0}")]
    Usage(String),
    /// A step of the benchmark failed.
    #[error("{0}")]
    Failed(String),
}

/// Result alias of the benchmark.
pub type BenchResult<T> = Result<T, BenchError>;
