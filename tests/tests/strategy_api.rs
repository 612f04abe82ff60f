//! The strategy API (`proto/shadowkpi/v1/strategy.proto`) with real strategy
//! processes: the Rust and the Python example give the built-in market
//! maker's windows bit for bit on the real USD-M recording.

mod recording;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use recording::usdm;
use shadowkpi_domain::engine::model_spec::builtin_sets;
use shadowkpi_domain::engine::{EngineConfig, ShadowEngine, StrategyFactory, WindowResult};
use shadowkpi_domain::instrument::Instrument;
use shadowkpi_domain::params::{ParamOverrides, StrategyParams};
use shadowkpi_domain::profile::Profile;
use shadowkpi_domain::tick::Tick;
use shadowkpi_strategy::{Phase, SessionConfig};
use shadowkpi_testkit::cargo_bin;
use shadowkpi_testkit::process::ListeningProcess;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Rust example (`examples/strategies/rust`).
fn rust_example(wake_on: &str) -> ListeningProcess {
    let mut cmd = Command::new(cargo_bin("quoting-strategy"));
    cmd.args(["--listen", "127.0.0.1:0", "--wake-on", wake_on]);
    ListeningProcess::start(cmd)
}

/// The Python example (`examples/strategies/python`), in the virtualenv
/// `tools/strategy-venv.sh` keeps (grpcio).
fn python_example(wake_on: &str) -> ListeningProcess {
    let out = Command::new("bash")
        .arg(repo().join("tools/strategy-venv.sh"))
        .current_dir(repo())
        .stderr(Stdio::inherit())
        .output()
        .expect("tools/strategy-venv.sh runs");
    assert!(
        out.status.success(),
        "tools/strategy-venv.sh failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let python = stdout.lines().last().expect("the venv's python").trim();
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("examples/strategies/python/quoting_strategy.py"))
        .args(["--listen", "127.0.0.1:0", "--wake-on", wake_on]);
    ListeningProcess::start(cmd)
}

// ---------------------------------------------------------------------------
// The examples against the built-in strategy, on the real recording.

fn params() -> StrategyParams {
    Profile::builtin()
        .resolve("BTCUSDT", None, &ParamOverrides::default())
        .expect("the shipped profile has BTCUSDT")
}

fn engine_config() -> EngineConfig {
    EngineConfig::new(30_000)
        .with_symbol("BTCUSDT", params())
        .with_instrument("BTCUSDT", Instrument::new(0.1, 0.001).unwrap())
        .with_models(builtin_sets()["shadow"].build(7).unwrap())
        .with_seed(7)
}

/// The recording through the engine with the external strategy at `addr`,
/// and the number of round trips it took.
fn run_external(addr: &str, ticks: &[Tick]) -> (Vec<WindowResult>, u64) {
    let cfg = engine_config();
    let remote = shadowkpi_strategy::connect(SessionConfig {
        address: addr.to_string(),
        timeout: Duration::from_secs(30),
        run_id: "identity".into(),
        phase: Phase::Soak,
        symbols: vec![("BTCUSDT".into(), params())],
        max_orders_per_decision: cfg.max_orders_per_decision,
        model_set: "shadow".into(),
        seed: 7,
    })
    .expect("the example accepts the session");
    let windows = ShadowEngine::run(cfg.with_strategy(Arc::new(remote.clone())), ticks).unwrap();
    assert_eq!(remote.fault(), None, "the example answered every decision");
    (windows, remote.stats().requests)
}

fn fills(windows: &[WindowResult]) -> usize {
    windows
        .iter()
        .map(|w| w.symbols["BTCUSDT"].fills.len())
        .sum()
}

#[test]
fn the_rust_and_the_python_example_give_the_built_in_windows_bit_for_bit() {
    let ticks = usdm(120);
    assert!(ticks.len() > 20_000, "{} ticks", ticks.len());
    let builtin = ShadowEngine::run(engine_config(), &ticks).unwrap();
    assert_eq!(builtin.len(), 4, "two minutes of 30 s windows");
    let traded = fills(&builtin);
    assert!(traded > 20, "the built-in strategy traded: {traded} fills");

    let every = rust_example("every");
    let (windows, every_trips) = run_external(&every.addr.to_string(), &ticks);
    assert_eq!(windows, builtin, "Rust example, every decision");
    let change = rust_example("change");
    let (windows, change_trips) = run_external(&change.addr.to_string(), &ticks);
    assert_eq!(windows, builtin, "Rust example, on change");
    assert!(
        change_trips * 2 < every_trips,
        "waking on change saves round trips: {change_trips} vs {every_trips}"
    );
    let python = python_example("change");
    let (windows, python_trips) = run_external(&python.addr.to_string(), &ticks);
    assert_eq!(windows, builtin, "Python example, on change");
    assert_eq!(python_trips, change_trips);
    println!(
        "{} ticks, {traded} fills; round trips: {every_trips} every decision, {change_trips} on change",
        ticks.len()
    );
}
