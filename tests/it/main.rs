//! fabuild's integration tests: one binary, one module per topic.

mod cli;
mod examples;
mod init;
mod oracle_quoting;
mod regenerate;
mod rules_doc;
mod schema;
mod templates;
mod util;
