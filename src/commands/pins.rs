//! `fabuild pins refresh` and `fabuild pins check`: the server stack's pins in a file the
//! team controls (docs/pins.md).

use fabuild::exit::ExitStatus;
use fabuild::net;
use fabuild::pins::Pins;
use fabuild::pins::index::{self, IndexOptions};

use crate::cli::{IndexArgs, PinsCheckArgs, PinsCommand, PinsRefreshArgs};
use crate::console::{eoutln, outln};

pub fn run(command: &PinsCommand) -> ExitStatus {
    match command {
        PinsCommand::Refresh(args) => refresh(args),
        PinsCommand::Check(args) => check(args),
    }
}

fn options(args: &IndexArgs) -> IndexOptions {
    IndexOptions {
        base: args.index.clone(),
        netrc: args
            .netrc
            .clone()
            .or_else(|| std::env::var_os("NETRC").map(Into::into)),
        net: net::Options {
            extra_ca: args.ca.clone(),
            ..net::Options::default()
        },
    }
}

fn refresh(args: &PinsRefreshArgs) -> ExitStatus {
    let mut set = Vec::new();
    for given in &args.set {
        let Some((name, version)) = given.split_once("==") else {
            eoutln!("error: `{given}` is not NAME==VERSION");
            return ExitStatus::Error;
        };
        set.push((name.trim().to_owned(), version.trim().to_owned()));
    }
    let current = if args.file.exists() {
        match fabuild::pins::read_text(&args.file) {
            Ok(text) => Some(text),
            Err(err) => {
                eoutln!("error: {}: {err}", args.file.display());
                return ExitStatus::Error;
            }
        }
    } else {
        None
    };
    let refreshed = match index::refresh(current, &set, args.upgrade, &options(&args.index)) {
        Ok(r) => r,
        Err(err) => {
            eoutln!("error: {err}");
            eoutln!("help: nothing was written to {}", args.file.display());
            return ExitStatus::Failure;
        }
    };
    let same = current.is_some_and(|c| c == refreshed.text);
    if !same && let Err(err) = index::write_atomic(&args.file, &refreshed.text) {
        eoutln!("error: cannot write {}: {err}", args.file.display());
        return ExitStatus::Error;
    }
    for change in &refreshed.changed {
        outln!("{change}");
    }
    outln!(
        "{} {} ({} wheel hashes)",
        if same { "unchanged" } else { "wrote" },
        args.file.display(),
        refreshed.rows
    );
    ExitStatus::Success
}

fn check(args: &PinsCheckArgs) -> ExitStatus {
    let (table, label, stale) = match &args.file {
        None => (Pins::builtin(), "the built-in table".to_owned(), Vec::new()),
        Some(path) => {
            let label = path.display().to_string();
            let parsed = fabuild::pins::read_text(path).and_then(Pins::parse_unchecked);
            match parsed {
                Ok(table) => {
                    let stale = table.stale();
                    (table, label, stale)
                }
                Err(err) => {
                    eoutln!("error: {label}: {err}");
                    return ExitStatus::Error;
                }
            }
        }
    };
    let statuses = match index::check(&table, &options(&args.index)) {
        Ok(s) => s,
        Err(err) => {
            eoutln!("error: {err}");
            return ExitStatus::Error;
        }
    };
    let mut failed = !stale.is_empty();
    for why in &stale {
        outln!("STALE     {label}: {why}");
    }
    for s in &statuses {
        let newest = s.newest.as_deref().unwrap_or("?");
        if let Some(reason) = &s.yanked {
            outln!(
                "YANKED    {} {}{} (newest {newest})",
                s.name,
                s.pinned,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            );
        }
        for h in &s.unknown_hashes {
            outln!(
                "UNKNOWN   {} {}: no file on the index has sha256 {h}",
                s.name,
                s.pinned
            );
        }
        if s.outdated() {
            outln!("OUTDATED  {} {} (newest {newest})", s.name, s.pinned);
        } else if !s.broken() {
            outln!("CURRENT   {} {}", s.name, s.pinned);
        }
        failed |= s.broken();
    }
    let outdated = statuses.iter().filter(|s| s.outdated()).count();
    let broken = statuses.iter().filter(|s| s.broken()).count();
    outln!(
        "{label}: {} pins, {outdated} outdated, {broken} yanked or unknown",
        statuses.len()
    );
    ExitStatus::failure_if(failed)
}
