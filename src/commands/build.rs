//! `fabuild build`: the image itself, without a container engine; `--check-reproducible`
//! builds it twice and compares.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use fabuild::builder::{self, BuildError, OutFormat, WheelSource};
use fabuild::exit::{CommandError, ExitStatus};
use fabuild::generate::GenError;

use super::{default_spec, image_path, parse_base, spec_failure};
use crate::cli::{BuildArgs, Format, ImageFormat};
use crate::console::{eoutln, outln};

pub fn run(args: &BuildArgs) -> ExitStatus {
    let spec_path = default_spec(args.spec.as_ref());
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(b) => b,
        Err(status) => return status,
    };
    let options = builder::Options {
        base: image_path(&args.base),
        out: args.out.clone(),
        format: match args.format {
            ImageFormat::Oci => OutFormat::Oci,
            ImageFormat::OciArchive => OutFormat::OciArchive,
        },
        base_image,
        wheels: match (&args.wheels, args.pip_only) {
            (Some(dir), _) => WheelSource::Dir(dir.clone()),
            (None, true) => WheelSource::PipOnly(args.pip.clone()),
            (None, false) => WheelSource::Pip(args.pip.clone()),
        },
        cache: if args.no_cache {
            None
        } else {
            args.cache_dir.clone().or_else(default_cache)
        },
        tag: args.tag.clone(),
        sbom: args.sbom.clone(),
    };
    let built = match builder::build(&spec_path, &options) {
        Ok(built) => built,
        Err(BuildError::Gen(GenError::Spec(err))) => {
            return spec_failure(&err, &spec_path.display().to_string(), Format::Text, false);
        }
        Err(err) => {
            eoutln!("error: {err}");
            if let Some(help) = err.help() {
                eoutln!("help: {help}");
            }
            return err.exit_status();
        }
    };
    let kind = match options.format {
        OutFormat::Oci => "OCI layout",
        OutFormat::OciArchive => "oci-archive",
    };
    outln!(
        "built {} ({kind}, tag {}) on base {} with {} (Python {}, {}), SOURCE_DATE_EPOCH {}",
        built.out.display(),
        options.tag,
        built.base_manifest_digest,
        built.python,
        built.python_version,
        match built.libc {
            builder::base::Libc::Glibc(v) => format!("glibc {v}"),
            builder::base::Libc::Unknown => "glibc version unknown".to_owned(),
        },
        built.source_date_epoch
    );
    for layer in &built.layers {
        let cached = if layer.role == "dependencies" && built.deps_cached {
            " (cached)"
        } else {
            ""
        };
        outln!(
            "  {:<13} {} {:>10} bytes{cached}",
            layer.role,
            layer.layer.digest,
            layer.layer.size
        );
    }
    outln!("  config        {}", built.config_digest);
    outln!("manifest {}", built.manifest_digest);
    if let Some(sbom) = &built.sbom {
        outln!(
            "sbom {} (CycloneDX 1.6: {} Python distributions, {} OS packages), attached as {}",
            sbom.path.display(),
            sbom.python_packages,
            sbom.os_packages,
            sbom.artifact_digest
        );
    }
    for note in &built.notes {
        eoutln!("note: {note}");
    }
    if args.check_reproducible {
        return check_reproducible(args, &built.out);
    }
    ExitStatus::Success
}

fn default_cache() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|dir| dir.join("fabuild"))
}

/// Builds again with another umask and time zone and an empty cache; compares the images.
fn check_reproducible(args: &BuildArgs, first: &Path) -> ExitStatus {
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eoutln!("error: cannot make a temp dir: {e}");
            return ExitStatus::Error;
        }
    };
    let second = scratch.path().join("image");
    let Ok(exe) = std::env::current_exe() else {
        eoutln!("error: cannot find the fabuild binary to run the second build");
        return ExitStatus::Error;
    };
    let again = BuildArgs {
        out: second.clone(),
        cache_dir: Some(scratch.path().join("cache")),
        no_cache: false,
        check_reproducible: false,
        sbom: args.sbom.as_ref().map(|_| scratch.path().join("sbom.json")),
        ..args.clone()
    };
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" \"$@\"")
        .arg(exe)
        .args(again.to_args())
        .env("TZ", "Pacific/Chatham")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eoutln!("error: the second build (umask 077, TZ=Pacific/Chatham, empty cache) failed");
        return ExitStatus::Error;
    }
    let sboms = args.sbom.as_ref().map(|first| {
        (
            std::fs::read(first).ok(),
            std::fs::read(scratch.path().join("sbom.json")).ok(),
        )
    });
    let sbom_differs = sboms.is_some_and(|(a, b)| a.is_none() || a != b);
    match builder::compare::images(first, &second).map(|mut diffs| {
        if sbom_differs {
            diffs.push("the SBOM (--sbom) differs".to_owned());
        }
        diffs
    }) {
        Ok(diffs) if diffs.is_empty() => {
            outln!(
                "reproducible: a second build with umask 077, TZ=Pacific/Chatham and an empty cache gave the same manifest digest"
            );
            ExitStatus::Success
        }
        Ok(diffs) => {
            eoutln!(
                "NOT reproducible: a second build (umask 077, TZ=Pacific/Chatham, empty cache) differs:"
            );
            for d in diffs {
                eoutln!("  {d}");
            }
            ExitStatus::Failure
        }
        Err(e) => {
            eoutln!("error: cannot compare the two builds: {e}");
            ExitStatus::Error
        }
    }
}

impl BuildArgs {
    /// The command line that parses back to these arguments (`build` first). Every field
    /// is named, so a new flag cannot be left out of the second build by accident.
    pub fn to_args(&self) -> Vec<OsString> {
        let Self {
            spec,
            base,
            out,
            format,
            base_image,
            wheels,
            pip,
            pip_only,
            cache_dir,
            no_cache,
            tag,
            check_reproducible,
            sbom,
        } = self;
        let mut args: Vec<OsString> = vec!["build".into()];
        let mut flag = |name: &str, value: &dyn AsRef<std::ffi::OsStr>| {
            args.push(format!("--{name}").into());
            args.push(value.as_ref().to_owned());
        };
        flag("base", base);
        flag("out", out);
        flag(
            "format",
            &match format {
                ImageFormat::Oci => "oci",
                ImageFormat::OciArchive => "oci-archive",
            },
        );
        if let Some(b) = base_image {
            flag("base-image", b);
        }
        if let Some(w) = wheels {
            flag("wheels", w);
        }
        flag("pip", pip);
        if let Some(c) = cache_dir {
            flag("cache-dir", c);
        }
        flag("tag", tag);
        if let Some(s) = sbom {
            flag("sbom", s);
        }
        if *no_cache {
            args.push("--no-cache".into());
        }
        if *pip_only {
            args.push("--pip-only".into());
        }
        if *check_reproducible {
            args.push("--check-reproducible".into());
        }
        // Last, after `--`: a spec path that starts with `-` is still the spec.
        if let Some(spec) = spec {
            args.push("--".into());
            args.push(spec.into());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parsed(words: &[&str]) -> crate::cli::BuildArgs {
        match Cli::parse_from(std::iter::once("fabuild").chain(words.iter().copied())).command {
            Command::Build(parsed) => parsed,
            other => panic!("not a build: {other:?}"),
        }
    }

    fn round_trip(words: &[&str]) {
        let first = parsed(words);
        let again: Vec<String> = first
            .to_args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let again: Vec<&str> = again.iter().map(String::as_str).collect();
        assert_eq!(parsed(&again), first, "{again:?}");
    }

    #[test]
    fn the_second_build_is_given_every_argument_of_the_first() {
        round_trip(&[
            "build",
            "svc/app.yaml",
            "--base",
            "oci:base",
            "--out",
            "img.tar",
            "--format",
            "oci-archive",
            "--base-image",
            "python:3.12-slim",
            "--wheels",
            "wheels",
            "--pip",
            "/usr/bin/pip3",
            "--cache-dir",
            "cache",
            "--tag",
            "v1",
            "--sbom",
            "sbom.json",
            "--check-reproducible",
        ]);
        round_trip(&[
            "build",
            "--base",
            "b",
            "--out",
            "o",
            "--no-cache",
            "--",
            "-odd.yaml",
        ]);
        round_trip(&["build", "--base", "b", "--out", "o"]);
    }
}
