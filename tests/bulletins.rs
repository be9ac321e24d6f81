//! The monthly bulletin (issue 14): HTML and Markdown from the same figures, scope and bad
//! months, and the HTML checked in a real headless Chromium: it renders, its three charts are
//! there with bars of non-zero size, it fetches nothing (every host unresolvable, the network log
//! shows no request beyond the page itself), and it prints to an A4 PDF.
//! `FIREGRID_BULLETIN_SAVE=/dir` keeps the page, the PDF and a screenshot there.

mod common;

use common::browser::{chromium, read_netlog, run_chromium};
use common::*;
use diesel::connection::SimpleConnection;
use serde_json::json;

fn this_month() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m")
        .to_string()
}

async fn act(app: &TestApp, token: &str, id: i64, body: serde_json::Value) {
    app.post(&format!("/api/v1/hazards/{id}/actions"), Some(token), body)
        .await
        .assert_status(200);
}

/// 湟中区 with two townships; in 李家山镇 a listed major case, an overdue one, a rectified one.
async fn county(app: &TestApp) -> (World, Staff) {
    let w = World::new(app).await;
    let s = w.staff(app).await;
    w.region(w.t.county, "多巴镇", "630106102").build(app).await;
    let week = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let listed = s
        .case(Severity::Major)
        .titled("加油站旁违规储存汽油")
        .at(Level::Police)
        .build(app)
        .await;
    act(
        app,
        &s.police,
        listed.id,
        json!({"action": "list_for_supervision", "deadline": week}),
    )
    .await;
    let late = s
        .case(Severity::General)
        .titled("楼道堆放杂物<script>")
        .deadline(week)
        .build(app)
        .await;
    app.db
        .conn()
        .batch_execute(&format!(
            "UPDATE hazards SET deadline = created_at WHERE id = {}",
            late.id
        ))
        .unwrap();
    let fixed = s
        .case(Severity::General)
        .titled("电动车楼道充电")
        .build(app)
        .await;
    act(
        app,
        &s.handler,
        fixed.id,
        json!({"action": "submit_rectification", "note": "已清理"}),
    )
    .await;
    act(
        app,
        &s.cadre,
        fixed.id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await;
    (w, s)
}

async fn bulletin_in_html_and_markdown(backend: Backend) {
    let app = spawn(backend).await;
    let (w, s) = county(&app).await;
    let url = format!("/api/v1/bulletins/{}/{}", w.t.county, this_month());
    let r = app.get(&url, Some(&s.county)).await;
    r.assert_status(200);
    assert!(r.content_type().starts_with("text/html"));
    let html = String::from_utf8(r.raw.clone()).unwrap();
    for part in [
        "综治信息简报",
        "湟中区",
        "chart-trend",
        "chart-categories",
        "chart-regions",
        "李家山镇",
        "多巴镇",
        "李家山派出所",
        "加油站旁违规储存汽油",
        "@page { size: A4",
        // The ranking table shows every component with its weight, patrols included.
        "巡查完成率（权重15）",
        "整改率（权重30）",
    ] {
        assert!(html.contains(part), "{part} missing");
    }
    // Escaped, and nothing that could fetch anything.
    assert!(html.contains("楼道堆放杂物&lt;script&gt;") && !html.contains("<script"));
    for external in ["http://", "https://", "src=", "<link", "url(", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    // Markdown: by suffix and by Accept.
    let r = app.get(&format!("{url}.md"), Some(&s.county)).await;
    assert!(r.content_type().starts_with("text/markdown"));
    let md = String::from_utf8(r.raw.clone()).unwrap();
    assert!(md.starts_with("# 综治信息简报"));
    assert!(md.contains("| 名次 | 地区 | 综合得分 |") && md.contains("| 多巴镇 |"));
    assert!(md.contains(" 巡查完成率（权重15） |"));
    assert!(
        md.contains("楼道堆放杂物<script>"),
        "Markdown keeps the text"
    );
    let r = app
        .send(
            actix_web::test::TestRequest::get()
                .uri(&url)
                .insert_header(("authorization", format!("Bearer {}", s.county)))
                .insert_header(("accept", "text/markdown, text/html;q=0.5")),
        )
        .await;
    assert!(r.content_type().starts_with("text/markdown"));
    assert_eq!(
        String::from_utf8(r.raw.clone()).unwrap().lines().next(),
        md.lines().next()
    );

    // Bad months, other regions.
    let next_year: i32 = chrono::Utc::now()
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap()
        + 1;
    for bad in [
        format!("{next_year}-01"),
        "2026-13".into(),
        "202611".into(),
        "2026-1".into(),
    ] {
        let r = app
            .get(
                &format!("/api/v1/bulletins/{}/{bad}", w.t.county),
                Some(&s.county),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "month");
    }
    for (token, region) in [
        (&s.outsider, w.t.county),
        (&s.county, w.t.other_county),
        (&s.county, 987_654),
    ] {
        let r = app
            .get(
                &format!("/api/v1/bulletins/{region}/{}", this_month()),
                Some(token),
            )
            .await;
        r.assert_problem(404, "not_found");
    }
    let r = app.get(&url, None).await;
    r.assert_status(401);
}

db_tests!(bulletin_in_html_and_markdown);

/// The SVG of the chart with this id.
fn chart<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in the rendered page"));
    let end = dom[start..].find("</svg>").unwrap() + start;
    &dom[start..end]
}

/// Heights (vertical bars) or widths (horizontal) of the chart's bars.
fn bar_sizes(svg: &str, attr: &str) -> Vec<f64> {
    svg.split("class=\"bar\"")
        .skip(1)
        .map(|b| {
            let at = b.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
            b[at..].split('"').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[actix_web::test]
async fn bulletin_renders_and_prints_in_a_headless_browser_without_fetching() {
    let Some(browser) = chromium() else { return };
    let app = spawn(Backend::Sqlite).await;
    let (w, s) = county(&app).await;
    let r = app
        .get(
            &format!("/api/v1/bulletins/{}/{}", w.t.county, this_month()),
            Some(&s.county),
        )
        .await;
    r.assert_status(200);
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("bulletin.html");
    std::fs::write(&page, &r.raw).unwrap();
    let (profile, netlog) = (work.path().join("profile"), work.path().join("net.json"));
    let pdf = work.path().join("bulletin.pdf");
    let url = format!("file://{}", page.display());
    let (dom, net) = actix_web::rt::task::spawn_blocking({
        let (browser, url, pdf) = (browser.clone(), url.clone(), pdf.clone());
        move || {
            let dom = run_chromium(&browser, &profile, &netlog, &url, &["--dump-dom"]);
            let net = read_netlog(&netlog);
            let print = format!("--print-to-pdf={}", pdf.display());
            run_chromium(
                &browser,
                &profile,
                &netlog,
                &url,
                &[&print, "--no-pdf-header-footer"],
            );
            (dom, net)
        }
    })
    .await
    .unwrap();

    // Rendered: the parsed document has the sections and the three charts, each with bars.
    assert!(
        dom.contains("综治信息简报") && dom.contains("id=\"board\""),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    let trend = bar_sizes(chart(&dom, "chart-trend"), "height");
    assert_eq!(trend.len(), 24, "12 months × found, rectified");
    assert!(trend.iter().filter(|h| **h > 0.0).count() >= 2, "{trend:?}");
    let cats = bar_sizes(chart(&dom, "chart-categories"), "width");
    assert!(
        !cats.is_empty() && cats.iter().all(|w| *w > 0.0),
        "{cats:?}"
    );
    let regions = bar_sizes(chart(&dom, "chart-regions"), "height");
    assert_eq!(regions.len(), 6, "2 townships × 3 series");
    assert!(regions.iter().any(|h| *h > 0.0));

    // Nothing fetched: the only request the page made is the page itself.
    let asked: Vec<_> = net
        .requests
        .iter()
        .filter(|(_, initiator)| initiator != "not an origin")
        .filter(|(u, _)| u != &url)
        .collect();
    assert!(asked.is_empty(), "the bulletin fetched {asked:?}");
    assert!(
        net.connects.iter().all(|a| a.starts_with("127.0.0.1:")),
        "{:?}",
        net.connects
    );

    // Printed to PDF.
    let bytes = std::fs::read(&pdf).expect("chromium printed the PDF");
    if let Ok(dir) = std::env::var("FIREGRID_BULLETIN_SAVE") {
        // To look at it: the page, its PDF and a screenshot.
        std::fs::copy(&page, format!("{dir}/bulletin.html")).unwrap();
        std::fs::copy(&pdf, format!("{dir}/bulletin.pdf")).unwrap();
        let shot = format!("--screenshot={dir}/bulletin.png");
        let (profile, netlog) = (work.path().join("profile2"), work.path().join("net2.json"));
        run_chromium(&browser, &profile, &netlog, &url, &[&shot]);
    }
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert!(bytes.len() > 5_000, "a PDF of {} bytes", bytes.len());
}
