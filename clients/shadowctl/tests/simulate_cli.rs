//! `shadowctl simulate`, the real binary, on the real Binance USD-M sample
//! shipped in `data/`: the windows it reports, that every tick was read, that
//! the totals are the sums of the windows, the JSON document's shape, the
//! clocks, and the exit codes (HOLD with --fail-on-hold, bad input).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Rows of `usdm_quotes.csv.gz` and `usdm_trades.csv.gz` (see the data README).
const USDM_ROWS: u64 = 66_089 + 21_313;

fn data(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/binance-btcusdt-2024-08-08")
        .join(file)
        .display()
        .to_string()
}

fn usdm() -> Vec<String> {
    vec![data("usdm_quotes.csv.gz"), data("usdm_trades.csv.gz")]
}

fn shadowctl(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shadowctl"))
        .arg("simulate")
        .args(args)
        .env_remove("SHADOWKPI_CONFIG")
        .env_remove("REDIS_URL")
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut all = usdm();
    all.extend(args.iter().map(|s| s.to_string()));
    all.push("--json".into());
    let out = shadowctl(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_real_usdm_sample_gives_every_window_and_totals_that_add_up() {
    let doc = json(&[]);
    assert_eq!(u(&doc["ticks_read"]), USDM_ROWS);
    assert_eq!(u(&doc["lines_skipped"]), 0);
    let symbols = doc["symbols"].as_object().unwrap();
    assert_eq!(symbols.keys().collect::<Vec<_>>(), ["BTCUSDT"]);
    let btc = &doc["symbols"]["BTCUSDT"];
    assert_eq!(f(&btc["instrument"]["tick_size"]), 0.1);
    assert_eq!(f(&btc["instrument"]["lot_size"]), 0.001);
    assert_eq!(btc["instrument"]["source"], "inferred");

    // 343 s of data in 60 s windows from the first arrival (local clock, ms
    // floor of 1723161255088169 µs): five full windows and a partial sixth.
    let windows = btc["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 6);
    let t0 = 1_723_161_255_088_i64;
    for (i, w) in windows.iter().enumerate() {
        assert_eq!(u(&w["iteration"]), i as u64 + 1);
        let start = t0 + 60_000 * i as i64;
        assert_eq!(w["start_ms"].as_i64(), Some(start));
        assert_eq!(w["end_ms"].as_i64(), Some(start + 60_000));
        assert_eq!(w["partial"], i == 5, "window {}", i + 1);
        assert!(
            u(&w["ticks"]) > 5_000,
            "window {} has {}",
            i + 1,
            w["ticks"]
        );
        // The split by liquidity is the KPI set's count.
        assert_eq!(u(&w["maker_fills"]), u(&w["kpis"]["maker_count"]));
        assert_eq!(u(&w["taker_fills"]), u(&w["kpis"]["taker_count"]));
        assert!(w["kpis"]["risk_ratio"].is_number());
    }

    // Totals are the windows' sums, and every tick was applied.
    let totals = &btc["totals"];
    let sum = |k: &str| windows.iter().map(|w| u(&w[k])).sum::<u64>();
    let vol = |k: &str| windows.iter().map(|w| f(&w[k])).sum::<f64>();
    assert_eq!(u(&totals["ticks"]), USDM_ROWS);
    assert_eq!(sum("ticks"), USDM_ROWS);
    assert_eq!(u(&totals["maker_fills"]), sum("maker_fills"));
    assert_eq!(u(&totals["taker_fills"]), sum("taker_fills"));
    assert_eq!(f(&totals["maker_volume"]), vol("maker_volume"));
    assert_eq!(f(&totals["taker_volume"]), vol("taker_volume"));
    assert!(
        u(&totals["maker_fills"]) > 0,
        "the strategy traded: {totals}"
    );

    // The gate: six windows are fewer than the 48 it needs.
    assert_eq!(doc["verdict"]["verdict"], "HOLD");
    let reasons = doc["verdict"]["symbols"][0]["reasons"].as_array().unwrap();
    assert_eq!(reasons[0], "windows 6 < 48");
    assert_eq!(u(&doc["verdict"]["symbols"][0]["windows"]), 6);
    assert_eq!(doc["model"]["name"], "shadow");
    assert!(doc["params"]["BTCUSDT"]["inventory_limit"].is_number());

    // Same files, same seed: the same document.
    assert_eq!(json(&[]), doc);
}

#[test]
fn iterations_window_and_clock_shape_the_windows() {
    let doc = json(&["--iterations", "2", "--window", "30s", "--min-windows", "2"]);
    let windows = doc["symbols"]["BTCUSDT"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 2);
    for w in windows {
        assert_eq!(
            w["end_ms"].as_i64().unwrap() - w["start_ms"].as_i64().unwrap(),
            30_000
        );
        assert_eq!(w["partial"], false);
    }
    assert!(u(&doc["symbols"]["BTCUSDT"]["totals"]["ticks"]) < USDM_ROWS / 2);
    assert_eq!(u(&doc["verdict"]["symbols"][0]["windows"]), 2);
    assert_eq!(u(&doc["thresholds"]["min_windows"]), 2);

    // By exchange time the first event is the first quote's `timestamp`
    // (1723161256313000 µs), 1.22 s after its arrival on the recorder's clock.
    let doc = json(&["--clock", "exchange", "--iterations", "1"]);
    let w = &doc["symbols"]["BTCUSDT"]["windows"][0];
    assert_eq!(w["start_ms"].as_i64(), Some(1_723_161_256_313));
}

#[test]
fn hold_exits_1_only_with_fail_on_hold() {
    let mut args = usdm();
    let out = shadowctl(&args);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("window start (UTC)"), "{text}");
    assert!(text.contains("2024-08-08T23:54:15.088Z"), "{text}");
    assert!(text.contains("verdict: HOLD"), "{text}");
    args.push("--fail-on-hold".into());
    assert_eq!(shadowctl(&args).status.code(), Some(1));
}

fn fails_with_2(args: Vec<String>, needles: &[&str]) {
    let out = shadowctl(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in {err}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_exits_2_naming_the_file_or_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv.gz").display().to_string();
    fails_with_2(vec![missing.clone()], &["cannot open", &missing]);

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.display().to_string();
    fails_with_2(vec![empty.clone()], &["no usable row", &empty]);
    let empty_csv = dir.path().join("empty.csv");
    std::fs::write(&empty_csv, "").unwrap();
    let empty_csv = empty_csv.display().to_string();
    fails_with_2(vec![empty_csv.clone()], &[&empty_csv, "empty file"]);

    // A header-only CSV next to a good one is still named.
    let header_only = dir.path().join("trades.csv");
    std::fs::write(
        &header_only,
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n",
    )
    .unwrap();
    let header_only = header_only.display().to_string();
    fails_with_2(
        vec![data("usdm_quotes.csv.gz"), header_only.clone()],
        &[&header_only, "no usable row"],
    );

    let mut args = usdm();
    args.extend(["--symbols".into(), "eth-usdt".into(), "BTCUSDT".into()]);
    fails_with_2(
        args,
        &[
            "ETHUSDT not in",
            "usdm_quotes.csv.gz",
            "usdm_trades.csv.gz",
            "the recording holds BTCUSDT",
        ],
    );

    let old = dir.path().join("old_quotes.csv");
    std::fs::write(
        &old,
        "symbol,timestamp,ask_amount,ask_price,bid_price,bid_amount\nBTCUSDT,1000,1,2,1,1\n",
    )
    .unwrap();
    let old = old.display().to_string();
    fails_with_2(vec![old.clone()], &[&old, "no `local_timestamp` column"]);

    let mut args = usdm();
    args.extend(["--model".into(), "nope".into()]);
    fails_with_2(args, &["unknown model set `nope`", "shadow"]);
}
