//! Fuzz target `pickle`: see `vitrine::fuzzing::pickle`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitrine::fuzzing::pickle(data);
});
