//! `fabuild build --sbom`: a CycloneDX 1.6 document that CycloneDX's own validator
//! (cyclonedx-python-lib, pinned by hash) accepts, listing the virtualenv's wheels with
//! their sha256 and licence, the base's Python distributions and dpkg packages as the
//! container sees them (whiteouts honoured), attached in the layout as an OCI 1.1
//! artifact whose subject is the image manifest, and the same bytes from the same inputs.
//! `tests/e2e/sbom.sh` compares it with pip and dpkg in the running image.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::build::{EPOCH, Project};
use crate::image_writer::{self, Compression, Image, Item, dir, file};
use crate::util::fabuild;

const STATUS: &str = "Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u7
Description: GNU C Library
 continued

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: libstdc++6
Status: install ok installed
Architecture: amd64
Version: 12.2.0-14
";

/// The build tests' base plus a dpkg database, an os-release under /usr/lib only, and two
/// Python distributions, one of which a later layer deletes.
fn base_with_packages(at: &Path, extra: Vec<Item>) -> PathBuf {
    let mut lower: Vec<Item> = vec![
        dir("/etc"),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\n"),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/python3.11", "not really python"),
        dir("/usr/lib"),
        file(
            "/usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        ),
        dir("/usr/lib/python3"),
        dir("/usr/lib/python3/dist-packages"),
        dir("/usr/lib/python3/dist-packages/pip-23.0.1.dist-info"),
        file(
            "/usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: pip\nVersion: 23.0.1\nLicense: MIT\n\nbody\n",
        ),
        file(
            "/usr/lib/python3/dist-packages/six-1.16.0.egg-info",
            "Metadata-Version: 1.0\nName: six\nVersion: 1.16.0\n",
        ),
        dir("/var"),
        dir("/var/lib"),
        dir("/var/lib/dpkg"),
        file("/var/lib/dpkg/status", STATUS),
    ];
    lower.extend(extra);
    let upper: Vec<Item> = vec![Item::Whiteout(
        "/usr/lib/python3/dist-packages/six-1.16.0.egg-info".to_owned(),
    )];
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, "amd64", &[lower, upper], Compression::Gzip);
    let path = at.join("base-packages");
    image_writer::write_layout(&path, &[(&image, Some("linux/amd64"))]);
    path
}

fn project() -> Project {
    let mut project = Project::new();
    project.base = base_with_packages(project.root.parent().unwrap(), Vec::new());
    project
}

fn components(sbom: &Value) -> Vec<Value> {
    sbom["components"].as_array().unwrap().clone()
}

fn by_purl<'a>(components: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    components
        .iter()
        .filter(|c| c["purl"].as_str().is_some_and(|p| p.starts_with(prefix)))
        .collect()
}

#[test]
fn the_sbom_lists_the_wheels_the_base_packages_and_passes_cyclonedx_s_validator() {
    let project = project();
    let sbom_path = project.path("sbom.json");
    let out = project.build("img", "cache", &["--sbom", sbom_path.to_str().unwrap()]);
    assert!(out.contains("CycloneDX 1.6"), "{out}");
    let bytes = std::fs::read(&sbom_path).unwrap();

    // CycloneDX's own validator, not a schema copy of ours.
    let verdict = crate::util::python_json(
        "import json, sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\ne = JsonStrictValidator(SchemaVersion.V1_6).validate_str(sys.stdin.read())\nprint(json.dumps(None if e is None else str(e.data.message)))",
        &bytes,
    );
    assert_eq!(verdict, Value::Null, "the validator refused the SBOM");

    let sbom: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(sbom["specVersion"], "1.6");
    let comps = components(&sbom);

    // The virtualenv: gunicorn, with the sha256 of the very wheel installed and its licence.
    let pin = fabuild::pins::for_interface(fabuild::spec::Interface::Wsgi)
        .into_iter()
        .find(|p| p.name == "gunicorn")
        .unwrap();
    let wheel = project
        .wheels
        .join(format!("gunicorn-{}-py3-none-any.whl", pin.version));
    let sha = format!("{:x}", Sha256::digest(std::fs::read(&wheel).unwrap()));
    let gunicorn = by_purl(&comps, &format!("pkg:pypi/gunicorn@{}", pin.version));
    assert_eq!(gunicorn.len(), 1, "{comps:#?}");
    assert_eq!(gunicorn[0]["hashes"][0]["content"], sha.as_str());
    assert!(gunicorn[0]["licenses"].is_array(), "{:#?}", gunicorn[0]);

    // The base's Python: pip is there, six was deleted by a later layer.
    let pypi: Vec<String> = by_purl(&comps, "pkg:pypi/")
        .iter()
        .map(|c| c["purl"].as_str().unwrap().to_owned())
        .collect();
    assert!(pypi.contains(&"pkg:pypi/pip@23.0.1".to_owned()), "{pypi:?}");
    assert!(!pypi.iter().any(|p| p.contains("six")), "{pypi:?}");

    // dpkg: the installed packages only, with the distribution from /usr/lib/os-release.
    let debs: Vec<&str> = by_purl(&comps, "pkg:deb/")
        .iter()
        .map(|c| c["purl"].as_str().unwrap())
        .collect();
    assert_eq!(
        debs,
        [
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12",
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12",
        ]
    );
    assert!(
        comps
            .iter()
            .any(|c| c["type"] == "operating-system" && c["name"] == "debian")
    );

    // Attached: an artifact in index.json whose subject is the image and whose payload is
    // the file's bytes; `verify` still finds the image.
    let index = project.index("img");
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index:#}");
    let (image, artifact) = (&manifests[0], &manifests[1]);
    assert_eq!(artifact["artifactType"], "application/vnd.cyclonedx+json");
    let art: Value =
        serde_json::from_slice(&project.blob("img", artifact["digest"].as_str().unwrap())).unwrap();
    assert_eq!(art["subject"]["digest"], image["digest"]);
    assert_eq!(
        project.blob("img", art["layers"][0]["digest"].as_str().unwrap()),
        bytes
    );
    assert_eq!(
        sbom["metadata"]["component"]["version"], image["digest"],
        "the SBOM names the image it describes"
    );
    let verify = fabuild(&project.root)
        .args(["verify", "app.yaml", "--image"])
        .arg(project.path("img"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && stdout.contains("0 failed"),
        "{stdout}"
    );

    // What a push sends: read back from the layout, the same artifact.
    let found =
        fabuild::oci::referrer::in_layout(&project.path("img"), image["digest"].as_str().unwrap())
            .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].payload().bytes, bytes);
    assert_eq!(
        found[0].manifest.digest,
        artifact["digest"].as_str().unwrap()
    );
}

#[test]
fn the_same_inputs_give_the_same_sbom_cold_cached_and_rebuilt() {
    let project = project();
    let path = |n: &str| project.path(n).to_str().unwrap().to_owned();
    project.build("one", "cache", &["--sbom", &path("one.json")]);
    project.build("two", "cache", &["--sbom", &path("two.json")]);
    let out = project.build(
        "three",
        "cache-3",
        &["--sbom", &path("three.json"), "--check-reproducible"],
    );
    assert!(out.contains("reproducible: a second build"), "{out}");
    let one = std::fs::read(path("one.json")).unwrap();
    assert_eq!(one, std::fs::read(path("two.json")).unwrap());
    assert_eq!(one, std::fs::read(path("three.json")).unwrap());
    assert_eq!(project.index("one"), project.index("three"));
    assert!(String::from_utf8_lossy(&one).contains(&format!(
        "\"timestamp\":\"{}\"",
        fabuild::date::rfc3339(EPOCH.parse().unwrap())
    )));
}

#[test]
fn without_sbom_the_layout_holds_the_image_alone() {
    let project = project();
    project.build("img", "cache", &[]);
    assert_eq!(
        project.index("img")["manifests"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_base_file_over_its_bound_stops_an_sbom_build_naming_it_and_nothing_else() {
    let mut project = Project::new();
    let big = "/usr/lib/python3/dist-packages/big-1.0.dist-info/METADATA";
    let mut text = "Name: big\nVersion: 1.0\n\n".to_owned();
    text.push_str(&"x".repeat(1 << 20));
    project.base = base_with_packages(
        project.root.parent().unwrap(),
        vec![
            dir("/usr/lib/python3/dist-packages/big-1.0.dist-info"),
            file(big, text),
        ],
    );
    let output = fabuild(&project.root)
        .args(["build", "app.yaml", "--base"])
        .arg(&project.base)
        .arg("--out")
        .arg(project.path("img"))
        .arg("--wheels")
        .arg(&project.wheels)
        .arg("--no-cache")
        .arg("--sbom")
        .arg(project.path("sbom.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(big) && stderr.contains("incomplete"),
        "{stderr}"
    );
    assert!(!project.path("img").exists() && !project.path("sbom.json").exists());
    // Without --sbom the file is not needed, and the build goes on.
    project.build("img", "cache", &[]);
}
