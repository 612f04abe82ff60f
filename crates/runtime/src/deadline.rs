//! The request deadline: a unary request (or the set-up of a server stream)
//! must answer within the limit; client-streaming calls, whose response comes
//! only once the client has sent everything, are exempt and bounded by the
//! client's own `grpc-timeout` instead.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{BoxError, Layer, Service};

/// Applies [`Deadline`] to every request but the exempt paths.
#[derive(Debug, Clone)]
pub struct DeadlineLayer {
    limit: Duration,
    exempt: Arc<HashSet<String>>,
}

impl DeadlineLayer {
    /// A deadline of `limit` for every path but `exempt`
    /// (`/package.Service/Method`).
    pub fn new(limit: Duration, exempt: impl IntoIterator<Item = String>) -> Self {
        Self {
            limit,
            exempt: Arc::new(exempt.into_iter().collect()),
        }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limit: self.limit,
            exempt: self.exempt.clone(),
        }
    }
}

/// The service produced by [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
    exempt: Arc<HashSet<String>>,
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let exempt = self.exempt.contains(req.uri().path());
        let fut = self.inner.call(req);
        if exempt {
            return Box::pin(async move { fut.await.map_err(Into::into) });
        }
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, fut).await {
                Ok(r) => r.map_err(Into::into),
                // A Status in the error chain is what tonic answers with.
                Err(_) => Err(Box::new(crate::status::status(
                    crate::status::Reason::DeadlineExceeded,
                    format!("request did not complete within {} ms", limit.as_millis()),
                )) as BoxError),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn slow() -> impl Service<
        http::Request<()>,
        Response = &'static str,
        Error = std::convert::Infallible,
        Future = impl Future<Output = Result<&'static str, std::convert::Infallible>> + Send,
    > + Clone {
        tower::service_fn(|_req: http::Request<()>| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, std::convert::Infallible>("done")
        })
    }

    fn req(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_deadline_is_deadline_exceeded() {
        let svc = DeadlineLayer::new(Duration::from_secs(30), []).layer(slow());
        let err = svc.oneshot(req("/pkg.Svc/Unary")).await.unwrap_err();
        let status = err.downcast_ref::<tonic::Status>().expect("a status");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(
            crate::status::Reason::of_status(status),
            Some(crate::status::Reason::DeadlineExceeded)
        );
        assert!(
            status.message().contains("30000 ms"),
            "{}",
            status.message()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_exempt_client_stream_may_take_longer() {
        let svc = DeadlineLayer::new(Duration::from_secs(30), ["/pkg.Svc/Upload".to_string()])
            .layer(slow());
        // Paused time auto-advances: the hour-long call completes, uncut.
        assert_eq!(svc.oneshot(req("/pkg.Svc/Upload")).await.unwrap(), "done");
    }
}
