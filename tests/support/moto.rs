//! moto's server on loopback: one per test process, shared by every test that needs an AWS
//! service's real semantics (no AWS account is reachable from here or from CI).
//!
//! [`endpoint`] gives its URL, starting it the first time it is asked for (a `OnceLock`, so
//! parallel tests wait for the one start). [`sdk_config`] is an SDK configuration for it (fixed
//! region, static test credentials, the same rustls-with-ring HTTP client `src/aws/mod.rs` builds),
//! and [`Account`] makes a client act as a given account (moto's `x-moto-account-id` header): any
//! `aws-sdk-*` client is built from those two.
//!
//! Which server:
//! - `MOTO_ENDPOINT` set (`http://127.0.0.1:5000`): a server someone else runs; used as it is.
//! - otherwise one is started: the executable is `MOTO_SERVER`, else the pinned venv
//!   `scripts/moto.sh` installs (`target/moto-venv`, what `.ci/run` calls), installed on first
//!   use when missing. When it cannot be had the test fails, saying how to install it (never
//!   skipped).
//!
//! Starting it: a free loopback port is picked by binding `127.0.0.1:0` (and releasing it), and
//! `moto_server -H 127.0.0.1 -p PORT` runs under a small `sh` wrapper whose standard input is a
//! pipe from this process. Statics are never dropped, so nothing here can kill the server at
//! exit; instead the wrapper waits for that pipe to close, which the kernel does whenever this
//! process ends (normally, by a panic, or killed), and then stops moto. The write end is
//! close-on-exec, so programs the tests spawn do not hold it open. The server's output goes to
//! `moto-<pid>.log` in Cargo's temporary directory for integration tests, named when it fails to
//! start.
//!
//! Tests share the server, so each names what it creates uniquely ([`unique`]) or works as an
//! account of its own.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::sdk_config::SharedCredentialsProvider;
// Every SDK crate re-exports the one credentials type; SQS is always among the dependencies.
use aws_sdk_sqs::config::Credentials;

/// How to get moto, in every failure message.
pub const INSTALL: &str =
    "pip install \"moto[server]\" (or run .ci/run, which installs it; or bash scripts/moto.sh)";

/// How long moto may take to answer after it is started (importing it takes seconds on a busy
/// machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

struct Server {
    endpoint: String,
    /// The wrapper, whose standard input (the pipe that keeps moto alive) is held here for the
    /// life of the process. `None` for a server given by `MOTO_ENDPOINT`.
    _child: Option<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The URL of this process's moto server (`http://127.0.0.1:PORT`), started on first use.
pub fn endpoint() -> &'static str {
    &SERVER.get_or_init(start).endpoint
}

/// The moto_server executable: `MOTO_SERVER`, else the pinned venv of `scripts/moto.sh`,
/// installed by running that script the first time (PyPI, about 20 s), so that `cargo test`
/// works on a fresh machine. A `moto_server` on `PATH` is not used: the tests pin moto's
/// version (its known gaps are asserted).
fn executable() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "MOTO_SERVER={} is not a file: {INSTALL}",
                path.display()
            ))
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/moto-venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    let ci = if std::env::var_os("CI").is_some() {
        " (CI: .ci/run must run scripts/moto.sh and export MOTO_SERVER before cargo test)"
    } else {
        ""
    };
    let installed = Command::new("bash")
        .arg(root.join("scripts/moto.sh"))
        .stdout(Stdio::null())
        .status();
    match installed {
        Ok(status) if status.success() && venv.is_file() => Ok(venv),
        Ok(status) => Err(format!(
            "moto_server not found and scripts/moto.sh failed ({status}): {INSTALL}{ci}"
        )),
        Err(e) => Err(format!(
            "moto_server not found and scripts/moto.sh could not run ({e}): {INSTALL}{ci}"
        )),
    }
}

/// The `sh` wrapper: moto in the background, stopped when standard input (our pipe) closes; the
/// wrapper exits with moto, so a moto that fails to start is noticed at once.
const WRAPPER: &str = r#"
exec 3<&0
"$0" "$@" </dev/null &
moto=$!
( cat <&3 >/dev/null; kill "$moto" 2>/dev/null ) &
wait "$moto"
"#;

fn start() -> Server {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        return Server {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            _child: None,
        };
    }
    let exe = executable().unwrap_or_else(|e| panic!("{e}"));
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let log_path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{}.log", std::process::id()));
    let log =
        std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg(&exe)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // Accounts come from each request (Account); a default from the environment would
        // override them all.
        .env_remove("MOTO_ACCOUNT_ID")
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            break;
        }
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{} exited ({status}) before answering on port {port}; its output ({}):\n{}",
                exe.display(),
                log_path.display(),
                log()
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{} did not answer on port {port} within {START_TIMEOUT:?}; its output ({}):\n{}",
                exe.display(),
                log_path.display(),
                log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: Some(child),
    }
}

/// An SDK configuration for moto in `region`: static test credentials, the endpoint, and the
/// HTTP client the crate itself uses (rustls with ring; plain HTTP here).
pub fn sdk_config(region: &str) -> aws_types::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(region.to_string()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .endpoint_url(endpoint())
        .http_client(http)
        .build()
}

/// An interceptor that makes a client's requests those of `account` in moto (which otherwise
/// puts every request in its default account, 123456789012). Add it to a service config:
/// `aws_sdk_sqs::config::Builder::from(&sdk_config(region)).interceptor(Account::new(id))`.
#[derive(Debug, Clone)]
pub struct Account(String);

impl Account {
    pub fn new(id: &str) -> Self {
        Account(id.to_string())
    }
}

impl Intercept for Account {
    fn name(&self) -> &'static str {
        "moto account"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// A name no other test in this process (or another process sharing a `MOTO_ENDPOINT`) uses:
/// `prefix`, the process id and a counter.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Requests made as one account are not seen by another (the header reaches moto), and the
/// server is the one every test of this process shares.
#[tokio::test]
async fn accounts_are_kept_apart() {
    let config = sdk_config("eu-west-1");
    let sqs = |account: &str| {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&config)
                .interceptor(Account::new(account))
                .build(),
        )
    };
    let name = unique("apart");
    sqs("111111111111")
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap();
    for (account, holds) in [("111111111111", true), ("222222222222", false)] {
        let listed = sqs(account)
            .list_queues()
            .queue_name_prefix(&name)
            .send()
            .await
            .unwrap();
        assert_eq!(!listed.queue_urls().is_empty(), holds, "{account}");
    }
    assert_eq!(endpoint(), endpoint());
}
