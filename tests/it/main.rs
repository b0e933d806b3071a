//! fabuild's integration tests, one binary (linking one is much faster than many).

mod explain;
mod extra_args;
mod oracle;
