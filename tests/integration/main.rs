//! Integration tests, one binary: the real `vitrine` CLI in temporary libraries, and the
//! model checked against reference outputs.

// Helpers outside #[test] functions may unwrap too: a failure here is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod common;
mod dial;
mod explain;
mod fig5;
mod fuzz_corpus;
mod harden;
mod index;
mod model;
mod ohs;
mod personalize;
mod photos;
mod search;
mod table1;
mod train;
