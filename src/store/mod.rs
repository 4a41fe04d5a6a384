//! The SQLite store: one `Store` owns the connection to `vitrine.sqlite`.
//!
//! WAL journaling (readers never wait for a writer), foreign keys on, and add-only migrations
//! applied in one transaction at open. Reads are methods on [`Store`]; bulk writes go through
//! [`Store::write`], which hands a [`Writer`] to a closure and commits only if the closure
//! succeeds, so an import that fails half-way leaves the library exactly as it was.

mod items;
mod migrations;
mod studies;
mod systems;
mod users;

pub use items::{CatalogCounts, ItemFilter, ItemImage, LabelCount};
pub use systems::SystemRow;
pub use users::{Rating, UserId, UserSummary};

use crate::error::{Error, Result};
use rusqlite::{Connection, Transaction};
use std::path::Path;

/// The library's database.
pub struct Store {
    conn: Connection,
}

/// Writes inside one transaction; see [`Store::write`].
pub struct Writer<'a> {
    tx: Transaction<'a>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).map_err(|e| Error::Library {
            path: path.to_path_buf(),
            reason: format!("cannot open the database: {e}"),
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Store::init(conn, path)
    }

    /// A fresh database in memory (tests, scratch work).
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn init(mut conn: Connection, path: &Path) -> Result<Store> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, path)?;
        Ok(Store { conn })
    }

    /// The schema version (the number of migrations applied).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let writer = Writer { tx };
        let value = f(&writer)?;
        writer.tx.commit()?;
        Ok(value)
    }

    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Applies the migrations this database lacks, all in one transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > migrations::MIGRATIONS.len() {
        return Err(Error::Library {
            path: path.to_path_buf(),
            reason: format!(
                "the database has schema version {version}, newer than this program knows ({}); \
                 use a newer Vitrine",
                migrations::MIGRATIONS.len()
            ),
        });
    }
    if version == migrations::MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for sql in &migrations::MIGRATIONS[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", migrations::MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_set_the_version() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(
            store.schema_version().unwrap() as usize,
            migrations::MIGRATIONS.len()
        );
        let tables: Vec<String> = store
            .conn()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for t in [
            "item_labels",
            "items",
            "labels",
            "ratings",
            "street_queries",
            "systems",
            "users",
        ] {
            assert!(tables.iter().any(|n| n == t), "missing table {t}");
        }
    }

    #[test]
    fn reopening_a_file_keeps_data_and_does_not_migrate_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        {
            let mut store = Store::open(&path).unwrap();
            store
                .write(|w| w.insert_user("u1", crate::catalog::Source::Demo))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.counts().unwrap().users, 1);
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_message() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        let err = migrate(&mut conn, Path::new("x.sqlite")).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn foreign_keys_are_enforced() {
        let mut store = Store::open_in_memory().unwrap();
        let err = store.write(|w| w.insert_rating(1, 42, 5, 0));
        assert!(err.is_err());
    }

    #[test]
    fn a_failed_write_rolls_back_everything() {
        let mut store = Store::open_in_memory().unwrap();
        let result: Result<()> = store.write(|w| {
            w.insert_user("a", crate::catalog::Source::Demo)?;
            Err(Error::Invalid("boom".into()))
        });
        assert!(result.is_err());
        assert_eq!(store.counts().unwrap().users, 0);
    }
}
