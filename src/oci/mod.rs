//! OCI images on disk: image layouts (directories), `oci-archive` and `docker save` tars.
//!
//! `image::open` finds the manifest and config for a platform and checks the small blobs;
//! `layer::read_layer` streams one layer's tar, hashing it on the way. The types of the
//! index, manifest and config come from the `oci-spec` crate.

pub mod content;
pub mod digest;
pub mod gzip;
pub mod image;
pub mod layer;
pub mod machine;
pub mod referrer;
pub mod remote;
pub mod store;
pub mod tarstream;
pub mod writer;

pub use image::{BlobCheck, Format, Found, Image, LayerRef, Platform};
pub use machine::Machine;

/// Why an image could not be read at all (as opposed to read and found wrong).
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not an image: {why}")]
    NotAnImage { path: String, why: String },
    #[error("the image has no {wanted} manifest; it has {available}")]
    NoPlatform { wanted: String, available: String },
    #[error("`{0}` is not a platform; write os/arch or os/arch/variant, e.g. linux/amd64")]
    BadPlatform(String),
}
