//! `vitrine experiment table1` (work in progress on this branch).

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Table1Args {}

pub fn run(_dir: &Path, _device: &str, _args: &Table1Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("vitrine experiment table1 is not built yet")
}
