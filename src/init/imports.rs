//! `Imports`: what each name bound by `import` statements in one Python file refers to.
//!
//! Read from the source text line by line, no Python parser: detection only needs to
//! know that `F` in `from fastapi import FastAPI as F` is `fastapi.FastAPI`. Limits:
//! names rebound by assignment or imported inside `try`/`if` blocks are taken as written.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Imports {
    /// Local name -> fully qualified name (`F` -> `fastapi.FastAPI`, `fa` -> `fastapi`).
    names: HashMap<String, String>,
    /// Modules imported with `from M import *`.
    stars: Vec<String>,
}

impl Imports {
    /// Collects every import in `lines` (logical lines, comments already removed).
    pub fn collect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut imports = Self::default();
        for line in lines {
            imports.add(line.trim());
        }
        imports
    }

    fn add(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("from ") {
            let Some((module, names)) = rest.split_once(" import ") else {
                return;
            };
            let module = module.trim();
            // Relative imports (`from .app import x`) stay relative: they name project modules,
            // never a framework, and the caller resolves them against the file's package.
            let names = names.trim().trim_start_matches('(').trim_end_matches(')');
            for item in names.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                if item == "*" {
                    self.stars.push(module.to_owned());
                    continue;
                }
                let (name, local) = split_as(item);
                let qualified = if module.ends_with('.') {
                    format!("{module}{name}")
                } else {
                    format!("{module}.{name}")
                };
                self.names.insert(local.to_owned(), qualified);
            }
        } else if let Some(rest) = line.strip_prefix("import ") {
            for item in rest.split(',') {
                let (module, local) = split_as(item.trim());
                if local == module {
                    // `import falcon.asgi` binds `falcon`; `falcon.asgi.App` then resolves through it.
                    let top = module.split('.').next().unwrap_or(module);
                    self.names.insert(top.to_owned(), top.to_owned());
                } else {
                    self.names.insert(local.to_owned(), module.to_owned());
                }
            }
        }
    }

    /// The qualified names a dotted expression like `fa.FastAPI` may refer to: through the
    /// import of its first part, else through each star import, else itself.
    pub fn resolve(&self, dotted: &str) -> Vec<String> {
        let (first, rest) = match dotted.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (dotted, None),
        };
        if let Some(target) = self.names.get(first) {
            return vec![match rest {
                Some(rest) => format!("{target}.{rest}"),
                None => target.clone(),
            }];
        }
        let mut all: Vec<String> = self.stars.iter().map(|m| format!("{m}.{dotted}")).collect();
        all.push(dotted.to_owned());
        all
    }
}

/// `name as alias` -> (`name`, `alias`); `name` -> (`name`, `name`).
fn split_as(item: &str) -> (&str, &str) {
    match item.split_once(" as ") {
        Some((name, alias)) => (name.trim(), alias.trim()),
        None => (item, item),
    }
}

#[cfg(test)]
mod tests {
    use super::Imports;

    #[test]
    fn aliases_and_modules_resolve_to_qualified_names() {
        let imports = Imports::collect([
            "from fastapi import FastAPI as F, Request",
            "import falcon.asgi",
            "import bottle as b",
            "from flask import *",
        ]);
        assert_eq!(imports.resolve("F"), ["fastapi.FastAPI"]);
        assert_eq!(imports.resolve("falcon.asgi.App"), ["falcon.asgi.App"]);
        assert_eq!(imports.resolve("b.Bottle"), ["bottle.Bottle"]);
        assert_eq!(imports.resolve("Flask"), ["flask.Flask", "Flask"]);
    }
}
