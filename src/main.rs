//! The `vitrine` binary: parses arguments, then hands over to the GUI (no subcommand, or
//! `gui`) or to the CLI. Errors are printed once, here, and give a non-zero exit code.

use clap::Parser;
use std::process::ExitCode;
use vitrine::cli::{Cli, Command};

fn main() -> ExitCode {
    // `vitrine catalog --json | head` should end quietly, as other Unix tools do, rather than
    // panic on a closed pipe. SAFETY: at start-up, before any other thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    vitrine::init_threads();
    let result = match cli.command {
        None | Some(Command::Gui) => run_gui(&cli),
        Some(_) => vitrine::cli::run(&cli),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "gui")]
fn run_gui(cli: &Cli) -> anyhow::Result<ExitCode> {
    if !has_display() {
        eprintln!(
            "vitrine: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the \
             desktop app cannot open.\nUse the command line instead, e.g. `vitrine demo`, \
             `vitrine catalog`; see `vitrine --help`."
        );
        return Ok(ExitCode::from(2));
    }
    vitrine::gui::run(cli.library_dir()?)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "gui"))]
fn run_gui(_cli: &Cli) -> anyhow::Result<ExitCode> {
    eprintln!(
        "vitrine: this build has no desktop app (built without the `gui` feature); \
         see `vitrine --help` for the command line."
    );
    Ok(ExitCode::from(2))
}

/// Whether a window can open here (Linux and other X11/Wayland systems need one of these).
#[cfg(feature = "gui")]
fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}
