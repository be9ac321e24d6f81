//! Exports (issue 14): CSV with BOM, Chinese headers and neutralised formulas; an XLSX workbook
//! read back with calamine (header, frozen row, widths); GeoJSON of cases and premises; the case
//! list's filters and scope on all three; keyset pages across page boundaries; no reporter.

mod common;

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use common::*;
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

const FORMATS: [&str; 3] = ["csv", "xlsx", "geojson"];

fn csv_rows(raw: &[u8]) -> Vec<Vec<String>> {
    assert!(raw.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let mut r = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&raw[3..]);
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

fn sheet_rows(raw: &[u8]) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(raw.to_vec())).expect("a workbook");
    let range = book.worksheet_range("隐患清单").expect("the sheet");
    range.rows().map(|r| r.to_vec()).collect()
}

/// The sheet's XML inside the zip (frozen panes and widths are not in calamine's model).
fn sheet_xml(raw: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(raw.to_vec())).unwrap();
    let mut f = zip.by_name("xl/worksheets/sheet1.xml").unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

async fn exports_carry_the_case_list(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let evil = s
        .case(Severity::General)
        .titled("=HYPERLINK(\"http://evil.example\",\"点我\")")
        .build(&app)
        .await;
    s.case(Severity::Major)
        .titled("@SUM(1+1)加油站")
        .at(Level::Police)
        .build(&app)
        .await;
    s.case(Severity::General)
        .titled("楼道堆放杂物")
        .build(&app)
        .await;
    w.premises(s.group, "李家山村便民超市").build(&app).await;

    // CSV: BOM, Chinese header, newest first, formulas neutralised.
    let r = app
        .get("/api/v1/exports/hazards.csv", Some(&s.county))
        .await;
    r.assert_status(200);
    assert!(r
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r
        .headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("hazards.csv"));
    let rows = csv_rows(&r.raw);
    assert_eq!(rows[0][0], "案件编号");
    assert_eq!(rows[0][2], "隐患类别");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3][0], evil.json["case_no"].as_str().unwrap());
    assert_eq!(rows[3][1], "'=HYPERLINK(\"http://evil.example\",\"点我\")");
    assert_eq!(rows[2][1], "'@SUM(1+1)加油站");
    assert_eq!(rows[1][1], "楼道堆放杂物");
    assert_eq!(rows[1][2], "电气线路");
    assert_eq!(rows[1][7..11], ["湟中区", "李家山镇", "李家山村", "一组"]);
    let text = String::from_utf8(r.raw.clone()).unwrap();
    // No reporter: neither the inspector's name nor any account detail.
    assert!(!text.contains("xunchayuan"));
    assert!(!text.contains("用户"));

    // The same filters as the case list.
    let r = app
        .get(
            "/api/v1/exports/hazards.csv?severity=major",
            Some(&s.county),
        )
        .await;
    let rows = csv_rows(&r.raw);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][3], "重大");
    let r = app
        .get(
            &format!(
                "/api/v1/exports/hazards.csv?level=police&region_id={}",
                w.t.township
            ),
            Some(&s.county),
        )
        .await;
    assert_eq!(csv_rows(&r.raw).len(), 2);

    // XLSX, read back.
    let r = app
        .get("/api/v1/exports/hazards.xlsx", Some(&s.county))
        .await;
    r.assert_status(200);
    let sheet = sheet_rows(&r.raw);
    assert_eq!(sheet.len(), 4);
    assert_eq!(sheet[0][0], Data::String("案件编号".into()));
    assert_eq!(sheet[0][21], Data::String("隐患描述".into()));
    // In a workbook text is a string cell, never a formula: kept as written.
    assert_eq!(
        sheet[3][1],
        Data::String("=HYPERLINK(\"http://evil.example\",\"点我\")".into())
    );
    assert_eq!(sheet[1][12], Data::Float(36.5));
    let xml = sheet_xml(&r.raw);
    assert!(
        xml.contains(r#"ySplit="1""#) && xml.contains(r#"state="frozen""#),
        "frozen header"
    );
    assert!(
        xml.contains("<cols>") && xml.contains(r#"customWidth="1""#),
        "column widths"
    );
    assert!(!String::from_utf8_lossy(&r.raw).contains("xunchayuan"));

    // GeoJSON: the three cases and the premises, [lng, lat], no contact.
    let r = app
        .get("/api/v1/exports/hazards.geojson", Some(&s.county))
        .await;
    r.assert_status(200);
    let g = &r.body;
    assert_eq!(g["type"], "FeatureCollection");
    let features = g["features"].as_array().unwrap();
    assert_eq!(features.len(), 4);
    assert_eq!(
        features[0]["geometry"],
        json!({"type": "Point", "coordinates": [101.6, 36.5]})
    );
    let kinds: Vec<&str> = features
        .iter()
        .map(|f| f["properties"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hazard", "hazard", "hazard", "premises"]);
    assert_eq!(features[3]["properties"]["name"], "李家山村便民超市");
    assert!(!r.body.to_string().contains("13897000001") && !r.body.to_string().contains("马福成"));
    let r = app
        .get(
            "/api/v1/exports/hazards.geojson?severity=major",
            Some(&s.county),
        )
        .await;
    assert_eq!(r.body["features"].as_array().unwrap().len(), 2);
}

async fn exports_keep_to_the_scope(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    s.case(Severity::General)
        .titled("湟中区的隐患")
        .build(&app)
        .await;
    w.premises(s.group, "李家山村便民超市").build(&app).await;
    for f in FORMATS {
        // Another county's official: the region does not exist for them, nor do its cases.
        let r = app
            .get(
                &format!("/api/v1/exports/hazards.{f}?region_id={}", w.t.county),
                Some(&s.outsider),
            )
            .await;
        r.assert_problem(404, "not_found");
        let r = app
            .get(
                &format!("/api/v1/exports/hazards.{f}?region_id=987654"),
                Some(&s.county),
            )
            .await;
        r.assert_problem(404, "not_found");
        let r = app
            .get(&format!("/api/v1/exports/hazards.{f}"), Some(&s.outsider))
            .await;
        r.assert_status(200);
        let text = match f {
            "xlsx" => format!("{:?}", sheet_rows(&r.raw)),
            _ => String::from_utf8(r.raw.clone()).unwrap(),
        };
        assert!(
            !text.contains("湟中区") && !text.contains("便民超市"),
            "{f}: {text}"
        );
        let r = app.get(&format!("/api/v1/exports/hazards.{f}"), None).await;
        r.assert_status(401);
    }
    // A bad filter is the case list's 400.
    let r = app
        .get("/api/v1/exports/hazards.csv?severity=huge", Some(&s.county))
        .await;
    assert_eq!(r.status.as_u16(), 400);
}

async fn exports_page_through_thousands(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    s.case(Severity::General)
        .titled("原始隐患")
        .build(&app)
        .await;
    // 2,048 cases (three pages of 1,000), copied in the database: case numbers stay unique.
    let mut conn = app.db.conn();
    for round in 0..11 {
        conn.batch_execute(&format!(
            "INSERT INTO hazards (case_no, county_id, group_id, township_id, region_path, category,
                severity, title, description, address, lat, lng, source, reporter_user_id, status,
                level, deadline_reminded, supervision_listed, supervision_overdue, created_at,
                updated_at, version)
             SELECT case_no || '-{round}', county_id, group_id, township_id, region_path, category,
                severity, title, description, address, lat, lng, source, reporter_user_id, status,
                level, deadline_reminded, supervision_listed, supervision_overdue, created_at,
                updated_at, version FROM hazards"
        ))
        .unwrap();
    }
    let r = app
        .get("/api/v1/exports/hazards.csv", Some(&s.county))
        .await;
    let rows = csv_rows(&r.raw);
    assert_eq!(rows.len(), 1 + 2048);
    let mut numbers: Vec<&String> = rows[1..].iter().map(|r| &r[0]).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 2048, "every case once");
    let r = app
        .get("/api/v1/exports/hazards.geojson", Some(&s.county))
        .await;
    assert_eq!(r.body["features"].as_array().unwrap().len(), 2048);
    let r = app
        .get("/api/v1/exports/hazards.xlsx", Some(&s.county))
        .await;
    assert_eq!(sheet_rows(&r.raw).len(), 2049);
    let _: Value = r.body;
}

db_tests!(
    exports_carry_the_case_list,
    exports_keep_to_the_scope,
    exports_page_through_thousands,
);
