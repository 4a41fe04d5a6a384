//! `vitrine experiment fig5` (work in progress on this branch).

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Fig5Args {}

pub fn run(_dir: &Path, _device: &str, _args: &Fig5Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("vitrine experiment fig5 is not built yet")
}
