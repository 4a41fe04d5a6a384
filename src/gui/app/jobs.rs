//! What the app does when a background job in the slot ends (or starts): each finished job's
//! output goes to the tab it is for, and its outcome goes on show in the status line. A
//! finished catalogue change (the demo, an import) queues the index of the current system at
//! once, and a finished index lets the search that waited for it run.

use super::App;
use crate::error::Error;
use crate::gui::command::JobCommand;
use crate::gui::job_slot::{FinishedJob, JobKind, JobOutput, JobState, index_summary};
use crate::library::Library;
use crate::sources::demo::{self, DemoOptions};

impl App {
    /// Collects the running job's progress, and its result once it ends; then starts the
    /// next queued job.
    pub(in crate::gui) fn poll_job(&mut self, now_secs: f64) {
        let Some(FinishedJob { kind, name, result }) = self.rt.jobs.poll(now_secs) else {
            return;
        };
        let cancelled = matches!(result, Err(Error::Cancelled));
        // Any job may have written an index (an import indexes, so does training's report).
        self.rt.index_precision = None;
        let outcome = match result {
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
                self.tabs.search.searchers.clear();
                if let Some(first) = report.failed.first() {
                    self.rt.report(format!(
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
            Ok(JobOutput::Train(report)) => {
                self.reload_systems();
                // A system retrained under its name: the Search tab and the explanations
                // notice at their next request; the loaded recommender goes now.
                self.tabs.personalize.drop_engine_if_saved_again();
                JobState::Done {
                    summary: self.tabs.train.finished(report),
                    name,
                }
            }
            Ok(JobOutput::Study(study)) => {
                let summary = format!(
                    "Study {} ready: {} sheets to score",
                    study.name,
                    study.sheets.len()
                );
                self.tabs
                    .evaluate
                    .study_created(&study, &mut self.state.ohs, &mut self.rt);
                JobState::Done { name, summary }
            }
            Ok(JobOutput::Table1(report)) => {
                self.reload_systems();
                // The runs table lists the new systems.
                self.tabs.train.runs = None;
                JobState::Done {
                    summary: self.tabs.train.table1.finished(*report),
                    name,
                }
            }
            Ok(JobOutput::PersonalizeEngine(p)) => JobState::Done {
                summary: self.tabs.personalize.loaded(*p, &self.rt),
                name,
            },
            Ok(JobOutput::PersonalizeEval(output)) => JobState::Done {
                summary: self.tabs.personalize.evaluated(*output, &self.rt),
                name,
            },
            Ok(JobOutput::CompareExtractors(report)) => JobState::Done {
                summary: self.tabs.personalize.extractors_compared(*report),
                name,
            },
            Err(Error::Cancelled) => JobState::Cancelled { name },
            Err(e) => {
                self.rt.report(format!("{name} failed: {e}"));
                JobState::Failed {
                    name,
                    message: e.to_string(),
                }
            }
        };
        let done = matches!(outcome, JobState::Done { .. });
        self.rt.jobs.end(outcome);
        match kind {
            JobKind::Index { system } => self.index_ended(&system, done),
            JobKind::Train { .. } => self.tabs.train.ended(cancelled, &self.rt.library_dir),
            _ => {}
        }
    }

    /// Tells the tabs about jobs that left the queue this frame (a training run's plots
    /// start over when its run starts).
    pub(in crate::gui) fn jobs_started(&mut self) {
        for kind in self.rt.jobs.take_started() {
            if let JobKind::Train { .. } = kind {
                self.tabs.train.run_started();
            }
        }
    }

    /// Cancel, as pressed: a job that would lose real work asks first; a queued job (by its
    /// place in the queue) just leaves the queue.
    pub(in crate::gui) fn apply_job_command(&mut self, command: JobCommand) {
        if let Some(JobKind::Index { system }) = self.rt.jobs.command(command) {
            self.index_ended(&system, false);
        }
    }

    /// Indexing with `system` ended (`indexed`: it made an index): a query waiting for it
    /// runs now, or is dropped with a word why.
    fn index_ended(&mut self, system: &str, indexed: bool) {
        self.tabs
            .search
            .index_ended(system, indexed, &self.state.system, &mut self.rt);
    }

    /// Draws the demo catalogue into the open library; its index follows by itself.
    pub(in crate::gui) fn start_demo(&mut self, opts: DemoOptions) {
        let dir = self.rt.library_dir.clone();
        let job_opts = opts.clone();
        self.rt.start_job(
            JobKind::DemoCatalogue(opts),
            "Creating the demo catalogue",
            move |ctx| {
                let mut lib = Library::open(&dir)?;
                demo::generate(&mut lib, &job_opts, ctx).map(JobOutput::DemoCatalogue)
            },
        );
    }

    /// The catalogue changed (the demo, an import): re-read it, and index it with the current
    /// system at once, so the first search finds every item.
    pub(in crate::gui) fn catalogue_changed(&mut self) {
        self.tabs.catalog.reload(&self.state.filter, &mut self.rt);
        // New users and items: the Personalize tab loads again.
        self.tabs.personalize = Default::default();
        if self.tabs.catalog.total_items > 0 {
            self.rt.index_system(self.state.system.clone());
        }
    }
}
