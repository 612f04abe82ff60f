//! Ingest measurements: throughput of a backlog through ingestd to gRPC
//! subscribers against a bare `XREADGROUP` + `XACK` loop, latency from `XADD`
//! to the subscriber at a steady feed, and how both scale with symbols and
//! subscribers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use ingestd::IngestConfig;
use redis::Value;
use redis::aio::MultiplexedConnection;
use shadowkpi_domain::feed::decode::encode;
use shadowkpi_domain::tick::{Side, Tick};
use shadowkpi_proto::v1::ingest_service_client::IngestServiceClient;
use shadowkpi_proto::v1::{GetStatsRequest, SubscribeRequest, SubscribeResponse};
use shadowkpi_runtime::{ServingHandle, Shutdown};
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

use super::report::{Row, Section, fmt_number, quantile};
use super::{Env, bench_err, interleave, redis_err};
use crate::error::BenchResult;

/// `XREADGROUP … COUNT` of both sides (ingestd's default).
pub const READ_COUNT: usize = 1_000;
/// Event time of the first generated tick.
const T0: i64 = 1_700_000_000_000;
/// Entries per `XADD` pipeline while setting up a backlog.
const SETUP_PIPELINE: u64 = 2_000;

/// The name of generated symbol `i`.
pub fn symbol_name(i: u64) -> String {
    format!("SYM{i:04}")
}

/// The index of a generated symbol name.
fn symbol_index(name: &str) -> Option<u64> {
    name.strip_prefix("SYM")?.parse().ok()
}

/// Stream fields of generated tick `i` of a feed over `symbols` symbols
/// (round robin; `seq` counts per symbol from 1), at event time `ts`.
pub fn tick_fields(i: u64, symbols: u64, ts: i64) -> Vec<(String, String)> {
    let sym = i % symbols;
    let seq = i / symbols + 1;
    let bid = 100.0 + sym as f64 + (seq % 50) as f64 * 0.01;
    encode(&Tick {
        symbol: symbol_name(sym),
        seq,
        ts_server_ms: ts,
        bid,
        ask: bid + 0.01,
        last_qty: 0.5,
        bid_qty: Some(1.25),
        ask_qty: Some(2.5),
        last_px: Some(bid),
        side: if seq.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        },
        ts_ingest_ms: 0,
        ts_recv_ms: None,
    })
}

/// Writes `n` generated ticks to `stream` (deleted first), in order.
pub async fn publish_backlog(
    conn: &mut MultiplexedConnection,
    stream: &str,
    n: u64,
    symbols: u64,
) -> BenchResult<()> {
    redis::cmd("DEL")
        .arg(stream)
        .query_async::<()>(conn)
        .await
        .map_err(redis_err)?;
    let mut i = 0;
    while i < n {
        let end = (i + SETUP_PIPELINE).min(n);
        let mut pipe = redis::pipe();
        for k in i..end {
            // Ten ticks per millisecond of event time.
            let cmd = pipe.cmd("XADD").arg(stream).arg("*");
            for (f, v) in tick_fields(k, symbols, T0 + (k / 10) as i64) {
                cmd.arg(f).arg(v);
            }
            cmd.ignore();
        }
        pipe.query_async::<()>(conn).await.map_err(redis_err)?;
        i = end;
    }
    Ok(())
}

/// What one ingestd pass saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct IngestPass {
    /// Seconds from subscribing to every entry delivered and acknowledged.
    pub secs: f64,
    /// Ticks the slowest subscriber received.
    pub delivered: u64,
    /// Ticks dropped for slow subscribers (all subscribers).
    pub drops: u64,
    /// Duplicates and sequence gaps counted (should be 0: the feed has none).
    pub anomalies: u64,
}

impl IngestPass {
    /// Delivered ticks per second.
    pub fn rate(&self) -> f64 {
        self.delivered as f64 / self.secs
    }
}

/// The configuration of an in-process ingestd reading `stream` with a fresh
/// group.
fn ingest_config(env: &Env, stream: &str, reorder_ms: i64) -> IngestConfig {
    let mut cfg = IngestConfig::for_stream(stream);
    cfg.group = env.unique("group");
    cfg.consumer = "bench".into();
    cfg.read_count = READ_COUNT;
    cfg.reorder_window_ms = reorder_ms;
    cfg
}

async fn start_ingestd(env: &Env, cfg: IngestConfig) -> BenchResult<ServingHandle> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| bench_err("bind a loopback port", e))?;
    // Its own store, as a deployed ingestd has: no connection shared with
    // the previous instance.
    ingestd::spawn_with_config(env.fresh_store()?, cfg, listener, Shutdown::new())
        .map_err(|e| bench_err("start ingestd", e))
}

async fn stop(handle: ServingHandle) {
    // Streams are closed by now; the drain deadline is only a hang guard.
    let _ = tokio::time::timeout(Duration::from_secs(15), handle.stop()).await;
}

/// A gRPC client of `url` on its own connection.
pub async fn client(url: &str, small_window: bool) -> BenchResult<IngestServiceClient<Channel>> {
    let mut ep = Endpoint::from_shared(url.to_string()).map_err(|e| bench_err("endpoint", e))?;
    if small_window {
        // A stalled reader then stops the server after a few batches instead
        // of absorbing megabytes in its receive buffer.
        ep = ep
            .initial_stream_window_size(Some(65_535))
            .initial_connection_window_size(Some(65_535));
    }
    let ch = ep
        .connect()
        .await
        .map_err(|e| bench_err("connect to ingestd", e))?;
    Ok(IngestServiceClient::new(ch).max_decoding_message_size(64 << 20))
}

/// Subscribes to every symbol.
pub async fn subscribe(
    c: &mut IngestServiceClient<Channel>,
    name: &str,
) -> BenchResult<Streaming<SubscribeResponse>> {
    Ok(c.subscribe(SubscribeRequest {
        symbols: Vec::new(),
        subscriber: name.to_string(),
        max_batch: 0,
        ..Default::default()
    })
    .await
    .map_err(|e| bench_err("subscribe", e))?
    .into_inner())
}

#[derive(Debug, Default)]
struct Consumed {
    delivered: u64,
    drops: u64,
    anomalies: u64,
}

fn count_counters(r: &SubscribeResponse, c: &mut Consumed) {
    for k in r.counters.values() {
        c.drops += k.bp_drops;
        c.anomalies += k.duplicates + k.seq_gaps + k.rejected;
    }
}

/// Reads until `n` ticks are accounted for (delivered or dropped); returns
/// the stream too, so it stays open until the caller is done.
async fn consume(
    mut stream: Streaming<SubscribeResponse>,
    n: u64,
    deadline: tokio::time::Instant,
) -> BenchResult<(Consumed, Streaming<SubscribeResponse>)> {
    let mut c = Consumed::default();
    while c.delivered + c.drops < n {
        let msg = tokio::time::timeout_at(deadline, stream.message())
            .await
            .map_err(|_| {
                bench_err(
                    "ingest pass",
                    format!(
                        "hang guard: {} of {n} ticks after the time limit",
                        c.delivered + c.drops
                    ),
                )
            })?
            .map_err(|e| bench_err("tick stream", e))?;
        let Some(r) = msg else {
            return Err(bench_err("tick stream", "ended early"));
        };
        c.delivered += r.ticks.len() as u64;
        count_counters(&r, &mut c);
    }
    Ok((c, stream))
}

/// Entries pending in `group` (`XPENDING` summary).
pub async fn pending(
    conn: &mut MultiplexedConnection,
    stream: &str,
    group: &str,
) -> BenchResult<u64> {
    let v: Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(conn)
        .await
        .map_err(redis_err)?;
    Ok(match v {
        Value::Array(a) => match a.first() {
            Some(Value::Int(n)) => *n as u64,
            _ => 0,
        },
        _ => 0,
    })
}

async fn wait_acked(
    env: &Env,
    stream: &str,
    group: &str,
    deadline: tokio::time::Instant,
) -> BenchResult<()> {
    let mut conn = env.conn.clone();
    loop {
        if pending(&mut conn, stream, group).await? == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(bench_err(
                "ingest pass",
                "hang guard: entries still pending",
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One pass of a backlog of `n` entries through a fresh ingestd (fresh group)
/// to `subscribers` subscribers, until every entry is delivered and
/// acknowledged.
pub async fn ingestd_pass(
    env: &Env,
    stream: &str,
    n: u64,
    subscribers: usize,
) -> BenchResult<IngestPass> {
    let cfg = ingest_config(env, stream, IngestConfig::default().reorder_window_ms);
    let group = cfg.group.clone();
    let handle = start_ingestd(env, cfg).await?;
    let url = handle.url();
    let mut clients = Vec::new();
    for _ in 0..subscribers {
        clients.push(client(&url, false).await?);
    }
    let deadline = tokio::time::Instant::now() + env.hang_guard(n);
    let started = Instant::now();
    let tasks = clients.into_iter().enumerate().map(|(k, mut c)| {
        tokio::spawn(async move {
            let s = subscribe(&mut c, &format!("bench-{k}")).await?;
            consume(s, n, deadline).await
        })
    });
    let results = try_join_all(tasks)
        .await
        .map_err(|e| bench_err("subscriber task", e))?;
    let mut pass = IngestPass {
        delivered: u64::MAX,
        ..IngestPass::default()
    };
    let mut streams = Vec::new();
    for r in results {
        let (c, s) = r?;
        pass.delivered = pass.delivered.min(c.delivered);
        pass.drops += c.drops;
        pass.anomalies += c.anomalies;
        streams.push(s);
    }
    wait_acked(env, stream, &group, deadline).await?;
    pass.secs = started.elapsed().as_secs_f64();
    drop(streams);
    stop(handle).await;
    Ok(pass)
}

/// Ticks at the end of a backlog a reader from a feed position may still
/// hold: its reorder buffer releases by event time only, and the last 40 ms
/// (400 ticks at ten per ms) wait for later ticks. Passes count the rest.
const POSITIONAL_TAIL: u64 = 1_000;

/// One pass of a backlog of `n` entries through a fresh ingestd to one
/// subscription from the stream's start (`SubscribeRequest.from`), until it
/// holds all but the last [`POSITIONAL_TAIL`] ticks; seconds taken.
pub async fn positional_pass(env: &Env, stream: &str, n: u64) -> BenchResult<f64> {
    let cfg = ingest_config(env, stream, IngestConfig::default().reorder_window_ms);
    let handle = start_ingestd(env, cfg).await?;
    let mut c = client(&handle.url(), false).await?;
    let deadline = tokio::time::Instant::now() + env.hang_guard(n);
    let started = Instant::now();
    let s = c
        .subscribe(SubscribeRequest {
            subscriber: "bench-positional".into(),
            from: "start".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| bench_err("subscribe", e))?
        .into_inner();
    let (got, s) = consume(s, n.saturating_sub(POSITIONAL_TAIL), deadline).await?;
    let secs = started.elapsed().as_secs_f64();
    if got.drops > 0 || got.anomalies > 0 {
        return Err(bench_err(
            "positional pass",
            format!(
                "{} drops, {} anomalies: a positional read is lossless",
                got.drops, got.anomalies
            ),
        ));
    }
    drop(s);
    stop(handle).await;
    Ok(secs)
}

/// The bare client reading the same entries: `XRANGE (last + COUNT
/// READ_COUNT` until `n - POSITIONAL_TAIL`; seconds taken.
pub async fn bare_range_pass(env: &Env, stream: &str, n: u64) -> BenchResult<f64> {
    let want = n.saturating_sub(POSITIONAL_TAIL);
    let mut conn = env.conn.clone();
    let started = Instant::now();
    let mut got = 0u64;
    let mut last = "-".to_string();
    while got < want {
        let reply: Value = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&last)
            .arg("+")
            .arg("COUNT")
            .arg(READ_COUNT)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let entries = as_array(&reply);
        let Some(Value::BulkString(id)) = entries.last().and_then(|e| as_array(e).first()) else {
            return Err(bench_err(
                "bare range pass",
                format!("stream ran dry after {got} of {want}"),
            ));
        };
        last = format!("({}", String::from_utf8_lossy(id));
        got += entries.len() as u64;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Ids of a stream reply (`XREADGROUP`), RESP2 or RESP3.
fn reply_entries(v: &Value) -> &[Value] {
    let streams = match v {
        Value::Array(a) => a.as_slice(),
        Value::Map(m) => return m.first().map_or(&[], |(_, e)| as_array(e)),
        _ => &[],
    };
    match streams.first().map(as_array) {
        Some([_, entries]) => as_array(entries),
        _ => &[],
    }
}

fn as_array(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => &[],
    }
}

/// One pass of the bare client: `XREADGROUP COUNT READ_COUNT` then `XACK` of
/// what it read, until `n` entries; seconds taken.
pub async fn bare_pass(env: &Env, stream: &str, n: u64) -> BenchResult<f64> {
    let group = env.unique("bare");
    let mut conn = env.conn.clone();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(&group)
        .arg("0")
        .query_async::<()>(&mut conn)
        .await
        .map_err(redis_err)?;
    let started = Instant::now();
    let mut got = 0u64;
    while got < n {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&group)
            .arg("bare")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let entries = reply_entries(&reply);
        if entries.is_empty() {
            return Err(bench_err(
                "bare pass",
                format!("stream ran dry after {got} of {n}"),
            ));
        }
        let mut ack = redis::cmd("XACK");
        ack.arg(stream).arg(&group);
        for e in entries {
            if let Some(Value::BulkString(id)) = as_array(e).first() {
                ack.arg(&id[..]);
            }
        }
        ack.query_async::<()>(&mut conn).await.map_err(redis_err)?;
        got += entries.len() as u64;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Section 1: a backlog through ingestd to one subscriber against the bare loop.
pub async fn throughput(env: &Env, n: u64, symbols: u64) -> BenchResult<Section> {
    let stream = env.key("ingest");
    let mut conn = env.conn.clone();
    let t = Instant::now();
    publish_backlog(&mut conn, &stream, n, symbols).await?;
    let setup = t.elapsed().as_secs_f64();
    let mut section = Section::new(
        "ingest_throughput",
        "1. Ingest throughput",
        format!(
            "A backlog of {} ticks over {symbols} symbols in one stream (10 fields each) → ingestd (in-process, defaults: \
             COUNT {READ_COUNT}, reorder window 40 ms) → one gRPC subscriber; timed from Subscribe until the subscriber \
             holds every tick and XPENDING is 0. Bare: `XREADGROUP COUNT {READ_COUNT}` + `XACK` of each batch on one \
             connection. Each run reads the same backlog through a fresh consumer group. From a feed position: the same \
             backlog through `SubscribeRequest.from = start` (the stream read with XRANGE, its own guards, no \
             acknowledgements), timed until the subscriber holds all but the last {POSITIONAL_TAIL} ticks (a reorder \
             window's worth wait for later ticks); bare: `XRANGE (last + COUNT {READ_COUNT}` over the same entries.",
            fmt_number(n as f64)
        ),
    );
    let mut passes = Vec::new();
    let (ours, bare) = interleave(
        env.runs,
        async || {
            let p = ingestd_pass(env, &stream, n, 1).await?;
            passes.push(p);
            Ok(p.rate())
        },
        async || Ok(n as f64 / bare_pass(env, &stream, n).await?),
    )
    .await?;
    section.rows.push(
        Row::versus("ingestd → 1 subscriber", "ticks/s", ours, bare)
            .target(0.8)
            .note("incl. XACK"),
    );
    let counted = n.saturating_sub(POSITIONAL_TAIL) as f64;
    let (ours, bare) = interleave(
        env.runs,
        async || Ok(counted / positional_pass(env, &stream, n).await?),
        async || Ok(counted / bare_range_pass(env, &stream, n).await?),
    )
    .await?;
    section.rows.push(
        Row::versus(
            "ingestd from a feed position → 1 subscriber",
            "ticks/s",
            ours,
            bare,
        )
        .target(0.8)
        .note("vs XRANGE; lossless"),
    );
    let drops: u64 = passes.iter().map(|p| p.drops).sum();
    let anomalies: u64 = passes.iter().map(|p| p.anomalies).sum();
    section.notes.push(format!(
        "backlog written in {setup:.1} s ({} XADD/s, pipelines of {SETUP_PIPELINE}); over all runs the subscriber lost {drops} ticks to backpressure and saw {anomalies} duplicates/gaps/rejects",
        fmt_number(n as f64 / setup)
    ));
    Ok(section)
}

/// Section 6a: ingest throughput for several symbol counts and subscriber
/// counts, each against the bare loop on the same stream.
pub async fn scaling(
    env: &Env,
    n: u64,
    symbol_counts: &[u64],
    subscriber_counts: &[usize],
    section: &mut Section,
) -> BenchResult<()> {
    let mut conn = env.conn.clone();
    let mut hundred = None;
    for &symbols in symbol_counts {
        let stream = env.key(&format!("scale{symbols}"));
        publish_backlog(&mut conn, &stream, n, symbols).await?;
        let (ours, bare) = interleave(
            env.runs,
            async || Ok(ingestd_pass(env, &stream, n, 1).await?.rate()),
            async || Ok(n as f64 / bare_pass(env, &stream, n).await?),
        )
        .await?;
        if symbols == 100 {
            hundred = Some((stream.clone(), bare.clone()));
        }
        section.rows.push(
            Row::versus(
                format!(
                    "ingest, {symbols} symbol{}, 1 subscriber",
                    if symbols == 1 { "" } else { "s" }
                ),
                "ticks/s",
                ours,
                bare,
            )
            .target(0.8),
        );
        if symbols != 100 {
            delete(env, &stream).await?;
        }
    }
    let (stream, bare) = match hundred {
        Some(h) => h,
        None => {
            let stream = env.key("scale100");
            publish_backlog(&mut conn, &stream, n, 100).await?;
            (stream, Vec::new())
        }
    };
    // When 100 symbols were not measured above, the loop below measures the
    // bare rate alongside the first subscriber count.
    let measured_one = !bare.is_empty();
    let mut bare = bare;
    for &subs in subscriber_counts {
        if subs == 1 && measured_one {
            // The 100-symbol row above is this one.
            continue;
        }
        let mut ours = Vec::new();
        let mut drops = 0;
        for _ in 0..env.runs {
            let p = ingestd_pass(env, &stream, n, subs).await?;
            drops += p.drops;
            ours.push(p.rate());
            if bare.len() < env.runs {
                bare.push(n as f64 / bare_pass(env, &stream, n).await?);
            }
        }
        let mut row = Row::versus(
            format!(
                "ingest, 100 symbols, {subs} subscriber{}",
                if subs == 1 { "" } else { "s" }
            ),
            "ticks/s",
            ours,
            bare.clone(),
        );
        if subs > 1 {
            row = row.note(format!("per subscriber; bare reads once; {drops} dropped"));
        } else {
            row = row.target(0.8);
        }
        section.rows.push(row);
    }
    delete(env, &stream).await?;
    Ok(())
}

async fn delete(env: &Env, key: &str) -> BenchResult<()> {
    let mut conn = env.conn.clone();
    redis::cmd("DEL")
        .arg(key)
        .query_async::<()>(&mut conn)
        .await
        .map_err(redis_err)
}

/// Wall-clock send times of a paced feed, by tick index.
struct Sent {
    origin: Instant,
    at_ns: Vec<AtomicU64>,
}

impl Sent {
    fn latency_ms(&self, idx: u64, now_ns: u64) -> Option<f64> {
        let sent = self.at_ns.get(idx as usize)?.load(Relaxed);
        (sent > 0 && now_ns >= sent).then(|| (now_ns - sent) as f64 / 1e6)
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Publishes `total` ticks at `rate` per second, one pipeline per millisecond,
/// stamping each with the time its pipeline was sent.
async fn paced_publisher(
    mut conn: MultiplexedConnection,
    stream: String,
    total: u64,
    symbols: u64,
    rate: f64,
    sent: Arc<Sent>,
) -> BenchResult<()> {
    let mut timer = tokio::time::interval(Duration::from_millis(1));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let mut done = 0u64;
    while done < total {
        timer.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate) as u64).min(total);
        if due <= done {
            continue;
        }
        let ts = wall_ms();
        let mut pipe = redis::pipe();
        for k in done..due {
            let cmd = pipe
                .cmd("XADD")
                .arg(&stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(100_000)
                .arg("*");
            for (f, v) in tick_fields(k, symbols, ts) {
                cmd.arg(f).arg(v);
            }
            cmd.ignore();
        }
        let now = sent.now_ns().max(1);
        for k in done..due {
            sent.at_ns[k as usize].store(now, Relaxed);
        }
        pipe.query_async::<()>(&mut conn).await.map_err(redis_err)?;
        done = due;
    }
    Ok(())
}

/// Latency samples (ms) and how many ticks were lost.
struct Samples {
    ms: Vec<f64>,
    lost: u64,
}

async fn latency_ingestd(env: &Env, plan: &LatencyPlan, reorder_ms: i64) -> BenchResult<Samples> {
    let stream = env.key("latency");
    delete(env, &stream).await?;
    let cfg = ingest_config(env, &stream, reorder_ms);
    let handle = start_ingestd(env, cfg).await?;
    let mut c = client(&handle.url(), false).await?;
    let mut s = subscribe(&mut c, "bench-latency").await?;
    // Let the reader's session start before the feed does.
    wait_for_session(&mut c).await;
    let sent = Arc::new(plan.sent());
    let publisher = tokio::spawn(paced_publisher(
        env.publisher().await?,
        stream.clone(),
        plan.total,
        plan.symbols,
        plan.rate,
        sent.clone(),
    ));
    let deadline = tokio::time::Instant::now() + plan.duration + Duration::from_secs(10);
    let mut got = Consumed::default();
    let mut ms = Vec::with_capacity(plan.total as usize);
    while got.delivered + got.drops < plan.total {
        let Ok(msg) = tokio::time::timeout_at(deadline, s.message()).await else {
            break;
        };
        let Some(r) = msg.map_err(|e| bench_err("tick stream", e))? else {
            break;
        };
        let now = sent.now_ns();
        for t in &r.ticks {
            let Some(sym) = symbol_index(&t.symbol) else {
                continue;
            };
            let idx = (t.seq - 1) * plan.symbols + sym;
            if plan.sampled(idx)
                && let Some(l) = sent.latency_ms(idx, now)
            {
                ms.push(l);
            }
        }
        got.delivered += r.ticks.len() as u64;
        count_counters(&r, &mut got);
    }
    publisher
        .await
        .map_err(|e| bench_err("publisher task", e))??;
    drop(s);
    stop(handle).await;
    delete(env, &stream).await?;
    Ok(Samples {
        ms,
        lost: plan.total.saturating_sub(got.delivered),
    })
}

async fn wait_for_session(c: &mut IngestServiceClient<Channel>) {
    for _ in 0..200 {
        if let Ok(s) = c.get_stats(GetStatsRequest {}).await
            && s.into_inner().subscribers > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn latency_bare(env: &Env, plan: &LatencyPlan) -> BenchResult<Samples> {
    let stream = env.key("latency");
    delete(env, &stream).await?;
    let group = env.unique("bare");
    let mut conn = env.dedicated(Duration::from_secs(5)).await?;
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg(&group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut conn)
        .await
        .map_err(redis_err)?;
    let sent = Arc::new(plan.sent());
    let publisher = tokio::spawn(paced_publisher(
        env.publisher().await?,
        stream.clone(),
        plan.total,
        plan.symbols,
        plan.rate,
        sent.clone(),
    ));
    let deadline = Instant::now() + plan.duration + Duration::from_secs(10);
    let mut ms = Vec::with_capacity(plan.total as usize);
    let mut got = 0u64;
    while got < plan.total && Instant::now() < deadline {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&group)
            .arg("bare")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(100)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let now = sent.now_ns();
        let entries = reply_entries(&reply);
        let mut ack = redis::cmd("XACK");
        ack.arg(&stream).arg(&group);
        for e in entries {
            let [Value::BulkString(id), fields] = as_array(e) else {
                continue;
            };
            ack.arg(&id[..]);
            let (mut sym, mut seq) = (None, None);
            for kv in as_array(fields).chunks(2) {
                if let [Value::BulkString(k), Value::BulkString(v)] = kv {
                    let v = std::str::from_utf8(v).unwrap_or_default();
                    match &k[..] {
                        b"symbol" => sym = symbol_index(v),
                        b"seq" => seq = v.parse::<u64>().ok(),
                        _ => {}
                    }
                }
            }
            if let (Some(sym), Some(seq)) = (sym, seq) {
                let idx = (seq - 1) * plan.symbols + sym;
                if plan.sampled(idx)
                    && let Some(l) = sent.latency_ms(idx, now)
                {
                    ms.push(l);
                }
            }
        }
        if !entries.is_empty() {
            ack.query_async::<()>(&mut conn).await.map_err(redis_err)?;
        }
        got += entries.len() as u64;
    }
    publisher
        .await
        .map_err(|e| bench_err("publisher task", e))??;
    delete(env, &stream).await?;
    Ok(Samples {
        ms,
        lost: plan.total.saturating_sub(got),
    })
}

/// A paced feed.
pub struct LatencyPlan {
    /// Ticks per second.
    pub rate: f64,
    /// How long.
    pub duration: Duration,
    /// Symbols, round robin.
    pub symbols: u64,
    total: u64,
    warmup: u64,
    cooldown: u64,
}

impl LatencyPlan {
    /// `rate` ticks/s for `duration` over `symbols`; the first 10 % (warm-up)
    /// and the last 5 % (the end of the feed, after which the reorder window
    /// is flushed by its wall-clock bound rather than by later ticks) are not
    /// sampled.
    pub fn new(rate: f64, duration: Duration, symbols: u64) -> Self {
        let total = (rate * duration.as_secs_f64()) as u64;
        Self {
            rate,
            duration,
            symbols,
            total,
            warmup: total / 10,
            cooldown: total - total / 20,
        }
    }

    fn sampled(&self, idx: u64) -> bool {
        (self.warmup..self.cooldown).contains(&idx)
    }

    fn sent(&self) -> Sent {
        Sent {
            origin: Instant::now(),
            at_ns: (0..self.total).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Section 2: time from `XADD` to the subscriber holding the tick.
pub async fn latency(env: &Env, plan: &LatencyPlan) -> BenchResult<Section> {
    let mut section = Section::new(
        "ingest_latency",
        "2. Ingest latency",
        format!(
            "A steady feed of {} ticks/s over {} symbols for {:.1} s (one XADD pipeline per millisecond, `ts_server` = wall clock) \
             into ingestd → one gRPC subscriber; latency = time the subscriber holds the tick − time its XADD pipeline was sent \
             (the first 10 % and the last 5 % of the feed are not sampled: warm-up, and the end of the feed, where ticks in the reorder window wait for its 100 ms wall-clock bound because no later tick releases them). Bare: `XREADGROUP COUNT {READ_COUNT} BLOCK 100` + `XACK` loop on its own connection.",
            fmt_number(plan.rate),
            plan.symbols,
            plan.duration.as_secs_f64()
        ),
    );
    let bare = latency_bare(env, plan).await?;
    let no_reorder = latency_ingestd(env, plan, 0).await?;
    let reorder = latency_ingestd(env, plan, IngestConfig::default().reorder_window_ms).await?;
    let mut add = |label: &str, s: &Samples| {
        let mut v = s.ms.clone();
        v.sort_by(f64::total_cmp);
        let mut b = bare.ms.clone();
        b.sort_by(f64::total_cmp);
        for (q, name) in [(0.5, "p50"), (0.99, "p99"), (1.0, "max")] {
            let ours = quantile(&v, q);
            let theirs = quantile(&b, q);
            let mut row = Row::versus(format!("{label} {name}"), "ms", vec![ours], vec![theirs]);
            row.ratio = None;
            if theirs > 0.0 {
                row = row.note(format!("{:+.2} ms vs bare", ours - theirs));
            }
            section.rows.push(row);
        }
        section.notes.push(format!(
            "{label}: {} samples, {} ticks not delivered",
            s.ms.len(),
            s.lost
        ));
    };
    add("ingestd, no reorder window", &no_reorder);
    add("ingestd, reorder window 40 ms", &reorder);
    section.notes.push(format!(
        "bare: {} samples, {} ticks not read; bare p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        bare.ms.len(),
        bare.lost,
        {
            let mut b = bare.ms.clone();
            b.sort_by(f64::total_cmp);
            quantile(&b, 0.5)
        },
        {
            let mut b = bare.ms.clone();
            b.sort_by(f64::total_cmp);
            quantile(&b, 0.99)
        },
        bare.ms.iter().copied().fold(0.0, f64::max)
    ));
    Ok(section)
}
