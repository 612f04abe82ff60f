//! Publishing a market feed into the tick stream: the engine of `shadowctl
//! feed`, reusable in-process (the all-in-one mode runs the synthetic feed
//! through it). A publisher needs only the store and the domain crate, not the
//! consumer service (ingestd) that reads the stream.
//!
//! - [`publish_synthetic`]: the deterministic synthetic market of
//!   [`shadowkpi_domain::feed::synthetic`], with optional fault injection.
//! - [`publish_replay`]: JSON Lines of ticks, or Tardis-style CSV (`quotes` and
//!   `trades` files merged by the microsecond time of a [`MergeClock`]:
//!   `local_timestamp`, arrival order, by default; `ts_server` is that time
//!   floored to ms), see [`shadowkpi_domain::feed::replay`].
//!
//! Entries are written with `XADD <stream> MAXLEN ~ n *` in pipelines of
//! [`PublishOptions::batch_size`]. By default as fast as possible; with
//! [`PublishOptions::speed`] event time is paced to the wall clock (`1.0` is
//! real time, `10.0` ten times faster).
//!
//! Every entry carries `ts_wall` ([`field::TS_WALL`]): the wall-clock time
//! (ms since the epoch) the pacing meant it to be written at, or `0` when the
//! feed is written unpaced. Ingest turns it into `ts_ingest_ms` so that
//! `clock_drift_ms` measures the replay's lateness against its own schedule
//! (paced) or is absent (unpaced), never the age of the recording; see
//! [`shadowkpi_domain::feed::decode::ingest_time_ms`].
//!
//! Transient store errors are retried a
//! few times with backoff; a retried pipeline may write some entries twice,
//! which the sequence guard of ingestd drops.

#![warn(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use shadowkpi_domain::feed::decode::{TS_WALL_UNPACED, encode, field};
pub use shadowkpi_domain::feed::replay::MergeClock;
use shadowkpi_domain::feed::replay::{ReplayError, TardisMerge, jsonl, tardis_csv};
use shadowkpi_domain::feed::synthetic::{SymbolCounts, SyntheticConfig, SyntheticFeed};
use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_domain::tick::Tick;
use shadowkpi_runtime::retry::RetryPolicy;
use shadowkpi_store::Store;
pub use tokio_util::sync::CancellationToken;

mod error;

pub use error::FeedError;

/// A failed pipeline of the feed is written again up to four times, 200 ms
/// then doubling.
const WRITE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    backoff: Duration::from_millis(200),
    max_backoff: Duration::from_secs(2),
};

/// How to write a feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishOptions {
    /// The stream (`lob:ticks`).
    pub stream: String,
    /// Approximate length cap (`MAXLEN ~ n`); `None` for no trimming.
    pub maxlen: Option<u64>,
    /// Pace event time to the wall clock at this speed (`1.0` real time);
    /// `None` writes as fast as possible.
    pub speed: Option<f64>,
    /// Entries per pipeline.
    pub batch_size: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            stream: "lob:ticks".into(),
            maxlen: Some(1_000_000),
            speed: None,
            batch_size: 500,
        }
    }
}

/// The outcome of publishing a feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedReport {
    /// The stream written.
    pub stream: String,
    /// What was published (`synthetic seed=7`, file names).
    pub source: String,
    /// Stream entries written (ticks, duplicates, malformed entries).
    pub entries_written: u64,
    /// Good ticks written.
    pub ticks: u64,
    /// Per symbol: ticks and the faults a reader will count.
    pub symbols: BTreeMap<String, SymbolCounts>,
    /// Malformed entries per reject reason.
    pub rejected: BTreeMap<String, u64>,
    /// Replay lines that could not be used (not written).
    pub skipped: u64,
    /// The first few of those, with file and line.
    pub errors: Vec<String>,
    /// Event time of the first entry, ms.
    pub first_ts_ms: Option<i64>,
    /// Event time of the last entry, ms.
    pub last_ts_ms: Option<i64>,
    /// Wall time spent, ms.
    pub elapsed_ms: f64,
    /// Entries written per second of wall time.
    pub entries_per_sec: f64,
    /// True when the feed was stopped before its end.
    pub cancelled: bool,
    /// The length cap used.
    pub maxlen: Option<u64>,
}

impl FeedReport {
    /// One line for humans.
    pub fn summary_line(&self) -> String {
        let mut s = format!(
            "{} {} entries to {} in {:.1} s ({:.0} entries/s)",
            if self.cancelled {
                "stopped after"
            } else {
                "wrote"
            },
            self.entries_written,
            self.stream,
            self.elapsed_ms / 1000.0,
            self.entries_per_sec
        );
        let per: Vec<String> = self
            .symbols
            .iter()
            .map(|(k, c)| format!("{k} {}", c.ticks))
            .collect();
        if !per.is_empty() {
            s.push_str(&format!("; ticks: {}", per.join(", ")));
        }
        let t: SymbolCounts = self
            .symbols
            .values()
            .fold(SymbolCounts::default(), |mut a, c| {
                a.seq_gaps += c.seq_gaps;
                a.duplicates += c.duplicates;
                a.reordered += c.reordered;
                a
            });
        let malformed: u64 = self.rejected.values().sum();
        if t.seq_gaps + t.duplicates + t.reordered + malformed > 0 {
            s.push_str(&format!(
                "; injected: {} gaps, {} duplicates, {} reordered, {} malformed",
                t.seq_gaps, t.duplicates, t.reordered, malformed
            ));
        }
        if self.skipped > 0 {
            s.push_str(&format!("; {} lines skipped", self.skipped));
        }
        if let (Some(a), Some(b)) = (self.first_ts_ms, self.last_ts_ms) {
            s.push_str(&format!("; event time {a}..{b} ms"));
        }
        s
    }
}

/// Writes entries in pipelines, pacing them when asked.
struct Sink<'a> {
    store: &'a dyn Store,
    opts: &'a PublishOptions,
    cancel: &'a CancellationToken,
    batch: Vec<Vec<(String, String)>>,
    written: u64,
    started: Instant,
    /// Pacing origin: event time, the monotonic instant and the wall-clock ms
    /// it maps to.
    origin: Option<(i64, tokio::time::Instant, i64)>,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl<'a> Sink<'a> {
    /// `origin_ms` is the event time that corresponds to "now" when pacing
    /// (the start of a synthetic feed); `None` takes the first entry's.
    fn new(
        store: &'a dyn Store,
        opts: &'a PublishOptions,
        cancel: &'a CancellationToken,
        origin_ms: Option<i64>,
    ) -> Result<Self, FeedError> {
        if let Some(s) = opts.speed
            && !(s.is_finite() && s > 0.0)
        {
            return Err(FeedError::invalid(
                "speed",
                format!("must be a positive number, got {s}"),
            ));
        }
        if opts.stream.is_empty() {
            return Err(FeedError::invalid("stream", "must not be empty"));
        }
        Ok(Self {
            store,
            opts,
            cancel,
            batch: Vec::with_capacity(opts.batch_size.max(1)),
            written: 0,
            started: Instant::now(),
            origin: origin_ms.map(|t| (t, tokio::time::Instant::now(), wall_now_ms())),
            first_ts: None,
            last_ts: None,
        })
    }

    /// Queues one entry (adding its `ts_wall`); false once cancelled.
    async fn push(
        &mut self,
        ts: i64,
        mut fields: Vec<(String, String)>,
    ) -> Result<bool, FeedError> {
        if self.cancel.is_cancelled() {
            return Ok(false);
        }
        self.first_ts.get_or_insert(ts);
        self.last_ts = Some(ts);
        let Some(speed) = self.opts.speed else {
            fields.push((field::TS_WALL.into(), TS_WALL_UNPACED.into()));
            return self.queue(fields).await;
        };
        let (t0, w0, wall0) = *self
            .origin
            .get_or_insert_with(|| (ts, tokio::time::Instant::now(), wall_now_ms()));
        let offset_ms = (ts - t0).max(0) as f64 / speed;
        // Never 0, which would read as "unpaced".
        let due_wall = (wall0 + offset_ms.round() as i64).max(1);
        fields.push((field::TS_WALL.into(), due_wall.to_string()));
        let due = w0 + Duration::from_secs_f64(offset_ms / 1000.0);
        if due > tokio::time::Instant::now() {
            self.flush().await?;
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = self.cancel.cancelled() => return Ok(false),
            }
        }
        self.queue(fields).await
    }

    async fn queue(&mut self, fields: Vec<(String, String)>) -> Result<bool, FeedError> {
        self.batch.push(fields);
        if self.batch.len() >= self.opts.batch_size.max(1) {
            self.flush().await?;
        }
        Ok(true)
    }

    async fn flush(&mut self) -> Result<(), FeedError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut attempt = 1;
        loop {
            match self
                .store
                .append(&self.opts.stream, &self.batch, self.opts.maxlen)
                .await
            {
                Ok(_) => break,
                Err(e)
                    if e.is_transient()
                        && WRITE_RETRY.retries_after(attempt)
                        && !self.cancel.is_cancelled() =>
                {
                    tracing::warn!(error = %e, attempt, "feed write failed, retrying");
                    tokio::time::sleep(WRITE_RETRY.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(FeedError::Store(e)),
            }
        }
        self.written += self.batch.len() as u64;
        self.batch.clear();
        Ok(())
    }

    fn report(&self, source: String, cancelled: bool) -> FeedReport {
        let elapsed = self.started.elapsed().as_secs_f64();
        FeedReport {
            stream: self.opts.stream.clone(),
            source,
            entries_written: self.written,
            ticks: 0,
            symbols: BTreeMap::new(),
            rejected: BTreeMap::new(),
            skipped: 0,
            errors: Vec::new(),
            first_ts_ms: self.first_ts,
            last_ts_ms: self.last_ts,
            elapsed_ms: elapsed * 1000.0,
            entries_per_sec: if elapsed > 0.0 {
                self.written as f64 / elapsed
            } else {
                0.0
            },
            cancelled,
            maxlen: self.opts.maxlen,
        }
    }
}

/// The wall clock, ms since the epoch.
fn wall_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Publishes the synthetic feed of `config` until its end (or `cancel`).
pub async fn publish_synthetic(
    store: &dyn Store,
    config: SyntheticConfig,
    opts: &PublishOptions,
    cancel: CancellationToken,
) -> Result<FeedReport, FeedError> {
    let mut feed = SyntheticFeed::new(config).map_err(|e| {
        let field = match &e {
            shadowkpi_domain::feed::synthetic::SyntheticError::Symbols(_) => "symbols",
            shadowkpi_domain::feed::synthetic::SyntheticError::Rate(_) => "rate",
            shadowkpi_domain::feed::synthetic::SyntheticError::Duration(_) => "duration",
            shadowkpi_domain::feed::synthetic::SyntheticError::FaultRate { name, .. } => name,
        };
        FeedError::invalid(field, e.to_string())
    })?;
    let source = {
        let c = feed.config();
        format!(
            "synthetic seed={} symbols={} rate={}",
            c.seed,
            c.symbols.join(","),
            c.rate
        )
    };
    // Paced from the feed's start, so in real time a tick is written when its
    // event time comes, never before.
    let mut sink = Sink::new(store, opts, &cancel, Some(feed.config().start_ms))?;
    let mut cancelled = false;
    for entry in feed.by_ref() {
        if !sink.push(entry.ts_ms(), entry.fields()).await? {
            cancelled = true;
            break;
        }
    }
    sink.flush().await?;
    let counts = feed.counts().clone();
    let mut report = sink.report(source, cancelled);
    report.ticks = counts.totals().ticks;
    report.symbols = counts.symbols;
    report.rejected = counts.rejected;
    Ok(report)
}

/// Format of replay files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplayFormat {
    /// By extension (`.jsonl`, `.ndjson`, `.json`: JSON Lines; `.csv`: Tardis;
    /// each also with `.gz`), else by content (a line starting with `{` is JSON
    /// Lines).
    #[default]
    Auto,
    /// JSON Lines of ticks.
    Jsonl,
    /// Tardis-style CSV (quotes and trades).
    Tardis,
}

/// The first two bytes of a gzip file.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One replay input.
pub struct ReplaySource {
    name: String,
    reader: Box<dyn BufRead + Send>,
}

impl std::fmt::Debug for ReplaySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaySource")
            .field("name", &self.name)
            .finish()
    }
}

impl ReplaySource {
    /// Opens a file; a gzip file (told by its magic bytes, whatever its name:
    /// Tardis ships `.csv.gz`) is decompressed as it is read.
    pub fn open(path: &Path) -> Result<Self, FeedError> {
        let name = path.display().to_string();
        let file =
            File::open(path).map_err(|e| FeedError::Input(format!("cannot open {name}: {e}")))?;
        let mut reader = BufReader::new(file);
        let head = reader
            .fill_buf()
            .map_err(|e| FeedError::Input(format!("cannot read {name}: {e}")))?;
        if head.starts_with(&GZIP_MAGIC) {
            // Multi-member: `cat a.gz b.gz` is a valid gzip file too.
            let inflated = BufReader::new(flate2::bufread::MultiGzDecoder::new(reader));
            return Ok(Self::from_reader(name, inflated));
        }
        Ok(Self::from_reader(name, reader))
    }

    /// Any buffered reader; `name` labels errors (and drives format detection
    /// by extension).
    pub fn from_reader(name: impl Into<String>, reader: impl BufRead + Send + 'static) -> Self {
        Self {
            name: name.into(),
            reader: Box::new(reader),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn format(&mut self, asked: ReplayFormat) -> Result<ReplayFormat, FeedError> {
        if asked != ReplayFormat::Auto {
            return Ok(asked);
        }
        let lower = self.name.to_ascii_lowercase();
        let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
        if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return Ok(ReplayFormat::Jsonl);
        }
        if lower.ends_with(".csv") {
            return Ok(ReplayFormat::Tardis);
        }
        let head = self
            .reader
            .fill_buf()
            .map_err(|e| FeedError::Input(format!("cannot read {}: {e}", self.name)))?;
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        Ok(if first == Some(&b'{') {
            ReplayFormat::Jsonl
        } else {
            ReplayFormat::Tardis
        })
    }
}

fn replay_error(e: ReplayError) -> FeedError {
    FeedError::Input(e.to_string())
}

/// The ticks of replay files, in feed order.
type TickStream = Box<dyn Iterator<Item = Result<Tick, ReplayError>> + Send>;

/// Counts the usable rows an iterator yields (per replay file).
struct Counted<I> {
    inner: I,
    rows: Arc<AtomicU64>,
}

impl<I, T> Iterator for Counted<I>
where
    I: Iterator<Item = Result<T, ReplayError>>,
{
    type Item = Result<T, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        if item.is_ok() {
            self.rows.fetch_add(1, Ordering::Relaxed);
        }
        Some(item)
    }
}

/// Replay files opened as one stream of ticks, with their names and a
/// counter of usable rows per file.
struct OpenReplay {
    names: Vec<String>,
    rows: Vec<Arc<AtomicU64>>,
    ticks: TickStream,
}

/// Opens replay files as one stream of ticks: JSON Lines files one after the
/// other, or Tardis CSV files merged by `clock`. Mixing the two kinds, or a
/// CSV file without the clock's column, is an error naming the file.
fn replay_ticks(
    sources: Vec<ReplaySource>,
    format: ReplayFormat,
    clock: MergeClock,
) -> Result<OpenReplay, FeedError> {
    if sources.is_empty() {
        return Err(FeedError::invalid("file", "no replay file given"));
    }
    let mut sources = sources;
    let mut formats = Vec::new();
    for s in &mut sources {
        formats.push(s.format(format)?);
    }
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let rows: Vec<Arc<AtomicU64>> = names.iter().map(|_| Arc::default()).collect();
    let ticks: TickStream = if formats.iter().all(|f| *f == ReplayFormat::Jsonl) {
        let counters = rows.clone();
        Box::new(
            sources
                .into_iter()
                .zip(counters)
                .flat_map(|(s, rows)| Counted {
                    inner: jsonl(s.reader, &s.name),
                    rows,
                }),
        )
    } else if formats.iter().all(|f| *f == ReplayFormat::Tardis) {
        let mut csvs = Vec::new();
        for (s, rows) in sources.into_iter().zip(rows.iter().cloned()) {
            csvs.push(Counted {
                inner: tardis_csv(s.reader, &s.name, clock).map_err(replay_error)?,
                rows,
            });
        }
        Box::new(TardisMerge::new(csvs))
    } else {
        return Err(FeedError::invalid(
            "file",
            "cannot mix JSON Lines and CSV files in one replay",
        ));
    };
    Ok(OpenReplay { names, rows, ticks })
}

/// Replay files read into memory, for offline use (`shadowctl simulate`).
#[derive(Debug, Clone, Default)]
pub struct ReplayTicks {
    /// The file names, as given.
    pub names: Vec<String>,
    /// Every usable tick, in feed order.
    pub ticks: Vec<Tick>,
    /// Lines that could not be used (skipped).
    pub skipped: u64,
    /// The first few of those, with file and line.
    pub errors: Vec<String>,
}

/// Reads replay files the way [`publish_replay`] does (same formats, same
/// merge, same skipping of unusable lines) into memory. An unreadable file,
/// one without the clock's column, or one without a single usable row (empty,
/// a header only, or nothing but bad lines) is an error naming it.
pub fn read_replay(
    sources: Vec<ReplaySource>,
    format: ReplayFormat,
    clock: MergeClock,
) -> Result<ReplayTicks, FeedError> {
    let OpenReplay { names, rows, ticks } = replay_ticks(sources, format, clock)?;
    let mut out = ReplayTicks {
        names,
        ..ReplayTicks::default()
    };
    for item in ticks {
        match item {
            Ok(t) => out.ticks.push(t),
            Err(e) if e.fatal => return Err(replay_error(e)),
            Err(e) => {
                out.skipped += 1;
                if out.errors.len() < ReplayTally::MAX_ERRORS {
                    out.errors.push(e.to_string());
                }
            }
        }
    }
    for (name, rows) in out.names.iter().zip(&rows) {
        if rows.load(Ordering::Relaxed) == 0 {
            let why = match out.errors.iter().find(|e| e.starts_with(name.as_str())) {
                Some(e) => format!(" (first bad line: {e})"),
                None => String::new(),
            };
            return Err(FeedError::Input(format!(
                "{name}: no usable row: the file is empty or holds no tick{why}"
            )));
        }
    }
    Ok(out)
}

/// Publishes recorded ticks: JSON Lines files one after the other, or
/// Tardis-style CSV files merged by `clock` (ignored for JSON Lines, whose
/// `ts_server` is given). Lines that cannot be used are skipped and counted;
/// an unreadable file, or a CSV file without the clock's column, is an error
/// naming the file. `symbols` (any spelling) keeps only those symbols when not
/// empty.
pub async fn publish_replay(
    store: &dyn Store,
    sources: Vec<ReplaySource>,
    format: ReplayFormat,
    clock: MergeClock,
    symbols: &[String],
    opts: &PublishOptions,
    cancel: CancellationToken,
) -> Result<FeedReport, FeedError> {
    if sources.is_empty() {
        return Err(FeedError::invalid("file", "no replay file given"));
    }
    let mut keep = Vec::new();
    for s in symbols {
        keep.push(normalize_symbol(s).ok_or_else(|| {
            FeedError::invalid("symbols", format!("`{s}` is empty once normalised"))
        })?);
    }
    let OpenReplay { names, ticks, .. } = replay_ticks(sources, format, clock)?;
    let source = format!("replay {}", names.join(" "));
    let mut sink = Sink::new(store, opts, &cancel, None)?;
    let mut out = ReplayTally::default();
    let mut cancelled = false;
    for item in ticks {
        if !out.take(item, &keep, &mut sink).await? {
            cancelled = true;
            break;
        }
    }
    sink.flush().await?;
    let mut report = sink.report(source, cancelled);
    report.ticks = out.symbols.values().map(|c| c.ticks).sum();
    report.symbols = out.symbols;
    report.skipped = out.skipped;
    report.errors = out.errors;
    Ok(report)
}

#[derive(Debug, Default)]
struct ReplayTally {
    symbols: BTreeMap<String, SymbolCounts>,
    skipped: u64,
    errors: Vec<String>,
}

impl ReplayTally {
    const MAX_ERRORS: usize = 5;

    async fn take(
        &mut self,
        item: Result<Tick, ReplayError>,
        keep: &[String],
        sink: &mut Sink<'_>,
    ) -> Result<bool, FeedError> {
        let tick = match item {
            Ok(t) => t,
            Err(e) if e.fatal => return Err(replay_error(e)),
            Err(e) => {
                self.skipped += 1;
                if self.errors.len() < Self::MAX_ERRORS {
                    tracing::warn!(error = %e, "replay line skipped");
                    self.errors.push(e.to_string());
                }
                return Ok(true);
            }
        };
        if !keep.is_empty() && !keep.contains(&tick.symbol) {
            return Ok(true);
        }
        let written = sink.push(tick.ts_server_ms, encode(&tick)).await?;
        if written {
            match self.symbols.get_mut(&tick.symbol) {
                Some(c) => c.ticks += 1,
                None => {
                    self.symbols.insert(
                        tick.symbol,
                        SymbolCounts {
                            ticks: 1,
                            ..SymbolCounts::default()
                        },
                    );
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shadowkpi_domain::tick::Side;

    fn sample(file: &str) -> ReplaySource {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/binance-btcusdt-2024-08-08")
            .join(file);
        ReplaySource::open(&path).unwrap()
    }

    /// Trades, and those printing at or through the touch last seen before them.
    fn trades_at_the_touch(market: &str, clock: MergeClock) -> (u64, u64) {
        let read = read_replay(
            vec![
                sample(&format!("{market}_quotes.csv.gz")),
                sample(&format!("{market}_trades.csv.gz")),
            ],
            ReplayFormat::Auto,
            clock,
        )
        .unwrap();
        assert_eq!(read.skipped, 0);
        let trades: Vec<&Tick> = read.ticks.iter().filter(|t| t.last_qty > 0.0).collect();
        let at = trades
            .iter()
            .filter(|t| {
                let px = t.last_px.unwrap_or_default();
                (t.side == Side::Buy && px >= t.ask) || (t.side == Side::Sell && px <= t.bid)
            })
            .count();
        (trades.len() as u64, at as u64)
    }

    // The data README's figures: in arrival order ~50 % (spot) and ~85 %
    // (USD-M) of trades print at or through the last seen touch; by exchange
    // time spot trades land 1.27 s late, on books that moved on.
    #[test]
    fn the_real_recordings_merge_in_arrival_order_by_default() {
        assert_eq!(
            trades_at_the_touch("spot", MergeClock::Local),
            (19_904, 9_872)
        );
        assert_eq!(
            trades_at_the_touch("spot", MergeClock::Exchange),
            (19_904, 6_479)
        );
        assert_eq!(
            trades_at_the_touch("usdm", MergeClock::Local),
            (21_313, 18_110)
        );
        assert_eq!(
            trades_at_the_touch("usdm", MergeClock::Exchange),
            (21_313, 15_604)
        );
    }
}
