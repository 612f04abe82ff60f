//! Connecting to peer services with trace-context propagation.

use std::time::Duration;

use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::config::normalize_endpoint;

/// A channel that injects the current trace context into every request.
pub type TracedChannel = InterceptedService<Channel, TracePropagation>;

/// Client interceptor writing the current span's `traceparent` into metadata, so
/// the server continues the caller's trace, and the process's bearer token.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracePropagation {
    /// False for a peer outside the suite (an external strategy), which must
    /// never see the suite's token.
    send_token: bool,
}

impl Interceptor for TracePropagation {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        crate::telemetry::inject_current(req.metadata_mut());
        // The process's bearer token (crate::auth::use_client_token).
        if let Some(token) = crate::auth::client_token().filter(|_| self.send_token) {
            req.metadata_mut().insert("authorization", token.header());
        }
        Ok(req)
    }
}

/// Errors while connecting to a peer.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {service} at {addr}: {reason}")]
pub struct ConnectError {
    /// Peer service name.
    pub service: String,
    /// Address tried.
    pub addr: String,
    /// Why it failed.
    pub reason: String,
}

/// An `https://` endpoint with the process's client TLS
/// ([`crate::tls::use_client_tls`]); `http://` as it is.
fn with_tls(endpoint: Endpoint, uri: &str) -> Result<Endpoint, String> {
    if !uri.starts_with("https://") {
        return Ok(endpoint);
    }
    let Some(tls) = crate::tls::client_tls() else {
        return Err(
            "an https:// peer needs the CA that signed its certificate: set SHADOWKPI_TLS_CA"
                .into(),
        );
    };
    endpoint
        .tls_config(tls.config())
        .map_err(|e| format!("TLS: {e}"))
}

/// Builds a lazily connecting traced channel to `addr` (`host:port` or URL).
pub fn channel(service: &str, addr: &str) -> Result<TracedChannel, ConnectError> {
    let uri = normalize_endpoint(addr);
    let endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| ConnectError {
            service: service.to_string(),
            addr: uri.clone(),
            reason: e.to_string(),
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    let endpoint = with_tls(endpoint, &uri).map_err(|reason| ConnectError {
        service: service.to_string(),
        addr: uri.clone(),
        reason,
    })?;
    Ok(InterceptedService::new(
        endpoint.connect_lazy(),
        TracePropagation { send_token: true },
    ))
}

/// Like [`channel`] but connects now, so an unreachable peer is reported at once.
pub async fn connect(service: &str, addr: &str) -> Result<TracedChannel, ConnectError> {
    connect_as(service, addr, true).await
}

/// [`connect`] to a peer outside the suite (a team's strategy process): the
/// trace context goes along, the suite's bearer token does not.
pub async fn connect_external(service: &str, addr: &str) -> Result<TracedChannel, ConnectError> {
    connect_as(service, addr, false).await
}

async fn connect_as(
    service: &str,
    addr: &str,
    send_token: bool,
) -> Result<TracedChannel, ConnectError> {
    let uri = normalize_endpoint(addr);
    let err = |reason: String| ConnectError {
        service: service.to_string(),
        addr: uri.clone(),
        reason,
    };
    let endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| err(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    let endpoint = with_tls(endpoint, &uri).map_err(err)?;
    let ch = endpoint.connect().await.map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg = format!("{msg}: {s}");
            src = s.source();
        }
        err(msg)
    })?;
    Ok(InterceptedService::new(ch, TracePropagation { send_token }))
}
