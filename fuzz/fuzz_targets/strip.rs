//! The debug-information stripper `fabuild build` runs over extension modules from wheels:
//! any bytes, no panic; whatever it rewrites keeps the ELF header it was given (but the
//! section table's place and count) and has nothing left to strip.
#![no_main]

use fabuild::build::strip::strip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(out) = strip(data) {
        assert!(out.len() >= 64, "a rewritten file lost its ELF header");
        // e_shoff (40..48), e_shnum (60..62) and e_shstrndx (62..64) are the only header
        // fields the rewrite sets.
        assert_eq!(out[..40], data[..40]);
        assert_eq!(out[48..60], data[48..60]);
        assert_eq!(strip(&out), None, "stripping its own output changed it again");
    }
});
