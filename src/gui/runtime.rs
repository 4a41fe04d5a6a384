//! [`Runtime`]: the state the whole window shares and every tab works through, rebuilt at
//! every start and never saved. It holds the open library and its systems, the device models
//! run on, the background job slot, the error banner, the command queue and the thumbnail
//! cache, with the few services tabs call on it (report an error, start a job, index a
//! system). Tabs get a `&mut Runtime` beside their own state, never the `App`.

use crate::device;
use crate::gui::command::Command;
use crate::gui::command::{Dialog, ImportKind};
use crate::gui::job_slot::{JobKind, JobOutput, JobSlot};
use crate::gui::pending::Pending;
use crate::gui::thumbs::ThumbCache;
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::system::SystemInfo;
use eframe::egui;
use std::path::PathBuf;

/// Runtime state: rebuilt at every start, never saved.
pub(crate) struct Runtime {
    pub ctx: egui::Context,
    pub library_dir: PathBuf,
    pub library: Option<Library>,
    /// The systems of the open library (built-in and trained), for the system picker.
    pub systems: Vec<SystemInfo>,
    /// The device every model of this window runs on (a [`crate::device`] name): the CPU
    /// unless the top bar's picker chose another.
    pub device: String,
    /// The devices the top bar offers: only the CPU (and then no picker) unless the build has
    /// CUDA and a GPU answers.
    pub devices: Vec<&'static str>,
    /// The running job, the jobs waiting for the slot, and a Cancel waiting for its
    /// confirmation.
    pub jobs: JobSlot,
    /// The dialog on show (shortcut sheet, About).
    pub dialog: Option<Dialog>,
    /// The import picker's answer arrives here.
    pub import_picker: Pending<Option<(ImportKind, PathBuf)>>,
    /// The folder picker's answer arrives here (`None`: cancelled).
    pub library_picker: Pending<Option<PathBuf>>,
    /// Errors not yet dismissed, oldest first.
    pub errors: Vec<String>,
    pub commands: Vec<Command>,
    pub thumbs: ThumbCache,
    /// A text field had the keyboard when the frame began (set in `logic`): plain keys are
    /// then text, never shortcuts, even if the field lets go during the frame (Enter).
    pub typing_at_start: bool,
    /// The precision of the named system's index, from its file's header (`None` inside: no
    /// readable index), for the top bar's Precision menu. Read again when the system
    /// changes, and forgotten when a job ends or the library changes (see
    /// [`Runtime::refresh_index_precision`]), so the window reads no file at each frame.
    pub index_precision: Option<(String, Option<crate::index::Precision>)>,
}

impl Runtime {
    pub fn new(ctx: &egui::Context, library_dir: PathBuf) -> Runtime {
        Runtime {
            ctx: ctx.clone(),
            library_dir,
            library: None,
            systems: Vec::new(),
            device: device::CPU.to_owned(),
            devices: device::offered(),
            jobs: JobSlot::new(ctx),
            dialog: None,
            import_picker: Pending::Idle,
            library_picker: Pending::Idle,
            errors: Vec::new(),
            commands: Vec::new(),
            thumbs: ThumbCache::new(ctx),
            typing_at_start: false,
            index_precision: None,
        }
    }

    /// Reads the precision of `system`'s index unless it is known already.
    pub fn refresh_index_precision(&mut self, system: &str) {
        if self
            .index_precision
            .as_ref()
            .is_some_and(|(name, _)| name == system)
        {
            return;
        }
        let path = crate::index::index_path(&self.library_dir, system);
        let precision = crate::index::emb_file::peek_precision(&path);
        self.index_precision = Some((system.to_owned(), precision));
    }

    /// The precision of `system`'s index, if known and readable.
    pub fn index_precision_of(&self, system: &str) -> Option<crate::index::Precision> {
        match &self.index_precision {
            Some((name, precision)) if name == system => *precision,
            _ => None,
        }
    }

    /// Shows an error once, in the banner.
    pub fn report(&mut self, message: String) {
        if !self.errors.contains(&message) {
            self.errors.push(message);
        }
    }

    /// Whether a job `wanted` picks is running (and not being cancelled) or queued.
    pub fn job_pending(&self, wanted: impl Fn(&JobKind) -> bool) -> bool {
        self.jobs.pending(wanted)
    }

    /// Queues `work` as a background job in the slot (see [`JobSlot::start`]).
    pub fn start_job(
        &mut self,
        kind: JobKind,
        name: &str,
        work: impl FnOnce(&JobContext) -> crate::Result<JobOutput> + Send + 'static,
    ) {
        self.jobs.start(kind, name, work);
    }

    /// Runs `work` on a thread of its own, waking the window when it ends (see
    /// [`Pending::spawn`]).
    pub fn spawn<T: Send + 'static>(
        &self,
        name: &str,
        work: impl FnOnce() -> crate::Result<T> + Send + 'static,
    ) -> Pending<T> {
        Pending::spawn(&self.ctx, name, work)
    }

    /// Indexes the catalogue with `system` on the window's device (incremental: only new or
    /// changed items are embedded), as a job.
    pub fn index_system(&mut self, name: String) {
        self.index_system_at(name, None);
    }

    /// Indexing with `name`, its rows written at `precision` (`None`: as its index has them,
    /// f32 for a new one).
    pub fn index_system_at(&mut self, name: String, precision: Option<crate::index::Precision>) {
        let dir = self.library_dir.clone();
        let device = self.device.clone();
        let job_name = format!("Indexing with {name}");
        self.start_job(
            JobKind::Index {
                system: name.clone(),
            },
            &job_name,
            move |ctx| {
                let device = device::device(&device)?;
                let options = crate::index::BuildOptions {
                    precision,
                    ..Default::default()
                };
                crate::index::build_in(&dir, &name, &device, &options, ctx).map(JobOutput::Index)
            },
        );
    }
}
