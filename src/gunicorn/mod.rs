//! What fabuild knows about gunicorn: its settings, how `GUNICORN_CMD_ARGS` is split and
//! parsed, and the rules a container deployment must follow.

pub mod advice;
pub mod argparse;
pub mod cmd_args;
pub mod ipaddress;
pub mod network;
pub mod pyint;
pub mod pystr;
pub mod rules;
pub mod settings;
pub mod shlex;
pub mod validators;
