//! The background job slot and its queue: one job runs at a time, and a job asked for while
//! another runs waits its turn in a queue the status line shows (it is never refused: opening
//! the Personalize tab during a training run queues its loading, it does not show an error
//! the user did not cause). A job already running or queued is not queued twice.
//!
//! Each running job keeps a [`PhaseProgress`] (caching, epochs, embedding … each with its
//! own bar and time left, never going backwards). Cancel of a job that would lose real work
//! (training, indexing, a study, an evaluation) asks first ([`JobKind::asks_before_cancel`]).
//! A finished catalogue change (the demo, an import) queues the index of the current system
//! at once, and a finished index lets the search that waited for it run. The outcome of a job
//! that hands the slot straight to the next one ("Imported 24 photos …") stays on show in the
//! status line while that next job runs ([`Jobs::previous`]).

use super::menu::ImportKind;
use super::progress::PhaseProgress;
use super::{App, Command, personalize_tab};
use crate::error::{Error, Result};
use crate::index::IndexReport;
use crate::jobs::{Job, JobContext, Progress};
use crate::library::Library;
use crate::model::system;
use crate::sources::demo::{self, DemoOptions, DemoReport};
use crate::sources::import::ImportReport;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

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
    PersonalizeEval(
        Box<(
            crate::personalize::engine::PersonalizeEngine,
            crate::personalize::eval::EvalReport,
            Option<crate::personalize::personaliser::TrainReport>,
        )>,
    ),
}

/// The work of a job, run on its worker thread.
pub(crate) type Work = Box<dyn FnOnce(&JobContext) -> Result<JobOutput> + Send>;

/// Called on the UI thread the moment a queued job starts (training connects its event
/// channel there).
pub(crate) type OnStart = Box<dyn FnOnce(&mut App)>;

/// A job waiting for the slot.
pub(crate) struct QueuedJob {
    pub kind: JobKind,
    pub name: String,
    work: Work,
    on_start: Option<OnStart>,
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
    job: Job<JobOutput>,
}

impl RunningJob {
    /// Cancels the job and waits for it to clean up (the window is closing).
    pub fn stop_and_wait(self) {
        self.job.cancel();
        let _ = self.job.wait();
    }
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
#[derive(Default)]
pub(crate) struct Jobs {
    pub queue: VecDeque<QueuedJob>,
    /// Cancel was pressed on a job that asks first: the confirmation is on show.
    pub confirm_cancel: bool,
    /// The summary of the job that ended as the running one left the queue (an import's,
    /// while the index it queued runs), so the outcome is not gone the frame it arrives.
    pub previous: Option<String>,
}

impl App {
    /// Queues `work` as a background job (it starts at once when the slot is free), repainting
    /// the window on every progress event.
    pub(super) fn start_job(
        &mut self,
        kind: JobKind,
        name: &str,
        work: impl FnOnce(&JobContext) -> Result<JobOutput> + Send + 'static,
    ) {
        self.queue_job(kind, name, Box::new(work), None);
    }

    /// Queues a job; `on_start` runs when it leaves the queue. A job of the same kind that
    /// is running (not being cancelled) or queued already is not queued again.
    pub(super) fn queue_job(
        &mut self,
        kind: JobKind,
        name: &str,
        work: Work,
        on_start: Option<OnStart>,
    ) {
        if self.job_pending(|k| *k == kind) {
            return;
        }
        let queued = QueuedJob {
            kind,
            name: name.to_owned(),
            work,
            on_start,
        };
        if matches!(self.rt.job, JobState::Running(_)) {
            self.rt.jobs.queue.push_back(queued);
        } else {
            self.spawn_job(queued);
        }
    }

    fn spawn_job(&mut self, queued: QueuedJob) {
        let QueuedJob {
            kind,
            name,
            work,
            on_start,
        } = queued;
        if let Some(on_start) = on_start {
            on_start(self);
        }
        self.rt.jobs.previous = None;
        let ctx = self.rt.ctx.clone();
        let notify: crate::jobs::Notify = Arc::new(move || ctx.request_repaint());
        let job = Job::spawn(&name, Some(notify), work);
        self.rt.job = JobState::Running(Box::new(RunningJob {
            kind,
            name,
            progress: None,
            phases: PhaseProgress::default(),
            cancelling: false,
            job,
        }));
    }

    /// Whether a job `wanted` picks is running (and not being cancelled) or queued.
    pub(crate) fn job_pending(&self, wanted: impl Fn(&JobKind) -> bool) -> bool {
        job_pending(&self.rt.job, &self.rt.jobs, wanted)
    }

    /// Cancel, as pressed: a job that would lose real work asks first; a queued job (by its
    /// place in the queue) just leaves the queue.
    pub(super) fn apply_job_command(&mut self, command: JobCommand) {
        match command {
            JobCommand::Cancel => {
                let JobState::Running(job) = &self.rt.job else {
                    return;
                };
                if job.cancelling {
                    return;
                }
                if job.kind.asks_before_cancel() {
                    self.rt.jobs.confirm_cancel = true;
                } else {
                    self.cancel_running_job();
                }
            }
            JobCommand::ConfirmCancel => {
                self.rt.jobs.confirm_cancel = false;
                self.cancel_running_job();
            }
            JobCommand::KeepRunning => self.rt.jobs.confirm_cancel = false,
            JobCommand::RemoveQueued(i) => {
                if i < self.rt.jobs.queue.len() {
                    let removed = self.rt.jobs.queue.remove(i);
                    if let Some(QueuedJob {
                        kind: JobKind::Index { system },
                        ..
                    }) = removed
                    {
                        self.index_ended(&system, false);
                    }
                }
            }
        }
    }

    fn cancel_running_job(&mut self) {
        if let JobState::Running(job) = &mut self.rt.job {
            job.job.cancel();
            job.cancelling = true;
        }
    }

    /// Starts the next queued job if the slot is free.
    fn start_next_job(&mut self) {
        if matches!(self.rt.job, JobState::Running(_)) {
            return;
        }
        if let Some(next) = self.rt.jobs.queue.pop_front() {
            self.spawn_job(next);
        }
    }

    /// Draws the demo catalogue into the open library; its index follows by itself.
    pub(super) fn start_demo(&mut self, opts: DemoOptions) {
        let dir = self.rt.library_dir.clone();
        let job_opts = opts.clone();
        self.start_job(
            JobKind::DemoCatalogue(opts),
            "Creating the demo catalogue",
            move |ctx| {
                let mut lib = Library::open(&dir)?;
                demo::generate(&mut lib, &job_opts, ctx).map(JobOutput::DemoCatalogue)
            },
        );
    }

    /// Indexes the catalogue with the chosen system.
    pub(super) fn start_index(&mut self) {
        let system = self.state.system.clone();
        self.index_system(system);
    }

    /// Indexes the catalogue with `system` on the CPU (incremental: only new or changed
    /// items are embedded), as a job.
    pub(super) fn index_system(&mut self, name: String) {
        let dir = self.rt.library_dir.clone();
        let job_name = format!("Indexing with {name}");
        self.start_job(
            JobKind::Index {
                system: name.clone(),
            },
            &job_name,
            move |ctx| {
                let device = system::device("cpu")?;
                crate::index::build_in(&dir, &name, &device, ctx).map(JobOutput::Index)
            },
        );
    }

    /// Collects the running job's progress, and its result once it ends; then starts the
    /// next queued job.
    pub(super) fn poll_job(&mut self, now_secs: f64) {
        let JobState::Running(running) = &mut self.rt.job else {
            self.start_next_job();
            return;
        };
        if let Some(p) = running.job.progress() {
            running.progress = Some(p.clone());
            // Training's phases come from its own events (`train_tab::poll`).
            if !matches!(running.kind, JobKind::Train { .. }) {
                running.phases.update_from_progress(p, now_secs);
            }
        }
        let Some(result) = running.job.try_finish() else {
            return;
        };
        let name = running.name.clone();
        let kind = running.kind.clone();
        let cancelled = matches!(result, Err(Error::Cancelled));
        self.rt.jobs.confirm_cancel = false;
        self.rt.job = match result {
            Ok(JobOutput::DemoCatalogue(report)) => {
                self.catalogue_changed();
                JobState::Done {
                    name,
                    summary: format!(
                        "Demo catalogue ready: {} items, {} users, {} street photos in {:.0} s",
                        report.items, report.users, report.street_queries, report.elapsed_secs
                    ),
                }
            }
            Ok(JobOutput::Import(import_kind, report)) => JobState::Done {
                summary: self.import_finished(import_kind, &report),
                name,
            },
            Ok(JobOutput::Index(report)) => {
                // The next query loads the new index.
                self.rt.search.searchers.clear();
                if let Some(first) = report.failed.first() {
                    self.report(format!(
                        "{} of {} images could not be indexed; the first: {}: {}",
                        report.failed.len(),
                        report.items,
                        first.image.display(),
                        first.reason
                    ));
                }
                JobState::Done {
                    name,
                    summary: index_summary(&report),
                }
            }
            Ok(JobOutput::Train(report)) => self.train_finished(name, report),
            Ok(JobOutput::Study(study)) => {
                self.study_created(&study);
                JobState::Done {
                    name,
                    summary: format!(
                        "Study {} ready: {} sheets to score",
                        study.name,
                        study.sheets.len()
                    ),
                }
            }
            Ok(JobOutput::PersonalizeEngine(p)) => JobState::Done {
                summary: self.personalize_loaded(*p),
                name,
            },
            Ok(JobOutput::PersonalizeEval(output)) => JobState::Done {
                summary: self.personalize_evaluated(*output),
                name,
            },
            Err(Error::Cancelled) => JobState::Cancelled { name },
            Err(e) => {
                self.report(format!("{name} failed: {e}"));
                JobState::Failed {
                    name,
                    message: e.to_string(),
                }
            }
        };
        match kind {
            JobKind::Index { system } => {
                let indexed = matches!(self.rt.job, JobState::Done { .. });
                self.index_ended(&system, indexed);
            }
            JobKind::Train { .. } => self.train_ended(cancelled),
            _ => {}
        }
        let outcome = match &self.rt.job {
            JobState::Done { summary, .. } => Some(summary.clone()),
            _ => None,
        };
        self.start_next_job();
        if matches!(self.rt.job, JobState::Running(_)) {
            self.rt.jobs.previous = outcome;
        }
    }

    /// The catalogue changed (the demo, an import): re-read it, and index it with the current
    /// system at once, so the first search finds every item.
    pub(super) fn catalogue_changed(&mut self) {
        self.reload_catalog();
        // New users and items: the Personalize tab loads again.
        self.rt.personalize = personalize_tab::PersonalizeView::default();
        if self.rt.catalog.total_items > 0 {
            let system = self.state.system.clone();
            self.index_system(system);
        }
    }
}

/// A job action from the status line or its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobCommand {
    /// Cancel pressed: stops at once, or asks first (see [`JobKind::asks_before_cancel`]).
    Cancel,
    /// "Stop" in the confirmation.
    ConfirmCancel,
    /// "Keep running" in the confirmation (or Escape).
    KeepRunning,
    /// Take the queued job at this place out of the queue.
    RemoveQueued(usize),
}

impl From<JobCommand> for Command {
    fn from(c: JobCommand) -> Command {
        Command::Job(c)
    }
}

/// Whether a job `wanted` picks is running (and not being cancelled) or queued.
pub(crate) fn job_pending(job: &JobState, jobs: &Jobs, wanted: impl Fn(&JobKind) -> bool) -> bool {
    let running = matches!(job, JobState::Running(r) if !r.cancelling && wanted(&r.kind));
    running || jobs.queue.iter().any(|q| wanted(&q.kind))
}

/// One line about an indexing run, for the status line.
fn index_summary(report: &IndexReport) -> String {
    if report.embedded == 0 && report.removed == 0 {
        return format!(
            "Index of {} is up to date: {} items",
            report.system, report.indexed
        );
    }
    format!(
        "Indexed {} items with {}: {} embedded, {} kept, {} failed, {:.0} images/s",
        report.indexed,
        report.system,
        report.embedded,
        report.kept,
        report.failed.len(),
        report.images_per_s
    )
}
