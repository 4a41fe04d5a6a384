//! A query and its worker: what a query searches from ([`QuerySource`]: a photo from disk, a
//! catalogue item, a pasted image), and the work that answers it on a thread of its own. The
//! loaded [`Searcher`]s (model + index) move into that work and come back with the answer, so
//! each system is loaded once and never shared between threads.

use crate::gui::command::QuerySource;
use crate::gui::pending::Pending;
use crate::index::scan::ColourWeight;
use crate::search::{Opened, QueryResult, SearchFilter, Searcher};
use eframe::egui;
use std::path::{Path, PathBuf};

/// Results per query (the paper's top-10).
pub(crate) const RESULTS: usize = 10;

/// A query as asked: where it came from and what to do with its answer.
#[derive(Debug, Clone)]
pub(crate) struct AskedQuery {
    pub source: QuerySource,
    /// Add it to the history when it succeeds (a new query, not a step through the history).
    pub record: bool,
    pub system: String,
    /// It runs after indexing that it waited for: if the index still cannot answer, say so
    /// instead of indexing again.
    pub after_index: bool,
}

/// What the query job hands back: the searchers (to keep for the next query) and the answer.
pub(crate) struct QueryOutput {
    pub searchers: Vec<Searcher>,
    pub result: crate::Result<QueryAnswer>,
}

/// The answer of a query job.
pub(crate) enum QueryAnswer {
    /// The results (the second with the comparison system, in compare mode).
    Found(QueryResult, Option<QueryResult>),
    /// These systems have no index that can answer yet (missing, out of date, or without
    /// the query item): the app indexes them, and the query waits.
    NeedsIndex(Vec<String>),
}

/// A query waiting for indexing to end.
#[derive(Debug, Clone)]
pub(crate) struct WaitingQuery {
    pub source: QuerySource,
    pub record: bool,
    /// The systems whose index it waits for.
    pub systems: Vec<String>,
}

/// What a query job needs: where the library is, which systems to search with (the chosen
/// one first) on which device, the filter, and the searchers already loaded.
pub(crate) struct QueryWork {
    pub library_dir: PathBuf,
    pub systems: Vec<String>,
    pub device: String,
    pub filter: SearchFilter,
    pub cached: Vec<Searcher>,
}

/// Starts `source` as a query on a worker thread, loading in the job any system whose
/// searcher is not already at hand.
pub(crate) fn start(
    ctx: &egui::Context,
    work: QueryWork,
    source: QuerySource,
) -> Pending<QueryOutput> {
    Pending::spawn(ctx, "search", move || Ok(answer(work, &source)))
}

/// Answers `source` (on the query's worker thread).
fn answer(work: QueryWork, source: &QuerySource) -> QueryOutput {
    let QueryWork {
        library_dir,
        systems,
        device,
        filter,
        mut cached,
    } = work;
    // A system retrained under its name since its searcher was opened opens again (and
    // asks for its index to be rebuilt: the old one holds the old embeddings).
    cached.retain(|s| !s.system().is_saved_again());
    let mut searchers = Vec::new();
    let mut needs_index = Vec::new();
    for name in &systems {
        match cached.iter().position(|s| s.system_name() == name) {
            Some(i) => searchers.push(cached.swap_remove(i)),
            None => match open(&library_dir, name, &device) {
                Ok(Opened::Ready(s)) => searchers.push(*s),
                Ok(Opened::NeedsIndex(_)) => needs_index.push(name.clone()),
                Err(e) => {
                    return QueryOutput {
                        searchers,
                        result: Err(e),
                    };
                }
            },
        }
    }
    // A catalogue item the index does not hold yet (imported since): index first.
    if let QuerySource::Item { id, .. } = source {
        needs_index.extend(
            searchers
                .iter()
                .filter(|s| s.row_of(*id).is_none())
                .map(|s| s.system_name().to_owned()),
        );
    }
    // The dial asked of an index made before the colour part existed (format 1 or 2): index
    // first, which embeds it again with the colour part, as the CLI's freshness step does.
    if let Some(main) = searchers.first()
        && !filter.colour_weight.is_shape_only()
        && main.system().colour_dim() > 0
        && !main.index().has_colour()
        && !needs_index.iter().any(|n| n == main.system_name())
    {
        needs_index.push(main.system_name().to_owned());
    }
    if !needs_index.is_empty() {
        return QueryOutput {
            searchers,
            result: Ok(QueryAnswer::NeedsIndex(needs_index)),
        };
    }
    // The window keeps each query's feature map (about 250 KB per system) so that Explain
    // answers with one pass per result and none for the query.
    let run = |searcher: &Searcher, filter: &SearchFilter| match source {
        QuerySource::File(path) => searcher.query_file_explained(path, RESULTS, filter),
        QuerySource::Item { id, .. } => searcher.query_item(*id, RESULTS, filter),
        QuerySource::Pasted(img) => searcher.query_image_explained(img, RESULTS, filter),
    };
    // A comparison system without a colour branch ranks by shape (the dial says so).
    let shape_only = SearchFilter {
        colour_weight: ColourWeight::SHAPE_ONLY,
        ..filter.clone()
    };
    let compare = |searcher: &Searcher| match searcher.check_colour_weight(filter.colour_weight) {
        Ok(()) => run(searcher, &filter),
        Err(_) => run(searcher, &shape_only),
    };
    let result = run(&searchers[0], &filter).and_then(|main| {
        let compared = searchers.get(1).map(compare).transpose()?;
        Ok(QueryAnswer::Found(main, compared))
    });
    QueryOutput { searchers, result }
}

/// The searcher of `system` in the library at `dir`, on `device`.
fn open(dir: &Path, system: &str, device: &str) -> crate::Result<Opened> {
    let lib = crate::library::Library::open(dir)?;
    let device = crate::device::device(device)?;
    Searcher::open_or_needs_index(&lib, system, &device)
}

/// An RGB image from a pasted picture (alpha composited on white, as files are).
pub(crate) fn rgb_from_pasted(pasted: &egui::ColorImage) -> image::RgbImage {
    let [w, h] = pasted.size;
    let mut out = image::RgbImage::new(w as u32, h as u32);
    for (o, p) in out.pixels_mut().zip(&pasted.pixels) {
        let [r, g, b, a] = p.to_srgba_unmultiplied();
        let a = a as u32;
        let over_white = |c: u8| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        *o = image::Rgb([over_white(r), over_white(g), over_white(b)]);
    }
    out
}

/// The picture of a pasted query, for the query column.
pub(crate) fn pasted_texture(ctx: &egui::Context, img: &image::RgbImage) -> egui::TextureHandle {
    let color =
        egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw());
    ctx.load_texture("pasted query", color, egui::TextureOptions::LINEAR)
}
