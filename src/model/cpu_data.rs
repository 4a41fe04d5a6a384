//! The `f32` data of CPU tensors, as the custom ops' kernels read it: one place for the
//! checks (on the CPU, `f32`, contiguous) and their error messages, whether a `cpu_fwd` reads
//! its arguments ([`f32_slice`]) or a backward pass reads the tensors it kept
//! ([`with_cpu_f32`]).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Layout, Result, Tensor, bail};

/// Runs `f` on the `f32` data of contiguous CPU tensors (a backward pass reads its
/// arguments this way, without copying them).
pub(crate) fn with_cpu_f32<R>(
    tensors: &[&Tensor],
    f: impl FnOnce(&[&[f32]]) -> Result<R>,
) -> Result<R> {
    let guards: Vec<_> = tensors.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(guards.len());
    for (storage, layout) in &guards {
        let candle_core::Storage::Cpu(cpu) = &**storage else {
            bail!("the training kernels run on the CPU only")
        };
        slices.push(f32_slice(cpu, layout, "convolution", Some("argument"))?);
    }
    f(&slices)
}

/// The contiguous `f32` data of one op argument. An error starts with `op`, the name the op
/// goes by in messages, and names the argument `what` where one is given (`"{op}: the {what}
/// must be f32"`); without one it speaks of the op's arguments together (`"{op} take f32"`).
pub(crate) fn f32_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
    what: Option<&str>,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        match what {
            Some(what) => bail!("{op}: the {what} must be f32, not {:?}", storage.dtype()),
            None => bail!("{op} take f32, not {:?}", storage.dtype()),
        }
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => match what {
            Some(what) => bail!("{op}: the {what} must be contiguous"),
            None => bail!("{op} take contiguous tensors"),
        },
    }
}
