//! A Vitrine library on disk: one folder holding the SQLite store and the files it refers to.
//!
//! ```text
//! DIR/vitrine.sqlite     catalogue, labels, users, ratings, systems, studies and scores
//! DIR/images/catalog/    demo catalogue images     DIR/images/street/  demo street queries
//! DIR/thumbs/            cached thumbnails (regenerated when missing)
//! DIR/systems/<name>/    trained systems           DIR/index/<name>.emb  embeddings
//! DIR/train/<name>/      training runs (checkpoints, feature caches)
//! DIR/experiments/       the last report of each `vitrine experiment` (table1.json, fig5.json)
//! ```
//!
//! A library can be copied or moved as a whole: paths inside it are stored relative to it,
//! and indexes recognise images by their content (see [`crate::index::emb_file`]). One that
//! cannot be written still serves the commands that only read ([`Library::open_for_reading`]).

use crate::error::{Error, Result};
use crate::store::Store;
use std::path::{Path, PathBuf};

/// The database's file name in a library folder.
pub const DATABASE_FILE: &str = "vitrine.sqlite";

/// The folders the library manages; nothing but Vitrine writes in them.
const MANAGED_FOLDERS: [&str; 6] = [
    "images",
    "thumbs",
    "systems",
    "index",
    "train",
    "experiments",
];

/// Whether a library may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// The folder or the database cannot be written; see [`Library::open_for_reading`].
    ReadOnly,
}

/// An open library: its folder and its store.
pub struct Library {
    root: PathBuf,
    pub store: Store,
    access: Access,
}

impl Library {
    /// The default library folder: the platform data dir (`~/.local/share/vitrine/default`
    /// on Linux).
    pub fn default_dir() -> Result<PathBuf> {
        directories::ProjectDirs::from("org", "vitrine", "vitrine")
            .map(|d| d.data_dir().join("default"))
            .ok_or_else(|| {
                Error::Invalid(
                    "no home folder to put the default library in; pass --library DIR".into(),
                )
            })
    }

    /// Opens the library at `root`, creating the folder layout and the database if needed,
    /// and removes what killed writes left behind (see [`clean_partial_files`]). A folder
    /// that cannot be created or written is an error naming it.
    pub fn open(root: &Path) -> Result<Library> {
        for dir in [
            root.to_path_buf(),
            root.join("images/catalog"),
            root.join("images/street"),
            root.join("thumbs"),
            root.join("systems"),
            root.join("index"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| Error::Library {
                path: dir.clone(),
                reason: format!("cannot create the folder: {e}"),
            })?;
        }
        check_writable(root)?;
        let store = Store::open(&root.join(DATABASE_FILE))?;
        clean_partial_files(root);
        Ok(Library {
            root: root.to_path_buf(),
            store,
            access: Access::ReadWrite,
        })
    }

    /// Opens the library at `root` for a command that only reads (`catalog`, `systems`,
    /// `query`, `ohs report`): as [`Library::open`] does, or read-only when the folder or
    /// its database is not writable (no write permission bits, or a read-only medium).
    pub fn open_for_reading(root: &Path) -> Result<Library> {
        if cannot_write(root) {
            Library::open_read_only(root)
        } else {
            Library::open(root)
        }
    }

    /// Opens an existing library without changing anything in its folder.
    pub fn open_read_only(root: &Path) -> Result<Library> {
        let db = root.join(DATABASE_FILE);
        if !db.is_file() {
            return Err(Error::Library {
                path: root.to_path_buf(),
                reason: format!("no library here ({DATABASE_FILE} is missing)"),
            });
        }
        Ok(Library {
            root: root.to_path_buf(),
            store: Store::open_read_only_library(&db)?,
            access: Access::ReadOnly,
        })
    }

    /// Whether this library may be changed.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The library folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the demo catalogue's shop images go.
    pub fn catalog_images_dir(&self) -> PathBuf {
        self.root.join("images/catalog")
    }

    /// Where the demo's street query images go.
    pub fn street_images_dir(&self) -> PathBuf {
        self.root.join("images/street")
    }

    /// The thumbnail cache.
    pub fn thumbs_dir(&self) -> PathBuf {
        self.root.join("thumbs")
    }

    /// Where the cached thumbnail of an image lives (named by a hash of its stored path, so
    /// the demo generator and importers can write it before items have ids).
    pub fn thumb_path(&self, stored_image: &str) -> PathBuf {
        thumb_path(&self.root, stored_image)
    }

    /// An image path as stored in the database, made absolute.
    pub fn resolve(&self, stored: &str) -> PathBuf {
        resolve(&self.root, stored)
    }

    /// `path` as it is stored: relative to the library root when it lies inside it.
    pub fn stored_path(&self, path: &Path) -> String {
        stored_path(&self.root, path)
    }

    /// Refuses `out` as a file to write an export to when it is one of the library's own
    /// files: the database (or its WAL, shared-memory and lock files), or anything in a
    /// folder the library manages. Symbolic links are followed, so a link to the database is
    /// refused too.
    pub fn check_output_path(&self, out: &Path) -> Result<()> {
        check_output_path(&self.root, out)
    }
}

/// [`Library::check_output_path`] for the library at `root`, before it is opened.
pub fn check_output_path(root: &Path, out: &Path) -> Result<()> {
    let Some(own) = own_file(root, out) else {
        return Ok(());
    };
    Err(Error::Invalid(format!(
        "{} is {own}; write the export somewhere else",
        out.display()
    )))
}

/// What `out` is in the library at `root`, if it is one of its own files.
fn own_file(root: &Path, out: &Path) -> Option<String> {
    let root = std::fs::canonicalize(root).ok()?;
    let out = canonical_as_far_as_it_exists(out)?;
    let inside = out.strip_prefix(&root).ok()?;
    let mut parts = inside.components();
    let first = parts.next()?.as_os_str().to_string_lossy().into_owned();
    let db_files = [
        DATABASE_FILE.to_string(),
        format!("{DATABASE_FILE}-wal"),
        format!("{DATABASE_FILE}-shm"),
        format!("{DATABASE_FILE}-journal"),
    ];
    let lock = crate::store::open_lock_path(&root.join(DATABASE_FILE));
    if db_files.contains(&first) || lock.file_name().is_some_and(|l| *l == *first) {
        return Some("the library's database".into());
    }
    if parts.next().is_some() && MANAGED_FOLDERS.contains(&first.as_str()) {
        return Some(format!("inside the library's {first}/ folder"));
    }
    None
}

/// `path` with links resolved: the file itself when it exists, else its nearest existing
/// folder with the rest of the names added.
fn canonical_as_far_as_it_exists(path: &Path) -> Option<PathBuf> {
    let mut missing = Vec::new();
    let mut at = path;
    loop {
        if let Ok(found) = std::fs::canonicalize(at) {
            return Some(missing.iter().rev().fold(found, |p, name| p.join(name)));
        }
        missing.push(at.file_name()?);
        at = match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
    }
}

/// Whether the library at `root` exists but cannot be written: the folder or the database
/// has no write permission bits, or a write probe fails (a read-only medium).
fn cannot_write(root: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(root) else {
        return false;
    };
    let db = root.join(DATABASE_FILE);
    meta.permissions().readonly()
        || std::fs::metadata(&db).is_ok_and(|m| m.permissions().readonly())
        || check_writable(root).is_err()
}

/// Removes the temporary files (`.NAME.<pid>.partial`) that writes killed before their
/// rename left in the library's index, system and training-run folders, when the process
/// that wrote them is gone; returns how many were removed. Best effort: a file that cannot
/// be removed stays for the next start.
pub fn clean_partial_files(root: &Path) -> usize {
    let mut folders = vec![root.join("index")];
    for parent in ["systems", "train"] {
        if let Ok(entries) = std::fs::read_dir(root.join(parent)) {
            folders.extend(
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    let mut removed = 0;
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some(pid) = partial_file_pid(&name.to_string_lossy()) else {
                continue;
            };
            if pid != std::process::id()
                && !process_alive(pid)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// The writer's process id in a temporary file name `.NAME.<pid>.partial`.
fn partial_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".partial")?;
    let (_, pid) = rest.rsplit_once('.')?;
    pid.parse().ok()
}

/// Whether a process with this id is running (on other systems than Unix: assumed so, and
/// the file stays).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let result = unsafe { libc::kill(pid, 0) };
        result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// `path` as the database stores it: relative to the library `root` when it lies inside it
/// (the inverse of [`resolve`]; safe to call from any thread).
pub fn stored_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// A stored image path made absolute against a library root (safe to call from any thread).
pub fn resolve(root: &Path, stored: &str) -> PathBuf {
    let p = Path::new(stored);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

/// The cached thumbnail path for a stored image path (safe to call from any thread).
pub fn thumb_path(root: &Path, stored_image: &str) -> PathBuf {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in stored_image.as_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    root.join("thumbs").join(format!("{h:016x}.jpg"))
}

fn check_writable(root: &Path) -> Result<()> {
    // A name of its own per process and call: concurrent opens must not remove each other's.
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = root.join(format!(".vitrine-write-test.{}.{n}", std::process::id()));
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| Error::Library {
            path: root.to_path_buf(),
            reason: format!(
                "the folder is not writable ({e}); `catalog`, `systems`, `query` and `ohs \
                 report` still work on a read-only library"
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_the_layout_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        let lib = Library::open(&root).unwrap();
        for sub in [
            "images/catalog",
            "images/street",
            "thumbs",
            "systems",
            "index",
        ] {
            assert!(root.join(sub).is_dir(), "{sub}");
        }
        assert!(root.join("vitrine.sqlite").is_file());
        assert_eq!(lib.stored_path(&root.join("images/a.png")), "images/a.png");
        assert_eq!(lib.resolve("images/a.png"), root.join("images/a.png"));
        assert_eq!(lib.resolve("/abs/b.png"), PathBuf::from("/abs/b.png"));
        drop(lib);
        Library::open(&root).unwrap();
    }

    fn add_user(lib: &mut Library, key: &str) {
        lib.store
            .write(|w| w.insert_user(key, crate::catalog::Source::Demo))
            .unwrap();
    }

    #[test]
    fn a_database_truncated_to_zero_bytes_is_refused_not_opened_empty() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        add_user(&mut Library::open(&root).unwrap(), "ann");
        let db = root.join(DATABASE_FILE);
        std::fs::File::create(&db).unwrap();
        for err in [
            Library::open(&root).err().unwrap(),
            Library::open_read_only(&root).err().unwrap(),
        ] {
            let err = err.to_string();
            assert!(err.contains("is empty (0 bytes)"), "{err}");
            assert!(err.contains(&db.display().to_string()), "{err}");
        }
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");
    }

    #[cfg(unix)]
    #[test]
    fn partial_files_of_dead_writers_are_removed_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        drop(Library::open(&root).unwrap());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let own = std::process::id();
        std::fs::create_dir_all(root.join("systems/s")).unwrap();
        let dead_files = [
            root.join(format!("index/.imagenet-lite0.emb.{dead}.partial")),
            root.join(format!("systems/s/.model.safetensors.{dead}.partial")),
        ];
        let kept_files = [
            root.join(format!("index/.other.emb.{own}.partial")),
            root.join("index/.init.emb.1.partial"),
            root.join("index/notes.partial"),
            root.join("index/kept.emb"),
        ];
        for file in dead_files.iter().chain(&kept_files) {
            std::fs::write(file, b"half").unwrap();
        }
        drop(Library::open(&root).unwrap());
        for file in &dead_files {
            assert!(!file.exists(), "{}", file.display());
        }
        for file in &kept_files {
            assert!(file.exists(), "{}", file.display());
        }
        assert_eq!(partial_file_pid(".a.b.emb.123.partial"), Some(123));
        assert_eq!(partial_file_pid("a.emb.123.partial"), None);
        assert_eq!(partial_file_pid(".a.emb.x1.partial"), None);
    }

    /// `ohs report NAME --csv DIR/vitrine.sqlite` and its kin: refused; ordinary files pass.
    #[test]
    fn exports_onto_the_library_s_own_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        let lib = Library::open(&root).unwrap();
        for own in [
            root.join(DATABASE_FILE),
            root.join("vitrine.sqlite-wal"),
            root.join(".vitrine.sqlite.open-lock"),
            root.join("index/imagenet-lite0.emb"),
            root.join("systems/s/model.safetensors"),
            root.join("images/catalog/a.png"),
            root.join("experiments/fig5.json"),
            root.join("index/../vitrine.sqlite"),
        ] {
            let err = lib.check_output_path(&own).unwrap_err().to_string();
            assert!(err.contains("write the export somewhere else"), "{err}");
        }
        #[cfg(unix)]
        {
            let link = dir.path().join("report.csv");
            std::os::unix::fs::symlink(root.join(DATABASE_FILE), &link).unwrap();
            assert!(lib.check_output_path(&link).is_err());
        }
        for fine in [
            root.join("report.csv"),
            dir.path().join("summary.csv"),
            root.join("index"),
        ] {
            lib.check_output_path(&fine).unwrap();
        }
    }

    /// A library whose folder and database have no write permission: opened read-only (and
    /// immutable: no lock, WAL or shared-memory file appears), reads work, writes fail.
    #[cfg(unix)]
    #[test]
    fn a_library_without_write_permission_opens_read_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        let mut lib = Library::open(&root).unwrap();
        add_user(&mut lib, "ann");
        drop(lib);
        let files = |root: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(root)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let before = files(&root);
        let db = root.join(DATABASE_FILE);
        let modified = std::fs::metadata(&db).unwrap().modified().unwrap();
        let set = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        set(&db, 0o444);
        set(&root, 0o555);
        let result = std::panic::catch_unwind(|| {
            let mut lib = Library::open_for_reading(&root).unwrap();
            assert_eq!(lib.access(), Access::ReadOnly);
            assert_eq!(lib.store.counts().unwrap().users, 1);
            let write = lib
                .store
                .write(|w| w.insert_user("bob", crate::catalog::Source::Demo));
            assert!(write.is_err());
            drop(lib);
            assert_eq!(files(&root), before);
            assert_eq!(
                std::fs::metadata(&db).unwrap().modified().unwrap(),
                modified
            );
        });
        set(&root, 0o755);
        set(&db, 0o644);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
        // Writable again: the ordinary open, which may write.
        let lib = Library::open_for_reading(&root).unwrap();
        assert_eq!(lib.access(), Access::ReadWrite);
    }
}
