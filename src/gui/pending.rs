//! [`Pending`]: one type for every result the window waits for (after egui's `Promise`).
//!
//! A query, the recommendations for a cart, a file dialog's answer, an export, a merge, the
//! augmentation preview, the cut-out check and the job in the job slot all run on a thread of
//! their own and are *idle*, *running*, *done* or *failed*. Each is a [`crate::jobs::Job`]
//! underneath (a worker thread that wakes the window when it ends), so a running one keeps
//! its progress and can be cancelled where the work checks for it. The owner polls it once a
//! frame in the app's state step (never while drawing) and takes the result out when it
//! arrives.

use crate::error::{Error, Result};
use crate::jobs::{Job, JobContext, Notify, Progress};
use eframe::egui;
use std::sync::Arc;

/// A result on its way from a worker thread.
#[derive(Default)]
pub(crate) enum Pending<T> {
    /// Nothing asked for (or the last result was taken).
    #[default]
    Idle,
    Running(Job<T>),
    Done(T),
    Failed(Error),
}

impl<T: Send + 'static> Pending<T> {
    /// Runs `work` on a thread of its own, named `name`, waking the window when it ends: file
    /// dialogs and small one-off work that must not hold up a frame.
    pub fn spawn(
        ctx: &egui::Context,
        name: &str,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Pending<T> {
        Pending::job(ctx, name, move |_| work())
    }

    /// Runs `work` as a job: it may report progress and check for cancellation through its
    /// [`JobContext`]; the window repaints on every progress event and when it ends.
    pub fn job(
        ctx: &egui::Context,
        name: &str,
        work: impl FnOnce(&JobContext) -> Result<T> + Send + 'static,
    ) -> Pending<T> {
        Pending::Running(Job::spawn(name, Some(repaint(ctx)), work))
    }

    pub fn is_running(&self) -> bool {
        matches!(self, Pending::Running(_))
    }

    /// Collects the result if the work has ended: running becomes done or failed. Returns
    /// whether it ended just now.
    pub fn poll(&mut self) -> bool {
        let Pending::Running(job) = self else {
            return false;
        };
        let Some(result) = job.try_finish() else {
            return false;
        };
        *self = match result {
            Ok(value) => Pending::Done(value),
            Err(e) => Pending::Failed(e),
        };
        true
    }

    /// The result once the work has ended, taken out (leaving [`Pending::Idle`]); `None`
    /// while it runs or when nothing was asked for.
    pub fn take_finished(&mut self) -> Option<Result<T>> {
        self.poll();
        match std::mem::take(self) {
            Pending::Done(value) => Some(Ok(value)),
            Pending::Failed(e) => Some(Err(e)),
            other => {
                *self = other;
                None
            }
        }
    }

    /// The result, while it is kept on show.
    pub fn done(&self) -> Option<&T> {
        match self {
            Pending::Done(value) => Some(value),
            _ => None,
        }
    }

    /// The latest progress of running work (`None` before its first report).
    pub fn progress(&mut self) -> Option<&Progress> {
        match self {
            Pending::Running(job) => job.progress(),
            _ => None,
        }
    }

    /// Asks running work to stop at its next check.
    pub fn cancel(&self) {
        if let Pending::Running(job) = self {
            job.cancel();
        }
    }

    /// Waits for running work to end (the window is closing) and drops its result.
    pub fn wait(self) {
        if let Pending::Running(job) = self {
            let _ = job.wait();
        }
    }
}

/// Wakes the window (a worker's progress, or its end).
pub(crate) fn repaint(ctx: &egui::Context) -> Notify {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint())
}

/// Runs a future to completion on the current thread (a file dialog's worker thread): rfd's
/// async dialog works on every platform, including those whose blocking dialog must run on
/// the main thread.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => return value,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn finish<T: Send + 'static>(pending: &mut Pending<T>) {
        let start = Instant::now();
        while pending.is_running() {
            pending.poll();
            assert!(start.elapsed() < Duration::from_secs(20), "never ended");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_result_arrives_once_and_leaves_it_idle() {
        let ctx = egui::Context::default();
        let mut pending = Pending::spawn(&ctx, "answer", || Ok(42));
        assert!(!matches!(pending, Pending::Idle));
        finish(&mut pending);
        assert_eq!(pending.done(), Some(&42));
        assert_eq!(pending.take_finished().unwrap().unwrap(), 42);
        assert!(matches!(pending, Pending::Idle));
        assert!(pending.take_finished().is_none());
    }

    #[test]
    fn failures_and_cancels_keep_their_error() {
        let ctx = egui::Context::default();
        let mut failed: Pending<()> =
            Pending::spawn(&ctx, "fail", || Err(Error::Invalid("no".into())));
        finish(&mut failed);
        assert!(matches!(failed, Pending::Failed(Error::Invalid(_))));
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let mut job: Pending<()> = Pending::job(&ctx, "stop", move |ctx| {
            ctx.progress(1, 2, "half");
            wait.recv().ok();
            ctx.check_cancelled()
        });
        job.cancel();
        go.send(()).unwrap();
        finish(&mut job);
        assert!(matches!(job.take_finished(), Some(Err(Error::Cancelled))));
    }
}
