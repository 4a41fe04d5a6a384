//! Trained systems in the store: one row per system in `DIR/systems/<name>/` (ARCHITECTURE.md §2,
//! §4). The row is what lists and reports need without opening the weights (backbone, sizes,
//! metrics); the folder holds the model itself. The built-in `imagenet-lite0` has no row.

use super::{Store, Writer};
use crate::error::Result;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

/// A row of the `systems` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemRow {
    pub name: String,
    pub backbone: String,
    pub embedding_dim: u64,
    pub label_count: u64,
    /// When the row was first written (SQLite `datetime('now')`, UTC).
    pub created_at: String,
    /// Validation metrics as a JSON object (`{}` when none).
    pub metrics_json: String,
}

impl<'a> Writer<'a> {
    /// Stores a system's row, replacing the one of the same name (its `created_at` is kept).
    pub fn upsert_system(
        &self,
        name: &str,
        backbone: &str,
        embedding_dim: u64,
        label_count: u64,
        metrics_json: &str,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO systems (name, backbone, embedding_dim, label_count, metrics_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (name) DO UPDATE SET backbone = excluded.backbone, \
                 embedding_dim = excluded.embedding_dim, label_count = excluded.label_count, \
                 metrics_json = excluded.metrics_json",
            )?
            .execute(params![
                name,
                backbone,
                embedding_dim,
                label_count,
                metrics_json
            ])?;
        Ok(())
    }
}

impl Store {
    /// Every trained system, by name.
    pub fn systems(&self) -> Result<Vec<SystemRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SYSTEM_COLUMNS} FROM systems ORDER BY name"
        ))?;
        let rows = stmt.query_map([], system_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The trained system called `name`, if there is one.
    pub fn system(&self, name: &str) -> Result<Option<SystemRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {SYSTEM_COLUMNS} FROM systems WHERE name = ?1"
            ))?
            .query_row([name], system_from_row)
            .optional()?)
    }
}

const SYSTEM_COLUMNS: &str = "name, backbone, embedding_dim, label_count, created_at, metrics_json";

fn system_from_row(r: &Row<'_>) -> rusqlite::Result<SystemRow> {
    Ok(SystemRow {
        name: r.get(0)?,
        backbone: r.get(1)?,
        embedding_dim: r.get(2)?,
        label_count: r.get(3)?,
        created_at: r.get(4)?,
        metrics_json: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_upsert_by_name_and_list_in_order() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .write(|w| {
                w.upsert_system("zeta", "efficientnet-lite0", 512, 80, "{}")?;
                w.upsert_system("alpha", "resnet50", 256, 12, "{\"iou\":0.5}")
            })
            .unwrap();
        store
            .write(|w| w.upsert_system("zeta", "efficientnet-lite0", 128, 81, "{}"))
            .unwrap();
        let rows = store.systems().unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!((rows[1].embedding_dim, rows[1].label_count), (128, 81));
        assert_eq!(rows[0].metrics_json, "{\"iou\":0.5}");
        assert!(store.system("nope").unwrap().is_none());
        assert_eq!(store.counts().unwrap().systems, 2);
    }
}
