//! `vitrine weights …`: bring pretrained weights into the safetensors form the models load.

use crate::model::weights::{self, ImportOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum WeightsCommand {
    /// Convert a PyTorch state dict (.pth/.pt, zip or legacy format) to safetensors, without
    /// running any of the pickle's code: only tensor data and an allow-list of torch globals
    /// are accepted.
    ImportPth {
        /// The file `torch.save(model.state_dict(), FILE)` wrote.
        file: PathBuf,
        /// The safetensors file to write (replaced atomically).
        #[arg(long, value_name = "FILE.safetensors")]
        out: PathBuf,
        /// Keep f16/bf16/f64 tensors as they are (default: write floats as f32).
        #[arg(long)]
        keep_dtype: bool,
        /// Leave out BatchNorm's `num_batches_tracked` counters (kept by default).
        #[arg(long)]
        skip_num_batches_tracked: bool,
        /// Refuse a file whose tensors hold more than N times its size (views repeating one
        /// storage, overlapping zip entries).
        #[arg(long, value_name = "N", default_value_t = weights::DEFAULT_MAX_EXPANSION)]
        max_expansion: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: &WeightsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WeightsCommand::ImportPth {
            file,
            out,
            keep_dtype,
            skip_num_batches_tracked,
            max_expansion,
            json,
        } => {
            let options = ImportOptions {
                keep_dtype: *keep_dtype,
                skip_num_batches_tracked: *skip_num_batches_tracked,
                max_expansion: Some(*max_expansion),
            };
            // The error names the file already.
            let report = weights::import_pth(file, out, &options)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(ExitCode::SUCCESS);
            }
            let dtypes: Vec<String> = report
                .dtypes
                .iter()
                .map(|(dtype, n)| format!("{n} {dtype}"))
                .collect();
            println!("Wrote {}", report.output.display());
            println!(
                "  {} tensors ({}), {} values (parameters and buffers)",
                report.tensor_count,
                dtypes.join(", "),
                report.parameter_count
            );
            if !report.skipped.is_empty() {
                println!(
                    "  skipped {} tensors: {}",
                    report.skipped.len(),
                    report.skipped.join(", ")
                );
            }
            println!(
                "  input  sha256 {}  {}",
                report.input_sha256,
                report.input.display()
            );
            println!(
                "  output sha256 {}  {}",
                report.output_sha256,
                report.output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
