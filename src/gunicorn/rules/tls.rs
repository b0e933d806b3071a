//! TLS: the key and certificate, who can read them, and the settings `UvicornWorker`
//! ignores or crashes on.

use crate::diagnostic::Severity::{Error, Note, Warning};
use crate::gunicorn::advice::{Advice, Fix, text};
use crate::gunicorn::argparse::Parsed;
use crate::rules;

use super::{Context, is_uvicorn, last};

// One rule per branch, each with its wording in two languages: long, but read top to bottom.
#[allow(clippy::too_many_lines)]
pub(super) fn tls(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
    let uvicorn = is_uvicorn(parsed);
    if let Some((token, version)) = last(parsed, "ssl_version") {
        let two = if version.trim() == "2" {
            text(
                " `2` never meant \"TLS 1.2 or newer\": 2 is ssl.PROTOCOL_TLS, the default; Python >= 3.10 already refuses anything below TLS 1.2.",
                "`2` 从来不表示“TLS 1.2 及以上”：2 是 ssl.PROTOCOL_TLS，也就是默认值；Python >= 3.10 本来就拒绝低于 TLS 1.2 的连接。",
            )
        } else {
            text("", "")
        };
        let why = if uvicorn {
            text(
                format!(
                    "under UvicornWorker --ssl-version is not ignored: the raw string goes to ssl.SSLContext() and every worker dies with \"TypeError: 'str' object cannot be interpreted as an integer\"; the master keeps respawning them, so the container looks alive and serves nothing.{}",
                    two.en
                ),
                format!(
                    "在 UvicornWorker 下 --ssl-version 不会被忽略：原始字符串被直接传给 ssl.SSLContext()，每个 worker 都会因 \"TypeError: 'str' object cannot be interpreted as an integer\" 而崩溃；master 不停地重启它们，容器看起来还活着，却不提供任何服务。{}",
                    two.zh
                ),
            )
        } else {
            text(
                format!(
                    "--ssl-version is deprecated since gunicorn 21.0 and ignored by gunicorn's own TLS (it only prints a warning).{}",
                    two.en
                ),
                format!(
                    "--ssl-version 自 gunicorn 21.0 起已弃用，gunicorn 自身的 TLS 会忽略它（只打印一条警告）。{}",
                    two.zh
                ),
            )
        };
        out.push(
            Advice::new(
                rules::SSL_VERSION,
                if uvicorn { Error } else { Warning },
                format!("--ssl-version={version}"),
                why,
                text(
                    "remove --ssl-version; the TLS 1.2 floor comes from Python's defaults; for another floor use ssl_context_factory in a UvicornWorker subclass (uvicorn >= 0.47) or the ssl_context hook in a config file (native workers)",
                    "删除 --ssl-version；TLS 1.2 的下限来自 Python 的默认设置；如需其他下限，在 UvicornWorker 子类中使用 ssl_context_factory（uvicorn >= 0.47），或在配置文件中使用 ssl_context 钩子（gunicorn 自带的 worker）",
                ),
            )
            .at(Some(token))
            .edit(Fix::Drop("ssl_version")),
        );
    }
    let key = last(parsed, "keyfile");
    let cert = last(parsed, "certfile");
    match (&key, &cert) {
        (Some((token, _)), None) | (None, Some((token, _))) => {
            let (given, missing) = if key.is_some() {
                ("--keyfile", "--certfile")
            } else {
                ("--certfile", "--keyfile")
            };
            out.push(
                Advice::new(
                    rules::TLS_HALF_PAIR,
                    Error,
                    given,
                    text(
                        format!("{given} without {missing}: gunicorn turns TLS on but cannot build a certificate chain, so TLS fails to start"),
                        format!("只有 {given} 没有 {missing}：gunicorn 会开启 TLS，却无法组成证书链，TLS 无法启动"),
                    ),
                    text(
                        "give both --keyfile and --certfile, or neither (terminate TLS at the proxy)".to_string(),
                        "同时提供 --keyfile 和 --certfile，或者两者都不给（在代理层终止 TLS）".to_string(),
                    ),
                )
                .at(Some(*token)),
            );
        }
        (Some((token, keyfile)), Some(_)) => {
            let (severity, why, fix) = if ctx.tls_mounted {
                (
                    Warning,
                    text(
                        format!(
                            "the key {keyfile} is mounted, not in the image: gunicorn's master only checks that it exists; the workers (uid {}) read it. Secret volumes are root-owned, and with defaultMode 0400 uid {} cannot read the key; under UvicornWorker the master then respawns workers forever and the container serves nothing",
                            ctx.uid, ctx.uid
                        ),
                        format!(
                            "密钥 {keyfile} 是挂载进来的，不在镜像里：gunicorn 的 master 只检查文件是否存在，真正读取它的是 worker（uid {}）。Secret 卷归 root 所有，若 defaultMode 为 0400，uid {} 读不了密钥；在 UvicornWorker 下 master 会无休止地重启 worker，容器不提供任何服务",
                            ctx.uid, ctx.uid
                        ),
                    ),
                    text(
                        "make the key readable by that uid: set fsGroup to its gid and the mode to 0440 (or 0640); encrypted keys are not supported",
                        "让该 uid 能读取密钥：把 fsGroup 设为它的 gid，并把文件权限设为 0440（或 0640）；不支持加密的私钥",
                    ),
                )
            } else {
                (
                    Note,
                    text(
                        format!(
                            "the workers (uid {}) read {keyfile} themselves; gunicorn's master only checks that it exists. TLS 1.3 is negotiated; clients limited to TLS 1.1 or older are refused",
                            ctx.uid
                        ),
                        format!(
                            "worker（uid {}）会自己读取 {keyfile}；gunicorn 的 master 只检查文件是否存在。握手会协商 TLS 1.3，只支持 TLS 1.1 及更低版本的客户端会被拒绝",
                            ctx.uid
                        ),
                    ),
                    text(
                        "keep the key readable by that uid and unencrypted; if it is mounted at run time, pass --tls-mounted for the checks that apply",
                        "确保该 uid 能读取密钥且密钥未加密；如果密钥是运行时挂载的，请加上 --tls-mounted 以进行相应检查",
                    ),
                )
            };
            out.push(
                Advice::new(rules::TLS_KEY_READABLE, severity, keyfile.clone(), why, fix)
                    .at(Some(*token)),
            );
        }
        (None, None) => {}
    }
}
