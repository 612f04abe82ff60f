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
//! - [`free_port`]: an unused loopback port.
//! - [`wait_until`]: polls a condition with a deadline (no bare sleeps in tests).
//! - [`process`]: runs a real service binary on free ports and checks the
//!   runtime contract (health, reflection, `/metrics`, SIGTERM drain).

pub mod process;

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

/// A private `redis-server` on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    config: RedisConfig,
}

/// Returns an unused TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl RedisServer {
    /// Starts a plain server.
    pub fn start() -> Self {
        Self::start_with(RedisConfig::default())
    }

    /// Starts a server with extra configuration.
    pub fn start_with(config: RedisConfig) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut last_err = String::new();
        // A port can be taken between probing and binding: retry a few times.
        for _ in 0..5 {
            let port = free_port();
            let mut s = Self {
                port,
                dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
                child: None,
                config: config.clone(),
            };
            match s.spawn() {
                Ok(()) => return s,
                Err(e) => last_err = e,
            }
        }
        drop(dir);
        panic!("redis-server did not start: {last_err}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
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
            .stderr(Stdio::null());
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
                return Err(format!(
                    "redis-server exited with {status}: {}",
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
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
        let Ok(client) = redis::Client::open(self.admin_url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut conn).is_ok()
    }

    fn admin_url(&self) -> String {
        match (&self.config.username, &self.config.password) {
            (Some(u), Some(p)) => format!("redis://{u}:{p}@127.0.0.1:{}", self.port),
            (None, Some(p)) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            _ => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>` (with credentials when configured).
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
        redis::Client::open(self.url())
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
}
