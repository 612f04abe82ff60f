//! Progress bars on stderr, hidden when stderr is not a terminal or output is JSON.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shadowkpi_client::soak::Observer;
use shadowkpi_proto::v1;

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

/// A soak or dry run shown on stderr: a bar of its windows and, for a soak,
/// its first lines (model set and each symbol's parameters with where each
/// came from). Nothing with `quiet`.
pub struct RunProgress {
    bar: ProgressBar,
    quiet: bool,
}

impl RunProgress {
    /// A run of `len` windows labelled `phase`.
    pub fn new(len: u64, phase: &str, quiet: bool) -> Self {
        Self {
            bar: bar(len, phase, quiet),
            quiet,
        }
    }
}

impl Observer for RunProgress {
    fn soak_started(&mut self, s: &v1::SoakStarted) {
        if !self.quiet {
            crate::cmd::soak::print_started(s);
        }
        self.bar.set_message(format!("soak {}", s.run_id));
    }

    fn advanced(&mut self, position: u64) {
        self.bar.set_position(position);
    }

    fn finished(&mut self) {
        self.bar.finish_and_clear();
    }
}
