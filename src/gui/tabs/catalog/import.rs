//! "Import photo folder…" in the Catalog tab (on the empty-library card and above the
//! filters), with its split choice beside it: all photos, or one split folder of a
//! `train/validation/test` layout. The button starts the same import as File > Import
//! catalogue > Photo folder (`crate::gui::command::ImportKind::PhotoFolder`): a folder picker on its own
//! thread, then [`crate::sources::import::import_folder`] (what `vitrine import folder` runs)
//! as a job that queues behind a running one, and the new catalogue indexed by itself.

use crate::gui::command::Command;
use crate::gui::command::ImportKind;
use crate::sources::import::FolderSplit;
use eframe::egui::{self, Ui};

/// The split choice of the Catalog tab's photo-folder import.
#[derive(Default)]
pub(crate) struct ImportView {
    /// Import only this split folder (`None`: every photo in the folder).
    pub split: Option<FolderSplit>,
}

/// "Import photo folder…" and its split choice.
pub(crate) fn import_button_ui(ui: &mut Ui, view: &mut ImportView, commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        let button = ui.button("Import photo folder…").on_hover_text(
            "A folder of photos in category folders (the folder names become categories), \
                 or a flat folder; it waits its turn if another job runs",
        );
        if button.clicked() {
            commands.push(Command::PickImport(ImportKind::PhotoFolder(view.split)));
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

#[cfg(test)]
mod tests {
    use crate::gui::command::Command;
    use crate::gui::command::ImportKind;
    use crate::gui::job_slot::{JobKind, JobState};
    use crate::gui::tests::{harness, has_label, run_until, settle};
    use crate::gui::*;
    use crate::sources::import::FolderSplit;
    use egui::Role;
    use egui_kittest::kittest::Queryable;
    use std::path::PathBuf;

    #[test]
    fn a_photo_folder_imports_from_the_empty_catalog_tab() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path(), Startup::AsIs);
        settle(&mut h);
        assert!(has_label(&h, "This library is empty"));
        // The button opens the system's folder dialog, which a test cannot click through:
        // what it asks for (a photo folder's picker, with the chosen split) is taken from the
        // command list before it is carried out, and the picker's answer becomes the import.
        let train = ImportKind::PhotoFolder(Some(FolderSplit::Train));
        h.state_mut().tabs.catalog.import.split = Some(FolderSplit::Train);
        h.get_by_role_and_label(Role::Button, "Import photo folder…")
            .click();
        h.step();
        let asked = std::mem::take(&mut h.state_mut().rt.commands);
        assert!(asked.contains(&Command::PickImport(train)), "{asked:?}");
        let photos = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos");
        h.state_mut()
            .rt
            .commands
            .push(Command::Import(train, photos));
        run_until(&mut h, "the import", |h| {
            h.state()
                .rt
                .job_pending(|k| matches!(k, JobKind::Import { .. }))
        });
        run_until(&mut h, "the end of the import", |h| {
            !h.state()
                .rt
                .job_pending(|k| matches!(k, JobKind::Import { .. }))
        });
        // The new catalogue is indexed by itself, and the import's outcome stays on show in
        // the status line while the index runs.
        let rt = &h.state().rt;
        assert!(
            matches!(&rt.jobs.previous, Some(summary) if summary.contains("Imported 24 photos")),
            "{:?} {:?}",
            rt.jobs.previous,
            rt.errors
        );
        assert_eq!(h.state().tabs.catalog.total_items, 24);
        assert!(
            rt.job_pending(
                |k| matches!(k, JobKind::Index { system } if system == "imagenet-lite0")
            )
        );
        h.step();
        assert!(h.query_by_label_contains("Imported 24 photos").is_some());
        run_until(
            &mut h,
            "the index",
            |h| matches!(&h.state().rt.jobs.current, JobState::Done { summary, .. } if summary.starts_with("Indexed 24 items")),
        );
        assert!(crate::index::index_path(dir.path(), "imagenet-lite0").is_file());
        settle(&mut h);
        // The catalogue shows, with the categories as filters and the import button.
        assert!(h.query_all_by_label_contains("t-shirt").next().is_some());
        assert!(has_label(&h, "Import photo folder…"));
    }
}
