//! A pickle reader that runs no code, for PyTorch state dicts.
//!
//! `torch.save` writes a state dict as a pickle (protocol 2) whose tensors are calls to
//! `torch._utils._rebuild_tensor_v2` over storages named by persistent ids. Python's own
//! unpickler would import and call whatever a file names, so a downloaded `.pth` could run
//! `os.system`. This reader is a small stack machine that understands only the opcodes a
//! tensor state dict needs and resolves `GLOBAL` against an allow-list of four kinds of
//! callables; anything else is refused with the file, the byte offset and what was asked
//! for. It describes tensors ([`TensorRef`]: storage key, dtype, offset, shape, strides);
//! reading their bytes is [`super::weights`]' job.
//!
//! A hostile pickle cannot run code here, but it could still ask for too much: memo
//! references repeat shared data ("billion laughs": a 558-byte file that resolves to billions
//! of values), and a million nested `TUPLE1`s make a value whose recursive drop overflows the
//! stack. So every tuple records its nesting depth when it is built and deeper ones are
//! refused at once ([`MAX_DEPTH`]); no value the machine holds is ever deeper, so resolving
//! and dropping never recurse further. Resolving spends from a [`Budget`](machine::Budget)
//! of values and string bytes proportional to the pickle's size. Every refusal names the
//! file, the byte offset and the limit.

mod machine;
mod op;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod writer;

use crate::error::Result;
use machine::Machine;
use std::path::Path;

/// The element type of a PyTorch storage, from the `torch.*Storage` global that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageDtype {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl StorageDtype {
    /// Bytes per element.
    pub fn size_bytes(self) -> usize {
        match self {
            StorageDtype::F64 | StorageDtype::I64 => 8,
            StorageDtype::F32 | StorageDtype::I32 => 4,
            StorageDtype::F16 | StorageDtype::BF16 | StorageDtype::I16 => 2,
            StorageDtype::I8 | StorageDtype::U8 | StorageDtype::Bool => 1,
        }
    }

    /// Whether the elements are floating-point numbers.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            StorageDtype::F64 | StorageDtype::F32 | StorageDtype::F16 | StorageDtype::BF16
        )
    }

    /// The short name (`f32`, `i64`, …) used in messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            StorageDtype::F64 => "f64",
            StorageDtype::F32 => "f32",
            StorageDtype::F16 => "f16",
            StorageDtype::BF16 => "bf16",
            StorageDtype::I64 => "i64",
            StorageDtype::I32 => "i32",
            StorageDtype::I16 => "i16",
            StorageDtype::I8 => "i8",
            StorageDtype::U8 => "u8",
            StorageDtype::Bool => "bool",
        }
    }

    /// The dtype of `torch.<name>`, for the storage class names torch pickles.
    fn from_storage_class(name: &str) -> Option<Self> {
        Some(match name {
            "DoubleStorage" => StorageDtype::F64,
            "FloatStorage" => StorageDtype::F32,
            "HalfStorage" => StorageDtype::F16,
            "BFloat16Storage" => StorageDtype::BF16,
            "LongStorage" => StorageDtype::I64,
            "IntStorage" => StorageDtype::I32,
            "ShortStorage" => StorageDtype::I16,
            "CharStorage" => StorageDtype::I8,
            "ByteStorage" => StorageDtype::U8,
            "BoolStorage" => StorageDtype::Bool,
            _ => return None,
        })
    }
}

/// The elements of one stored buffer that a tensor may index: `len` elements from `offset`
/// of the storage saved under `key` (legacy files may save views into a larger storage).
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub key: String,
    pub dtype: StorageDtype,
    pub offset: usize,
    pub len: usize,
}

/// A tensor as the pickle describes it: a strided window onto a storage (all in elements).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub storage_offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// The only callables a weights pickle may name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Callable {
    /// `collections.OrderedDict`
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter`
    RebuildParameter,
    /// `torch.FloatStorage` and its siblings: only ever a tag inside a persistent id.
    Storage(StorageDtype),
}

/// A value the pickle built. Dicts keep their insertion order; a key set twice keeps its
/// first position and its last value, as in Python.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Callable(Callable),
    Storage(StorageRef),
    Tensor(TensorRef),
}

impl Value {
    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Callable(_) => "callable",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }
}

/// Deepest nesting of tuples, lists and dicts we build or resolve; deeper (or
/// self-referencing) data is not a state dict.
pub const MAX_DEPTH: usize = 64;

/// Values a pickle may resolve to, per byte of pickle, on top of [`MIN_VALUES`]. A state dict
/// entry (a key and a tensor description) takes dozens of bytes and resolves to a handful of
/// values; only memo references repeated over and over get near this.
pub const VALUES_PER_BYTE: usize = 2;
/// Values any pickle may resolve to, however small.
pub const MIN_VALUES: usize = 100_000;
/// String bytes a pickle may resolve to, per byte of pickle, on top of [`MIN_STRING_BYTES`].
pub const STRING_BYTES_PER_BYTE: usize = 2;
/// String bytes any pickle may resolve to, however small.
pub const MIN_STRING_BYTES: usize = 1 << 20;

/// Runs one pickle from the start of `data` up to its STOP and returns the value it built and
/// the bytes it used. `base_offset` is where `data` starts in `file`, so errors name the
/// file's own byte offsets.
pub fn load(data: &[u8], base_offset: u64, file: &Path) -> Result<(Value, usize)> {
    Machine::new(data, base_offset, file).run()
}
