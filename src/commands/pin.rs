//! `fabuild pin`: `python.base_image`'s tag resolved to a digest and written back into
//! app.yaml, changing only that value's bytes.

use fabuild::exit::ExitStatus;
use fabuild::net::registry::{self, Client, Reference};
use fabuild::pin;

use super::{default_spec, registry::write_atomic, spec_failure};
use crate::cli::{Format, PinArgs};
use crate::console::{eoutln, outln};

pub fn run(args: &PinArgs) -> ExitStatus {
    let path = default_spec(args.spec.as_ref());
    let display = path.display().to_string();
    let (source, raw) = match fabuild::spec::load::load(&path, &display) {
        Ok(loaded) => loaded,
        Err(err) => return spec_failure(&err, &display, Format::Text, false),
    };
    let Some(found) = pin::base_image(&source.text, &raw) else {
        eoutln!("error: {display} sets no python.base_image to pin");
        eoutln!(
            "help: add `base_image: python:X.Y-slim` under `python:`, then run `fabuild pin` again"
        );
        return ExitStatus::Error;
    };
    let reference = match Reference::parse(&found.value) {
        Ok(r) => r,
        Err(why) => {
            eoutln!("error: python.base_image: {why}");
            return ExitStatus::Error;
        }
    };
    let Some(tag) = reference.tag.clone() else {
        eoutln!(
            "error: python.base_image `{}` has a digest and no tag: nothing to resolve",
            found.value
        );
        eoutln!(
            "help: write the tag the digest came from (`name:tag@sha256:...`), so pin can move it"
        );
        return ExitStatus::Error;
    };
    let digest = match resolve(&reference, &tag, args) {
        Ok(d) => d,
        Err(err) => {
            eoutln!("error: cannot resolve {}: {err}", found.value);
            return ExitStatus::Error;
        }
    };
    let pinned = pin::with_digest(&found.value, &digest);
    if pinned == found.value {
        outln!("{display}: python.base_image is already {pinned}");
        return ExitStatus::Success;
    }
    let text = pin::replace(&source.text, &found, &pinned);
    if let Err(e) = write_atomic(&path, &text) {
        eoutln!("error: cannot write {display}: {e}");
        return ExitStatus::Error;
    }
    outln!("{display}: python.base_image {} -> {pinned}", found.value);
    ExitStatus::Success
}

fn resolve(
    reference: &Reference,
    tag: &str,
    args: &PinArgs,
) -> Result<String, registry::RegistryError> {
    let trust = registry::trust(&reference.host, args.registry_ca.as_deref())?;
    let mut client = Client::open(reference, &trust.options, false, &[])?;
    Ok(client.manifest(tag)?.digest)
}
