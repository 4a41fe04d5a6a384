//! The "why similar" overlay ([`crate::explain`]) as a reusable widget: ask for a query and a
//! result to be explained, and draw the two heatmap pictures in place of their thumbnails
//! once the worker has made them.
//!
//! The result's backbone pass (and the drawing) runs on a worker thread as a [`Pending`]; the
//! loaded systems and the [`FeatureCache`] move into that work and come back with its answer,
//! as the Search tab's searchers do, so each system is loaded once (again only when it was
//! saved again under its name: [`System::is_saved_again`]) and each item's map is computed
//! once. The query's map travels with the request when the search kept it
//! (`Searcher::query_*_explained`); a query by catalogue item has none and costs one cached
//! pass. A request made while one runs waits (latest wins), so hovering along a grid never
//! piles up work.
//!
//! Any tab can own one ([`ExplainOverlay`]): call [`ExplainOverlay::request`] when the user
//! asks about a result, [`ExplainOverlay::poll`] once a frame in the state step, and draw with
//! [`ExplainOverlay::result_ui`] and [`ExplainOverlay::query_ui`] (they draw nothing and
//! return `None` until that very pair is ready, so the caller falls back to its thumbnail).

use crate::catalog::ItemId;
use crate::explain::{DEFAULT_OPACITY, FeatureCache, FeatureMap, PairOverlays, QuerySide};
use crate::gui::image_widget::image_ui;
use crate::gui::pending::Pending;
use crate::gui::thumbs::Thumb;
use crate::library::Library;
use crate::model::system::System;
use eframe::egui;
use egui::{Response, Sense, Ui, Vec2};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;

/// The result to explain: which system ranked it, which item, and its image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExplainTarget {
    pub system: String,
    pub item: ItemId,
    /// 1-based, for the captions.
    pub rank: usize,
    pub image: PathBuf,
}

/// The query side of a request.
#[derive(Debug, Clone)]
pub(crate) struct ExplainQuery {
    pub picture: QueryPicture,
    /// The query's map from its search with the target's system, when kept.
    pub features: Option<Arc<FeatureMap>>,
    /// The catalogue item the query is, if it is one (its map is then cached).
    pub item: Option<ItemId>,
}

/// The query's picture: a file, or an image in memory (pasted).
#[derive(Debug, Clone)]
pub(crate) enum QueryPicture {
    File(PathBuf),
    Image(Arc<RgbImage>),
}

/// Where the work runs: the library and device, the systems loaded so far and the cache.
struct Worker {
    library_dir: PathBuf,
    device: String,
    systems: Vec<System>,
    cache: FeatureCache,
}

impl Worker {
    fn explain(
        &mut self,
        target: &ExplainTarget,
        query: &ExplainQuery,
    ) -> crate::Result<PairOverlays> {
        // A system retrained under its name since it was loaded loads again.
        self.systems.retain(|s| !s.is_saved_again());
        let index = match self.systems.iter().position(|s| s.name() == target.system) {
            Some(i) => i,
            None => {
                let lib = Library::open_for_reading(&self.library_dir)?;
                let device = crate::device::device(&self.device)?;
                self.systems
                    .push(System::load(&lib, &target.system, &device)?);
                self.systems.len() - 1
            }
        };
        let decoded;
        let image = match &query.picture {
            QueryPicture::File(path) => {
                decoded = crate::vision::decode(path)?;
                &decoded
            }
            QueryPicture::Image(image) => image.as_ref(),
        };
        let side = QuerySide {
            image,
            features: query.features.clone(),
            item: query.item,
        };
        crate::explain::explain_pair(
            &self.systems[index],
            &mut self.cache,
            &side,
            (target.item, &target.image),
            DEFAULT_OPACITY,
        )
    }
}

/// What the work hands back: the worker (to keep) and the answer.
struct Answer {
    worker: Worker,
    target: ExplainTarget,
    overlays: crate::Result<PairOverlays>,
}

/// An explanation on show.
struct Shown {
    target: ExplainTarget,
    query: egui::TextureHandle,
    result: egui::TextureHandle,
}

/// The overlay's state: the work running, the request waiting behind it, the pair on show.
#[derive(Default)]
pub(crate) struct ExplainOverlay {
    running: Pending<Answer>,
    /// What the running work explains.
    asked: Option<ExplainTarget>,
    /// Asked for while work ran (latest wins).
    next: Option<(ExplainTarget, ExplainQuery)>,
    /// `None` while the work has it, or before the first request.
    worker: Option<Worker>,
    shown: Option<Shown>,
    /// The pair last asked for, answered or not (a failed one is not asked again at every
    /// frame of a hover).
    last: Option<ExplainTarget>,
    /// The labels never name the system (a study's sheet hides it from scorers).
    blind: bool,
}

impl ExplainOverlay {
    /// An overlay whose labels never name the system, for a blind study's sheet.
    pub fn blind() -> ExplainOverlay {
        ExplainOverlay {
            blind: true,
            ..ExplainOverlay::default()
        }
    }

    /// Explains `target` against `query` on a worker thread, unless that pair is already on
    /// show or on its way. `library_dir` and `device` say where systems load from.
    pub fn request(
        &mut self,
        ctx: &egui::Context,
        (library_dir, device): (&std::path::Path, &str),
        target: ExplainTarget,
        query: ExplainQuery,
    ) {
        if self.wanted() == Some(&target) {
            return;
        }
        self.last = Some(target.clone());
        if self.running.is_running() {
            self.next = Some((target, query));
            return;
        }
        self.start(ctx, (library_dir, device), target, query);
    }

    /// Starts the work for a pair (nothing runs).
    fn start(
        &mut self,
        ctx: &egui::Context,
        (library_dir, device): (&std::path::Path, &str),
        target: ExplainTarget,
        query: ExplainQuery,
    ) {
        let mut worker = match self.worker.take() {
            Some(w) if w.library_dir == library_dir && w.device == device => w,
            _ => Worker {
                library_dir: library_dir.to_path_buf(),
                device: device.to_owned(),
                systems: Vec::new(),
                cache: FeatureCache::default(),
            },
        };
        self.asked = Some(target.clone());
        self.running = Pending::spawn(ctx, "explain", move || {
            let overlays = worker.explain(&target, &query);
            Ok(Answer {
                worker,
                target,
                overlays,
            })
        });
    }

    /// The pair last asked for (waiting, running, on show, or failed).
    pub fn wanted(&self) -> Option<&ExplainTarget> {
        self.last.as_ref()
    }

    /// The rank of the result whose pictures are on show.
    pub fn shown_rank(&self) -> Option<usize> {
        self.shown.as_ref().map(|s| s.target.rank)
    }

    /// Whether `item` (ranked by `system`) is the result on show: its tile draws the heatmap
    /// rather than its thumbnail.
    pub fn shows_result(&self, system: &str, item: ItemId) -> bool {
        self.shown
            .as_ref()
            .is_some_and(|s| s.target.system == system && s.target.item == item)
    }

    /// Whether work is running.
    pub fn is_running(&self) -> bool {
        self.running.is_running()
    }

    /// Forgets what is on show and what waits (a new query): running work still ends, and
    /// its answer is dropped.
    pub fn clear(&mut self) {
        self.shown = None;
        self.next = None;
        self.asked = None;
        self.last = None;
    }

    /// Collects finished work (its pictures become textures) and starts the request waiting
    /// behind it; returns an error to show once.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<String> {
        let outcome = self.running.take_finished()?;
        let asked = self.asked.take();
        let mut error = None;
        match outcome {
            Ok(answer) => {
                let (dir, device) = (
                    answer.worker.library_dir.clone(),
                    answer.worker.device.clone(),
                );
                self.worker = Some(answer.worker);
                match answer.overlays {
                    // Dropped when cleared while it ran.
                    Ok(overlays) if asked.as_ref() == Some(&answer.target) => {
                        let texture = |name: &str, img: &image::RgbaImage| {
                            let size = [img.width() as usize, img.height() as usize];
                            let colour =
                                egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
                            ctx.load_texture(name, colour, egui::TextureOptions::LINEAR)
                        };
                        self.shown = Some(Shown {
                            query: texture("explain query", &overlays.query),
                            result: texture("explain result", &overlays.result),
                            target: answer.target,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => error = Some(format!("Cannot explain #{}: {e}", answer.target.rank)),
                }
                if let Some((target, query)) = self.next.take() {
                    self.start(ctx, (&dir, &device), target, query);
                }
            }
            Err(e) => error = Some(format!("Cannot explain: {e}")),
        }
        error
    }

    /// Draws `item`'s heatmap picture (ranked by `system`) in `size`, if that is the pair on
    /// show; `None` (nothing drawn) otherwise.
    pub fn result_ui(
        &self,
        ui: &mut Ui,
        system: &str,
        item: ItemId,
        size: Vec2,
    ) -> Option<Response> {
        if !self.shows_result(system, item) {
            return None;
        }
        let shown = self.shown.as_ref()?;
        let label = format!(
            "Why similar: #{} agrees with the query here",
            shown.target.rank
        );
        Some(picture_ui(ui, &shown.result, size, label))
    }

    /// Draws the query's heatmap picture towards the result on show, in `size`.
    pub fn query_ui(&self, ui: &mut Ui, size: Vec2) -> Option<Response> {
        let shown = self.shown.as_ref()?;
        let label = if self.blind {
            format!(
                "Why similar: the query agrees with #{} here",
                shown.target.rank
            )
        } else {
            format!(
                "Why similar: the query agrees with #{} ({}) here",
                shown.target.rank, shown.target.system
            )
        };
        Some(picture_ui(ui, &shown.query, size, label))
    }
}

/// A heatmap picture fitted into `size`, named `label` for screen readers and on hover.
fn picture_ui(ui: &mut Ui, texture: &egui::TextureHandle, size: Vec2, label: String) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    let fitted = crate::gui::image_widget::fit_into(texture.size_vec2(), rect);
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    ui.painter()
        .image(texture.id(), fitted, uv, egui::Color32::WHITE);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label));
    response.on_hover_text(label)
}

/// The query's picture in a tab that explains: its heatmap towards the explained result,
/// captioned, when `overlay` has one, else `thumb`; and a spinner while a result is being
/// explained. The Search tab and the Evaluate sheet draw their query with it.
pub(crate) fn query_picture_ui(
    ui: &mut Ui,
    overlay: Option<&ExplainOverlay>,
    thumb: &Thumb,
    side: f32,
) {
    let explained = overlay.and_then(|e| e.query_ui(ui, Vec2::splat(side)));
    match explained.and(overlay.and_then(ExplainOverlay::shown_rank)) {
        Some(rank) => {
            ui.label(
                egui::RichText::new(format!("Where it matches #{rank} (red: most)"))
                    .small()
                    .weak(),
            );
        }
        None => {
            image_ui(ui, thumb, Vec2::splat(side));
        }
    }
    if overlay.is_some_and(ExplainOverlay::is_running) {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(egui::RichText::new("Explaining…").small().weak());
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::tests::{demo_library, save_fresh_head};
    use crate::store::ItemFilter;

    #[test]
    fn the_worker_loads_a_system_again_once_it_is_saved_again() {
        let dir = demo_library(8);
        let mut lib = Library::open(dir.path()).unwrap();
        save_fresh_head(&mut lib, "fresh-head");
        let items = lib.store.items(&ItemFilter::default()).unwrap();
        let mut worker = Worker {
            library_dir: dir.path().to_path_buf(),
            device: "cpu".into(),
            systems: Vec::new(),
            cache: FeatureCache::default(),
        };
        let target = ExplainTarget {
            system: "fresh-head".into(),
            item: items[1].id,
            rank: 1,
            image: lib.resolve(&items[1].image),
        };
        let query = ExplainQuery {
            picture: QueryPicture::File(lib.resolve(&items[0].image)),
            features: None,
            item: Some(items[0].id),
        };
        worker.explain(&target, &query).unwrap();
        let first = worker.systems[0].fingerprint().to_owned();
        // Retrained under the same name (other weights): the next explanation uses them.
        save_fresh_head(&mut lib, "fresh-head");
        worker.explain(&target, &query).unwrap();
        let saved = System::load(&lib, "fresh-head", &candle_core::Device::Cpu).unwrap();
        assert_eq!(worker.systems.len(), 1);
        assert_ne!(worker.systems[0].fingerprint(), first);
        assert_eq!(worker.systems[0].fingerprint(), saved.fingerprint());
    }
}
