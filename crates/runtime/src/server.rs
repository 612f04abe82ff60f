//! [`ServiceHost`]: serves a set of gRPC services with health, reflection,
//! tower layers, metrics and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use crate::shed::ShedAsStatusLayer;
use tower::{Service, ServiceBuilder};

use crate::config::ServiceArgs;
use crate::deadline::DeadlineLayer;
use crate::observe::ObserveLayer;
use crate::shutdown::Shutdown;

/// Errors of the server itself (not of an RPC).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listener could not be used.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
    /// The transport failed.
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Limits applied to every request of a host.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline to the response of a request.
    pub request_timeout: Duration,
    /// Requests in flight over all connections before load shedding.
    pub max_concurrent: usize,
    /// How long open streams may drain after shutdown was triggered.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_concurrent: 256,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl From<&ServiceArgs> for Limits {
    fn from(a: &ServiceArgs) -> Self {
        Self {
            request_timeout: a.request_timeout,
            max_concurrent: a.max_concurrent,
            drain_timeout: a.drain_timeout,
        }
    }
}

/// A set of gRPC services served together, with `grpc.health.v1` and server
/// reflection (v1 and v1alpha) added automatically. Reflection describes the
/// health service and every descriptor set the service registered with
/// [`ServiceHost::reflect`].
pub struct ServiceHost {
    name: String,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    long_lived: Vec<String>,
    limits: Limits,
    drains: Vec<Pin<Box<dyn Future<Output = ()> + Send>>>,
    dependencies: Vec<(&'static str, Probe)>,
    token: Option<crate::auth::Token>,
    tls: Option<tonic::transport::ServerTlsConfig>,
    reporter: tonic_health::server::HealthReporter,
}

use tonic_health::pb::health_check_response::ServingStatus as WireStatus;

/// The health a service reports over gRPC, read over HTTP by
/// [`crate::metrics`]'s `/livez` and `/readyz` (for probes that cannot speak
/// gRPC over TLS, Kubernetes' native gRPC probes among them).
#[derive(Clone)]
pub struct HealthView {
    reporter: tonic_health::server::HealthReporter,
    names: Vec<&'static str>,
}

impl std::fmt::Debug for HealthView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthView")
            .field("names", &self.names)
            .finish()
    }
}

impl HealthView {
    async fn status(&self, name: &str) -> WireStatus {
        use tonic_health::pb::health_server::Health;
        let service =
            tonic_health::server::HealthService::from_health_reporter(self.reporter.clone());
        let req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: name.to_string(),
        });
        match service.check(req).await {
            Ok(r) => WireStatus::try_from(r.into_inner().status).unwrap_or(WireStatus::Unknown),
            Err(_) => WireStatus::ServiceUnknown,
        }
    }

    /// Liveness: the overall status ([`LIVENESS`]) is `SERVING`.
    pub async fn live(&self) -> bool {
        self.status(LIVENESS).await == WireStatus::Serving
    }

    /// Readiness: every service name is `SERVING`; else the first that is
    /// not, with its status.
    pub async fn ready(&self) -> Result<(), String> {
        for name in &self.names {
            let s = self.status(name).await;
            if s != WireStatus::Serving {
                return Err(format!("{name} {}", s.as_str_name()));
            }
        }
        if self.live().await {
            Ok(())
        } else {
            Err("the server is not serving".into())
        }
    }
}

/// A check of a dependency the service cannot work without (its store):
/// `Ok` while it answers, else why not.
pub type Probe =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How often [`ServiceHost::requires`] probes run while they pass; after
/// `n` failures in a row the next waits `2^n` times as long, at most
/// [`READINESS_MAX_INTERVAL`] (a store refusing the credentials is not asked
/// to log a failed login every two seconds).
pub const READINESS_INTERVAL: Duration = Duration::from_secs(2);

/// The longest wait between probes.
pub const READINESS_MAX_INTERVAL: Duration = Duration::from_secs(10);

/// The wait before the next probe after `failures` failures in a row.
fn probe_interval(failures: u32) -> Duration {
    READINESS_INTERVAL
        .saturating_mul(1u32 << failures.min(8))
        .min(READINESS_MAX_INTERVAL)
}

/// How long one probe may take before it counts as failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The health name that stays `SERVING` while the process serves, whatever
/// its dependencies do (`""`, the overall status; Kubernetes' liveness).
pub const LIVENESS: &str = "";

impl std::fmt::Debug for ServiceHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHost")
            .field("name", &self.name)
            .field("services", &self.service_names)
            .field("limits", &self.limits)
            .field("drains", &self.drains.len())
            .finish()
    }
}

/// A running host: its address and a way to stop it and wait.
#[derive(Debug)]
pub struct ServingHandle {
    /// The bound gRPC address.
    pub addr: SocketAddr,
    /// True when it serves TLS.
    pub tls: bool,
    /// Triggering it starts a graceful shutdown.
    pub shutdown: Shutdown,
    join: JoinHandle<Result<(), ServeError>>,
}

impl ServingHandle {
    /// `http://addr` (`https://addr` with TLS), for clients.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Triggers shutdown and waits until the host has stopped.
    pub async fn stop(self) -> Result<(), ServeError> {
        self.shutdown.trigger();
        self.join().await
    }

    /// Waits until the host has stopped.
    pub async fn join(self) -> Result<(), ServeError> {
        match self.join.await {
            Ok(r) => r,
            Err(e) if e.is_cancelled() => Ok(()),
            Err(e) => Err(ServeError::Listener(std::io::Error::other(e.to_string()))),
        }
    }
}

impl ServiceHost {
    /// A host named `name` (used in logs) with default limits.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            descriptor_sets: Vec::new(),
            long_lived: Vec::new(),
            limits: Limits::default(),
            drains: Vec::new(),
            dependencies: Vec::new(),
            token: None,
            tls: None,
            reporter: tonic_health::server::HealthReporter::new(),
        }
    }

    /// The health this host will report, for `/livez` and `/readyz`; take it
    /// once every service is added.
    pub fn health_view(&self) -> HealthView {
        HealthView {
            reporter: self.reporter.clone(),
            names: self.service_names.clone(),
        }
    }

    /// Serves TLS only with `tls` (mutual TLS when it has a client CA);
    /// `None` serves plaintext.
    pub fn with_tls(mut self, tls: Option<tonic::transport::ServerTlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// Requires `token` of every request but health and reflection
    /// ([`crate::auth`]); `None` requires none.
    pub fn with_auth(mut self, token: Option<crate::auth::Token>) -> Self {
        self.token = token;
        self
    }

    /// Makes readiness follow `dependency`: every [`READINESS_INTERVAL`] (less
    /// often while it fails, see [`READINESS_INTERVAL`]) the host runs `probe`
    /// (at most [`PROBE_TIMEOUT`]); while it fails, health
    /// reports each service name `NOT_SERVING` (Kubernetes stops routing to
    /// the pod) and [`LIVENESS`] stays `SERVING` (no restart). The gauge
    /// `service_dependency_up{dependency}` follows it too.
    pub fn requires(
        mut self,
        dependency: &'static str,
        probe: impl Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.dependencies.push((dependency, Arc::new(probe)));
        self
    }

    /// Sets the request limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Exempts a client-streaming method (`/package.Service/Method`) from the
    /// request deadline: its response only comes once the client has sent
    /// everything, which may take longer than any server-side limit.
    pub fn long_lived(mut self, path: &str) -> Self {
        self.long_lived.push(path.to_string());
        self
    }

    /// Registers an encoded file descriptor set (the `FILE_DESCRIPTOR_SET` a
    /// `tonic-prost-build` crate emits) with server reflection, so clients can
    /// list and describe the services it defines.
    pub fn reflect(mut self, file_descriptor_set: &'static [u8]) -> Self {
        self.descriptor_sets.push(file_descriptor_set);
        self
    }

    /// Adds work to wait for once the gRPC server has stopped serving (a
    /// service's background tasks finishing their last writes): [`serve`]
    /// returns only after it completed, or after the drain timeout passed
    /// once more.
    ///
    /// [`serve`]: ServiceHost::serve
    pub fn on_stopped(mut self, drain: impl Future<Output = ()> + Send + 'static) -> Self {
        self.drains.push(Box::pin(drain));
        self
    }

    /// Adds a gRPC service; health reports it `SERVING` while the host runs.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    /// Binds `addr` and serves in a background task.
    pub async fn spawn(
        self,
        addr: SocketAddr,
        shutdown: Shutdown,
    ) -> Result<ServingHandle, ServeError> {
        let listener = TcpListener::bind(addr).await?;
        self.spawn_on(listener, shutdown)
    }

    /// Serves on an already bound listener in a background task (bind first, then
    /// serve: no port races in tests).
    pub fn spawn_on(
        self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> Result<ServingHandle, ServeError> {
        let addr = listener.local_addr()?;
        let tls = self.tls.is_some();
        let s = shutdown.clone();
        let join = tokio::spawn(async move { self.serve(listener, s).await });
        Ok(ServingHandle {
            addr,
            tls,
            shutdown,
            join,
        })
    }

    /// A reflection builder knowing the health service and every registered
    /// descriptor set.
    fn reflection_builder(&self) -> tonic_reflection::server::Builder<'static> {
        self.descriptor_sets.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |b, set| b.register_encoded_file_descriptor_set(set),
        )
    }

    /// Serves until `shutdown` triggers, then drains open streams for at most the
    /// drain timeout, then waits for the work added with
    /// [`ServiceHost::on_stopped`] for at most the drain timeout again.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> Result<(), ServeError> {
        let addr = listener.local_addr()?;
        let reporter = self.reporter.clone();
        let health = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
        );
        reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        for name in &self.service_names {
            reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        // Readiness: the first probe before serving, then a task that follows.
        if !self.dependencies.is_empty() {
            let deps = std::mem::take(&mut self.dependencies);
            let mut ready = probe_all(&deps).await;
            set_readiness(&reporter, &self.service_names, ready.is_ok()).await;
            log_readiness(&self.name, &ready);
            let (reporter, names, name) = (
                reporter.clone(),
                self.service_names.clone(),
                self.name.clone(),
            );
            let token = shutdown.token();
            tokio::spawn(async move {
                let mut failures = u32::from(ready.is_err());
                loop {
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(probe_interval(failures)) => {}
                    }
                    let now = probe_all(&deps).await;
                    failures = if now.is_ok() {
                        0
                    } else {
                        failures.saturating_add(1)
                    };
                    if token.is_cancelled() {
                        break;
                    }
                    if now.is_ok() != ready.is_ok() {
                        set_readiness(&reporter, &names, now.is_ok()).await;
                        log_readiness(&name, &now);
                    }
                    ready = now;
                }
            });
        }

        let reflection_v1 = self
            .reflection_builder()
            .build_v1()
            .map_err(|e| ServeError::Listener(std::io::Error::other(e.to_string())))?;
        let reflection_v1alpha = self
            .reflection_builder()
            .build_v1alpha()
            .map_err(|e| ServeError::Listener(std::io::Error::other(e.to_string())))?;

        let mut routes = self.routes;
        routes
            .add_service(health)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        if self.token.is_some() {
            tracing::info!(service = %self.name, "bearer token required (health and reflection open)");
        }
        let layers = ServiceBuilder::new()
            .layer(ObserveLayer)
            .layer(crate::auth::RequireTokenLayer::new(self.token.clone()))
            .layer(ShedAsStatusLayer::new(self.limits.max_concurrent.max(1)))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(
                self.limits.max_concurrent.max(1),
            ))
            .layer(DeadlineLayer::new(
                self.limits.request_timeout,
                self.long_lived.clone(),
            ))
            .into_inner();

        tracing::info!(service = %self.name, %addr, services = ?self.service_names, "grpc server listening");
        let token = shutdown.token();
        let health_reporter = reporter.clone();
        let names = self.service_names.clone();
        let mut builder = Server::builder();
        if let Some(tls) = self.tls.take() {
            tracing::info!(service = %self.name, "serving TLS");
            builder = builder
                .tls_config(tls)
                .map_err(|e| ServeError::Listener(std::io::Error::other(format!("TLS: {e}"))))?;
        }
        let server = builder
            .tcp_nodelay(true)
            .layer(layers)
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(
                // `tcp_nodelay` above is ignored for an incoming stream: set it here,
                // or small responses wait for delayed ACKs (tens of ms).
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move {
                    token.cancelled().await;
                    // Tell load balancers first, then stop accepting.
                    health_reporter
                        .set_service_status("", ServingStatus::NotServing)
                        .await;
                    for name in names {
                        health_reporter
                            .set_service_status(name, ServingStatus::NotServing)
                            .await;
                    }
                },
            );
        let mut server = tokio::spawn(server);
        let drain = self.limits.drain_timeout;
        let token = shutdown.token();
        let served = tokio::select! {
            res = &mut server => flatten(res),
            () = async { token.cancelled().await; tokio::time::sleep(drain).await } => {
                tracing::warn!(service = %self.name, drain_ms = drain.as_millis() as u64, "drain deadline passed, closing remaining streams");
                server.abort();
                Ok(())
            }
        }
        .inspect(|()| tracing::info!(service = %self.name, "grpc server stopped"));
        if !self.drains.is_empty() {
            let drains = futures::future::join_all(self.drains);
            match tokio::time::timeout(drain, drains).await {
                Ok(_) => tracing::info!(service = %self.name, "background tasks stopped"),
                Err(_) => tracing::warn!(
                    service = %self.name,
                    drain_ms = drain.as_millis() as u64,
                    "drain deadline passed, background tasks left unfinished"
                ),
            }
        }
        served
    }
}

/// Runs every probe; the first failure as `(dependency, why)`. Each
/// dependency's gauge follows its probe.
async fn probe_all(deps: &[(&'static str, Probe)]) -> Result<(), (&'static str, String)> {
    let mut first = Ok(());
    for (dep, probe) in deps {
        let res = match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
        };
        crate::metrics::dependency_up(dep, res.is_ok());
        if let (Err(why), Ok(())) = (res, &first) {
            first = Err((*dep, why));
        }
    }
    first
}

/// Each service name `SERVING` or `NOT_SERVING`; [`LIVENESS`] untouched.
async fn set_readiness(
    reporter: &tonic_health::server::HealthReporter,
    names: &[&'static str],
    ready: bool,
) {
    let status = if ready {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for name in names {
        reporter.set_service_status(*name, status).await;
    }
}

fn log_readiness(service: &str, state: &Result<(), (&'static str, String)>) {
    match state {
        Ok(()) => tracing::info!(service, "ready: every dependency answers"),
        Err((dep, why)) => {
            tracing::warn!(service, dependency = *dep, error = %why, "not ready: a dependency does not answer")
        }
    }
}

fn flatten(
    res: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>,
) -> Result<(), ServeError> {
    match res {
        Ok(r) => r.map_err(ServeError::from),
        Err(e) => Err(ServeError::Listener(std::io::Error::other(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_back_off_while_failing_and_not_beyond_the_cap() {
        let secs: Vec<u64> = (0..6).map(|n| probe_interval(n).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 10, 10, 10]);
        assert_eq!(probe_interval(u32::MAX), READINESS_MAX_INTERVAL);
    }
}
