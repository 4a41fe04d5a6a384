//! Fuzz target `index_file`: see `vitrine::fuzzing::index_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitrine::fuzzing::index_file(data);
});
