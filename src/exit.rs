//! How a command ends: its `ExitStatus`, and what an error that stopped it says.

use std::fmt::Display;

/// A command's verdict, as its exit code tells it. With several specs, the worst wins
/// (the order of the variants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: done, nothing wrong.
    #[default]
    Success,
    /// 1: findings, drift, a failed check or a refused overwrite.
    Failure,
    /// 2: a usage error or input that could not be read.
    Error,
}

impl ExitStatus {
    /// `Failure` when `failed`, else `Success`.
    pub fn failure_if(failed: bool) -> Self {
        if failed { Self::Failure } else { Self::Success }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Error => 2,
        }
    }
}

/// An error that stops a command: its message (`Display`), its exit status, and what to do
/// about it when there is more to say than the message.
pub trait CommandError: Display {
    fn exit_status(&self) -> ExitStatus;

    fn help(&self) -> Option<String> {
        None
    }
}
