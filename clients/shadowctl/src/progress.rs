//! Progress bars on stderr, hidden when stderr is not a terminal or output is JSON.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps labelled `phase`.
pub fn bar(len: u64, phase: &str, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
        return pb;
    }
    pb.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} windows {elapsed}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(phase.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}
