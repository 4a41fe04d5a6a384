//! Integration tests: one binary that runs the real `vitrine` CLI in temporary libraries.

mod cli;
