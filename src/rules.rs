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
    PORT_RANGE = "FAB020", "port outside 1..65535";
    PRIVILEGED_PORT = "FAB021", "port below 1024 with a non-root user";
    WORKERS = "FAB022", "worker count out of range";
    THREADS_ASGI = "FAB023", "threads set for an ASGI app";
    KEEPALIVE_SHORT = "FAB024", "keep-alive shorter than common load balancer idle timeouts";
    JITTER_WITHOUT_MAX_REQUESTS = "FAB025", "max_requests_jitter without max_requests";
    FORWARDED_ALLOW_IPS = "FAB026", "forwarded_allow_ips entry is not an IP address or network";
    FORWARDED_ALLOW_ALL = "FAB027", "forwarded_allow_ips trusts every address";
    TIMEOUT_ZERO = "FAB028", "timeout of 0 disables the worker heartbeat";
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
    IMAGE_NAME = "FAB060", "name not usable as an image name";
    LABEL_KEY = "FAB061", "label key not usable";
    ENV_NAME = "FAB062", "environment variable name invalid or reserved";
    CA_SECRET_ID = "FAB063", "build secret id not usable";
    HEALTHCHECK_PATH = "FAB070", "healthcheck path not usable";
    HEALTHCHECK_TIMING = "FAB071", "healthcheck timing out of range";
    HEALTHCHECK_OCI = "FAB072", "OCI-format builds drop HEALTHCHECK";
    DEPLOY_IMAGE = "FAB080", "deploy.image is not a valid image reference";
    DEPLOY_REPLICAS = "FAB081", "replicas out of range";
    DEPLOY_MEMORY = "FAB082", "memory is not a Kubernetes quantity";
    DEPLOY_SECRET_NAME = "FAB083", "tls_secret is not a Kubernetes name";
}

/// Looks a rule up by its id.
pub fn by_id(id: &str) -> Option<Rule> {
    ALL.iter().copied().find(|rule| rule.id == id)
}
