//! The JSON Schema of app.yaml, for editors and CI linters.
//!
//! It lives in `schema/app.schema.json` so it can be published and read as a file; the
//! binary embeds it so `fabuild schema` always prints the schema of the spec it reads;
//! `schema/platform.schema.json`, a platform file's (`fabuild schema --platform`), likewise.
//! `tests/it/schema.rs` keeps it in step with the `Raw*` types.

/// The schema text, JSON Schema draft 2020-12.
pub const APP_SCHEMA: &str = include_str!("../schema/app.schema.json");

/// The schema of a platform file (`extends:`), printed by `fabuild schema --platform`.
pub const PLATFORM_SCHEMA: &str = include_str!("../schema/platform.schema.json");
