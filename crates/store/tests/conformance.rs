//! The store conformance suite: every assertion runs against the in-process
//! backend and against a real `redis-server`, and both must pass.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_store::{
    MemoryStore, RedisStore, Store, StoreError, StoreOptions, StreamId, WriteCommand,
};
use shadowkpi_testkit::{RedisCluster, RedisServer, wait_until};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    let store = std::sync::Arc::new(shadowkpi_store::MemoryStore::new());
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    let server = shadowkpi_testkit::RedisServer::start();
                    let store = super::redis_store(&server).await;
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn cluster() {
                    let cluster = shadowkpi_testkit::RedisCluster::start();
                    let store = super::cluster_store(&cluster).await;
                    super::$name(store).await;
                }
            }
        )*
    };
}

conformance!(
    hashes_expire_after_their_ttl,
    flat_keys_with_and_without_ttl,
    rewriting_the_same_commands_is_idempotent,
    explicit_stream_ids_are_added_once,
    scan_finds_matching_keys_only,
    consumer_group_pending_ack_and_claim,
    autoclaim_leaves_recently_delivered_entries,
    wrong_type_is_a_command_error,
    hdel_removes_fields_and_the_emptied_key,
    stream_extent_trimming_and_exclusive_ranges,
);

/// A read blocked in the backend returns what is appended after it blocked.
/// Each backend says how the test knows the read is blocked before it appends.
mod blocking_read_wakes_on_append {
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory() {
        let store = Arc::new(shadowkpi_store::MemoryStore::new());
        // The in-process read has no await before its wait: polled once
        // without finding anything, it is already waiting for an append.
        super::blocking_read_wakes_on_append(store, async || {}).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        let server = shadowkpi_testkit::RedisServer::start();
        let store = super::redis_store(&server).await;
        super::blocking_read_wakes_on_append(store, async || {
            shadowkpi_testkit::wait_until(Duration::from_secs(10), || async {
                let info: String = redis::cmd("INFO")
                    .arg("clients")
                    .query(&mut server.connection())
                    .unwrap();
                info.lines()
                    .any(|l| l.trim() == "blocked_clients:1")
                    .then_some(())
            })
            .await
            .expect("the XREADGROUP never blocked in redis-server");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster() {
        let cluster = shadowkpi_testkit::RedisCluster::start();
        let store = super::cluster_store(&cluster).await;
        let owner = cluster.primary_for_key(super::BLOCKING_STREAM);
        super::blocking_read_wakes_on_append(store, async || {
            shadowkpi_testkit::wait_until(Duration::from_secs(10), || async {
                let info: String = redis::cmd("INFO")
                    .arg("clients")
                    .query(&mut cluster.connection(owner))
                    .unwrap();
                info.lines()
                    .any(|l| l.trim() == "blocked_clients:1")
                    .then_some(())
            })
            .await
            .expect("the XREADGROUP never blocked on the stream's primary");
        })
        .await;
    }
}

/// A cluster store from one seed and `cluster: true`, as `--redis-cluster`
/// builds it (the comma-separated form is covered by the export tests).
async fn cluster_store(cluster: &RedisCluster) -> Arc<RedisStore> {
    let options = StoreOptions {
        cluster: true,
        ..StoreOptions::default()
    };
    let store = RedisStore::connect(&cluster.seed_url(), options)
        .await
        .unwrap();
    assert!(store.is_cluster());
    Arc::new(store)
}

async fn redis_store(server: &RedisServer) -> Arc<RedisStore> {
    Arc::new(
        RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .unwrap(),
    )
}

fn hset(key: &str, pairs: &[(&str, &str)]) -> WriteCommand {
    WriteCommand::HSet {
        key: key.into(),
        fields: pairs
            .iter()
            .map(|(k, v)| (k.to_string().into(), v.to_string()))
            .collect(),
    }
}

/// One field `n`: for feed entries (`String` names) and for writes (`FieldName`).
fn fields<K: From<&'static str>>(n: u32) -> Vec<(K, String)> {
    vec![("n".into(), n.to_string())]
}

async fn hashes_expire_after_their_ttl<S: Store>(s: Arc<S>) {
    s.apply(&[
        hset(
            "dev:bybit:shadow:latest:BTCUSDT",
            &[("edge_bps", "3.2"), ("p95_latency_ms", "250")],
        ),
        WriteCommand::Expire {
            key: "dev:bybit:shadow:latest:BTCUSDT".into(),
            seconds: 1,
        },
    ])
    .await
    .unwrap();
    let h = s.hgetall("dev:bybit:shadow:latest:BTCUSDT").await.unwrap();
    assert_eq!(
        h,
        BTreeMap::from([
            ("edge_bps".to_string(), "3.2".to_string()),
            ("p95_latency_ms".to_string(), "250".to_string())
        ])
    );
    assert_eq!(
        s.key_type("dev:bybit:shadow:latest:BTCUSDT").await.unwrap(),
        "hash"
    );
    let ttl = s
        .pttl("dev:bybit:shadow:latest:BTCUSDT")
        .await
        .unwrap()
        .unwrap();
    assert!(ttl > 0 && ttl <= 1000, "pttl {ttl}");
    let gone = wait_until(Duration::from_secs(5), || {
        let s = s.clone();
        async move {
            s.hgetall("dev:bybit:shadow:latest:BTCUSDT")
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        }
    })
    .await;
    assert!(gone.is_some(), "hash did not expire");
    assert_eq!(
        s.pttl("dev:bybit:shadow:latest:BTCUSDT").await.unwrap(),
        None
    );
    assert_eq!(
        s.key_type("dev:bybit:shadow:latest:BTCUSDT").await.unwrap(),
        "none"
    );
}

async fn flat_keys_with_and_without_ttl<S: Store>(s: Arc<S>) {
    s.apply(&[
        WriteCommand::Set {
            key: "k:ttl".into(),
            value: "0.91".into(),
            ttl_seconds: Some(3600),
        },
        WriteCommand::Set {
            key: "k:forever".into(),
            value: "x".into(),
            ttl_seconds: None,
        },
    ])
    .await
    .unwrap();
    assert_eq!(s.get("k:ttl").await.unwrap().as_deref(), Some("0.91"));
    let ttl = s.pttl("k:ttl").await.unwrap().unwrap();
    assert!(ttl > 3_590_000 && ttl <= 3_600_000, "pttl {ttl}");
    assert_eq!(s.pttl("k:forever").await.unwrap(), Some(-1));
    assert_eq!(s.get("k:missing").await.unwrap(), None);
    s.apply(&[WriteCommand::Del {
        key: "k:forever".into(),
    }])
    .await
    .unwrap();
    assert_eq!(s.get("k:forever").await.unwrap(), None);
}

async fn hdel_removes_fields_and_the_emptied_key<S: Store>(s: Arc<S>) {
    let hdel = |fields: &[&str]| WriteCommand::HDel {
        key: "h".into(),
        fields: fields.iter().map(|f| f.to_string().into()).collect(),
    };
    s.apply(&[hset("h", &[("a", "1"), ("b", "2")]), hdel(&["a", "zz"])])
        .await
        .unwrap();
    let left: BTreeMap<String, String> = [("b".to_string(), "2".to_string())].into();
    assert_eq!(s.hgetall("h").await.unwrap(), left);
    s.apply(&[hdel(&["b"]), hdel(&["b"])]).await.unwrap();
    assert_eq!(s.key_type("h").await.unwrap(), "none");
    assert_eq!(hdel(&["a", "b"]).to_string(), "HDEL h a b");
}

async fn dump<S: Store>(s: &S) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for k in s.scan("*").await.unwrap() {
        let t = s.key_type(&k).await.unwrap();
        let v = match t.as_str() {
            "hash" => format!("{:?}", s.hgetall(&k).await.unwrap()),
            "string" => format!("{:?}", s.get(&k).await.unwrap()),
            "stream" => format!("{:?}", s.stream_range(&k, "-", "+", None).await.unwrap()),
            other => other.to_string(),
        };
        out.push((k, t, v));
    }
    out
}

async fn rewriting_the_same_commands_is_idempotent<S: Store>(s: Arc<S>) {
    let cmds = vec![
        hset("h", &[("a", "1"), ("b", "2")]),
        WriteCommand::Expire {
            key: "h".into(),
            seconds: 3600,
        },
        WriteCommand::Set {
            key: "f".into(),
            value: "3".into(),
            ttl_seconds: Some(3600),
        },
        WriteCommand::XAddIfAbsent {
            key: "st".into(),
            id: "1700000000000-1".into(),
            fields: fields(1),
            maxlen: Some(100),
        },
        WriteCommand::XAddIfAbsent {
            key: "st".into(),
            id: "1700000060000-2".into(),
            fields: fields(2),
            maxlen: Some(100),
        },
    ];
    s.apply(&cmds).await.unwrap();
    let first = dump(&*s).await;
    s.apply(&cmds).await.unwrap();
    let second = dump(&*s).await;
    assert_eq!(first, second);
    assert_eq!(first.len(), 3);
    assert_eq!(s.stream_len("st").await.unwrap(), 2);
}

async fn explicit_stream_ids_are_added_once<S: Store>(s: Arc<S>) {
    let add = |id: &str, n| WriteCommand::XAddIfAbsent {
        key: "st".into(),
        id: id.into(),
        fields: fields(n),
        maxlen: None,
    };
    s.apply(&[add("100-0", 1), add("200-0", 2), add("100-0", 9)])
        .await
        .unwrap();
    let entries = s.stream_range("st", "-", "+", None).await.unwrap();
    let ids: Vec<_> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["100-0", "200-0"]);
    assert_eq!(entries[0].get("n"), Some("1"), "the first write wins");
    // An id below the top that is not there cannot be inserted in a stream.
    let err = s.apply(&[add("150-0", 3)]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Command(ref m) if m.contains("equal or smaller")),
        "{err}"
    );
}

async fn scan_finds_matching_keys_only<S: Store>(s: Arc<S>) {
    let mut cmds = Vec::new();
    for i in 0..120 {
        cmds.push(hset(
            &format!("dev:bybit:shadow:latest:SYM{i:03}"),
            &[("edge_bps", "1")],
        ));
    }
    cmds.push(hset(
        "prod:bybit:shadow:latest:BTCUSDT",
        &[("edge_bps", "1")],
    ));
    cmds.push(hset("dev:bybit:shadow:meta:SYM000", &[("run_id", "r")]));
    s.apply(&cmds).await.unwrap();
    let keys = s.scan("dev:bybit:shadow:latest:*").await.unwrap();
    assert_eq!(keys.len(), 120);
    assert_eq!(keys[0], "dev:bybit:shadow:latest:SYM000");
    assert_eq!(keys[119], "dev:bybit:shadow:latest:SYM119");
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted");
}

async fn consumer_group_pending_ack_and_claim<S: Store>(s: Arc<S>) {
    s.create_group(BLOCKING_STREAM, "g").await.unwrap();
    s.create_group(BLOCKING_STREAM, "g").await.unwrap(); // existing group is fine
    let ids = s
        .append(
            "feed",
            &(1..=5).map(fields::<String>).collect::<Vec<_>>(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 5);
    assert_eq!(s.group_lag("feed", "g").await.unwrap(), Some(5));

    let got = s
        .read_group("feed", "g", "c1", 3, None, false)
        .await
        .unwrap();
    let ns: Vec<_> = got.iter().map(|e| e.get("n").unwrap_or("")).collect();
    assert_eq!(ns, ["1", "2", "3"]);
    assert_eq!(s.pending_count("feed", "g").await.unwrap(), 3);
    assert_eq!(s.group_lag("feed", "g").await.unwrap(), Some(2));

    let acked = s
        .ack("feed", "g", &[got[0].id.clone(), got[1].id.clone()])
        .await
        .unwrap();
    assert_eq!(acked, 2);
    assert_eq!(s.ack("feed", "g", &[got[0].id.clone()]).await.unwrap(), 0);
    assert_eq!(s.pending_count("feed", "g").await.unwrap(), 1);

    // c1's own pending entries are re-read with id 0; c2 has none.
    let mine = s
        .read_group("feed", "g", "c1", 10, None, true)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, got[2].id);
    assert_eq!(mine[0].get("n"), Some("3"));
    assert!(
        s.read_group("feed", "g", "c2", 10, None, true)
            .await
            .unwrap()
            .is_empty()
    );

    // c2 claims c1's idle entry.
    let claimed = s
        .autoclaim("feed", "g", "c2", Duration::ZERO, "0-0", 10)
        .await
        .unwrap();
    assert_eq!(claimed.entries.len(), 1);
    assert_eq!(claimed.entries[0].id, got[2].id);
    assert_eq!(claimed.next, "0-0");
    assert!(
        s.read_group("feed", "g", "c1", 10, None, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.read_group("feed", "g", "c2", 10, None, true)
            .await
            .unwrap()
            .len(),
        1
    );

    // The rest is still new for the group.
    let rest = s
        .read_group("feed", "g", "c2", 10, None, false)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(s.group_lag("feed", "g").await.unwrap(), Some(0));
    assert_eq!(s.group_lag("feed", "nogroup").await.unwrap(), None);
}

/// The stream of the blocking-read test.
const BLOCKING_STREAM: &str = "feed";

async fn blocking_read_wakes_on_append<S: Store>(s: Arc<S>, blocked: impl AsyncFn()) {
    s.create_group(BLOCKING_STREAM, "g").await.unwrap();
    let empty = s
        .read_group(
            BLOCKING_STREAM,
            "g",
            "c",
            10,
            Some(Duration::from_millis(50)),
            false,
        )
        .await
        .unwrap();
    assert!(empty.is_empty(), "a block timeout reads nothing");
    let reader = s.read_group(
        BLOCKING_STREAM,
        "g",
        "c",
        10,
        Some(Duration::from_secs(10)),
        false,
    );
    let mut reader = std::pin::pin!(reader);
    // Drive the read (first, `biased`) until the backend holds it blocked, then
    // append; the read must return the entry.
    tokio::select! {
        biased;
        early = &mut reader => panic!("the read returned before the append: {early:?}"),
        () = blocked() => {}
    }
    s.append(BLOCKING_STREAM, &[fields(42)], Some(1000))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("blocked read did not wake")
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].get("n"), Some("42"));
}

async fn autoclaim_leaves_recently_delivered_entries<S: Store>(s: Arc<S>) {
    s.create_group(BLOCKING_STREAM, "g").await.unwrap();
    s.append("feed", &[fields(1), fields(2)], None)
        .await
        .unwrap();
    s.read_group("feed", "g", "c1", 10, None, false)
        .await
        .unwrap();
    let claimed = s
        .autoclaim("feed", "g", "c2", Duration::from_secs(60), "0-0", 10)
        .await
        .unwrap();
    assert!(claimed.entries.is_empty());
    assert_eq!(
        s.read_group("feed", "g", "c1", 10, None, true)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn wrong_type_is_a_command_error<S: Store>(s: Arc<S>) {
    s.apply(&[WriteCommand::Set {
        key: "plain".into(),
        value: "1".into(),
        ttl_seconds: None,
    }])
    .await
    .unwrap();
    let err = s.hgetall("plain").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Command(ref m) if m.contains("WRONGTYPE")),
        "{err}"
    );
}

fn _assert_object_safe(_: &dyn Store, _: MemoryStore) {}

/// `XINFO STREAM`'s extent (first entry, last generated id, the largest id
/// trimmed away), a group's position, and `XRANGE (id +`: what a reader of
/// a feed position needs to tell it has lost nothing.
async fn stream_extent_trimming_and_exclusive_ranges<S: Store>(s: Arc<S>) {
    assert_eq!(s.stream_info("feed").await.unwrap(), None);
    assert_eq!(s.group_position("feed", "g").await.unwrap(), None);
    let entry = |i: u32| vec![("n".to_string(), i.to_string())];
    let ids = s
        .append("feed", &(1..=5).map(entry).collect::<Vec<_>>(), None)
        .await
        .unwrap();
    let id = |i: usize| StreamId::parse(&ids[i]).unwrap();
    let info = s.stream_info("feed").await.unwrap().unwrap();
    assert_eq!(info.length, 5);
    assert_eq!(info.first_id, Some(id(0)));
    assert_eq!(info.last_generated_id, id(4));
    assert_eq!(info.entries_added, 5);
    assert!(!info.lost_after(StreamId::ZERO));
    assert!(!info.lost_after(id(1)));
    let after: Vec<String> = s
        .stream_range("feed", &format!("({}", ids[1]), "+", Some(2))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(after, vec![ids[2].clone(), ids[3].clone()]);

    s.create_group(BLOCKING_STREAM, "g").await.unwrap();
    assert_eq!(
        s.group_position("feed", "g").await.unwrap(),
        Some(StreamId::ZERO)
    );
    let read = s
        .read_group("feed", "g", "c", 2, None, false)
        .await
        .unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(s.group_position("feed", "g").await.unwrap(), Some(id(1)));

    // Trimming (`MAXLEN ~`: Redis drops whole nodes of entries, the
    // in-process store exactly the excess) moves the first entry on and
    // records the last id it dropped.
    let bulk: Vec<_> = (6..=300).map(entry).collect();
    s.append("feed", &bulk, None).await.unwrap();
    let more = s.append("feed", &[entry(301)], Some(100)).await.unwrap();
    let info = s.stream_info("feed").await.unwrap().unwrap();
    assert!((100..301).contains(&info.length), "{info:?}");
    let first = info.first_id.unwrap();
    assert!(first > id(4), "{info:?}");
    assert_eq!(info.entries_added, 301);
    let gone = s
        .stream_range("feed", "-", &first.predecessor().to_string(), None)
        .await
        .unwrap();
    assert!(gone.is_empty());
    // A reader at 0-0, or at the second entry, has lost entries; one right
    // before the first entry left, or at it, has not.
    assert!(info.lost_after(StreamId::ZERO));
    assert!(info.lost_after(id(1)));
    assert!(!info.lost_after(first.predecessor()));
    assert!(!info.lost_after(first));
    assert_eq!(info.last_generated_id, StreamId::parse(&more[0]).unwrap());
}

#[test]
fn stream_ids_order_and_step_as_redis_orders_them() {
    let id = |s: &str| StreamId::parse(s).unwrap();
    assert!(id("12-3") < id("12-4") && id("11-9") < id("12"));
    assert_eq!(id("12-3").successor(), id("12-4"));
    assert_eq!(
        id("12-0").predecessor(),
        StreamId {
            ms: 11,
            seq: u64::MAX
        }
    );
    assert_eq!(id("12-0").predecessor().successor(), id("12-0"));
    assert_eq!(StreamId::ZERO.predecessor(), StreamId::ZERO);
    assert_eq!(StreamId::parse("x"), None);
    assert_eq!(id("5-6").to_string(), "5-6");
}
