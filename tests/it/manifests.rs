//! The Kubernetes and compose manifests: valid for their real validators, admissible under
//! the restricted Pod Security Standard, and agreeing with the image on every shared value.

use std::fs;
use std::process::Command;

use fabuild::generate::{self, Options};

use crate::util;

fn validator(bin: &str) -> std::path::PathBuf {
    util::python().with_file_name(bin)
}

/// Specs that vary every value the image and the manifests share.
fn specs() -> Vec<String> {
    let mut specs = Vec::new();
    for (i, (uid, gid, port, graceful)) in [
        (10001, 10001, 8443, 30),
        (20001, 30001, 9443, 5),
        (1000, 1000, 8000, 120),
        (65000, 2000, 1024, 0),
    ]
    .iter()
    .enumerate()
    {
        for tls in [true, false] {
            for health in [true, false] {
                let mut spec = format!(
                    "version: 1\nname: svc-{i}\napp:\n  module: main:app\n  interface: {}\nserver:\n  port: {port}\n  cpus: {}\n  graceful_timeout: {graceful}\nuser:\n  uid: {uid}\n  gid: {gid}\ndeploy:\n  kubernetes: true\n  compose: true\n  memory: 256Mi\n",
                    if i % 2 == 0 { "asgi" } else { "wsgi" },
                    ["1", "0.5", "2", "1.5"][i]
                );
                if tls {
                    spec.push_str(&format!(
                        "tls:\n  dir: /etc-not/tls{i}\n  certfile: c{i}.pem\n  keyfile: k{i}.pem\n"
                    ));
                }
                if health {
                    spec.push_str(&format!(
                        "healthcheck:\n  path: /health/{i}\n  interval: {}\n",
                        10 + i
                    ));
                }
                // Writable directories (under `app:`): none, one relative, one relative and
                // one absolute.
                let writable = [
                    "",
                    "  writable: [instance]\n",
                    "  writable: [var/uploads, /var/lib/svc]\n",
                ][i % 3];
                // A release step on half of them: an argv, and a shell script with `$`, which
                // Kubernetes and compose would expand if it were written as is.
                let release = match (health, i % 2) {
                    (true, _) => "",
                    (false, 0) => "  release: [alembic, upgrade, head]\n",
                    (false, _) => {
                        "  release: [sh, -c, 'flask db upgrade && echo \"$HOME $(id -u)\" > $$']\n"
                    }
                };
                spec = spec.replacen("\nserver:\n", &format!("\n{writable}{release}server:\n"), 1);
                specs.push(spec);
            }
        }
    }
    specs
}

const CHECK: &str = r#"
import json, sys, yaml
cases = json.load(sys.stdin)
problems = []
for case in cases:
    plan, name = case["plan"], case["plan"]["name"]
    def want(what, got, expected):
        if got != expected:
            problems.append(f"{name}: {what}: manifest has {got!r}, image has {expected!r}")
    docs = list(yaml.safe_load_all(case["kubernetes"]))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    svc = next(d for d in docs if d["kind"] == "Service")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    psc, csc = pod["securityContext"], c["securityContext"]
    # Shared with the image.
    want("runAsUser", psc["runAsUser"], plan["uid"])
    want("runAsGroup", psc["runAsGroup"], plan["gid"])
    want("fsGroup", psc["fsGroup"], plan["gid"])
    want("containerPort", c["ports"][0]["containerPort"], plan["port"])
    want("image", c["image"], plan["deploy"]["image"])
    graceful = int(next(a for a in plan["argv"] if a.startswith("--graceful-timeout=")).split("=")[1])
    if pod["terminationGracePeriodSeconds"] < graceful + plan["deploy"]["prestop_seconds"]:
        problems.append(f"{name}: grace period {pod['terminationGracePeriodSeconds']} < preStop + graceful {graceful}")
    want("cpu limit", c["resources"]["limits"]["cpu"], plan["deploy"]["cpu"])
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    if plan["tls"]:
        want("tls mountPath", mounts["tls"]["mountPath"], plan["tls"]["dir"])
        want("tls readOnly", mounts["tls"].get("readOnly"), True)
        items = {i["key"]: i["path"] for i in vols["tls"]["secret"]["items"]}
        want("cert path", plan["tls"]["dir"] + "/" + items["tls.crt"], plan["tls"]["certfile"])
        want("key path", plan["tls"]["dir"] + "/" + items["tls.key"], plan["tls"]["keyfile"])
        want("secret defaultMode", vols["tls"]["secret"]["defaultMode"], 0o440)
    else:
        want("tls volume", "tls" in vols, False)
    for probe in ("readinessProbe", "livenessProbe"):
        p = c[probe]
        if plan["healthcheck"]:
            want(probe + " path", p["httpGet"]["path"], plan["healthcheck"]["path"])
            want(probe + " scheme", p["httpGet"]["scheme"], "HTTPS" if plan["tls"] else "HTTP")
            want(probe + " port", p["httpGet"]["port"], c["ports"][0]["name"])
        else:
            want(probe + " port", p["tcpSocket"]["port"], c["ports"][0]["name"])
    want("service targetPort", svc["spec"]["ports"][0]["targetPort"], c["ports"][0]["name"])
    want("service selector", svc["spec"]["selector"], dep["spec"]["selector"]["matchLabels"])
    # app.release: a Job with the Deployment's image, user, confinement and scratch volumes
    # (not the TLS key), whose pods the Service never selects.
    release = plan["release"]
    jobs = [d for d in docs if d["kind"] == "Job"]
    pods = [pod]
    # What the program receives: Kubernetes reads `$$` as `$` in `command`, compose too.
    unescape = lambda argv: [w.replace("$$", "$") for w in argv]
    if release is None:
        want("jobs", jobs, [])
    else:
        job = jobs[0]
        jpod = job["spec"]["template"]["spec"]
        jc = jpod["containers"][0]
        pods.append(jpod)
        want("job name", job["metadata"]["name"], release["name"])
        want("job command as run", unescape(jc["command"]), release["argv"])
        want("job image", jc["image"], c["image"])
        want("job pod securityContext", jpod["securityContext"], psc)
        want("job securityContext", jc["securityContext"], csc)
        want("job resources requests", jc["resources"]["requests"], c["resources"]["requests"])
        want("job resources limits", jc["resources"]["limits"], c["resources"]["limits"])
        want("job mounts", jc["volumeMounts"], [m for m in c["volumeMounts"] if m["name"] != "tls"])
        want("job volumes", jpod["volumes"], [v for v in pod["volumes"] if v["name"] != "tls"])
        want("job restartPolicy", jpod["restartPolicy"], "Never")
        labels = job["spec"]["template"]["metadata"]["labels"]
        if all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()):
            problems.append(f"{name}: the Service selects the release Job's pods")
    # The restricted Pod Security Standard (v1.3x), for every pod.
    for p in pods:
        psc, csc = p["securityContext"], p["containers"][0]["securityContext"]
        want("runAsNonRoot", psc.get("runAsNonRoot"), True)
        want("seccompProfile", psc.get("seccompProfile"), {"type": "RuntimeDefault"})
        want("allowPrivilegeEscalation", csc.get("allowPrivilegeEscalation"), False)
        want("capabilities.drop", csc.get("capabilities", {}).get("drop"), ["ALL"])
        want("capabilities.add", csc.get("capabilities", {}).get("add"), None)
        want("privileged", csc.get("privileged", False), False)
        want("readOnlyRootFilesystem", csc.get("readOnlyRootFilesystem"), True)
        for v in p["volumes"]:
            allowed = {"name", "secret", "emptyDir", "configMap", "projected", "persistentVolumeClaim"}
            if set(v) - allowed:
                problems.append(f"{name}: volume type not allowed by the restricted profile: {v}")
        if p.get("hostNetwork") or p.get("hostPID") or p.get("hostIPC"):
            problems.append(f"{name}: host namespaces")
    planned = [d["path"] for d in plan["writable"]]
    writable = {m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")}
    want("writable paths", writable, {"/tmp", "/dev/shm", *planned})
    for d in plan["writable"]:
        want(d["path"] + " volume", vols[mounts[d["volume"]]["name"]], {"name": d["volume"], "emptyDir": {}})
        want(d["path"] + " mountPath", mounts[d["volume"]]["mountPath"], d["path"])
    want("/dev/shm medium", vols["dshm"]["emptyDir"].get("medium"), "Memory")
    # compose.
    services = yaml.safe_load(case["compose"])["services"]
    svc = services[name]
    if release is None:
        want("compose services", list(services), [name])
        want("compose depends_on", svc.get("depends_on"), None)
    else:
        one = services[release["name"]]
        want("compose release entrypoint as run", unescape(one["entrypoint"]), release["argv"])
        for key in ("image", "build", "user", "read_only", "tmpfs", "cap_drop", "security_opt"):
            want("compose release " + key, one[key], svc[key])
        want("compose release ports", one.get("ports"), None)
        want("compose depends_on", svc["depends_on"], {release["name"]: {"condition": "service_completed_successfully"}})
    want("compose user", svc["user"], f"{plan['uid']}:{plan['gid']}")
    want("compose ports", svc["ports"], [f"{plan['port']}:{plan['port']}"])
    want("compose read_only", svc["read_only"], True)
    want("compose tmpfs", svc["tmpfs"], ["/tmp"] + [f"{p}:uid={plan['uid']},gid={plan['gid']},mode=0750" for p in planned])
    if int(svc["stop_grace_period"].rstrip("s")) <= graceful:
        problems.append(f"{name}: compose stop_grace_period {svc['stop_grace_period']} <= graceful {graceful}")
    if plan["tls"]:
        want("compose tls target", svc["volumes"][0]["target"], plan["tls"]["dir"])
    if plan["healthcheck"]:
        want("compose healthcheck", svc["healthcheck"]["test"], ["CMD", "/opt/fabuild/healthcheck.py"])
json.dump({"checked": len(cases), "problems": problems}, sys.stdout)
"#;

#[test]
fn manifests_agree_with_the_image_and_meet_the_restricted_profile() {
    let mut cases = Vec::new();
    let dirs: Vec<_> = specs()
        .into_iter()
        .map(|spec| {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("app.yaml"), spec).unwrap();
            dir
        })
        .collect();
    for dir in &dirs {
        let generation =
            generate::prepare(&dir.path().join("app.yaml"), &Options::default()).unwrap();
        let body = |name: &str| {
            generation
                .changes
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .new
                .clone()
        };
        cases.push(serde_json::json!({
            "plan": generation.plan, "kubernetes": body("kubernetes.yaml"), "compose": body("compose.yaml")
        }));
    }
    let result = util::python_json(CHECK, serde_json::to_string(&cases).unwrap().as_bytes());
    assert_eq!(result["checked"], cases.len());
    assert_eq!(
        result["problems"],
        serde_json::json!([]),
        "manifests disagree with the image"
    );
}

/// The real validators: kubernetes-validate (the API's own `OpenAPI` schemas, strict) and the
/// compose specification's JSON schema (vendored by check-jsonschema).
#[test]
fn manifests_pass_their_schemas() {
    let mut files = vec![util::repo().join("examples/fastapi-tls/kubernetes.yaml")];
    let dirs: Vec<_> = specs()
        .into_iter()
        .step_by(3)
        .map(|spec| {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("app.yaml"), spec).unwrap();
            assert!(
                util::fabuild(dir.path())
                    .arg("gen")
                    .output()
                    .unwrap()
                    .status
                    .success()
            );
            dir
        })
        .collect();
    files.extend(dirs.iter().map(|d| d.path().join("kubernetes.yaml")));
    let out = Command::new(validator("kubernetes-validate"))
        .args(["--strict", "--no-warn"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every document: Deployment, Service and, with app.release, the Job.
    let documents: usize = files
        .iter()
        .map(|f| fs::read_to_string(f).unwrap().matches("\nkind: ").count())
        .sum();
    assert!(
        documents > 2 * files.len(),
        "no release Job among the files"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches(" passed for resource ")
            .count(),
        documents
    );

    let mut compose = vec![util::repo().join("examples/fastapi-tls/compose.yaml")];
    compose.extend(dirs.iter().map(|d| d.path().join("compose.yaml")));
    let out = Command::new(validator("check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .args(&compose)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
