//! Integration tests, one binary: the real `vitrine` CLI in temporary libraries, and the
//! model checked against reference outputs.

mod cli;
mod common;
mod index;
mod model;
mod personalize;
mod search;
