//! A private `redis-server` for the benchmark: a free loopback port, no
//! persistence, a scratch directory; killed and cleaned up on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{CliError, CliResult};

/// A `redis-server` child process.
#[derive(Debug)]
pub struct PrivateRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl PrivateRedis {
    /// Starts `redis-server` on a free port and waits until it accepts
    /// connections.
    pub fn start() -> CliResult<Self> {
        let port = free_port()?;
        let dir =
            std::env::temp_dir().join(format!("shadowkpi-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Service(format!("cannot create {}: {e}", dir.display())))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| CliError::StoreUnreachable {
                message: format!("cannot start redis-server: {e}"),
                hint: Some(
                    "install redis-server (it must be on PATH), or pass --redis-url to benchmark an existing Redis".into(),
                ),
            })?;
        let mut server = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(CliError::StoreUnreachable {
                    message: format!("redis-server exited at start ({status})"),
                    hint: Some("pass --redis-url to benchmark an existing Redis".into()),
                });
            }
            if Instant::now() > deadline {
                return Err(CliError::StoreUnreachable {
                    message: format!("redis-server did not listen on port {port} within 10 s"),
                    hint: None,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> CliResult<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| CliError::Service(format!("cannot find a free loopback port: {e}")))
}
