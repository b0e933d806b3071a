//! The image's `Env` with the plan's variables set the way Dockerfile `ENV` sets them:
//! replaced in place where the base has the variable, appended where it does not.
//!
//! One pass over the base's entries, edited in place: a base config can list hundreds of
//! thousands of them, and looking each planned variable up among all of them, or copying
//! them into pairs, cost time and memory in proportion to both.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// Sets `planned` in `env` (an image config's `Env` array). Entries that are not strings
/// are dropped and an entry without `=` becomes `NAME=`, as a runtime reads them.
pub fn apply(env: &mut Vec<Value>, planned: &[(String, String)]) {
    env.retain(Value::is_string);
    let wanted: HashSet<&str> = planned.iter().map(|(k, _)| k.as_str()).collect();
    let mut first: HashMap<String, usize> = HashMap::new();
    for (at, item) in env.iter_mut().enumerate() {
        let Value::String(text) = item else {
            continue;
        };
        if !text.contains('=') {
            text.push('=');
        }
        let key = text.split_once('=').map_or(text.as_str(), |(k, _)| k);
        if wanted.contains(key) && !first.contains_key(key) {
            first.insert(key.to_owned(), at);
        }
    }
    for (key, value) in planned {
        let entry = Value::from(format!("{key}={value}"));
        match first.get(key) {
            Some(&at) => env[at] = entry,
            None => {
                first.insert(key.clone(), env.len());
                env.push(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_in_place_appends_the_rest_and_keeps_the_order() {
        let mut env: Vec<Value> = ["PATH=/bin", "LANG", "A=1", "PATH=/other"]
            .into_iter()
            .map(Value::from)
            .chain([Value::from(5)])
            .collect();
        let planned = [
            ("PATH".to_owned(), "/opt/venv/bin:/bin".to_owned()),
            ("NEW".to_owned(), "x=y".to_owned()),
        ];
        apply(&mut env, &planned);
        assert_eq!(
            env,
            [
                "PATH=/opt/venv/bin:/bin",
                "LANG=",
                "A=1",
                "PATH=/other",
                "NEW=x=y"
            ]
            .map(Value::from)
        );
    }
}
