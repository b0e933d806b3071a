//! Platform files at fleet scale (issue 29): 200 generated services under one platform
//! file, its policy enforced with the breaking service named by file and line, `gen` and
//! `gen --check` over all of them; chains merged key by key with every value's origin;
//! the worker count capped by memory and the manifests carrying the same limit; `init`
//! finding the platform file above a project. (How long the 200 take is measured in
//! `benches/fleet.sh`, not here.)

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util;

const FLEET: usize = 200;
/// The one service that breaks the policy.
const BREAKER: usize = 137;

/// The platform file the fleet extends (benches/fleet.sh uses it too).
const PLATFORM: &str = include_str!("../fixtures/fleet/platform.yaml");

fn service(i: usize, extra_args: &str) -> String {
    let interface = if i.is_multiple_of(2) { "asgi" } else { "wsgi" };
    format!(
        "version: 1\nextends: ../platform.yaml\nname: svc-{i:03}\napp:\n  module: svc{i}.main:app\n  interface: {interface}\nlabels:\n  com.example.owner: owner-{i}\nserver:\n  port: {}\n{extra_args}",
        8000 + i
    )
}

/// The fleet under a fresh directory; service `BREAKER` adds `--preload`.
fn fleet() -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("platform.yaml"), PLATFORM).unwrap();
    let mut specs = Vec::new();
    for i in 0..FLEET {
        let dir = tmp.path().join(format!("svc-{i:03}"));
        fs::create_dir(&dir).unwrap();
        let extra = if i == BREAKER {
            "  extra_args: [--limit-request-line=8190, --preload]\n"
        } else {
            ""
        };
        fs::write(dir.join("app.yaml"), service(i, extra)).unwrap();
        specs.push(format!("svc-{i:03}/app.yaml"));
    }
    (tmp, specs)
}

fn run(dir: &Path, args: &[&str], specs: &[String]) -> Output {
    util::fabuild(dir)
        .env_remove("FABUILD_PLATFORM")
        .args(args)
        .args(specs)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn a_fleet_of_200_services_is_held_to_one_platform_file() {
    let (tmp, specs) = fleet();
    let dir = tmp.path();

    // check: 199 pass, the one that breaks the policy is named by file, line and column,
    // with the policy line it breaks.
    let out = run(dir, &["check"], &specs);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": ok")).count(),
        FLEET - 1
    );
    assert_eq!(stderr.matches("error[").count(), 1, "{stderr}");
    assert!(
        stderr.contains("error[FAB078]: `--preload` is a flag the platform forbids"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("--> svc-{BREAKER}/app.yaml:11:43")),
        "{stderr}"
    );
    assert!(
        stderr.contains("(policy.forbidden_extra_args: `--preload`, platform.yaml:21)"),
        "{stderr}"
    );

    // The same as JSON, one document per spec, for a CI dashboard.
    let out = run(dir, &["check", "--format", "json"], &specs);
    assert_eq!(out.status.code(), Some(1));
    let documents: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(documents.len(), FLEET);
    let failed: Vec<&serde_json::Value> = documents.iter().filter(|d| d["ok"] == false).collect();
    assert_eq!(failed.len(), 1);
    let finding = &failed[0]["findings"][0];
    assert_eq!(finding["rule"], "FAB078");
    assert_eq!(finding["file"], format!("svc-{BREAKER}/app.yaml"));
    assert_eq!(
        (finding["line"].as_u64(), finding["column"].as_u64()),
        (Some(11), Some(43))
    );

    // gen writes all 200 once the breaker is fixed; gen --check finds nothing to do.
    fs::write(
        dir.join(format!("svc-{BREAKER}/app.yaml")),
        service(BREAKER, ""),
    )
    .unwrap();
    let out = run(dir, &["gen"], &specs);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir, &["gen", "--check"], &specs);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // What the platform file says reached every service's files.
    for i in [0, 1, BREAKER, FLEET - 1] {
        let dockerfile = fs::read_to_string(dir.join(format!("svc-{i:03}/Dockerfile"))).unwrap();
        assert!(dockerfile.contains("LOG_LEVEL=\"info\""), "svc-{i:03}");
        assert!(
            dockerfile.contains("--limit-request-line=8190"),
            "svc-{i:03}"
        );
        let k8s = fs::read_to_string(dir.join(format!("svc-{i:03}/kubernetes.yaml"))).unwrap();
        assert!(
            k8s.contains("replicas: 3") && k8s.contains("memory: \"1Gi\""),
            "svc-{i:03}:\n{k8s}"
        );
    }

    // A change to the platform file is a change to every service: gen --check says so.
    fs::write(
        dir.join("platform.yaml"),
        PLATFORM.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"),
    )
    .unwrap();
    let out = run(dir, &["gen", "--check"], &specs);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr) + &text(&out.stdout);
    for i in 0..FLEET {
        assert!(
            stderr.contains(&format!("svc-{i:03}/Dockerfile")),
            "svc-{i:03} not named"
        );
    }
}

/// Writes `files` (path, text) under a fresh directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let path = tmp.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
    tmp
}

fn plan(dir: &Path, spec: &str) -> serde_json::Value {
    let out = run(dir, &["plan"], &[spec.to_owned()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_chain_merges_key_by_key_and_plan_cites_where_each_value_was_written() {
    let tmp = tree(&[
        (
            "org.yaml",
            "server:\n  cpus: 4\n  timeout: 60\nlabels:\n  com.example.org: acme\n  com.example.team: none\nenv:\n  A: org\n",
        ),
        (
            "team/platform.yaml",
            "extends: ../org.yaml\nserver:\n  cpus: 2\nlabels:\n  com.example.team: payments\nenv:\n  B: team\n",
        ),
        (
            "team/orders/app.yaml",
            "version: 1\nextends: ../platform.yaml\nname: orders\napp:\n  module: main:app\n  interface: wsgi\nenv:\n  A: mine\n",
        ),
    ]);
    let plan = plan(tmp.path(), "team/orders/app.yaml");
    // The nearest file wins, key by key: cpus from the team, timeout from the org.
    assert_eq!(plan["workers"]["count"], 5);
    assert!(
        plan["argv"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("--timeout=60")),
        "{}",
        plan["argv"]
    );
    let labels: Vec<(String, String)> = serde_json::from_value(plan["labels"].clone()).unwrap();
    assert!(labels.contains(&("com.example.team".into(), "payments".into())));
    assert!(labels.contains(&("com.example.org".into(), "acme".into())));
    let env: Vec<(String, String)> = serde_json::from_value(plan["env"].clone()).unwrap();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!((get("A"), get("B")), (Some("mine"), Some("team")));
    let origins = &plan["origins"];
    assert_eq!(origins["name"], "team/orders/app.yaml:3");
    assert_eq!(origins["env.A"], "team/orders/app.yaml:8");
    assert_eq!(origins["server.cpus"], "team/platform.yaml:3");
    assert_eq!(origins["labels.com.example.team"], "team/platform.yaml:5");
    assert_eq!(origins["server.timeout"], "org.yaml:3");
    assert_eq!(origins["labels.com.example.org"], "org.yaml:5");
}

#[test]
fn fabuild_platform_holds_a_spec_that_names_no_platform_file() {
    let tmp = tree(&[
        ("ci/platform.yaml", "policy:\n  min_uid: 20000\n"),
        (
            "svc/app.yaml",
            "version: 1\nname: svc\napp:\n  module: main:app\n  interface: wsgi\nuser:\n  uid: 10001\n  gid: 10001\n",
        ),
    ]);
    let spec = ["svc/app.yaml".to_owned()];
    let out = run(tmp.path(), &["check"], &spec);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = util::fabuild(tmp.path())
        .env("FABUILD_PLATFORM", "ci/platform.yaml")
        .arg("check")
        .args(spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[FAB077]: uid 10001 is below the platform's minimum, 20000"),
        "{stderr}"
    );
    assert!(stderr.contains("--> svc/app.yaml:7:8"), "{stderr}");
    assert!(
        stderr.contains("(policy.min_uid, ci/platform.yaml:2)"),
        "{stderr}"
    );
    let out = util::fabuild(tmp.path())
        .env("FABUILD_PLATFORM", "ci/nowhere.yaml")
        .args(["check", "svc/app.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(
        "error[FAB084]: cannot read platform file ci/nowhere.yaml (named by FABUILD_PLATFORM)"
    ));
}

#[test]
fn policy_rules_fire_at_the_value_and_cite_the_policy() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let platform = format!(
        "policy:\n  base_images: [\"python:3.12-slim@{digest}\"]\n  require_digest: true\n  max_workers: 2\n"
    );
    let tmp = tree(&[
        ("platform.yaml", &platform),
        (
            "svc/app.yaml",
            "version: 1\nextends: ../platform.yaml\nname: svc\napp:\n  module: main:app\n  interface: wsgi\npython:\n  base_image: python:3.12-slim\n",
        ),
    ]);
    let out = run(
        tmp.path(),
        &["check", "--format", "json"],
        &["svc/app.yaml".to_owned()],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            // 2 x 1 CPU + 1 = 3 workers, derived: at the spec's name, nobody wrote a count.
            ("FAB079".to_owned(), "svc/app.yaml".to_owned(), 3),
            ("FAB075".to_owned(), "svc/app.yaml".to_owned(), 8),
            ("FAB075".to_owned(), "svc/app.yaml".to_owned(), 8),
        ]
    );
}

#[test]
fn memory_caps_the_worker_count_and_the_manifests_carry_the_limit() {
    let spec = |server: &str| {
        format!(
            "version: 1\nname: sized\napp:\n  module: main:app\n  interface: wsgi\nserver:\n{server}deploy:\n  kubernetes: true\n  compose: true\n"
        )
    };
    let tmp = tree(&[("app.yaml", &spec("  cpus: 2\n  memory: 512Mi\n"))]);
    let dir = tmp.path();
    let out = run(dir, &["gen"], &["app.yaml".to_owned()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning[FAB085]: 2 workers planned: the memory limit 512Mi fits 2 at 256Mi each, where 2 CPU(s) would run 5"),
        "{stderr}"
    );
    let dockerfile = fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("--workers=2"), "{dockerfile}");
    let k8s = fs::read_to_string(dir.join("kubernetes.yaml")).unwrap();
    assert_eq!(
        k8s.matches("memory: \"512Mi\"").count(),
        2,
        "request and limit:\n{k8s}"
    );
    let compose = fs::read_to_string(dir.join("compose.yaml")).unwrap();
    assert!(
        compose.contains("\n    mem_limit: 536870912\n"),
        "{compose}"
    );

    let check = |server: &str| {
        fs::write(dir.join("app.yaml"), spec(server)).unwrap();
        let out = run(dir, &["check"], &["app.yaml".to_owned()]);
        (out.status.code(), text(&out.stderr))
    };
    // A count set in the spec that does not fit: a warning at it.
    let (code, stderr) = check("  workers: 6\n  memory: 1Gi\n");
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains(
            "warning[FAB085]: 6 workers at 256Mi each need 1.5Gi; the memory limit is 1Gi"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--> app.yaml:7:12"), "{stderr}");
    // A worker estimate that fits: the CPUs decide, nothing to say.
    let (code, stderr) = check("  cpus: 1\n  memory: 1Gi\n  worker_memory: 200Mi\n");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    // Less memory than one worker: an error.
    let (code, stderr) = check("  memory: 128Mi\n");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "error[FAB085]: server.memory 128Mi is less than one worker's estimate (256Mi)"
        ),
        "{stderr}"
    );
    // Two limits that disagree: the manifests would not be the limit the workers fit.
    fs::write(
        dir.join("app.yaml"),
        spec("  memory: 512Mi\n").replace("compose: true\n", "compose: true\n  memory: 1Gi\n"),
    )
    .unwrap();
    let out = run(dir, &["check"], &["app.yaml".to_owned()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[FAB082]: deploy.memory 1Gi is not server.memory 512Mi")
    );
}

#[test]
fn init_writes_extends_when_a_platform_file_is_above_the_project() {
    let project: PathBuf = util::repo().join("tests/fixtures/init/fastapi-main");
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("platform.yaml"), PLATFORM).unwrap();
    let copy = |to: &Path| {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(&project).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    };
    let init = |dir: &Path| {
        copy(dir);
        let out = util::fabuild(dir)
            .env("SOURCE_DATE_EPOCH", "1795651200")
            .arg("init")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        fs::read_to_string(dir.join("app.yaml")).unwrap()
    };
    let dir = tmp.path().join("orders");
    let yaml = init(&dir);
    assert!(yaml.contains("\nextends: \"../platform.yaml\"\n"), "{yaml}");
    // The platform sets server.cpus: init leaves the worker count to it.
    assert!(!yaml.contains("\n  cpus:"), "{yaml}");
    // The platform's policy now applies: its required owner label is missing.
    let out = run(&dir, &["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[FAB076]: label `com.example.owner` is missing"));
    // With the label the user adds, the service's CPUs are the platform's.
    let mut owned = yaml.clone();
    owned.push_str("labels:\n  com.example.owner: orders-team\n");
    fs::write(dir.join("app.yaml"), owned).unwrap();
    let plan = plan(&dir, "app.yaml");
    let cpus = plan["origins"]["server.cpus"].as_str().unwrap_or_default();
    assert!(cpus.ends_with("platform.yaml:7"), "{}", plan["origins"]);

    // A project that is a repository's root looks no higher.
    let repo_root = tmp.path().join("standalone");
    fs::create_dir_all(repo_root.join(".git")).unwrap();
    let yaml = init(&repo_root);
    assert!(!yaml.contains("extends:"), "{yaml}");
    assert!(yaml.contains("\n  cpus: 1\n"), "{yaml}");
}

#[test]
fn a_policy_that_cannot_be_held_is_refused_in_the_platform_file() {
    let tmp = tree(&[
        (
            "platform.yaml",
            "policy:\n  base_images: [\"Not An Image\"]\n  min_uid: -1\n  forbidden_extra_args: [\"--workers=4\"]\n  max_workers: 0\n",
        ),
        (
            "svc/app.yaml",
            "version: 1\nextends: ../platform.yaml\nname: svc\napp:\n  module: main:app\n  interface: wsgi\n",
        ),
    ]);
    let out = run(
        tmp.path(),
        &["check", "--format", "json"],
        &["svc/app.yaml".to_owned()],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(&str, &str, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["file"].as_str().unwrap(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("FAB052", "platform.yaml", 2),
            ("FAB031", "platform.yaml", 3),
            ("FAB003", "platform.yaml", 4),
            ("FAB022", "platform.yaml", 5),
        ]
    );
}

/// A platform file's `python.pins` names a file beside the platform file: each service
/// under it installs that file's pins (its own hash shows in the plan), wherever the
/// service sits; a service's own `python.pins` wins.
#[test]
fn a_platform_pins_file_is_read_beside_the_platform_file() {
    let builtin = fs::read_to_string(util::repo().join("src/pins.txt")).unwrap();
    let real = "378b26b9a38adcf4592f28828233c1716acc55e833ea06bf48719782efaa0d10";
    assert!(builtin.contains(real), "the built-in gunicorn hash moved");
    let team_hash = "ab".repeat(32);
    let tmp = tree(&[
        ("team/pins/stack.txt", &builtin.replace(real, &team_hash)),
        ("team/platform.yaml", "python:\n  pins: pins/stack.txt\n"),
        (
            "team/services/orders/app.yaml",
            "version: 1\nextends: ../../platform.yaml\nname: orders\napp:\n  module: main:app\n  interface: wsgi\n",
        ),
        ("team/services/orders/main.py", "app = None\n"),
    ]);
    let plan = plan(tmp.path(), "team/services/orders/app.yaml");
    let shown = plan.to_string();
    assert!(
        shown.contains(&team_hash),
        "the platform's pins are not used: {shown}"
    );
    assert!(!shown.contains(real), "{shown}");
}

/// init checks the app.yaml it writes as `fabuild check` will, with the platform file it
/// extends: a worker count carried over from gunicorn.conf.py that the platform's policy
/// forbids is left out (not written for check to refuse later), and what only the user
/// can settle (the owner label) is a warning. Spec text checked without a file
/// (`check_text`) follows `extends` from its project directory the same way.
#[test]
fn init_and_spec_text_are_held_to_the_platform_they_extend() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("platform.yaml"), PLATFORM).unwrap();
    let dir = tmp.path().join("orders");
    fs::create_dir_all(&dir).unwrap();
    let fixture = util::repo().join("tests/fixtures/init/fastapi-main");
    for name in ["main.py", "requirements.txt"] {
        fs::copy(fixture.join(name), dir.join(name)).unwrap();
    }
    fs::write(dir.join("gunicorn.conf.py"), "workers = 8\n").unwrap();
    let out = util::fabuild(&dir)
        .env_remove("FABUILD_PLATFORM")
        .env("SOURCE_DATE_EPOCH", "1795651200")
        .arg("init")
        .output()
        .unwrap();
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    let yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(yaml.contains("extends: \"../platform.yaml\""), "{yaml}");
    assert!(!yaml.contains("workers: 8"), "{yaml}");
    assert!(
        said.contains("gunicorn.conf.py:1: workers = 8")
            && said.contains("the platform allows at most 4 [FAB079]"),
        "{said}"
    );
    assert!(
        said.contains("warning: label `com.example.owner` is missing"),
        "{said}"
    );
    // check then has the one thing init said the user must add, nothing more.
    let out = run(&dir, &["check", "--format", "json"], &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["FAB076"], "{report}");

    // The same text checked without a file: the platform's keys and policy apply.
    let spec = "version: 1\nextends: ../platform.yaml\nname: orders\napp:\n  module: main:app\n  interface: asgi\nlabels:\n  com.example.owner: ops\n";
    let checked = fabuild::check::check_text(spec, "app.yaml", &dir).unwrap();
    assert_eq!(checked.spec.python.version, "3.12");
    assert!(
        checked
            .spec
            .env
            .iter()
            .any(|(k, v)| k == "LOG_LEVEL" && v == "info"),
        "{:?}",
        checked.spec.env
    );
    let forbidden = format!("{spec}server:\n  extra_args: [--preload]\n");
    match fabuild::check::check_text(&forbidden, "app.yaml", &dir) {
        Err(fabuild::spec::SpecError::Invalid { findings, .. }) => {
            assert!(
                findings.iter().any(|f| f.rule.id == "FAB078"),
                "{findings:?}"
            );
        }
        other => panic!("--preload passed the platform's policy: {other:?}"),
    }
    let missing = spec.replace("../platform.yaml", "../nowhere.yaml");
    match fabuild::check::check_text(&missing, "app.yaml", &dir) {
        Err(fabuild::spec::SpecError::Invalid { findings, .. }) => {
            assert_eq!(findings[0].rule.id, "FAB084", "{findings:?}");
        }
        other => panic!("a missing platform file passed: {other:?}"),
    }
}

/// A batch reads its platform file once: `check` and `gen --check` over the 200 services
/// open platform.yaml one time each (counted by strace), not once a spec, and still give
/// every spec the platform's keys and policy.
#[test]
fn a_batch_reads_the_platform_file_once() {
    let (tmp, specs) = fleet();
    let dir = tmp.path();
    for args in [&["check"][..], &["gen", "--check"][..]] {
        let log = dir.join("strace.log");
        let out = std::process::Command::new("strace")
            .current_dir(dir)
            .env_remove("FABUILD_PLATFORM")
            .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_fabuild"))
            .args(args)
            .args(&specs)
            .output()
            .expect("strace runs (apt-get install strace)");
        let stderr = text(&out.stderr);
        // The one breaking service is still held to the platform's policy.
        assert!(stderr.contains("svc-137/app.yaml"), "{args:?}: {stderr}");
        let trace = fs::read_to_string(&log).unwrap();
        let opened = trace
            .lines()
            .filter(|l| l.contains("platform.yaml\"") && !l.contains("= -1"))
            .count();
        assert_eq!(opened, 1, "{args:?} opened platform.yaml {opened} times");
        let specs_opened = trace
            .lines()
            .filter(|l| l.contains("/app.yaml\"") && !l.contains("= -1"))
            .count();
        assert!(
            specs_opened >= FLEET,
            "{specs_opened}: the trace missed the specs"
        );
    }
}
