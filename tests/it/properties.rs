//! Properties over thousands of generated specs whose free-text values are hostile
//! (quotes, backslashes, `$`, spaces, `#`, unicode), checked by real parsers:
//! (a) no value changes the Dockerfile's instructions (count and kinds),
//! (b) every ENV and LABEL value read back by a Dockerfile parser equals the plan's,
//! (c) Python's `shlex.split` of `GUNICORN_CMD_ARGS` gives back the planned argv,
//! (d) `fabuild explain` finds no error in that `GUNICORN_CMD_ARGS`: what `gen` accepts,
//!     `explain` does not refuse.

use fabuild::check::check_text;
use fabuild::explain::explain;
use fabuild::gunicorn::advice::Lang;
use fabuild::gunicorn::rules::Context;
use fabuild::plan::{Overrides, plan};
use fabuild::render::{self, Paths};

use crate::util;

const CASES: usize = 10_000;

/// A small deterministic generator (xorshift64*), so a failure is reproducible by its index.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    /// Text made of the characters a careless generator gets wrong.
    fn nasty(&mut self) -> String {
        const ATOMS: &[&str] = &[
            "\"", "'", "\\", "$", "${PATH}", "$(id)", "`id`", " ", "#", "%(h)s", "=", "*", ";",
            "|", "&", "<", ">", "é", "漢", "🙂", "\u{a0}", "a", "Z", "0", "-", "--x", "\\\"",
            "\\$", "'\"'", "{{", "}}", "{%", ",", ":",
        ];
        let len = 1 + self.below(8);
        (0..len).map(|_| self.pick(ATOMS)).collect()
    }
}

/// A YAML double-quoted scalar holding exactly `text`.
fn yaml_str(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn spec(g: &mut Gen, index: usize, nasty: bool) -> String {
    // Draw the hostile text either way, so both twins consume the same random numbers.
    let text = |g: &mut Gen| {
        let hostile = g.nasty();
        if nasty { hostile } else { "x".to_owned() }
    };
    let asgi = g.below(2) == 0;
    let mut spec = format!(
        "version: 1\nname: svc-{index}\napp:\n  module: pkg.mod{}:app\n  interface: {}\nserver:\n  port: {}\n  workers: {}\n",
        g.below(100),
        if asgi { "asgi" } else { "wsgi" },
        1024 + g.below(60_000),
        1 + g.below(16)
    );
    // app.writable (a RUN step, .dockerignore entries): none to three disjoint entries.
    let writable: Vec<&str> = ["instance", "var/uploads", "/var/lib/svc", "data.d/x_y-Z"]
        .into_iter()
        .filter(|_| g.below(3) == 0)
        .collect();
    if !writable.is_empty() {
        spec = spec.replacen(
            "\nserver:\n",
            &format!("\n  writable: [{}]\nserver:\n", writable.join(", ")),
            1,
        );
    }
    spec.push_str("  extra_args:\n");
    spec.push_str(&format!(
        "    - {}\n",
        yaml_str(&format!("--access-logformat={}", text(g)))
    ));
    spec.push_str(&format!(
        "    - {}\n",
        yaml_str(&format!("--name={}", text(g)))
    ));
    if g.below(3) == 0 {
        spec.push_str(&format!(
            "    - {}\n",
            yaml_str(&format!("--env=APP_NOTE={}", text(g)))
        ));
    }
    if g.below(2) == 0 {
        spec.push_str(&format!(
            "tls:\n  dir: /opt/{}\n  certfile: c.pem\n  keyfile: k.pem\n",
            g.pick(&["key", "tls", "certs/x"])
        ));
    }
    spec.push_str(&format!(
        "user:\n  uid: {}\n  gid: {}\nlabels:\n",
        1 + g.below(60_000),
        1 + g.below(60_000)
    ));
    for i in 0..=g.below(4) {
        spec.push_str(&format!("  com.example.l{i}: {}\n", yaml_str(&text(g))));
    }
    spec.push_str("env:\n");
    for i in 0..=g.below(4) {
        spec.push_str(&format!("  APP_V{i}: {}\n", yaml_str(&text(g))));
    }
    spec
}

const READ_BACK: &str = r#"
import io, json, shlex, sys
from dockerfile_parse import DockerfileParser
out = []
for case in json.load(sys.stdin):
    p, skeleton = (DockerfileParser(fileobj=io.BytesIO(case[k].encode()))
                   for k in ("dockerfile", "skeleton"))
    env = p.envs
    out.append({
        "shape": [i["instruction"] for i in p.structure],
        "skeleton": [i["instruction"] for i in skeleton.structure],
        "env": env, "labels": p.labels,
        "argv": shlex.split(env.get("GUNICORN_CMD_ARGS", "")),
    })
json.dump(out, sys.stdout)
"#;

fn render_dockerfile(text: &str) -> Option<(fabuild::plan::Plan, String)> {
    let project = std::env::temp_dir();
    let checked = check_text(text, "app.yaml", &project).ok()?;
    let plan = plan(&checked.spec, &Overrides::default());
    let paths = Paths::new("", None);
    let files = render::render(&plan, &paths, None).unwrap();
    let dockerfile = files
        .into_iter()
        .find(|f| f.name == "Dockerfile")
        .unwrap()
        .body;
    Some((plan, dockerfile))
}

/// The generated cases are checked in four parts, so the test runner spreads them over the
/// machine's cores; a failure names the case's index, which reproduces it.
const PARTS: usize = 4;

#[test]
fn hostile_values_never_change_the_dockerfile_and_read_back_exactly_part_1() {
    hold_over_part(0);
}

#[test]
fn hostile_values_never_change_the_dockerfile_and_read_back_exactly_part_2() {
    hold_over_part(1);
}

#[test]
fn hostile_values_never_change_the_dockerfile_and_read_back_exactly_part_3() {
    hold_over_part(2);
}

#[test]
fn hostile_values_never_change_the_dockerfile_and_read_back_exactly_part_4() {
    hold_over_part(3);
}

fn hold_over_part(part: usize) {
    let indices = part * CASES / PARTS..(part + 1) * CASES / PARTS;
    let generated = indices.len();
    let mut cases = Vec::new();
    let mut plans = Vec::new();
    for index in indices {
        // The same seed twice: once with hostile text, once with plain `x` in its place.
        let seed = 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1);
        let hostile = spec(&mut Gen(seed), index, true);
        let plain = spec(&mut Gen(seed), index, false);
        let Some((planned, dockerfile)) = render_dockerfile(&hostile) else {
            continue;
        };
        let (_, skeleton) =
            render_dockerfile(&plain).expect("the plain twin of an accepted spec is accepted");
        cases.push(serde_json::json!({"dockerfile": dockerfile, "skeleton": skeleton}));
        plans.push((index, planned, dockerfile));
    }
    assert!(
        cases.len() * 10 >= generated * 9,
        "only {} of {generated} generated specs were accepted",
        cases.len()
    );
    let results = util::python_json(READ_BACK, serde_json::to_string(&cases).unwrap().as_bytes());
    for ((index, plan, dockerfile), read) in plans.iter().zip(results.as_array().unwrap()) {
        let ctx = || format!("case {index}:\n{dockerfile}");
        assert_eq!(
            read["shape"],
            read["skeleton"],
            "(a) a value changed the instructions, {}",
            ctx()
        );
        for (key, value) in &plan.env {
            assert_eq!(read["env"][key], *value, "(b) ENV {key}, {}", ctx());
        }
        for (key, value) in &plan.labels {
            assert_eq!(read["labels"][key], *value, "(b) LABEL {key}, {}", ctx());
        }
        let argv: Vec<String> = serde_json::from_value(read["argv"].clone()).unwrap();
        assert_eq!(argv, plan.argv, "(c) shlex.split, {}", ctx());
        let review = explain(
            &plan.gunicorn_cmd_args,
            "app.yaml",
            &Context {
                uid: plan.uid,
                tls_mounted: plan.tls.is_some(),
                ..Context::default()
            },
        );
        assert!(
            review.accepted && !review.has_errors(),
            "(d) explain: {}, {}",
            review.render_text(Lang::En),
            ctx()
        );
    }
    eprintln!(
        "properties, part {} of {PARTS}: {} accepted specs of {generated} generated, all four properties hold",
        part + 1,
        plans.len()
    );
}
