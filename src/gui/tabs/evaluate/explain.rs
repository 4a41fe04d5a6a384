//! "Why similar" on a scorer's sheet, where the study allows it: which result to explain and
//! what its query is, handed to the tab's blind
//! [`ExplainOverlay`](crate::gui::explain_overlay::ExplainOverlay). The sheet knows its
//! system; the scorer never sees it.

use super::EvaluateTab;
use crate::gui::command::EvaluateCommand;
use crate::gui::explain_overlay::{ExplainQuery, ExplainTarget, QueryPicture};
use crate::gui::runtime::Runtime;
use crate::library::resolve;
use crate::study::{Domain, Sheet};

impl EvaluateTab {
    /// The sheet on show, when its study lets scorers see explanations.
    fn explainable_sheet(&self) -> Option<&Sheet> {
        let study = self.study.as_ref().filter(|s| s.show_explanations)?;
        self.session.as_ref()?.sheet(study)
    }

    /// The Explain button: on, it explains result 1 unless one is explained already.
    pub(super) fn set_explain(&mut self, on: bool, rt: &Runtime) {
        self.explain_on = on && self.explainable_sheet().is_some();
        if self.explain_on && self.explain.wanted().is_none() {
            self.explain_rank(1, rt);
        }
    }

    /// Explains the result of `rank` (1-based) against the sheet's query on a worker thread;
    /// nothing where the study does not allow it.
    pub(super) fn explain_rank(&mut self, rank: u32, rt: &Runtime) {
        let Some(sheet) = self.explainable_sheet() else {
            return;
        };
        let (Some(study), Some(index)) = (&self.study, (rank as usize).checked_sub(1)) else {
            return;
        };
        let (Some(item), Some(query)) = (sheet.items.get(index), study.queries.get(sheet.query))
        else {
            return;
        };
        let target = ExplainTarget {
            system: sheet.system.clone(),
            item: item.item_id,
            rank: rank as usize,
            image: resolve(&rt.library_dir, &item.image),
        };
        let query = ExplainQuery {
            picture: QueryPicture::File(resolve(&rt.library_dir, &query.image)),
            // No map kept from the search: the query costs one (cached) pass.
            features: None,
            // A street photo's item is what it shows, not the photo: only a shop query is
            // the catalogue item itself.
            item: query.item_id.filter(|_| query.domain == Domain::Shop),
        };
        self.explain_sheet = Some(sheet.id);
        self.explain
            .request(&rt.ctx, (&rt.library_dir, &rt.device), target, query);
    }

    /// Once a frame, before the commands: collects finished work and, when the sheet on show
    /// is no longer the one explained, forgets the pictures (with Explain on, result 1 of
    /// the new sheet is explained next).
    pub fn poll(&mut self, rt: &mut Runtime) {
        if let Some(error) = self.explain.poll(&rt.ctx) {
            rt.report(error);
        }
        let current = self.explainable_sheet().map(|s| s.id);
        if current.is_none() {
            self.explain_on = false;
        }
        if self.explain_sheet.is_some() && self.explain_sheet != current {
            self.explain.clear();
            self.explain_sheet = None;
            if self.explain_on {
                rt.commands.push(EvaluateCommand::Explain(1).into());
            }
        }
    }
}
