//! Progress on standard error for what can take more than a second (live collection, the API
//! server, a fleet), drawn by indicatif, and only on a terminal: a pipe or a log gets nothing.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// A spinner or a bar; cleared when finished or dropped.
pub struct Progress(ProgressBar);

impl Progress {
    /// A spinner with `message`, ticking while the work runs.
    pub fn spinner(message: &str) -> Progress {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} netdoctor: {msg} ({elapsed})") {
            pb.set_style(style);
        }
        pb.set_message(message.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        Progress(pb)
    }

    /// A bar of `len` steps.
    pub fn bar(len: u64, message: &str) -> Progress {
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("netdoctor: {msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(message.to_string());
        pb.tick();
        Progress(pb)
    }

    pub fn inc(&self) {
        self.0.inc(1);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
