//! A `gunicorn.conf.py` in the project: real gunicorn loads it from its working directory
//! even when `GUNICORN_CMD_ARGS` is set, so `fabuild check` warns about it (FAB029).

use fabuild::check::check_text;

use crate::util::{Gunicorn, real_gunicorn_with};

const SPEC: &str = "version: 1\nname: orders\napp:\n  module: orders.main:app\n  interface: wsgi\npython:\n  requirements: requirements.txt\n";

#[test]
fn a_project_gunicorn_conf_is_loaded_by_real_gunicorn_and_warned_about() {
    // The control: the same variable serves; the file in the working directory turns the
    // start into a configuration check (exit 0), or a pid file it cannot create (exit 1).
    assert_eq!(
        real_gunicorn_with("--workers=1", &[("other.conf.py", "check_config = True\n")]),
        Gunicorn::Served
    );
    assert_eq!(
        real_gunicorn_with(
            "--workers=1",
            &[("gunicorn.conf.py", "check_config = True\n")]
        ),
        Gunicorn::Exited(Some(0))
    );
    assert_eq!(
        real_gunicorn_with(
            "--workers=1",
            &[(
                "gunicorn.conf.py",
                "pidfile = '/nonexistent-fabuild-dir/g.pid'\n"
            )]
        ),
        Gunicorn::Exited(Some(1))
    );

    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let rules = |project| {
        let checked = check_text(SPEC, "app.yaml", project).unwrap();
        checked
            .warnings
            .iter()
            .map(|f| f.rule.id)
            .collect::<Vec<_>>()
    };
    assert!(!rules(project.path()).contains(&"FAB029"));
    std::fs::write(project.path().join("gunicorn.conf.py"), "daemon = True\n").unwrap();
    assert!(rules(project.path()).contains(&"FAB029"));

    // `--config` replaces the lookup: gunicorn never reads gunicorn.conf.py, so the one
    // warning is about the file `--config` names.
    assert_eq!(
        real_gunicorn_with(
            "--workers=1 --config=prod.conf.py",
            &[
                ("gunicorn.conf.py", "check_config = True\n"),
                ("prod.conf.py", "")
            ]
        ),
        Gunicorn::Served
    );
    std::fs::write(project.path().join("prod.conf.py"), "").unwrap();
    let with_config = format!("{SPEC}server:\n  extra_args: [--config=prod.conf.py]\n");
    let checked = check_text(&with_config, "app.yaml", project.path()).unwrap();
    let warned: Vec<_> = checked
        .warnings
        .iter()
        .filter(|f| f.rule.id == "FAB029")
        .map(|f| (f.message.as_str(), f.span.unwrap().line))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].0.contains("prod.conf.py"), "{warned:?}");
    assert_eq!(warned[0].1, 9);
}

/// An application that loads a config file with gunicorn's own loader (the code `-c FILE`
/// and `./gunicorn.conf.py` go through) and nothing else; the scripts below start with it.
const PROBE: &str = r"
import contextlib, io, json, os, sys, tempfile
from gunicorn.app.base import Application
from gunicorn.config import Config

class Probe(Application):
    def __init__(self):
        self.usage, self.prog, self.cfg = None, None, Config()
    def init(self, *args):
        pass
    def load(self):
        pass
";

/// Loads each config text with gunicorn's own loader (the code `-c FILE` and
/// `./gunicorn.conf.py` go through) and prints the settings init can carry, or `null`
/// where gunicorn refuses the file.
const GUNICORN_READS: &str = r#"

NAMES = ["bind", "workers", "threads", "timeout", "graceful_timeout", "keepalive",
         "max_requests", "max_requests_jitter", "forwarded_allow_ips", "accesslog",
         "keyfile", "certfile", "ca_certs"]
out = []
directory = tempfile.mkdtemp()
for index, text in enumerate(json.load(sys.stdin)):
    path = os.path.join(directory, f"gunicorn{index}.conf.py")
    with open(path, "w") as f:
        f.write(text)
    probe = Probe()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            probe.load_config_from_file(path)
    except (SystemExit, Exception):
        out.append(None)
        continue
    out.append({name: getattr(probe.cfg, name) for name in NAMES})
print(json.dumps(out))
"#;

/// Lines a gunicorn.conf.py is made of: the settings init carries, written every way it
/// reads them and some it must not (computed, reassigned, out of range, a relative key),
/// and lines it must skip. A few make gunicorn refuse the whole file; those cases prove
/// nothing and are counted.
const LINES: &[&str] = &[
    "bind = '0.0.0.0:8080'",
    "bind = [\"0.0.0.0:9000\"]",
    "bind = \"[::]:8443\"",
    "bind = '127.0.0.1:8000'",
    "bind = ['0.0.0.0:8001', '0.0.0.0:8002']",
    "bind = 'unix:/tmp/gunicorn.sock'",
    "workers = 4",
    "workers = 1_000",
    "workers = 00",
    "workers = multiprocessing.cpu_count() * 2 + 1",
    "workers = 0",
    "threads = 8  # per worker",
    "threads = -1",
    "timeout = 120",
    "timeout = 4294967296",
    "graceful_timeout = 20",
    "keepalive = 75",
    "max_requests = 1_000_000",
    "max_requests_jitter = 50",
    "forwarded_allow_ips = '10.0.0.0/8, 192.168.1.10'",
    "forwarded_allow_ips = '*'",
    "forwarded_allow_ips = ''",
    "forwarded_allow_ips = ' ::1 ,,10.1.2.3'",
    "accesslog = '-'",
    "accesslog = None",
    "accesslog = '/var/log/access.log'",
    "keyfile = '/opt/key/k.pem'",
    "certfile = '/opt/key/c.pem'",
    "ca_certs = '/opt/key/ca.pem'",
    "keyfile = 'certs/k.pem'",
    "certfile = '/etc/tls/c.pem'",
    "keyfile = None",
    "loglevel = 'info'",
    "preload_app = True",
    "x = 5",
    "# workers = 77",
    "\"\"\"Settings.\nworkers = 99\n\"\"\"",
    "def post_fork(server, worker):\n    workers = 3",
    // Statements over several lines, and strings written every way Python reads them.
    "bind = [\n    '0.0.0.0:8003',\n]",
    "bind = [  # the public address\n    \"0.0.0.0:8004\",  # here\n    # nothing else\n]",
    "bind = ['0.0.0.0:8005'\n        ]",
    "bind = \\\n    '0.0.0.0:8006'",
    "bind = ('0.0.0.0:'\n        \"8007\")",
    "bind = f'0.0.0.0:8008'",
    "bind = [\n    '0.0.0.0:8009',\n    '0.0.0.0:8010',\n]",
    "workers = (\n    3\n)",
    "workers = (((5)))",
    "workers = \\\n    multiprocessing.cpu_count()",
    "timeout = \\\n    30",
    "threads = \\\n    (2  # two\n     )",
    "max_requests = [\n    1,\n][0]",
    "keepalive = 1 if True else \\\n    2",
    "accesslog = \"\"\"-\"\"\"",
    "accesslog = '''\n-'''",
    "accesslog = r'-'",
    "forwarded_allow_ips = (\n    '10.0.0.0/8,'\n    \"192.168.0.1\"\n)",
    "forwarded_allow_ips = '\\x31\\x30.0.0.1,\\\n172.16.0.0/12'",
    "keyfile = r'/opt/key/k.pem'",
    "certfile = '/opt/key/\\x63.pem'",
    "ca_certs = u'''/opt/key/ca.pem'''",
    "x = '''\nworkers = 5\n'''",
    "y = (\"\"\"\nbind = '0.0.0.0:1'\n\"\"\",\n     'timeout = 2')",
];

/// For every generated file gunicorn loads, each value init carries is the value gunicorn
/// uses: 2,000 files, read by gunicorn's own config loader in one Python process. Statements
/// over several lines are read too, not left out.
#[test]
fn what_init_carries_is_what_gunicorn_reads() {
    use fabuild::init::gunicorn_conf::{self, Value};
    use fabuild::spec::Interface;

    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).unwrap()
    };
    let texts: Vec<String> = (0..2000)
        .map(|_| {
            let lines: Vec<&str> = (0..=next(8)).map(|_| LINES[next(LINES.len())]).collect();
            format!("import multiprocessing\n{}\n", lines.join("\n"))
        })
        .collect();
    let read = crate::util::python_json(
        &format!("{PROBE}{GUNICORN_READS}"),
        serde_json::to_string(&texts).unwrap().as_bytes(),
    );
    let file_prefix = format!("{}:", gunicorn_conf::FILE);
    let mut loaded = 0;
    let mut carried = 0;
    let mut over_lines = 0;
    for (index, text) in texts.iter().enumerate() {
        let gunicorn = &read[index];
        if gunicorn.is_null() {
            continue;
        }
        loaded += 1;
        let interface = if index % 2 == 0 {
            Interface::Wsgi
        } else {
            Interface::Asgi
        };
        let conf = gunicorn_conf::parse(text, interface);
        for c in &conf.carried {
            carried += 1;
            // A statement over several lines is quoted joined onto one.
            let (line, quoted) = c.why[file_prefix.len()..].split_once(": ").unwrap();
            let physical = text
                .lines()
                .nth(line.parse::<usize>().unwrap() - 1)
                .unwrap();
            if quoted != physical.trim() {
                over_lines += 1;
            }
            let ok = match (c.key, &c.value) {
                ("port", Value::Number(port)) => {
                    let bind = gunicorn["bind"].as_array().unwrap();
                    bind.len() == 1 && bind[0].as_str().unwrap().ends_with(&format!(":{port}"))
                }
                ("access_log", Value::Bool(on)) => {
                    gunicorn["accesslog"]
                        == if *on {
                            "-".into()
                        } else {
                            serde_json::Value::Null
                        }
                }
                ("forwarded_allow_ips", Value::List(list)) => {
                    gunicorn["forwarded_allow_ips"] == serde_json::json!(list)
                }
                (key, Value::Number(n)) => gunicorn[key] == serde_json::json!(n),
                _ => false,
            };
            assert!(
                ok,
                "case {index}: init carries server.{} = {}, gunicorn reads {gunicorn}\n{text}",
                c.key, c.value
            );
        }
        if let Some(tls) = &conf.tls {
            carried += 1;
            let at = |name: &str| serde_json::json!(format!("{}/{name}", tls.dir));
            assert_eq!(
                gunicorn["certfile"],
                at(&tls.certfile),
                "case {index}\n{text}"
            );
            assert_eq!(
                gunicorn["keyfile"],
                at(&tls.keyfile),
                "case {index}\n{text}"
            );
            let ca = tls.ca_certs.as_deref().map_or(serde_json::Value::Null, at);
            assert_eq!(gunicorn["ca_certs"], ca, "case {index}\n{text}");
        }
    }
    // The generator must mostly make files gunicorn loads, and init must carry from them.
    assert!(loaded > 1000, "gunicorn loaded only {loaded} of 2000 files");
    assert!(carried > 1000, "init carried only {carried} values");
    assert!(
        over_lines > 200,
        "init carried only {over_lines} values from statements over several lines"
    );
    println!(
        "{loaded} of 2000 files loaded by gunicorn; {carried} values carried ({over_lines} from statements over several lines), all as gunicorn reads them"
    );
}

/// Reads each boolean setting three ways with gunicorn's own code: from a config file that
/// sets it, from the command-line words init advises instead, and unset. Prints for each how
/// the server behaves (`true` for on), or `"refused"` where gunicorn does not start.
const GUNICORN_READS_A_BOOL: &str = r#"

def behaves(name, value):
    # gunicorn sends files unless cfg.sendfile is False (http/wsgi.py), and that property
    # is False whenever the setting is set at all; every other boolean setting is on when
    # truthy, so None is off.
    return value is not False if name == "sendfile" else bool(value)

out = []
directory = tempfile.mkdtemp()
for index, case in enumerate(json.load(sys.stdin)):
    name = case["name"]
    path = os.path.join(directory, f"gunicorn{index}.conf.py")
    with open(path, "w") as f:
        f.write(case["text"])
    probe = Probe()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            probe.load_config_from_file(path)
        from_file = behaves(name, getattr(probe.cfg, name))
    except (SystemExit, Exception):
        from_file = "refused"
    # As Application.load_config applies the command line: values argparse left None are
    # not set.
    cfg = Config()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args = cfg.parser().parse_args(case["words"])
        for key, value in vars(args).items():
            if value is not None and key != "args":
                cfg.set(key.lower(), value)
        from_words = behaves(name, getattr(cfg, name))
    except (SystemExit, Exception):
        from_words = "refused"
    out.append({"file": from_file, "words": from_words,
                "default": behaves(name, getattr(Config(), name))})
print(json.dumps(out))
"#;

/// For every boolean setting of gunicorn 27 set in a gunicorn.conf.py, in each spelling
/// gunicorn accepts or refuses there, init's advice is what gunicorn does: the flag it
/// advises gives the server the behaviour the file gave it, "default already" is the
/// default, and a value gunicorn refuses is called refused, not turned into a flag
/// (`reload = 1` once became `--reload=1`, which gunicorn's argument parser rejects).
#[test]
fn what_init_advises_for_a_boolean_setting_is_what_gunicorn_does() {
    use fabuild::gunicorn::settings::{self, Arity};
    use fabuild::init::gunicorn_conf;
    use fabuild::spec::Interface;

    const VALUES: [&str; 9] = [
        "True",
        "False",
        "None",
        "'true'",
        "' FALSE '",
        "'TrUe'",
        "'yes'",
        "1",
        "[]",
    ];
    let mut cases = Vec::new();
    for setting in settings::all().iter().filter(|s| {
        matches!(s.arity, Arity::Flag | Arity::FlagFalse)
            && s.available_in(settings::DEFAULT_VERSION)
    }) {
        for value in VALUES {
            let text = format!("{} = {value}\n", setting.name);
            let conf = gunicorn_conf::parse(&text, Interface::Wsgi);
            assert_eq!(conf.left.len(), 1, "{text}");
            let advice = conf.left[0].advice.clone();
            let words: Vec<String> = match advice.split_once("server.extra_args: ") {
                Some((_, list)) => serde_json::from_str(list).unwrap(),
                None => Vec::new(),
            };
            cases.push((setting.name, text, advice, words));
        }
    }
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(name, text, _, words)| serde_json::json!({"name": name, "text": text, "words": words}))
        .collect();
    let read = crate::util::python_json(
        &format!("{PROBE}{GUNICORN_READS_A_BOOL}"),
        serde_json::to_string(&input).unwrap().as_bytes(),
    );
    let refused = serde_json::json!("refused");
    let mut flags = 0;
    for ((name, text, advice, words), gunicorn) in cases.iter().zip(read.as_array().unwrap()) {
        let (file, from_words, default) =
            (&gunicorn["file"], &gunicorn["words"], &gunicorn["default"]);
        let case = format!("{text}init: {advice}\ngunicorn: {gunicorn}");
        if *file == refused {
            assert!(
                advice.starts_with("gunicorn takes True or False here and refuses"),
                "{case}"
            );
            assert!(
                advice.contains(&format!("(\"Invalid value for {name}\")")),
                "{case}"
            );
        } else if advice.starts_with("for development") {
            // reload and spew: dropped, whatever the file switched on.
            assert!(*file == true && *default == false, "{case}");
        } else if advice == "gunicorn's default already: drop it" {
            assert_eq!(file, default, "{case}");
        } else if words.is_empty() {
            // Nothing on the command line gives the file's behaviour.
            assert!(
                advice.contains("only a config file can switch it off"),
                "{case}"
            );
            assert!(*file == false && *default == true, "{case}");
        } else {
            flags += 1;
            assert_eq!(from_words, file, "{case}");
            assert_ne!(file, default, "{case}");
        }
    }
    // Three spellings switch each setting on, and all but one setting are off by default.
    assert!(flags >= cases.len() / VALUES.len(), "{flags} flags advised");
    println!(
        "{} cases, {flags} advised as a flag, each as gunicorn reads it",
        cases.len()
    );
}
