//! The one way a CSV file's columns are found by name (importers, held-out query sets,
//! study criteria, scorers' answers and raw-score merges): case-insensitive, and a header
//! that lacks a required column is an error at line 1 that names what is missing and lists
//! the columns that are there, so a user sees at once which file to fix and how.

use crate::error::{Error, Result};
use std::path::Path;

/// The position of the column called `name` (ASCII case-insensitive).
pub fn column<S: AsRef<str>>(header: &[S], name: &str) -> Option<usize> {
    header
        .iter()
        .position(|h| h.as_ref().eq_ignore_ascii_case(name))
}

/// The positions of the `required` columns, in their order, or the error naming those the
/// header of `path` lacks.
pub fn required_columns<S: AsRef<str>>(
    path: &Path,
    header: &[S],
    required: &[&str],
) -> Result<Vec<usize>> {
    let found: Vec<Option<usize>> = required.iter().map(|r| column(header, r)).collect();
    if let Some(columns) = found.iter().copied().collect::<Option<Vec<usize>>>() {
        return Ok(columns);
    }
    let missing: Vec<&str> = required
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(r, _)| *r)
        .collect();
    let present: Vec<&str> = header.iter().map(AsRef::as_ref).collect();
    Err(Error::format(
        path,
        1,
        format!(
            "the header lacks the required column{} {}; the columns found are: {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if present.is_empty() {
                "(none)".to_owned()
            } else {
                present.join(", ")
            }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_case_and_a_lack_is_named() {
        let header = ["Name", "weight", "direction"];
        assert_eq!(column(&header, "name"), Some(0));
        assert_eq!(column(&header, "description"), None);
        let path = Path::new("criteria.csv");
        assert_eq!(
            required_columns(path, &header, &["direction", "NAME"]).unwrap(),
            [2, 0]
        );
        let err = required_columns(path, &header, &["name", "hits", "scorer"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("criteria.csv"), "{err}");
        assert!(err.starts_with("criteria.csv:1: "), "{err}");
        assert!(
            err.contains("lacks the required columns hits, scorer; the columns found are: Name, weight, direction"),
            "{err}"
        );
    }
}
