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

/// A soak, dry run or pipeline shown on stderr: a bar of each phase's
/// windows, the soak's first lines (model set and each symbol's parameters
/// with where each came from) and each phase's outcome line. Only the
/// outcome lines with `quiet`.
pub struct RunProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl RunProgress {
    /// Progress shown unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
}

impl Observer for RunProgress {
    fn phase_started(&mut self, phase: &str, len: u64) {
        self.bar = Some(bar(len, phase, self.quiet));
    }

    fn note(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn soak_started(&mut self, s: &v1::SoakStarted) {
        if !self.quiet {
            crate::cmd::soak::print_started(s);
        }
        if let Some(b) = &self.bar {
            b.set_message(format!("soak {}", s.run_id));
        }
    }

    fn advanced(&mut self, position: u64) {
        if let Some(b) = &self.bar {
            b.set_position(position);
        }
    }

    fn finished(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
