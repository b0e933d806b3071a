//! `GUNICORN_CMD_ARGS` as gunicorn reads it: shlex split, then argparse; plus the
//! split/join round trip every generated value relies on.
#![no_main]

use fabuild::gunicorn::cmd_args::CmdArgs;
use fabuild::gunicorn::settings::Version;
use fabuild::gunicorn::shlex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let read = CmdArgs::read(text, Version(27, 0, 1));
    let split = shlex::split(text);
    if let Ok(argv) = &split {
        let joined = shlex::join(argv);
        assert_eq!(
            shlex::split(&joined).as_ref(),
            Ok(argv),
            "split(join(argv)) != argv for joined {joined:?}"
        );
    }
    if let Ok(read) = read {
        assert_eq!(
            Ok(read.argv()),
            split,
            "CmdArgs words differ from shlex::split"
        );
    }
});
