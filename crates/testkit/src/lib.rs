//! Test support: a private `redis-server` per test and small waiting helpers.
//!
//! Tests never touch a shared Redis: [`RedisServer::start`] runs `redis-server`
//! from `PATH` on a free loopback port in a temporary directory, waits until it
//! answers `PING`, and kills it on drop. It can be stopped and restarted on the
//! same port for fault tests. Services are started in-process by their own
//! crates (`ingestd::spawn`, …) on `127.0.0.1:0`; nothing here fakes them.
//!
//! # Layout
//! - [`RedisServer`]: the private server (plain, with an ACL user, or TLS).
//! - [`RedisCluster`]: a private six-node Redis Cluster.
//! - [`free_port`]: an unused loopback port.
//! - [`wait_until`]: polls a condition with a deadline (no bare sleeps in tests).
//! - [`process`]: runs a real service binary on free ports and checks the
//!   runtime contract (health, reflection, `/metrics`, SIGTERM drain).
#![warn(clippy::unwrap_used)]

pub mod cluster;
pub mod process;

pub use cluster::RedisCluster;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Extra configuration of a test server.
#[derive(Debug, Clone, Default)]
pub struct RedisConfig {
    /// Extra `redis-server` arguments (`--requirepass`, `--user`, TLS flags…).
    pub args: Vec<String>,
    /// Password needed to `PING` during start-up (for `--requirepass`).
    pub password: Option<String>,
    /// ACL user for the start-up `PING`.
    pub username: Option<String>,
}

impl RedisConfig {
    /// A server whose only usable account is the ACL user `username` with
    /// `password` and every permission; the `default` user is switched off, so
    /// an unauthenticated client gets `NOAUTH`.
    pub fn acl_user(username: &str, password: &str) -> Self {
        let args = [
            "--user",
            username,
            "on",
            &format!(">{password}"),
            "~*",
            "&*",
            "+@all",
            "--user",
            "default",
            "off",
        ];
        Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            password: Some(password.to_string()),
            username: Some(username.to_string()),
        }
    }
}

/// Why a TLS server could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsUnavailable {
    /// `redis-server` was built without TLS (`BUILD_TLS=no`).
    NoTlsInRedis(String),
    /// The `openssl` command is missing, so no certificates can be made.
    NoOpenssl(String),
}

impl std::fmt::Display for TlsUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsUnavailable::NoTlsInRedis(m) => {
                write!(f, "redis-server on PATH has no TLS support: {m}")
            }
            TlsUnavailable::NoOpenssl(m) => write!(f, "the openssl command is not usable: {m}"),
        }
    }
}

/// A private `redis-server` on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    config: RedisConfig,
    tls: bool,
}

/// Returns an unused TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// [`free_port`] for callers that report the failure instead of panicking.
pub fn try_free_port() -> std::io::Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

impl RedisServer {
    /// Starts a plain server.
    pub fn start() -> Self {
        Self::start_with(RedisConfig::default())
    }

    /// Starts a plain server, or says why it could not (no `redis-server` on
    /// `PATH`, it exited at start, it never answered `PING`): for programs
    /// that report the failure instead of panicking (`shadowctl bench`).
    pub fn try_start() -> Result<Self, String> {
        Self::try_start_with(RedisConfig::default())
    }

    /// Starts a server with extra configuration, or says why it could not.
    pub fn try_start_with(config: RedisConfig) -> Result<Self, String> {
        Self::start_inner(config, false).map_err(|e| match e {
            StartError::Tls(t) => t.to_string(),
            StartError::Other(m) => m,
        })
    }

    /// Starts a server with extra configuration.
    pub fn start_with(config: RedisConfig) -> Self {
        match Self::start_inner(config, false) {
            Ok(s) => s,
            Err(StartError::Tls(e)) => panic!("{e}"),
            Err(StartError::Other(e)) => panic!("{e}"),
        }
    }

    /// Starts a TLS-only server (`rediss://`, no plain port) with a fresh CA and
    /// server certificate made by the `openssl` command in the server's
    /// directory. Returns why not when this machine cannot do TLS (Redis built
    /// without TLS, no `openssl`); any other failure panics.
    pub fn try_start_tls() -> Result<Self, TlsUnavailable> {
        Self::try_start_tls_with(RedisConfig::default())
    }

    /// [`RedisServer::try_start_tls`] with extra configuration (e.g. an ACL user).
    pub fn try_start_tls_with(config: RedisConfig) -> Result<Self, TlsUnavailable> {
        Self::start_inner(config, true).map_err(|e| match e {
            StartError::Tls(t) => t,
            StartError::Other(m) => panic!("{m}"),
        })
    }

    fn start_inner(config: RedisConfig, tls: bool) -> Result<Self, StartError> {
        let mut last_err = String::new();
        // A port can be taken between probing and binding: retry a few times.
        for _ in 0..5 {
            let port = free_port();
            let mut s = Self {
                port,
                dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
                child: None,
                config: config.clone(),
                tls,
            };
            if tls {
                make_certificates(s.dir.path()).map_err(StartError::Tls)?;
            }
            match s.spawn() {
                Ok(()) => return Ok(s),
                Err(e) => {
                    if tls && e.contains("Bad directive") && e.contains("tls") {
                        return Err(StartError::Tls(TlsUnavailable::NoTlsInRedis(e)));
                    }
                    last_err = e;
                }
            }
        }
        Err(StartError::Other(format!(
            "redis-server did not start: {last_err}"
        )))
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        if self.tls {
            let d = self.dir.path();
            cmd.arg("--port")
                .arg("0")
                .arg("--tls-port")
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(d.join("server.crt"))
                .arg("--tls-key-file")
                .arg(d.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(d.join("ca.crt"))
                .arg("--tls-auth-clients")
                .arg("no");
        } else {
            cmd.arg("--port").arg(self.port.to_string());
        }
        let stderr = std::fs::File::create(self.dir.path().join("redis.stderr"))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        cmd.arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .args(&self.config.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run redis-server (is it on PATH?): {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f));
                return Err(format!(
                    "redis-server exited with {status}: {}{}",
                    read("redis.stderr").unwrap_or_default(),
                    read("redis.log").unwrap_or_default()
                ));
            }
            if self.ping_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err("redis-server did not answer PING within 10s".into())
    }

    fn ping_ok(&self) -> bool {
        let Ok(client) = self.client() else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut conn).is_ok()
    }

    fn client(&self) -> redis::RedisResult<redis::Client> {
        match self.ca_cert_pem() {
            Some(ca) => redis::Client::build_with_tls(
                self.admin_url(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca),
                },
            ),
            None => redis::Client::open(self.admin_url()),
        }
    }

    fn admin_url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        match (&self.config.username, &self.config.password) {
            (Some(u), Some(p)) => format!("{scheme}://{u}:{p}@127.0.0.1:{}", self.port),
            (None, Some(p)) => format!("{scheme}://:{p}@127.0.0.1:{}", self.port),
            _ => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// True for a TLS server ([`RedisServer::try_start_tls`]).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Path of the CA certificate (PEM) that signed a TLS server's certificate.
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.tls.then(|| self.dir.path().join("ca.crt"))
    }

    /// The CA certificate (PEM) of a TLS server.
    pub fn ca_cert_pem(&self) -> Option<Vec<u8>> {
        self.ca_cert_path().and_then(|p| std::fs::read(p).ok())
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>` (`rediss://` for TLS; with credentials when
    /// configured).
    pub fn url(&self) -> String {
        self.admin_url()
    }

    /// The server's working directory (certificates, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Stops the server (SIGKILL, as a crash would).
    pub fn stop(&mut self) {
        self.kill();
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart failed: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// A synchronous connection for assertions.
    pub fn connection(&self) -> redis::Connection {
        self.client()
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("connect to test redis: {e}"))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

enum StartError {
    Tls(TlsUnavailable),
    Other(String),
}

/// `openssl req` arguments for a new P-256 key without a passphrase.
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// Runs `openssl args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) -> Result<(), TlsUnavailable> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TlsUnavailable::NoOpenssl(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TlsUnavailable::NoOpenssl(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Makes `ca.crt`, `server.crt` and `server.key` (P-256, valid one day, for
/// `127.0.0.1` and `localhost`) in `dir` with the `openssl` command.
fn make_certificates(dir: &Path) -> Result<(), TlsUnavailable> {
    let run = |args: &[&str]| openssl(dir, args);
    let ec = EC_KEY;
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=shadowkpi test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    run(&ca)?;
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    run(&csr)?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| TlsUnavailable::NoOpenssl(e.to_string()))?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ])
}

/// Certificates for gRPC TLS tests, made with the `openssl` command in a
/// temporary folder: a CA with a server certificate (`127.0.0.1`,
/// `localhost`) and a client certificate it signed, and a second CA that
/// signed nothing of these.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes them (panics when `openssl` is not usable).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        make_certificates(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap_or_else(|e| panic!("{e}"));
        make_certificates(&other).unwrap_or_else(|e| panic!("{e}"));
        let run = |args: &[&str]| openssl(dir.path(), args).unwrap_or_else(|e| panic!("{e}"));
        let mut csr = vec!["req", "-subj", "/CN=shadowkpi test client"];
        csr.extend(EC_KEY);
        csr.extend(["-keyout", "client.key", "-out", "client.csr"]);
        run(&csr);
        std::fs::write(
            dir.path().join("client.ext"),
            "extendedKeyUsage=clientAuth\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        run(&[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "client.ext",
            "-out",
            "client.crt",
        ]);
        Self { dir }
    }

    /// A file of it: `ca.crt`, `server.crt`, `server.key`, `client.crt`,
    /// `client.key`, `other/ca.crt` (the second CA).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The content of [`TestPki::path`].
    pub fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// Path of a binary built by Cargo for this workspace (`target/<profile>/<name>`),
/// for tests that run the real executables.
pub fn cargo_bin(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    dir.pop(); // test binary name
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn wait_until<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET http://addr/path` over a plain TCP connection; returns the status code
/// and body. Enough for `/metrics` checks without an HTTP client dependency.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_starts_restarts_on_same_port_and_cleans_up() {
        let mut server = RedisServer::start();
        let port = server.port();
        let mut c = server.connection();
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let dir = server.dir().to_path_buf();
        assert!(dir.exists());

        server.stop();
        assert!(!server.is_running());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port still answers after stop"
        );

        server.restart();
        assert_eq!(server.port(), port);
        assert!(server.is_running());
        let mut c = server.connection();
        // Nothing is persisted: a restarted server is empty.
        let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        assert_eq!(v, None);

        drop(server);
        assert!(!dir.exists(), "temp dir removed on drop");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn acl_user_server_rejects_anonymous_and_wrong_password() {
        let server = RedisServer::start_with(RedisConfig::acl_user("exporter", "s3cret"));
        assert!(
            server
                .url()
                .starts_with("redis://exporter:s3cret@127.0.0.1:")
        );
        let mut c = server.connection();
        let who: String = redis::cmd("ACL").arg("WHOAMI").query(&mut c).unwrap();
        assert_eq!(who, "exporter");
        let anon = format!("redis://127.0.0.1:{}", server.port());
        let mut a = redis::Client::open(anon).unwrap().get_connection().unwrap();
        let err = redis::cmd("PING").query::<String>(&mut a).unwrap_err();
        assert_eq!(err.code(), Some("NOAUTH"), "{err}");
        let wrong = format!("redis://exporter:nope@127.0.0.1:{}", server.port());
        assert!(
            redis::Client::open(wrong)
                .unwrap()
                .get_connection()
                .is_err()
        );
    }

    #[test]
    fn tls_server_speaks_only_tls_with_its_own_ca() {
        let server = match RedisServer::try_start_tls() {
            Ok(s) => s,
            Err(why) => {
                eprintln!("\n!!!!! SKIPPING TLS TEST: {why} !!!!!\n");
                return;
            }
        };
        assert!(server.is_tls());
        assert!(server.url().starts_with("rediss://127.0.0.1:"));
        let pem = String::from_utf8(server.ca_cert_pem().unwrap()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let mut c = server.connection();
        let pong: String = redis::cmd("PING").query(&mut c).unwrap();
        assert_eq!(pong, "PONG");
        // The same port refuses plain RESP: the handshake fails.
        let plain = format!("redis://127.0.0.1:{}", server.port());
        let res = redis::Client::open(plain)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(2))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        assert!(res.is_err(), "plain connection to a TLS port must fail");
    }
}
