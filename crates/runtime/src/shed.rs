//! Server-side tower layer: a request the load shedder refused (every permit
//! of `--max-concurrent` taken) is answered as any other error of the
//! service is, with `RESOURCE_EXHAUSTED` and the `OVERLOADED` reason in its
//! `ErrorInfo`, so clients decide on the reason and the request metrics count
//! it under its code instead of as an unknown transport error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::load_shed::error::Overloaded;
use tower::{BoxError, Layer, Service};

use crate::status::{Reason, status};

/// Turns the load shedder's `Overloaded` error into a trailers-only
/// `RESOURCE_EXHAUSTED` response with the `OVERLOADED` reason.
#[derive(Debug, Clone, Copy)]
pub struct ShedAsStatusLayer {
    max_concurrent: usize,
}

impl ShedAsStatusLayer {
    /// For a server that serves at most `max_concurrent` requests at once
    /// (named in the message).
    pub fn new(max_concurrent: usize) -> Self {
        Self { max_concurrent }
    }
}

impl<S> Layer<S> for ShedAsStatusLayer {
    type Service = ShedAsStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShedAsStatus {
            inner,
            max_concurrent: self.max_concurrent,
        }
    }
}

/// The service produced by [`ShedAsStatusLayer`].
#[derive(Debug, Clone)]
pub struct ShedAsStatus<S> {
    inner: S,
    max_concurrent: usize,
}

impl<S, B, RB> Service<http::Request<B>> for ShedAsStatus<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>, Error = BoxError>,
    S::Future: Send + 'static,
    RB: Default,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let fut = self.inner.call(req);
        let max = self.max_concurrent;
        Box::pin(async move {
            match fut.await {
                Err(e) if e.is::<Overloaded>() => Ok(status(
                    Reason::Overloaded,
                    format!(
                        "server overloaded: {max} requests in flight already (--max-concurrent); retry later"
                    ),
                )
                .into_http()),
                other => other,
            }
        })
    }
}
