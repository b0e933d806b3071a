//! `app.release`: the command that runs once per deploy, and how each way of deploying
//! runs it with the app's image, user and read-only root filesystem.

use serde::Serialize;

use crate::gunicorn::shlex;
use crate::spec::Spec;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleasePlan {
    /// The argv exec receives.
    pub argv: Vec<String>,
    /// `argv` as kubernetes.yaml and compose.yaml write it: each `$` doubled. Kubernetes
    /// reads `$(NAME)` in `command` as a variable and `$$` as `$`; compose interpolates
    /// `$NAME` and reads `$$` as `$`; so doubling gives the program `argv` unchanged.
    pub manifest_argv: Vec<String>,
    /// The Kubernetes Job and the compose service that run it.
    pub name: String,
    /// The same run with podman or docker, for a deploy without manifests: the image's
    /// user, a read-only root, `/tmp` in memory and each writable directory as a named
    /// volume the app's container mounts too.
    pub podman: String,
}

pub fn plan(spec: &Spec) -> Option<ReleasePlan> {
    let argv = spec.app.release.clone()?;
    let name = format!("{}-release", spec.name);
    let mut words: Vec<String> = vec![
        "podman".into(),
        "run".into(),
        "--rm".into(),
        format!("--user={}:{}", spec.user.uid, spec.user.gid),
        "--read-only".into(),
        "--tmpfs=/tmp".into(),
    ];
    for (i, dir) in spec.app.writable.iter().enumerate() {
        words.push(format!("--volume={}:{dir}", volume_name(&spec.name, i)));
    }
    words.push(format!("--entrypoint={}", argv[0]));
    words.push(spec.deploy.image.clone());
    words.extend(argv[1..].iter().cloned());
    Some(ReleasePlan {
        manifest_argv: argv.iter().map(|w| w.replace('$', "$$")).collect(),
        podman: shlex::join(&words),
        argv,
        name,
    })
}

/// The named volume podman or docker keeps `app.writable` entry `index` in: the same
/// name for the release run and the app's containers, so both see one directory.
pub fn volume_name(name: &str, index: usize) -> String {
    format!("{name}-writable-{}", index + 1)
}

#[cfg(test)]
mod tests {
    use super::plan;

    fn release(yaml_release: &str) -> super::ReleasePlan {
        let text = format!(
            "version: 1\nname: orders\napp:\n  module: main:app\n  interface: wsgi\n  writable: [instance]\n  release: {yaml_release}\n"
        );
        let checked = crate::spec::validate_text(&text, "app.yaml", std::path::Path::new("."))
            .expect("valid spec");
        plan(&checked.spec).expect("a release")
    }

    #[test]
    fn podman_runs_the_argv_as_the_apps_user_with_its_writable_volume() {
        let r = release("[flask, --app, orders, init-db]");
        assert_eq!(r.name, "orders-release");
        assert_eq!(
            r.podman,
            "podman run --rm --user=10001:10001 --read-only --tmpfs=/tmp \
             --volume=orders-writable-1:/app/instance --entrypoint=flask orders:latest \
             --app orders init-db"
        );
    }

    #[test]
    fn a_dollar_reaches_the_program_unchanged() {
        let r = release("[sh, -c, 'echo $HOME $(id -u)']");
        assert_eq!(r.argv[2], "echo $HOME $(id -u)");
        assert_eq!(r.manifest_argv[2], "echo $$HOME $$(id -u)");
        assert!(
            r.podman
                .ends_with("--entrypoint=sh orders:latest -c 'echo $HOME $(id -u)'")
        );
    }
}
