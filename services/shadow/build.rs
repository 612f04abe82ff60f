//! Records the source commit for the `notes` line of every ITER_SUMMARY.

fn main() {
    println!("cargo:rerun-if-env-changed=SHADOWKPI_COMMIT");
    let commit = std::env::var("SHADOWKPI_COMMIT").ok().or_else(|| {
        std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    });
    println!(
        "cargo:rustc-env=SHADOWKPI_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
