//! `gen` among other writers: concurrent runs on one directory, a person saving a file while
//! gen runs, runs killed at any moment, and an output directory link flipped during a run.
//! Each loses nothing, reports what really happened, and writes only inside the project.

use std::fs;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use crate::util;

pub(crate) const SPEC: &str = "version: 1\nname: inventory\napp:\n  module: wsgi:app\n  interface: wsgi\nserver:\n  port: 8000\n  workers: 2\n";
pub(crate) const FILES: [&str; 4] = [
    "Dockerfile",
    "requirements-server.txt",
    ".dockerignore",
    "fabuild-preflight.py",
];

fn project(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), spec).unwrap();
    dir
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    util::fabuild(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A project generated from `before` whose spec then became `after`.
fn generated_then_changed(before: &str, after: &str) -> tempfile::TempDir {
    let dir = project(before);
    let out = util::fabuild(dir.path()).arg("gen").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    fs::write(dir.path().join("app.yaml"), after).unwrap();
    dir
}

/// The files gen writes for `spec`, generated in a directory of their own.
fn generated(spec: &str) -> Vec<String> {
    let dir = project(spec);
    let out = util::fabuild(dir.path()).arg("gen").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    contents(dir.path())
}

pub(crate) fn contents(dir: &Path) -> Vec<String> {
    FILES
        .iter()
        .map(|f| fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect()
}

/// Files a writer left behind in `dir` (temporaries of killed or failed runs).
pub(crate) fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".fabuild-"))
        .collect()
}

/// What one run said it did to `file`: `created`, `updated`, `unchanged`, or `None`.
fn reported<'a>(out: &'a Output, file: &str) -> Option<&'a str> {
    std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .find_map(|line| {
            let (status, path) = line.trim_start().split_once(' ')?;
            (path == file).then_some(status)
        })
}

/// Three runs at once on one directory, many times over, on a fresh directory and over an
/// older generation: every run succeeds, the files are exactly what the spec gives, no
/// temporary is left, and for each file exactly one run says it wrote it while the others
/// say `unchanged`, which is what happened.
#[test]
fn concurrent_runs_on_one_directory_all_succeed_and_report_the_truth() {
    let old = SPEC.replace("workers: 2", "workers: 5");
    let want = generated(SPEC);
    let was = generated(&old);
    for round in 0..24 {
        let over_old = round % 2 == 1;
        let dir = if over_old {
            generated_then_changed(&old, SPEC)
        } else {
            project(SPEC)
        };
        let runs: Vec<Child> = (0..3).map(|_| spawn(dir.path(), &["gen"])).collect();
        let outs: Vec<Output> = runs
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for out in &outs {
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: a run failed:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        assert_eq!(contents(dir.path()), want, "round {round}");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "round {round}");
        let wrote = if over_old { "updated" } else { "created" };
        for (i, file) in FILES.iter().enumerate() {
            let said: Vec<_> = outs.iter().map(|o| reported(o, file)).collect();
            let writers = said.iter().filter(|s| **s == Some(wrote)).count();
            let unchanged = said.iter().filter(|s| **s == Some("unchanged")).count();
            if over_old && was[i] == want[i] {
                assert_eq!(unchanged, 3, "round {round}: {file}: {said:?}");
            } else {
                assert!(
                    writers == 1 && unchanged == 2,
                    "round {round}: {file} was written once, but the runs said {said:?}"
                );
            }
            assert_eq!(contents(dir.path())[i], want[i]);
        }
    }
}

/// Whether process `pid` is waiting for a `flock` someone else holds (Linux lists blocked
/// lock requests in /proc/locks with `->`).
fn waits_for_a_lock(pid: u32) -> bool {
    fs::read_to_string("/proc/locks").unwrap().lines().any(|l| {
        let mut words = l.split_whitespace().skip(1);
        words.next() == Some("->") && words.nth(3) == Some(pid.to_string().as_str())
    })
}

/// Holds the lock writers take on `dir` while `during` runs with gen waiting for it;
/// returns what gen did. The edit is thus made after gen compared the files and before it
/// replaces them: the moment a person's save used to be lost.
fn while_gen_waits(dir: &Path, args: &[&str], during: impl FnOnce()) -> Output {
    let lock = fs::File::open(dir).unwrap();
    lock.lock().unwrap();
    let mut child = spawn(dir, args);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !waits_for_a_lock(child.id()) && child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "gen neither finished nor waited"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    during();
    drop(lock);
    child.wait_with_output().unwrap()
}

/// A person saves the Dockerfile after gen compared it and before gen replaces it: gen
/// keeps the edit, says so as it does for any hand edit (exit 1, with the diff), and writes
/// none of the spec's files, even with --force (the edit was not in the diff --force was
/// given for).
#[test]
fn a_hand_edit_made_while_gen_runs_is_kept_and_reported() {
    for force in [false, true] {
        let dir = generated_then_changed(SPEC, &SPEC.replace("workers: 2", "workers: 3"));
        let before = contents(dir.path());
        let dockerfile = dir.path().join("Dockerfile");
        let edited = format!("{}RUN echo my own step\n", before[0]);
        let args: &[&str] = if force { &["gen", "--force"] } else { &["gen"] };
        let out = while_gen_waits(dir.path(), args, || {
            fs::write(&dockerfile, &edited).unwrap();
        });
        let stderr = text(&out.stderr);
        assert_eq!(fs::read_to_string(&dockerfile).unwrap(), edited, "{stderr}");
        assert_eq!(
            out.status.code(),
            Some(1),
            "force {force}: {}{stderr}",
            text(&out.stdout)
        );
        assert!(
            stderr.contains(
                "error: Dockerfile was edited by hand since fabuild generated it; not overwriting it"
            ) && stderr.contains("-RUN echo my own step"),
            "{stderr}"
        );
        assert_eq!(contents(dir.path())[1..], before[1..], "{stderr}");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
}

/// What gen reads again under the lock is bounded like its first look: a FIFO, a link to
/// `/dev/zero` or a terabyte file put in the Dockerfile's place while gen waits is refused
/// unread (exit 2, nothing written), where reading it would hang or fill memory.
#[test]
fn a_fifo_or_endless_file_put_in_place_while_gen_waits_is_refused_unread() {
    for (what, why) in [
        ("fifo", "is not a regular file"),
        ("zero", "is a link to /dev/zero, outside the project"),
        ("huge", "is larger than 16 MiB"),
    ] {
        let dir = generated_then_changed(SPEC, &SPEC.replace("workers: 2", "workers: 3"));
        // The others only: reading the Dockerfile afterwards would be the test hanging.
        let others = |dir: &Path| {
            FILES[1..]
                .iter()
                .map(|f| fs::read_to_string(dir.join(f)).unwrap())
                .collect::<Vec<_>>()
        };
        let before = others(dir.path());
        let dockerfile = dir.path().join("Dockerfile");
        let out = while_gen_waits(dir.path(), &["gen"], || {
            fs::remove_file(&dockerfile).unwrap();
            match what {
                "fifo" => {
                    let made = std::process::Command::new("mkfifo")
                        .arg(&dockerfile)
                        .status()
                        .unwrap();
                    assert!(made.success());
                }
                "zero" => std::os::unix::fs::symlink("/dev/zero", &dockerfile).unwrap(),
                _ => fs::File::create(&dockerfile)
                    .unwrap()
                    .set_len(1 << 40)
                    .unwrap(),
            }
        });
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: cannot read Dockerfile: {why}")),
            "{what}: {stderr}"
        );
        assert_eq!(others(dir.path()), before, "{what}");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "{what}");
    }
}

/// A person's save landing at any moment of a run (as an editor writes: truncate, then
/// write) is never overwritten: afterwards the file still holds it, whatever gen said.
#[test]
fn a_hand_edit_at_any_moment_is_never_lost() {
    let new_spec = SPEC.replace("workers: 2", "workers: 3");
    let mut kept = 0;
    for round in 0..150u64 {
        let dir = generated_then_changed(SPEC, &new_spec);
        let dockerfile = dir.path().join("Dockerfile");
        let child = spawn(dir.path(), &["gen"]);
        // Spread over a run's life: from before it reads the spec to after it is done.
        std::thread::sleep(Duration::from_micros((round * 97) % 12_000));
        let mark = format!("RUN echo edit {round}\n");
        let now = fs::read_to_string(&dockerfile).unwrap();
        fs::write(&dockerfile, format!("{now}{mark}")).unwrap();
        let out = child.wait_with_output().unwrap();
        let after = fs::read_to_string(&dockerfile).unwrap();
        assert!(
            after.contains(&mark),
            "round {round}: the edit was lost; gen exited {:?} saying\n{}{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        if out.status.code() == Some(1) {
            kept += 1;
        }
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "round {round}");
    }
    println!("{kept} of 150 runs saw the edit and refused; the rest finished before it");
}

/// Runs killed with SIGKILL at any moment, beside a run that is not killed: each file is
/// always whole (the old or the new text), the run that was not killed succeeds, and the
/// next run completes the set and leaves no temporary behind.
#[test]
fn runs_killed_at_any_moment_leave_whole_files_and_the_next_run_recovers() {
    let old_spec = SPEC.replace("workers: 2", "workers: 5");
    let new_spec = SPEC.replace("workers: 2", "workers: 7");
    let old = generated(&old_spec);
    let new = generated(&new_spec);
    for round in 0..40u64 {
        let dir = generated_then_changed(&old_spec, &new_spec);
        let mut killed: Vec<Child> = (0..2).map(|_| spawn(dir.path(), &["gen"])).collect();
        let survivor = spawn(dir.path(), &["gen"]);
        std::thread::sleep(Duration::from_micros((round * 331) % 15_000));
        for child in &mut killed {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (i, name) in FILES.iter().enumerate() {
            let now = fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(
                now == old[i] || now == new[i],
                "round {round}: {name} is neither old nor new"
            );
        }
        let out = survivor.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: the run that was not killed failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let next = util::fabuild(dir.path()).arg("gen").output().unwrap();
        assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
        assert_eq!(contents(dir.path()), new, "round {round}");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "round {round}");
    }
}

/// `--out` is a link into the project that something flips to a directory outside it and
/// back, all through the runs: gen writes inside the project or refuses, and never writes a
/// byte outside.
#[test]
fn a_flipped_output_link_never_leads_a_write_outside_the_project() {
    let outside = tempfile::tempdir().unwrap();
    let dir = project(SPEC);
    let root = dir.path().to_path_buf();
    fs::create_dir(root.join("real")).unwrap();
    std::os::unix::fs::symlink("real", root.join("out")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (root, outside, stop) = (root.clone(), outside.path().to_path_buf(), stop.clone());
        std::thread::spawn(move || {
            // Each flip is one rename of a ready link over `out`: `out` always exists.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for target in [outside.as_path(), Path::new("real")] {
                    let _ = fs::remove_file(root.join("next"));
                    std::os::unix::fs::symlink(target, root.join("next")).unwrap();
                    fs::rename(root.join("next"), root.join("out")).unwrap();
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        })
    };
    let mut wrote = 0;
    for round in 0..150 {
        for name in FILES {
            let _ = fs::remove_file(root.join("real").join(name));
        }
        let out = util::fabuild(&root)
            .args(["gen", "--out", "out"])
            .output()
            .unwrap();
        let written: Vec<_> = fs::read_dir(outside.path()).unwrap().collect();
        if !written.is_empty() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!(
                "round {round}: gen wrote {} entries outside the project (exit {:?})",
                written.len(),
                out.status.code()
            );
        }
        match out.status.code() {
            Some(0) => wrote += 1,
            Some(2) => {}
            other => panic!("round {round}: exit {other:?}: {}", text(&out.stderr)),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(wrote > 0, "no run got to write: the test proves nothing");
    println!("{wrote} of 150 runs wrote inside the project; the rest refused");
}
