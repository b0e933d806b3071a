//! Quoting proved by the real parsers: a Dockerfile parser (dockerfile-parse) reads the ENV
//! and LABEL values back, and Python's `shlex.split` (what gunicorn runs) splits
//! `GUNICORN_CMD_ARGS`; both must give back exactly what the plan decided.

use fabuild::gunicorn::shlex;
use fabuild::render::dockerfile_str;

use crate::util;

const READ_BACK: &str = r#"
import io, json, shlex, sys
from dockerfile_parse import DockerfileParser
cases = json.load(sys.stdin)
out = []
for dockerfile in cases:
    p = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode()))
    env = p.envs.get("GUNICORN_CMD_ARGS")
    out.append({"env": env, "argv": shlex.split(env), "label": p.labels.get("com.example.value")})
json.dump(out, sys.stdout)
"#;

/// Arguments a careless template would mangle: quotes of both kinds, backslashes, `$`,
/// spaces, globs, `#`, unicode, empty strings, and a value that looks like a flag.
fn nasty_argvs() -> Vec<Vec<String>> {
    let atoms = [
        "",
        " ",
        "a b",
        "it's",
        "say \"hi\"",
        "back\\slash",
        "trailing\\",
        "$HOME",
        "${PATH}",
        "$(id)",
        "`id`",
        "*.pem",
        "#comment",
        "semi;colon",
        "pipe|x",
        "amp&",
        "<in>",
        "tab-free",
        "ünïcødé",
        "--looks-like-a-flag",
        "'",
        "\"",
        "\\\"",
        "'\"'\"'",
        "=",
        "%s %(h)s",
        "\\$",
        "a\\ b",
    ];
    let mut cases: Vec<Vec<String>> = atoms
        .iter()
        .map(|a| vec![format!("--access-logformat={a}")])
        .collect();
    cases.push(atoms.iter().map(|a| (*a).to_owned()).collect());
    // Pairs, deterministically, so combinations of quoting contexts meet.
    for (i, a) in atoms.iter().enumerate() {
        let b = atoms[(i * 7 + 3) % atoms.len()];
        cases.push(vec![format!("--bind={a}"), b.to_owned(), format!("{a}{b}")]);
    }
    cases
}

#[test]
fn dockerfile_parser_and_shlex_give_back_the_planned_argv() {
    let argvs = nasty_argvs();
    let dockerfiles: Vec<String> = argvs
        .iter()
        .map(|argv| {
            let value = shlex::join(argv);
            let label = argv.join(" ");
            format!(
                "FROM scratch\nLABEL com.example.value={} \\\n      other=\"x\"\nENV A=\"1\" \\\n    GUNICORN_CMD_ARGS={}\n",
                dockerfile_str(&label),
                dockerfile_str(&value)
            )
        })
        .collect();
    let read = util::python_json(
        READ_BACK,
        serde_json::to_string(&dockerfiles).unwrap().as_bytes(),
    );
    let results = read.as_array().unwrap();
    assert_eq!(results.len(), argvs.len());
    for ((argv, result), dockerfile) in argvs.iter().zip(results).zip(&dockerfiles) {
        assert_eq!(
            result["env"],
            shlex::join(argv),
            "ENV value changed by the Dockerfile parser:\n{dockerfile}"
        );
        let got: Vec<String> = serde_json::from_value(result["argv"].clone()).unwrap();
        assert_eq!(
            &got, argv,
            "shlex.split did not give back the argv:\n{dockerfile}"
        );
        assert_eq!(
            result["label"],
            argv.join(" "),
            "LABEL value changed:\n{dockerfile}"
        );
    }
}

/// The same on real generated Dockerfiles: every example's ENV and LABEL values read back
/// equal the plan's, and `GUNICORN_CMD_ARGS` splits into the planned argv.
#[test]
fn example_dockerfiles_read_back_as_planned() {
    let script = r#"
import io, json, shlex, sys
from dockerfile_parse import DockerfileParser
p = DockerfileParser(fileobj=io.BytesIO(sys.stdin.buffer.read()))
json.dump({"env": p.envs, "labels": p.labels, "argv": shlex.split(p.envs["GUNICORN_CMD_ARGS"])}, sys.stdout)
"#;
    for dir in util::examples() {
        let checked = fabuild::check::check(&dir.join("app.yaml"), "app.yaml").unwrap();
        let plan = fabuild::plan::plan(&checked.spec, &fabuild::plan::Overrides::default());
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let read = util::python_json(script, dockerfile.as_bytes());
        for (key, value) in &plan.env {
            assert_eq!(read["env"][key], *value, "{}: ENV {key}", dir.display());
        }
        for (key, value) in &plan.labels {
            assert_eq!(
                read["labels"][key],
                *value,
                "{}: LABEL {key}",
                dir.display()
            );
        }
        let argv: Vec<String> = serde_json::from_value(read["argv"].clone()).unwrap();
        assert_eq!(argv, plan.argv, "{}", dir.display());
    }
}
