//! Photos: recognised by their bytes, size-limited, EXIF read then removed, served only within
//! scope, idempotent uploads, and rectifications that name them.

mod common;
// Not in `common`: the load tool's tests share that module and do not depend on exif.
#[path = "common/photos.rs"]
mod photos;

use actix_web::test::TestRequest;
use common::*;
use img_parts::{Bytes, ImageEXIF};
use photos::exif_blob;
use serde_json::json;

const JPEG: &[u8] = include_bytes!("fixtures/red-8x8.jpg");
const PNG: &[u8] = include_bytes!("fixtures/red-8x8.png");
const WEBP: &[u8] = include_bytes!("fixtures/red-8x8.webp");

fn jpeg_with_exif() -> Vec<u8> {
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(Bytes::from_static(JPEG)).unwrap();
    jpeg.set_exif(Some(Bytes::from(exif_blob())));
    jpeg.encoder().bytes().to_vec()
}

fn webp_with_exif() -> Vec<u8> {
    let mut webp = img_parts::webp::WebP::from_bytes(Bytes::from_static(WEBP)).unwrap();
    webp.set_exif(Some(Bytes::from(exif_blob())));
    webp.encoder().bytes().to_vec()
}

fn upload(token: &str, hazard: i64, bytes: &[u8], key: Option<&str>) -> TestRequest {
    let (ct, body) = multipart_file("file", "photo.jpg", "image/jpeg", bytes);
    let mut req = TestRequest::post()
        .uri(&format!("/api/v1/hazards/{hazard}/attachments"))
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", ct))
        .set_payload(body);
    if let Some(k) = key {
        req = req.insert_header(("idempotency-key", k));
    }
    req
}

struct Setup {
    inspector: String,
    outsider: String,
    root: String,
    hazard: i64,
    other_hazard: i64,
}

async fn setup(app: &TestApp) -> Setup {
    let root = root_token(app).await;
    let t = tree(app, &root).await;
    let (_, inspector) = user_with_role(
        app,
        &root,
        "xunchayuan",
        t.group,
        "grid_inspector",
        Some(t.group),
        None,
    )
    .await;
    let (_, outsider) = user_with_role(
        app,
        &root,
        "datong",
        t.other_township,
        "township_official",
        Some(t.other_township),
        None,
    )
    .await;
    let body = |title: &str| {
        json!({"group_id": t.group, "category": "open_flame", "severity": "general", "title": title,
               "description": "院内焚烧秸秆", "source": "patrol"})
    };
    let r = app
        .post("/api/v1/hazards", Some(&inspector), body("焚烧秸秆"))
        .await;
    let hazard = id_of(r.assert_status(201));
    let r = app
        .post("/api/v1/hazards", Some(&inspector), body("柴堆靠近烟囱"))
        .await;
    let other_hazard = id_of(r.assert_status(201));
    Setup {
        inspector,
        outsider,
        root,
        hazard,
        other_hazard,
    }
}

async fn exif_is_read_then_removed(b: Backend) {
    let app = spawn(b).await;
    let s = setup(&app).await;
    let photo = jpeg_with_exif();
    assert!(exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&photo))
        .is_ok());
    let r = app.send(upload(&s.inspector, s.hazard, &photo, None)).await;
    let a = r.assert_status(201).clone();
    assert_eq!(a["content_type"], "image/jpeg");
    // 16:30 in Asia/Shanghai is 08:30 UTC.
    assert_eq!(a["taken_at"], "2026-11-27T08:30:00Z");
    assert!((a["lat"].as_f64().unwrap() - 36.5).abs() < 1e-9);
    assert!((a["lng"].as_f64().unwrap() - 101.6).abs() < 1e-9);
    assert!((a["size"].as_i64().unwrap() as usize) < photo.len());
    let r = app
        .get(
            &format!("/api/v1/attachments/{}", a["id"]),
            Some(&s.inspector),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.content_type(), "image/jpeg");
    let served = r.raw.clone();
    assert!(served.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&served))
            .is_err(),
        "EXIF must be gone"
    );
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&served)),
        a["sha256"].as_str().unwrap()
    );
    // Stored content-addressed under the data directory, without the EXIF either.
    let sha = a["sha256"].as_str().unwrap();
    let on_disk = std::fs::read(
        app.db
            .data_dir()
            .join("attachments")
            .join(&sha[..2])
            .join(sha),
    )
    .unwrap();
    assert_eq!(on_disk, served);
    // WebP too.
    let r = app
        .send(upload(&s.inspector, s.hazard, &webp_with_exif(), None))
        .await;
    let w = r.assert_status(201).clone();
    assert_eq!(w["content_type"], "image/webp");
    assert_eq!(w["taken_at"], "2026-11-27T08:30:00Z");
    let r = app
        .get(
            &format!("/api/v1/attachments/{}", w["id"]),
            Some(&s.inspector),
        )
        .await;
    assert!(exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&r.raw))
        .is_err());
    let r = app
        .get(
            &format!("/api/v1/hazards/{}/attachments", s.hazard),
            Some(&s.inspector),
        )
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 2);
}

async fn the_bytes_decide_the_type_and_the_size(b: Backend) {
    let app = spawn(b).await;
    let s = setup(&app).await;
    // A PNG declared as JPEG is stored as what it is.
    let r = app.send(upload(&s.inspector, s.hazard, PNG, None)).await;
    assert_eq!(r.assert_status(201)["content_type"], "image/png");
    // Not an image, whatever the declaration.
    app.send(upload(
        &s.inspector,
        s.hazard,
        b"GIF89a\x01\x00\x01\x00",
        None,
    ))
    .await
    .assert_problem(415, "unsupported_media_type");
    app.send(upload(
        &s.inspector,
        s.hazard,
        b"<script>alert(1)</script>",
        None,
    ))
    .await
    .assert_problem(415, "unsupported_media_type");
    // Over 10 MiB: refused and nothing kept.
    let mut big = JPEG.to_vec();
    big.resize(10 * 1024 * 1024 + 1, 0);
    app.send(upload(&s.inspector, s.hazard, &big, None))
        .await
        .assert_problem(413, "payload_too_large");
    let r = app
        .get(
            &format!("/api/v1/hazards/{}/attachments", s.hazard),
            Some(&s.inspector),
        )
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 1);
    let blobs: usize = files_under(&app.db.data_dir().join("attachments"));
    assert_eq!(blobs, 1);
    // Not multipart; multipart without a file.
    let r = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/hazards/{}/attachments", s.hazard))
                .insert_header(("authorization", format!("Bearer {}", s.inspector)))
                .insert_header(("content-type", "image/jpeg"))
                .set_payload(JPEG),
        )
        .await;
    r.assert_problem(415, "unsupported_media_type");
    let boundary = "b0undary";
    let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}--\r\n");
    let r = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/hazards/{}/attachments", s.hazard))
                .insert_header(("authorization", format!("Bearer {}", s.inspector)))
                .insert_header((
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                ))
                .set_payload(body),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "file");
    let r = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/hazards/{}/attachments", s.hazard))
                .insert_header(("authorization", format!("Bearer {}", s.inspector)))
                .insert_header(("content-type", "multipart/form-data; boundary=zzz"))
                .set_payload("garbage without boundaries"),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(r.content_type(), "application/problem+json");
}

async fn photos_stay_in_scope(b: Backend) {
    let app = spawn(b).await;
    let s = setup(&app).await;
    let r = app.send(upload(&s.inspector, s.hazard, JPEG, None)).await;
    let id = id_of(r.assert_status(201));
    app.send(upload(&s.outsider, s.hazard, JPEG, None))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/api/v1/attachments/{id}"), Some(&s.outsider))
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/hazards/{}/attachments", s.hazard),
        Some(&s.outsider),
    )
    .await
    .assert_problem(404, "not_found");
    app.get("/api/v1/attachments/999999", Some(&s.inspector))
        .await
        .assert_problem(404, "not_found");
    // The administrator sees the case but is not staff on it.
    app.send(upload(&s.root, s.hazard, JPEG, None))
        .await
        .assert_problem(403, "forbidden");
    // A rectification names photos of its own case only.
    let r = app
        .post(
            &format!("/api/v1/hazards/{}/actions", s.other_hazard),
            Some(&s.inspector),
            json!({"action": "submit_rectification", "note": "已清理", "attachment_ids": [id]}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "attachment_ids");
    let r = app
        .post(
            &format!("/api/v1/hazards/{}/actions", s.hazard),
            Some(&s.inspector),
            json!({"action": "submit_rectification", "note": "已清理", "attachment_ids": [id]}),
        )
        .await;
    assert_eq!(r.assert_status(200)["status"], "awaiting_review");
}

async fn uploads_are_idempotent(b: Backend) {
    let app = spawn(b).await;
    let s = setup(&app).await;
    let first = app
        .send(upload(&s.inspector, s.hazard, JPEG, Some("photo-1")))
        .await;
    let first = first.assert_status(201).clone();
    let again = app
        .send(upload(&s.inspector, s.hazard, JPEG, Some("photo-1")))
        .await;
    assert_eq!(again.assert_status(201)["id"], first["id"]);
    app.send(upload(&s.inspector, s.hazard, PNG, Some("photo-1")))
        .await
        .assert_problem(422, "idempotency_key_reused");
    let r = app
        .get(
            &format!("/api/v1/hazards/{}/attachments", s.hazard),
            Some(&s.inspector),
        )
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 1);
}

/// The photo list is a page like every other list (SPEC §9), oldest first.
async fn the_photo_list_is_a_page(b: Backend) {
    let app = spawn(b).await;
    let s = setup(&app).await;
    let mut uploaded = Vec::new();
    for photo in [JPEG, PNG, WEBP] {
        let r = app.send(upload(&s.inspector, s.hazard, photo, None)).await;
        uploaded.push(id_of(r.assert_status(201)));
    }
    let list = |query: String| {
        let app = &app;
        let path = format!("/api/v1/hazards/{}/attachments?{query}", s.hazard);
        let token = s.inspector.clone();
        async move { app.get(&path, Some(&token)).await }
    };
    let first = list("limit=2&cursor=".into()).await;
    let first = first.assert_status(200).clone();
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = list(format!("limit=2&cursor={cursor}")).await;
    let second = second.assert_status(200).clone();
    assert!(second["next_cursor"].is_null());
    let ids: Vec<i64> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, uploaded);
    list("limit=201".into())
        .await
        .assert_problem(422, "validation_failed");
}

/// One JPEG segment: marker and contents, with its length.
fn segment(marker: u8, contents: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((contents.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(contents);
    s
}

/// A photo as a hostile or careless client might send it: the phone's EXIF (APP1), plus a
/// comment naming the photographer, IPTC in APP13, a second EXIF hidden in APP3, a
/// multi-picture index in APP2 and a second frame (with its own EXIF) after the first image's
/// end, as MPO files carry them.
fn hostile_jpeg() -> Vec<u8> {
    let with_exif = jpeg_with_exif();
    let mut exif_app3 = b"Exif\0\0".to_vec();
    exif_app3.extend_from_slice(&exif_blob());
    let mut out = with_exif[..2].to_vec();
    out.extend(segment(0xFE, "拍摄人 张三 13800000000".as_bytes()));
    out.extend(segment(
        0xED,
        b"Photoshop 3.0\x008BIM\x04\x04\0\0\0\0\0\x0a\x1c\x02\x50\0\x06Zhang3",
    ));
    out.extend(segment(0xE3, &exif_app3));
    out.extend(segment(0xE2, b"MPF\0II*\0\x08\0\0\0"));
    out.extend_from_slice(&with_exif[2..]);
    out.extend_from_slice(&with_exif);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn no_metadata_survives_in_any_segment_or_frame(b: Backend) {
    let app = spawn(b).await;
    let s = setup(&app).await;
    let photo = hostile_jpeg();
    let r = app.send(upload(&s.inspector, s.hazard, &photo, None)).await;
    let a = r.assert_status(201).clone();
    // The evidence was read before the metadata went.
    assert_eq!(a["taken_at"], "2026-11-27T08:30:00Z");
    assert!((a["lat"].as_f64().unwrap() - 36.5).abs() < 1e-9);
    let r = app
        .get(
            &format!("/api/v1/attachments/{}", a["id"]),
            Some(&s.inspector),
        )
        .await;
    let served = r.raw.clone();
    assert_eq!(r.status.as_u16(), 200);
    for needle in [
        &b"Exif"[..],
        b"8BIM",
        b"MPF",
        "张三".as_bytes(),
        b"13800000000",
    ] {
        assert!(
            !contains(&served, needle),
            "{:?} survived",
            String::from_utf8_lossy(needle)
        );
    }
    // One image, ending at its EOI; what remains is exactly the clean picture.
    assert!(
        !contains(&served[2..], &[0xFF, 0xD8, 0xFF]),
        "a second frame survived"
    );
    assert!(served.ends_with(&[0xFF, 0xD9]));
    assert_eq!(served, JPEG, "the picture itself must be kept unchanged");
}

db_tests!(
    exif_is_read_then_removed,
    the_bytes_decide_the_type_and_the_size,
    photos_stay_in_scope,
    uploads_are_idempotent,
    the_photo_list_is_a_page,
    no_metadata_survives_in_any_segment_or_frame
);
