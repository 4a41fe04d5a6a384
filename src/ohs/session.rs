//! One scorer at work on one study (scorer mode): which sheet they are on in their own
//! shuffled order and which criterion, the answers they gave, and what Ctrl+Z takes back.
//!
//! The navigation (next and previous criterion and sheet, skipping to the next sheet not yet
//! done) and the writes it implies live here, below the desktop app's Evaluate tab, which only
//! draws a session and turns keys and clicks into these calls. Every answer and every move is
//! written to SQLite the moment it happens, each in its own transaction, so closing or killing
//! the app loses nothing and the scorer resumes exactly where they stopped
//! ([`ScorerSession::start`]).

use super::{record_answer_undoable, save_position, undo_answer};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::study::{Answer, MachineCount, Prefill, Sheet, Study};
use std::collections::HashMap;

/// An answer as the sheet shows it: the hits and, when tiles were clicked, their ranks.
pub type GivenAnswer = (u32, Option<Vec<u32>>);

/// One scorer at work on one study.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerSession {
    pub scorer: String,
    /// Indices into the study's sheets, in this scorer's order.
    pub order: Vec<usize>,
    /// Position in `order`.
    pub pos: usize,
    /// Index of the current criterion.
    pub criterion: usize,
    /// This scorer's answers: (sheet id, criterion index) → (hits, marked ranks).
    pub answers: HashMap<(i64, usize), GivenAnswer>,
    /// The answers given in this session, last on top, for Ctrl+Z.
    pub undo: Vec<UndoStep>,
}

/// An answer as given, and what it replaced, so it can be taken back.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoStep {
    pub given: Answer,
    /// The answer it replaced in SQLite (`None`: it was the first).
    pub previous: Option<Answer>,
    /// Where the scorer was when they gave it.
    pub pos: usize,
    pub criterion: usize,
}

impl ScorerSession {
    /// Starts (or resumes) scoring `study` as `scorer`, from their stored answers and
    /// position. The name is kept exactly as typed (it is the scorer's identity in merges);
    /// an empty one is refused.
    pub fn start(store: &Store, study: &Study, scorer: &str) -> Result<Self> {
        if scorer.trim().is_empty() {
            return Err(Error::Invalid("type your name to start scoring".into()));
        }
        let answers = store.study_answers(study.id)?;
        let position = store.scorer_position(study.id, scorer)?;
        Ok(ScorerSession::resume(study, scorer, &answers, position))
    }

    /// The session of `scorer` on `study` from their stored answers and position.
    pub fn resume(
        study: &Study,
        scorer: &str,
        answers: &[Answer],
        position: Option<(usize, usize)>,
    ) -> Self {
        let answers = answers
            .iter()
            .filter(|a| a.scorer == scorer)
            .filter_map(|a| {
                let c = study.criterion_index(&a.criterion)?;
                Some(((a.sheet_id, c), (a.hits, a.marks.clone())))
            })
            .collect();
        let order = study.sheet_order(scorer);
        let (pos, criterion) = position.unwrap_or((0, 0));
        ScorerSession {
            scorer: scorer.to_owned(),
            pos: pos.min(order.len().saturating_sub(1)),
            criterion: criterion.min(study.criteria.len().saturating_sub(1)),
            order,
            answers,
            undo: Vec::new(),
        }
    }

    /// The sheet on show (`None` for a study without sheets).
    pub fn sheet<'a>(&self, study: &'a Study) -> Option<&'a Sheet> {
        study.sheets.get(*self.order.get(self.pos)?)
    }

    /// Whether every criterion of `sheet` has this scorer's answer.
    pub fn is_done(&self, study: &Study, sheet: &Sheet) -> bool {
        (0..study.criteria.len()).all(|c| self.answers.contains_key(&(sheet.id, c)))
    }

    /// How many sheets this scorer has done.
    pub fn sheets_done(&self, study: &Study) -> usize {
        study
            .sheets
            .iter()
            .filter(|s| self.is_done(study, s))
            .count()
    }

    /// This scorer's answer for the current criterion on `sheet`.
    pub fn answer_on(&self, sheet: &Sheet) -> Option<&GivenAnswer> {
        self.answers.get(&(sheet.id, self.criterion))
    }

    /// The ranks marked as hits for the current criterion on `sheet` (none when the answer
    /// was typed as a count).
    pub fn marks_on(&self, sheet: &Sheet) -> &[u32] {
        match self.answer_on(sheet) {
            Some((_, Some(marks))) => marks,
            _ => &[],
        }
    }

    /// The machine's suggestion for the current criterion on `sheet` while this scorer has
    /// not answered it: shown pre-selected, saved only once confirmed or corrected.
    pub fn prefill_on<'a>(&self, study: &Study, sheet: &'a Sheet) -> Option<&'a MachineCount> {
        if self.answer_on(sheet).is_some() {
            return None;
        }
        sheet.machine_count(&study.criteria.get(self.criterion)?.name)
    }

    /// Accepts the machine's suggestion for the current criterion as this scorer's answer
    /// (Enter, or the Confirm button). Returns whether there was one to accept.
    pub fn confirm_prefill(&mut self, store: &mut Store, study: &Study) -> Result<bool> {
        let Some(sheet) = self.sheet(study) else {
            return Ok(false);
        };
        let Some(machine) = self.prefill_on(study, sheet).cloned() else {
            return Ok(false);
        };
        self.answer(store, study, machine.hits(), Some(machine.marks))?;
        Ok(true)
    }

    /// Moves `delta` criteria on: past the last criterion to the next sheet's first, before
    /// the first to the previous sheet's last; at either end of the order it stops.
    pub fn move_criterion(&mut self, study: &Study, delta: isize) {
        let n = study.criteria.len() as isize;
        let next = self.criterion as isize + delta;
        if next >= n && self.pos + 1 < self.order.len() {
            self.pos += 1;
            self.criterion = 0;
        } else if next < 0 && self.pos > 0 {
            self.pos -= 1;
            self.criterion = (n - 1) as usize;
        } else {
            self.criterion = next.clamp(0, n - 1) as usize;
        }
    }

    /// Back (-1) or on (+1) by sheets in the scorer's order, at the first criterion.
    pub fn move_sheet(&mut self, delta: isize) {
        let last = self.order.len().saturating_sub(1) as isize;
        self.pos = (self.pos as isize + delta).clamp(0, last) as usize;
        self.criterion = 0;
    }

    /// Leaves this sheet for later: on to the next sheet in the order not yet done (from the
    /// start again after the last), at its first criterion. With every other sheet done it
    /// stays.
    pub fn skip(&mut self, study: &Study) {
        let n = self.order.len();
        let next = (1..n)
            .map(|step| (self.pos + step) % n)
            .find(|&p| !self.is_done(study, &study.sheets[self.order[p]]));
        if let Some(p) = next {
            self.pos = p;
            self.criterion = 0;
        }
    }

    /// Records `hits` (with the marked ranks, when tiles were clicked) for the current
    /// criterion on the current sheet, keeps it for Ctrl+Z, and saves the position. Where
    /// the sheet has a machine count for the criterion, the answer records whether it
    /// confirms it or corrects it ([`Prefill::of`]).
    pub fn answer(
        &mut self,
        store: &mut Store,
        study: &Study,
        hits: u32,
        marks: Option<Vec<u32>>,
    ) -> Result<()> {
        let Some(sheet) = self.sheet(study) else {
            return Ok(());
        };
        let sheet_id = sheet.id;
        let criterion = study.criteria[self.criterion].name.clone();
        let prefill = Prefill::of(sheet.machine_count(&criterion), hits, marks.as_deref());
        let given = Answer {
            sheet_id,
            scorer: self.scorer.clone(),
            criterion,
            hits,
            marks: marks.clone(),
            given_at: String::new(),
            prefill,
        };
        let previous = record_answer_undoable(store, study, &given)?;
        self.undo.push(UndoStep {
            given,
            previous,
            pos: self.pos,
            criterion: self.criterion,
        });
        self.answers
            .insert((sheet_id, self.criterion), (hits, marks));
        self.save_position(store, study)
    }

    /// Marks or unmarks the result of `rank` (1-based) as a hit for the current criterion and
    /// records the marks as the answer. A rank not on the sheet changes nothing. Before any
    /// answer, a click starts from the machine's pre-selected marks (a correction of them).
    pub fn toggle_mark(&mut self, store: &mut Store, study: &Study, rank: u32) -> Result<()> {
        let Some(sheet) = self.sheet(study) else {
            return Ok(());
        };
        if rank == 0 || rank as usize > sheet.items.len() {
            return Ok(());
        }
        let mut marks = match self.prefill_on(study, sheet) {
            Some(machine) => machine.marks.clone(),
            None => self.marks_on(sheet).to_vec(),
        };
        if let Some(i) = marks.iter().position(|&r| r == rank) {
            marks.remove(i);
        } else {
            marks.push(rank);
            marks.sort_unstable();
        }
        self.answer(store, study, marks.len() as u32, Some(marks))
    }

    /// Takes back the last answer of this session (Ctrl+Z): the answer it replaced comes
    /// back in SQLite, or it is deleted, and the scorer is back where they gave it. Returns
    /// whether there was one.
    pub fn undo(&mut self, store: &mut Store, study: &Study) -> Result<bool> {
        let Some(step) = self.undo.pop() else {
            return Ok(false);
        };
        undo_answer(store, study, &step.given, step.previous.as_ref())?;
        let key = (step.given.sheet_id, step.criterion);
        match &step.previous {
            Some(previous) => {
                self.answers
                    .insert(key, (previous.hits, previous.marks.clone()));
            }
            None => {
                self.answers.remove(&key);
            }
        }
        self.pos = step.pos;
        self.criterion = step.criterion;
        self.save_position(store, study)?;
        Ok(true)
    }

    /// Remembers where the scorer is, so they resume there.
    pub fn save_position(&self, store: &mut Store, study: &Study) -> Result<()> {
        save_position(store, study, &self.scorer, self.pos, self.criterion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ohs::store_study;
    use crate::ohs::tests::worked_study;

    /// The worked study (6 sheets, 3 criteria, K = 10) in memory, and ann's session on it.
    fn ann() -> (Store, Study, ScorerSession) {
        let mut store = Store::open_in_memory().unwrap();
        let study = store_study(&mut store, &worked_study()).unwrap();
        let session = ScorerSession::start(&store, &study, "ann").unwrap();
        (store, study, session)
    }

    #[test]
    fn a_session_starts_at_the_first_sheet_of_the_scorers_own_order() {
        let (store, study, session) = ann();
        assert_eq!(session.order, study.sheet_order("ann"));
        assert_eq!((session.pos, session.criterion), (0, 0));
        assert_eq!(
            session.sheet(&study).unwrap().id,
            study.sheets[session.order[0]].id
        );
        assert_eq!(session.sheets_done(&study), 0);
        let err = ScorerSession::start(&store, &study, "  ").unwrap_err();
        assert!(err.to_string().contains("type your name"), "{err}");
    }

    #[test]
    fn criteria_and_sheets_move_in_order_and_stop_at_the_ends() {
        let (_, study, mut s) = ann();
        // Back from the very first criterion stays there.
        s.move_criterion(&study, -1);
        assert_eq!((s.pos, s.criterion), (0, 0));
        s.move_criterion(&study, 2);
        assert_eq!((s.pos, s.criterion), (0, 2));
        // Past the last criterion: the next sheet's first.
        s.move_criterion(&study, 1);
        assert_eq!((s.pos, s.criterion), (1, 0));
        // Before the first: the previous sheet's last.
        s.move_criterion(&study, -1);
        assert_eq!((s.pos, s.criterion), (0, 2));
        s.move_sheet(10);
        assert_eq!((s.pos, s.criterion), (5, 0));
        s.move_criterion(&study, 3);
        assert_eq!(
            (s.pos, s.criterion),
            (5, 2),
            "the last sheet keeps its last criterion"
        );
        s.move_sheet(-10);
        assert_eq!((s.pos, s.criterion), (0, 0));
    }

    #[test]
    fn answers_are_saved_at_once_with_the_position_and_undone_in_order() {
        let (mut store, study, mut s) = ann();
        let sheet = s.sheet(&study).unwrap().id;
        s.toggle_mark(&mut store, &study, 3).unwrap();
        s.toggle_mark(&mut store, &study, 1).unwrap();
        // A rank that is not on the sheet changes nothing.
        s.toggle_mark(&mut store, &study, 11).unwrap();
        s.toggle_mark(&mut store, &study, 0).unwrap();
        assert_eq!(s.answers[&(sheet, 0)], (2, Some(vec![1, 3])));
        s.toggle_mark(&mut store, &study, 3).unwrap();
        let stored = |store: &Store| store.answer(sheet, "ann", "category").unwrap();
        assert_eq!(stored(&store).unwrap().marks, Some(vec![1]));
        // A typed count replaces the marks; then on to the next criterion.
        s.answer(&mut store, &study, 4, None).unwrap();
        s.move_criterion(&study, 1);
        s.save_position(&mut store, &study).unwrap();
        assert_eq!(
            store.scorer_position(study.id, "ann").unwrap(),
            Some((0, 1))
        );
        // Resumed elsewhere, the session is where it was, with its answers.
        let again = ScorerSession::start(&store, &study, "ann").unwrap();
        assert_eq!((again.pos, again.criterion), (0, 1));
        assert_eq!(again.answers[&(sheet, 0)], (4, None));
        // Ctrl+Z: the marks come back, then one, then none; the scorer is back at the answer.
        assert!(s.undo(&mut store, &study).unwrap());
        assert_eq!((s.pos, s.criterion), (0, 0));
        assert_eq!(stored(&store).unwrap().marks, Some(vec![1]));
        assert_eq!(s.marks_on(s.sheet(&study).unwrap()), [1]);
        for _ in 0..3 {
            assert!(s.undo(&mut store, &study).unwrap());
        }
        assert_eq!(stored(&store), None);
        assert_eq!(s.answer_on(s.sheet(&study).unwrap()), None);
        assert!(!s.undo(&mut store, &study).unwrap(), "nothing left to undo");
    }

    #[test]
    fn skip_goes_to_the_next_sheet_not_yet_done_and_wraps() {
        let (mut store, study, mut s) = ann();
        // Sheets 2 and 3 of the order are done.
        for pos in [1, 2] {
            s.move_sheet(pos - s.pos as isize);
            for c in 0..study.criteria.len() {
                s.criterion = c;
                s.answer(&mut store, &study, 1, None).unwrap();
            }
        }
        assert_eq!(s.sheets_done(&study), 2);
        s.move_sheet(-10);
        s.criterion = 1;
        s.skip(&study);
        assert_eq!((s.pos, s.criterion), (3, 0));
        s.move_sheet(10);
        s.skip(&study);
        assert_eq!(s.pos, 0, "from the last sheet, back to the first not done");
        // With every other sheet done, skip stays.
        for pos in [3, 4, 5] {
            s.move_sheet(pos - s.pos as isize);
            for c in 0..study.criteria.len() {
                s.criterion = c;
                s.answer(&mut store, &study, 0, None).unwrap();
            }
        }
        s.move_sheet(-10);
        s.criterion = 2;
        s.skip(&study);
        assert_eq!((s.pos, s.criterion), (0, 2));
        // A resumed position past the end is brought back into the study.
        let resumed = ScorerSession::resume(&study, "ann", &[], Some((99, 99)));
        assert_eq!((resumed.pos, resumed.criterion), (5, 2));
    }
}
