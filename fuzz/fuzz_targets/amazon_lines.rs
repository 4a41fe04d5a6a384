//! Fuzz target `amazon_lines`: see `vitrine::fuzzing::amazon_lines`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitrine::fuzzing::amazon_lines(data);
});
