//! The background job slot and its queue: one job runs at a time, and a job asked for while
//! another runs waits its turn in a queue the status line shows (it is never refused: opening
//! the Personalize tab during a training run queues its loading, it does not show an error
//! the user did not cause). A job already running or queued is not queued twice.
//!
//! Each running job keeps a [`PhaseProgress`] (caching, epochs, embedding … each with its
//! own bar and time left, never going backwards). Cancel of a job that would lose real work
//! (training, indexing, a study, an evaluation) asks first ([`JobKind::asks_before_cancel`]).
//! The job's result is a [`Pending`] like every other background result. What a finished job
//! calls for is the app's to do (`app::jobs`): a finished catalogue change (the demo, an
//! import) queues the index of the current system at once, and a finished index lets the
//! search that waited for it run. The outcome of a job that hands the slot straight to the
//! next one ("Imported 24 photos …") stays on show in the status line while that next job
//! runs ([`JobSlot::previous`]).

use super::pending::Pending;
use super::progress::PhaseProgress;
use crate::error::Result;
use crate::gui::command::{ImportKind, JobCommand};
use crate::index::IndexReport;
use crate::jobs::{JobContext, Progress};
use crate::sources::demo::{DemoOptions, DemoReport};
use crate::sources::import::ImportReport;
use eframe::egui;
use std::collections::VecDeque;
use std::path::PathBuf;

/// What a job is, and what it returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JobKind {
    DemoCatalogue(DemoOptions),
    /// Importing a catalogue from a file or folder.
    Import {
        kind: ImportKind,
        source: PathBuf,
    },
    /// Bringing a system's embedding index up to date.
    Index {
        system: String,
    },
    /// Training a new system (or resuming one).
    Train {
        system: String,
    },
    /// Creating a study: picking queries and freezing its sheets.
    CreateStudy {
        name: String,
    },
    /// Loading a system's users, index and personaliser for the Personalize tab.
    PersonalizeLoad {
        system: String,
    },
    /// Recall@K of every recommendation method.
    PersonalizeEval {
        system: String,
    },
    /// Fig. 5: Recall@K of the cart-based recommender per feature extractor.
    CompareExtractors,
    /// The paper's Table I: five systems trained and measured.
    Table1,
}

impl JobKind {
    /// Whether Cancel asks first: stopping these loses minutes of work. The demo and loading
    /// the Personalize tab are quick to start again and stop at once.
    pub fn asks_before_cancel(&self) -> bool {
        !matches!(
            self,
            JobKind::DemoCatalogue(_) | JobKind::PersonalizeLoad { .. }
        )
    }

    /// What stopping it keeps and what it loses, for the confirmation; `epochs_started`:
    /// training has left its caching phase.
    pub fn cancel_consequence(&self, epochs_started: bool) -> &'static str {
        match self {
            JobKind::Train { .. } if !epochs_started => {
                "No epoch has finished yet, so there is no checkpoint to resume from: the \
                 run starts again from the beginning."
            }
            JobKind::Train { .. } => {
                "The epochs already finished stay checkpointed: Resume in the Train tab \
                 continues from the last one. The epoch under way is lost."
            }
            JobKind::Index { .. } => {
                "The index stays as it was before this run; searches wait until the \
                 catalogue is indexed."
            }
            JobKind::Import { .. } => {
                "Nothing of this import is kept; the library stays as it was."
            }
            JobKind::CreateStudy { .. } => "The study is not created; nothing is kept.",
            JobKind::PersonalizeEval { .. } => "The evaluation's results so far are lost.",
            JobKind::CompareExtractors => {
                "The comparison's results so far are lost; the last finished one stays on show."
            }
            JobKind::Table1 => {
                "The systems already trained stay in the library: run again with \"Reuse \
                 systems already trained\" to measure them without training again. The \
                 system under way is lost."
            }
            JobKind::DemoCatalogue(_) | JobKind::PersonalizeLoad { .. } => {
                "Nothing half-done is kept."
            }
        }
    }
}

pub(crate) enum JobOutput {
    DemoCatalogue(DemoReport),
    Import(ImportKind, ImportReport),
    Index(IndexReport),
    Train(crate::train::TrainReport),
    Study(crate::study::Study),
    PersonalizeEngine(Box<crate::personalize::engine::PersonalizeEngine>),
    Table1(Box<crate::experiment::table1::Table1Report>),
    PersonalizeEval(
        Box<(
            crate::personalize::engine::PersonalizeEngine,
            crate::personalize::eval::EvalReport,
            Option<crate::personalize::personaliser::TrainReport>,
        )>,
    ),
    CompareExtractors(Box<crate::experiment::fig5::Fig5Report>),
}

/// The work of a job, run on its worker thread.
pub(crate) type Work = Box<dyn FnOnce(&JobContext) -> Result<JobOutput> + Send>;

/// A job waiting for the slot.
pub(crate) struct QueuedJob {
    pub kind: JobKind,
    pub name: String,
    work: Work,
}

/// A job on its worker thread, with its latest progress.
pub(crate) struct RunningJob {
    pub kind: JobKind,
    pub name: String,
    pub progress: Option<Progress>,
    /// Every phase so far, each with its own bar and time left.
    pub phases: PhaseProgress,
    /// Cancel was confirmed; the job stops at its next check.
    pub cancelling: bool,
    result: Pending<JobOutput>,
}

/// A job that has ended, as [`JobSlot::poll`] hands it over; the slot still shows it running
/// until [`JobSlot::end`] is given its outcome.
pub(crate) struct FinishedJob {
    pub kind: JobKind,
    pub name: String,
    pub result: Result<JobOutput>,
}

/// The background job slot. A finished job leaves its outcome on show until the next one
/// starts.
pub(crate) enum JobState {
    Idle,
    Running(Box<RunningJob>),
    /// `summary` is a sentence naming what the job made.
    Done {
        name: String,
        summary: String,
    },
    Cancelled {
        name: String,
    },
    Failed {
        name: String,
        message: String,
    },
}

/// The slot, the queue behind it, and a Cancel waiting for its confirmation.
pub(crate) struct JobSlot {
    /// The job running, or the outcome of the last one.
    pub current: JobState,
    pub queue: VecDeque<QueuedJob>,
    /// Cancel was pressed on a job that asks first: the confirmation is on show.
    pub confirm_cancel: bool,
    /// The summary of the job that ended as the running one left the queue (an import's,
    /// while the index it queued runs), so the outcome is not gone the frame it arrives.
    pub previous: Option<String>,
    /// The jobs that left the queue since the app last asked ([`JobSlot::take_started`]):
    /// training connects its event channel when its run starts.
    started: Vec<JobKind>,
    ctx: egui::Context,
}

impl JobSlot {
    pub fn new(ctx: &egui::Context) -> JobSlot {
        JobSlot {
            current: JobState::Idle,
            queue: VecDeque::new(),
            confirm_cancel: false,
            previous: None,
            started: Vec::new(),
            ctx: ctx.clone(),
        }
    }

    /// Queues `work` as a background job (it starts at once when the slot is free), repainting
    /// the window on every progress event. A job of the same kind that is running (not being
    /// cancelled) or queued already is not queued again.
    pub fn start(
        &mut self,
        kind: JobKind,
        name: &str,
        work: impl FnOnce(&JobContext) -> Result<JobOutput> + Send + 'static,
    ) {
        if self.pending(|k| *k == kind) {
            return;
        }
        let queued = QueuedJob {
            kind,
            name: name.to_owned(),
            work: Box::new(work),
        };
        if matches!(self.current, JobState::Running(_)) {
            self.queue.push_back(queued);
        } else {
            self.spawn(queued);
        }
    }

    fn spawn(&mut self, queued: QueuedJob) {
        let QueuedJob { kind, name, work } = queued;
        self.previous = None;
        self.started.push(kind.clone());
        let result = Pending::job(&self.ctx, &name, work);
        self.current = JobState::Running(Box::new(RunningJob {
            kind,
            name,
            progress: None,
            phases: PhaseProgress::default(),
            cancelling: false,
            result,
        }));
    }

    /// The jobs that started since the last call, oldest first.
    pub fn take_started(&mut self) -> Vec<JobKind> {
        std::mem::take(&mut self.started)
    }

    /// Whether a job `wanted` picks is running (and not being cancelled) or queued.
    pub fn pending(&self, wanted: impl Fn(&JobKind) -> bool) -> bool {
        let running =
            matches!(&self.current, JobState::Running(r) if !r.cancelling && wanted(&r.kind));
        running || self.queue.iter().any(|q| wanted(&q.kind))
    }

    /// Cancel, as pressed: a job that would lose real work asks first; a queued job (by its
    /// place in the queue) just leaves the queue. Returns the kind of a queued job removed.
    pub fn command(&mut self, command: JobCommand) -> Option<JobKind> {
        match command {
            JobCommand::Cancel => {
                let JobState::Running(job) = &self.current else {
                    return None;
                };
                if job.cancelling {
                    return None;
                }
                if job.kind.asks_before_cancel() {
                    self.confirm_cancel = true;
                } else {
                    self.cancel_running();
                }
            }
            JobCommand::ConfirmCancel => {
                self.confirm_cancel = false;
                self.cancel_running();
            }
            JobCommand::KeepRunning => self.confirm_cancel = false,
            JobCommand::RemoveQueued(i) => {
                if i < self.queue.len() {
                    return self.queue.remove(i).map(|q| q.kind);
                }
            }
        }
        None
    }

    fn cancel_running(&mut self) {
        if let JobState::Running(job) = &mut self.current {
            job.result.cancel();
            job.cancelling = true;
        }
    }

    /// Collects the running job's progress, and hands it over once it ends (the slot still
    /// shows it, so jobs asked for while its outcome is handled queue behind it). With the
    /// slot free, starts the next queued job.
    pub fn poll(&mut self, now_secs: f64) -> Option<FinishedJob> {
        let JobState::Running(running) = &mut self.current else {
            self.start_next();
            return None;
        };
        if let Some(p) = running.result.progress() {
            let p = p.clone();
            // Training's phases come from its own events (`train::TrainTab::poll`).
            if !matches!(running.kind, JobKind::Train { .. }) {
                running.phases.update_from_progress(&p, now_secs);
            }
            running.progress = Some(p);
        }
        let result = running.result.take_finished()?;
        self.confirm_cancel = false;
        Some(FinishedJob {
            kind: running.kind.clone(),
            name: running.name.clone(),
            result,
        })
    }

    /// Puts the outcome of the job [`JobSlot::poll`] handed over on show and starts the next
    /// queued job; a summary stays on show in the status line while that next one runs.
    pub fn end(&mut self, outcome: JobState) {
        self.current = outcome;
        let summary = match &self.current {
            JobState::Done { summary, .. } => Some(summary.clone()),
            _ => None,
        };
        self.start_next();
        if matches!(self.current, JobState::Running(_)) {
            self.previous = summary;
        }
    }

    /// Starts the next queued job if the slot is free.
    fn start_next(&mut self) {
        if matches!(self.current, JobState::Running(_)) {
            return;
        }
        if let Some(next) = self.queue.pop_front() {
            self.spawn(next);
        }
    }
}

impl Drop for JobSlot {
    /// A job still running when the window closes is cancelled and waited for, so it can
    /// clean up (the demo generator removes the images it wrote) instead of being cut off.
    fn drop(&mut self) {
        self.queue.clear();
        if let JobState::Running(running) = std::mem::replace(&mut self.current, JobState::Idle) {
            running.result.cancel();
            running.result.wait();
        }
    }
}

/// One line about an indexing run, for the status line.
pub(crate) fn index_summary(report: &IndexReport) -> String {
    if !report.written {
        return format!(
            "Index of {} is up to date: {} items",
            report.system, report.indexed
        );
    }
    let mut line = format!(
        "Indexed {} items with {}: {} embedded, {} kept, {} failed",
        report.indexed,
        report.system,
        report.embedded,
        report.kept,
        report.failed.len(),
    );
    if report.embedded > 0 {
        line.push_str(&format!(", {:.0} images/s", report.images_per_s));
    }
    if report.precision == crate::index::Precision::F16 {
        line.push_str(", rows at half precision (f16)");
    }
    if let Some(recall) = report.f16_recall_at_10 {
        line.push_str(&format!(
            "; f16 keeps {:.1} % of the 10 nearest neighbours",
            100.0 * recall
        ));
    }
    line
}
