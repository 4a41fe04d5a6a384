//! Fuzz target `deepfashion_lists`: see `vitrine::fuzzing::deepfashion_lists`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitrine::fuzzing::deepfashion_lists(data);
});
