//! `build.index_url` and `build.index_secret` (docs/rules.md, FAB094): a private index the
//! install step reaches with credentials from a build secret, never from the URL.

use crate::defaults;
use crate::net::index_auth::{has_userinfo, host_of};
use crate::rules;
use crate::spec::model::Index;
use crate::spec::raw::RawSpec;

use super::Validator;

impl Validator<'_> {
    pub(super) fn index(&mut self, raw: &RawSpec) -> Option<Index> {
        let build = &raw.build;
        let Some(at) = &build.index_url else {
            if let Some(secret) = &build.index_secret {
                self.error(
                    rules::INDEX_URL,
                    secret,
                    "build.index_secret without build.index_url",
                    "name the index too (build.index_url), or remove index_secret",
                );
            }
            return None;
        };
        let url = self.text("build.index_url", at);
        if has_userinfo(&url) {
            self.error(
                rules::INDEX_URL,
                at,
                "build.index_url carries credentials",
                "remove `user:password@`: the URL is written into the Dockerfile and the image history; put the credentials in a netrc file passed as the build secret (build.index_secret)",
            );
        } else if !url.starts_with("https://") && !url.starts_with("http://")
            || host_of(&url).is_none()
            || url
                .contains(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '\\' | '$' | '`'))
        {
            self.error(
                rules::INDEX_URL,
                at,
                format!("`{url}` is not an http(s) URL of a package index"),
                "give the index's simple API, for example `https://pypi.corp.example/simple/`",
            );
        } else if url.starts_with("http://") {
            self.warn(
                rules::INDEX_URL,
                at,
                format!("`{url}` sends the index's credentials unencrypted"),
                "use https:// (add the index's CA with build.ca_secret if it is private)",
            );
        }
        let secret = match &build.index_secret {
            None => defaults::INDEX_SECRET.to_owned(),
            Some(s) => {
                let id = self.text("build.index_secret", s);
                self.secret_id(&id, s, defaults::INDEX_SECRET);
                id
            }
        };
        Some(Index { url, secret })
    }
}
