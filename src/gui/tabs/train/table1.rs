//! The Train tab's Table I section: trains the paper's five systems (V1–V5 analogues,
//! [`crate::experiment::table1`]) as one background job and shows the table, the same one
//! `vitrine experiment table1` prints. The last run's table is read back from the library, so
//! it is on show after a restart.

use crate::experiment::table1::{self, Table1Options, Table1Report};
use crate::gui::command::{Command, TrainCommand};
use crate::gui::job_slot::{JobKind, JobOutput};
use crate::gui::runtime::Runtime;
use crate::library::Library;
use eframe::egui::{self, RichText, Ui};

/// The section's settings and its last table.
pub(crate) struct Table1View {
    /// Most epochs per system.
    pub epochs: usize,
    /// Measure systems already trained with the same recipe instead of training them again.
    pub reuse: bool,
    /// `None` until read from the library; then the last run's table, if any.
    pub last: Option<Option<Table1Report>>,
}

impl Default for Table1View {
    fn default() -> Self {
        Self {
            epochs: Table1Options::default().recipe.epochs,
            reuse: true,
            last: None,
        }
    }
}

impl Table1View {
    /// Reads the last run's table once (and again after every run).
    pub fn refresh(&mut self, rt: &mut Runtime) {
        if self.last.is_some() {
            return;
        }
        self.last = Some(match table1::last_report(&rt.library_dir) {
            Ok(report) => report,
            Err(e) => {
                rt.report(format!("Cannot read the last Table I run: {e}"));
                None
            }
        });
    }

    /// Queues the experiment as a background job (progress names the system and its step).
    pub fn start(&mut self, rt: &mut Runtime) {
        let options = Table1Options {
            reuse: self.reuse,
            recipe: crate::train::TrainConfig {
                epochs: self.epochs,
                ..Table1Options::default().recipe
            },
            ..Table1Options::default()
        };
        let dir = rt.library_dir.clone();
        let device = rt.device.clone();
        rt.start_job(JobKind::Table1, "Table I (V1–V5)", move |ctx| {
            let mut lib = Library::open(&dir)?;
            let device = crate::device::device(&device)?;
            table1::run(&mut lib, &options, &device, ctx).map(|r| JobOutput::Table1(Box::new(r)))
        });
    }

    /// A finished run: its table goes on show; the sentence for the status line.
    pub fn finished(&mut self, report: Table1Report) -> String {
        let summary = format!(
            "Table I: {} systems trained and measured in {:.0} s",
            report.rows.len(),
            report.elapsed_secs
        );
        self.last = Some(Some(report));
        summary
    }

    /// The heading, the settings, Run, and the last table.
    pub fn ui(&mut self, ui: &mut Ui, queued: bool, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.heading("Paper's Table I");
            ui.label(RichText::new("five systems, V1–V5").weak());
        });
        ui.label(
            "What the shallow branch, heavier augmentation and a larger backbone each add: \
             five systems trained with one recipe (head mode, real-scene backgrounds) on \
             this catalogue, measured alike.",
        );
        ui.horizontal(|ui| {
            let label = ui.label("Epochs");
            ui.add(egui::DragValue::new(&mut self.epochs).range(1..=100))
                .labelled_by(label.id);
            ui.checkbox(&mut self.reuse, "Reuse systems already trained")
                .on_hover_text(
                    "Systems table1-v1 … v5 whose finished run had exactly this recipe are \
                     measured again, not trained again.",
                );
            if ui
                .add_enabled(!queued, egui::Button::new("Run Table I"))
                .on_hover_text("Trains table1-v1 … table1-v5 (replacing them) and measures each.")
                .clicked()
            {
                commands.push(TrainCommand::RunTable1.into());
            }
        });
        match &self.last {
            Some(Some(report)) => table_ui(ui, report),
            Some(None) => {
                ui.label(RichText::new("Not run on this library yet.").weak());
            }
            None => {}
        }
    }
}

/// The table: one column per system, one row per measure, as in the paper.
fn table_ui(ui: &mut Ui, report: &Table1Report) {
    egui::Grid::new("table1")
        .striped(true)
        .num_columns(report.rows.len() + 1)
        .show(ui, |ui| {
            ui.label("");
            for row in &report.rows {
                ui.label(RichText::new(&row.variant.id).strong());
            }
            ui.end_row();
            for (name, cells) in report.table() {
                ui.label(name);
                for cell in cells {
                    ui.label(cell);
                }
                ui.end_row();
            }
        });
    ui.label(RichText::new(report.provenance()).weak().small());
}

#[cfg(test)]
mod tests {
    use crate::gui::tests::{demo_library, harness, has_label, run_until, settle};
    use crate::gui::*;
    use egui::Role;
    use egui_kittest::kittest::Queryable;

    #[test]
    fn table_1_trains_five_systems_and_shows_the_table_again_after_a_restart() {
        let dir = demo_library(12);
        let mut h = harness(dir.path(), Startup::AsIs);
        settle(&mut h);
        h.get_by_role_and_label(Role::Button, "Train").click();
        settle(&mut h);
        assert!(has_label(&h, "Not run on this library yet."));
        h.state_mut().tabs.train.table1.epochs = 1;
        h.get_by_role_and_label(Role::Button, "Run Table I").click();
        run_until(&mut h, "the Table I run", |h| {
            matches!(h.state().tabs.train.table1.last, Some(Some(_)))
        });
        settle(&mut h);
        let Some(Some(report)) = &h.state().tabs.train.table1.last else {
            unreachable!()
        };
        let systems: Vec<&str> = report.rows.iter().map(|r| r.system.as_str()).collect();
        assert_eq!(
            systems,
            [
                "table1-v1",
                "table1-v2",
                "table1-v3",
                "table1-v4",
                "table1-v5"
            ]
        );
        assert!(has_label(&h, "V5"));
        assert!(has_label(&h, "stands for (paper)"));
        assert!(has_label(&h, "in-shop colour P@10"));
        let iou = format!("{:.1} %", 100.0 * report.rows[1].test.iou);
        assert!(
            h.query_all_by_label(&iou).next().is_some(),
            "V2's test IoU {iou} is on show"
        );
        // The systems are the library's now, and the table is there after a restart.
        drop(h);
        let mut h = harness(dir.path(), Startup::AsIs);
        settle(&mut h);
        h.get_by_role_and_label(Role::Button, "Train").click();
        settle(&mut h);
        assert!(has_label(&h, "stands for (paper)"));
        assert!(!has_label(&h, "Not run on this library yet."));
    }
}
