//! Objective-guided human score studies in the store (ARCHITECTURE.md §8): the study with its
//! criteria, systems and query set, the sheets frozen at creation, every answer, and where each
//! scorer stopped. The arithmetic lives in [`crate::ohs`]; this file only reads and writes rows.
//!
//! Answers are keyed by (sheet, scorer, criterion name): giving an answer again replaces it,
//! and the key is what merging databases from several machines compares.

use super::{Store, Writer};
use crate::error::{Error, Result};
use crate::study::{
    Answer, Criterion, Direction, Domain, MachineCount, NewStudy, ObjectiveRule, Prefill, Sheet,
    SheetItem, Study, StudyQuery,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;

/// The first schema version that has the study tables.
const STUDIES_SCHEMA: u32 = 2;
/// The first schema version with objective rules, machine counts and pre-fill outcomes; an
/// older database opened read-only (to merge) reads as having none.
const PREFILL_SCHEMA: u32 = 3;
/// The first schema version that says whether scorers may see explanations; an older
/// database read-only reads as "no" (its studies were scored without).
const EXPLAIN_SCHEMA: u32 = 4;

impl<'a> Writer<'a> {
    /// Stores a new study with its queries and frozen sheets, and the machine's counts for
    /// its objective criteria (`machine[i]` belongs to `study.sheets[i]`; missing entries
    /// mean none); returns its id. A name already taken is refused by name.
    pub fn insert_study(&self, study: &NewStudy, machine: &[Vec<MachineCount>]) -> Result<i64> {
        let taken: Option<i64> = self
            .tx
            .query_row(
                "SELECT id FROM studies WHERE name = ?1",
                [&study.name],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(Error::Invalid(format!(
                "there is already a study called {:?}; choose another name",
                study.name
            )));
        }
        self.tx.execute(
            "INSERT INTO studies (name, goal, k, seed, show_explanations) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                study.name,
                study.goal,
                study.k,
                study.seed as i64,
                study.show_explanations
            ],
        )?;
        let study_id = self.tx.last_insert_rowid();
        for (i, c) in study.criteria.iter().enumerate() {
            self.tx.execute(
                "INSERT INTO study_criteria (study_id, position, name, description, weight, \
                 direction, objective) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    study_id,
                    i as i64,
                    c.name,
                    c.description,
                    c.weight,
                    c.direction.as_str(),
                    c.objective.map(ObjectiveRule::as_str)
                ],
            )?;
        }
        for (i, s) in study.systems.iter().enumerate() {
            self.tx.execute(
                "INSERT INTO study_systems (study_id, position, name) VALUES (?1, ?2, ?3)",
                params![study_id, i as i64, s],
            )?;
        }
        let mut query_ids = Vec::with_capacity(study.queries.len());
        for (i, q) in study.queries.iter().enumerate() {
            self.tx.execute(
                "INSERT INTO study_queries (study_id, position, image, domain, item_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![study_id, i as i64, q.image, q.domain.as_str(), q.item_id],
            )?;
            query_ids.push(self.tx.last_insert_rowid());
        }
        for (si, sheet) in study.sheets.iter().enumerate() {
            let (Some(query_id), Some(system)) =
                (query_ids.get(sheet.query), study.systems.get(sheet.system))
            else {
                return Err(Error::Invalid(
                    "a sheet names a query or system the study does not have".into(),
                ));
            };
            self.tx.execute(
                "INSERT INTO sheets (study_id, query_id, system) VALUES (?1, ?2, ?3)",
                params![study_id, query_id, system],
            )?;
            let sheet_id = self.tx.last_insert_rowid();
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO sheet_items (sheet_id, rank, item_id, image) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (rank, item) in sheet.items.iter().enumerate() {
                stmt.execute(params![sheet_id, rank as i64 + 1, item.item_id, item.image])?;
            }
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO sheet_machine_counts (sheet_id, criterion, marks) VALUES (?1, ?2, ?3)",
            )?;
            for m in machine.get(si).into_iter().flatten() {
                stmt.execute(params![sheet_id, m.criterion, join_marks(&m.marks)])?;
            }
        }
        Ok(study_id)
    }

    /// Stores one answer, replacing an earlier one for the same sheet, scorer and criterion.
    pub fn upsert_answer(&self, a: &Answer) -> Result<()> {
        let marks = a.marks.as_deref().map(join_marks);
        self.tx
            .prepare_cached(
                "INSERT INTO scores (sheet_id, scorer, criterion, hits, marks, given_at, prefill) \
                 VALUES (?1, ?2, ?3, ?4, ?5, \
                 coalesce(?6, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?7) \
                 ON CONFLICT (sheet_id, scorer, criterion) DO UPDATE SET \
                 hits = excluded.hits, marks = excluded.marks, given_at = excluded.given_at, \
                 prefill = excluded.prefill",
            )?
            .execute(params![
                a.sheet_id,
                a.scorer,
                a.criterion,
                a.hits,
                marks,
                Some(a.given_at.as_str()).filter(|s| !s.is_empty()),
                a.prefill.as_str(),
            ])?;
        Ok(())
    }

    /// Removes the answer of `scorer` on `sheet_id` for `criterion`, if there is one (an
    /// answer taken back where none came before it).
    pub fn delete_answer(&self, sheet_id: i64, scorer: &str, criterion: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "DELETE FROM scores WHERE sheet_id = ?1 AND scorer = ?2 AND criterion = ?3",
            )?
            .execute(params![sheet_id, scorer, criterion])?;
        Ok(())
    }

    /// Remembers where `scorer` is in `study`: the sheet (in their own order) and criterion.
    pub fn set_scorer_position(
        &self,
        study_id: i64,
        scorer: &str,
        sheet_pos: usize,
        criterion: usize,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO scorer_positions (study_id, scorer, sheet_pos, criterion) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (study_id, scorer) DO UPDATE SET \
                 sheet_pos = excluded.sheet_pos, criterion = excluded.criterion",
            )?
            .execute(params![
                study_id,
                scorer,
                sheet_pos as i64,
                criterion as i64
            ])?;
        Ok(())
    }
}

impl Store {
    /// Opens another library's database read-only (to merge its scores): nothing in it is
    /// changed, not even its schema. One without study tables, or from a newer program, is
    /// refused by name.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| Error::file(path, format!("cannot open the database: {e}")))?;
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| Error::file(path, format!("not a Vitrine database: {e}")))?;
        if version < STUDIES_SCHEMA {
            return Err(Error::file(
                path,
                "this database holds no studies (it was made before studies existed)",
            ));
        }
        if version as usize > super::migrations::MIGRATIONS.len() {
            return Err(Error::file(
                path,
                format!("schema version {version} is newer than this program; use a newer Vitrine"),
            ));
        }
        Ok(Store { conn })
    }

    /// The names of every study, oldest first.
    pub fn study_names(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT name FROM studies ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The study called `name`, with its criteria, systems, queries and frozen sheets.
    pub fn study(&self, name: &str) -> Result<Option<Study>> {
        let schema = self.schema_version()?;
        let explain_column = if schema >= EXPLAIN_SCHEMA {
            "show_explanations"
        } else {
            "0"
        };
        let head = self
            .conn
            .query_row(
                &format!(
                    "SELECT id, name, goal, k, seed, created_at, {explain_column} FROM studies \
                     WHERE name = ?1"
                ),
                [name],
                |r| {
                    Ok((
                        (
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ),
                        (
                            r.get::<_, u32>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, bool>(6)?,
                        ),
                    ))
                },
            )
            .optional()?;
        let Some(((id, name, goal), (k, seed, created_at, show_explanations))) = head else {
            return Ok(None);
        };
        let prefill_schema = schema >= PREFILL_SCHEMA;
        let objective_column = if prefill_schema { "objective" } else { "NULL" };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT name, description, weight, direction, {objective_column} FROM study_criteria \
             WHERE study_id = ?1 ORDER BY position"
        ))?;
        let criteria = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(
                |(name, description, weight, direction, objective)| Criterion {
                    name,
                    description,
                    weight,
                    direction: Direction::parse(&direction).unwrap_or(Direction::More),
                    objective: objective.and_then(|o| ObjectiveRule::parse(&o).ok()),
                },
            )
            .collect();
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM study_systems WHERE study_id = ?1 ORDER BY position")?;
        let systems = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT id, image, domain, item_id FROM study_queries WHERE study_id = ?1 \
             ORDER BY position",
        )?;
        let queries: Vec<StudyQuery> = stmt
            .query_map([id], |r| {
                let domain: String = r.get(2)?;
                Ok(StudyQuery {
                    id: r.get(0)?,
                    image: r.get(1)?,
                    domain: if domain == "street" {
                        Domain::Street
                    } else {
                        Domain::Shop
                    },
                    item_id: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let query_pos: HashMap<i64, usize> =
            queries.iter().enumerate().map(|(i, q)| (q.id, i)).collect();
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.query_id, s.system, i.item_id, i.image FROM sheets s \
             JOIN sheet_items i ON i.sheet_id = s.id WHERE s.study_id = ?1 \
             ORDER BY s.id, i.rank",
        )?;
        let mut sheets: Vec<Sheet> = Vec::new();
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                SheetItem {
                    item_id: r.get(3)?,
                    image: r.get(4)?,
                },
            ))
        })?;
        for row in rows {
            let (sheet_id, query_id, system, item) = row?;
            match sheets.last_mut() {
                Some(last) if last.id == sheet_id => last.items.push(item),
                _ => sheets.push(Sheet {
                    id: sheet_id,
                    query: query_pos.get(&query_id).copied().unwrap_or(0),
                    system,
                    items: vec![item],
                    machine: Vec::new(),
                }),
            }
        }
        if prefill_schema {
            let mut stmt = self.conn.prepare(
                "SELECT m.sheet_id, m.criterion, m.marks FROM sheet_machine_counts m \
                 JOIN sheets s ON s.id = m.sheet_id WHERE s.study_id = ?1 \
                 ORDER BY m.sheet_id, m.criterion",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    MachineCount {
                        criterion: r.get(1)?,
                        marks: parse_marks(&r.get::<_, String>(2)?),
                    },
                ))
            })?;
            let position: HashMap<i64, usize> =
                sheets.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
            for row in rows {
                let (sheet_id, count) = row?;
                if let Some(&i) = position.get(&sheet_id) {
                    sheets[i].machine.push(count);
                }
            }
        }
        Ok(Some(Study {
            id,
            name,
            goal,
            k,
            seed: seed as u64,
            created_at,
            criteria,
            systems,
            queries,
            sheets,
            show_explanations,
        }))
    }

    /// Every answer given in the study `study_id`, by sheet, scorer and criterion.
    pub fn study_answers(&self, study_id: i64) -> Result<Vec<Answer>> {
        let prefill_column = if self.schema_version()? >= PREFILL_SCHEMA {
            "a.prefill"
        } else {
            "'none'"
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT a.sheet_id, a.scorer, a.criterion, a.hits, a.marks, a.given_at, \
             {prefill_column} FROM scores a JOIN sheets s ON s.id = a.sheet_id \
             WHERE s.study_id = ?1 ORDER BY a.sheet_id, a.scorer, a.criterion"
        ))?;
        let rows = stmt.query_map([study_id], |r| {
            let marks: Option<String> = r.get(4)?;
            Ok(Answer {
                sheet_id: r.get(0)?,
                scorer: r.get(1)?,
                criterion: r.get(2)?,
                hits: r.get(3)?,
                marks: marks.map(|m| parse_marks(&m)),
                given_at: r.get(5)?,
                prefill: Prefill::parse(&r.get::<_, String>(6)?).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The answer of `scorer` on `sheet_id` for `criterion`, if given.
    pub fn answer(&self, sheet_id: i64, scorer: &str, criterion: &str) -> Result<Option<Answer>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT hits, marks, given_at, prefill FROM scores \
                 WHERE sheet_id = ?1 AND scorer = ?2 AND criterion = ?3",
            )?
            .query_row(params![sheet_id, scorer, criterion], |r| {
                let marks: Option<String> = r.get(1)?;
                Ok(Answer {
                    sheet_id,
                    scorer: scorer.to_owned(),
                    criterion: criterion.to_owned(),
                    hits: r.get(0)?,
                    marks: marks.map(|m| parse_marks(&m)),
                    given_at: r.get(2)?,
                    prefill: Prefill::parse(&r.get::<_, String>(3)?).unwrap_or_default(),
                })
            })
            .optional()?)
    }

    /// Where `scorer` stopped in the study: (sheet position in their order, criterion).
    pub fn scorer_position(&self, study_id: i64, scorer: &str) -> Result<Option<(usize, usize)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT sheet_pos, criterion FROM scorer_positions \
                 WHERE study_id = ?1 AND scorer = ?2",
            )?
            .query_row(params![study_id, scorer], |r| {
                Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize))
            })
            .optional()?)
    }
}

/// Marked ranks as stored: `"1,3,7"` (empty for none).
fn join_marks(marks: &[u32]) -> String {
    marks
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Marked ranks as stored: `"1,3,7"`.
fn parse_marks(stored: &str) -> Vec<u32> {
    stored
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database as Vitrine wrote it before pre-fills (schema 2): one study, one answer.
    fn schema_two_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for sql in &super::super::migrations::MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO studies (id, name, k, seed) VALUES (1, 'old', 10, 1);
             INSERT INTO study_criteria (study_id, position, name, weight, direction)
                 VALUES (1, 0, 'category', 1.0, 'more');
             INSERT INTO study_systems (study_id, position, name) VALUES (1, 0, 'a');
             INSERT INTO study_queries (id, study_id, position, image, domain, item_id)
                 VALUES (1, 1, 0, 'q.png', 'shop', NULL);
             INSERT INTO sheets (id, study_id, query_id, system) VALUES (7, 1, 1, 'a');
             INSERT INTO sheet_items (sheet_id, rank, item_id, image) VALUES (7, 1, 3, 'i.png');
             INSERT INTO scores (sheet_id, scorer, criterion, hits) VALUES (7, 'ann', 'category', 1);",
        )
        .unwrap();
    }

    #[test]
    fn a_database_from_before_prefills_reads_as_none_read_only_and_after_migrating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        schema_two_database(&path);
        let check = |store: &Store| {
            let study = store.study("old").unwrap().unwrap();
            assert!(!study.show_explanations);
            assert_eq!(study.criteria[0].objective, None);
            assert!(study.sheets[0].machine.is_empty());
            let answers = store.study_answers(study.id).unwrap();
            assert_eq!(answers.len(), 1);
            assert_eq!(answers[0].prefill, Prefill::None);
        };
        // Read-only (a merge source) leaves its schema alone.
        check(&Store::open_read_only(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap() as usize,
            super::super::migrations::MIGRATIONS.len()
        );
        check(&store);
        assert_eq!(
            store.answer(7, "ann", "category").unwrap().unwrap().prefill,
            Prefill::None
        );
    }

    /// A database as Vitrine wrote it before explanations (schema 3): its study reads as
    /// "no explanations", read-only and after migrating; a new study keeps what it says.
    #[test]
    fn a_database_from_before_explanations_reads_as_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("three.sqlite");
        schema_two_database(&path);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(super::super::migrations::MIGRATIONS[2])
                .unwrap();
            conn.execute_batch("PRAGMA user_version = 3;").unwrap();
        }
        let read_only = Store::open_read_only(&path).unwrap();
        assert_eq!(read_only.schema_version().unwrap(), 3);
        assert!(!read_only.study("old").unwrap().unwrap().show_explanations);
        drop(read_only);
        let mut store = Store::open(&path).unwrap();
        assert!(!store.study("old").unwrap().unwrap().show_explanations);
        let new = crate::study::NewStudy {
            name: "shown".into(),
            goal: String::new(),
            k: 1,
            seed: 1,
            criteria: vec![Criterion::new("category", "")],
            systems: vec!["a".into()],
            queries: Vec::new(),
            sheets: Vec::new(),
            show_explanations: true,
        };
        store.write(|w| w.insert_study(&new, &[])).unwrap();
        assert!(store.study("shown").unwrap().unwrap().show_explanations);
    }
}
