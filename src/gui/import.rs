//! Importing a folder of photos from the window: a folder picker (rfd, on its own thread),
//! then [`crate::catalog::import::import_folder`] as the background job, the same importer
//! `vitrine import folder` runs. The split (all, or one split folder of a
//! `train/validation/test` layout) is chosen beside the button.

use super::{App, Command, JobKind, JobOutput, JobState, block_on};
use crate::catalog::import::{self, FolderSplit, ImportOptions, ImportReport};
use crate::library::Library;
use eframe::egui::{self, Ui};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};

/// The import controls' state.
#[derive(Default)]
pub(crate) struct ImportView {
    /// The folder picker's answer arrives here (`None`: cancelled).
    picker: Option<Receiver<Option<PathBuf>>>,
    /// Import only this split folder (`None`: every photo in the folder).
    pub split: Option<FolderSplit>,
}

/// "Import photo folder…" and its split choice; `busy` while another job runs.
pub(crate) fn import_button_ui(
    ui: &mut Ui,
    view: &mut ImportView,
    busy: bool,
    commands: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        let button = ui
            .add_enabled(!busy, egui::Button::new("Import photo folder…"))
            .on_hover_text(
                "A folder of photos in category folders (the folder names become categories), \
                 or a flat folder",
            )
            .on_disabled_hover_text("One background job at a time");
        if button.clicked() {
            commands.push(Command::PickImportFolder);
        }
        let shown = view.split.map_or("all photos", FolderSplit::as_str);
        egui::ComboBox::from_id_salt("import split")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut view.split, None, "all photos");
                for split in FolderSplit::ALL {
                    ui.selectable_value(&mut view.split, Some(split), split.as_str());
                }
            })
            .response
            .on_hover_text("With train/validation/test folders: import only this split");
    });
}

impl App {
    /// Shows the folder picker for a photo folder on its own thread.
    pub(super) fn pick_import_folder(&mut self) {
        if self.rt.import.picker.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = self.rt.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("import folder picker".into())
            .spawn(move || {
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title("Import a folder of photos")
                    .pick_folder();
                let picked = block_on(dialog).map(|handle| handle.path().to_path_buf());
                let _ = tx.send(picked);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.rt.import.picker = Some(rx),
            Err(e) => self.report(format!("Cannot show the folder picker: {e}")),
        }
    }

    /// Turns the picker's answer into an import.
    pub(super) fn poll_import_picker(&mut self) {
        let Some(rx) = &self.rt.import.picker else {
            return;
        };
        match rx.try_recv() {
            Ok(picked) => {
                self.rt.import.picker = None;
                if let Some(dir) = picked {
                    self.rt.commands.push(Command::ImportFolder(dir));
                }
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.rt.import.picker = None,
        }
    }

    /// Imports the photos under `dir` (the chosen split) as the background job.
    pub(super) fn start_import_folder(&mut self, dir: PathBuf) {
        if !self.job_slot_free() {
            return;
        }
        let library = self.rt.library_dir.clone();
        let split = self.rt.import.split;
        let name = format!("Importing {}", dir.display());
        self.start_job(
            JobKind::ImportFolder {
                folder: dir.clone(),
            },
            &name,
            move |ctx| {
                let mut lib = Library::open(&library)?;
                import::import_folder(&mut lib, &dir, split, &ImportOptions::default(), ctx)
                    .map(JobOutput::Import)
            },
        );
    }

    /// Shows the new items, and says what was skipped.
    pub(super) fn import_finished(&mut self, name: String, report: ImportReport) -> JobState {
        self.reload_catalog();
        if let Some(first) = report.skipped.first() {
            self.report(format!(
                "{} file(s) were not imported; the first: {first}",
                report.skipped.len()
            ));
        }
        JobState::Done {
            name,
            summary: format!(
                "Imported {} photos ({} labels); skipped {}",
                report.imported,
                report.labels_kept,
                report.skipped.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::import::FolderSplit;
    use crate::gui::tests::{harness, has_label, run_until, settle};
    use crate::gui::*;
    use egui::Role;
    use egui_kittest::kittest::Queryable;

    #[test]
    fn a_photo_folder_imports_from_the_empty_catalog_tab() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path(), Startup::AsIs);
        settle(&mut h);
        assert!(has_label(&h, "This library is empty"));
        // The button opens the system's folder dialog, which a test cannot click through;
        // its answer becomes this command.
        assert!(
            h.query_by_role_and_label(Role::Button, "Import photo folder…")
                .is_some()
        );
        h.state_mut().rt.import.split = Some(FolderSplit::Train);
        let photos = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos");
        h.state_mut()
            .rt
            .commands
            .push(Command::ImportFolder(photos));
        run_until(&mut h, "the import", |h| {
            matches!(
                &h.state().rt.job,
                JobState::Done { .. } | JobState::Failed { .. }
            )
        });
        h.step();
        let rt = &h.state().rt;
        assert!(
            matches!(&rt.job, JobState::Done { summary, .. } if summary.contains("Imported 24 photos")),
            "{:?}",
            rt.errors
        );
        assert_eq!(rt.catalog.total_items, 24);
        settle(&mut h);
        // The catalogue shows, with the categories as filters and the import button.
        assert!(h.query_all_by_label_contains("t-shirt").next().is_some());
        assert!(has_label(&h, "Import photo folder…"));
    }
}
