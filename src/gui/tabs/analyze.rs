//! The Analyze tab: a study's numbers (see [`crate::ohs::report`]) in the shape of the
//! paper's Table I (criteria rows, systems columns, the weighted OHS last, the best of each
//! row green and the worst red), with 95% bootstrap intervals, Krippendorff's α per criterion
//! and its reading, a bar chart per criterion, weight sliders that recompute the OHS live and
//! say whether the ranking of systems holds, per-scorer tables, coverage, and CSV export.
//! Beside the OHS: Table I's Test IoU row where a system has one, the note on the paper's
//! unpublished weights, and machine-vs-human agreement on objective criteria.
//!
//! The tab owns the report on show and its weights; its commands ([`AnalyzeCommand`]) show a
//! report, move the weights, and export or merge. Exports and merges run off the UI thread
//! (each a [`Pending`]), as do their file dialogs.

use crate::error::Result;
use crate::gui::command::AnalyzeCommand;
use crate::gui::command::Command;
use crate::gui::pending::{Pending, block_on};
use crate::gui::runtime::Runtime;
use crate::gui::tabs::evaluate::OhsUiState;
use crate::gui::theme;
use crate::library::Library;
use crate::ohs;
use crate::ohs::report::{self, Report, alpha_reading, ranking};
use crate::study::Direction;
use eframe::egui;
use egui::{RichText, ScrollArea, Ui};
use std::path::PathBuf;

/// The most a weight slider goes to.
const WEIGHT_MAX: f64 = 5.0;

/// What the Analyze tab shows.
#[derive(Default)]
pub(crate) struct AnalyzeTab {
    pub report: Option<Report>,
    /// The slider weights, one per criterion.
    pub weights: Vec<f64>,
    /// The export being written; once done, where it went.
    pub exported: Pending<PathBuf>,
    /// The export save dialog's answer arrives here: (raw, path), `None` when cancelled.
    export_picker: Pending<Option<(bool, PathBuf)>>,
    /// The merge file picker's answer arrives here (`None`: cancelled).
    merge_picker: Pending<Option<PathBuf>>,
    /// The merge under way: the study it merges into, and what it did, in a sentence.
    merging: Pending<(String, String)>,
    /// What the last merge did, in a sentence.
    pub merged: Option<String>,
}

impl AnalyzeTab {
    /// Carries out an analyst's action; an error goes to the banner.
    pub fn handle(&mut self, command: AnalyzeCommand, saved: &mut OhsUiState, rt: &mut Runtime) {
        if let Err(e) = self.try_handle(command, saved, rt) {
            rt.report(format!("Study: {e}"));
        }
    }

    fn try_handle(
        &mut self,
        command: AnalyzeCommand,
        saved: &mut OhsUiState,
        rt: &mut Runtime,
    ) -> Result<()> {
        let Some(lib) = &rt.library else {
            return Ok(());
        };
        match command {
            AnalyzeCommand::ShowReport(name) => {
                let study = ohs::open_study(&lib.store, &name)?;
                let r = report::study_report(&lib.store, &study)?;
                self.weights = r.weights();
                self.report = Some(r);
                self.exported = Pending::Idle;
                self.merged = None;
                saved.report = Some(name);
            }
            AnalyzeCommand::SetWeight(i, w) => {
                if let Some(slot) = self.weights.get_mut(i) {
                    *slot = w.max(0.0);
                }
            }
            AnalyzeCommand::ResetWeights => {
                if let Some(r) = &self.report {
                    self.weights = r.weights();
                }
            }
            AnalyzeCommand::PickExportFile { raw } => {
                let Some(r) = &self.report else {
                    return Ok(());
                };
                if self.export_picker.is_running() {
                    return Ok(());
                }
                let dir = lib.root().join("exports");
                std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
                let file_name = export_file_name(&r.study, raw);
                self.export_picker = rt.spawn("export save dialog", move || {
                    let dialog = rfd::AsyncFileDialog::new()
                        .set_title(if raw {
                            "Export the raw scores"
                        } else {
                            "Export the OHS table"
                        })
                        .add_filter("CSV", &["csv"])
                        .set_directory(&dir)
                        .set_file_name(file_name)
                        .save_file();
                    Ok(block_on(dialog).map(|h| (raw, h.path().to_path_buf())))
                });
            }
            AnalyzeCommand::ExportCsvTo { raw, path } => {
                let Some(r) = &self.report else {
                    return Ok(());
                };
                let (report, weights) = (r.clone(), self.weights.clone());
                let dir = rt.library_dir.clone();
                self.exported = rt.spawn("export", move || {
                    let lib = Library::open_for_reading(&dir)?;
                    let study = ohs::open_study(&lib.store, &report.study)?;
                    let text = if raw {
                        let answers = lib.store.study_answers(study.id)?;
                        ohs::export::raw_csv(&study, &answers)?
                    } else {
                        ohs::export::summary_csv_with(&report, Some(&weights))?
                    };
                    ohs::export::write_text(&path, &text)?;
                    Ok(path)
                });
            }
            AnalyzeCommand::PickMergeFile => {
                if self.merge_picker.is_running() {
                    return Ok(());
                }
                let start_in = lib.root().to_path_buf();
                self.merge_picker = rt.spawn("merge file picker", move || {
                    let dialog = rfd::AsyncFileDialog::new()
                        .set_title("Merge scores from a Vitrine database or a raw-score CSV")
                        .add_filter("Vitrine database or CSV", &["sqlite", "csv"])
                        .set_directory(&start_in)
                        .pick_file();
                    Ok(block_on(dialog).map(|h| h.path().to_path_buf()))
                });
            }
            AnalyzeCommand::MergeFrom(path) => {
                let Some(r) = &self.report else {
                    return Ok(());
                };
                if self.merging.is_running() {
                    return Ok(());
                }
                let name = r.study.clone();
                let dir = rt.library_dir.clone();
                self.merging = rt.spawn("merge scores", move || {
                    let mut lib = Library::open(&dir)?;
                    let merged = ohs::export::merge_file(&mut lib.store, &name, &path)?;
                    let mut summary = format!(
                        "Merged {}: {} answers added, {} duplicates skipped, {} conflicts kept as they were",
                        path.display(),
                        merged.added,
                        merged.duplicates,
                        merged.conflicts.len()
                    );
                    if let Some(first) = merged.conflicts.first() {
                        summary += &format!(" (first: {first})");
                    }
                    Ok((name, summary))
                });
            }
        }
        Ok(())
    }

    /// Collects the dialogs' answers (from any tab: File > Export opens the save dialog too),
    /// a finished export, and a finished merge (whose report then shows again).
    pub fn poll(&mut self, saved: &mut OhsUiState, rt: &mut Runtime) {
        match self.export_picker.take_finished() {
            Some(Ok(Some((raw, path)))) => {
                rt.commands
                    .push(AnalyzeCommand::ExportCsvTo { raw, path }.into());
            }
            Some(Err(e)) => rt.report(format!("Study: cannot show the save dialog: {e}")),
            Some(Ok(None)) | None => {}
        }
        match self.merge_picker.take_finished() {
            Some(Ok(Some(path))) => rt.commands.push(AnalyzeCommand::MergeFrom(path).into()),
            Some(Err(e)) => rt.report(format!("Study: cannot show the file picker: {e}")),
            Some(Ok(None)) | None => {}
        }
        self.exported.poll();
        if let Pending::Failed(e) = &self.exported {
            rt.report(format!("Study: {e}"));
            self.exported = Pending::Idle;
        }
        match self.merging.take_finished() {
            Some(Ok((name, summary))) => {
                self.handle(AnalyzeCommand::ShowReport(name), saved, rt);
                self.merged = Some(summary);
            }
            Some(Err(e)) => rt.report(format!("Study: {e}")),
            None => {}
        }
    }

    /// Draws the Analyze tab; `studies` are the library's (the Evaluate tab lists them).
    pub fn ui(&self, ui: &mut Ui, studies: &[String], rt: &mut Runtime) {
        let mut commands = Vec::new();
        egui::Frame::new()
            .inner_margin(theme::PANEL_MARGIN)
            .show(ui, |ui| self.toolbar_ui(ui, studies, &mut commands));
        match &self.report {
            None => {
                ui.add_space(40.0);
                ui.vertical_centered(|ui| {
                    ui.label("Choose a study to see its objective-guided human scores.");
                });
            }
            Some(report) => {
                ScrollArea::vertical().show(ui, |ui| {
                    egui::Frame::new()
                        .inner_margin(theme::PANEL_MARGIN)
                        .show(ui, |ui| report_ui(ui, report, self, &mut commands));
                });
            }
        }
        rt.commands.extend(commands);
    }

    /// The study picker, Refresh, the exports and the merge, and what the last of them did.
    fn toolbar_ui(&self, ui: &mut Ui, studies: &[String], commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("Study").strong());
            let shown = self.report.as_ref().map(|r| r.study.clone());
            egui::ComboBox::from_id_salt("analyze_study")
                .selected_text(shown.as_deref().unwrap_or("choose a study"))
                .show_ui(ui, |ui| {
                    for name in studies {
                        let chosen = shown.as_deref() == Some(name.as_str());
                        if ui.selectable_label(chosen, name).clicked() {
                            commands.push(AnalyzeCommand::ShowReport(name.clone()).into());
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            if let Some(name) = &shown {
                if ui.button("Refresh").clicked() {
                    commands.push(AnalyzeCommand::ShowReport(name.clone()).into());
                }
                if ui
                    .button("Export table CSV…")
                    .on_hover_text(
                        "The table with its intervals, α, answer counts and, when the \
                             sliders moved, the OHS with your weights",
                    )
                    .clicked()
                {
                    commands.push(AnalyzeCommand::PickExportFile { raw: false }.into());
                }
                if ui.button("Export raw scores CSV…").clicked() {
                    commands.push(AnalyzeCommand::PickExportFile { raw: true }.into());
                }
                if ui
                    .button("Merge scores from...")
                    .on_hover_text(
                        "Add the answers of scorers who worked on another machine: their \
                             vitrine.sqlite, or a raw-score CSV",
                    )
                    .clicked()
                {
                    commands.push(AnalyzeCommand::PickMergeFile.into());
                }
            }
            if let Some(merged) = &self.merged {
                ui.label(RichText::new(merged).weak());
            }
            if let Some(path) = self.exported.done() {
                ui.label(RichText::new(format!("Saved {}", path.display())).weak());
            }
        });
    }
}

/// The file name an export suggests: the study's name made safe, and what it holds.
fn export_file_name(study: &str, raw: bool) -> String {
    let safe: String = study
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if raw {
        format!("{safe}-raw-scores.csv")
    } else {
        format!("{safe}-table.csv")
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

/// The best and worst system of a row (`None` when fewer than two have a value or all tie).
fn best_and_worst(values: &[Option<f64>], higher_is_better: bool) -> Option<(usize, usize)> {
    let scored: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    if scored.len() < 2 {
        return None;
    }
    let max = scored.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let min = scored.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1))?;
    if (max.1 - min.1).abs() < 1e-12 {
        return None;
    }
    Some(if higher_is_better {
        (max.0, min.0)
    } else {
        (min.0, max.0)
    })
}

/// A table cell, filled green (best of its row) or red (worst).
fn cell_ui(ui: &mut Ui, text: String, detail: Option<String>, mark: Option<bool>) {
    let (fill, colour) = match mark {
        Some(true) => (theme::colours(ui).best_fill, theme::colours(ui).best_text),
        Some(false) => (theme::colours(ui).worst_fill, theme::colours(ui).worst_text),
        None => (egui::Color32::TRANSPARENT, theme::colours(ui).text),
    };
    egui::Frame::new()
        .fill(fill)
        .corner_radius(3)
        .inner_margin(egui::Margin::symmetric(6, 2))
        .show(ui, |ui| {
            ui.vertical(|ui| {
                ui.add(
                    egui::Label::new(RichText::new(text).strong().color(colour))
                        .wrap_mode(egui::TextWrapMode::Extend),
                );
                if let Some(d) = detail {
                    ui.add(
                        egui::Label::new(RichText::new(d).small().weak())
                            .wrap_mode(egui::TextWrapMode::Extend),
                    );
                }
            });
        });
}

fn interval(ci: Option<(f64, f64)>) -> Option<String> {
    ci.map(|(lo, hi)| format!("95% CI {lo:.1} to {hi:.1}"))
}

fn report_ui(ui: &mut Ui, report: &Report, view: &AnalyzeTab, commands: &mut Vec<Command>) {
    ui.label(RichText::new(format!("Objective-guided human score: {}", report.study)).heading());
    if !report.goal.is_empty() {
        ui.label(format!("Goal: {}", report.goal));
    }
    ui.label(RichText::new(report.shape_line()).weak());
    ui.add_space(8.0);
    table_ui(ui, report, view);
    ui.add(egui::Label::new(RichText::new(report.weights_note).weak()).wrap());
    ui.add_space(12.0);
    machine_ui(ui, report);
    weights_ui(ui, report, view, commands);
    ui.add_space(12.0);
    ui.label(RichText::new("Hit rate per criterion").strong());
    chart_ui(ui, report);
    ui.add_space(12.0);
    ui.label(RichText::new("Coverage").strong());
    if report.coverage.is_empty() {
        ui.label("No answers yet.");
    }
    for c in &report.coverage {
        ui.label(format!(
            "{}: {} of {} sheets done ({} answers)",
            c.scorer, c.sheets_done, report.sheets, c.answers
        ));
    }
    ui.add_space(12.0);
    for scorer in &report.per_scorer {
        egui::CollapsingHeader::new(format!("Scorer {}", scorer.scorer))
            .id_salt(("scorer", &scorer.scorer))
            .show(ui, |ui| {
                egui::Grid::new(("scorer_table", &scorer.scorer))
                    .striped(true)
                    .show(ui, |ui| {
                        ui.label("criterion");
                        for s in &report.systems {
                            ui.label(s);
                        }
                        ui.end_row();
                        for (c, row) in scorer.percent.iter().enumerate() {
                            ui.label(&report.criteria[c].name);
                            for v in row {
                                ui.label(pct(*v));
                            }
                            ui.end_row();
                        }
                        ui.label(RichText::new("OHS").strong());
                        for v in &scorer.ohs {
                            ui.label(RichText::new(pct(*v)).strong());
                        }
                        ui.end_row();
                    });
            });
    }
}

/// Table I: criteria rows, systems columns, OHS last; α at the right.
fn table_ui(ui: &mut Ui, report: &Report, view: &AnalyzeTab) {
    egui::Grid::new("ohs_table")
        .striped(true)
        .spacing([14.0, 6.0])
        .show(ui, |ui| {
            ui.label(RichText::new("Criterion").strong());
            ui.label(RichText::new("Weight").strong());
            for s in &report.systems {
                ui.label(RichText::new(s).strong());
            }
            ui.label(RichText::new("Agreement (alpha)").strong());
            ui.end_row();
            for c in &report.criteria {
                let name = match c.direction {
                    Direction::More => c.name.clone(),
                    Direction::Fewer => format!("{} (fewer is better)", c.name),
                };
                ui.label(name).on_hover_text(&c.description);
                ui.label(format!("{}", c.weight));
                let marks = best_and_worst(&c.percent, c.direction == Direction::More);
                for (s, v) in c.percent.iter().enumerate() {
                    let mark = marks.and_then(|(best, worst)| {
                        (s == best)
                            .then_some(true)
                            .or((s == worst).then_some(false))
                    });
                    cell_ui(ui, pct(*v), interval(c.ci[s]), mark);
                }
                let alpha = c
                    .alpha
                    .map_or_else(|| "-".to_owned(), |a| format!("{a:.3}"));
                ui.label(format!("{alpha} {}", alpha_reading(c.alpha)));
                ui.end_row();
            }
            ui.label(RichText::new("OHS").strong());
            ui.label("");
            let marks = best_and_worst(&report.ohs, true);
            for (s, v) in report.ohs.iter().enumerate() {
                let mark = marks.and_then(|(best, worst)| {
                    (s == best)
                        .then_some(true)
                        .or((s == worst).then_some(false))
                });
                cell_ui(ui, pct(*v), interval(report.ohs_ci[s]), mark);
            }
            ui.end_row();
            if view.weights != report.weights() {
                ui.label(RichText::new("OHS, your weights").strong());
                ui.label("");
                let live = report.ohs_with(&view.weights);
                let marks = best_and_worst(&live, true);
                for (s, v) in live.iter().enumerate() {
                    let mark = marks.and_then(|(best, worst)| {
                        (s == best)
                            .then_some(true)
                            .or((s == worst).then_some(false))
                    });
                    cell_ui(ui, pct(*v), None, mark);
                }
                ui.end_row();
            }
            if report.has_test_iou() {
                ui.label(RichText::new("Test IoU").strong())
                    .on_hover_text("Eq. (5) on each system's test split, from its training");
                ui.label("");
                for v in &report.test_iou {
                    let text = v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}%"));
                    cell_ui(ui, text, None, None);
                }
                ui.end_row();
            }
        });
}

/// Machine against people on each objective criterion: α, the mean difference, and how
/// many pre-fills were confirmed or changed.
fn machine_ui(ui: &mut Ui, report: &Report) {
    if report.machine.is_empty() {
        return;
    }
    ui.label(RichText::new("Machine pre-fill against scorers").strong());
    egui::Grid::new("machine_agreement")
        .striped(true)
        .spacing([14.0, 4.0])
        .show(ui, |ui| {
            for h in [
                "Criterion",
                "Rule",
                "Answers",
                "Agreement (alpha)",
                "Mean |human - machine|",
                "Confirmed",
                "Corrected",
                "Without pre-fill",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for m in &report.machine {
                ui.label(&m.criterion);
                ui.label(m.rule.describe());
                ui.label(m.pairs.to_string());
                let alpha = m
                    .alpha
                    .map_or_else(|| "-".to_owned(), |a| format!("{a:.3}"));
                ui.label(format!("{alpha} {}", m.alpha_reading()));
                ui.label(
                    m.mean_abs_diff
                        .map_or_else(|| "-".to_owned(), |d| format!("{d:.2} hits")),
                );
                ui.label(m.confirmed.to_string());
                ui.label(m.corrected.to_string());
                ui.label(m.unassisted.to_string());
                ui.end_row();
            }
        });
    ui.add_space(12.0);
}

/// Sliders for the weights; the OHS and the ranking are recomputed as they move.
fn weights_ui(ui: &mut Ui, report: &Report, view: &AnalyzeTab, commands: &mut Vec<Command>) {
    ui.label(RichText::new("What if the goal weighed the criteria differently?").strong());
    egui::Grid::new("weights")
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            for (i, c) in report.criteria.iter().enumerate() {
                let label = ui.label(&c.name);
                let mut w = view.weights.get(i).copied().unwrap_or(c.weight);
                let slider = ui
                    .add(egui::Slider::new(&mut w, 0.0..=WEIGHT_MAX.max(c.weight)).step_by(0.1))
                    .labelled_by(label.id);
                if slider.changed() {
                    commands.push(AnalyzeCommand::SetWeight(i, w).into());
                }
                ui.end_row();
            }
        });
    let names = |order: &[usize], ohs: &[Option<f64>]| -> String {
        order
            .iter()
            .filter(|&&s| ohs[s].is_some())
            .map(|&s| format!("{} ({})", report.systems[s], pct(ohs[s])))
            .collect::<Vec<_>>()
            .join(" > ")
    };
    let study_order = ranking(&report.ohs);
    let live = report.ohs_with(&view.weights);
    let live_order = ranking(&live);
    ui.label(format!(
        "Ranking with these weights: {}",
        names(&live_order, &live)
    ));
    let verdict = if live_order == study_order {
        RichText::new("The ranking of systems holds.").color(theme::colours(ui).best_text)
    } else {
        RichText::new(format!(
            "The ranking changes (the study's weights: {}).",
            names(&study_order, &report.ohs)
        ))
        .color(theme::colours(ui).worst_text)
    };
    ui.horizontal(|ui| {
        ui.label(verdict);
        if ui.button("Study weights").clicked() {
            commands.push(AnalyzeCommand::ResetWeights.into());
        }
    });
}

/// One group of bars per criterion, one bar per system.
fn chart_ui(ui: &mut Ui, report: &Report) {
    use egui_plot::{Bar, BarChart, Legend, Plot};
    let n = report.systems.len().max(1) as f64;
    let width = 0.8 / n;
    let names: Vec<String> = report.criteria.iter().map(|c| c.name.clone()).collect();
    Plot::new("ohs_bars")
        .height(240.0)
        .legend(Legend::default())
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(100.0)
        .y_axis_label("hit rate %")
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            for (s, system) in report.systems.iter().enumerate() {
                let bars = report
                    .criteria
                    .iter()
                    .enumerate()
                    .filter_map(|(c, crit)| {
                        let v = crit.percent[s]?;
                        let x = c as f64 - 0.4 + width * (s as f64 + 0.5);
                        Some(Bar::new(x, v).width(width * 0.9).name(&crit.name))
                    })
                    .collect();
                plot.bar_chart(
                    BarChart::new(system.clone(), bars)
                        .color(theme::SERIES[s % theme::SERIES.len()]),
                );
            }
        });
}
