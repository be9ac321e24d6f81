//! Headless Chromium for tests that check pages in a real browser (the docs page, the monthly
//! bulletin): finding the browser (a failure under `CI=true` when absent), running it with every
//! host but loopback unresolvable and a network log, and reading that log.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser, or why there is none.
pub fn chromium() -> Option<PathBuf> {
    let name = std::env::var("FIREGRID_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(&name))
            .find(|p| p.is_file())
    });
    let found = found.or_else(|| Some(PathBuf::from(&name)).filter(|p| p.is_file()));
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no `{name}` browser: install the distribution's chromium package"
        );
        eprintln!("SKIPPED: no `{name}` browser on this machine (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on `url` with `extra` arguments, its network log in `netlog`; stdout.
pub fn run_chromium(
    browser: &Path,
    profile: &Path,
    netlog: &Path,
    url: &str,
    extra: &[&str],
) -> String {
    let out = Command::new("timeout")
        .arg("180")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            // The browser's own clock check (clients2.google.com) is not the page's doing.
            "--disable-features=NetworkTimeServiceQuerying",
            // Any name but the loopback address fails to resolve: the page cannot reach out.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            // Let Swagger UI fetch the document and render before the DOM is taken.
            "--virtual-time-budget=15000",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What Chromium's network log (`--log-net-log`) shows: each request as (URL, initiator) and
/// each address a TCP connection was attempted to. The browser's own service traffic (component
/// updates, account checks) has the initiator "not an origin"; what the page asks for carries
/// the page's origin.
pub struct NetLog {
    pub requests: Vec<(String, String)>,
    pub connects: Vec<String>,
}

pub fn read_netlog(path: &Path) -> NetLog {
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("chromium wrote its network log"))
            .expect("the network log is JSON");
    let type_id = |name: &str| log["constants"]["logEventTypes"][name].as_i64().unwrap();
    let (start_job, connect) = (
        type_id("URL_REQUEST_START_JOB"),
        type_id("TCP_CONNECT_ATTEMPT"),
    );
    let mut net = NetLog {
        requests: Vec::new(),
        connects: Vec::new(),
    };
    for e in log["events"].as_array().unwrap() {
        let text = |key: &str| e["params"][key].as_str().unwrap_or("").to_string();
        // Only an event's beginning names the URL or address; its end may carry other details.
        match e["type"].as_i64() {
            Some(t) if t == start_job && !text("url").is_empty() => {
                net.requests.push((text("url"), text("initiator")))
            }
            Some(t) if t == connect && !text("address").is_empty() => {
                net.connects.push(text("address"))
            }
            _ => {}
        }
    }
    net
}
