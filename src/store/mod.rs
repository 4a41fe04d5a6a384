//! The SQLite store: one `Store` owns the connection to `vitrine.sqlite`.
//!
//! WAL journaling (readers never wait for a writer), foreign keys on, and add-only migrations
//! applied in one transaction at open. Reads are methods on [`Store`]; bulk writes go through
//! [`Store::write`], which hands a [`Writer`] to a closure and commits only if the closure
//! succeeds, so an import that fails half-way leaves the library exactly as it was.
//!
//! # Several processes on one library
//! The GUI and the CLI (or two CLIs) may use one library at once:
//! - Opening is serialised by an advisory lock on `.vitrine.sqlite.open-lock` beside the
//!   database, held while the file is created and migrated. Migrations also run in a
//!   `BEGIN IMMEDIATE` transaction that reads `user_version` again, so two first opens never
//!   both create the tables.
//! - The database file is only ever created under that lock and is never empty afterwards, so
//!   an existing `vitrine.sqlite` of 0 bytes is damage (a truncated copy, a full disk) and is
//!   refused instead of silently opening as an empty library.
//! - Every write transaction begins `IMMEDIATE` (it takes the write lock at once, so it never
//!   fails half-way on a lock), waits for another writer up to [`BUSY_TIMEOUT`], and is
//!   retried [`BUSY_RETRIES`] times after that. Long writers (imports) commit in chunks, so a
//!   scorer's answer waits milliseconds.
//!
//! # Read-only libraries
//! [`Store::open_read_only_library`] opens a library whose folder or database file is not
//! writable (a shared drive, a copy on a read-only medium): read-only, and `immutable` (no
//! lock or WAL files created) when no write-ahead log is pending.

mod items;
mod migrations;
mod studies;
mod systems;
mod users;

pub use items::{CatalogCounts, ItemFilter, ItemImage, LabelCount};
pub use systems::SystemRow;
pub use users::{Rating, UserId, UserSummary};

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a write waits for another process's write to finish before it retries.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times a write that found the database busy for [`BUSY_TIMEOUT`] tries again.
pub const BUSY_RETRIES: u32 = 3;

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
    /// An existing file of 0 bytes is refused (see the module docs).
    pub fn open(path: &Path) -> Result<Store> {
        let library_err = |reason: String| Error::Library {
            path: path.to_path_buf(),
            reason,
        };
        // Held until the schema is up to date. A folder where the lock file cannot be made
        // cannot hold a writable database either; SQLite's own error then says so.
        let lock_path = open_lock_path(path);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .ok();
        if let Some(lock) = &lock {
            lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() == 0 => {
                return Err(library_err(format!(
                    "the database {} is empty (0 bytes): it was truncated or never finished. \
                     Restore it from a backup, or delete it to start an empty library",
                    path.display()
                )));
            }
            _ => {}
        }
        let conn = Connection::open(path)
            .map_err(|e| library_err(format!("cannot open the database: {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let store = Store::init(conn, path);
        drop(lock);
        store
    }

    /// Opens the database of a library that cannot be written: nothing in it or beside it is
    /// changed. With no pending write-ahead log it is opened `immutable` (SQLite then takes
    /// no locks and makes no files); a schema older than this program's is refused, since it
    /// cannot be upgraded without writing.
    pub fn open_read_only_library(path: &Path) -> Result<Store> {
        let library_err = |reason: String| Error::Library {
            path: path.to_path_buf(),
            reason,
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() == 0 => {
                return Err(library_err(format!(
                    "the database {} is empty (0 bytes): it was truncated or never finished",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) => return Err(Error::io(path, e)),
        }
        let wal_pending = {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            std::fs::metadata(std::path::PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
        };
        let uri = format!(
            "file:{}?{}",
            uri_path(path),
            if wal_pending {
                "mode=ro"
            } else {
                "immutable=1"
            }
        );
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&uri, flags)
            .map_err(|e| library_err(format!("cannot open the database read-only: {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| library_err(format!("cannot read the database: {e}")))?;
        let current = migrations::MIGRATIONS.len();
        if version != current {
            return Err(library_err(format!(
                "the database has schema version {version} and this program {current}; a \
                 read-only library cannot be {}",
                if version < current {
                    "upgraded: open it once with write access"
                } else {
                    "read by an older Vitrine: use a newer one"
                }
            )));
        }
        Ok(Store { conn })
    }

    /// A fresh database in memory (tests, scratch work).
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn init(conn: Connection, path: &Path) -> Result<Store> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&conn, path)?;
        Ok(Store { conn })
    }

    /// The schema version (the number of migrations applied).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs `f` in one `IMMEDIATE` transaction: committed if it returns `Ok`, rolled back
    /// otherwise. Waits for another process's write (see the module docs).
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = begin_immediate(&self.conn)?;
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

/// The lock file that serialises opening the database at `path` (see the module docs).
pub fn open_lock_path(path: &Path) -> std::path::PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".open-lock");
    path.with_file_name(name)
}

/// Whether SQLite said the database is locked by another connection.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// `BEGIN IMMEDIATE`, retried [`BUSY_RETRIES`] times while another process writes. (The
/// connection is never inside another transaction here: `Store::write` holds it mutably.)
fn begin_immediate(conn: &Connection) -> Result<Transaction<'_>> {
    let mut retries = 0;
    let tx = loop {
        match Transaction::new_unchecked(conn, TransactionBehavior::Immediate) {
            Err(e) if is_busy(&e) && retries < BUSY_RETRIES => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => break other,
        }
    };
    tx.map_err(|e| {
        if is_busy(&e) {
            Error::Invalid(format!(
                "the library is busy: another program kept writing to it for more than {} s \
                 ({e})",
                BUSY_TIMEOUT.as_secs() * u64::from(BUSY_RETRIES + 1)
            ))
        } else {
            Error::Sqlite(e)
        }
    })
}

/// A path as the path part of an SQLite `file:` URI: `?`, `#` and `%` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// Applies the migrations this database lacks, all in one `IMMEDIATE` transaction that reads
/// the version again once it holds the write lock (another process may have just migrated).
fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let too_new = |version: usize| Error::Library {
        path: path.to_path_buf(),
        reason: format!(
            "the database has schema version {version}, newer than this program knows ({}); \
             use a newer Vitrine",
            migrations::MIGRATIONS.len()
        ),
    };
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > migrations::MIGRATIONS.len() {
        return Err(too_new(version));
    }
    if version == migrations::MIGRATIONS.len() {
        return Ok(());
    }
    let tx = begin_immediate(conn)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > migrations::MIGRATIONS.len() {
        return Err(too_new(version));
    }
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
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        let err = migrate(&conn, Path::new("x.sqlite")).unwrap_err();
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
