//! The reader on pickles written as `torch.save` writes them, and its refusals: unknown
//! callables and opcodes, and the nesting and size limits against hostile files.

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
