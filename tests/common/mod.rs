//! Test harness: every database test runs the real app on a fresh database of its own — a
//! temporary SQLite file, and, when `FIREGRID_TEST_POSTGRES_URL` is set, a PostgreSQL database
//! cloned from a migrated template and dropped afterwards — so tests run in parallel.
#![allow(dead_code)]

pub mod browser;
pub mod builders;
pub mod world;

pub use builders::*;
pub use world::*;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::OnceLock;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header::HeaderMap, Method, StatusCode};
use actix_web::test;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use firegrid::config::Settings;
use firegrid::{db, AppState};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod proxy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PG_ENV: &str = "FIREGRID_TEST_POSTGRES_URL";

/// Runs each named `async fn(Backend)` as two tests: `<name>::sqlite` and `<name>::postgres`.
/// The PostgreSQL one passes trivially (and says so) when `FIREGRID_TEST_POSTGRES_URL` is unset;
/// `.ci/run` always sets it.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[actix_web::test]
                async fn postgres() {
                    if $crate::common::postgres_enabled() {
                        super::$name($crate::common::Backend::Postgres).await
                    } else {
                        eprintln!("skipped: {} is not set", $crate::common::PG_ENV);
                    }
                }
            }
        )*
    };
}

pub fn postgres_enabled() -> bool {
    std::env::var(PG_ENV).is_ok_and(|v| !v.is_empty())
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = dir
                    .path()
                    .join("test.sqlite3")
                    .to_string_lossy()
                    .into_owned();
                let mut conn = db::build_pool(&url, 1, std::time::Duration::from_secs(5))
                    .get()
                    .expect("sqlite connection");
                db::run_migrations(&mut conn).expect("sqlite migrations");
                TestDb {
                    url,
                    backend,
                    dir,
                    pg_drop: None,
                }
            }
            Backend::Postgres => {
                let admin = std::env::var(PG_ENV).expect("FIREGRID_TEST_POSTGRES_URL");
                let template = pg_template(&admin);
                let name = format!("firegrid_t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}")
                });
                conn.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .expect("create test database");
                let url = pg_url_with_db(&admin, &name);
                TestDb {
                    url,
                    backend,
                    dir,
                    pg_drop: Some((admin, name)),
                }
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn settings(&self) -> Settings {
        let data_dir = self.data_dir();
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut s = Settings::with_defaults(
            self.url.clone(),
            data_dir,
            b"test-secret-test-secret-test-secret!".to_vec(),
        );
        s.pool_size = 4;
        s
    }

    /// A direct connection, for assertions on what is stored.
    pub fn conn(&self) -> db::PooledConn {
        db::build_pool(&self.url, 1, std::time::Duration::from_secs(5))
            .get()
            .expect("connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            if let Ok(mut conn) = PgConnection::establish(&admin) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

fn pg_url_with_db(url: &str, db: &str) -> String {
    let no_query = url.split('?').next().unwrap_or(url);
    let (base, _) = no_query
        .rsplit_once('/')
        .expect("postgres URL has a database part");
    format!("{base}/{db}")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Migrates a template database once per migration set (named by the hash of the migration
/// files); every test then clones it, which is far faster than migrating each time. An advisory
/// lock keeps concurrent test processes from building it twice.
fn pg_template(admin: &str) -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            // The load tool (bench/, a workspace member) shares this harness: the migrations
            // are in the workspace root, one up from its manifest.
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            let dir = manifest
                .ancestors()
                .map(|d| d.join("migrations/postgres"))
                .find(|d| d.is_dir())
                .expect("migrations/postgres above the manifest");
            let mut files: Vec<PathBuf> = Vec::new();
            collect_files(&dir, &mut files);
            files.sort();
            let mut hasher = Sha256::new();
            for f in &files {
                hasher.update(f.strip_prefix(&dir).unwrap().to_string_lossy().as_bytes());
                hasher.update(std::fs::read(f).unwrap());
            }
            let name = format!("firegrid_tpl_{}", &hex::encode(hasher.finalize())[..16]);
            let mut conn = PgConnection::establish(admin)
                .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
            conn.batch_execute("SELECT pg_advisory_lock(724200101)")
                .unwrap();
            let exists = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
            ))
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n > 0;
            if !exists {
                let building = format!("{name}_building");
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .unwrap();
                conn.batch_execute(&format!("CREATE DATABASE {building}"))
                    .unwrap();
                {
                    let mut c = db::build_pool(
                        &pg_url_with_db(admin, &building),
                        1,
                        std::time::Duration::from_secs(10),
                    )
                    .get()
                    .expect("connect to template");
                    db::run_migrations(&mut c).expect("postgres migrations");
                }
                // Renamed only when complete, so a crash never leaves a half-built template.
                conn.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .unwrap();
            }
            conn.batch_execute("SELECT pg_advisory_unlock(724200101)")
                .unwrap();
            name
        })
        .clone()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The app's service with its response body boxed, so that helpers and builders take one
/// concrete `&TestApp` instead of repeating the service bounds.
pub struct AppService(Rc<ServiceFn>);

type ServiceFn =
    dyn Fn(Request) -> LocalBoxFuture<'static, Result<ServiceResponse, actix_web::Error>>;

impl Service<Request> for AppService {
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<ServiceResponse, actix_web::Error>>;

    actix_web::dev::always_ready!();

    fn call(&self, req: Request) -> Self::Future {
        (self.0)(req)
    }
}

/// The real app over a fresh database, driven in-process.
pub struct TestApp<S = AppService> {
    pub svc: S,
    pub state: AppState,
    pub db: TestDb,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Asserts a problem+json error with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert_eq!(self.body["status"].as_u64(), Some(status as u64));
        assert!(self.body["title"].is_string() && self.body["type"].is_string());
    }
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

pub async fn spawn(backend: Backend) -> TestApp {
    let db = TestDb::new(backend);
    spawn_with(db, |_| {}).await
}

pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = db.settings();
    tweak(&mut settings);
    let state = AppState::new(settings);
    let svc = Rc::new(test::init_service(firegrid::build_app(state.clone())).await);
    let svc = AppService(Rc::new(move |req| {
        let svc = Rc::clone(&svc);
        Box::pin(async move {
            let res = svc.call(req).await?;
            Ok(res.map_into_boxed_body())
        })
    }));
    TestApp { svc, state, db }
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    pub async fn send(&self, req: test::TestRequest) -> Resp {
        let res = test::call_service(&self.svc, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let raw = test::read_body(res).await.to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            raw,
        }
    }

    /// A JSON request; `token` adds a bearer header.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        if let Some(b) = body {
            req = req.set_json(b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.json(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.json(Method::POST, path, token, Some(body)).await
    }
}

pub const PASSWORD: &str = "湟中区消防网格-2026";

/// Creates a global administrator directly in the database (as `firegrid user create --admin`
/// would) and logs in over HTTP; returns the access token.
pub async fn root_token(app: &TestApp) -> String {
    let mut conn = app.db.conn();
    firegrid::bootstrap::create_user(&mut conn, "root", "超级管理员", PASSWORD, None, true)
        .expect("root user");
    login(app, "root", PASSWORD).await
}

#[track_caller]
pub fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

pub async fn login(app: &TestApp, username: &str, password: &str) -> String {
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"username": username, "password": password}),
        )
        .await;
    r.assert_status(200)["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn create_region(
    app: &TestApp,
    token: &str,
    parent: Option<i64>,
    level: &str,
    name: &str,
    code: &str,
) -> i64 {
    let r = app
        .post(
            "/api/v1/regions",
            Some(token),
            serde_json::json!({"parent_id": parent, "level": level, "name": name, "code": code}),
        )
        .await;
    id_of(r.assert_status(201))
}

pub async fn create_org(app: &TestApp, token: &str, kind: &str, name: &str, region_id: i64) -> i64 {
    let r = app
        .post(
            "/api/v1/organizations",
            Some(token),
            serde_json::json!({"kind": kind, "name": name, "region_id": region_id}),
        )
        .await;
    id_of(r.assert_status(201))
}

/// Creates an account with one role (bound to `region_id` or, for officers, `org_id`), logs
/// it in and returns (user id, access token).
pub async fn user_with_role(
    app: &TestApp,
    admin_token: &str,
    username: &str,
    home_region: i64,
    role: &str,
    region_id: Option<i64>,
    org_id: Option<i64>,
) -> (i64, String) {
    let r = app
        .post(
            "/api/v1/users",
            Some(admin_token),
            serde_json::json!({"username": username, "display_name": format!("用户{username}"), "region_id": home_region, "password": PASSWORD}),
        )
        .await;
    let uid = id_of(r.assert_status(201));
    let r = app
        .post(
            &format!("/api/v1/users/{uid}/roles"),
            Some(admin_token),
            serde_json::json!({"role": role, "region_id": region_id, "organization_id": org_id}),
        )
        .await;
    r.assert_status(201);
    (uid, login(app, username, PASSWORD).await)
}

/// A small real tree: 湟中区 (county) › 李家山镇 (township) › 李家山村 (village) › 一组 (group),
/// and a second county 大通县 with its own township, for cross-area tests.
pub struct Tree {
    pub province: i64,
    pub county: i64,
    pub township: i64,
    pub village: i64,
    pub group: i64,
    pub other_county: i64,
    pub other_township: i64,
}

pub async fn tree(app: &TestApp, root: &str) -> Tree {
    let province = create_region(app, root, None, "province", "青海省", "630000").await;
    let prefecture =
        create_region(app, root, Some(province), "prefecture", "西宁市", "630100").await;
    let county = create_region(app, root, Some(prefecture), "county", "湟中区", "630106").await;
    let township =
        create_region(app, root, Some(county), "township", "李家山镇", "630106101").await;
    let village = create_region(
        app,
        root,
        Some(township),
        "village",
        "李家山村",
        "630106101001",
    )
    .await;
    let group = create_region(app, root, Some(village), "group", "一组", "630106101001001").await;
    let other_county = create_region(
        app,
        root,
        Some(prefecture),
        "county",
        "大通回族土族自治县",
        "630121",
    )
    .await;
    let other_township = create_region(
        app,
        root,
        Some(other_county),
        "township",
        "桥头镇",
        "630121100",
    )
    .await;
    Tree {
        province,
        county,
        township,
        village,
        group,
        other_county,
        other_township,
    }
}

// ---- grid helpers (regions, roster, premises, import) ----

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.json(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.json(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.json(Method::DELETE, path, token, None).await
    }

    /// `POST /api/v1/import` with a CSV body.
    pub async fn import_csv(&self, token: &str, csv: impl Into<Vec<u8>>) -> Resp {
        let req = test::TestRequest::post()
            .uri("/api/v1/import")
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "text/csv; charset=utf-8"))
            .set_payload(csv.into());
        self.send(req).await
    }

    /// Grants one more role (with optional title and background) to an existing account.
    pub async fn grant(&self, admin: &str, uid: i64, body: Value) -> Resp {
        self.post(&format!("/api/v1/users/{uid}/roles"), Some(admin), body)
            .await
    }
}

/// Rows of a table, counted directly in the database.
pub fn count_rows(db: &TestDb, table: &str) -> i64 {
    let mut conn = db.conn();
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
}

/// Files (not directories) anywhere under `dir`; 0 when it does not exist.
pub fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p)
            } else {
                1
            }
        })
        .sum()
}

/// A multipart/form-data body with one file; returns (content type, body).
pub fn multipart_file(
    field: &str,
    filename: &str,
    declared_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "firegrid-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {declared_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
