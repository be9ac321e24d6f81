//! `GET /docs` (issue 15): the API reference page, opened in a real headless Chromium against the
//! real server on a loopback port. The page must list the operations of the OpenAPI document and
//! offer the bearer "Authorize" dialog, and nothing may leave loopback: every host other than
//! 127.0.0.1 resolves to nothing, and Chromium's own network log must name only loopback URLs.
//!
//! Without Chromium the browser test says so and passes, except under `CI=true`, where a missing
//! browser is a failure (CI installs the distribution's `chromium`). `FIREGRID_CHROMIUM` names
//! another binary; `FIREGRID_DOCS_SCREENSHOT=/path.png` also saves a screenshot of the page.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use actix_web::HttpServer;
use common::{Backend, TestDb};
use firegrid::AppState;

#[actix_web::test]
async fn docs_redirects_to_the_page_whose_files_are_all_local() {
    let app = common::spawn(Backend::Sqlite).await;
    let res = app.get("/docs", None).await;
    assert!(res.status.is_redirection(), "{}", res.status);
    assert_eq!(res.headers.get("location").unwrap(), "/docs/");

    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
    let html = String::from_utf8(page.raw.clone()).unwrap();
    let init = app.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(init.status, 200);
    let init = String::from_utf8(init.raw.clone()).unwrap();
    // The page loads the document the server serves, and no script, style or data from elsewhere.
    assert!(init.contains("/api-spec/openapi.json"), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    for text in [&html, &init] {
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "an external reference in the page: {text}"
        );
    }
    // Every file the page names is served by the binary itself.
    for file in ["swagger-ui.css", "swagger-ui-bundle.js", "index.css"] {
        assert!(html.contains(file), "{file} not referenced");
        let res = app.get(&format!("/docs/{file}"), None).await;
        assert_eq!(res.status, 200, "{file}");
        assert!(res.raw.len() > 100, "{file} is empty");
    }
}

/// The browser, or why there is none.
fn chromium() -> Option<PathBuf> {
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
fn run_chromium(
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
struct NetLog {
    requests: Vec<(String, String)>,
    connects: Vec<String>,
}

fn read_netlog(path: &Path) -> NetLog {
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

#[actix_web::test]
async fn docs_page_renders_the_operations_in_a_headless_browser_without_leaving_loopback() {
    let Some(browser) = chromium() else { return };
    let db = TestDb::new(Backend::Sqlite);
    let state = AppState::new(db.settings());
    let server = HttpServer::new(move || firegrid::build_app(state.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind a free loopback port");
    let origin = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let work = tempfile::tempdir().unwrap();
    let (profile, netlog) = (work.path().join("profile"), work.path().join("net.json"));
    let url = format!("{origin}/docs");
    let screenshot = std::env::var("FIREGRID_DOCS_SCREENSHOT").ok();
    let (dom, net) = actix_web::rt::task::spawn_blocking({
        let (browser, url) = (browser.clone(), url.clone());
        move || {
            let dom = run_chromium(&browser, &profile, &netlog, &url, &["--dump-dom"]);
            let net = read_netlog(&netlog);
            if let Some(png) = screenshot {
                let shot = format!("--screenshot={png}");
                run_chromium(&browser, &profile, &netlog, &url, &[&shot]);
            }
            (dom, net)
        }
    })
    .await
    .unwrap();
    handle.stop(true).await;

    // The operation list, rendered from the document (not just the page's shell).
    for path in ["/api/v1/hazards", "/api/v1/auth/login", "/api/v1/regions"] {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{path} is not in the rendered page:\n{}",
            &dom[..dom.len().min(4000)]
        );
    }
    // "Try it out" with a bearer token: the Authorize button of the document's bearer scheme.
    assert!(dom.contains("btn authorize"), "no Authorize button");
    assert!(
        dom.contains("try-out") || dom.contains("opblock"),
        "no operations"
    );

    // The page fetched its files and the document from the server, and nothing from elsewhere;
    // the only connections the browser opened at all went to loopback.
    let local = |u: &str| u.starts_with(&format!("{origin}/"));
    let page: Vec<_> = net
        .requests
        .iter()
        .filter(|(_, initiator)| initiator != "not an origin")
        .collect();
    assert!(
        page.iter()
            .any(|(u, _)| u.ends_with("/api-spec/openapi.json") && local(u)),
        "the page never loaded the document: {page:?}"
    );
    let outside: Vec<_> = page.iter().filter(|(u, _)| !local(u)).collect();
    assert!(
        outside.is_empty(),
        "the page asked beyond loopback: {outside:?}"
    );
    assert!(!net.connects.is_empty(), "no connection in the network log");
    for address in &net.connects {
        assert!(address.starts_with("127.0.0.1:"), "connected to {address}");
    }
}
