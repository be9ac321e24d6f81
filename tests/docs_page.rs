//! `GET /docs` (issue 15): the API reference page, opened in a real headless Chromium against the
//! real server on a loopback port. The page must list the operations of the OpenAPI document and
//! offer the bearer "Authorize" dialog, and nothing may leave loopback: every host other than
//! 127.0.0.1 resolves to nothing, and Chromium's own network log must name only loopback URLs.
//!
//! Without Chromium the browser test says so and passes, except under `CI=true`, where a missing
//! browser is a failure (CI installs the distribution's `chromium`). `FIREGRID_CHROMIUM` names
//! another binary; `FIREGRID_DOCS_SCREENSHOT=/path.png` also saves a screenshot of the page.

mod common;

use actix_web::HttpServer;
use common::browser::{chromium, read_netlog, run_chromium};
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
