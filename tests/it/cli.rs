//! The CLI as a user sees it: each `tests/cmd/*.trycmd` file is a transcript of commands
//! and their exact output (stdout and stderr), exit codes included.

#[test]
fn transcripts() {
    trycmd::TestCases::new()
        .register_bin(
            "fabuild",
            std::path::Path::new(env!("CARGO_BIN_EXE_fabuild")),
        )
        .env("NO_COLOR", "1")
        .case("tests/cmd/*.trycmd");
}
