//! What can go wrong while publishing a feed.

use shadowkpi_store::StoreError;

/// A feed could not be published.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// An option is wrong (names the option).
    #[error("invalid `{field}`: {message}")]
    InvalidArgument {
        /// The offending option.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A replay file cannot be opened or read (names the file, and the line
    /// and field where one is at fault).
    #[error("{0}")]
    Input(String),
    /// The store failed (unreachable, timed out, refused the credentials or a
    /// command).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeedError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        FeedError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}
