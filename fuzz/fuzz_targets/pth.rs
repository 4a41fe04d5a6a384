//! Fuzz target `pth`: see `vitrine::fuzzing::pth`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitrine::fuzzing::pth(data);
});
