//! Real service binaries as child processes, and the checks every service must
//! pass (health `SERVING`, reflection, `/metrics`, graceful SIGTERM).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::free_port;

/// A service binary running on free loopback ports, killed on drop.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Option<Child>,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// `/metrics` address.
    pub metrics: SocketAddr,
}

impl ServiceProcess {
    /// Starts `bin` with `--listen`/`--metrics-listen` on free ports plus `args`,
    /// and waits until the gRPC port accepts connections.
    pub fn start(bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_on(bin, ([127, 0, 0, 1], free_port()).into(), args, envs)
    }

    /// [`start`](Self::start) with the gRPC port `grpc` (a service started
    /// again where its clients look for it).
    pub fn start_on(bin: &Path, grpc: SocketAddr, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let metrics: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let child = Command::new(bin)
            .arg("--listen")
            .arg(grpc.to_string())
            .arg("--metrics-listen")
            .arg(metrics.to_string())
            .arg("--drain-timeout")
            .arg("1s")
            .args(args)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let mut p = Self {
            child: Some(child),
            grpc,
            metrics,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(grpc).is_err() {
            if let Some(status) = p.try_exit() {
                panic!("{} exited early with {status}", bin.display());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// `http://grpc-addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Kills the process with SIGKILL (no drain, no goodbye) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits for the process to exit, at most `timeout` (a hang guard).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Checks the runtime contract of a service binary: health reports `SERVING`
/// for the server and for `grpc_service`, reflection lists `grpc_service` and
/// health, `/metrics` answers in Prometheus text format with the gRPC request
/// metrics, `/livez` and `/readyz` answer 200, and SIGTERM with a server stream still open exits 0 within the
/// drain deadline.
pub async fn check_service_binary(bin: &Path, grpc_service: &str, args: &[&str]) {
    let mut p = ServiceProcess::start(bin, args, &[]);
    let channel = tonic::transport::Endpoint::from_shared(p.url())
        .unwrap_or_else(|e| panic!("endpoint: {e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", p.url()));

    let mut health = HealthClient::new(channel.clone());
    for name in ["", grpc_service] {
        let status = health
            .check(HealthCheckRequest {
                service: name.to_string(),
            })
            .await
            .unwrap_or_else(|e| panic!("health check `{name}`: {e}"))
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "health of `{name}`");
    }

    let names = reflection_services(channel.clone()).await;
    assert!(names.iter().any(|n| n == grpc_service), "{names:?}");
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );

    let (code, body) =
        crate::http_get(p.metrics, "/metrics").unwrap_or_else(|e| panic!("metrics: {e}"));
    assert_eq!(code, 200);
    let handled = body
        .lines()
        .find(|l| {
            l.starts_with("grpc_server_handled_total{")
                && l.contains("grpc_service=\"grpc.health.v1.Health\"")
                && l.contains("grpc_method=\"Check\"")
        })
        .unwrap_or_else(|| panic!("no health Check counter in /metrics:\n{body}"));
    let count: f64 = handled
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bad sample line {handled}"));
    assert_eq!(count, 2.0, "two health checks were made: {handled}");
    assert!(body.contains("# TYPE grpc_server_handling_seconds histogram"));

    // The same health over HTTP, for probes that cannot speak gRPC over TLS.
    for (path, want) in [("/livez", "live\n"), ("/readyz", "ready\n")] {
        let (code, body) =
            crate::http_get(p.metrics, path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!((code, body.as_str()), (200, want), "{path}");
    }

    // A server stream that never ends on its own: the drain deadline must close it.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: grpc_service.to_string(),
        })
        .await
        .unwrap_or_else(|e| panic!("watch: {e}"))
        .into_inner();
    let first = watch.message().await.ok().flatten().map(|m| m.status);
    assert_eq!(first, Some(ServingStatus::Serving as i32));

    p.terminate();
    // Health flips to NOT_SERVING before the server stops accepting.
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message()).await;
    if let Ok(Ok(Some(m))) = next {
        assert_eq!(m.status, ServingStatus::NotServing as i32);
    }
    let status = p
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{} did not exit after SIGTERM", bin.display()));
    assert!(status.success(), "exit status {status}");
}

/// A server process that prints `listening on ADDR` as its first line of
/// stdout (the strategy examples and the fault strategy), killed on drop.
#[derive(Debug)]
pub struct ListeningProcess {
    child: Child,
    /// The address it said it listens on.
    pub addr: SocketAddr,
}

impl ListeningProcess {
    /// Runs `cmd` (told to listen on `127.0.0.1:0`) and waits up to two
    /// minutes (a Python example may build its stubs first) for its line.
    pub fn start(mut cmd: std::process::Command) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("{cmd:?} did not say where it listens"));
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{cmd:?} said `{line}`"));
        Self { child, addr }
    }
}

impl Drop for ListeningProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The services a server lists through reflection (v1).
pub async fn reflection_services(channel: tonic::transport::Channel) -> Vec<String> {
    let mut reflection = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap_or_else(|e| panic!("reflection: {e}"))
        .into_inner();
    let msg = stream
        .message()
        .await
        .unwrap_or_else(|e| panic!("reflection stream: {e}"))
        .unwrap_or_else(|| panic!("reflection sent nothing"));
    match msg.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}
