//! `firegrid backup` and `firegrid restore` (issue 15): a SQLite deployment is copied while
//! reports keep arriving, and the copy is whole: its hash chains verify (`audit verify`), its
//! rows are exactly rows of the live database, its case counters match its cases, and every
//! photo it names came along. Restore refuses a non-empty target and changes nothing; on
//! PostgreSQL both commands point at pg_dump.

mod common;

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

use actix_web::test::TestRequest;
use common::*;
use diesel::prelude::*;
use firegrid::backup;
use firegrid::db::schema::{attachments, case_counters, hazards};

const JPEG: &[u8] = include_bytes!("fixtures/red-8x8.jpg");

async fn report(app: &TestApp, token: &str, group: i64, n: u32) {
    let title = format!("李家山村一组电线私拉乱接 {n}");
    app.post(
        "/api/v1/hazards",
        Some(token),
        report_body(group, Severity::General, &title),
    )
    .await
    .assert_status(201);
}

fn cases_of(url: &str) -> Vec<(i64, String)> {
    let mut conn = firegrid::db::build_pool(url, 1, std::time::Duration::from_secs(5))
        .get()
        .unwrap();
    hazards::table
        .select((hazards::id, hazards::case_no))
        .order(hazards::id.asc())
        .load(&mut conn)
        .unwrap()
}

/// The `firegrid` binary on this deployment; its exit status and stderr.
fn firegrid_cli(db: &TestDb, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firegrid"))
        .args(args)
        .env("FIREGRID_DATABASE_URL", &db.url)
        .env("FIREGRID_DATA_DIR", db.data_dir())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn backup_while_reports_arrive_then_restore(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let to = app.db.dir.path().join("backup");
    if b == Backend::Postgres {
        let err = backup::backup(&app.db.url, &app.db.data_dir(), &to).unwrap_err();
        assert!(err.message.contains("pg_dump"), "{}", err.message);
        let (ok, stderr) = firegrid_cli(&app.db, &["backup", "--to", to.to_str().unwrap()]);
        assert!(!ok && stderr.contains("pg_dump"), "{stderr}");
        assert!(!to.exists());
        return;
    }

    // A photo on an early case: its file must travel with the copy.
    report(&app, &s.inspector, w.t.group, 0).await;
    let first = cases_of(&app.db.url)[0].0;
    let (ct, body) = multipart_file("file", "现场.jpg", "image/jpeg", JPEG);
    app.send(
        TestRequest::post()
            .uri(&format!("/api/v1/hazards/{first}/attachments"))
            .insert_header(("authorization", format!("Bearer {}", s.inspector)))
            .insert_header(("content-type", ct))
            .set_payload(body),
    )
    .await
    .assert_status(201);

    // Reports keep arriving, before, during and after the copy.
    let app = Rc::new(app);
    let stop = Rc::new(Cell::new(false));
    let writer = actix_web::rt::spawn({
        let (app, stop, token, group) = (app.clone(), stop.clone(), s.inspector.clone(), w.t.group);
        async move {
            let mut n = 1;
            while !stop.get() {
                report(&app, &token, group, n).await;
                n += 1;
            }
        }
    });
    while cases_of(&app.db.url).len() < 4 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let summary = actix_web::rt::task::spawn_blocking({
        let (url, data, to) = (app.db.url.clone(), app.db.data_dir(), to.clone());
        move || backup::backup(&url, &data, &to)
    })
    .await
    .unwrap()
    .expect("backup while serving");
    while cases_of(&app.db.url).len() as i64 <= summary.cases + 2 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.set(true);
    writer.await.unwrap();

    // The copy: taken mid-stream (some reports before it, some after), every chain intact.
    let copy = to.join(backup::DATABASE_FILE);
    let copy_url = copy.to_string_lossy().into_owned();
    let live = cases_of(&app.db.url);
    let copied = cases_of(&copy_url);
    assert_eq!(copied.len() as i64, summary.cases);
    assert!(copied.len() >= 4 && copied.len() < live.len(), "{copied:?}");
    assert_eq!(summary.events_verified as i64, summary.events);
    assert!(summary.events >= summary.cases);
    // Exactly the live rows, as of one moment: a prefix of the live cases, numbers and all.
    assert_eq!(&live[..copied.len()], &copied[..]);
    let mut conn = firegrid::db::build_pool(&copy_url, 1, std::time::Duration::from_secs(5))
        .get()
        .unwrap();
    let counted: Vec<i64> = case_counters::table
        .select(case_counters::last_seq)
        .load(&mut conn)
        .unwrap();
    assert_eq!(counted.iter().sum::<i64>(), summary.cases);
    let photos: Vec<String> = attachments::table
        .select(attachments::sha256)
        .load(&mut conn)
        .unwrap();
    drop(conn);
    assert_eq!(photos.len(), 1);
    assert!(summary.photos >= 1);
    for sha in &photos {
        assert!(to.join("attachments").join(&sha[..2]).join(sha).is_file());
    }

    // A second backup into the same directory is refused.
    assert!(backup::backup(&app.db.url, &app.db.data_dir(), &to).is_err());

    // Restore into a fresh deployment: the same cases, chains and photo.
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("firegrid.sqlite3");
    let target_url = target.to_string_lossy().into_owned();
    let restored = backup::restore(&target_url, fresh.path(), &to).expect("restore");
    assert_eq!(restored.cases, summary.cases);
    assert_eq!(cases_of(&target_url), copied);
    assert_eq!(backup::inspect(&target).unwrap().0, summary.cases);
    let sha = &photos[0];
    assert!(fresh
        .path()
        .join("attachments")
        .join(&sha[..2])
        .join(sha)
        .is_file());

    // Restoring over it again, or over the live deployment, refuses and changes nothing.
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let before = size(&target);
    let err = backup::restore(&target_url, fresh.path(), &to).unwrap_err();
    assert!(
        err.message.contains("refusing to restore"),
        "{}",
        err.message
    );
    assert_eq!(size(&target), before);
    assert_eq!(cases_of(&target_url), copied);
    let (ok, stderr) = firegrid_cli(&app.db, &["restore", "--from", to.to_str().unwrap()]);
    assert!(!ok, "restore over a live deployment succeeded");
    assert!(stderr.contains("refusing to restore"), "{stderr}");
    assert_eq!(cases_of(&app.db.url), live);
}

db_tests!(backup_while_reports_arrive_then_restore);
