//! Everything the binary prints goes through here, for two reasons.
//!
//! Messages quote input: an ENV line of a Dockerfile, an image's config, a project's
//! `.python-version`. Text is shown with every control character but line feed and tab as
//! U+FFFD, so an escape sequence or a carriage return in that input cannot act on the
//! terminal or overwrite what was printed before it. JSON keeps every value exact, with all
//! control characters escaped, with one exception shared with text: a URL's password
//! (`https://user:secret@host/`, which FAB094 refuses in a spec) is shown as `user:***@host`.
//!
//! The reader may go away: `fabuild explain ... | head -n 3` closes the pipe early. That is
//! not an error; fabuild stops printing and exits with the code its verdict gives. Any other
//! failure to write standard output (a full disk under `> plan.json`) is reported on stderr
//! and makes the exit code 2, so a cut-off file is not taken for a whole one.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use fabuild::diagnostic::{mask_credentials, printable};
use fabuild::exit::ExitStatus;

/// Standard output can no longer be written (closed by its reader, or failed).
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Standard output failed for a reason other than its reader going away.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// `text` with every control character but line feed and tab shown as U+FFFD.
pub fn safe(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// JSON text with DEL and the C1 control characters (U+0080 to U+009F; U+009B starts an
/// escape sequence in some terminals) escaped as `\u00XX`, which JSON does not require and
/// `serde_json` does not do; it escapes the C0 ones. They can only stand inside strings, so
/// every value reads back the same.
///
/// The password of any URL in a value is masked too (`user:***@host`), as in text.
pub fn json_safe(json: &str) -> String {
    let json = mask_credentials(json);
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `text` to standard output as it is: for JSON made safe by `json_safe` and for
/// text already made safe.
pub fn stdout_raw(text: &str) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if err.kind() != ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            stderr_raw(&format!("error: cannot write to standard output: {err}\n"));
        }
    }
}

/// Writes `text` to stderr as it is: for findings, which `render_text` made safe and may
/// have coloured. A stderr that cannot be written leaves nowhere to say so.
pub fn stderr_raw(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The exit code of `status`, made 2 (`Error`) if standard output failed.
pub fn exit_code(status: ExitStatus) -> u8 {
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        status.max(ExitStatus::Error).code()
    } else {
        status.code()
    }
}

/// `print!`, made safe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::stdout_raw(&$crate::console::safe(&format!($($arg)*)))
    };
}

/// `println!`, made safe.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::console::stdout_raw(&$crate::console::safe(&format!("{}\n", format_args!($($arg)*))))
    };
}

/// `eprint!`, made safe.
macro_rules! eout {
    ($($arg:tt)*) => {
        $crate::console::stderr_raw(&$crate::console::safe(&format!($($arg)*)))
    };
}

/// `eprintln!`, made safe.
macro_rules! eoutln {
    ($($arg:tt)*) => {
        $crate::console::stderr_raw(&$crate::console::safe(&format!("{}\n", format_args!($($arg)*))))
    };
}

pub(crate) use {eout, eoutln, out, outln};

#[cfg(test)]
mod tests {
    use super::{json_safe, safe};

    #[test]
    fn json_keeps_its_values_and_loses_its_c1_controls() {
        let value = serde_json::json!({"v": "a\u{9b}31m\u{7f}\u{85}b\u{a0}\u{1b}"});
        let text = json_safe(&serde_json::to_string(&value).unwrap());
        assert_eq!(
            text, "{\"v\":\"a\\u009b31m\\u007f\\u0085b\u{a0}\\u001b\"}",
            "NBSP (U+00A0) is text and stays"
        );
        assert!(!text.chars().any(char::is_control));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }

    #[test]
    fn escape_sequences_and_carriage_returns_are_shown_not_sent() {
        assert_eq!(
            safe("a\x1b[2Jb\r\n\tc\u{9b}31m\0"),
            "a\u{fffd}[2Jb\u{fffd}\n\tc\u{fffd}31m\u{fffd}"
        );
    }
}
