//! Where models run: the one place a device name (`cpu`, `cuda`, `cuda:N` or `auto`) becomes
//! a Candle [`Device`], shared by the CLI's `--device` flag and the desktop app's device
//! picker, so both accept the same names and say the same thing when one cannot be used.

use crate::error::{Error, Result};
use candle_core::Device;

/// The default device: the CPU, which every build and machine has (and where the fused
/// Lite0 kernels run).
pub const CPU: &str = "cpu";
/// The first GPU (the `cuda` feature).
pub const CUDA: &str = "cuda";
/// The first GPU where this build and machine have one, otherwise the CPU.
pub const AUTO: &str = "auto";

/// The device called `name`: `cpu`; `cuda` or `cuda:N` (a build with the `cuda` feature and
/// that GPU); or `auto`, the first GPU when one can be used, else the CPU. Case and
/// surrounding spaces do not matter; any other name is an error that lists the valid ones.
pub fn device(name: &str) -> Result<Device> {
    let spec = name.trim();
    let ordinal = match spec.to_ascii_lowercase().as_str() {
        CPU => return Ok(Device::Cpu),
        AUTO => {
            let gpu = candle_core::utils::cuda_is_available()
                .then(|| Device::new_cuda(0).ok())
                .flatten();
            return Ok(gpu.unwrap_or(Device::Cpu));
        }
        CUDA => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                return Err(Error::Invalid(format!(
                    "bad device {spec:?}: the GPU number after cuda: must be 0, 1, …"
                )));
            }
            None => {
                return Err(Error::Invalid(format!(
                    "unknown device {spec:?}: use cpu, cuda, cuda:N or auto"
                )));
            }
        },
    };
    if !candle_core::utils::cuda_is_available() {
        return Err(Error::Invalid(
            "this build has no CUDA support; rebuild with --features cuda".into(),
        ));
    }
    Device::new_cuda(ordinal).map_err(|e| Error::Invalid(format!("no CUDA device {ordinal}: {e}")))
}

/// Whether this build has CUDA support and a GPU answers (the desktop app shows its device
/// picker only then). Opening the GPU takes a moment: ask once, at start-up.
pub fn gpu_available() -> bool {
    candle_core::utils::cuda_is_available() && Device::new_cuda(0).is_ok()
}

/// The device names worth offering in a picker: the CPU, and the GPU when
/// [`gpu_available`].
pub fn offered() -> Vec<&'static str> {
    if gpu_available() {
        vec![CPU, CUDA]
    } else {
        vec![CPU]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_or_say_what_is_wrong() {
        assert!(device("cpu").unwrap().is_cpu());
        assert!(device(" CPU ").unwrap().is_cpu());
        let unknown = device("tpu").unwrap_err().to_string();
        assert!(unknown.contains("unknown device \"tpu\""), "{unknown}");
        assert!(unknown.contains("auto"), "{unknown}");
        let bad = device("cuda:x").unwrap_err().to_string();
        assert!(bad.contains("GPU number"), "{bad}");
        for spec in ["cuda", "cuda:1"] {
            match device(spec) {
                Ok(d) => assert!(d.is_cuda()),
                Err(e) if cfg!(feature = "cuda") => {
                    assert!(e.to_string().contains("no CUDA device"), "{e}")
                }
                Err(e) => assert_eq!(
                    e.to_string(),
                    "this build has no CUDA support; rebuild with --features cuda"
                ),
            }
        }
    }

    #[test]
    fn auto_is_the_gpu_where_there_is_one_and_the_cpu_otherwise() {
        let auto = device("Auto").unwrap();
        assert_eq!(auto.is_cuda(), gpu_available());
        assert_eq!(offered().len() > 1, gpu_available());
        assert_eq!(offered()[0], CPU);
    }
}
