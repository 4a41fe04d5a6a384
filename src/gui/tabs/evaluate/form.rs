//! The study creation form (Evaluate > New study): name, goal, K, the systems compared, the
//! queries (with the shop/street ratio), and the criteria with the guidelines scorers read
//! and, per criterion, whether the machine pre-fills it (objective: none / same category /
//! same colour).

use crate::catalog::LabelGroup;
use crate::gui::command::Command;
use crate::gui::command::EvaluateCommand;
use crate::gui::theme;
use crate::model::system::SystemInfo;
use crate::ohs::{QuerySelection, StudySpec, prefill};
use crate::study::{self, Criterion, Direction, ObjectiveRule};
use eframe::egui;
use egui::{RichText, Ui};
use std::path::PathBuf;

/// The width of the form's text fields and of a criterion's name, in points.
const FORM_FIELD_WIDTH: f32 = 520.0;
const CRITERION_NAME_WIDTH: f32 = 220.0;

/// The creation form's fields.
#[derive(Debug, Clone)]
pub(crate) struct CreateForm {
    pub name: String,
    pub goal: String,
    pub k: u32,
    pub seed: u64,
    pub criteria: Vec<Criterion>,
    pub street: usize,
    pub items: usize,
    pub folder: String,
    pub systems: Vec<String>,
    /// Scorers may see why each result is similar (off: heatmaps may sway judgement).
    pub show_explanations: bool,
    /// What the library holds, for the limits.
    pub street_available: usize,
    pub items_available: usize,
    /// The label groups the catalogue has: which objective rules it can decide.
    pub label_groups: Vec<LabelGroup>,
}

impl CreateForm {
    pub fn new(
        street_available: usize,
        items_available: usize,
        label_groups: Vec<LabelGroup>,
    ) -> CreateForm {
        // The paper's mix: 2 shop photos for every 3 street ones.
        let street = street_available.min(30);
        CreateForm {
            name: String::new(),
            goal: String::new(),
            k: study::DEFAULT_K,
            seed: 1,
            criteria: study::paper_criteria_with_rules(&label_groups),
            street,
            items: (street * 2 / 3).min(items_available),
            folder: String::new(),
            systems: Vec::new(),
            show_explanations: false,
            street_available,
            items_available,
            label_groups,
        }
    }

    pub fn spec(&self) -> StudySpec {
        StudySpec {
            name: self.name.trim().to_owned(),
            goal: self.goal.clone(),
            k: self.k,
            criteria: self.criteria.clone(),
            systems: self.systems.clone(),
            queries: QuerySelection {
                street: self.street,
                items: self.items,
                folder: Some(PathBuf::from(self.folder.trim()))
                    .filter(|p| !p.as_os_str().is_empty()),
            },
            seed: self.seed,
            show_explanations: self.show_explanations,
        }
    }
}

/// The creation form: name, goal, K, systems, queries (with the shop/street ratio), criteria.
pub(super) fn create_form_ui(
    ui: &mut Ui,
    form: &mut CreateForm,
    systems: &[SystemInfo],
    commands: &mut Vec<Command>,
) {
    ui.label(RichText::new("New study").heading());
    egui::Grid::new("study_form")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut form.name).desired_width(FORM_FIELD_WIDTH))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Goal");
            ui.add(
                egui::TextEdit::multiline(&mut form.goal)
                    .hint_text("e.g. an image search engine for street photos")
                    .desired_rows(2)
                    .desired_width(FORM_FIELD_WIDTH),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Results per sheet (K)");
            ui.add(egui::DragValue::new(&mut form.k).range(1..=study::MAX_K))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut form.seed))
                .labelled_by(label.id);
            ui.end_row();
            ui.label("Systems compared");
            ui.horizontal_wrapped(|ui| {
                for system in systems {
                    let mut on = form.systems.contains(&system.name);
                    if ui.checkbox(&mut on, &system.name).changed() {
                        if on {
                            form.systems.push(system.name.clone());
                        } else {
                            form.systems.retain(|s| *s != system.name);
                        }
                    }
                }
            });
            ui.end_row();
            let label = ui.label("Street photos");
            ui.add(egui::DragValue::new(&mut form.street).range(0..=form.street_available))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Catalogue items (shop)");
            ui.add(egui::DragValue::new(&mut form.items).range(0..=form.items_available))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Folder of photos");
            ui.add(
                egui::TextEdit::singleline(&mut form.folder)
                    .hint_text("optional; a subfolder named street holds street photos")
                    .desired_width(FORM_FIELD_WIDTH),
            )
            .labelled_by(label.id);
            ui.end_row();
        });
    let ratio = if form.street > 0 {
        format!(
            "Shop/street ratio: {} / {} = {:.2} (the paper used 2/3 = 0.67)",
            form.items,
            form.street,
            form.items as f64 / form.street as f64
        )
    } else {
        format!("{} shop photos, no street photos", form.items)
    };
    ui.label(RichText::new(ratio).weak());
    ui.checkbox(
        &mut form.show_explanations,
        "Let scorers see why each result is similar (heatmaps)",
    )
    .on_hover_text(
        "An Explain button (and H over a result) on the sheet shows where each result and the \
         query agree. Off by default because heatmaps may sway judgement.",
    );
    ui.add_space(8.0);
    ui.label(RichText::new("Criteria").strong());
    ui.label(
        RichText::new(
            "Each criterion's guidelines are what scorers read beside every sheet: say what \
             counts as a hit, with an example or two.",
        )
        .weak(),
    );
    ui.add(
        egui::Label::new(RichText::new(objective_note(&form.label_groups)).color(theme::MACHINE))
            .wrap(),
    );
    let mut remove = None;
    let mut swap = None;
    let count = form.criteria.len();
    for (i, c) in form.criteria.iter_mut().enumerate() {
        let n = i + 1;
        egui::Frame::new()
            .fill(theme::colours(ui).card)
            .stroke(egui::Stroke::new(1.0, theme::colours(ui).card_stroke))
            .corner_radius(theme::CARD_RADIUS)
            .inner_margin(theme::CARD_PADDING * 1.5)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(format!("{n}.")).strong());
                    ui.add(
                        egui::TextEdit::singleline(&mut c.name)
                            .hint_text("name")
                            .desired_width(CRITERION_NAME_WIDTH),
                    )
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::TextInput,
                            true,
                            format!("Criterion {n} name"),
                        )
                    });
                    let label = ui.label("weight");
                    ui.add(
                        egui::DragValue::new(&mut c.weight)
                            .range(0.0..=100.0)
                            .speed(0.1),
                    )
                    .labelled_by(label.id)
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::SpinButton,
                            true,
                            format!("Criterion {n} weight"),
                        )
                    });
                    let label = ui.label("better with");
                    egui::ComboBox::from_id_salt(("direction", i))
                        .selected_text(match c.direction {
                            Direction::More => "more hits",
                            Direction::Fewer => "fewer hits",
                        })
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut c.direction, Direction::More, "more hits");
                            ui.selectable_value(&mut c.direction, Direction::Fewer, "fewer hits");
                        })
                        .response
                        .labelled_by(label.id)
                        .widget_info(|| {
                            egui::WidgetInfo::labeled(
                                egui::Role::ComboBox,
                                true,
                                format!("Criterion {n} direction"),
                            )
                        });
                    objective_ui(ui, n, c, &form.label_groups);
                    if ui
                        .add_enabled(i > 0, egui::Button::new("Up").small())
                        .clicked()
                    {
                        swap = Some((i - 1, i));
                    }
                    if ui
                        .add_enabled(i + 1 < count, egui::Button::new("Down").small())
                        .clicked()
                    {
                        swap = Some((i, i + 1));
                    }
                    if ui.button("Remove").clicked() {
                        remove = Some(i);
                    }
                });
                ui.add(
                    egui::TextEdit::multiline(&mut c.description)
                        .hint_text(
                            "What counts as a hit, with examples, e.g. \"Same category as the \
                             query. A boot for a boot is a hit; a sandal for a boot is not.\"",
                        )
                        .desired_rows(3)
                        .desired_width(f32::INFINITY),
                )
                .widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::MultilineTextInput,
                        true,
                        format!("Criterion {n} guidelines"),
                    )
                });
            });
        ui.add_space(4.0);
    }
    if let Some((a, b)) = swap {
        form.criteria.swap(a, b);
    }
    if let Some(i) = remove {
        form.criteria.remove(i);
    }
    ui.horizontal(|ui| {
        if ui.button("Add criterion").clicked() {
            let n = form.criteria.len() + 1;
            form.criteria
                .push(Criterion::new(&format!("criterion {n}"), ""));
        }
        if ui.button("The paper's seven").clicked() {
            form.criteria = study::paper_criteria_with_rules(&form.label_groups);
        }
    });
    ui.add_space(10.0);
    let spec = form.spec();
    let problem = if spec.name.is_empty() {
        Some("Give the study a name.".to_owned())
    } else if spec.systems.len() < 2 {
        Some("Choose two or more systems.".to_owned())
    } else if spec.queries.street + spec.queries.items == 0 && spec.queries.folder.is_none() {
        Some("Choose some queries.".to_owned())
    } else {
        study::validate_criteria(&spec.criteria)
            .and_then(|()| prefill::check_rules_against(&form.label_groups, &spec.criteria))
            .err()
            .map(|e| e.to_string())
    };
    ui.horizontal(|ui| {
        let create = ui.add_enabled(problem.is_none(), egui::Button::new("Create study"));
        if create.clicked() {
            commands.push(EvaluateCommand::CreateStudy(spec).into());
        }
        if let Some(p) = problem {
            ui.label(RichText::new(p).color(theme::WARNING));
        } else {
            ui.label(
                RichText::new(
                    "Every query runs through every system once; the sheets are then frozen.",
                )
                .weak(),
            );
        }
    });
}

/// What the objective choice does, and what the paper's template chose for this catalogue.
fn objective_note(groups: &[LabelGroup]) -> String {
    let mut note = "Objective: on shop photos of catalogue items, the machine counts the \
                    results with the query item's category (or colour) label and pre-fills \
                    that count; scorers confirm or correct it."
        .to_owned();
    let defaulted: Vec<&str> = ObjectiveRule::ALL
        .into_iter()
        .filter(|r| groups.contains(&r.group()))
        .map(ObjectiveRule::as_str)
        .collect();
    if defaulted.is_empty() {
        note += " This catalogue has no category or colour labels, so no criterion can be \
                 objective.";
    } else {
        note += &format!(
            " The paper's {} start objective because this catalogue has those labels; choose \
             \"objective: none\" to leave a criterion to people alone.",
            defaulted.join(" and ")
        );
    }
    note
}

/// A criterion's objective rule: none, or a rule the catalogue's labels can decide.
fn objective_ui(ui: &mut Ui, n: usize, c: &mut Criterion, groups: &[LabelGroup]) {
    let text = |rule: Option<ObjectiveRule>| match rule {
        None => "objective: none",
        Some(ObjectiveRule::SameCategory) => "objective: same category",
        Some(ObjectiveRule::SameColour) => "objective: same colour",
    };
    egui::ComboBox::from_id_salt(("objective", n))
        .selected_text(text(c.objective))
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut c.objective, None, text(None));
            for rule in ObjectiveRule::ALL {
                let decidable = groups.contains(&rule.group());
                ui.add_enabled_ui(decidable, |ui| {
                    ui.selectable_value(&mut c.objective, Some(rule), text(Some(rule)))
                        .on_hover_text(rule.describe())
                        .on_disabled_hover_text(format!(
                            "the catalogue has no {} labels",
                            rule.group()
                        ));
                });
            }
        })
        .response
        .widget_info(|| {
            egui::WidgetInfo::labeled(
                egui::Role::ComboBox,
                true,
                format!("Criterion {n} objective"),
            )
        });
}
