//! The Personalize tab (paper §III, §IV.C, Fig. 5): pick a shopper, see their cart with its
//! ratings, the K-Splits groups it falls into and the top 10 for each group; edit a virtual
//! cart (add the item selected in the Catalog tab or one by id, change its stars, remove it)
//! and watch the recommendations follow; compare every method by Recall@K, K = 1…50, and
//! every feature extractor by the cart mean's (Fig. 5, [`crate::experiment::fig5`]; its last
//! run, saved in the library, shows when the tab loads).
//!
//! Loading (index brought up to date, users, personaliser), the evaluation (which trains
//! the personaliser when needed) and the comparison of extractors are background jobs in the app's job slot, with progress and
//! Cancel in the top bar. Recommendations for a cart run on a worker thread of their own
//! (milliseconds on a demo catalogue; the UI never waits for them); a cart edited while they
//! run is recomputed when they end.
//!
//! The tab owns its state ([`PersonalizeTab`]), its commands ([`PersonalizeCommand`]) and
//! their handling; the recommendations are a [`Pending`] result. Its thumbnails are the
//! catalogue's, asked for through the thumbnail cache's one helper (`ThumbCache::thumb`).

use crate::catalog::ItemId;
use crate::experiment::fig5::{self, Fig5Options, Fig5Report, RowKind};
use crate::gui::command::Command;
use crate::gui::command::PersonalizeCommand;
use crate::gui::image_widget::image_ui;
use crate::gui::job_slot::{JobKind, JobOutput, JobState};
use crate::gui::pending::Pending;
use crate::gui::runtime::Runtime;
use crate::gui::{theme, widgets};
use crate::personalize::engine::{self, GroupRecommendation, PersonalizeEngine};
use crate::personalize::eval::{EvalReport, MAX_K};
use crate::personalize::personaliser::{TrainOptions, TrainReport};
use crate::store::UserId;
use eframe::egui;
use egui::{RichText, ScrollArea, Ui, Vec2};
use std::sync::Arc;

/// Recommendations per group.
const PER_GROUP: usize = 10;
/// Users listed under the search field.
const USERS_LISTED: usize = 12;
/// Thumbnail sides, in points.
const CART_THUMB: f32 = 56.0;
const RESULT_THUMB: f32 = 96.0;
const PLOT_HEIGHT: f32 = 340.0;

/// The tab's runtime state.
#[derive(Default)]
pub(crate) struct PersonalizeTab {
    pub engine: Option<Arc<PersonalizeEngine>>,
    /// Whether loading was asked for (the tab asks once by itself).
    pub load_requested: bool,
    pub user_search: String,
    pub user: Option<(UserId, String)>,
    /// The virtual cart: items and stars, in the order added.
    pub cart: Vec<(ItemId, u8)>,
    pub typed_item: String,
    pub groups: Vec<GroupRecommendation>,
    /// The recommendations for the cart, on their worker thread.
    pub running: Pending<Vec<GroupRecommendation>>,
    /// The cart changed while recommendations ran: run again when they end.
    pub stale: bool,
    pub eval: Option<EvalReport>,
    /// The last comparison of extractors (Fig. 5): the saved one until a new one ends.
    pub fig5: Option<Fig5Report>,
}

impl PersonalizeTab {
    /// Carries out one Personalize command, with the current `system`.
    pub fn handle(&mut self, command: PersonalizeCommand, system: &str, rt: &mut Runtime) {
        let view = &mut *self;
        match command {
            PersonalizeCommand::Load => self.start_load(system, rt),
            PersonalizeCommand::Evaluate => self.start_eval(system, rt),
            PersonalizeCommand::CompareExtractors => start_compare_extractors(rt),
            PersonalizeCommand::SetUserSearch(text) => view.user_search = text,
            PersonalizeCommand::SetTypedItem(text) => view.typed_item = text,
            PersonalizeCommand::PickUser(id) => {
                let Some(engine) = &view.engine else { return };
                let Some(user) = engine.histories.users.iter().find(|u| u.user_id == id) else {
                    return;
                };
                let index = engine.searcher.index();
                view.cart = user
                    .cart
                    .iter()
                    .map(|e| (index.ids[e.row], e.stars as u8))
                    .collect();
                view.user = Some((user.user_id, user.key.clone()));
                self.recommend(rt);
            }
            PersonalizeCommand::Reset => {
                if let Some((id, _)) = view.user {
                    self.handle(PersonalizeCommand::PickUser(id), system, rt);
                }
            }
            PersonalizeCommand::Add(item) => {
                let known = view
                    .engine
                    .as_ref()
                    .is_some_and(|e| e.searcher.row_of(item).is_some());
                if !known {
                    rt.report(format!(
                        "Item {item} is not in the index of {system}; index the catalogue first."
                    ));
                    return;
                }
                if !view.cart.iter().any(|(id, _)| *id == item) {
                    view.cart.push((item, 4));
                }
                self.recommend(rt);
            }
            PersonalizeCommand::AddTyped => match view.typed_item.trim().parse::<ItemId>() {
                Ok(id) => {
                    view.typed_item.clear();
                    self.handle(PersonalizeCommand::Add(id), system, rt);
                }
                Err(_) => {
                    let typed = view.typed_item.trim().to_owned();
                    rt.report(format!(
                        "“{typed}” is not an item id (a whole number, as the Catalog tab shows)."
                    ));
                }
            },
            PersonalizeCommand::Rate(item, stars) => {
                if let Some(entry) = view.cart.iter_mut().find(|(id, _)| *id == item) {
                    entry.1 = stars.clamp(1, 5);
                }
                self.recommend(rt);
            }
            PersonalizeCommand::Remove(item) => {
                view.cart.retain(|(id, _)| *id != item);
                self.recommend(rt);
            }
        }
    }

    /// Recomputes the recommendations for the virtual cart on a worker thread.
    fn recommend(&mut self, rt: &Runtime) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        if self.running.is_running() {
            self.stale = true;
            return;
        }
        if self.cart.is_empty() {
            self.groups.clear();
            return;
        }
        let cart = engine.cart_of(&self.cart);
        self.running = Pending::job(&rt.ctx, "recommend", move |_| {
            engine.recommend(&cart, PER_GROUP)
        });
    }

    /// Collects finished recommendations (called every frame).
    pub fn poll(&mut self, rt: &mut Runtime) {
        let Some(outcome) = self.running.take_finished() else {
            return;
        };
        match outcome {
            Ok(groups) => self.groups = groups,
            Err(e) => rt.report(format!("Cannot recommend: {e}")),
        }
        if std::mem::take(&mut self.stale) {
            self.recommend(rt);
        }
    }

    /// Drops the engine if its system was saved again since it loaded (retrained under its
    /// name): the tab then loads it afresh by itself, as the first time.
    pub fn drop_engine_if_saved_again(&mut self) {
        if self
            .engine
            .as_ref()
            .is_some_and(|e| e.searcher.system().is_saved_again())
        {
            self.engine = None;
            self.load_requested = false;
        }
    }

    fn start_load(&mut self, system: &str, rt: &mut Runtime) {
        self.load_requested = true;
        let dir = rt.library_dir.clone();
        let device = rt.device.clone();
        let name = system.to_owned();
        rt.start_job(
            JobKind::PersonalizeLoad {
                system: name.clone(),
            },
            &format!("Loading users for {name}"),
            move |ctx| {
                let device = crate::device::device(&device)?;
                PersonalizeEngine::open(&dir, &name, &device, ctx)
                    .map(|p| JobOutput::PersonalizeEngine(Box::new(p)))
            },
        );
    }

    fn start_eval(&mut self, system: &str, rt: &mut Runtime) {
        let dir = rt.library_dir.clone();
        let device = rt.device.clone();
        let name = system.to_owned();
        rt.start_job(
            JobKind::PersonalizeEval {
                system: name.clone(),
            },
            &format!("Evaluating recommendations with {name}"),
            move |ctx| {
                let device = crate::device::device(&device)?;
                let mut p = PersonalizeEngine::open(&dir, &name, &device, ctx)?;
                let (report, trained) =
                    engine::evaluate_with(&dir, &mut p, &TrainOptions::default(), ctx)?;
                Ok(JobOutput::PersonalizeEval(Box::new((p, report, trained))))
            },
        );
    }

    /// A finished load: the engine goes on show, with the user picked before, if any, and the
    /// library's last comparison of extractors (a small file).
    pub fn loaded(&mut self, p: PersonalizeEngine, rt: &Runtime) -> String {
        let mut summary = format!(
            "Loaded {} users of {} ({})",
            p.histories.users.len(),
            p.searcher.system_name(),
            if p.personaliser.is_some() {
                "personaliser trained"
            } else {
                "no personaliser yet: Run evaluation trains one"
            }
        );
        match Fig5Report::load_last(&rt.library_dir) {
            Ok(last) => self.fig5 = last,
            Err(e) => summary.push_str(&format!("; the last comparison of extractors: {e}")),
        }
        self.engine = Some(Arc::new(p));
        self.recommend(rt);
        summary
    }

    /// A finished evaluation: the plot, and the engine with the personaliser it used.
    pub fn evaluated(
        &mut self,
        output: (PersonalizeEngine, EvalReport, Option<TrainReport>),
        rt: &Runtime,
    ) -> String {
        let (p, report, trained) = output;
        let best = report
            .methods
            .iter()
            .max_by(|a, b| a.recall(10).total_cmp(&b.recall(10)))
            .map(|m| format!("best recall@10: {} {:.3}", m.name, m.recall(10)))
            .unwrap_or_default();
        let summary = format!(
            "Evaluated on {} test users{}; {best}",
            report.users_tested,
            if trained.is_some() {
                " (personaliser trained first)"
            } else {
                ""
            }
        );
        self.eval = Some(report);
        self.engine = Some(Arc::new(p));
        self.recommend(rt);
        summary
    }

    /// A finished comparison of extractors goes on show.
    pub fn extractors_compared(&mut self, report: Fig5Report) -> String {
        let best = report
            .rows
            .iter()
            .filter(|r| r.kind != RowKind::Ceiling)
            .max_by(|a, b| a.metrics.recall(10).total_cmp(&b.metrics.recall(10)))
            .map(|r| {
                format!(
                    "; best recall@10: {} {:.3}",
                    r.label(),
                    r.metrics.recall(10)
                )
            })
            .unwrap_or_default();
        let summary = format!(
            "Compared extractors on {} test users{best}",
            report.users_tested
        );
        self.fig5 = Some(report);
        summary
    }

    /// Draws the tab with the current `system`; "Add selected item" adds the item
    /// `selected` in the Catalog tab.
    pub fn ui(&self, ui: &mut Ui, system: &str, selected: Option<ItemId>, rt: &mut Runtime) {
        let mut commands: Vec<PersonalizeCommand> = Vec::new();
        // Loading runs now or waits in the queue behind another job (it is never refused).
        let loading = rt.job_pending(|k| {
            matches!(
                k,
                JobKind::PersonalizeLoad { .. } | JobKind::PersonalizeEval { .. }
            )
        });
        let engine = self.engine.clone();
        let current = engine
            .as_ref()
            .is_some_and(|e| e.searcher.system_name() == system);
        if !current {
            if rt.library.is_some() && !self.load_requested && !loading {
                commands.push(PersonalizeCommand::Load);
            }
            let waiting_for = match &rt.jobs.current {
                JobState::Running(r)
                    if !matches!(
                        r.kind,
                        JobKind::PersonalizeLoad { .. } | JobKind::PersonalizeEval { .. }
                    ) =>
                {
                    Some(r.name.as_str())
                }
                _ => None,
            };
            intro_ui(ui, system, (loading, waiting_for), &mut commands);
            rt.commands
                .extend(commands.into_iter().map(Command::Personalize));
            return;
        }
        let Some(engine) = engine else { return };
        egui::Panel::left("personalize-cart")
            .resizable(false)
            .default_size(theme::DETAIL_PANEL_WIDTH)
            .frame(theme::panel_frame(ui))
            .show(ui, |ui| {
                ScrollArea::vertical().show(ui, |ui| {
                    users_ui(ui, &engine, self, &mut commands);
                    ui.separator();
                    cart_ui(ui, &engine, (self, selected), rt, &mut commands);
                });
            });
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
            .show(ui, |ui| {
                ScrollArea::vertical().show(ui, |ui| {
                    groups_ui(ui, &engine, self, rt);
                    ui.add_space(12.0);
                    evaluation_ui(ui, self, rt, loading, &mut commands);
                    ui.add_space(12.0);
                    extractors_ui(ui, self, rt, &mut commands);
                });
            });
        rt.commands
            .extend(commands.into_iter().map(Command::Personalize));
    }
}

/// What the tab says while it cannot show a shopper yet: loading runs, or waits in the queue
/// behind `waiting_for` (a job the user started elsewhere).
fn intro_ui(
    ui: &mut Ui,
    system: &str,
    (loading, waiting_for): (bool, Option<&str>),
    commands: &mut Vec<PersonalizeCommand>,
) {
    ui.add_space(40.0);
    ui.vertical_centered(|ui| {
        ui.set_max_width(theme::READING_WIDTH);
        ui.label(
            RichText::new("Personalize")
                .heading()
                .color(theme::colours(ui).text),
        );
        ui.add(
            egui::Label::new(
                "Recommendations for a shopper from their cart: the rating-weighted mean of \
                 what they bought, split into uniform groups, refined by the personaliser \
                 network. The catalogue is indexed first if needed.",
            )
            .wrap(),
        );
        ui.add_space(8.0);
        if let (true, Some(job)) = (loading, waiting_for) {
            ui.label(
                RichText::new(format!(
                    "Queued: the users load as soon as “{job}” ends (the status line shows it)."
                ))
                .weak(),
            );
        } else if loading {
            ui.label(RichText::new("Loading users and embeddings …").weak());
        } else if ui.button(format!("Load users for {system}")).clicked() {
            commands.push(PersonalizeCommand::Load);
        }
    });
}

fn users_ui(
    ui: &mut Ui,
    engine: &PersonalizeEngine,
    view: &PersonalizeTab,
    commands: &mut Vec<PersonalizeCommand>,
) {
    ui.label(RichText::new("Shopper").strong());
    let mut text = view.user_search.clone();
    ui.horizontal(|ui| {
        let label = ui.label("Find user");
        let edit = ui.add(
            egui::TextEdit::singleline(&mut text)
                .hint_text("id or key")
                .desired_width(200.0),
        );
        let edit = edit.labelled_by(label.id);
        if edit.changed() {
            commands.push(PersonalizeCommand::SetUserSearch(text.clone()));
        }
    });
    let needle = text.trim().to_lowercase();
    let matches = engine
        .histories
        .users
        .iter()
        .filter(|u| {
            needle.is_empty()
                || u.key.to_lowercase().contains(&needle)
                || u.user_id.to_string() == needle
        })
        .take(USERS_LISTED);
    ui.horizontal_wrapped(|ui| {
        for user in matches {
            let selected = view
                .user
                .as_ref()
                .is_some_and(|(id, _)| *id == user.user_id);
            let label = format!("{} ({} items)", user.key, user.cart.len());
            if ui.selectable_label(selected, label).clicked() {
                commands.push(PersonalizeCommand::PickUser(user.user_id));
            }
        }
    });
    ui.label(
        RichText::new(format!(
            "{} users with rated items",
            engine.histories.users.len()
        ))
        .small()
        .weak(),
    );
}

/// The cart with its stars; "Add selected item" adds the item `selected` in the Catalog
/// tab.
fn cart_ui(
    ui: &mut Ui,
    engine: &PersonalizeEngine,
    (view, selected): (&PersonalizeTab, Option<ItemId>),
    rt: &mut Runtime,
    commands: &mut Vec<PersonalizeCommand>,
) {
    let title = match &view.user {
        Some((_, key)) => format!("Cart of {key}"),
        None => "Virtual cart".to_string(),
    };
    ui.label(RichText::new(title).strong());
    if view.cart.is_empty() {
        ui.label(RichText::new("Pick a user above, or add items to build a cart.").weak());
    }
    for &(item, stars) in &view.cart {
        let Some(row) = engine.searcher.row_of(item) else {
            continue;
        };
        let indexed = &engine.searcher.items()[row];
        ui.horizontal(|ui| {
            let thumb = rt.thumbs.thumb(&rt.library_dir, &indexed.image);
            image_ui(ui, &thumb, Vec2::splat(CART_THUMB));
            ui.vertical(|ui| {
                ui.add(egui::Label::new(RichText::new(&indexed.title).small()).truncate());
                ui.horizontal(|ui| {
                    for s in 1..=5u8 {
                        // The chosen one is drawn selected; those below it in the accent.
                        let text = if s == stars {
                            RichText::new(s.to_string())
                                .strong()
                                .color(theme::colours(ui).accent_text)
                        } else if s < stars {
                            RichText::new(s.to_string()).strong().color(theme::ACCENT)
                        } else {
                            RichText::new(s.to_string()).weak()
                        };
                        if ui
                            .selectable_label(s == stars, text)
                            .on_hover_text(format!("Rate {s} stars"))
                            .clicked()
                        {
                            commands.push(PersonalizeCommand::Rate(item, s));
                        }
                    }
                    if ui.small_button("Remove").clicked() {
                        commands.push(PersonalizeCommand::Remove(item));
                    }
                });
            });
        });
    }
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let add = ui
            .add_enabled(selected.is_some(), egui::Button::new("Add selected item"))
            .on_hover_text("Add the item selected in the Catalog tab")
            .on_disabled_hover_text("Select an item in the Catalog tab first");
        if add.clicked()
            && let Some(id) = selected
        {
            commands.push(PersonalizeCommand::Add(id));
        }
        if view.user.is_some() && ui.button("Reset cart").clicked() {
            commands.push(PersonalizeCommand::Reset);
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Item id");
        let mut typed = view.typed_item.clone();
        let edit = ui
            .add(egui::TextEdit::singleline(&mut typed).desired_width(80.0))
            .labelled_by(label.id);
        if edit.changed() {
            commands.push(PersonalizeCommand::SetTypedItem(typed.clone()));
        }
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Add").clicked() || enter {
            commands.push(PersonalizeCommand::AddTyped);
        }
    });
    ui.label(
        RichText::new(if engine.personaliser.is_some() {
            "Recommending with the personaliser network."
        } else {
            "Recommending with the cart mean (Run evaluation trains the personaliser)."
        })
        .small()
        .weak(),
    );
}

fn groups_ui(ui: &mut Ui, engine: &PersonalizeEngine, view: &PersonalizeTab, rt: &mut Runtime) {
    if view.groups.is_empty() {
        ui.label(RichText::new("Recommendations appear here for the cart.").weak());
        return;
    }
    ui.label(
        RichText::new(format!(
            "{} group(s) by K-Splits, top {PER_GROUP} for each",
            view.groups.len()
        ))
        .strong(),
    );
    for (g, group) in view.groups.iter().enumerate() {
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("Group {}", g + 1)).strong());
            for &item in &group.items {
                if let Some(row) = engine.searcher.row_of(item) {
                    let thumb = rt
                        .thumbs
                        .thumb(&rt.library_dir, &engine.searcher.items()[row].image);
                    image_ui(ui, &thumb, Vec2::splat(CART_THUMB * 0.6));
                }
            }
        });
        ScrollArea::horizontal()
            .id_salt(("group", g))
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for r in &group.results {
                        egui::Frame::new()
                            .fill(theme::colours(ui).card)
                            .stroke(egui::Stroke::new(1.0, theme::colours(ui).card_stroke))
                            .corner_radius(theme::CARD_RADIUS)
                            .inner_margin(theme::CARD_PADDING)
                            .show(ui, |ui| {
                                ui.set_width(RESULT_THUMB);
                                ui.vertical(|ui| {
                                    let thumb = rt.thumbs.thumb(&rt.library_dir, &r.image);
                                    image_ui(ui, &thumb, Vec2::splat(RESULT_THUMB));
                                    ui.label(
                                        RichText::new(format!("#{} {:.3}", r.rank, r.score))
                                            .small()
                                            .weak(),
                                    );
                                    ui.add(
                                        egui::Label::new(RichText::new(&r.title).small())
                                            .truncate(),
                                    )
                                    .on_hover_text(r.labels.join(", "));
                                });
                            });
                    }
                });
            });
    }
}

fn evaluation_ui(
    ui: &mut Ui,
    view: &PersonalizeTab,
    rt: &Runtime,
    busy: bool,
    commands: &mut Vec<PersonalizeCommand>,
) {
    ui.separator();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Recall@K on held-out purchases").strong());
        if ui
            .add_enabled(!busy, egui::Button::new("Run evaluation"))
            .on_hover_text(
                "Rank each test user's last purchase with every method (trains the \
                 personaliser first when needed); progress and Cancel are in the top bar",
            )
            .clicked()
        {
            commands.push(PersonalizeCommand::Evaluate);
        }
        if let JobState::Running(running) = &rt.jobs.current
            && matches!(running.kind, JobKind::PersonalizeEval { .. })
        {
            let (fraction, text) = widgets::job_progress(running);
            widgets::progress_bar_ui(ui, fraction, 160.0);
            ui.label(RichText::new(text).small().weak());
        }
    });
    let Some(report) = &view.eval else {
        ui.label(
            RichText::new("Run evaluation to compare popularity, item-kNN, ALS, the cart mean and the personaliser.")
                .weak(),
        );
        return;
    };
    ui.label(
        RichText::new(format!(
            "{} test users (± {:.3} on R@10 at most); NDCG@10: {}; category accuracy: {}{}",
            report.users_tested,
            0.5 / (report.users_tested.max(1) as f64).sqrt(),
            report
                .methods
                .iter()
                .map(|m| format!("{} {:.3}", m.name, m.ndcg10))
                .collect::<Vec<_>>()
                .join(", "),
            report
                .rows()
                .filter_map(|m| m.category_accuracy.map(|a| format!("{} {a:.3}", m.name)))
                .collect::<Vec<_>>()
                .join(", "),
            report
                .ceiling_missing
                .as_ref()
                .map(|why| format!("; no oracle ceiling: {why}"))
                .unwrap_or_default()
        ))
        .small()
        .weak(),
    );
    let ceiling = report.ceiling.as_ref().map(|c| c.name.as_str());
    recall_plot_ui(
        ui,
        "recall-at-k",
        report.rows().map(|m| RecallCurve {
            name: m.name.clone(),
            recall_at: &m.recall_at,
            ceiling: Some(m.name.as_str()) == ceiling,
            dashed: false,
        }),
    );
}

/// Starts the comparison of every indexed feature extractor (Fig. 5) as a job.
fn start_compare_extractors(rt: &mut Runtime) {
    let dir = rt.library_dir.clone();
    let device = rt.device.clone();
    rt.start_job(
        JobKind::CompareExtractors,
        "Comparing feature extractors (Fig. 5)",
        move |ctx| {
            let device = crate::device::device(&device)?;
            fig5::run(&dir, &Fig5Options::default(), &device, ctx)
                .map(|report| JobOutput::CompareExtractors(Box::new(report)))
        },
    );
}

/// Fig. 5: the button, its progress, and the last comparison's Recall@K curves.
fn extractors_ui(
    ui: &mut Ui,
    view: &PersonalizeTab,
    rt: &Runtime,
    commands: &mut Vec<PersonalizeCommand>,
) {
    ui.separator();
    let running = rt.job_pending(|k| matches!(k, JobKind::CompareExtractors));
    ui.horizontal(|ui| {
        ui.label(RichText::new("Feature extractors").strong());
        if ui
            .add_enabled(!running, egui::Button::new("Compare extractors (Fig. 5)"))
            .on_hover_text(
                "Recall@K of the cart mean with every indexed system, with and without \
                 K-Splits, beside the baselines (trains and indexes nothing); progress and \
                 Cancel are in the top bar",
            )
            .clicked()
        {
            commands.push(PersonalizeCommand::CompareExtractors);
        }
        if let JobState::Running(job) = &rt.jobs.current
            && matches!(job.kind, JobKind::CompareExtractors)
        {
            let (fraction, text) = widgets::job_progress(job);
            widgets::progress_bar_ui(ui, fraction, 160.0);
            ui.label(RichText::new(text).small().weak());
        }
    });
    let Some(report) = &view.fig5 else {
        ui.label(
            RichText::new(
                "Compare extractors to plot the cart mean's Recall@K for each indexed system.",
            )
            .weak(),
        );
        return;
    };
    // The notes (a personaliser not measured, a system left out) are one line each: on
    // hover, so the plot keeps its place.
    let facts = ui.label(
        RichText::new(format!(
            "{} test users, seed {}, {:.1} s. Dashed: the same extractor with the cart split \
             by K-Splits first.",
            report.users_tested, report.seed, report.elapsed_secs
        ))
        .small()
        .weak(),
    );
    if !report.notes.is_empty() {
        facts.on_hover_text(report.notes.join("\n"));
    }
    // An extractor with and without K-Splits is one legend entry (egui_plot merges lines of
    // one name), so the legend stays readable with many systems.
    recall_plot_ui(
        ui,
        "fig5-recall-at-k",
        report.rows.iter().map(|r| RecallCurve {
            name: r.label().replace(" + K-Splits", ""),
            recall_at: &r.metrics.recall_at,
            ceiling: r.kind == RowKind::Ceiling,
            dashed: r.ksplits,
        }),
    );
}

/// The colour of the `index`-th curve name: hues a golden angle apart (as egui_plot's own
/// automatic colours), so neighbours differ.
fn curve_colour(index: usize) -> egui::Color32 {
    let hue = (index as f32 * 0.618_034).fract();
    egui::epaint::Hsva::new(hue, 0.85, 0.6, 1.0).into()
}

/// One curve of a Recall@K plot.
struct RecallCurve<'a> {
    name: String,
    /// Recall@1 … Recall@MAX_K.
    recall_at: &'a [f64],
    /// The oracle ceiling is not a method: drawn dashed, grey.
    ceiling: bool,
    /// A variant of the curve of the same name (K-Splits): dashed, in its colour.
    dashed: bool,
}

/// Recall@K against K = 1 … MAX_K, one line per curve, with a legend.
fn recall_plot_ui<'a>(ui: &mut Ui, id: &str, curves: impl Iterator<Item = RecallCurve<'a>>) {
    egui_plot::Plot::new(id)
        .height(PLOT_HEIGHT)
        .x_axis_label("K")
        .y_axis_label("Recall@K")
        .include_x(1.0)
        .include_x(MAX_K as f64)
        .include_y(0.0)
        // Recall runs to 1: the headroom above the curves (the ceiling's included) is where
        // the legend goes, clear of the lines.
        .include_y(1.0)
        .allow_scroll(false)
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftTop))
        .show(ui, |plot| {
            // One colour per name, so a dashed variant matches its curve.
            let mut colours: Vec<String> = Vec::new();
            for curve in curves {
                let index = colours
                    .iter()
                    .position(|n| *n == curve.name)
                    .unwrap_or_else(|| {
                        colours.push(curve.name.clone());
                        colours.len() - 1
                    });
                let points: Vec<[f64; 2]> = curve
                    .recall_at
                    .iter()
                    .enumerate()
                    .map(|(i, r)| [(i + 1) as f64, *r])
                    .collect();
                let line = egui_plot::Line::new(curve.name, points);
                plot.line(if curve.ceiling {
                    line.style(egui_plot::LineStyle::dashed_loose())
                        .color(egui::Color32::GRAY)
                } else if curve.dashed {
                    line.style(egui_plot::LineStyle::dashed_dense())
                        .color(curve_colour(index))
                } else {
                    line.color(curve_colour(index))
                });
            }
        });
}
