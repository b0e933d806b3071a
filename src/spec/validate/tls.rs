//! TLS: where the key and certificate are mounted, and how they are read (docs/rules.md, "TLS").

use serde_saphyr::Spanned;

use crate::gunicorn::rules::SCRATCH_DIRS;
use crate::layout::APP_DIR;
use crate::rules;
use crate::spec::model::Tls;
use crate::spec::raw::RawTls;

use super::app::SYSTEM_DIRS;
use super::{Validator, is_clean_absolute, plain_path, under};

impl Validator<'_> {
    pub(super) fn tls(&mut self, raw: &RawTls) -> Option<Tls> {
        let dir = self.text("tls.dir", &raw.dir);
        let dir_ok = self.tls_dir(&dir, &raw.dir);
        let certfile = raw
            .certfile
            .as_ref()
            .map(|c| (self.text("tls.certfile", c), c));
        let keyfile = raw
            .keyfile
            .as_ref()
            .map(|k| (self.text("tls.keyfile", k), k));
        let ca_certs = raw
            .ca_certs
            .as_ref()
            .map(|c| (self.text("tls.ca_certs", c), c));
        let (certfile, keyfile) = match (certfile, keyfile) {
            (Some(c), Some(k)) => (c, k),
            (Some((_, at)), None) => {
                self.error(
                    rules::TLS_PAIR,
                    at,
                    "certfile without keyfile",
                    "add `keyfile:`; gunicorn needs both to serve TLS",
                );
                return None;
            }
            (None, Some((_, at))) => {
                self.error(
                    rules::TLS_PAIR,
                    at,
                    "keyfile without certfile",
                    "add `certfile:`; gunicorn needs both to serve TLS",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    rules::TLS_PAIR,
                    &raw.dir,
                    "tls has neither keyfile nor certfile",
                    "add `certfile:` and `keyfile:` (file names inside tls.dir), or remove the tls section to serve plain HTTP",
                );
                return None;
            }
        };
        if !dir_ok {
            // Where the files are cannot be judged against a directory that is itself wrong.
            return None;
        }
        let certfile = self.tls_file("tls.certfile", &dir, certfile);
        let keyfile = self.tls_file("tls.keyfile", &dir, keyfile);
        let ca_certs = ca_certs.map(|c| self.tls_file("tls.ca_certs", &dir, c));
        Some(Tls {
            dir,
            certfile,
            keyfile,
            ca_certs,
        })
    }

    pub(super) fn tls_dir(&mut self, dir: &str, at: &Spanned<String>) -> bool {
        if !is_clean_absolute(dir) {
            self.error(
                rules::TLS_DIR_LOCATION,
                at,
                format!("tls.dir `{dir}` is not a clean absolute path"),
                "write an absolute directory without `.`, `..`, `//` or a trailing `/`, for example `/opt/key`",
            );
            return false;
        }
        if SCRATCH_DIRS.contains(&dir) {
            self.error(
                rules::TLS_DIR_LOCATION,
                at,
                format!("tls.dir `{dir}` cannot be used: the manifests mount a writable volume of their own there"),
                "mount the key and certificate in a directory of their own, for example `/opt/key`",
            );
            return false;
        }
        if let Some(system) = SYSTEM_DIRS
            .iter()
            .find(|s| dir == "/" || under(dir, s) || under(s, dir))
        {
            let why = if dir == "/" || under(system, dir) {
                format!("a volume at `{dir}` would hide `{system}`")
            } else if *system == APP_DIR {
                "it is inside the app directory: the keys would sit with the code and could be copied into the image".to_owned()
            } else {
                format!("it is inside `{system}`, which the image needs")
            };
            self.error(
                rules::TLS_DIR_LOCATION,
                at,
                format!("tls.dir `{dir}` cannot be used: {why}"),
                "mount the key and certificate in a directory of their own, for example `/opt/key`",
            );
            return false;
        }
        true
    }

    pub(super) fn tls_file(
        &mut self,
        field: &str,
        dir: &str,
        (name, at): (String, &Spanned<String>),
    ) -> String {
        let full = if name.starts_with('/') {
            name.clone()
        } else {
            format!("{dir}/{name}")
        };
        if !is_clean_absolute(&full) || !under(&full, dir) || full == dir {
            self.error(
                rules::TLS_FILE_OUTSIDE_DIR,
                at,
                format!("{field} `{name}` is not under the TLS mount `{dir}`"),
                format!("give a file name inside {dir}; only that directory is mounted, and nothing else may hold key material"),
            );
        } else if !plain_path(&full) {
            self.error(
                rules::TLS_FILE_OUTSIDE_DIR,
                at,
                format!("{field} `{name}` has characters fabuild does not put in a path"),
                "rename it using letters, digits, `.`, `_`, `-`",
            );
        }
        full
    }
}
