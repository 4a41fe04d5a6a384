//! Writes pickles the way `torch.save` does, for tests that need `.pth` bytes without
//! PyTorch.

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
