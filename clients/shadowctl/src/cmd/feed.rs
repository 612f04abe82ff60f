//! `shadowctl feed`: publish a market feed into the Redis Stream, as the
//! order-book process would.
//!
//! - `feed synthetic`: the deterministic synthetic market (same seed, same
//!   entries), optionally with injected gaps, duplicates, swaps and malformed
//!   entries for tests and demos.
//! - `feed replay FILE…`: JSON Lines of ticks, or Tardis-style CSV (`quotes`
//!   and `trades` files, merged by arrival time, or by exchange time with
//!   `--clock exchange`); gzipped files are read as they are.
//!
//! Both write through [`shadowkpi_feed`] and print a one-line summary (or the
//! [`shadowkpi_feed::FeedReport`] with `--json`). Ctrl-C stops the feed and
//! still prints what was written. The Redis is `--redis-url`/`REDIS_URL`
//! (default `redis://127.0.0.1:6379`); when it cannot be reached the command
//! exits 3.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use shadowkpi_domain::feed::synthetic::{
    DEFAULT_REORDER_MAX_MS, DEFAULT_START_MS, FaultRates, Scenario, SyntheticConfig,
};
use shadowkpi_feed::FeedError;
use shadowkpi_feed::{
    CancellationToken, FeedReport, MergeClock, PublishOptions, ReplayFormat, ReplaySource,
};
use shadowkpi_runtime::config::redact_url;
use shadowkpi_runtime::parse_duration;
use shadowkpi_runtime::status::Reason;
use shadowkpi_store::{RedisStore, Store, StoreOptions};

use crate::error::{CliError, CliResult};
use crate::globals::GlobalArgs;

/// Redis used when `--redis-url`/`REDIS_URL` is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

const REDIS_HINT: &str = "start Redis (e.g. `redis-server --port 6379 --save ''` or `docker compose up -d redis`) or point --redis-url/REDIS_URL at it";

/// Feed sources.
#[derive(Debug, clap::Subcommand)]
pub enum FeedCommand {
    /// A deterministic synthetic market (same seed, same entries).
    Synthetic(SyntheticArgs),
    /// Replay recorded ticks: JSON Lines, or Tardis-style quotes/trades CSV.
    Replay(ReplayArgs),
}

/// Where and how entries are written.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Redis Stream to write.
    #[arg(long, env = "SHADOWKPI_STREAM", default_value = "lob:ticks")]
    pub stream: String,
    /// Approximate length cap of the stream (`XADD … MAXLEN ~ n`); 0 disables
    /// trimming. Keep it above the backlog ingestd may have to catch up on.
    #[arg(long, default_value_t = 1_000_000)]
    pub maxlen: u64,
    /// Entries per pipeline.
    #[arg(id = "feed_batch_size", long = "batch-size", default_value_t = 500)]
    pub batch_size: usize,
}

impl OutputArgs {
    fn options(&self, speed: Option<f64>) -> PublishOptions {
        PublishOptions {
            stream: self.stream.clone(),
            maxlen: (self.maxlen > 0).then_some(self.maxlen),
            speed,
            batch_size: self.batch_size.max(1),
        }
    }
}

/// Flags of `shadowctl feed synthetic`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl feed synthetic --symbols BTCUSDT ETHUSDT --duration 10m --rate 2000 --seed 7\n  shadowctl feed synthetic --duration 2h --rate 50 --realtime          # a live-looking feed\n  shadowctl feed synthetic --gap-rate 0.001 --dup-rate 0.001 --reorder-rate 0.002 --malformed-rate 0.0005 --json\n  shadowctl feed synthetic --scenario bounce                            # the old demo market\n\nThe calibrated market has the shape of the real BTCUSDT USD-M recording (one-tick\nspread, sizes, 1 s volatility, trade share); its ~192 quote updates/s are --rate 192\nper symbol. --duration is event time; without --realtime the feed is written as fast as Redis takes it,\nstarting at a fixed instant (--start-ms) so the same seed gives the same entries.\nThe fault counts printed are exactly what ingestd will count (with its default 40 ms\nreorder window)."
)]
pub struct SyntheticArgs {
    /// Symbols (any spelling: BTC-USDT, btc/usdt).
    #[arg(long, num_args = 1.., default_values = ["BTCUSDT", "ETHUSDT"])]
    pub symbols: Vec<String>,
    /// Length of the feed in event time (`60s`, `10m`, `2h`).
    #[arg(id = "feed_duration", long = "duration", default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,
    /// Ticks per second of event time, over all symbols.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Synthetic market (`calibrated`: the shape of the real BTCUSDT USD-M recording;
    /// `bounce`: the original demo market with a 4 bp mean-reverting bid/ask bounce
    /// a market maker earns on; docs/synthetic-market.md).
    #[arg(long, default_value_t = Scenario::Calibrated)]
    pub scenario: Scenario,
    /// Pace event time to the wall clock (and start it now).
    #[arg(long)]
    pub realtime: bool,
    /// Event time of the first tick, ms since the epoch [default: a fixed
    /// instant (1700000000000), or now with --realtime].
    #[arg(long)]
    pub start_ms: Option<i64>,
    /// Probability that a tick is skipped (a sequence gap).
    #[arg(long, default_value_t = 0.0)]
    pub gap_rate: f64,
    /// Probability that a tick is written twice.
    #[arg(long, default_value_t = 0.0)]
    pub dup_rate: f64,
    /// Probability that a tick is written after its successor.
    #[arg(long, default_value_t = 0.0)]
    pub reorder_rate: f64,
    /// Probability that a malformed entry is written before a tick.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Format of replay files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// By extension (.jsonl/.ndjson/.json, .csv), else by content.
    Auto,
    /// JSON Lines with the stream's field names.
    Jsonl,
    /// Tardis-style CSV (quotes and trades files).
    Tardis,
}

/// The clock Tardis CSV rows are merged by (and stamped with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockArg {
    /// `local_timestamp`: when the recorder received each message (arrival
    /// order).
    Local,
    /// `timestamp`: the exchange's time (Tardis writes the arrival time where
    /// the exchange sends none, e.g. Binance spot quotes).
    Exchange,
}

impl From<ClockArg> for MergeClock {
    fn from(c: ClockArg) -> Self {
        match c {
            ClockArg::Local => MergeClock::Local,
            ClockArg::Exchange => MergeClock::Exchange,
        }
    }
}

/// Help on the two clocks and the timestamp resolution, shared by `feed
/// replay` and `simulate` (a macro so `concat!` can splice it into their help).
#[macro_export]
macro_rules! clock_help {
    () => {
        "Tardis CSV has two clocks, both integer µs: `local_timestamp` (when the recorder\nreceived the message) and `timestamp` (the exchange's time; for feeds without one,\nsuch as Binance spot quotes, Tardis repeats the arrival time). --clock local (the\ndefault) merges by arrival order; --clock exchange by `timestamp`, which is only\nright when every file carries exchange time (merging spot quotes and trades by it\nputs each trade as far after its quotes as the recorder lags the exchange).\nFiles are merged by the full µs value (stable: on a tie the file given first goes\nfirst), then the tick's ts_server is that time floored to integer ms, the feed's\nresolution. --clock local on a file without `local_timestamp` is an error."
    };
}

const REPLAY_HELP: &str = concat!(
    "Examples:\n  shadowctl feed replay ticks.jsonl\n  shadowctl feed replay data/binance-btcusdt-2024-08-08/usdm_*.csv.gz --speed 10   # by arrival time\n  shadowctl feed replay quotes.csv trades.csv --clock exchange --speed 1\n  shadowctl feed replay day.jsonl --symbols BTCUSDT --speed 10 --stream lob:ticks\n\nJSON Lines use the stream's field names (symbol, seq, ts_server, bid, ask, last_qty,\nbid_qty, ask_qty, last_px, side). Tardis CSV: quotes (timestamp, local_timestamp,\nbid_price, bid_amount, ask_price, ask_amount) and trades (timestamp, local_timestamp,\nside, price, amount); gzipped files are read as they are. Lines that cannot be used\nare skipped, counted and shown.\n\n",
    clock_help!()
);

/// Flags of `shadowctl feed replay`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = REPLAY_HELP)]
pub struct ReplayArgs {
    /// Files to replay: JSON Lines (one after the other) or Tardis CSV
    /// (merged by time), plain or gzipped (`.csv.gz` as Tardis ships them).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// File format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Clock Tardis CSV files are merged by and stamped with (ignored for
    /// JSON Lines).
    #[arg(long, value_enum, default_value_t = ClockArg::Local)]
    pub clock: ClockArg,
    /// Replay speed against the wall clock (1 real time, 10 ten times faster)
    /// [default: as fast as possible].
    #[arg(long)]
    pub speed: Option<f64>,
    /// Keep only these symbols.
    #[arg(id = "replay_symbols", long = "symbols", value_name = "SYMBOL", num_args = 1..)]
    pub symbols: Vec<String>,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(DEFAULT_START_MS)
}

impl SyntheticArgs {
    fn config(&self) -> SyntheticConfig {
        SyntheticConfig {
            symbols: self.symbols.clone(),
            seed: self.seed,
            start_ms: self.start_ms.unwrap_or(if self.realtime {
                now_ms()
            } else {
                DEFAULT_START_MS
            }),
            duration_ms: self.duration.as_millis() as i64,
            rate: self.rate,
            faults: FaultRates {
                gap: self.gap_rate,
                duplicate: self.dup_rate,
                reorder: self.reorder_rate,
                malformed: self.malformed_rate,
            },
            reorder_max_ms: DEFAULT_REORDER_MAX_MS,
            scenario: self.scenario,
        }
    }
}

async fn connect(global: &GlobalArgs) -> CliResult<RedisStore> {
    let url = global.redis_url.as_deref().unwrap_or(DEFAULT_REDIS_URL);
    RedisStore::connect(url, StoreOptions::default())
        .await
        .map_err(|e| CliError::StoreUnreachable {
            message: format!("redis at {} is unreachable: {e}", redact_url(url)),
            hint: Some(REDIS_HINT.into()),
        })
}

fn cli_error(e: FeedError) -> CliError {
    match e {
        FeedError::Store(s) if Reason::of_store(&s).is_store_unusable() => {
            CliError::StoreUnreachable {
                message: format!("redis became unusable while publishing: {s}"),
                hint: Some(REDIS_HINT.into()),
            }
        }
        FeedError::InvalidArgument { .. } | FeedError::Input(_) => CliError::Usage(e.to_string()),
        other => CliError::Service(other.to_string()),
    }
}

/// Stops the feed on Ctrl-C.
fn cancel_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            t.cancel();
        }
    });
    token
}

fn print_report(report: &FeedReport, json: bool) -> CliResult<()> {
    if json {
        let out = serde_json::to_string_pretty(report)
            .map_err(|e| CliError::Service(format!("json: {e}")))?;
        println!("{out}");
    } else {
        println!("{}", report.summary_line());
        for e in &report.errors {
            eprintln!("skipped: {e}");
        }
        if let Some(m) = report.maxlen
            && report.entries_written > m
        {
            eprintln!(
                "warning: {} entries written with MAXLEN ~ {m}: the oldest may be trimmed before ingestd reads them (raise --maxlen)",
                report.entries_written
            );
        }
    }
    Ok(())
}

/// Publishes a synthetic feed; returns its report.
pub async fn synthetic(
    store: &dyn Store,
    args: &SyntheticArgs,
    cancel: CancellationToken,
) -> CliResult<FeedReport> {
    let speed = args.realtime.then_some(1.0);
    shadowkpi_feed::publish_synthetic(store, args.config(), &args.output.options(speed), cancel)
        .await
        .map_err(cli_error)
}

/// Publishes replay files; returns the report.
pub async fn replay(
    store: &dyn Store,
    args: &ReplayArgs,
    cancel: CancellationToken,
) -> CliResult<FeedReport> {
    let mut sources = Vec::with_capacity(args.files.len());
    for f in &args.files {
        sources.push(ReplaySource::open(f).map_err(cli_error)?);
    }
    let format = match args.format {
        FormatArg::Auto => ReplayFormat::Auto,
        FormatArg::Jsonl => ReplayFormat::Jsonl,
        FormatArg::Tardis => ReplayFormat::Tardis,
    };
    shadowkpi_feed::publish_replay(
        store,
        sources,
        format,
        args.clock.into(),
        &args.symbols,
        &args.output.options(args.speed),
        cancel,
    )
    .await
    .map_err(cli_error)
}

/// Runs the command.
pub async fn run(args: FeedCommand, global: &GlobalArgs) -> CliResult<ExitCode> {
    let store = connect(global).await?;
    let cancel = cancel_on_ctrl_c();
    let report = match &args {
        FeedCommand::Synthetic(a) => synthetic(&store, a, cancel).await?,
        FeedCommand::Replay(a) => replay(&store, a, cancel).await?,
    };
    print_report(&report, global.json)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use shadowkpi_testkit::RedisServer;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        cmd: FeedCommand,
    }

    fn parse(args: &[&str]) -> FeedCommand {
        T::try_parse_from(std::iter::once("feed").chain(args.iter().copied()))
            .unwrap()
            .cmd
    }

    #[test]
    fn synthetic_flags_parse_with_their_defaults() {
        let FeedCommand::Synthetic(a) = parse(&[
            "synthetic",
            "--symbols",
            "BTCUSDT",
            "ETHUSDT",
            "--duration",
            "10m",
            "--rate",
            "2000",
            "--seed",
            "7",
        ]) else {
            panic!("not synthetic")
        };
        let c = a.config();
        assert_eq!(c.symbols, ["BTCUSDT", "ETHUSDT"]);
        assert_eq!((c.duration_ms, c.rate, c.seed), (600_000, 2000.0, 7));
        assert_eq!(c.start_ms, DEFAULT_START_MS);
        assert_eq!(c.faults, FaultRates::default());
        let o = a.output.options(None);
        assert_eq!(
            (o.stream.as_str(), o.maxlen, o.speed),
            ("lob:ticks", Some(1_000_000), None)
        );

        let FeedCommand::Synthetic(a) = parse(&[
            "synthetic",
            "--realtime",
            "--gap-rate",
            "0.01",
            "--maxlen",
            "0",
            "--start-ms",
            "5",
        ]) else {
            panic!("not synthetic")
        };
        assert_eq!(a.config().start_ms, 5);
        assert_eq!(a.config().faults.gap, 0.01);
        assert_eq!(a.output.options(Some(1.0)).maxlen, None);
    }

    #[test]
    fn replay_needs_a_file() {
        assert!(T::try_parse_from(["feed", "replay"]).is_err());
        let FeedCommand::Replay(a) = parse(&["replay", "q.csv", "t.csv", "--speed", "10"]) else {
            panic!("not replay")
        };
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.speed, Some(10.0));
        assert_eq!(MergeClock::from(a.clock), MergeClock::Local);
        let FeedCommand::Replay(a) = parse(&["replay", "q.csv", "--clock", "exchange"]) else {
            panic!("not replay")
        };
        assert_eq!(MergeClock::from(a.clock), MergeClock::Exchange);
        assert!(T::try_parse_from(["feed", "replay", "q.csv", "--clock", "wall"]).is_err());
    }

    fn global(url: &str) -> GlobalArgs {
        #[derive(Debug, Parser)]
        struct G {
            #[command(flatten)]
            global: GlobalArgs,
        }
        G::try_parse_from(["shadowctl", "--redis-url", url, "--json"])
            .unwrap()
            .global
    }

    #[tokio::test]
    async fn synthetic_writes_the_stream_and_an_unreachable_redis_exits_3() {
        let redis = RedisServer::start();
        let FeedCommand::Synthetic(a) = parse(&[
            "synthetic",
            "--duration",
            "5s",
            "--rate",
            "200",
            "--stream",
            "cli:ticks",
        ]) else {
            panic!("not synthetic")
        };
        let store = connect(&global(&redis.url())).await.unwrap();
        let report = synthetic(&store, &a, CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            store.stream_len("cli:ticks").await.unwrap(),
            report.entries_written
        );
        assert_eq!(report.ticks, report.entries_written);

        let port = shadowkpi_testkit::free_port();
        let err = run(
            FeedCommand::Synthetic(a),
            &global(&format!("redis://127.0.0.1:{port}")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::from(3));
    }
}
