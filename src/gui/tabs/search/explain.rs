//! "Why similar" in the Search tab: which result to explain, and what its query is, handed to
//! the tab's [`ExplainOverlay`](crate::gui::explain_overlay::ExplainOverlay).

use super::SearchTab;
use crate::catalog::ItemId;
use crate::gui::command::QuerySource;
use crate::gui::explain_overlay::{ExplainQuery, ExplainTarget, QueryPicture};
use crate::gui::runtime::Runtime;
use std::path::PathBuf;

impl SearchTab {
    /// Explains the result `item` of the query on show, as ranked by `system` (the chosen
    /// system or, in compare mode, the other one: each has its own query map).
    pub(super) fn explain_result(&mut self, system: &str, item: ItemId, rt: &Runtime) {
        let Some(shown) = &self.shown else {
            return;
        };
        let result = match &shown.compared {
            _ if shown.system == system => &shown.result,
            Some((name, compared)) if name == system => compared,
            _ => return,
        };
        let Some(ranked) = result.results.iter().find(|r| r.item_id == item) else {
            return;
        };
        let target = ExplainTarget {
            system: system.to_owned(),
            item,
            rank: ranked.rank,
            image: PathBuf::from(&ranked.image),
        };
        let (picture, query_item) = match &shown.source {
            QuerySource::File(path) => (QueryPicture::File(path.clone()), None),
            QuerySource::Pasted(image) => (QueryPicture::Image(image.clone()), None),
            // A query by item has the item's image (and no map: it searched by its row).
            QuerySource::Item { id, .. } => (
                QueryPicture::File(PathBuf::from(&shown.result.image)),
                Some(*id),
            ),
        };
        let query = ExplainQuery {
            picture,
            features: result.query_features.clone(),
            item: query_item,
        };
        self.explain
            .request(&rt.ctx, (&rt.library_dir, &rt.device), target, query);
    }

    /// Explains the top result of the chosen system (Explain just turned on, a new query).
    pub(super) fn explain_top(&mut self, rt: &Runtime) {
        let Some(shown) = &self.shown else {
            return;
        };
        let Some(first) = shown.result.results.first() else {
            return;
        };
        let (system, item) = (shown.system.clone(), first.item_id);
        self.explain_result(&system, item, rt);
    }
}
