//! The Evaluate tab: scorer mode and the study creation form (see [`crate::ohs`]).
//!
//! Scorer mode: the scorer types their name; sheets come one at a time in their own shuffled
//! order with the system hidden; the query is shown large beside the K results. For the
//! current criterion the scorer clicks the tiles that are hits (or presses 1–9 and 0 for
//! tiles 1–10, or types the count into its field); keys move between criteria and sheets, as
//! the help line says. Digits are tile shortcuts only while no text field has the keyboard
//! (`App::read_shortcuts`); a click on the field or its label, and Enter in it, keep them a
//! count. Every answer and every move is written to SQLite the moment it happens (by the
//! library's [`ScorerSession`], which this tab drives through [`EvaluateTab::handle`]), so
//! closing or killing the app loses nothing and the scorer resumes exactly where they
//! stopped.
//!
//! Objective criteria (same category, same colour) on shop sheets open with the machine's
//! count pre-selected and marked "machine"; Enter or Confirm accepts it, a click or a typed
//! count corrects it, and nothing is saved before one of them ([`crate::ohs::prefill`]).
//!
//! Where the study allows it (`show_explanations`), an Explain button and H held over a
//! result show why it is similar: heatmaps in place of the result's and the query's
//! pictures (`explain.rs`). Elsewhere nothing offers them, so scorers judge unswayed.
//!
//! The tab is a thin shell over [`crate::ohs::session`]: it keeps the session and what is
//! being typed, turns clicks and keys into [`EvaluateCommand`]s, and draws (`sheet`, `form`).

mod explain;
mod form;
mod sheet;

use crate::error::Result;
use crate::gui::command::Command;
use crate::gui::command::EvaluateCommand;
use crate::gui::explain_overlay::ExplainOverlay;
use crate::gui::job_slot::{JobKind, JobOutput};
use crate::gui::runtime::Runtime;
use crate::gui::theme;
use crate::ohs::session::ScorerSession;
use crate::ohs::{self, StudySpec};
use crate::study::Study;
use eframe::egui;
use egui::{Align, Layout, RichText, ScrollArea, Ui};
use form::CreateForm;

/// The study form's width (wider reads badly), in points.
const FORM_MAX_WIDTH: f32 = 900.0;

/// What the study tabs remember between runs (eframe storage): the study, the scorer and
/// whether they were scoring, and the study analysed, so a restart resumes the work.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OhsUiState {
    pub study: Option<String>,
    pub scorer: String,
    pub scoring: bool,
    pub report: Option<String>,
}

/// What the Evaluate tab shows.
pub(crate) struct EvaluateTab {
    pub studies: Vec<String>,
    pub study: Option<Study>,
    pub scorer_input: String,
    pub session: Option<ScorerSession>,
    pub form: Option<CreateForm>,
    pub hits_input: String,
    /// The Explain button is on (offered only where the study allows it).
    pub explain_on: bool,
    /// The "why similar" pictures of the result explained last; blind, so its labels never
    /// name the system the scorer must not know.
    pub explain: ExplainOverlay,
    /// The sheet those pictures belong to: another sheet clears them (the same item may
    /// be there against another query).
    explain_sheet: Option<i64>,
}

impl Default for EvaluateTab {
    fn default() -> EvaluateTab {
        EvaluateTab {
            studies: Vec::new(),
            study: None,
            scorer_input: String::new(),
            session: None,
            form: None,
            hits_input: String::new(),
            explain_on: false,
            explain: ExplainOverlay::blind(),
            explain_sheet: None,
        }
    }
}

impl EvaluateTab {
    /// Carries out a study action. Answers and moves are written at once, one transaction
    /// each; an error goes to the banner.
    pub fn handle(&mut self, command: EvaluateCommand, saved: &mut OhsUiState, rt: &mut Runtime) {
        if let Err(e) = self.try_handle(command, saved, rt) {
            rt.report(format!("Study: {e}"));
        }
    }

    fn try_handle(
        &mut self,
        command: EvaluateCommand,
        saved: &mut OhsUiState,
        rt: &mut Runtime,
    ) -> Result<()> {
        let Some(lib) = rt.library.as_mut() else {
            return Ok(());
        };
        let store = &mut lib.store;
        match command {
            EvaluateCommand::ListStudies => self.studies = store.study_names()?,
            EvaluateCommand::SelectStudy(name) => {
                self.session = None;
                self.study = Some(ohs::open_study(store, &name)?);
                saved.study = Some(name);
                saved.scoring = false;
            }
            EvaluateCommand::StartScoring(scorer) => {
                let Some(study) = &self.study else {
                    return Ok(());
                };
                self.session = Some(ScorerSession::start(store, study, &scorer)?);
                self.hits_input.clear();
                saved.scorer = scorer;
                saved.scoring = true;
            }
            EvaluateCommand::StopScoring => {
                self.session = None;
                saved.scoring = false;
            }
            EvaluateCommand::SetHits { hits, advance } => {
                if let (Some(study), Some(session)) = (&self.study, &mut self.session) {
                    session.answer(store, study, hits, None)?;
                }
                if advance {
                    rt.commands.push(EvaluateCommand::MoveCriterion(1).into());
                }
            }
            EvaluateCommand::ToggleMark(rank) => {
                if let (Some(study), Some(session)) = (&self.study, &mut self.session) {
                    session.toggle_mark(store, study, rank)?;
                }
            }
            EvaluateCommand::ConfirmPrefill => {
                let (Some(study), Some(session)) = (&self.study, &mut self.session) else {
                    return Ok(());
                };
                if session.confirm_prefill(store, study)? {
                    self.hits_input.clear();
                    rt.commands.push(EvaluateCommand::MoveCriterion(1).into());
                }
            }
            EvaluateCommand::MoveCriterion(_)
            | EvaluateCommand::MoveSheet(_)
            | EvaluateCommand::Skip => {
                let (Some(study), Some(session)) = (&self.study, &mut self.session) else {
                    return Ok(());
                };
                match command {
                    EvaluateCommand::MoveCriterion(delta) => session.move_criterion(study, delta),
                    EvaluateCommand::MoveSheet(delta) => session.move_sheet(delta),
                    _ => session.skip(study),
                }
                self.hits_input.clear();
                session.save_position(store, study)?;
            }
            EvaluateCommand::Undo => {
                let (Some(study), Some(session)) = (&self.study, &mut self.session) else {
                    return Ok(());
                };
                if session.undo(store, study)? {
                    self.hits_input.clear();
                }
            }
            EvaluateCommand::SetExplain(on) => self.set_explain(on, rt),
            EvaluateCommand::Explain(rank) => self.explain_rank(rank, rt),
            EvaluateCommand::ShowCreateForm(show) => {
                self.form = if show {
                    let counts = store.counts()?;
                    let groups = ohs::prefill::catalogue_groups(store)?;
                    let mut form = CreateForm::new(
                        counts.street_queries as usize,
                        counts.items as usize,
                        groups,
                    );
                    form.systems = rt.systems.iter().take(2).map(|s| s.name.clone()).collect();
                    Some(form)
                } else {
                    None
                };
            }
            EvaluateCommand::CreateStudy(spec) => {
                ohs::validate_spec(lib, &spec)?;
                start_create_study(spec, rt);
            }
        }
        Ok(())
    }

    /// After a library opens: list its studies and resume what the saved UI state names
    /// (a study no longer there is forgotten quietly).
    pub fn resume(&mut self, saved: &mut OhsUiState, rt: &mut Runtime) {
        self.handle(EvaluateCommand::ListStudies, saved, rt);
        let remembered = saved.clone();
        if let Some(study) = remembered.study.filter(|s| self.studies.contains(s)) {
            self.handle(EvaluateCommand::SelectStudy(study), saved, rt);
            self.scorer_input = remembered.scorer.clone();
            if remembered.scoring && !remembered.scorer.is_empty() {
                let start = EvaluateCommand::StartScoring(remembered.scorer);
                self.handle(start, saved, rt);
            }
        }
    }

    /// A study was created: list it, select it, close the form.
    pub fn study_created(&mut self, study: &Study, saved: &mut OhsUiState, rt: &mut Runtime) {
        self.form = None;
        self.handle(EvaluateCommand::ListStudies, saved, rt);
        self.handle(EvaluateCommand::SelectStudy(study.name.clone()), saved, rt);
    }

    /// Draws the Evaluate tab.
    pub fn ui(&mut self, ui: &mut Ui, rt: &mut Runtime) {
        let mut commands = Vec::new();
        egui::Frame::new()
            .inner_margin(theme::PANEL_MARGIN)
            .show(ui, |ui| toolbar_ui(ui, self, &mut commands));
        if let Some(form) = &mut self.form {
            ScrollArea::vertical().show(ui, |ui| {
                egui::Frame::new()
                    .inner_margin(theme::PANEL_MARGIN)
                    .show(ui, |ui| {
                        ui.set_max_width(FORM_MAX_WIDTH);
                        form::create_form_ui(ui, form, &rt.systems, &mut commands)
                    });
            });
        } else if let (Some(study), Some(session)) = (&self.study, &self.session) {
            let explain = study.show_explanations.then_some(sheet::SheetExplain {
                overlay: &self.explain,
                on: self.explain_on,
            });
            sheet::sheet_ui(
                ui,
                (study, session),
                &mut self.hits_input,
                explain,
                rt,
                &mut commands,
            );
        } else {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.set_max_width(theme::READING_WIDTH);
                let text = if self.studies.is_empty() {
                    "No study yet. Create one: name it, choose the systems, the queries (shop \
                     and street photos) and the criteria; the sheets are frozen when it is \
                     created."
                } else {
                    "Choose a study, type your name and press Start scoring. Sheets come in your \
                     own order with the system hidden; every answer is saved at once, so you \
                     can stop at any time and resume later."
                };
                ui.add(egui::Label::new(text).wrap());
            });
        }
        rt.commands.extend(commands);
    }
}

/// Creates a study as a background job (indexing missing systems, freezing sheets).
fn start_create_study(spec: StudySpec, rt: &mut Runtime) {
    let dir = rt.library_dir.clone();
    let device = rt.device.clone();
    let name = format!("Creating the study {}", spec.name);
    rt.start_job(
        JobKind::CreateStudy {
            name: spec.name.clone(),
        },
        &name,
        move |ctx| {
            let device = crate::device::device(&device)?;
            ohs::create_study(&dir, &spec, &device, ctx).map(JobOutput::Study)
        },
    );
}

/// The keys of scorer mode, as the help line shows them.
pub(crate) const KEY_HELP: &str = "Keys: 1-9 and 0 mark results 1-10 | Up/Down: criterion | \
     Enter: confirm the machine's count, or next criterion | Left: back | Right: next sheet | S: skip | Ctrl+Z: undo | \
     in the count field, digits are the count and Esc leaves it | F1: all keys";

/// Scorer-mode keys become commands. The caller (`App::read_shortcuts`) calls this only in
/// frames where no text field has the keyboard, so a digit typed into the count field is
/// never also a click on a result tile.
pub(crate) fn read_scoring_keys(
    ctx: &egui::Context,
    tab: &EvaluateTab,
    commands: &mut Vec<Command>,
) {
    if tab.session.is_none() || tab.form.is_some() {
        return;
    }
    // Enter accepts a machine pre-fill on show; elsewhere it moves on.
    let prefill_shown = match (&tab.study, &tab.session) {
        (Some(study), Some(session)) => session
            .sheet(study)
            .is_some_and(|sheet| session.prefill_on(study, sheet).is_some()),
        _ => false,
    };
    let enter = if prefill_shown {
        EvaluateCommand::ConfirmPrefill
    } else {
        EvaluateCommand::MoveCriterion(1)
    };
    ctx.input_mut(|input| {
        use egui::{Key, Modifiers};
        let digits = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
            Key::Num0,
        ];
        for (i, key) in digits.into_iter().enumerate() {
            if input.consume_key(Modifiers::NONE, key) {
                commands.push(EvaluateCommand::ToggleMark(i as u32 + 1).into());
            }
        }
        if input.consume_shortcut(&egui::KeyboardShortcut::new(Modifiers::COMMAND, Key::Z)) {
            commands.push(EvaluateCommand::Undo.into());
        }
        for (key, command) in [
            (Key::ArrowUp, EvaluateCommand::MoveCriterion(-1)),
            (Key::ArrowDown, EvaluateCommand::MoveCriterion(1)),
            (Key::Enter, enter),
            (Key::ArrowLeft, EvaluateCommand::MoveSheet(-1)),
            (Key::ArrowRight, EvaluateCommand::MoveSheet(1)),
            (Key::S, EvaluateCommand::Skip),
        ] {
            if input.consume_key(Modifiers::NONE, key) {
                commands.push(command.into());
            }
        }
    });
}

fn toolbar_ui(ui: &mut Ui, view: &mut EvaluateTab, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let label = ui.label(RichText::new("Study").strong());
        let selected = view
            .study
            .as_ref()
            .map_or("choose a study", |s| s.name.as_str());
        egui::ComboBox::from_id_salt("evaluate_study")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                for name in &view.studies {
                    let chosen = view.study.as_ref().is_some_and(|s| s.name == *name);
                    if ui.selectable_label(chosen, name).clicked() {
                        commands.push(EvaluateCommand::SelectStudy(name.clone()).into());
                    }
                }
            })
            .response
            .labelled_by(label.id);
        match (&view.study, &view.session) {
            (Some(_), None) => {
                let label = ui.label("Your name");
                let field = ui
                    .add(egui::TextEdit::singleline(&mut view.scorer_input).desired_width(140.0))
                    .labelled_by(label.id);
                let name = view.scorer_input.clone();
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let start =
                    ui.add_enabled(!name.trim().is_empty(), egui::Button::new("Start scoring"));
                if start.clicked() || (enter && !name.trim().is_empty()) {
                    commands.push(EvaluateCommand::StartScoring(name).into());
                }
            }
            (Some(_), Some(session)) => {
                ui.label(format!("Scoring as {}", session.scorer));
                if ui.button("Stop scoring").clicked() {
                    commands.push(EvaluateCommand::StopScoring.into());
                }
            }
            _ => {}
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if view.form.is_some() {
                if ui.button("Close the form").clicked() {
                    commands.push(EvaluateCommand::ShowCreateForm(false).into());
                }
            } else if ui.button("New study").clicked() {
                commands.push(EvaluateCommand::ShowCreateForm(true).into());
            }
        });
    });
}
