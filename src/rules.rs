//! The registry of rule ids: every finding fabuild reports names one of these.
//!
//! Ids are stable: a retired rule keeps its number and is never reused. `docs/rules.md`
//! documents each one; a test keeps the two in step.

/// A rule fabuild checks, with its stable id and a short title.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $title:literal;)*) => {
        $(pub const $name: Rule = Rule { id: $id, title: $title };)*
        /// Every rule, in id order.
        pub const ALL: &[Rule] = &[$($name),*];
    };
}

rules! {
    YAML_SYNTAX = "FAB001", "app.yaml is not valid YAML";
    UNKNOWN_KEY = "FAB002", "unknown key";
    INVALID_VALUE = "FAB003", "value has the wrong type or is missing";
    SPEC_VERSION = "FAB004", "unsupported spec version";
    CONTROL_CHARACTER = "FAB005", "value contains a control character or newline";
    APP_MODULE = "FAB010", "app.module is not `package.module:attribute`";
    WRITABLE_PATH = "FAB011", "app.writable path not usable";
    RELEASE_COMMAND = "FAB012", "app.release is not a command exec can run";
    COLLECTSTATIC = "FAB013", "app.collectstatic without a settings module, or a placeholder name not usable";
    PORT_RANGE = "FAB020", "port outside 1..65535";
    PRIVILEGED_PORT = "FAB021", "port below 1024 with a non-root user";
    WORKERS = "FAB022", "worker count out of range";
    THREADS_ASGI = "FAB023", "threads set for an ASGI app";
    KEEPALIVE_SHORT = "FAB024", "keep-alive shorter than common load balancer idle timeouts";
    JITTER_WITHOUT_MAX_REQUESTS = "FAB025", "max_requests_jitter without max_requests";
    FORWARDED_ALLOW_IPS = "FAB026", "forwarded_allow_ips entry is not an IP address or network";
    FORWARDED_ALLOW_ALL = "FAB027", "forwarded_allow_ips trusts every address";
    TIMEOUT_ZERO = "FAB028", "timeout of 0 disables the worker heartbeat";
    GUNICORN_CONF = "FAB029", "a gunicorn config file is loaded in the image, unchecked";
    ROOT_USER = "FAB030", "uid or gid 0";
    ID_RANGE = "FAB031", "uid or gid out of range";
    TLS_PAIR = "FAB040", "keyfile without certfile, or certfile without keyfile";
    TLS_FILE_OUTSIDE_DIR = "FAB041", "TLS file not under the TLS mount directory";
    TLS_DIR_LOCATION = "FAB042", "TLS mount directory in a place it must not be";
    PYTHON_VERSION = "FAB050", "unsupported Python version";
    BASE_IMAGE_DIGEST = "FAB051", "base image not pinned by digest";
    BASE_IMAGE_REFERENCE = "FAB052", "base image is not a valid image reference";
    BASE_IMAGE_PYTHON = "FAB053", "base image tag names another Python version";
    REQUIREMENTS_FILE = "FAB054", "requirements file missing or outside the project";
    LOCK_FILE = "FAB055", "python.lock unusable";
    LOCK_CONFLICT = "FAB056", "the lock pins a server package at another version";
    PROJECT_FILE = "FAB057", "python.project unusable";
    EXCLUDE_NEWER = "FAB058", "python.project without a usable exclude_newer";
    DEPENDENCY_SOURCES = "FAB059", "more than one source for the app's dependencies";
    IMAGE_NAME = "FAB060", "name not usable as an image name";
    LABEL_KEY = "FAB061", "label key not usable";
    ENV_NAME = "FAB062", "environment variable name invalid or reserved";
    CA_SECRET_ID = "FAB063", "build secret id not usable";
    BASE_PYTHON_UNKNOWN = "FAB064", "base image not known to have python.version";
    LOCAL_REQUIREMENT = "FAB065", "requirements line installs files the image build cannot see";
    APT_PACKAGE = "FAB066", "build_packages or system_packages entry is not a Debian package";
    WORKSPACE_IMPORT = "FAB067", "workspace members the app imports are not on PYTHONPATH";
    HEALTHCHECK_PATH = "FAB070", "healthcheck path not usable";
    HEALTHCHECK_TIMING = "FAB071", "healthcheck timing out of range";
    HEALTHCHECK_OCI = "FAB072", "OCI-format builds drop HEALTHCHECK";
    POLICY_BASE_IMAGE = "FAB075", "base image not one the platform's policy allows";
    POLICY_LABEL = "FAB076", "label the platform's policy requires is missing";
    POLICY_UID = "FAB077", "uid below the platform's minimum";
    POLICY_EXTRA_ARG = "FAB078", "server.extra_args holds a flag the platform's policy forbids";
    POLICY_WORKERS = "FAB079", "more workers than the platform's policy allows";
    DEPLOY_IMAGE = "FAB080", "deploy.image is not a valid image reference";
    DEPLOY_REPLICAS = "FAB081", "replicas out of range";
    DEPLOY_MEMORY = "FAB082", "memory is not a Kubernetes quantity";
    DEPLOY_SECRET_NAME = "FAB083", "tls_secret is not a Kubernetes name";
    PLATFORM_FILE = "FAB084", "platform file (extends) missing, cyclic or unusable";
    WORKER_MEMORY = "FAB085", "worker count and memory limit disagree";
    SERVER_PIN_RELAXED = "FAB090", "the app asks for a server package at another version; fabuild's is installed";
    PINS_FILE = "FAB091", "python.pins file unusable or out of date with its want lines";
    PINS_UNASSUMED = "FAB092", "python.pins pins a version outside what fabuild's rules assume";
    PINS_INCOMPLETE = "FAB093", "python.pins lacks a package the app's stack needs";
    INDEX_URL = "FAB094", "build.index_url not usable, or carrying credentials";
    CMD_ARGS_SPLIT = "FAB100", "GUNICORN_CMD_ARGS cannot be split (unbalanced quote, trailing backslash)";
    CMD_ARGS_UNKNOWN = "FAB101", "flag gunicorn does not know, or a stray word";
    CMD_ARGS_AMBIGUOUS = "FAB102", "abbreviated flag matches several flags";
    CMD_ARGS_FLAG_VALUE = "FAB103", "on/off flag given a value";
    CMD_ARGS_MISSING_VALUE = "FAB104", "flag missing its value";
    CMD_ARGS_BAD_VALUE = "FAB105", "value argparse refuses (not an integer)";
    CMD_ARGS_EXITS = "FAB106", "gunicorn exits without serving (--help, --version, --check-config, --print-config)";
    CMD_ARGS_ABBREVIATED = "FAB107", "flag written as an abbreviation";
    CMD_ARGS_POSITIONAL = "FAB108", "positional word ignored by gunicorn";
    CMD_ARGS_VERSION = "FAB109", "flag removed in, or newer than, the targeted gunicorn";
    SSL_VERSION = "FAB110", "--ssl-version is deprecated, and fatal under UvicornWorker";
    UVICORN_WORKERS_DEPRECATED = "FAB111", "deprecated uvicorn.workers worker class";
    EVENTLET_REMOVED = "FAB112", "eventlet worker removed in gunicorn 26";
    TLS_HALF_PAIR = "FAB113", "--keyfile without --certfile, or the reverse";
    NO_ACCESS_LOG = "FAB114", "no access log";
    BIND_LOOPBACK = "FAB115", "listening on loopback inside a container";
    PRIVILEGED_PORT_NON_ROOT = "FAB116", "port below 1024 for a non-root uid";
    DAEMON = "FAB117", "--daemon in a container";
    RELOAD = "FAB118", "--reload in production";
    FORWARDED_ALLOW_ALL_IPS = "FAB119", "--forwarded-allow-ips trusts every client";
    FORWARDED_ALLOW_INVALID = "FAB120", "--forwarded-allow-ips entry gunicorn refuses";
    WORKER_COUNT = "FAB121", "worker count missing, zero or derived from host CPUs";
    WORKER_TMP_DIR = "FAB122", "no --worker-tmp-dir";
    CONTROL_SOCKET = "FAB123", "control socket under an unwritable HOME";
    KEEPALIVE_BELOW_LB = "FAB124", "keep-alive not longer than a load balancer's idle timeout";
    TLS_KEY_READABLE = "FAB125", "TLS key must be readable by the worker uid";
    EXTRA_ARGS_OWNED = "FAB126", "server.extra_args sets a flag the spec already decides";
    FILE_OUTSIDE_WRITABLE = "FAB127", "pid file or error log outside the directories the uid can write";
    OPENED_FILE_MISSING = "FAB128", "config, logging config or chdir directory the image will not have";
    ENV_TOO_LONG = "FAB129", "environment variable longer than Linux passes to a process";
    SPEW = "FAB130", "--spew in production";
    VALUE_REFUSED = "FAB131", "value gunicorn's validator refuses (exits 1 before serving)";
}
