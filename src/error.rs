//! The library's one error type. Every variant names the file (and line) it is about where
//! there is one, so a message printed once by the CLI or shown once by the GUI is enough for
//! a person to find and fix the problem.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the Vitrine library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read, written or created.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An image file is missing, empty, corrupt, truncated or too large to decode safely.
    #[error("{}: {reason}", path.display())]
    Image { path: PathBuf, reason: String },
    /// A data file (CSV, JSON lines, a list file) is malformed at a given line.
    #[error("{}:{line}: {reason}", path.display())]
    Format {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// A data file is malformed as a whole (wrong header, missing columns).
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// The SQLite store failed.
    #[error("library database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The library folder is not usable (not writable, newer schema than this program).
    #[error("library {}: {reason}", path.display())]
    Library { path: PathBuf, reason: String },
    /// A request that does not make sense (an unknown system, a bad argument value).
    #[error("{0}")]
    Invalid(String),
    /// A model could not be built or run (Candle's message: a shape mismatch, a tensor
    /// missing from a weights file, a device error). Errors about a file name it.
    #[error("model: {0}")]
    Model(String),
    /// A job was cancelled by its user; nothing it had not yet committed was kept.
    #[error("cancelled")]
    Cancelled,
}

/// Candle errors become [`Error::Model`] where model code meets the rest of the library.
impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Model(e.to_string())
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An image problem about `path`.
    pub fn image(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Image {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A malformed line of a data file.
    pub fn format(path: impl AsRef<Path>, line: u64, reason: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    /// A data file malformed as a whole.
    pub fn file(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::File {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }
}
