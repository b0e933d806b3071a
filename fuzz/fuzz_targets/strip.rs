//! The debug-information stripper `fabuild build` runs over extension modules from wheels:
//! any bytes, no panic; whatever it rewrites keeps the ELF header it was given (but the
//! section table's place) and has nothing left to strip.
#![no_main]

use fabuild::builder::strip::strip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(out) = strip(data) {
        assert!(out.len() >= 64, "a rewritten file lost its ELF header");
        // e_shoff (40..48) is the only header field the rewrite sets: the section table
        // moves, but keeps its count and order.
        assert_eq!(out[..40], data[..40]);
        assert_eq!(out[48..64], data[48..64]);
        assert_eq!(
            strip(&out),
            None,
            "stripping its own output changed it again"
        );
    }
});
