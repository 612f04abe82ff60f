//! Bearer tokens on gRPC: a service started with a token answers every
//! request without `authorization: Bearer <token>` with `UNAUTHENTICATED`
//! (reason `UNAUTHENTICATED`), except health and reflection, which probes
//! and tools reach without one. The comparison takes the same time whatever
//! the bytes. Clients of this process (`client::connect`, shadowd's calls to
//! ingestd and exportd, shadowctl) send the token [`use_client_token`] set.
//!
//! A token never appears in logs, errors or `Debug` output.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tonic::metadata::{Ascii, MetadataValue};
use tower::{Layer, Service};

use crate::status::{Reason, status};

/// The environment variable holding the token.
pub const TOKEN_ENV: &str = "SHADOWKPI_AUTH_TOKEN";
/// The environment variable naming a file that holds the token.
pub const TOKEN_FILE_ENV: &str = "SHADOWKPI_AUTH_TOKEN_FILE";

/// Paths (prefixes) answered without a token: health for probes,
/// reflection for tools.
pub const OPEN_PATHS: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// A bearer token.
#[derive(Clone)]
pub struct Token {
    secret: Arc<str>,
    /// `Bearer <token>`, built once: every client call sends it.
    header: MetadataValue<Ascii>,
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.secret.as_bytes(), other.secret.as_bytes())
    }
}

impl Eq for Token {}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// A token of `text` (surrounding whitespace trimmed): at least 16
    /// visible ASCII characters, no spaces.
    pub fn new(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.len() < 16 {
            return Err(format!(
                "the token has {} characters; at least 16 are needed",
                t.len()
            ));
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token may hold only visible ASCII characters (no spaces or control characters)"
                    .into(),
            );
        }
        let header = MetadataValue::try_from(format!("Bearer {t}"))
            .map_err(|_| "the token is not a valid header value".to_string())?;
        Ok(Self {
            secret: t.into(),
            header,
        })
    }

    /// The token in `path` (its whole content, trimmed).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
        Self::new(&text).map_err(|e| format!("token file {}: {e}", path.display()))
    }

    /// The token from a value or a file (at most one of them), `None` when
    /// neither is given.
    pub fn resolve(value: Option<&str>, file: Option<&Path>) -> Result<Option<Self>, String> {
        match (value, file) {
            (Some(_), Some(_)) => Err(format!(
                "give the token once: {TOKEN_ENV} (--auth-token) or {TOKEN_FILE_ENV} (--auth-token-file), not both"
            )),
            (Some(v), None) => Self::new(v)
                .map(Some)
                .map_err(|e| format!("{TOKEN_ENV}: {e}")),
            (None, Some(f)) => Self::from_file(f).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// `Bearer <token>`, the `authorization` value a client sends.
    pub fn header(&self) -> MetadataValue<Ascii> {
        self.header.clone()
    }

    /// True when `header` is `Bearer <this token>`, in time independent of
    /// where the bytes differ.
    pub fn accepts(&self, header: &[u8]) -> bool {
        let Some(given) = header.strip_prefix(b"Bearer ") else {
            return false;
        };
        constant_time_eq(given, self.secret.as_bytes())
    }
}

/// Compares all of both slices whatever they hold (only the lengths leak).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The flags every binary takes for its token (environment fallbacks).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TokenArgs {
    /// Bearer token: a service requires it of every call (health and
    /// reflection excepted) and sends it to its peers; shadowctl sends it.
    /// Prefer the environment or a file: a flag shows in `ps`.
    #[arg(long, env = TOKEN_ENV, value_name = "TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// File holding the bearer token (a mounted Secret).
    #[arg(long, env = TOKEN_FILE_ENV, value_name = "PATH")]
    pub auth_token_file: Option<PathBuf>,
}

impl TokenArgs {
    /// The token they give, if any.
    pub fn token(&self) -> Result<Option<Token>, String> {
        Token::resolve(self.auth_token.as_deref(), self.auth_token_file.as_deref())
    }
}

static CLIENT_TOKEN: OnceLock<Token> = OnceLock::new();

/// Makes every client of this process (`client::channel`,
/// `client::connect`) send `token`. Set once, at start; a second, different
/// token is refused.
pub fn use_client_token(token: Token) -> Result<(), String> {
    let set = CLIENT_TOKEN.get_or_init(|| token.clone());
    if *set == token {
        Ok(())
    } else {
        Err("this process already sends another token".into())
    }
}

/// The token clients of this process send.
pub fn client_token() -> Option<&'static Token> {
    CLIENT_TOKEN.get()
}

/// Server layer requiring the token.
#[derive(Debug, Clone)]
pub struct RequireTokenLayer {
    token: Option<Token>,
}

impl RequireTokenLayer {
    /// Requires `token`; `None` lets everything through.
    pub fn new(token: Option<Token>) -> Self {
        Self { token }
    }
}

impl<S> Layer<S> for RequireTokenLayer {
    type Service = RequireToken<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireToken {
            inner,
            token: self.token.clone(),
        }
    }
}

/// See [`RequireTokenLayer`].
#[derive(Debug, Clone)]
pub struct RequireToken<S> {
    inner: S,
    token: Option<Token>,
}

/// Why a request is refused, if it is.
fn refusal<B>(token: &Token, req: &http::Request<B>) -> Option<&'static str> {
    let path = req.uri().path();
    if OPEN_PATHS.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    match req.headers().get(http::header::AUTHORIZATION) {
        None => Some("this service requires a bearer token (authorization: Bearer <token>)"),
        Some(v) if token.accepts(v.as_bytes()) => None,
        Some(_) => Some("the bearer token is not this service's"),
    }
}

impl<S, B, RB> Service<http::Request<B>> for RequireToken<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if let Some(why) = self.token.as_ref().and_then(|t| refusal(t, &req)) {
            tracing::debug!(path = %req.uri().path(), why, "request refused");
            let resp = status(Reason::Unauthenticated, why).into_http();
            return Box::pin(async move { Ok(resp) });
        }
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "s3cret-token-0123456789";

    #[test]
    fn tokens_are_checked_whole_and_never_printed() {
        let t = Token::new(&format!("  {GOOD}\n")).unwrap();
        assert!(t.accepts(format!("Bearer {GOOD}").as_bytes()));
        assert!(!t.accepts(GOOD.as_bytes()), "the scheme is required");
        assert!(!t.accepts(format!("Bearer {GOOD}x").as_bytes()));
        assert!(!t.accepts(format!("Bearer {}", &GOOD[..GOOD.len() - 1]).as_bytes()));
        assert!(!t.accepts(b"Bearer s3cret-token-012345678X"));
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert_eq!(t.header().to_str().unwrap(), format!("Bearer {GOOD}"));
    }

    #[test]
    fn bad_tokens_and_files_say_what_is_wrong() {
        assert!(Token::new("short").unwrap_err().contains("at least 16"));
        assert!(
            Token::new("has a space in the middle")
                .unwrap_err()
                .contains("visible ASCII")
        );
        let missing = Path::new("/nonexistent/token");
        let e = Token::resolve(None, Some(missing)).unwrap_err();
        assert!(e.contains("/nonexistent/token"), "{e}");
        let e = Token::resolve(Some(GOOD), Some(missing)).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        assert_eq!(Token::resolve(None, None).unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, format!("{GOOD}\n")).unwrap();
        assert_eq!(
            Token::resolve(None, Some(&f)).unwrap(),
            Some(Token::new(GOOD).unwrap())
        );
    }

    fn request(path: &str, auth: Option<&str>) -> http::Request<()> {
        let mut b = http::Request::builder().uri(format!("http://x{path}"));
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn health_and_reflection_are_open_everything_else_needs_the_token() {
        let t = Token::new(GOOD).unwrap();
        let good = format!("Bearer {GOOD}");
        for open in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(refusal(&t, &request(open, None)), None, "{open}");
        }
        let soak = "/shadowkpi.v1.ShadowService/RunSoak";
        assert!(
            refusal(&t, &request(soak, None))
                .unwrap()
                .contains("requires")
        );
        assert!(
            refusal(&t, &request(soak, Some("Bearer wrong-token-0123456789")))
                .unwrap()
                .contains("not this service's")
        );
        assert_eq!(refusal(&t, &request(soak, Some(&good))), None);
    }
}
