//! fabuild's integration tests: one binary, one module per topic.

mod cli;
mod examples;
mod oracle_quoting;
mod regenerate;
mod rules_doc;
mod templates;
mod util;
