//! Job progress as a terminal progress bar (hidden when stderr is not a terminal).

use crate::error::Result;
use crate::jobs::Job;
use indicatif::{ProgressBar, ProgressStyle};

/// Waits for `job`, drawing its progress events as a bar on stderr.
pub fn wait_with_bar<T: Send + 'static>(job: Job<T>) -> Result<T> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:28} [{bar:32}] {pos}/{len} {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let result = job.wait_with(|p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(p.stage.clone());
    });
    bar.finish_and_clear();
    result
}
