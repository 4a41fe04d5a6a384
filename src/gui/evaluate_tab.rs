//! The Evaluate tab: scorer mode and the study creation form (see [`crate::ohs`]).
//!
//! Scorer mode: the scorer types their name; sheets come one at a time in their own shuffled
//! order with the system hidden; the query is shown large beside the K results. For the
//! current criterion the scorer clicks the tiles that are hits (or presses 1–9 and 0 for
//! tiles 1–10, or types the count into its field); keys move between criteria and sheets, as
//! the help line says. Digits are tile shortcuts only while no text field has the keyboard
//! (`App::read_shortcuts`); a click on the field or its label, and Enter in it, keep them a
//! count. Every answer and every move is written to SQLite the moment it happens (in
//! [`super::App::apply_ohs`]), so closing or killing the app loses nothing and the scorer
//! resumes exactly where they stopped.

use super::thumbs::{ImageKey, ImageRequest, Thumb, ThumbCache};
use super::{Command, Runtime, theme, widgets};
use crate::error::Result;
use crate::model::system::SystemInfo;
use crate::ohs::session::ScorerSession;
use crate::ohs::{self, QuerySelection, StudySpec, report};
use crate::study::{self, Criterion, Direction, Sheet, Study};
use eframe::egui;
use egui::{Align, Layout, RichText, ScrollArea, Sense, Stroke, StrokeKind, Ui, Vec2};
use std::path::{Path, PathBuf};

/// Result tiles per row on a sheet.
const SHEET_COLUMNS: usize = 5;
/// The study form: the width of its text fields, of a criterion's name, and of the whole
/// form (wider reads badly), in points.
const FORM_FIELD_WIDTH: f32 = 520.0;
const CRITERION_NAME_WIDTH: f32 = 220.0;
const FORM_MAX_WIDTH: f32 = 900.0;

/// A study action; [`super::App::apply_ohs`] carries it out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OhsCommand {
    /// Re-read the list of studies.
    ListStudies,
    SelectStudy(String),
    /// Start scoring the selected study as this scorer (resuming where they stopped).
    StartScoring(String),
    StopScoring,
    /// The current criterion's hit count, typed; with `advance`, then the next criterion
    /// (only if the count was accepted).
    SetHits {
        hits: u32,
        advance: bool,
    },
    /// Mark or unmark the result of this rank (1-based) as a hit for the current criterion.
    ToggleMark(u32),
    MoveCriterion(isize),
    /// Back (-1) or next (+1) sheet in the scorer's order.
    MoveSheet(isize),
    /// Leave this sheet for later and go to the next one not yet done.
    Skip,
    /// Show (or hide) the creation form.
    ShowCreateForm(bool),
    /// Create the study the form describes (a background job).
    CreateStudy(StudySpec),
    /// Analyze: compute the report of this study.
    ShowReport(String),
    /// Analyze: the slider weight of criterion `i`.
    SetWeight(usize, f64),
    ResetWeights,
    /// Analyze (and File > Export): show the save dialog for the summary (false) or
    /// raw-score (true) CSV, starting in `DIR/exports/`.
    PickExportFile {
        raw: bool,
    },
    /// Write the summary (false) or raw-score (true) CSV to `path`.
    ExportCsvTo {
        raw: bool,
        path: PathBuf,
    },
    /// Take back the scorer's last answer (Ctrl+Z): the answer it replaced comes back in
    /// SQLite, or it is deleted, and the sheet and criterion it was given on are shown.
    Undo,
    /// Analyze: show the file picker for another library's database or a raw-score CSV.
    PickMergeFile,
    /// Analyze: merge the answers in this file into the shown study.
    MergeFrom(PathBuf),
}

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
    /// What the library holds, for the limits.
    pub street_available: usize,
    pub items_available: usize,
}

impl CreateForm {
    fn new(street_available: usize, items_available: usize) -> CreateForm {
        // The paper's mix: 2 shop photos for every 3 street ones.
        let street = street_available.min(30);
        CreateForm {
            name: String::new(),
            goal: String::new(),
            k: study::DEFAULT_K,
            seed: 1,
            criteria: study::paper_criteria(),
            street,
            items: (street * 2 / 3).min(items_available),
            folder: String::new(),
            systems: Vec::new(),
            street_available,
            items_available,
        }
    }

    fn spec(&self) -> StudySpec {
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
        }
    }
}

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
#[derive(Default)]
pub(crate) struct EvaluateView {
    pub studies: Vec<String>,
    pub study: Option<Study>,
    pub scorer_input: String,
    pub session: Option<ScorerSession>,
    pub form: Option<CreateForm>,
    pub hits_input: String,
}

/// What the Analyze tab shows.
#[derive(Default)]
pub(crate) struct AnalyzeView {
    pub report: Option<report::Report>,
    /// The slider weights, one per criterion.
    pub weights: Vec<f64>,
    /// Where the last export went.
    pub exported: Option<PathBuf>,
    /// The export save dialog's answer arrives here: (raw, path), `None` when cancelled.
    pub export_picker: Option<std::sync::mpsc::Receiver<Option<(bool, PathBuf)>>>,
    /// The merge file picker's answer arrives here (`None`: cancelled).
    pub merge_picker: Option<std::sync::mpsc::Receiver<Option<PathBuf>>>,
    /// What the last merge did, in a sentence.
    pub merged: Option<String>,
}

impl super::App {
    /// Carries out a study action. Answers and moves are written here, one transaction each.
    pub(super) fn apply_ohs(&mut self, command: OhsCommand) {
        if let Err(e) = self.try_apply_ohs(command) {
            self.report(format!("Study: {e}"));
        }
    }

    /// After a library opens: list its studies and resume what the saved UI state names
    /// (a study no longer there is forgotten quietly).
    pub(super) fn resume_ohs(&mut self) {
        self.apply_ohs(OhsCommand::ListStudies);
        let saved = self.state.ohs.clone();
        let studies = &self.rt.evaluate.studies;
        if let Some(study) = saved.study.filter(|s| studies.contains(s)) {
            self.apply_ohs(OhsCommand::SelectStudy(study));
            self.rt.evaluate.scorer_input = saved.scorer.clone();
            if saved.scoring && !saved.scorer.is_empty() {
                self.apply_ohs(OhsCommand::StartScoring(saved.scorer));
            }
        }
        if let Some(study) = saved
            .report
            .filter(|s| self.rt.evaluate.studies.contains(s))
        {
            self.apply_ohs(OhsCommand::ShowReport(study));
        }
    }

    fn try_apply_ohs(&mut self, command: OhsCommand) -> Result<()> {
        let Some(lib) = self.rt.library.as_mut() else {
            return Ok(());
        };
        let view = &mut self.rt.evaluate;
        match command {
            OhsCommand::ListStudies => view.studies = lib.store.study_names()?,
            OhsCommand::SelectStudy(name) => {
                view.session = None;
                view.study = Some(ohs::open_study(&lib.store, &name)?);
                self.state.ohs.study = Some(name);
                self.state.ohs.scoring = false;
            }
            OhsCommand::StartScoring(scorer) => {
                let Some(study) = &view.study else {
                    return Ok(());
                };
                view.session = Some(ScorerSession::start(&lib.store, study, &scorer)?);
                view.hits_input.clear();
                self.state.ohs.scorer = scorer;
                self.state.ohs.scoring = true;
            }
            OhsCommand::StopScoring => {
                view.session = None;
                self.state.ohs.scoring = false;
            }
            OhsCommand::SetHits { hits, advance } => {
                if let (Some(study), Some(session)) = (&view.study, &mut view.session) {
                    session.answer(&mut lib.store, study, hits, None)?;
                }
                if advance {
                    self.rt
                        .commands
                        .push(Command::Ohs(OhsCommand::MoveCriterion(1)));
                }
            }
            OhsCommand::ToggleMark(rank) => {
                if let (Some(study), Some(session)) = (&view.study, &mut view.session) {
                    session.toggle_mark(&mut lib.store, study, rank)?;
                }
            }
            OhsCommand::MoveCriterion(delta) => {
                let (Some(study), Some(session)) = (&view.study, &mut view.session) else {
                    return Ok(());
                };
                session.move_criterion(study, delta);
                view.hits_input.clear();
                session.save_position(&mut lib.store, study)?;
            }
            OhsCommand::MoveSheet(delta) => {
                let (Some(study), Some(session)) = (&view.study, &mut view.session) else {
                    return Ok(());
                };
                session.move_sheet(delta);
                view.hits_input.clear();
                session.save_position(&mut lib.store, study)?;
            }
            OhsCommand::Skip => {
                let (Some(study), Some(session)) = (&view.study, &mut view.session) else {
                    return Ok(());
                };
                session.skip(study);
                view.hits_input.clear();
                session.save_position(&mut lib.store, study)?;
            }
            OhsCommand::ShowCreateForm(show) => {
                view.form = if show {
                    let counts = lib.store.counts()?;
                    let mut form =
                        CreateForm::new(counts.street_queries as usize, counts.items as usize);
                    form.systems = self
                        .rt
                        .systems
                        .iter()
                        .take(2)
                        .map(|s| s.name.clone())
                        .collect();
                    Some(form)
                } else {
                    None
                };
            }
            OhsCommand::CreateStudy(spec) => {
                ohs::validate_spec(lib, &spec)?;
                self.start_create_study(spec);
            }
            OhsCommand::ShowReport(name) => {
                let study = ohs::open_study(&lib.store, &name)?;
                let answers = lib.store.study_answers(study.id)?;
                let r = report::report(&study, &answers, report::BOOTSTRAP_ROUNDS);
                self.rt.analyze.weights = r.weights();
                self.rt.analyze.report = Some(r);
                self.rt.analyze.exported = None;
                self.rt.analyze.merged = None;
                self.state.ohs.report = Some(name);
            }
            OhsCommand::SetWeight(i, w) => {
                if let Some(slot) = self.rt.analyze.weights.get_mut(i) {
                    *slot = w.max(0.0);
                }
            }
            OhsCommand::ResetWeights => {
                if let Some(r) = &self.rt.analyze.report {
                    self.rt.analyze.weights = r.weights();
                }
            }
            OhsCommand::PickExportFile { raw } => {
                let Some(r) = &self.rt.analyze.report else {
                    return Ok(());
                };
                if self.rt.analyze.export_picker.is_some() {
                    return Ok(());
                }
                let dir = lib.root().join("exports");
                std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
                let file_name = export_file_name(&r.study, raw);
                let rx = super::off_ui_thread(&self.rt.ctx, "export save dialog", move || {
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
                    super::block_on(dialog).map(|h| (raw, h.path().to_path_buf()))
                })
                .map_err(|e| crate::Error::Invalid(format!("cannot show the save dialog: {e}")))?;
                self.rt.analyze.export_picker = Some(rx);
            }
            OhsCommand::ExportCsvTo { raw, path } => {
                let Some(r) = &self.rt.analyze.report else {
                    return Ok(());
                };
                let study = ohs::open_study(&lib.store, &r.study)?;
                let text = if raw {
                    let answers = lib.store.study_answers(study.id)?;
                    ohs::export::raw_csv(&study, &answers)?
                } else {
                    ohs::export::summary_csv_with(r, Some(&self.rt.analyze.weights))?
                };
                ohs::export::write_text(&path, &text)?;
                self.rt.analyze.exported = Some(path);
            }
            OhsCommand::Undo => {
                let (Some(study), Some(session)) = (&view.study, &mut view.session) else {
                    return Ok(());
                };
                if session.undo(&mut lib.store, study)? {
                    view.hits_input.clear();
                }
            }
            OhsCommand::PickMergeFile => {
                if self.rt.analyze.merge_picker.is_some() {
                    return Ok(());
                }
                let start_in = lib.root().to_path_buf();
                let rx = super::off_ui_thread(&self.rt.ctx, "merge file picker", move || {
                    let dialog = rfd::AsyncFileDialog::new()
                        .set_title("Merge scores from a Vitrine database or a raw-score CSV")
                        .add_filter("Vitrine database or CSV", &["sqlite", "csv"])
                        .set_directory(&start_in)
                        .pick_file();
                    super::block_on(dialog).map(|h| h.path().to_path_buf())
                })
                .map_err(|e| crate::Error::Invalid(format!("cannot show the file picker: {e}")))?;
                self.rt.analyze.merge_picker = Some(rx);
            }
            OhsCommand::MergeFrom(path) => {
                let Some(r) = &self.rt.analyze.report else {
                    return Ok(());
                };
                let name = r.study.clone();
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
                self.apply_ohs(OhsCommand::ShowReport(name));
                self.rt.analyze.merged = Some(summary);
            }
        }
        Ok(())
    }

    /// Creates a study as a background job (indexing missing systems, freezing sheets).
    fn start_create_study(&mut self, spec: StudySpec) {
        let dir = self.rt.library_dir.clone();
        let name = format!("Creating the study {}", spec.name);
        self.start_job(
            super::JobKind::CreateStudy {
                name: spec.name.clone(),
            },
            &name,
            move |ctx| {
                let device = crate::model::system::device("cpu")?;
                ohs::create_study(&dir, &spec, &device, ctx).map(super::JobOutput::Study)
            },
        );
    }

    /// A study was created: list it, select it, close the form.
    pub(super) fn study_created(&mut self, study: &Study) {
        self.rt.evaluate.form = None;
        self.apply_ohs(OhsCommand::ListStudies);
        self.apply_ohs(OhsCommand::SelectStudy(study.name.clone()));
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

impl super::App {
    /// Collects the export save dialog's answer (from any tab: File > Export opens it too).
    pub(super) fn poll_export_picker(&mut self) {
        let Some(rx) = &self.rt.analyze.export_picker else {
            return;
        };
        match rx.try_recv() {
            Ok(picked) => {
                self.rt.analyze.export_picker = None;
                if let Some((raw, path)) = picked {
                    self.rt
                        .commands
                        .push(Command::Ohs(OhsCommand::ExportCsvTo { raw, path }));
                }
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.rt.analyze.export_picker = None;
            }
        }
    }
}

/// The keys of scorer mode, as the help line shows them.
pub(crate) const KEY_HELP: &str = "Keys: 1-9 and 0 mark results 1-10 | Up/Down: criterion | \
     Enter: next criterion | Left: back | Right: next sheet | S: skip | Ctrl+Z: undo | \
     in the count field, digits are the count and Esc leaves it | F1: all keys";

/// Scorer-mode keys become commands. The caller (`App::read_shortcuts`) calls this only in
/// frames where no text field has the keyboard, so a digit typed into the count field is
/// never also a click on a result tile.
pub(crate) fn read_scoring_keys(ctx: &egui::Context, rt: &mut Runtime) {
    if rt.evaluate.session.is_none() || rt.evaluate.form.is_some() {
        return;
    }
    let commands = &mut rt.commands;
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
                commands.push(Command::Ohs(OhsCommand::ToggleMark(i as u32 + 1)));
            }
        }
        if input.consume_shortcut(&egui::KeyboardShortcut::new(Modifiers::COMMAND, Key::Z)) {
            commands.push(Command::Ohs(OhsCommand::Undo));
        }
        for (key, command) in [
            (Key::ArrowUp, OhsCommand::MoveCriterion(-1)),
            (Key::ArrowDown, OhsCommand::MoveCriterion(1)),
            (Key::Enter, OhsCommand::MoveCriterion(1)),
            (Key::ArrowLeft, OhsCommand::MoveSheet(-1)),
            (Key::ArrowRight, OhsCommand::MoveSheet(1)),
            (Key::S, OhsCommand::Skip),
        ] {
            if input.consume_key(Modifiers::NONE, key) {
                commands.push(Command::Ohs(command));
            }
        }
    });
}

/// Draws the Evaluate tab.
pub(crate) fn evaluate_tab_ui(ui: &mut Ui, rt: &mut Runtime) {
    let mut commands = Vec::new();
    egui::Frame::new()
        .inner_margin(theme::PANEL_MARGIN)
        .show(ui, |ui| toolbar_ui(ui, &mut rt.evaluate, &mut commands));
    let root = rt.library_dir.clone();
    let systems = rt.systems.clone();
    let view = &mut rt.evaluate;
    if let Some(form) = &mut view.form {
        ScrollArea::vertical().show(ui, |ui| {
            egui::Frame::new()
                .inner_margin(theme::PANEL_MARGIN)
                .show(ui, |ui| {
                    ui.set_max_width(FORM_MAX_WIDTH);
                    create_form_ui(ui, form, &systems, &mut commands)
                });
        });
    } else if let (Some(study), Some(session)) = (&view.study, &view.session) {
        sheet_ui(
            ui,
            study,
            session,
            &mut view.hits_input,
            &root,
            &mut rt.thumbs,
            &mut commands,
        );
    } else {
        ui.add_space(40.0);
        ui.vertical_centered(|ui| {
            ui.set_max_width(theme::READING_WIDTH);
            let text = if view.studies.is_empty() {
                "No study yet. Create one: name it, choose the systems, the queries (shop and \
                 street photos) and the criteria; the sheets are frozen when it is created."
            } else {
                "Choose a study, type your name and press Start scoring. Sheets come in your own \
                 order with the system hidden; every answer is saved at once, so you can stop \
                 at any time and resume later."
            };
            ui.add(egui::Label::new(text).wrap());
        });
    }
    rt.commands.extend(commands);
}

fn toolbar_ui(ui: &mut Ui, view: &mut EvaluateView, commands: &mut Vec<Command>) {
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
                        commands.push(Command::Ohs(OhsCommand::SelectStudy(name.clone())));
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
                    commands.push(Command::Ohs(OhsCommand::StartScoring(name)));
                }
            }
            (Some(_), Some(session)) => {
                ui.label(format!("Scoring as {}", session.scorer));
                if ui.button("Stop scoring").clicked() {
                    commands.push(Command::Ohs(OhsCommand::StopScoring));
                }
            }
            _ => {}
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if view.form.is_some() {
                if ui.button("Close the form").clicked() {
                    commands.push(Command::Ohs(OhsCommand::ShowCreateForm(false)));
                }
            } else if ui.button("New study").clicked() {
                commands.push(Command::Ohs(OhsCommand::ShowCreateForm(true)));
            }
        });
    });
}

/// One sheet: query large on the left, the K results in a grid, the criteria and controls.
fn sheet_ui(
    ui: &mut Ui,
    study: &Study,
    session: &ScorerSession,
    hits_input: &mut String,
    root: &Path,
    thumbs: &mut ThumbCache,
    commands: &mut Vec<Command>,
) {
    let Some(sheet) = session.sheet(study) else {
        ui.label("This study has no sheets.");
        return;
    };
    let done = session.sheets_done(study);
    let total = study.sheets.len();
    egui::Frame::new()
        .inner_margin(theme::PANEL_MARGIN)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("Sheet {} of {total}", session.pos + 1))
                        .strong()
                        .size(15.0),
                );
                widgets::progress_bar_ui(ui, done as f32 / total.max(1) as f32, 220.0);
                ui.label(format!("{done} of {total} sheets done"));
                if session.is_done(study, sheet) {
                    widgets::pill_ui(ui, "this sheet is done");
                }
            });
            // Readable at a glance (F1 shows every key).
            ui.add(egui::Label::new(RichText::new(KEY_HELP).weak()).wrap());
        });
    let query = &study.queries[sheet.query];
    egui::Panel::left("sheet_query")
        .resizable(false)
        .exact_size(theme::SEARCH_QUERY_WIDTH + 40.0)
        .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
        .show(ui, |ui| {
            ui.label(RichText::new("Query").strong());
            let path = crate::library::resolve(root, &query.image);
            let thumb = thumbs.texture_or_request(ImageRequest {
                key: ImageKey::Full(path.to_string_lossy().into_owned()),
                thumb: crate::library::thumb_path(root, &query.image),
                original: path,
            });
            let side = ui.available_width();
            image_ui(ui, &thumb, Vec2::splat(side));
            widgets::pill_ui(ui, &format!("{} photo", query.domain.as_str()));
            ui.add_space(10.0);
            criteria_ui(ui, study, session, sheet, commands);
        });
    egui::CentralPanel::default()
        .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
        .show(ui, |ui| {
            let criterion = &study.criteria[session.criterion];
            let current = session.answers.get(&(sheet.id, session.criterion));
            ui.horizontal(|ui| {
                ui.label(RichText::new(&criterion.name).heading());
                let how = match criterion.direction {
                    Direction::More => "count the results that match",
                    Direction::Fewer => "count the results that match (fewer is better)",
                };
                ui.label(RichText::new(how).weak());
            });
            guidelines_ui(ui, study, session.criterion);
            ui.horizontal(|ui| {
                // The field comes first, so it stays where it is whatever the answer says.
                let label = ui.add(egui::Label::new("Type the number").sense(Sense::click()));
                let field = ui
                    .add(
                        egui::TextEdit::singleline(hits_input)
                            .id_salt("hits field")
                            .desired_width(40.0),
                    )
                    .labelled_by(label.id);
                // As in any form, a click on the label puts the keyboard in its field.
                if label.clicked() {
                    field.request_focus();
                }
                widgets::keep_text_typed_while_focusing(ui, &field, hits_input, |c| {
                    c.is_ascii_digit()
                });
                let typed = hits_input.trim().parse::<u32>().ok();
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let set = ui.add_enabled(typed.is_some(), egui::Button::new("Set"));
                if let Some(h) = typed
                    && (set.clicked() || enter)
                {
                    commands.push(Command::Ohs(OhsCommand::SetHits {
                        hits: h,
                        advance: true,
                    }));
                }
                if enter {
                    // The next criterion's count goes into the same field: keep the keyboard
                    // there, so the next digits are a count, not clicks on result tiles.
                    field.request_focus();
                }
                if ui.button("None match (0)").clicked() {
                    commands.push(Command::Ohs(OhsCommand::SetHits {
                        hits: 0,
                        advance: false,
                    }));
                }
                let answer = match current {
                    Some((hits, _)) => format!("Hits: {hits} of {}", study.k),
                    None => "Not answered yet".to_owned(),
                };
                ui.label(RichText::new(answer).strong());
            });
            ui.horizontal(|ui| {
                for (text, command) in [
                    ("Back", OhsCommand::MoveSheet(-1)),
                    ("Previous criterion", OhsCommand::MoveCriterion(-1)),
                    ("Next criterion", OhsCommand::MoveCriterion(1)),
                    ("Skip", OhsCommand::Skip),
                    ("Next sheet", OhsCommand::MoveSheet(1)),
                ] {
                    if ui.button(text).clicked() {
                        commands.push(Command::Ohs(command));
                    }
                }
            });
            ui.add_space(6.0);
            let marks: &[u32] = match current {
                Some((_, Some(m))) => m,
                _ => &[],
            };
            results_grid_ui(ui, sheet, marks, root, thumbs, commands);
        });
}

/// The study author's guidelines for the current criterion (what counts as a hit, with
/// examples; several lines), and every criterion's under a fold, so a scorer can check how
/// the others were meant without leaving the sheet.
fn guidelines_ui(ui: &mut Ui, study: &Study, current: usize) {
    let criterion = &study.criteria[current];
    egui::Frame::new()
        .fill(theme::colours(ui).card)
        .stroke(egui::Stroke::new(1.0, theme::colours(ui).card_stroke))
        .corner_radius(theme::CARD_RADIUS)
        .inner_margin(theme::CARD_PADDING * 1.5)
        .show(ui, |ui| {
            ui.set_max_width(theme::READING_WIDTH * 1.4);
            ui.label(RichText::new("Guidelines").small().weak());
            let text = if criterion.description.trim().is_empty() {
                "The study gives no guidelines for this criterion."
            } else {
                criterion.description.as_str()
            };
            ui.add(egui::Label::new(text).wrap());
            egui::CollapsingHeader::new("Every criterion's guidelines")
                .id_salt("all guidelines")
                .default_open(false)
                .show(ui, |ui| {
                    for (c, other) in study.criteria.iter().enumerate() {
                        let mut name = RichText::new(&other.name).strong();
                        if c == current {
                            name = name.color(theme::colours(ui).accent_text);
                        }
                        ui.label(name);
                        ui.add(egui::Label::new(&other.description).wrap());
                    }
                });
        });
}

/// The criteria of the sheet with this scorer's counts; click one to score it.
fn criteria_ui(
    ui: &mut Ui,
    study: &Study,
    session: &ScorerSession,
    sheet: &Sheet,
    commands: &mut Vec<Command>,
) {
    ui.label(RichText::new("Criteria").strong());
    for (c, criterion) in study.criteria.iter().enumerate() {
        let count = session
            .answers
            .get(&(sheet.id, c))
            .map_or_else(|| "-".to_owned(), |(h, _)| h.to_string());
        let text = format!("{}: {count}", criterion.name);
        if ui.selectable_label(c == session.criterion, text).clicked() {
            commands.push(Command::Ohs(OhsCommand::MoveCriterion(
                c as isize - session.criterion as isize,
            )));
        }
    }
}

/// The K results; a click marks or unmarks a hit.
fn results_grid_ui(
    ui: &mut Ui,
    sheet: &Sheet,
    marks: &[u32],
    root: &Path,
    thumbs: &mut ThumbCache,
    commands: &mut Vec<Command>,
) {
    let gap = theme::GRID_GAP;
    let (columns, width) = widgets::grid_columns(ui.available_width(), SHEET_COLUMNS, gap);
    ScrollArea::vertical().show(ui, |ui| {
        for row in sheet.items.chunks(columns).enumerate() {
            let (r, items) = row;
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = gap;
                for (i, item) in items.iter().enumerate() {
                    let rank = (r * columns + i + 1) as u32;
                    let marked = marks.contains(&rank);
                    let (rect, response) =
                        ui.allocate_exact_size(Vec2::new(width, width + 22.0), Sense::click());
                    let label = format!("Result {rank}");
                    response.widget_info(|| {
                        egui::WidgetInfo::selected(egui::Role::CheckBox, true, marked, &label)
                    });
                    paint_tile(ui, rect, rank, marked, root, thumbs, item);
                    if response.clicked() {
                        commands.push(Command::Ohs(OhsCommand::ToggleMark(rank)));
                    }
                }
            });
            ui.add_space(gap);
        }
    });
}

fn paint_tile(
    ui: &Ui,
    rect: egui::Rect,
    rank: u32,
    marked: bool,
    root: &Path,
    thumbs: &mut ThumbCache,
    item: &study::SheetItem,
) {
    let painter = ui.painter();
    let fill = if marked {
        theme::colours(ui).accent_tint
    } else {
        theme::colours(ui).card
    };
    painter.rect_filled(rect, theme::CARD_RADIUS, fill);
    let (stroke, width) = if marked {
        (theme::ACCENT, 3.0)
    } else {
        (theme::colours(ui).card_stroke, 1.0)
    };
    painter.rect_stroke(
        rect,
        theme::CARD_RADIUS,
        Stroke::new(width, stroke),
        StrokeKind::Inside,
    );
    let image_rect = egui::Rect::from_min_size(
        rect.min + Vec2::splat(theme::CARD_PADDING),
        Vec2::splat(rect.width() - 2.0 * theme::CARD_PADDING),
    );
    let thumb = thumbs.texture_or_request(ImageRequest::thumb(root, &item.image));
    paint_image(painter, &thumb, image_rect);
    let text = if marked {
        format!("#{rank}  hit")
    } else {
        format!("#{rank}")
    };
    painter.text(
        egui::pos2(rect.min.x + theme::CARD_PADDING, rect.max.y - 4.0),
        egui::Align2::LEFT_BOTTOM,
        text,
        egui::FontId::proportional(13.0),
        if marked {
            theme::ACCENT
        } else {
            theme::colours(ui).text
        },
    );
}

fn paint_image(painter: &egui::Painter, thumb: &Thumb, rect: egui::Rect) {
    match thumb {
        Thumb::Ready(texture) => {
            let fitted = super::catalog_tab::fit_into(texture.size_vec2(), rect);
            painter.image(
                texture.id(),
                fitted,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
        Thumb::Loading => widgets::paint_loading(painter, rect),
        Thumb::Failed(_) => widgets::paint_failed(painter, rect),
    }
}

fn image_ui(ui: &mut Ui, thumb: &Thumb, size: Vec2) {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    paint_image(ui.painter(), thumb, rect);
    if let Thumb::Failed(reason) = thumb {
        response.on_hover_text(reason);
    }
}

/// The creation form: name, goal, K, systems, queries (with the shop/street ratio), criteria.
fn create_form_ui(
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
    ui.add_space(8.0);
    ui.label(RichText::new("Criteria").strong());
    ui.label(
        RichText::new(
            "Each criterion's guidelines are what scorers read beside every sheet: say what \
             counts as a hit, with an example or two.",
        )
        .weak(),
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
            form.criteria = study::paper_criteria();
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
            .err()
            .map(|e| e.to_string())
    };
    ui.horizontal(|ui| {
        let create = ui.add_enabled(problem.is_none(), egui::Button::new("Create study"));
        if create.clicked() {
            commands.push(Command::Ohs(OhsCommand::CreateStudy(spec)));
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
