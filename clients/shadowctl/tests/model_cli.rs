//! `--model NAME` as a user runs it: `config show` lists the sets, an unknown
//! name exits 2 naming the available ones, a profile's own set (with a latency
//! recording next to it) runs the all-in-one pipeline, and the reports say
//! which sets ran.

use std::path::Path;
use std::process::{Command, Output};

const ENV_VARS: [&str; 8] = [
    "REDIS_URL",
    "SHADOWKPI_INGEST_ADDR",
    "SHADOWKPI_SHADOW_ADDR",
    "SHADOWKPI_EXPORT_ADDR",
    "SHADOWKPI_DRYRUN_ADDR",
    "SHADOWKPI_CONFIG",
    "SHADOWKPI_ENV",
    "SHADOWKPI_EXCHANGE",
];

fn shadowctl(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shadowctl"));
    cmd.current_dir(dir).args(args);
    for v in ENV_VARS {
        cmd.env_remove(v);
    }
    cmd.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    cmd.output().expect("run shadowctl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A profile with a set of its own, reading `lat/orders.csv` next to it, and
/// a redefined `dryrun`.
fn write_profile(dir: &Path, csv: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("prof/lat")).unwrap();
    std::fs::write(dir.join("prof/lat/orders.csv"), csv).unwrap();
    let path = dir.join("prof/p.json");
    std::fs::write(
        &path,
        r#"{
          "models": {
            "rec": {"latency": {"kind": "empirical", "file": "lat/orders.csv", "feed_ms": 3},
                    "queue": {"kind": "prob_power2", "n": 2}},
            "dryrun": {"latency": {"kind": "constant", "entry_ms": 30}, "queue": {"kind": "risk_averse"}}
          }
        }"#,
    )
    .unwrap();
    path
}

const REC: &str = "latency=empirical(source=lat/orders.csv,points=2,ts=0..60000ms,entry=20..40ms,response=5..15ms,feed=3ms) queue=prob_power2(n=2) partial_fills=false fees=params";

#[test]
fn config_show_lists_the_builtin_and_the_profile_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = shadowctl(tmp.path(), &["config", "show", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profile"], "built-in");
    let names: Vec<&str> = v["model_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dryrun", "lenient", "measured_example", "shadow"]);
    assert_eq!(v["model_sets"][0]["origin"], "built-in");
    assert_eq!(v["model_sets"][2]["origin"], "profile");
    assert_eq!(
        v["model_sets"][3]["description"],
        "latency=constant(feed=6ms,entry=25ms,response=25ms) queue=front partial_fills=false fees=params"
    );

    let p = write_profile(
        tmp.path(),
        "ts_ms,entry_ms,response_ms\n0,20,5\n60000,40,15\n",
    );
    let out = shadowctl(
        tmp.path(),
        &["config", "show", "--json", "--profile", p.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sets = v["model_sets"].as_array().unwrap();
    let by_name = |n: &str| sets.iter().find(|m| m["name"] == n).unwrap();
    assert_eq!(by_name("rec")["origin"], "profile");
    assert_eq!(by_name("rec")["description"], REC);
    assert_eq!(by_name("dryrun")["origin"], "profile (redefines built-in)");
    assert_eq!(by_name("lenient")["origin"], "built-in");

    // The text form shows the same sets.
    let out = shadowctl(
        tmp.path(),
        &["config", "show", "--profile", p.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("model sets (--model NAME; profile: "),
        "{text}"
    );
    assert!(text.contains("prob_power2(n=2)"), "{text}");
}

#[test]
fn config_show_symbols_says_where_each_parameter_comes_from() {
    let tmp = tempfile::tempdir().unwrap();
    let out = shadowctl(
        tmp.path(),
        &[
            "config",
            "show",
            "--json",
            "--symbols",
            "btc_usdt",
            "SOLUSDT",
            "--preset",
            "touch_join_v1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let syms = v["symbols"].as_array().unwrap();
    assert_eq!(syms.len(), 2);
    // The shipped profile: the preset wins over BTCUSDT's own entry, which
    // still sets the lot; the rest comes from `defaults`.
    let btc = &syms[0];
    assert_eq!(btc["symbol"], "BTCUSDT");
    assert_eq!(btc["params"]["touch_dwell_ms"], 25.0);
    assert_eq!(btc["sources"]["touch_dwell_ms"], "presets.touch_join_v1");
    assert_eq!(btc["params"]["requote_threshold_bps"], 0.3);
    assert_eq!(
        btc["sources"]["requote_threshold_bps"],
        "presets.touch_join_v1"
    );
    assert_eq!(btc["sources"]["min_lot"], "symbols.BTCUSDT");
    assert_eq!(btc["params"]["taker_fee_bps"], 5.5);
    assert_eq!(btc["sources"]["taker_fee_bps"], "defaults");
    assert_eq!(btc["grid"], "inferred");
    // SOLUSDT has no entry of its own.
    assert_eq!(syms[1]["symbol"], "SOLUSDT");
    assert_eq!(syms[1]["sources"]["min_lot"], "defaults");
    assert_eq!(v["model"]["name"], "shadow");

    // The text form: a row per parameter, a column per symbol.
    let out = shadowctl(
        tmp.path(),
        &[
            "config",
            "show",
            "--symbols",
            "BTCUSDT",
            "--model",
            "dryrun",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("inventory_limit"))
        .unwrap();
    assert!(row.contains("1  (symbols.BTCUSDT)"), "{row}");
    assert!(text.contains("model set dryrun: "), "{text}");

    // An unknown preset or set is a usage error naming it.
    let out = shadowctl(
        tmp.path(),
        &["config", "show", "--symbols", "BTCUSDT", "--preset", "nope"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    let out = shadowctl(
        tmp.path(),
        &["config", "show", "--symbols", "BTCUSDT", "--model", "nope"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--model: unknown model set `nope` (available: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_set_or_bad_recording_exits_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = shadowctl(
        tmp.path(),
        &[
            "soak",
            "--model",
            "strict",
            "--iterations",
            "1",
            "--duration",
            "5s",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "model_set: unknown model set `strict` (available: dryrun, lenient, measured_example, shadow)"
        ),
        "{}",
        stderr(&out)
    );

    let out = shadowctl(
        tmp.path(),
        &["autotune", "--model", "fast", "--iterations", "1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "--model: unknown model set `fast` (available: dryrun, lenient, measured_example, shadow)"
        ),
        "{}",
        stderr(&out)
    );

    let out = shadowctl(
        tmp.path(),
        &["validate", "--model", "nope", "--symbols", "BTCUSDT"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("model_set: unknown model set `nope`"),
        "{}",
        stderr(&out)
    );

    // A recording with a row out of order: the file and line are named.
    let p = write_profile(
        tmp.path(),
        "ts_ms,entry_ms,response_ms\n100,20,5\n50,40,15\n",
    );
    let out = shadowctl(
        tmp.path(),
        &["soak", "--profile", p.to_str().unwrap(), "--model", "rec"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "profile `models.rec.latency.file`: lat/orders.csv line 3: `ts_ms` 50 is before the previous row's 100 (rows must be sorted by time)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pipeline_runs_the_named_sets_and_the_reports_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write_profile(
        tmp.path(),
        "ts_ms,entry_ms,response_ms\n0,20,5\n60000,40,15\n",
    );
    // Parameters on every layer, and a preset the run names: the soak's first
    // lines and SOAK_SUMMARY.json say which layer set each one.
    let mut prof: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    prof["defaults"] = serde_json::json!({"min_lot": 0.02});
    prof["symbols"] =
        serde_json::json!({"BTCUSDT": {"quote_offset_bps": 1.0, "inventory_limit": 0.5}});
    prof["presets"] = serde_json::json!({"join": {"quote_offset_bps": 0.0}});
    std::fs::write(&p, prof.to_string()).unwrap();
    let out = shadowctl(
        tmp.path(),
        &[
            "pipeline",
            "--profile",
            p.to_str().unwrap(),
            "--preset",
            "join",
            "--model",
            "rec",
            "--validate-model",
            "dryrun",
            "--symbols",
            "BTCUSDT",
            "--iterations",
            "3",
            "--duration",
            "10s",
            "--validate-iterations",
            "1",
            "--validate-duration",
            "10s",
            "--min-windows",
            "3",
            "--idle-timeout",
            "10s",
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let root = tmp.path().join("artifacts/pipeline");
    let run = root.join(std::fs::read_link(root.join("latest")).unwrap());

    // Every ITER_SUMMARY names the soak's set.
    let mut summaries = 0;
    for e in std::fs::read_dir(run.join("soak")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("ITER_SUMMARY_") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(v["model"]["name"], "rec", "{name}");
            assert_eq!(v["model"]["description"], REC, "{name}");
            assert!(
                v["notes"].as_str().unwrap().contains(" model=rec "),
                "{}",
                v["notes"]
            );
            summaries += 1;
        }
    }
    assert_eq!(summaries, 3);
    let soak: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("soak/SOAK_SUMMARY.json")).unwrap())
            .unwrap();
    assert_eq!(soak["model"]["name"], "rec");
    assert_eq!(soak["model"]["description"], REC);
    let btc = &soak["symbols"]["BTCUSDT"];
    assert_eq!(btc["params"]["quote_offset_bps"], 0.0);
    assert_eq!(btc["params"]["inventory_limit"], 0.5);
    assert_eq!(btc["params"]["min_lot"], 0.02);
    assert_eq!(btc["param_sources"]["quote_offset_bps"], "presets.join");
    assert_eq!(btc["param_sources"]["inventory_limit"], "symbols.BTCUSDT");
    assert_eq!(btc["param_sources"]["min_lot"], "defaults");
    assert_eq!(btc["param_sources"]["touch_dwell_ms"], "built-in");
    assert_eq!(btc["grid"], "inferred");
    let err = stderr(&out);
    assert!(err.contains(&format!("model set rec: {REC}")), "{err}");
    let row = err
        .lines()
        .find(|l| l.contains("quote_offset_bps"))
        .unwrap_or_else(|| panic!("no parameter table: {err}"));
    assert!(row.contains("0  (presets.join)"), "{row}");

    // The accuracy report names the dry run's set (the profile's `dryrun`)
    // and the soak's set it checks.
    let dry = "latency=constant(feed=0ms,entry=30ms,response=0ms) queue=risk_averse partial_fills=false fees=params";
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("dryrun/DRYRUN_ACCURACY_REPORT.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["model"]["name"], "dryrun");
    assert_eq!(report["model"]["description"], dry);
    assert_eq!(report["symbols"][0]["prediction_model"]["name"], "rec");
    let md = std::fs::read_to_string(run.join("dryrun/DRYRUN_ACCURACY_REPORT.md")).unwrap();
    assert!(
        md.contains(&format!("Dry-run model set: `dryrun ({dry})`")),
        "{md}"
    );
    assert!(
        md.contains(&format!("Soak model set checked: `rec ({REC})`")),
        "{md}"
    );
    let html = std::fs::read_to_string(run.join("dryrun/DRYRUN_ACCURACY_REPORT.html")).unwrap();
    assert!(
        html.contains("Soak model set checked: <code>rec ("),
        "{html}"
    );
}
