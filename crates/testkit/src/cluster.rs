//! A real local Redis Cluster for tests: six `redis-server` processes (three
//! primaries, three replicas), AOF on, `cluster-require-full-coverage no`,
//! formed with `redis-cli --cluster create` exactly as an operator would.
//!
//! Each node is a [`RedisServer`] in its own folder with its own cluster bus
//! port, so nodes can be killed (`SIGKILL`) and restarted with their
//! `nodes.conf` and AOF, and slots can be moved with `redis-cli --cluster
//! reshard`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{RedisConfig, RedisServer, free_port};

/// Milliseconds a node may be unreachable before it is failed over: short,
/// so a failover test takes seconds.
pub const NODE_TIMEOUT_MS: u64 = 2000;

/// A running six-node Redis Cluster; every node is killed on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    /// Node id.
    pub id: String,
    /// Client port.
    pub port: u16,
    /// True for a primary (`master` flag).
    pub primary: bool,
    /// True while flagged `fail` or `fail?`.
    pub failing: bool,
    /// Slots it serves (primaries only).
    pub slots: usize,
}

impl RedisCluster {
    /// Starts and forms the cluster; panics with the reason when it cannot.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("redis cluster: {e}"))
    }

    /// Starts and forms the cluster, or says why it could not.
    pub fn try_start() -> Result<Self, String> {
        let mut nodes = Vec::with_capacity(6);
        for _ in 0..6 {
            let config = RedisConfig {
                args: [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &NODE_TIMEOUT_MS.to_string(),
                    "--cluster-require-full-coverage",
                    "no",
                    "--cluster-port",
                    &free_port().to_string(),
                    "--appendonly",
                    "yes",
                ]
                .iter()
                .map(|a| a.to_string())
                .collect(),
                ..RedisConfig::default()
            };
            nodes.push(RedisServer::try_start_with(config)?);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli (is it on PATH?): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cluster = Self { nodes };
        cluster.wait_healthy(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// Every node's URL, comma-separated: a cluster `REDIS_URL`.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The first node's URL: a seed for `--redis-cluster`.
    pub fn seed_url(&self) -> String {
        self.nodes[0].url()
    }

    /// The six nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The node listening on `port`.
    pub fn node_mut(&mut self, port: u16) -> &mut RedisServer {
        self.nodes
            .iter_mut()
            .find(|n| n.port() == port)
            .unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    /// A connection to the node on `port`.
    pub fn connection(&self, port: u16) -> redis::Connection {
        self.nodes
            .iter()
            .find(|n| n.port() == port)
            .unwrap_or_else(|| panic!("no cluster node on port {port}"))
            .connection()
    }

    /// `CLUSTER NODES` as the first running node that answers sees it.
    pub fn topology(&self) -> Vec<NodeLine> {
        for n in &self.nodes {
            let Ok(client) = redis::Client::open(n.url()) else {
                continue;
            };
            let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
                continue;
            };
            if let Ok(text) = redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c) {
                return parse_nodes(&text);
            }
        }
        Vec::new()
    }

    /// Client ports of the primaries serving slots, sorted.
    pub fn primary_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .topology()
            .into_iter()
            .filter(|n| n.primary && !n.failing && n.slots > 0)
            .map(|n| n.port)
            .collect();
        ports.sort();
        ports
    }

    /// The port of the primary serving `key`'s slot.
    pub fn primary_for_key(&self, key: &str) -> u16 {
        let port = self.primary_ports()[0];
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.connection(port))
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT: {e}"));
        if let Some(p) = self
            .primary_ports()
            .into_iter()
            .find(|p| self.owns_slot(*p, slot))
        {
            return p;
        }
        panic!("no primary serves slot {slot} of {key}")
    }

    fn owns_slot(&self, port: u16, slot: u16) -> bool {
        let reply: redis::Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.connection(port))
            .unwrap_or(redis::Value::Nil);
        let redis::Value::Array(ranges) = reply else {
            return false;
        };
        ranges.iter().any(|r| match r {
            redis::Value::Array(parts) => match (parts.first(), parts.get(1), parts.get(2)) {
                (
                    Some(redis::Value::Int(a)),
                    Some(redis::Value::Int(b)),
                    Some(redis::Value::Array(node)),
                ) => {
                    (*a..=*b).contains(&i64::from(slot))
                        && matches!(node.get(1), Some(redis::Value::Int(p)) if *p == i64::from(port))
                }
                _ => false,
            },
            _ => false,
        })
    }

    /// `DBSIZE` of every primary, by port.
    pub fn keys_per_primary(&self) -> BTreeMap<u16, u64> {
        self.primary_ports()
            .into_iter()
            .map(|p| {
                let n: u64 = redis::cmd("DBSIZE")
                    .query(&mut self.connection(p))
                    .unwrap_or_else(|e| panic!("DBSIZE on {p}: {e}"));
                (p, n)
            })
            .collect()
    }

    /// Waits until three primaries serve all 16384 slots with a replica each
    /// and every running node says `cluster_state:ok`.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.health() {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("the cluster did not become healthy: {last}"))
    }

    fn health(&self) -> Result<(), String> {
        let topology = self.topology();
        let primaries: Vec<&NodeLine> = topology
            .iter()
            .filter(|n| n.primary && !n.failing && n.slots > 0)
            .collect();
        let slots: usize = primaries.iter().map(|n| n.slots).sum();
        if primaries.len() != 3 || slots != 16384 {
            return Err(format!("{} primaries serve {slots} slots", primaries.len()));
        }
        let replicas = topology.iter().filter(|n| !n.primary && !n.failing).count();
        if replicas != 3 {
            return Err(format!("{replicas} healthy replicas"));
        }
        for n in &self.nodes {
            let mut c = n.connection();
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut c)
                .map_err(|e| format!("CLUSTER INFO on {}: {e}", n.port()))?;
            if !info.lines().any(|l| l.trim() == "cluster_state:ok") {
                return Err(format!("node {} is not cluster_state:ok", n.port()));
            }
        }
        Ok(())
    }

    /// Moves `slots` slots from the primary on `from` to the one on `to` with
    /// `redis-cli --cluster reshard` (keys migrate with `MIGRATE`, clients
    /// see `ASK` and `MOVED` meanwhile).
    pub fn reshard(&self, from: u16, to: u16, slots: usize) -> Result<(), String> {
        let id = |port: u16| {
            self.topology()
                .into_iter()
                .find(|n| n.port == port)
                .map(|n| n.id)
                .ok_or_else(|| format!("no node on port {port}"))
        };
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("reshard")
            .arg(format!("127.0.0.1:{from}"))
            .args(["--cluster-from", &id(from)?])
            .args(["--cluster-to", &id(to)?])
            .args(["--cluster-slots", &slots.to_string()])
            .args(["--cluster-yes", "--cluster-pipeline", "100"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "redis-cli --cluster reshard failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// Parses `CLUSTER NODES`: `id host:port@bus flags master ping pong epoch
/// link slot…`.
pub fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let addr = f[1].split('@').next()?;
            let port = addr.rsplit(':').next()?.parse().ok()?;
            let flags: Vec<&str> = f[2].split(',').collect();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => {
                        b.parse::<usize>().unwrap_or(0) + 1 - a.parse::<usize>().unwrap_or(0)
                    }
                    None => 1,
                })
                .sum();
            Some(NodeLine {
                id: f[0].to_string(),
                port,
                primary: flags.contains(&"master"),
                failing: flags.iter().any(|x| *x == "fail" || *x == "fail?"),
                slots,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_are_parsed() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 7000 [5461->-abc]
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail - 1426238316232 0 5 connected
";
        let n = parse_nodes(text);
        assert_eq!(n.len(), 3);
        assert_eq!((n[0].port, n[0].primary, n[0].slots), (30004, false, 0));
        assert_eq!((n[1].port, n[1].primary, n[1].slots), (30001, true, 5462));
        assert!(n[2].failing && n[2].primary);
    }
}
