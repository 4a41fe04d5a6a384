//! A Vitrine library on disk: one folder holding the SQLite store and the files it refers to.
//!
//! ```text
//! DIR/vitrine.sqlite     catalogue, labels, users, ratings, systems, studies and scores
//! DIR/images/catalog/    demo catalogue images     DIR/images/street/  demo street queries
//! DIR/thumbs/            cached thumbnails (regenerated when missing)
//! DIR/systems/<name>/    trained systems           DIR/index/<name>.emb  embeddings
//! ```

use crate::error::{Error, Result};
use crate::store::Store;
use std::path::{Path, PathBuf};

/// An open library: its folder and its store.
pub struct Library {
    root: PathBuf,
    pub store: Store,
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

    /// Opens the library at `root`, creating the folder layout and the database if needed.
    /// A folder that cannot be created or written is an error naming it.
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
        let store = Store::open(&root.join("vitrine.sqlite"))?;
        Ok(Library {
            root: root.to_path_buf(),
            store,
        })
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
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
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
    let probe = root.join(".vitrine-write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| Error::Library {
            path: root.to_path_buf(),
            reason: format!("the folder is not writable: {e}"),
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
}
