//! What fabuild knows about gunicorn: how `GUNICORN_CMD_ARGS` is split and read.

pub mod shlex;
