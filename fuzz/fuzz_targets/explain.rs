//! `fabuild explain VALUE`: split, parse with repairs, rules, corrected value, and the text
//! and JSON reports in both languages, as `src/main.rs` calls them.
#![no_main]

use fabuild::gunicorn::advice::Lang;
use fabuild::gunicorn::rules::Context;
use fabuild::gunicorn::settings::Version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the context (uid root or not, TLS mounted, an old gunicorn), the
    // rest is the value.
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let ctx = Context {
        uid: if knobs & 1 == 0 { 10001 } else { 0 },
        version: if knobs & 2 == 0 {
            Version(27, 0, 1)
        } else {
            Version(20, 1, 0)
        },
        tls_mounted: knobs & 4 != 0,
    };
    let explanation = fabuild::explain::explain(input, "argument", &ctx);
    for lang in [Lang::En, Lang::Zh] {
        let _ = explanation.render_text(lang);
        let _ = std::hint::black_box(explanation.report(lang));
    }
    let _ = explanation.has_errors();
    let _ = explanation.corrected_line();
});
