//! fabuild's integration tests: one binary, one module per topic.

mod cli;
mod examples;
mod image_writer;
mod oracle_quoting;
mod regenerate;
mod rules_doc;
mod templates;
mod util;
mod verify;
