//! Progress for long work: bars on a terminal, one plain line per finished step otherwise
//! (CI logs should not fill with redraws).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: MultiProgress,
    interactive: bool,
    quiet: bool,
}

/// One tracked task; prints its summary when finished if no bar was drawn.
pub struct Task {
    bar: ProgressBar,
    label: String,
    started: Instant,
    interactive: bool,
    quiet: bool,
    bytes: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let interactive = !quiet && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if interactive {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Progress {
            multi,
            interactive,
            quiet,
        }
    }

    /// A task measured in bytes (downloads, uploads).
    pub fn bytes(&self, total: u64, label: &str) -> Task {
        let style = ProgressStyle::with_template(
            "{spinner} {msg:<24} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("static template");
        self.task(total, label, style, true)
    }

    /// A task measured in items (wheels installed, files added).
    pub fn items(&self, total: u64, label: &str) -> Task {
        let style = ProgressStyle::with_template("{spinner} {msg:<24} {bar:30} {pos}/{len}")
            .expect("static template");
        self.task(total, label, style, false)
    }

    fn task(&self, total: u64, label: &str, style: ProgressStyle, bytes: bool) -> Task {
        let bar = self.multi.add(
            ProgressBar::new(total)
                .with_style(style)
                .with_message(label.to_owned()),
        );
        Task {
            bar,
            label: label.to_owned(),
            started: Instant::now(),
            interactive: self.interactive,
            quiet: self.quiet,
            bytes,
        }
    }

    /// A line of output that does not disturb bars being drawn.
    pub fn line(&self, text: &str) {
        if !self.quiet {
            self.always(text);
        }
    }

    /// A line the user must see even when progress is off (`-q`, `--format json`): a
    /// choice pyship made for them that they may not expect.
    pub fn warn(&self, text: &str) {
        self.always(text);
    }

    fn always(&self, text: &str) {
        if self.interactive {
            self.multi.println(text).ok();
        } else {
            eprintln!("{text}");
        }
    }
}

impl Task {
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn finish(self) {
        let done = self.bar.position();
        self.bar.finish_and_clear();
        if self.quiet {
            return;
        }
        let amount = if self.bytes {
            format!("{:.1} MB", done as f64 / 1e6)
        } else {
            format!("{done}")
        };
        let line = format!(
            "{} ({amount}, {:.2}s)",
            self.label,
            self.started.elapsed().as_secs_f64()
        );
        if self.interactive {
            eprintln!("  {line}");
        } else {
            eprintln!("{line}");
        }
    }
}
