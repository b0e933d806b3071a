//! The `fabuild` binary: parses arguments, runs the command, maps its verdict to the exit
//! code. Each command lives in `commands/`; everything it prints goes through `console`.

mod cli;
mod commands;
mod console;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let status = commands::run(cli.command);
    ExitCode::from(console::exit_code(status))
}
