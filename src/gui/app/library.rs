//! The app's library-wide actions: opening a library (and what every tab then forgets or
//! reloads), its systems, the system and device models run with, and catalogue imports
//! (File > Import and the Catalog tab's "Import photo folder…": a file or folder picker on its
//! own thread, then a job that queues behind a running one).

use super::App;

use crate::gui::command::Command;
use crate::gui::command::ImportKind;
use crate::gui::job_slot::{JobKind, JobOutput};
use crate::gui::pending::block_on;
use crate::library::Library;
use crate::model::system::{self, System};
use crate::sources::import::{self, ImportOptions, ImportReport};
use std::path::PathBuf;

impl App {
    /// Opens (creating if needed) the library at `dir` and loads its catalogue. On failure the
    /// previous library, if any, stays closed and the banner says why.
    pub(in crate::gui) fn open_library(&mut self, dir: PathBuf) {
        self.rt.thumbs.clear();
        self.tabs.catalog.close();
        self.tabs.personalize = Default::default();
        self.rt.library = None;
        self.rt.library_dir = dir.clone();
        self.rt.index_precision = None;
        match Library::open(&dir) {
            Ok(lib) => {
                self.rt.library = Some(lib);
                self.reload_systems();
                self.tabs.catalog.reload(&self.state.filter, &mut self.rt);
                self.tabs.evaluate = Default::default();
                self.tabs.analyze = Default::default();
                self.resume_ohs();
            }
            Err(e) => self.rt.report(format!("Cannot open the library: {e}")),
        }
    }

    /// After a library opens: list its studies and resume what the saved UI state names
    /// (a study no longer there is forgotten quietly), in Evaluate and in Analyze.
    fn resume_ohs(&mut self) {
        let saved = &mut self.state.ohs;
        self.tabs.evaluate.resume(saved, &mut self.rt);
        if let Some(study) = saved
            .report
            .clone()
            .filter(|s| self.tabs.evaluate.studies.contains(s))
        {
            let show = crate::gui::command::AnalyzeCommand::ShowReport(study);
            self.tabs.analyze.handle(show, saved, &mut self.rt);
        }
    }

    /// Re-reads the library's systems; a saved choice that no longer exists falls back to
    /// the built-in system.
    pub(in crate::gui) fn reload_systems(&mut self) {
        self.tabs.train.runs = None;
        let Some(lib) = &self.rt.library else {
            return;
        };
        match System::list(lib) {
            Ok(systems) => self.rt.systems = systems,
            Err(e) => {
                self.rt.systems = vec![System::imagenet_lite0_info()];
                self.rt.report(format!("Cannot list the systems: {e}"));
            }
        }
        if !self.rt.systems.iter().any(|s| s.name == self.state.system) {
            self.state.system = system::IMAGENET_LITE0.to_owned();
        }
    }

    /// Searches and indexes with `name` from now on. The results on show belong to the
    /// previous system: they go, and the query on show runs again with this one.
    pub(in crate::gui) fn select_system(&mut self, name: String) {
        if name == self.state.system {
            return;
        }
        self.state.system = name;
        self.tabs
            .search
            .system_changed(&self.state.system, &mut self.rt);
    }

    /// Runs every model on the device `name` from now on: the next search loads its
    /// systems there, and jobs started from now on use it.
    pub(in crate::gui) fn select_device(&mut self, name: String) {
        if name == self.rt.device {
            return;
        }
        if let Err(e) = crate::device::device(&name) {
            self.rt.report(format!("Cannot use the device {name}: {e}"));
            return;
        }
        self.rt.device = name;
        // The loaded models live on the previous device.
        self.tabs.search.searchers.clear();
    }

    /// Shows the folder picker on its own thread, so the window keeps painting.
    pub(in crate::gui) fn pick_library_folder(&mut self) {
        if self.rt.library_picker.is_running() {
            return;
        }
        let start_in = self.rt.library_dir.clone();
        self.rt.library_picker = self.rt.spawn("folder picker", move || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Open a Vitrine library folder")
                .set_directory(&start_in)
                .pick_folder();
            Ok(block_on(dialog).map(|handle| handle.path().to_path_buf()))
        });
    }

    /// Shows the file or folder picker of an import on its own thread.
    pub(in crate::gui) fn pick_import(&mut self, kind: ImportKind) {
        if self.rt.import_picker.is_running() {
            return;
        }
        self.rt.import_picker = self.rt.spawn("import picker", move || {
            let dialog = rfd::AsyncFileDialog::new().set_title(kind.picker_title());
            let picked = if kind.picks_folder() {
                block_on(dialog.pick_folder())
            } else {
                block_on(dialog.add_filter("CSV", &["csv"]).pick_file())
            };
            Ok(picked.map(|h| (kind, h.path().to_path_buf())))
        });
    }

    /// The library and import pickers' answers become commands.
    pub(in crate::gui) fn poll_pickers(&mut self) {
        match self.rt.library_picker.take_finished() {
            Some(Ok(Some(dir))) => self.rt.commands.push(Command::OpenLibrary(dir)),
            Some(Err(e)) => self
                .rt
                .report(format!("Cannot show the folder picker: {e}")),
            Some(Ok(None)) | None => {}
        }
        match self.rt.import_picker.take_finished() {
            Some(Ok(Some((kind, path)))) => self.rt.commands.push(Command::Import(kind, path)),
            Some(Err(e)) => self.rt.report(format!("Cannot show the file picker: {e}")),
            Some(Ok(None)) | None => {}
        }
    }

    /// Imports the catalogue at `path` as a job (default options, as `vitrine import`).
    pub(in crate::gui) fn start_import(&mut self, kind: ImportKind, path: PathBuf) {
        let dir = self.rt.library_dir.clone();
        let name = format!(
            "Importing {}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string())
        );
        self.rt.start_job(
            JobKind::Import {
                kind,
                source: path.clone(),
            },
            &name,
            move |ctx| {
                let mut lib = Library::open(&dir)?;
                let opts = ImportOptions::default();
                let report = match kind {
                    ImportKind::PhotoFolder(split) => {
                        import::import_folder(&mut lib, &path, split, &opts, ctx)
                    }
                    ImportKind::Csv => import::csv::import_csv(&mut lib, &path, None, &opts, ctx),
                    ImportKind::FashionProductImages => {
                        import::fashion::import_fashion_product_images(&mut lib, &path, &opts, ctx)
                    }
                    ImportKind::DeepFashionInshop => {
                        import::deepfashion::import_deepfashion_inshop(&mut lib, &path, &opts, ctx)
                    }
                }?;
                Ok(JobOutput::Import(kind, report))
            },
        );
    }

    /// A finished import: the catalogue re-read and indexed; skipped rows (or photos) in the
    /// banner.
    pub(in crate::gui) fn import_finished(
        &mut self,
        kind: ImportKind,
        report: &ImportReport,
    ) -> String {
        // The report lists at most `MAX_PROBLEMS_KEPT` problems and counts the rest.
        let skipped = report.skipped.len() as u64 + report.skipped_unlisted;
        if let Some(first) = report.skipped.first() {
            self.rt.report(match kind {
                ImportKind::PhotoFolder(_) => {
                    format!("{skipped} photo(s) were not imported; the first: {first}")
                }
                _ => format!("{skipped} rows were skipped; the first: {first}"),
            });
        }
        if report.imported > 0 {
            self.catalogue_changed();
        }
        match kind {
            ImportKind::PhotoFolder(_) => format!(
                "Imported {} photos ({} labels), skipped {skipped}",
                report.imported, report.labels_kept
            ),
            _ => format!(
                "Imported {} items ({} labels, {} users, {} ratings), skipped {skipped}",
                report.imported, report.labels_kept, report.users, report.ratings
            ),
        }
    }
}
