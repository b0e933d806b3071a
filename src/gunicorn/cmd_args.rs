//! `CmdArgs`: a `GUNICORN_CMD_ARGS` value read the way gunicorn reads it, split then parsed.

use super::argparse::{ParseError, Parsed, Parser};
use super::settings::Version;
use super::shlex::{self, SplitError, Word};

/// The variable after `shlex.split` and gunicorn's argparse: the words with their offsets
/// in the text, and what each setting got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdArgs {
    pub words: Vec<Word>,
    pub parsed: Parsed,
}

/// Why gunicorn would refuse the variable (and not start).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// `shlex.split` raised; gunicorn dies with a traceback.
    #[error("{0}")]
    Split(#[from] SplitError),
    /// argparse refused the words; gunicorn prints usage and exits 2 (or 0 for help/version).
    #[error("{error}")]
    Parse { words: Vec<Word>, error: ParseError },
}

impl ReadError {
    /// The oracle's name for the kind of failure.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Split(_) => "shlex",
            Self::Parse { error, .. } => error.class(),
        }
    }
}

impl CmdArgs {
    /// Reads `text` as gunicorn `version` would.
    pub fn read(text: &str, version: Version) -> Result<Self, ReadError> {
        let words = shlex::split_words(text)?;
        let argv: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        match Parser::new(version).parse(&argv) {
            Ok(parsed) => Ok(Self { words, parsed }),
            Err(error) => Err(ReadError::Parse { words, error }),
        }
    }

    pub fn argv(&self) -> Vec<String> {
        self.words.iter().map(|w| w.text.clone()).collect()
    }
}
