//! The Analyze tab: a study's numbers (see [`crate::ohs::report`]) in the shape of the
//! paper's Table I (criteria rows, systems columns, the weighted OHS last, the best of each
//! row green and the worst red), with 95% bootstrap intervals, Krippendorff's α per criterion
//! and its reading, a bar chart per criterion, weight sliders that recompute the OHS live and
//! say whether the ranking of systems holds, per-scorer tables, coverage, and CSV export.

use super::evaluate_tab::{AnalyzeView, OhsCommand};
use super::{Command, Runtime, theme};
use crate::ohs::report::{Report, alpha_reading, ranking};
use crate::study::Direction;
use eframe::egui;
use egui::{RichText, ScrollArea, Ui};

/// The most a weight slider goes to.
const WEIGHT_MAX: f64 = 5.0;

/// Draws the Analyze tab.
pub(crate) fn analyze_tab_ui(ui: &mut Ui, rt: &mut Runtime) {
    let mut commands = Vec::new();
    egui::Frame::new()
        .inner_margin(theme::PANEL_MARGIN)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label(RichText::new("Study").strong());
                let shown = rt.analyze.report.as_ref().map(|r| r.study.clone());
                egui::ComboBox::from_id_salt("analyze_study")
                    .selected_text(shown.as_deref().unwrap_or("choose a study"))
                    .show_ui(ui, |ui| {
                        for name in &rt.evaluate.studies {
                            let chosen = shown.as_deref() == Some(name.as_str());
                            if ui.selectable_label(chosen, name).clicked() {
                                commands.push(Command::Ohs(OhsCommand::ShowReport(name.clone())));
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id);
                if let Some(name) = &shown {
                    if ui.button("Refresh").clicked() {
                        commands.push(Command::Ohs(OhsCommand::ShowReport(name.clone())));
                    }
                    if ui
                        .button("Export table CSV…")
                        .on_hover_text(
                            "The table with its intervals, α, answer counts and, when the \
                             sliders moved, the OHS with your weights",
                        )
                        .clicked()
                    {
                        commands.push(Command::Ohs(OhsCommand::PickExportFile { raw: false }));
                    }
                    if ui.button("Export raw scores CSV…").clicked() {
                        commands.push(Command::Ohs(OhsCommand::PickExportFile { raw: true }));
                    }
                    if ui
                        .button("Merge scores from...")
                        .on_hover_text(
                            "Add the answers of scorers who worked on another machine: their \
                             vitrine.sqlite, or a raw-score CSV",
                        )
                        .clicked()
                    {
                        commands.push(Command::Ohs(OhsCommand::PickMergeFile));
                    }
                }
                if let Some(rx) = &rt.analyze.merge_picker {
                    match rx.try_recv() {
                        Ok(picked) => {
                            rt.analyze.merge_picker = None;
                            if let Some(path) = picked {
                                commands.push(Command::Ohs(OhsCommand::MergeFrom(path)));
                            }
                        }
                        Err(std::sync::mpsc::TryRecvError::Empty) => {}
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                            rt.analyze.merge_picker = None
                        }
                    }
                }
                if let Some(merged) = &rt.analyze.merged {
                    ui.label(RichText::new(merged).weak());
                }
                if let Some(path) = &rt.analyze.exported {
                    ui.label(RichText::new(format!("Saved {}", path.display())).weak());
                }
            });
        });
    match &rt.analyze.report {
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
                    .show(ui, |ui| report_ui(ui, report, &rt.analyze, &mut commands));
            });
        }
    }
    rt.commands.extend(commands);
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

fn report_ui(ui: &mut Ui, report: &Report, view: &AnalyzeView, commands: &mut Vec<Command>) {
    ui.label(RichText::new(format!("Objective-guided human score: {}", report.study)).heading());
    if !report.goal.is_empty() {
        ui.label(format!("Goal: {}", report.goal));
    }
    ui.label(
        RichText::new(format!(
            "{} sheets: {} queries ({} shop, {} street) x {} systems, hit@{}",
            report.sheets,
            report.queries,
            report.shop_queries,
            report.street_queries,
            report.systems.len(),
            report.k
        ))
        .weak(),
    );
    ui.add_space(8.0);
    table_ui(ui, report, view);
    ui.add_space(12.0);
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
fn table_ui(ui: &mut Ui, report: &Report, view: &AnalyzeView) {
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
        });
}

/// Sliders for the weights; the OHS and the ranking are recomputed as they move.
fn weights_ui(ui: &mut Ui, report: &Report, view: &AnalyzeView, commands: &mut Vec<Command>) {
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
                    commands.push(Command::Ohs(OhsCommand::SetWeight(i, w)));
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
            commands.push(Command::Ohs(OhsCommand::ResetWeights));
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
