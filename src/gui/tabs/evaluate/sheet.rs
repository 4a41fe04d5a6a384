//! Scorer mode's sheet: the query large on the left with the criteria and this scorer's
//! counts, the current criterion with its guidelines, the typed count and the moves, and the
//! K results as tiles a click marks as hits. On an objective criterion the machine's count
//! is pre-selected in its own colour, marked "machine", until the scorer confirms or
//! corrects it. Where the study allows it, Explain (or H held over a tile) shows heatmaps in
//! place of the result's and the query's pictures; a click still only marks a hit.

use super::KEY_HELP;

use crate::gui::command::Command;
use crate::gui::command::EvaluateCommand;
use crate::gui::explain_overlay::{ExplainOverlay, query_picture_ui};
use crate::gui::image_widget::paint_image;
use crate::gui::runtime::Runtime;
use crate::gui::thumbs::{ImageRequest, ThumbCache};
use crate::gui::{theme, widgets};
use crate::ohs::session::ScorerSession;
use crate::study::{self, Direction, Sheet, Study};
use eframe::egui;
use egui::{RichText, ScrollArea, Sense, Stroke, StrokeKind, Ui, Vec2};
use std::path::Path;

/// Result tiles per row on a sheet.
const SHEET_COLUMNS: usize = 5;

/// "Why similar" on the sheet; only passed where the study allows it.
#[derive(Clone, Copy)]
pub(super) struct SheetExplain<'a> {
    pub overlay: &'a ExplainOverlay,
    /// The Explain button is on.
    pub on: bool,
}

/// One sheet: query large on the left, the K results in a grid, the criteria and controls.
pub(super) fn sheet_ui(
    ui: &mut Ui,
    (study, session): (&Study, &ScorerSession),
    hits_input: &mut String,
    explain: Option<SheetExplain<'_>>,
    rt: &mut Runtime,
    commands: &mut Vec<Command>,
) {
    let (root, thumbs) = (rt.library_dir.as_path(), &mut rt.thumbs);
    // Heatmaps with the Explain button on, or while H is held (not while typing).
    let h_held = explain.is_some()
        && !rt.typing_at_start
        && !ui.ctx().text_edit_focused()
        && ui.input(|i| i.key_down(egui::Key::H));
    let shown = explain.filter(|e| e.on || h_held).map(|e| e.overlay);
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
                if let Some(explain) = explain {
                    explain_button_ui(ui, explain, commands);
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
            let thumb = thumbs.texture_or_request(ImageRequest::full(root, &query.image));
            let side = ui.available_width();
            // Explaining: the query's heatmap towards the explained result replaces it.
            query_picture_ui(ui, shown, &thumb, side);
            widgets::pill_ui(ui, &format!("{} photo", query.domain.as_str()));
            ui.add_space(10.0);
            criteria_ui(ui, study, session, sheet, commands);
        });
    egui::CentralPanel::default()
        .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
        .show(ui, |ui| {
            let criterion = &study.criteria[session.criterion];
            let current = session.answer_on(sheet);
            ui.horizontal(|ui| {
                ui.label(RichText::new(&criterion.name).heading());
                let how = match criterion.direction {
                    Direction::More => "count the results that match",
                    Direction::Fewer => "count the results that match (fewer is better)",
                };
                ui.label(RichText::new(how).weak());
            });
            guidelines_ui(ui, study, session.criterion);
            let prefill = session.prefill_on(study, sheet);
            if let (Some(machine), Some(rule)) = (prefill, criterion.objective) {
                prefill_ui(ui, machine.hits(), study.k, rule, commands);
            }
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
                    commands.push(Command::from(EvaluateCommand::SetHits {
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
                    commands.push(Command::from(EvaluateCommand::SetHits {
                        hits: 0,
                        advance: false,
                    }));
                }
                let answer = match (current, prefill) {
                    (Some((hits, _)), _) => format!("Hits: {hits} of {}", study.k),
                    (None, Some(_)) => "Not answered yet: confirm or correct".to_owned(),
                    (None, None) => "Not answered yet".to_owned(),
                };
                ui.label(RichText::new(answer).strong());
            });
            ui.horizontal(|ui| {
                for (text, command) in [
                    ("Back", EvaluateCommand::MoveSheet(-1)),
                    ("Previous criterion", EvaluateCommand::MoveCriterion(-1)),
                    ("Next criterion", EvaluateCommand::MoveCriterion(1)),
                    ("Skip", EvaluateCommand::Skip),
                    ("Next sheet", EvaluateCommand::MoveSheet(1)),
                ] {
                    if ui.button(text).clicked() {
                        commands.push(command.into());
                    }
                }
            });
            ui.add_space(6.0);
            let marks = match prefill {
                Some(machine) => TileMarks::Machine(&machine.marks),
                None => TileMarks::Scorer(session.marks_on(sheet)),
            };
            results_grid_ui(ui, sheet, (marks, shown), root, thumbs, commands);
        });
}

/// The Explain toggle, with what it shows and that a click still marks a hit.
fn explain_button_ui(ui: &mut Ui, explain: SheetExplain<'_>, commands: &mut Vec<Command>) {
    if ui
        .add(egui::Button::new("Explain").selected(explain.on))
        .on_hover_text(
            "Why similar: heatmaps of where the hovered result and the query agree (red: \
             most). Or hold H over a result. Clicking a result still marks it a hit",
        )
        .clicked()
    {
        commands.push(EvaluateCommand::SetExplain(!explain.on).into());
    }
}

/// The machine's pre-fill: its count in the machine colour, what rule made it (tooltip),
/// and Confirm. Nothing is saved until the scorer confirms or corrects.
fn prefill_ui(
    ui: &mut Ui,
    hits: u32,
    k: u32,
    rule: study::ObjectiveRule,
    commands: &mut Vec<Command>,
) {
    let tooltip = format!(
        "Pre-filled by the machine: the results with the {}, from the catalogue's labels. \
         Not saved until you confirm it (Enter or Confirm) or correct it (click the tiles or \
         type the count).",
        rule.describe()
    );
    egui::Frame::new()
        .stroke(Stroke::new(2.0, theme::MACHINE))
        .corner_radius(theme::CARD_RADIUS)
        .inner_margin(theme::CARD_PADDING)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("Machine: {hits} of {k}"))
                        .strong()
                        .color(theme::MACHINE),
                )
                .on_hover_text(&tooltip);
                ui.label(RichText::new(format!("({})", rule.describe())).weak())
                    .on_hover_text(&tooltip);
                if ui
                    .button("Confirm")
                    .on_hover_text("Accept the machine's count as your answer (Enter)")
                    .clicked()
                {
                    commands.push(EvaluateCommand::ConfirmPrefill.into());
                }
            });
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
        let count = match session.answers.get(&(sheet.id, c)) {
            Some((h, _)) => h.to_string(),
            None => sheet
                .machine_count(&criterion.name)
                .map_or_else(|| "-".to_owned(), |m| format!("{} (machine)", m.hits())),
        };
        let text = format!("{}: {count}", criterion.name);
        if ui.selectable_label(c == session.criterion, text).clicked() {
            commands.push(Command::from(EvaluateCommand::MoveCriterion(
                c as isize - session.criterion as isize,
            )));
        }
    }
}

/// Which tiles are marked, and by whom: the scorer's own answer, or the machine's
/// suggestion not yet confirmed (drawn in the machine colour).
#[derive(Clone, Copy)]
enum TileMarks<'a> {
    Scorer(&'a [u32]),
    Machine(&'a [u32]),
}

/// The K results; a click marks or unmarks a hit. With `explain` (Explain on, or H held),
/// hovering a tile explains it and the explained one shows its heatmap.
fn results_grid_ui(
    ui: &mut Ui,
    sheet: &Sheet,
    (marks, explain): (TileMarks<'_>, Option<&ExplainOverlay>),
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
                    let mark = match marks {
                        TileMarks::Scorer(m) => m.contains(&rank).then_some(TileMark::Scorer),
                        TileMarks::Machine(m) => m.contains(&rank).then_some(TileMark::Machine),
                    };
                    let marked = mark.is_some();
                    let (rect, response) =
                        ui.allocate_exact_size(Vec2::new(width, width + 22.0), Sense::click());
                    let label = format!("Result {rank}");
                    response.widget_info(|| {
                        egui::WidgetInfo::selected(egui::Role::CheckBox, true, marked, &label)
                    });
                    // The explained tile draws its heatmap where its thumbnail goes.
                    let heatmap = explain.filter(|e| e.shows_result(&sheet.system, item.item_id));
                    let image = heatmap.is_none().then_some(item.image.as_str());
                    paint_tile(ui, rect, rank, mark, root, thumbs, image);
                    if let Some(overlay) = heatmap {
                        let image_rect = tile_image_rect(rect);
                        let mut child = ui.new_child(egui::UiBuilder::new().max_rect(image_rect));
                        overlay.result_ui(
                            &mut child,
                            &sheet.system,
                            item.item_id,
                            image_rect.size(),
                        );
                    }
                    if let Some(overlay) = explain
                        && response.hovered()
                        && overlay
                            .wanted()
                            .is_none_or(|w| w.item != item.item_id || w.system != sheet.system)
                    {
                        commands.push(Command::from(EvaluateCommand::Explain(rank)));
                    }
                    let response = if mark == Some(TileMark::Machine) {
                        response.on_hover_text(
                            "The machine counts this result as a hit; confirm or correct",
                        )
                    } else {
                        response
                    };
                    if response.clicked() {
                        commands.push(Command::from(EvaluateCommand::ToggleMark(rank)));
                    }
                }
            });
            ui.add_space(gap);
        }
    });
}

/// Who marked a tile as a hit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TileMark {
    Scorer,
    Machine,
}

/// Where a tile's picture goes.
fn tile_image_rect(rect: egui::Rect) -> egui::Rect {
    egui::Rect::from_min_size(
        rect.min + Vec2::splat(theme::CARD_PADDING),
        Vec2::splat(rect.width() - 2.0 * theme::CARD_PADDING),
    )
}

/// One result tile; `mark` says who marked it a hit (none: not a hit). `image`: its stored
/// thumbnail, or `None` where the caller draws a heatmap instead.
fn paint_tile(
    ui: &Ui,
    rect: egui::Rect,
    rank: u32,
    mark: Option<TileMark>,
    root: &Path,
    thumbs: &mut ThumbCache,
    image: Option<&str>,
) {
    let painter = ui.painter();
    let fill = match mark {
        Some(TileMark::Scorer) => theme::colours(ui).accent_tint,
        _ => theme::colours(ui).card,
    };
    painter.rect_filled(rect, theme::CARD_RADIUS, fill);
    let colour = match mark {
        Some(TileMark::Scorer) => theme::ACCENT,
        Some(TileMark::Machine) => theme::MACHINE,
        None => theme::colours(ui).text,
    };
    let (stroke, width) = match mark {
        Some(_) => (colour, 3.0),
        None => (theme::colours(ui).card_stroke, 1.0),
    };
    painter.rect_stroke(
        rect,
        theme::CARD_RADIUS,
        Stroke::new(width, stroke),
        StrokeKind::Inside,
    );
    if let Some(image) = image {
        let thumb = thumbs.thumb(root, image);
        paint_image(painter, &thumb, tile_image_rect(rect));
    }
    let text = match mark {
        Some(TileMark::Machine) => format!("#{rank}  machine"),
        Some(TileMark::Scorer) => format!("#{rank}  hit"),
        None => format!("#{rank}"),
    };
    painter.text(
        egui::pos2(rect.min.x + theme::CARD_PADDING, rect.max.y - 4.0),
        egui::Align2::LEFT_BOTTOM,
        text,
        egui::FontId::proportional(13.0),
        colour,
    );
}
