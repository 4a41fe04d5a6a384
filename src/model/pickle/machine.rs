//! The stack machine that runs one pickle: the opcodes a tensor state dict needs, `GLOBAL`
//! against the allow-list of callables, persistent ids as storages, and the resolving of the
//! result into a [`Value`] within the nesting limit and the [`Budget`] of the pickle's size.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use super::{
    Callable, MAX_DEPTH, MIN_STRING_BYTES, MIN_VALUES, STRING_BYTES_PER_BYTE, StorageDtype,
    StorageRef, TensorRef, VALUES_PER_BYTE, Value, op,
};
use crate::error::{Error, Result};

/// What resolving one pickle may still produce (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
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

pub(super) struct Machine<'a> {
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

impl<'a> Machine<'a> {
    /// A machine at the start of `data`, which starts at `base_offset` in `file`.
    pub(super) fn new(data: &'a [u8], base_offset: u64, file: &'a Path) -> Self {
        Machine {
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
        }
    }

    /// Runs the pickle up to its STOP: the value it built and the bytes it used.
    pub(super) fn run(&mut self) -> Result<(Value, usize)> {
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
                        op::name(other)
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
