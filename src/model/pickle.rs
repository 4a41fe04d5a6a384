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
//! and dropping never recurse further. Resolving spends from a [`Budget`] of values and
//! string bytes proportional to the pickle's size. Every refusal names the file, the byte
//! offset and the limit.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

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

/// What resolving one pickle may still produce (see the module docs).
#[derive(Debug, Clone, Copy)]
struct Budget {
    values: usize,
    string_bytes: usize,
    values_limit: usize,
    string_bytes_limit: usize,
}

impl Budget {
    /// The budget of a pickle of `len` bytes.
    fn for_pickle(len: usize) -> Budget {
        let values = len
            .saturating_mul(VALUES_PER_BYTE)
            .saturating_add(MIN_VALUES);
        let string_bytes = len
            .saturating_mul(STRING_BYTES_PER_BYTE)
            .saturating_add(MIN_STRING_BYTES);
        Budget {
            values,
            string_bytes,
            values_limit: values,
            string_bytes_limit: string_bytes,
        }
    }

    /// Spends `values` values and `string_bytes` bytes, or says which limit was reached.
    fn spend(&mut self, values: usize, string_bytes: usize) -> std::result::Result<(), String> {
        let over_values = values > self.values;
        let over_bytes = string_bytes > self.string_bytes;
        if over_values || over_bytes {
            let what = if over_values {
                format!("{} values", self.values_limit)
            } else {
                format!("{} bytes of strings", self.string_bytes_limit)
            };
            return Err(format!(
                "the pickle resolves to more than {what} (the limit for a pickle of its size; \
                 memo references repeating shared data, which a state dict never needs); \
                 refusing"
            ));
        }
        self.values -= values;
        self.string_bytes -= string_bytes;
        Ok(())
    }
}

/// Runs one pickle from the start of `data` up to its STOP and returns the value it built and
/// the bytes it used. `base_offset` is where `data` starts in `file`, so errors name the
/// file's own byte offsets.
pub fn load(data: &[u8], base_offset: u64, file: &Path) -> Result<(Value, usize)> {
    let mut machine = Machine {
        budget: Budget::for_pickle(data.len()),
        data,
        pos: 0,
        op_pos: 0,
        base_offset,
        file,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        lists: Vec::new(),
        dicts: Vec::new(),
    };
    machine.run()
}

/// What the machine's stack holds: like [`Value`], but lists and dicts are shared (by index
/// into the machine's arenas), because pickles fill them after memoizing them.
#[derive(Debug, Clone)]
enum Item {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Rc<str>),
    Tuple(Rc<Tuple>),
    List(usize),
    Dict(usize),
    Callable(Callable),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

/// A tuple on the machine's stack, with how deeply tuples nest in it (1 for a tuple of no
/// tuples), so that nesting is bounded when it is built, not when it is resolved.
#[derive(Debug)]
struct Tuple {
    items: Vec<Item>,
    depth: usize,
}

impl Item {
    /// How deeply tuples nest in this item (lists and dicts are arena indices: 0).
    fn depth(&self) -> usize {
        match self {
            Item::Tuple(t) => t.depth,
            _ => 0,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Item::None => "None",
            Item::Bool(_) => "bool",
            Item::Int(_) => "int",
            Item::Float(_) => "float",
            Item::Str(_) => "str",
            Item::Tuple(_) => "tuple",
            Item::List(_) => "list",
            Item::Dict(_) => "dict",
            Item::Callable(_) => "callable",
            Item::Storage(_) => "storage",
            Item::Tensor(_) => "tensor",
        }
    }
}

mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const BININT2: u8 = b'M';
    pub const NONE: u8 = b'N';
    pub const BINPERSID: u8 = b'Q';
    pub const REDUCE: u8 = b'R';
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const BINUNICODE: u8 = b'X';
    pub const APPEND: u8 = b'a';
    pub const BUILD: u8 = b'b';
    pub const GLOBAL: u8 = b'c';
    pub const EMPTY_DICT: u8 = b'}';
    pub const APPENDS: u8 = b'e';
    pub const BINGET: u8 = b'h';
    pub const LONG_BINGET: u8 = b'j';
    pub const EMPTY_LIST: u8 = b']';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const SETITEM: u8 = b's';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const BINFLOAT: u8 = b'G';
    pub const PROTO: u8 = 0x80;
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const SHORT_BINUNICODE: u8 = 0x8c;
}

/// The name of any pickle opcode (protocols 0–5), for refusals.
fn opcode_name(code: u8) -> &'static str {
    match code {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "not a pickle opcode",
    }
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Where the opcode being run starts, for error messages.
    op_pos: usize,
    base_offset: u64,
    file: &'a Path,
    stack: Vec<Item>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Item>,
    lists: Vec<Vec<Item>>,
    dicts: Vec<Vec<(Item, Item)>>,
    /// What resolving the result may still produce.
    budget: Budget,
}

impl Machine<'_> {
    fn run(&mut self) -> Result<(Value, usize)> {
        loop {
            self.op_pos = self.pos;
            let code = self.bytes(1)?[0];
            match code {
                op::PROTO => {
                    let version = self.bytes(1)?[0];
                    if version > 2 {
                        return Err(self.err(format!(
                            "pickle protocol {version}; weights files use protocol 2 \
                             (torch.save's default)"
                        )));
                    }
                }
                op::STOP => {
                    let top = self.pop()?;
                    let value = self.resolve(&top)?;
                    return Ok((value, self.pos));
                }
                op::MARK => self.marks.push(self.stack.len()),
                op::NONE => self.stack.push(Item::None),
                op::NEWTRUE => self.stack.push(Item::Bool(true)),
                op::NEWFALSE => self.stack.push(Item::Bool(false)),
                op::BININT => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.stack.push(Item::Int(v.into()));
                }
                op::BININT1 => {
                    let v = self.bytes(1)?[0];
                    self.stack.push(Item::Int(v.into()));
                }
                op::BININT2 => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.stack.push(Item::Int(v.into()));
                }
                op::LONG1 => {
                    let n = usize::from(self.bytes(1)?[0]);
                    let v = self.long(n)?;
                    self.stack.push(Item::Int(v));
                }
                op::BINFLOAT => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.stack.push(Item::Float(v));
                }
                op::BINUNICODE => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    self.string(n)?;
                }
                op::SHORT_BINUNICODE | op::SHORT_BINSTRING => {
                    let n = usize::from(self.bytes(1)?[0]);
                    self.string(n)?;
                }
                op::BINSTRING => {
                    let n = i32::from_le_bytes(self.array()?);
                    let n = usize::try_from(n)
                        .map_err(|_| self.err(format!("string of negative length {n}")))?;
                    self.string(n)?;
                }
                op::EMPTY_TUPLE => {
                    let tuple = self.tuple(Vec::new())?;
                    self.stack.push(tuple);
                }
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    let tuple = self.tuple(items)?;
                    self.stack.push(tuple);
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = usize::from(code - op::TUPLE1 + 1);
                    if self.stack.len() < n {
                        return Err(self.err("tuple of more items than the stack holds"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let tuple = self.tuple(items)?;
                    self.stack.push(tuple);
                }
                op::EMPTY_LIST => {
                    self.lists.push(Vec::new());
                    self.stack.push(Item::List(self.lists.len() - 1));
                }
                op::EMPTY_DICT => {
                    self.dicts.push(Vec::new());
                    self.stack.push(Item::Dict(self.dicts.len() - 1));
                }
                op::BINPUT => {
                    let key = u32::from(self.bytes(1)?[0]);
                    self.put(key)?;
                }
                op::LONG_BINPUT => {
                    let key = u32::from_le_bytes(self.array()?);
                    self.put(key)?;
                }
                op::BINGET => {
                    let key = u32::from(self.bytes(1)?[0]);
                    self.get(key)?;
                }
                op::LONG_BINGET => {
                    let key = u32::from_le_bytes(self.array()?);
                    self.get(key)?;
                }
                op::APPEND => {
                    let value = self.pop()?;
                    let list = self.top_list()?;
                    self.lists[list].push(value);
                }
                op::APPENDS => {
                    let values = self.pop_mark()?;
                    let list = self.top_list()?;
                    self.lists[list].extend(values);
                }
                op::SETITEM => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top_dict()?;
                    self.dicts[dict].push((key, value));
                }
                op::SETITEMS => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(self.err("SETITEMS with a key but no value"));
                    }
                    let dict = self.top_dict()?;
                    let mut items = items.into_iter();
                    while let (Some(key), Some(value)) = (items.next(), items.next()) {
                        self.dicts[dict].push((key, value));
                    }
                }
                op::GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let callable = self.global(&module, &name)?;
                    self.stack.push(Item::Callable(callable));
                }
                op::REDUCE => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let result = self.reduce(callable, args)?;
                    self.stack.push(result);
                }
                op::BINPERSID => {
                    let pid = self.pop()?;
                    let storage = self.persistent_load(&pid)?;
                    self.stack.push(Item::Storage(Rc::new(storage)));
                }
                op::BUILD => {
                    let _state = self.pop()?;
                    match self.stack.last() {
                        // An OrderedDict's state is its `_metadata` (module versions).
                        Some(Item::Dict(_)) => {}
                        Some(other) => {
                            let kind = other.kind();
                            return Err(self.err(format!(
                                "pickle sets the state of a {kind}, which a weights file never \
                                 does; refusing"
                            )));
                        }
                        None => return Err(self.err("BUILD on an empty stack")),
                    }
                }
                other => {
                    return Err(self.err(format!(
                        "pickle opcode {} (0x{other:02x}) is not one a tensor state dict uses; \
                         refusing",
                        opcode_name(other)
                    )));
                }
            }
        }
    }

    /// A tuple of `items`, refused when it would nest tuples more than [`MAX_DEPTH`] deep.
    fn tuple(&self, items: Vec<Item>) -> Result<Item> {
        let depth = 1 + items.iter().map(Item::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(self.err(format!(
                "tuples nested more than {MAX_DEPTH} levels deep (the limit; a state dict \
                 nests a few); refusing"
            )));
        }
        Ok(Item::Tuple(Rc::new(Tuple { items, depth })))
    }

    fn err(&self, reason: impl std::fmt::Display) -> Error {
        Error::file(
            self.file,
            format!("offset {}: {reason}", self.base_offset + self.op_pos as u64),
        )
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(self.err(format!(
                "the pickle is truncated (needs {n} more bytes, {} left)",
                self.data.len() - self.pos
            )));
        };
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// A little-endian two's-complement integer of `n` bytes (LONG1).
    fn long(&mut self, n: usize) -> Result<i128> {
        if n > 16 {
            return Err(self.err(format!("integer of {n} bytes is too large")));
        }
        let bytes = self.bytes(n)?;
        let Some(&last) = bytes.last() else {
            return Ok(0);
        };
        let mut buf = if last & 0x80 != 0 {
            [0xff; 16]
        } else {
            [0; 16]
        };
        buf[..n].copy_from_slice(bytes);
        Ok(i128::from_le_bytes(buf))
    }

    fn string(&mut self, n: usize) -> Result<()> {
        let decoded = std::str::from_utf8(self.bytes(n)?).map(Rc::from);
        let s = decoded.map_err(|e| self.err(format!("string is not UTF-8: {e}")))?;
        self.stack.push(Item::Str(s));
        Ok(())
    }

    /// One newline-terminated ASCII line (GLOBAL's module and name).
    fn line(&mut self) -> Result<String> {
        let rest = &self.data[self.pos..];
        let Some(len) = rest.iter().take(256).position(|&b| b == b'\n') else {
            return Err(self.err("GLOBAL without a newline-terminated name"));
        };
        let line = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.pos += len + 1;
        Ok(line)
    }

    fn pop(&mut self) -> Result<Item> {
        match self.stack.pop() {
            Some(item) => Ok(item),
            None => Err(self.err("pickle pops an empty stack")),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Item>> {
        match self.marks.pop() {
            Some(mark) if mark <= self.stack.len() => Ok(self.stack.split_off(mark)),
            Some(_) => Err(self.err("pickle pops past its MARK")),
            None => Err(self.err("pickle needs a MARK that is not there")),
        }
    }

    fn top_list(&self) -> Result<usize> {
        match self.stack.last() {
            Some(Item::List(id)) => Ok(*id),
            Some(other) => Err(self.err(format!("APPEND to a {}", other.kind()))),
            None => Err(self.err("APPEND on an empty stack")),
        }
    }

    fn top_dict(&self) -> Result<usize> {
        match self.stack.last() {
            Some(Item::Dict(id)) => Ok(*id),
            Some(other) => Err(self.err(format!("SETITEM on a {}", other.kind()))),
            None => Err(self.err("SETITEM on an empty stack")),
        }
    }

    fn put(&mut self, key: u32) -> Result<()> {
        match self.stack.last() {
            Some(top) => {
                self.memo.insert(key, top.clone());
                Ok(())
            }
            None => Err(self.err("memoizing an empty stack")),
        }
    }

    fn get(&mut self, key: u32) -> Result<()> {
        match self.memo.get(&key) {
            Some(item) => {
                self.stack.push(item.clone());
                Ok(())
            }
            None => Err(self.err(format!("memo entry {key} was never set"))),
        }
    }

    /// Resolves `module.name` against the allow-list.
    fn global(&self, module: &str, name: &str) -> Result<Callable> {
        let allowed = match (module, name) {
            ("collections", "OrderedDict") => Some(Callable::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => Some(Callable::RebuildTensorV2),
            ("torch._utils", "_rebuild_parameter") => Some(Callable::RebuildParameter),
            ("torch", class) => StorageDtype::from_storage_class(class).map(Callable::Storage),
            _ => None,
        };
        if let Some(callable) = allowed {
            return Ok(callable);
        }
        let hint = if module.starts_with("torch.nn") || module.starts_with("__main__") {
            " (this file holds a whole pickled model; save `model.state_dict()` instead)"
        } else {
            ""
        };
        Err(self.err(format!(
            "pickle calls {module}.{name}, which a weights file never needs; refusing{hint}"
        )))
    }

    fn reduce(&mut self, callable: Item, args: Item) -> Result<Item> {
        let Item::Callable(callable) = callable else {
            return Err(self.err(format!("pickle calls a {}", callable.kind())));
        };
        let Item::Tuple(args) = args else {
            return Err(self.err(format!("call arguments are a {}", args.kind())));
        };
        let args = &args.items;
        match callable {
            Callable::OrderedDict if args.is_empty() => {
                self.dicts.push(Vec::new());
                Ok(Item::Dict(self.dicts.len() - 1))
            }
            Callable::OrderedDict => Err(self.err("OrderedDict called with arguments")),
            Callable::RebuildTensorV2 => {
                if args.len() < 4 {
                    return Err(self.err(format!(
                        "_rebuild_tensor_v2 with {} arguments (needs at least 4)",
                        args.len()
                    )));
                }
                let Item::Storage(storage) = &args[0] else {
                    return Err(self.err(format!(
                        "_rebuild_tensor_v2 over a {}, not a storage",
                        args[0].kind()
                    )));
                };
                let tensor = TensorRef {
                    storage: (**storage).clone(),
                    storage_offset: self.index(&args[1], "storage offset")?,
                    shape: self.indices(&args[2], "size")?,
                    stride: self.indices(&args[3], "stride")?,
                };
                if tensor.shape.len() != tensor.stride.len() {
                    return Err(self.err(format!(
                        "tensor of size {:?} has strides {:?}",
                        tensor.shape, tensor.stride
                    )));
                }
                Ok(Item::Tensor(Rc::new(tensor)))
            }
            Callable::RebuildParameter => match args.first() {
                Some(tensor @ Item::Tensor(_)) => Ok(tensor.clone()),
                _ => Err(self.err("_rebuild_parameter without a tensor")),
            },
            Callable::Storage(dtype) => Err(self.err(format!(
                "pickle calls a {} storage class directly; refusing",
                dtype.name()
            ))),
        }
    }

    /// `('storage', torch.XStorage, key, location, numel[, view_metadata])` → a storage.
    fn persistent_load(&self, pid: &Item) -> Result<StorageRef> {
        let Item::Tuple(pid) = pid else {
            return Err(self.err(format!("persistent id is a {}", pid.kind())));
        };
        let pid = &pid.items;
        let (tag, class, key, numel) = match &pid[..] {
            [tag, class, key, _location, numel] | [tag, class, key, _location, numel, _] => {
                (tag, class, key, numel)
            }
            _ => {
                return Err(self.err(format!(
                    "persistent id of {} items is not a storage",
                    pid.len()
                )));
            }
        };
        if !matches!(tag, Item::Str(s) if &**s == "storage") {
            return Err(self.err("persistent id that is not a storage"));
        }
        let Item::Callable(Callable::Storage(dtype)) = class else {
            return Err(self.err("persistent id without a storage class"));
        };
        let Item::Str(key) = key else {
            return Err(self.err(format!("storage key is a {}", key.kind())));
        };
        let numel = self.index(numel, "storage size")?;
        let mut storage = StorageRef {
            key: key.to_string(),
            dtype: *dtype,
            offset: 0,
            len: numel,
        };
        // Legacy files may name a view: (view_key, offset, size) into the root storage.
        match pid.get(5) {
            None | Some(Item::None) => {}
            Some(Item::Tuple(view)) => {
                let [_view_key, offset, size] = &view.items[..] else {
                    return Err(self.err("storage view metadata is not (key, offset, size)"));
                };
                storage.offset = self.index(offset, "storage view offset")?;
                storage.len = self.index(size, "storage view size")?;
            }
            Some(other) => {
                return Err(self.err(format!("storage view metadata is a {}", other.kind())));
            }
        }
        Ok(storage)
    }

    fn index(&self, item: &Item, what: &str) -> Result<usize> {
        match item {
            Item::Int(v) => usize::try_from(*v)
                .map_err(|_| self.err(format!("{what} {v} is not a valid index"))),
            other => Err(self.err(format!("{what} is a {}, not an int", other.kind()))),
        }
    }

    fn indices(&self, item: &Item, what: &str) -> Result<Vec<usize>> {
        match item {
            Item::Tuple(t) => t.items.iter().map(|i| self.index(i, what)).collect(),
            other => Err(self.err(format!("{what} is a {}, not a tuple", other.kind()))),
        }
    }

    /// Turns a stack item into an owned [`Value`], following lists and dicts, within the
    /// machine's [`Budget`].
    fn resolve(&mut self, item: &Item) -> Result<Value> {
        let mut budget = self.budget;
        let value = self.resolve_at(item, 0, &mut budget);
        self.budget = budget;
        value
    }

    fn resolve_at(&self, item: &Item, depth: usize, budget: &mut Budget) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!(
                "data nested more than {MAX_DEPTH} levels deep (the limit), or containing itself"
            )));
        }
        let (values, string_bytes) = match item {
            Item::Str(s) => (1, s.len()),
            Item::Storage(s) => (1, s.key.len()),
            Item::Tensor(t) => (1 + 2 * t.shape.len(), t.storage.key.len()),
            _ => (1, 0),
        };
        budget
            .spend(values, string_bytes)
            .map_err(|e| self.err(e))?;
        let all = |items: &[Item], budget: &mut Budget| -> Result<Vec<Value>> {
            items
                .iter()
                .map(|i| self.resolve_at(i, depth + 1, budget))
                .collect()
        };
        Ok(match item {
            Item::None => Value::None,
            Item::Bool(b) => Value::Bool(*b),
            Item::Int(v) => Value::Int(*v),
            Item::Float(v) => Value::Float(*v),
            Item::Str(s) => Value::Str(s.to_string()),
            Item::Tuple(t) => Value::Tuple(all(&t.items, budget)?),
            Item::List(id) => Value::List(all(&self.lists[*id], budget)?),
            Item::Dict(id) => {
                let mut pairs: Vec<(Value, Value)> = Vec::with_capacity(self.dicts[*id].len());
                let mut by_str_key: HashMap<Rc<str>, usize> = HashMap::new();
                for (key, value) in &self.dicts[*id] {
                    let value = self.resolve_at(value, depth + 1, budget)?;
                    if let Item::Str(s) = key {
                        if let Some(&at) = by_str_key.get(s) {
                            pairs[at].1 = value;
                            continue;
                        }
                        by_str_key.insert(s.clone(), pairs.len());
                    }
                    pairs.push((self.resolve_at(key, depth + 1, budget)?, value));
                }
                Value::Dict(pairs)
            }
            Item::Callable(c) => Value::Callable(*c),
            Item::Storage(s) => Value::Storage((**s).clone()),
            Item::Tensor(t) => Value::Tensor((**t).clone()),
        })
    }
}

/// Writes pickles the way `torch.save` does, for tests that need `.pth` bytes without
/// PyTorch.
#[cfg(test)]
pub(crate) mod writer {
    use super::op;

    /// One tensor of a state dict: name, storage (key, `torch.*Storage` class, numel),
    /// storage offset, shape and strides.
    pub(crate) struct Entry<'a> {
        pub name: &'a str,
        pub key: &'a str,
        pub class: &'a str,
        pub numel: usize,
        pub offset: usize,
        pub shape: &'a [usize],
        pub stride: &'a [usize],
    }

    /// A byte-level pickle assembler.
    #[derive(Default)]
    pub(crate) struct Pickle {
        pub bytes: Vec<u8>,
        next_memo: u32,
    }

    impl Pickle {
        pub fn op(&mut self, code: u8) -> &mut Self {
            self.bytes.push(code);
            self
        }
        pub fn proto(&mut self) -> &mut Self {
            self.bytes.extend([op::PROTO, 2]);
            self
        }
        pub fn int(&mut self, v: usize) -> &mut Self {
            if v < 256 {
                self.bytes.extend([op::BININT1, v as u8]);
            } else if v < 65536 {
                self.bytes.push(op::BININT2);
                self.bytes.extend((v as u16).to_le_bytes());
            } else {
                self.bytes.push(op::BININT);
                self.bytes.extend((v as i32).to_le_bytes());
            }
            self
        }
        pub fn str(&mut self, s: &str) -> &mut Self {
            self.bytes.push(op::BINUNICODE);
            self.bytes.extend((s.len() as u32).to_le_bytes());
            self.bytes.extend(s.as_bytes());
            self
        }
        pub fn global(&mut self, module: &str, name: &str) -> &mut Self {
            self.bytes.push(op::GLOBAL);
            self.bytes.extend(format!("{module}\n{name}\n").as_bytes());
            self
        }
        /// BINPUT (LONG_BINPUT past 255) with the next memo index; returns it.
        pub fn put(&mut self) -> u32 {
            let key = self.next_memo;
            self.next_memo += 1;
            match u8::try_from(key) {
                Ok(short) => self.bytes.extend([op::BINPUT, short]),
                Err(_) => {
                    self.bytes.push(op::LONG_BINPUT);
                    self.bytes.extend(key.to_le_bytes());
                }
            }
            key
        }
        pub fn get(&mut self, key: u32) -> &mut Self {
            match u8::try_from(key) {
                Ok(short) => self.bytes.extend([op::BINGET, short]),
                Err(_) => {
                    self.bytes.push(op::LONG_BINGET);
                    self.bytes.extend(key.to_le_bytes());
                }
            }
            self
        }
        pub fn ints(&mut self, values: &[usize]) -> &mut Self {
            self.op(op::MARK);
            for &v in values {
                self.int(v);
            }
            self.op(op::TUPLE)
        }
    }

    /// "Billion laughs": each level is a tuple of 20 memo references to the level below, so
    /// 9 levels of 44 bytes each describe 20^9 values.
    pub(crate) fn billion_laughs() -> Vec<u8> {
        let mut p = Pickle::default();
        p.proto().op(op::NONE);
        let mut below = p.put();
        for _ in 0..9 {
            p.op(op::MARK);
            for _ in 0..20 {
                p.get(below);
            }
            p.op(op::TUPLE);
            below = p.put();
        }
        p.op(op::STOP);
        p.bytes
    }

    /// A state dict pickle as `torch.save(model.state_dict())` writes it. `legacy` adds the
    /// sixth (view metadata) item to each persistent id, as the pre-zip format does.
    pub(crate) fn state_dict(entries: &[Entry], legacy: bool) -> Vec<u8> {
        let mut p = Pickle::default();
        p.proto().global("collections", "OrderedDict");
        let ordered_dict = p.put();
        p.op(op::EMPTY_TUPLE).op(op::REDUCE);
        p.put();
        p.op(op::MARK);
        let mut rebuild = None;
        for e in entries {
            p.str(e.name);
            p.put();
            match rebuild {
                Some(key) => p.get(key),
                None => {
                    p.global("torch._utils", "_rebuild_tensor_v2");
                    rebuild = Some(p.put());
                    &mut p
                }
            };
            p.op(op::MARK).op(op::MARK).str("storage");
            p.global("torch", e.class)
                .str(e.key)
                .str("cpu")
                .int(e.numel);
            if legacy {
                p.op(op::NONE);
            }
            p.op(op::TUPLE).op(op::BINPERSID);
            p.int(e.offset)
                .ints(e.shape)
                .ints(e.stride)
                .op(op::NEWFALSE);
            p.get(ordered_dict).op(op::EMPTY_TUPLE).op(op::REDUCE);
            p.op(op::TUPLE).op(op::REDUCE);
        }
        p.op(op::SETITEMS);
        // The state dict's `_metadata`, applied by BUILD.
        p.op(op::EMPTY_DICT)
            .str("version")
            .int(1)
            .op(op::SETITEM)
            .op(op::BUILD);
        p.op(op::STOP);
        p.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{Entry, Pickle, billion_laughs, state_dict};
    use super::*;

    const FILE: &str = "model.pth";

    fn run(bytes: &[u8]) -> Result<Value> {
        load(bytes, 100, Path::new(FILE)).map(|(value, _)| value)
    }

    #[test]
    fn state_dict_of_two_tensors() {
        let bytes = state_dict(
            &[
                Entry {
                    name: "conv.weight",
                    key: "0",
                    class: "FloatStorage",
                    numel: 54,
                    offset: 0,
                    shape: &[2, 3, 3, 3],
                    stride: &[27, 9, 3, 1],
                },
                Entry {
                    name: "bn.num_batches_tracked",
                    key: "1",
                    class: "LongStorage",
                    numel: 1,
                    offset: 0,
                    shape: &[],
                    stride: &[],
                },
            ],
            false,
        );
        let (value, used) = load(&bytes, 0, Path::new(FILE)).unwrap();
        assert_eq!(used, bytes.len());
        let Value::Dict(pairs) = value else {
            panic!("not a dict: {value:?}")
        };
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].0, Value::Str("conv.weight".into()));
        let Value::Tensor(t) = &pairs[0].1 else {
            panic!("not a tensor")
        };
        assert_eq!(t.shape, [2, 3, 3, 3]);
        assert_eq!(t.stride, [27, 9, 3, 1]);
        assert_eq!(
            t.storage,
            StorageRef {
                key: "0".into(),
                dtype: StorageDtype::F32,
                offset: 0,
                len: 54
            }
        );
        let Value::Tensor(t) = &pairs[1].1 else {
            panic!("not a tensor")
        };
        assert_eq!(t.storage.dtype, StorageDtype::I64);
        assert!(t.shape.is_empty());
    }

    #[test]
    fn scalars_strings_and_containers() {
        let mut p = Pickle::default();
        p.proto().op(op::EMPTY_LIST);
        p.put();
        p.op(op::MARK).op(op::NONE).op(op::NEWTRUE);
        p.op(op::BININT).bytes.extend((-5i32).to_le_bytes());
        // LONG1 of the legacy magic number's ten bytes, and of -1.
        p.op(op::LONG1).bytes.extend([
            10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
        ]);
        p.op(op::LONG1).bytes.extend([1, 0xff]);
        p.op(op::BINFLOAT).bytes.extend(1.5f64.to_be_bytes());
        p.op(op::SHORT_BINSTRING).bytes.extend([2, b'h', b'i']);
        p.op(op::SHORT_BINUNICODE).bytes.extend([2, b'y', b'o']);
        p.op(op::APPENDS);
        p.int(7).op(op::TUPLE1).op(op::APPEND).op(op::STOP);
        let value = run(&p.bytes).unwrap();
        let Value::List(items) = value else {
            panic!("not a list: {value:?}")
        };
        assert_eq!(items.len(), 9);
        assert_eq!(items[0], Value::None);
        assert_eq!(items[1], Value::Bool(true));
        assert_eq!(items[2], Value::Int(-5));
        assert_eq!(items[3], Value::Int(0x1950a86a20f9469cfc6c));
        assert_eq!(items[4], Value::Int(-1));
        assert_eq!(items[5], Value::Float(1.5));
        assert_eq!(items[6], Value::Str("hi".into()));
        assert_eq!(items[7], Value::Str("yo".into()));
        assert_eq!(items[8], Value::Tuple(vec![Value::Int(7)]));
    }

    #[test]
    fn self_containing_list_is_an_error_not_a_hang() {
        let mut p = Pickle::default();
        p.proto().op(op::EMPTY_LIST);
        let list = p.put();
        p.get(list).op(op::APPEND).op(op::STOP);
        let err = run(&p.bytes).unwrap_err().to_string();
        assert!(err.contains("nested more than"), "{err}");
    }

    #[test]
    fn billion_laughs_is_refused_by_the_value_budget() {
        let bytes = billion_laughs();
        assert!(bytes.len() < 600, "{} bytes", bytes.len());
        let err = run(&bytes).unwrap_err().to_string();
        assert!(err.starts_with("model.pth: offset "), "{err}");
        let limit = MIN_VALUES + VALUES_PER_BYTE * bytes.len();
        assert!(
            err.contains(&format!("resolves to more than {limit} values")),
            "{err}"
        );
    }

    #[test]
    fn a_long_string_repeated_through_the_memo_is_refused_by_the_byte_budget() {
        let mut p = Pickle::default();
        p.proto().str(&"x".repeat(100_000));
        let s = p.put();
        p.op(op::EMPTY_LIST).op(op::MARK);
        for _ in 0..100 {
            p.get(s);
        }
        p.op(op::APPENDS).op(op::STOP);
        let err = run(&p.bytes).unwrap_err().to_string();
        assert!(err.contains("bytes of strings"), "{err}");
    }

    /// A million nested `TUPLE1`s: refused when the 65th level is built, so neither resolving
    /// nor dropping ever recurses deeply (this test thread has the default 2 MiB stack).
    #[test]
    fn a_million_nested_tuples_are_refused_without_overflowing_the_stack() {
        let mut bytes = vec![op::PROTO, 2, op::NONE];
        bytes.extend(std::iter::repeat_n(op::TUPLE1, 1_000_000));
        bytes.push(op::STOP);
        let err = run(&bytes).unwrap_err().to_string();
        assert!(err.contains("tuples nested more than 64 levels"), "{err}");
        // The 65th TUPLE1 is the refused one: at offset 100 + 3 + 64.
        assert!(err.contains("offset 167"), "{err}");
    }

    /// A million lists each appended into the one before: built flat (lists live in an
    /// arena), refused by depth when resolved.
    #[test]
    fn a_million_nested_lists_are_refused_without_overflowing_the_stack() {
        let mut bytes = vec![op::PROTO, 2];
        bytes.extend(std::iter::repeat_n(op::EMPTY_LIST, 1_000_000));
        bytes.extend(std::iter::repeat_n(op::APPEND, 999_999));
        bytes.push(op::STOP);
        let err = run(&bytes).unwrap_err().to_string();
        assert!(err.contains("nested more than 64 levels"), "{err}");
    }

    #[test]
    fn refuses_a_global_off_the_allow_list() {
        let mut p = Pickle::default();
        p.proto()
            .global("os", "system")
            .str("echo hi")
            .op(op::TUPLE1)
            .op(op::REDUCE);
        p.op(op::STOP);
        let err = run(&p.bytes).unwrap_err().to_string();
        assert_eq!(
            err,
            "model.pth: offset 102: pickle calls os.system, which a weights file never needs; \
             refusing"
        );
    }

    #[test]
    fn whole_model_pickle_gets_a_hint() {
        let mut p = Pickle::default();
        p.proto().global("torch.nn.modules.conv", "Conv2d");
        let err = run(&p.bytes).unwrap_err().to_string();
        assert!(err.contains("state_dict()"), "{err}");
    }

    #[test]
    fn refuses_an_unknown_opcode() {
        let mut p = Pickle::default();
        p.proto().op(op::NONE).op(0x93); // STACK_GLOBAL (protocol 4)
        let err = run(&p.bytes).unwrap_err().to_string();
        assert_eq!(
            err,
            "model.pth: offset 103: pickle opcode STACK_GLOBAL (0x93) is not one a tensor state \
             dict uses; refusing"
        );
        let err = run(&[0x80, 2, 0xff]).unwrap_err().to_string();
        assert!(err.contains("offset 102") && err.contains("0xff"), "{err}");
    }

    #[test]
    fn refuses_newer_protocols_and_calling_storages() {
        let err = run(&[0x80, 4, b'N', b'.']).unwrap_err().to_string();
        assert!(err.contains("protocol 4"), "{err}");
        let mut p = Pickle::default();
        p.proto()
            .global("torch", "FloatStorage")
            .op(op::EMPTY_TUPLE)
            .op(op::REDUCE);
        let err = run(&p.bytes).unwrap_err().to_string();
        assert!(err.contains("calls a f32 storage class directly"), "{err}");
    }

    #[test]
    fn truncated_and_malformed_pickles_are_errors() {
        let whole = state_dict(
            &[Entry {
                name: "w",
                key: "0",
                class: "HalfStorage",
                numel: 4,
                offset: 0,
                shape: &[4],
                stride: &[1],
            }],
            true,
        );
        for cut in [1, 10, whole.len() / 2, whole.len() - 1] {
            assert!(run(&whole[..cut]).is_err(), "cut at {cut}");
        }
        assert!(run(b".").unwrap_err().to_string().contains("empty stack"));
        assert!(
            run(&[b'h', 7])
                .unwrap_err()
                .to_string()
                .contains("never set")
        );
        assert!(run(b"Nt").unwrap_err().to_string().contains("MARK"));
    }

    #[test]
    fn legacy_view_metadata_and_parameters() {
        let mut p = Pickle::default();
        p.proto().global("torch._utils", "_rebuild_parameter");
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.op(op::MARK)
            .op(op::MARK)
            .str("storage")
            .global("torch", "BFloat16Storage");
        p.str("root").str("cuda:0").int(100);
        p.str("view").int(10).int(20).op(op::TUPLE3);
        p.op(op::TUPLE).op(op::BINPERSID);
        p.int(2).ints(&[3, 2]).ints(&[1, 3]).op(op::NEWFALSE);
        p.op(op::TUPLE).op(op::REDUCE);
        p.op(op::NEWTRUE)
            .op(op::EMPTY_DICT)
            .op(op::TUPLE3)
            .op(op::REDUCE)
            .op(op::STOP);
        let value = run(&p.bytes).unwrap();
        assert_eq!(
            value,
            Value::Tensor(TensorRef {
                storage: StorageRef {
                    key: "root".into(),
                    dtype: StorageDtype::BF16,
                    offset: 10,
                    len: 20,
                },
                storage_offset: 2,
                shape: vec![3, 2],
                stride: vec![1, 3],
            })
        );
    }

    #[test]
    fn a_key_set_twice_keeps_its_place_and_last_value() {
        let mut p = Pickle::default();
        p.proto().op(op::EMPTY_DICT).op(op::MARK);
        p.str("a").int(1).str("b").int(2).str("a").int(3);
        p.op(op::SETITEMS).op(op::STOP);
        let value = run(&p.bytes).unwrap();
        assert_eq!(
            value,
            Value::Dict(vec![
                (Value::Str("a".into()), Value::Int(3)),
                (Value::Str("b".into()), Value::Int(2)),
            ])
        );
    }
}
