//! A study's vocabulary (paper §IV.A, §IV.D): criteria with weights and directions, the
//! frozen sheets (query × system → its top-K items), scorers' answers. Pure types that the
//! store saves ([`crate::store`]); the service that creates studies, records answers and
//! reports on them is [`crate::ohs`].

use crate::catalog::{ItemId, Label, LabelGroup};
use crate::error::{Error, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;
/// Results per sheet unless the study says otherwise (the paper's hit@10).
pub const DEFAULT_K: u32 = 10;
/// The most results a sheet may hold (a scorer cannot judge more at a glance).
pub const MAX_K: u32 = 50;

/// Whether more hits on a criterion are better (category, colour …) or fewer (a goal that
/// wants, say, little shape difference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    More,
    Fewer,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::More => "more",
            Direction::Fewer => "fewer",
        }
    }

    /// `more` or `fewer` (case-insensitive).
    pub fn parse(s: &str) -> Option<Direction> {
        match s.trim().to_ascii_lowercase().as_str() {
            "more" => Some(Direction::More),
            "fewer" => Some(Direction::Fewer),
            _ => None,
        }
    }
}

/// Where a query photo comes from: the shop's own catalogue, or the street (the paper used a
/// shop/street ratio of 2/3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Shop,
    Street,
}

impl Domain {
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Shop => "shop",
            Domain::Street => "street",
        }
    }
}

/// A rule that makes a criterion objective: the machine can count its hits from the
/// catalogue's labels when the query is a catalogue item (issue 19). Only rules whose answer
/// the labels decide outright are offered; "same subtype" would be one too, but the paper's
/// seven name category and colour as the objective ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ObjectiveRule {
    /// A hit shares a `category` label with the query item.
    #[serde(rename = "category")]
    SameCategory,
    /// A hit shares a `colour` label with the query item.
    #[serde(rename = "colour")]
    SameColour,
}

impl ObjectiveRule {
    pub const ALL: [ObjectiveRule; 2] = [ObjectiveRule::SameCategory, ObjectiveRule::SameColour];

    /// The name stored in SQLite and typed on the command line: the label group's name.
    pub fn as_str(self) -> &'static str {
        self.group().as_str()
    }

    /// The label group the rule compares.
    pub fn group(self) -> LabelGroup {
        match self {
            ObjectiveRule::SameCategory => LabelGroup::Category,
            ObjectiveRule::SameColour => LabelGroup::Colour,
        }
    }

    /// What the rule means, for tooltips and reports.
    pub fn describe(self) -> &'static str {
        match self {
            ObjectiveRule::SameCategory => "same category label as the query item",
            ObjectiveRule::SameColour => "same colour label as the query item",
        }
    }

    /// `category` or `colour`; anything else is an error naming the rules there are.
    pub fn parse(name: &str) -> Result<ObjectiveRule> {
        let name = name.trim().to_ascii_lowercase();
        ObjectiveRule::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown objective rule {name:?}; the rules are: category (same category \
                     label as the query item), colour (same colour label)"
                ))
            })
    }

    /// The machine's answer on one sheet: the ranks (1-based) of the results that share a
    /// label of the rule's group with the query. `None` when the query item has no label
    /// in that group (the machine cannot tell, so it suggests nothing). A result without
    /// one is not a hit.
    pub fn hits(self, query: &[Label], results: &[&[Label]]) -> Option<Vec<u32>> {
        let group = self.group();
        let wanted: Vec<&str> = query
            .iter()
            .filter(|l| l.group == group)
            .map(|l| l.name.as_str())
            .collect();
        if wanted.is_empty() {
            return None;
        }
        Some(
            results
                .iter()
                .enumerate()
                .filter(|(_, labels)| {
                    labels
                        .iter()
                        .any(|l| l.group == group && wanted.contains(&l.name.as_str()))
                })
                .map(|(i, _)| i as u32 + 1)
                .collect(),
        )
    }
}

/// A scoring criterion: what a hit means, how much it weighs, which way is better, and
/// whether the machine counts it (an objective rule).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub name: String,
    pub description: String,
    pub weight: f64,
    pub direction: Direction,
    /// Set: shop sheets open with the machine's count pre-filled for the scorer to confirm.
    pub objective: Option<ObjectiveRule>,
}

impl Criterion {
    pub fn new(name: &str, description: &str) -> Criterion {
        Criterion {
            name: name.to_owned(),
            description: description.to_owned(),
            weight: 1.0,
            direction: Direction::More,
            objective: None,
        }
    }
}

/// The paper's seven criteria (§IV.A), each with weight 1 and "more is better": the default
/// of a new study. A study for another goal (advertising wants variety) changes the weights and
/// directions.
pub fn paper_criteria() -> Vec<Criterion> {
    [
        (
            "category",
            "Results in the query's main category (top, bottom, footwear, jewelry …).",
        ),
        (
            "subtype",
            "Results of the same subtype within the category (boots, high heels, slippers …).",
        ),
        (
            "fabric/texture",
            "Results with the query's main fabric or texture (denim, leather, smooth, shiny …).",
        ),
        (
            "colour",
            "Results with the query's dominant colour (red, green, blue, yellow …).",
        ),
        (
            "variety",
            "Novel results: a different category, subtype or colour from the query.",
        ),
        (
            "details",
            "Results that follow the query's fine details (neckline, zipper, pockets, design).",
        ),
        (
            "shape difference",
            "Results that do not follow the query's outline (other angle, perspective, \
             rotation, flip).",
        ),
    ]
    .iter()
    .map(|(name, description)| Criterion::new(name, description))
    .collect()
}

/// The paper's seven with "category" and "colour" made objective where the catalogue has
/// labels in that group (`groups`: the groups it has): the template a new study starts from.
/// A catalogue without colour labels keeps "colour" for people alone.
pub fn paper_criteria_with_rules(groups: &[LabelGroup]) -> Vec<Criterion> {
    let mut criteria = paper_criteria();
    for c in &mut criteria {
        c.objective = ObjectiveRule::ALL
            .into_iter()
            .find(|r| r.as_str() == c.name && groups.contains(&r.group()));
    }
    criteria
}

/// Refuses criteria a study cannot use: none, a blank or repeated name, a negative or
/// non-finite weight, or weights that sum to zero.
pub fn validate_criteria(criteria: &[Criterion]) -> Result<()> {
    if criteria.is_empty() {
        return Err(Error::Invalid(
            "a study needs at least one criterion".into(),
        ));
    }
    for (i, c) in criteria.iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err(Error::Invalid(format!("criterion {} has no name", i + 1)));
        }
        if criteria[..i].iter().any(|o| o.name == c.name) {
            return Err(Error::Invalid(format!(
                "the criterion {:?} is named twice",
                c.name
            )));
        }
        if !c.weight.is_finite() || c.weight < 0.0 {
            return Err(Error::Invalid(format!(
                "the criterion {:?} has weight {}; weights are numbers ≥ 0",
                c.name, c.weight
            )));
        }
    }
    if criteria.iter().map(|c| c.weight).sum::<f64>() <= 0.0 {
        return Err(Error::Invalid(
            "the criteria's weights sum to 0; give at least one a positive weight".into(),
        ));
    }
    Ok(())
}

/// One query photo of a study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyQuery {
    pub id: i64,
    /// As stored: relative to the library root when inside it.
    pub image: String,
    pub domain: Domain,
    /// The catalogue item the photo shows, when known (an item query, a demo street photo).
    pub item_id: Option<ItemId>,
}

/// One result on a frozen sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SheetItem {
    pub item_id: ItemId,
    /// The item's image as stored when the sheet was frozen.
    pub image: String,
}

/// The machine's count for one objective criterion on one sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineCount {
    pub criterion: String,
    /// The ranks (1-based) the rule counts as hits; their number is the count.
    pub marks: Vec<u32>,
}

impl MachineCount {
    pub fn hits(&self) -> u32 {
        self.marks.len() as u32
    }
}

/// A frozen sheet: one query's top-K from one system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sheet {
    pub id: i64,
    /// Index into [`Study::queries`].
    pub query: usize,
    pub system: String,
    /// Best first.
    pub items: Vec<SheetItem>,
    /// The machine's counts for the study's objective criteria, frozen with the sheet (shop
    /// queries with a labelled catalogue item only; empty otherwise).
    pub machine: Vec<MachineCount>,
}

impl Sheet {
    /// The machine's count for the criterion called `name`, when it has one here.
    pub fn machine_count(&self, name: &str) -> Option<&MachineCount> {
        self.machine.iter().find(|m| m.criterion == name)
    }
}

/// A study as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Study {
    pub id: i64,
    pub name: String,
    pub goal: String,
    pub k: u32,
    pub seed: u64,
    pub created_at: String,
    pub criteria: Vec<Criterion>,
    pub systems: Vec<String>,
    pub queries: Vec<StudyQuery>,
    /// In creation order (query by query, each system in turn).
    pub sheets: Vec<Sheet>,
    /// Scorers may see why each result is similar (heatmaps) on the sheet. Off unless the
    /// author asked: a heatmap may sway a scorer's judgement.
    pub show_explanations: bool,
}

/// How an answer relates to the machine's pre-fill: what the report's "confirmed vs
/// changed" counts and what tells a scorer's own judgement from a nod to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prefill {
    /// No pre-fill was shown (a criterion without a rule, a street query, bulk entry).
    #[default]
    None,
    /// The scorer accepted the machine's count as it was.
    Confirmed,
    /// The scorer gave another count (or other marks) than the machine's.
    Corrected,
}

impl Prefill {
    pub fn as_str(self) -> &'static str {
        match self {
            Prefill::None => "none",
            Prefill::Confirmed => "confirmed",
            Prefill::Corrected => "corrected",
        }
    }

    /// `none`, `confirmed` or `corrected`; an empty cell is `none` (older exports).
    pub fn parse(s: &str) -> Option<Prefill> {
        match s.trim() {
            "" | "none" => Some(Prefill::None),
            "confirmed" => Some(Prefill::Confirmed),
            "corrected" => Some(Prefill::Corrected),
            _ => None,
        }
    }

    /// The outcome of answering `hits` (with `marks`, when tiles were clicked) where the
    /// machine suggested `machine`: confirmed when it is the machine's answer, corrected
    /// otherwise; `None` where nothing was suggested.
    pub fn of(machine: Option<&MachineCount>, hits: u32, marks: Option<&[u32]>) -> Prefill {
        match machine {
            None => Prefill::None,
            Some(m) if m.hits() == hits && marks.is_none_or(|k| k == m.marks.as_slice()) => {
                Prefill::Confirmed
            }
            Some(_) => Prefill::Corrected,
        }
    }
}

/// One answer: `hits` results of a sheet count for a criterion, by one scorer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub sheet_id: i64,
    pub scorer: String,
    pub criterion: String,
    pub hits: u32,
    /// The ranks (1-based) the scorer marked, when they clicked tiles rather than typed.
    pub marks: Option<Vec<u32>>,
    /// When it was given (UTC, ISO 8601); empty for "now" when writing.
    pub given_at: String,
    /// Whether it confirmed or corrected the machine's pre-fill, or had none.
    pub prefill: Prefill,
}

/// A study to store: everything but the ids.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStudy {
    pub name: String,
    pub goal: String,
    pub k: u32,
    pub seed: u64,
    pub criteria: Vec<Criterion>,
    pub systems: Vec<String>,
    pub queries: Vec<NewQuery>,
    pub sheets: Vec<NewSheet>,
    /// See [`Study::show_explanations`].
    pub show_explanations: bool,
}

/// A query of a study to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewQuery {
    pub image: String,
    pub domain: Domain,
    pub item_id: Option<ItemId>,
}

/// A sheet to store: indices into the new study's queries and systems.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSheet {
    pub query: usize,
    pub system: usize,
    pub items: Vec<SheetItem>,
}

impl Study {
    /// The sheet with this id.
    pub fn sheet(&self, id: i64) -> Option<&Sheet> {
        self.sheets.iter().find(|s| s.id == id)
    }

    /// The position of the criterion called `name`.
    pub fn criterion_index(&self, name: &str) -> Option<usize> {
        self.criteria.iter().position(|c| c.name == name)
    }

    /// The order in which `scorer` sees the sheets (indices into [`Study::sheets`]): shuffled
    /// from the study's seed and the scorer's name, so it differs between scorers, is the
    /// same every time one scorer comes back, and needs nothing stored.
    pub fn sheet_order(&self, scorer: &str) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.sheets.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a(scorer));
        order.shuffle(&mut rng);
        order
    }

    /// How many queries are shop and street photos.
    pub fn domain_counts(&self) -> (usize, usize) {
        let street = self
            .queries
            .iter()
            .filter(|q| q.domain == Domain::Street)
            .count();
        (self.queries.len() - street, street)
    }
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_0193);
    }
    h
}
