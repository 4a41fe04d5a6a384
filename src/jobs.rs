//! Long work on worker threads: progress events, cancellation, results.
//!
//! A [`Job`] runs a closure on its own thread. The closure gets a [`JobContext`] through
//! which it reports [`Progress`] (a bounded channel: a slow reader drops progress updates,
//! never blocks the worker) and checks for cancellation between batches. The GUI drains
//! every pending event each frame and asks for a repaint on every send; the CLI shows the
//! same events as a progress bar. Library functions take a `&JobContext` so they run the same
//! way in a job, in the CLI, or in a test ([`JobContext::silent`]).

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// How far a job has come.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    /// What the job is doing now ("drawing items", "writing thumbnails" …).
    pub stage: String,
}

impl Progress {
    /// Completed fraction in 0..=1 (0 while the total is unknown).
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f32 / self.total as f32).clamp(0.0, 1.0)
        }
    }
}

/// Called after every progress event (the GUI passes `ctx.request_repaint`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// The worker's side of a job.
#[derive(Clone)]
pub struct JobContext {
    progress: Option<SyncSender<Progress>>,
    cancel: Arc<AtomicBool>,
    notify: Option<Notify>,
    /// Put before every stage this context reports ([`JobContext::within`]).
    stage_prefix: Option<Arc<str>>,
}

impl JobContext {
    /// A context that reports nowhere and is never cancelled (tests, one-off calls).
    pub fn silent() -> JobContext {
        JobContext {
            progress: None,
            cancel: Arc::new(AtomicBool::new(false)),
            notify: None,
            stage_prefix: None,
        }
    }

    /// The same job seen from one step of a longer one: every stage it reports reads
    /// "`step`: stage", so a step that runs a whole command (an experiment trains a system)
    /// says which step it is. Cancelling the job cancels the step.
    pub fn within(&self, step: &str) -> JobContext {
        let prefix: Arc<str> = match &self.stage_prefix {
            Some(outer) => format!("{outer}{step}: ").into(),
            None => format!("{step}: ").into(),
        };
        JobContext {
            stage_prefix: Some(prefix),
            ..self.clone()
        }
    }

    /// Reports progress; never blocks (an update is dropped if the reader is behind).
    pub fn progress(&self, done: u64, total: u64, stage: &str) {
        if let Some(tx) = &self.progress {
            let stage = match &self.stage_prefix {
                Some(prefix) => format!("{prefix}{stage}"),
                None => stage.to_owned(),
            };
            let _ = tx.try_send(Progress { done, total, stage });
            if let Some(notify) = &self.notify {
                notify();
            }
        }
    }

    /// Whether the user asked to cancel.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once the user asked to cancel: call between batches with `?`.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A running (or finished) job with result type `T`.
pub struct Job<T> {
    pub name: String,
    progress: Receiver<Progress>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<T>>>,
    latest: Option<Progress>,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a new thread named after the job.
    pub fn spawn(
        name: &str,
        notify: Option<Notify>,
        work: impl FnOnce(&JobContext) -> Result<T> + Send + 'static,
    ) -> Job<T> {
        let (tx, rx) = sync_channel(256);
        let cancel = Arc::new(AtomicBool::new(false));
        let ctx = JobContext {
            progress: Some(tx),
            cancel: cancel.clone(),
            notify: notify.clone(),
            stage_prefix: None,
        };
        let handle = std::thread::Builder::new()
            .name(format!("job: {name}"))
            .spawn(move || {
                let result = work(&ctx);
                drop(ctx);
                if let Some(notify) = notify {
                    notify();
                }
                result
            });
        let (handle, progress) = match handle {
            Ok(h) => (Some(h), rx),
            Err(_) => (None, rx),
        };
        Job {
            name: name.to_owned(),
            progress,
            cancel,
            handle,
            latest: None,
        }
    }

    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Drains every pending progress event and returns the latest known progress.
    pub fn progress(&mut self) -> Option<&Progress> {
        while let Ok(p) = self.progress.try_recv() {
            self.latest = Some(p);
        }
        self.latest.as_ref()
    }

    /// The result once the job has finished (`None` while it runs). Returns it only once.
    pub fn try_finish(&mut self) -> Option<Result<T>> {
        if self.handle.as_ref().is_some_and(|h| !h.is_finished()) {
            return None;
        }
        Some(self.join_now())
    }

    /// Waits for the job and returns its result.
    pub fn wait(mut self) -> Result<T> {
        self.join_now()
    }

    /// Waits for the job, handing each progress event to `on_progress` as it comes.
    pub fn wait_with(mut self, mut on_progress: impl FnMut(&Progress)) -> Result<T> {
        while let Ok(p) = self.progress.recv() {
            on_progress(&p);
        }
        self.join_now()
    }

    fn join_now(&mut self) -> Result<T> {
        match self.handle.take() {
            None => Err(Error::Invalid(format!(
                "the job {:?} could not start a thread or was already collected",
                self.name
            ))),
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(Error::Invalid(format!(
                    "the job {:?} crashed (a bug: please report it)",
                    self.name
                )))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reports_progress_and_its_result() {
        let job = Job::spawn("count", None, |ctx| {
            for i in 0..10 {
                ctx.progress(i + 1, 10, "counting");
            }
            Ok(42)
        });
        let mut seen = Vec::new();
        let result = job.wait_with(|p| seen.push(p.done)).unwrap();
        assert_eq!(result, 42);
        assert_eq!(seen.last(), Some(&10));
    }

    #[test]
    fn a_cancelled_job_ends_with_cancelled() {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let job = Job::spawn("wait", None, move |ctx| {
            go_rx.recv().ok();
            ctx.check_cancelled()?;
            Ok(())
        });
        job.cancel();
        go_tx.send(()).unwrap();
        assert!(matches!(job.wait(), Err(Error::Cancelled)));
    }

    #[test]
    fn a_step_names_itself_before_every_stage() {
        let job = Job::spawn("steps", None, |ctx| {
            ctx.progress(0, 2, "starting");
            let step = ctx.within("V2 (2/5)");
            step.within("train").progress(1, 2, "caching features");
            ctx.progress(2, 2, "done");
            Ok(())
        });
        let mut stages = Vec::new();
        job.wait_with(|p| stages.push(p.stage.clone())).unwrap();
        assert_eq!(
            stages,
            ["starting", "V2 (2/5): train: caching features", "done"]
        );
    }
}
