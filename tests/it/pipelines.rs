//! The CI pipelines in examples/ci, run for real: every script step of the GitHub Actions
//! workflow and the GitLab job, in order, with the variables those systems set, against a
//! local registry (TLS, htpasswd). Only installing fabuild is skipped: the binary under
//! test is on PATH. What the registry then holds is checked with skopeo.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::build::Project;
use crate::registry::{PASSWORD, Registry, USER};
use crate::util::repo;

/// A project whose base is in the registry, with its build files generated (as committed).
fn project(registry: &Registry) -> Project {
    let project = Project::new();
    let base = format!("{}/base/python:3.11", registry.host);
    registry.skopeo(&[
        "copy",
        &format!("oci:{}", project.base.display()),
        &format!("docker://{base}"),
    ]);
    let spec = std::fs::read_to_string(project.root.join("app.yaml")).unwrap();
    let spec = spec.replace(
        "  version: \"3.11\"\n",
        &format!("  version: \"3.11\"\n  base_image: {base}\n"),
    ) + &format!(
        "deploy:\n  kubernetes: true\n  image: {}/team/tiny:latest\n",
        registry.host
    );
    std::fs::write(project.root.join("app.yaml"), spec).unwrap();
    // The registry's CA where the containers tools look for it (certs.d).
    let certs = registry
        .path("home/.config/containers/certs.d")
        .join(&registry.host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(registry.path("ca.pem"), certs.join("ca.crt")).unwrap();
    // The project as committed: the base pinned, the build files generated.
    std::fs::remove_file(project.root.join(".dockerignore")).unwrap();
    for command in ["pin", "gen"] {
        let out = registry
            .fabuild(&project.root)
            .args([command, "app.yaml"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    project
}

/// Runs `script` with bash as CI runners do (`-eo pipefail`), fabuild first on PATH and
/// pip finding the pinned wheels locally; returns what it printed.
fn run_step(
    registry: &Registry,
    project: &Project,
    script: &str,
    env: &[(String, String)],
) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_fabuild")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(&project.root)
        .env_clear()
        .env("PATH", path)
        .env("HOME", registry.path("home"))
        .env("XDG_CACHE_HOME", registry.path("home/.cache"))
        .env("SOURCE_DATE_EPOCH", crate::build::EPOCH)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", &project.wheels)
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "step failed:\n{script}\n{printed}");
    printed
}

/// What the registry and the files say after a pipeline pushed `image:tag`.
fn check_pushed(registry: &Registry, project: &Project, image: &str, tag: &str, logs: &str) {
    let digest = std::fs::read_to_string(project.root.join("digest.txt")).unwrap();
    let (local, _) = project.manifest("project/image");
    assert_eq!(digest.trim(), local);
    assert_eq!(registry.digest(&format!("{image}:{tag}")), local);
    let resolved = std::fs::read_to_string(project.root.join("kubernetes.resolved.yaml")).unwrap();
    assert!(
        resolved.contains(&format!("image: \"{image}@{local}\""))
            || resolved.contains(&format!("image: {image}@{local}")),
        "{resolved}"
    );
    assert!(
        !logs.contains(PASSWORD),
        "a log shows the password:\n{logs}"
    );
    let mut image_files = Vec::new();
    crate::registry::files_under(&project.root.join("image"), &mut image_files);
    for f in image_files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{}",
            f.display()
        );
    }
}

fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("examples/ci").join(name)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn the_github_actions_workflow_builds_verifies_and_pushes_without_a_daemon() {
    let registry = Registry::start();
    let project = project(&registry);
    let workflow = yaml("github-actions.yml");
    let mut env: Vec<(String, String)> = vec![
        // What the runner sets; the workflow's own `env` is overridden for the local registry.
        ("REGISTRY".into(), registry.host.clone()),
        ("GITHUB_REPOSITORY".into(), "Team/Tiny".into()),
        (
            "GITHUB_SHA".into(),
            "0123456789abcdef0123456789abcdef01234567".into(),
        ),
        ("GITHUB_ACTOR".into(), USER.into()),
        ("CI".into(), "true".into()),
    ];
    assert_eq!(workflow["env"]["REGISTRY"], "ghcr.io");
    let mut logs = String::new();
    let mut ran = 0;
    for step in workflow["jobs"]["image"]["steps"].as_array().unwrap() {
        let (Some(script), name) = (step["run"].as_str(), step["name"].as_str().unwrap_or(""))
        else {
            continue;
        };
        if name.starts_with("Install fabuild") {
            continue;
        }
        let mut step_env = env.clone();
        if let Some(vars) = step["env"].as_object() {
            for (k, v) in vars {
                let v = v
                    .as_str()
                    .unwrap()
                    .replace("${{ github.actor }}", USER)
                    .replace("${{ secrets.GITHUB_TOKEN }}", PASSWORD);
                assert!(
                    !v.contains("${{"),
                    "an expression the test does not know: {v}"
                );
                step_env.push((k.clone(), v));
            }
        }
        assert!(
            !script.contains("${{"),
            "a script step with an expression: {script}"
        );
        logs += &run_step(&registry, &project, script, &step_env);
        ran += 1;
    }
    assert_eq!(ran, 5);
    env.clear();
    check_pushed(
        &registry,
        &project,
        &format!("{}/team/tiny", registry.host),
        "0123456789abcdef0123456789abcdef01234567",
        &logs,
    );
    assert!(logs.contains("reproducible"), "{logs}");
}

#[test]
fn the_gitlab_job_builds_verifies_and_pushes_without_a_daemon() {
    let registry = Registry::start();
    let project = project(&registry);
    let job = &yaml("gitlab-ci.yml")["image"];
    let image = format!("{}/team/tiny", registry.host);
    let env: Vec<(String, String)> = vec![
        ("CI_REGISTRY".into(), registry.host.clone()),
        ("CI_REGISTRY_USER".into(), USER.into()),
        ("CI_REGISTRY_PASSWORD".into(), PASSWORD.into()),
        ("CI_REGISTRY_IMAGE".into(), image.clone()),
        ("CI_COMMIT_SHORT_SHA".into(), "0123abcd".into()),
        ("CI_PROJECT_DIR".into(), project.root.display().to_string()),
        ("GITLAB_CI".into(), "true".into()),
    ];
    // GitLab runs the script lines in one shell, stopping at the first that fails.
    let lines: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let logs = run_step(&registry, &project, &lines.join("\n"), &env);
    check_pushed(&registry, &project, &image, "0123abcd", &logs);
    assert!(
        !project.root.join(".auth.json").exists(),
        "the job removes its auth file"
    );
}
