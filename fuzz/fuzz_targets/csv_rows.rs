//! Fuzz target `csv_rows`: see `vitrine::fuzzing::csv_rows`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitrine::fuzzing::csv_rows(data);
});
