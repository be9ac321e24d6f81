//! `/open311/v2/…`: Open311 GeoReport v2 over the hazard categories and public reports. Reads
//! need no key; posting a request needs an `api_key` from an administrator of the county.
//! Every resource may also be named with `.json` (GeoReport's format suffix).

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::auth::throttle::client_ip;
use crate::db;
use crate::error::{AppError, ErrorCode, FieldError};
use crate::exports::zh;
use crate::http::json::{read_limited, read_within};
use crate::open311::http::{pairs, single, GeoResult};
use crate::open311::model::*;
use crate::open311::store::{self, Filter};
use crate::public::model::NewPublicReport;
use crate::public::store as public;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(discovery)
        .service(services)
        .service(service_definition)
        .service(list_requests)
        .service(post_request)
        .service(get_request)
        .service(token);
}

/// When this description of the service last changed.
const CHANGESET: &str = "2026-11-29T00:00:00Z";
/// GET `requests` without dates covers this many days.
const DEFAULT_DAYS: i64 = 90;

fn changeset() -> DateTime<Utc> {
    CHANGESET.parse().unwrap_or_default()
}

/// GeoReport discovery: where the endpoint is, which specification and formats it serves.
#[utoipa::path(tag = "open311", responses((status = 200, body = Discovery), Open311Errors))]
#[get("/discovery")]
pub async fn discovery(req: HttpRequest) -> web::Json<Discovery> {
    let info = req.connection_info();
    let url = format!("{}://{}{PREFIX}", info.scheme(), info.host());
    web::Json(Discovery {
        changeset: changeset(),
        contact: "县（区）消防安全委员会办公室 / the county's fire-safety office".into(),
        key_service: "An administrator of the county issues keys (POST /api/v1/open311-keys)"
            .into(),
        endpoints: vec![Endpoint {
            specification: "http://wiki.open311.org/GeoReport_v2".into(),
            url,
            changeset: changeset(),
            kind: "production".into(),
            formats: vec!["application/json".into()],
        }],
    })
}

fn service(c: Category) -> Service {
    Service {
        service_code: c,
        service_name: zh::category(c).to_string(),
        description: format!("火灾隐患举报：{}", zh::category(c)),
        metadata: true,
        kind: "realtime".into(),
        keywords: "消防,火灾隐患".into(),
        group: "火灾隐患".into(),
    }
}

/// The services: one per hazard category, with its Chinese name. Every one takes the village
/// or group of the report as `attribute[region_id]`.
#[utoipa::path(tag = "open311", params(JurisdictionQuery),
    responses((status = 200, body = Vec<Service>), Open311Errors))]
#[get("/services")]
pub async fn services(state: web::Data<AppState>, req: HttpRequest) -> GeoResult<HttpResponse> {
    jurisdiction_of(&state, &req).await?;
    let all: Vec<Service> = Category::ALL.iter().copied().map(service).collect();
    Ok(HttpResponse::Ok().json(all))
}

/// A service's definition: the attributes its requests take.
#[utoipa::path(tag = "open311",
    params(("service_code" = Category, Path), JurisdictionQuery),
    responses((status = 200, body = ServiceDefinition), Open311Errors))]
#[get("/services/{service_code}")]
pub async fn service_definition(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> GeoResult<web::Json<ServiceDefinition>> {
    jurisdiction_of(&state, &req).await?;
    let code = Category::parse(&code)
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "service_code: no such service"))?;
    Ok(web::Json(ServiceDefinition {
        service_code: code,
        attributes: vec![Attribute {
            variable: true,
            code: "region_id".into(),
            datatype: "number".into(),
            required: true,
            datatype_description: "村或村民小组的 id（GET /api/v1/public/regions）".into(),
            order: 1,
            description: "隐患所在的村或村民小组 / the village or group of the hazard".into(),
        }],
    }))
}

/// The query's fields; 400 when it cannot be decoded.
fn query(req: &HttpRequest) -> GeoResult<Vec<(String, String)>> {
    Ok(pairs(req.query_string().as_bytes(), "query string")?)
}

/// The county named by `?jurisdiction_id=`, if any (404 for one the deployment does not serve).
async fn jurisdiction_of(state: &AppState, req: &HttpRequest) -> GeoResult<Option<i64>> {
    let fields = query(req)?;
    let Some(code) = single(&fields, "jurisdiction_id")?.map(str::to_string) else {
        return Ok(None);
    };
    let id = db::run(&state.pool, move |conn| store::jurisdiction(conn, &code)).await?;
    Ok(Some(id))
}

fn list<T>(
    value: Option<&str>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, AppError> {
    // Empty is no filter; otherwise every item must be known (no blanks, no spaces).
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(|v| {
            parse(v).ok_or_else(|| AppError::bad_request(format!("{name}: {v:?} is not known")))
        })
        .collect()
}

fn date(value: Option<&str>, name: &str) -> Result<Option<NaiveDateTime>, AppError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.naive_utc())
                .map_err(|_| {
                    AppError::bad_request(format!(
                        "{name}: must be a W3C date-time such as 2026-11-01T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// The requests posted through Open311, newest first (at most 500): by id
/// (`service_request_id`, comma-separated, overriding every other filter), or by service,
/// status and the time received (the last 90 days unless dates are given). Each shows only its
/// status, the public reply (`status_notes`), its service and times.
#[utoipa::path(tag = "open311", params(RequestsQuery),
    responses((status = 200, body = Vec<ServiceRequest>), Open311Errors))]
#[get("/requests")]
pub async fn list_requests(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> GeoResult<HttpResponse> {
    let county_id = jurisdiction_of(&state, &req).await?;
    let fields = query(&req)?;
    let ids = list(
        single(&fields, "service_request_id")?,
        "service_request_id",
        |v| crate::public::codes::normalize(v, crate::public::codes::CODE_LEN),
    )?;
    let service_codes = list(
        single(&fields, "service_code")?,
        "service_code",
        Category::parse,
    )?;
    let statuses = list(single(&fields, "status")?, "status", Open311Status::parse)?;
    let mut from = date(single(&fields, "start_date")?, "start_date")?;
    let to = date(single(&fields, "end_date")?, "end_date")?;
    if from.is_none() && to.is_none() {
        from = Some(db::now() - chrono::Duration::days(DEFAULT_DAYS));
    }
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(AppError::bad_request("end_date: before start_date").into());
        }
    }
    let filter = Filter {
        county_id,
        ids,
        services: service_codes,
        from,
        to,
        statuses,
    };
    let found = db::run(&state.pool, move |conn| store::requests(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// One request (an array of one, as GeoReport answers).
#[utoipa::path(tag = "open311",
    params(("service_request_id" = String, Path, description = "from the answer to the POST"),
        JurisdictionQuery),
    responses((status = 200, body = Vec<ServiceRequest>), Open311Errors))]
#[get("/requests/{service_request_id}")]
pub async fn get_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> GeoResult<HttpResponse> {
    let county = jurisdiction_of(&state, &req).await?;
    let id = id.into_inner();
    let found = db::run(&state.pool, move |conn| store::request(conn, &id, county)).await?;
    Ok(HttpResponse::Ok().json([found]))
}

/// The request a token stands for. Requests are created at once: a request's id is its token.
#[utoipa::path(tag = "open311",
    params(("token" = String, Path), JurisdictionQuery),
    responses((status = 200, body = Vec<TokenAnswer>), Open311Errors))]
#[get("/tokens/{token}")]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> GeoResult<HttpResponse> {
    let county = jurisdiction_of(&state, &req).await?;
    let token = token.into_inner();
    let found = db::run(&state.pool, move |conn| {
        store::request(conn, &token, county)
    })
    .await?;
    Ok(HttpResponse::Ok().json([TokenAnswer {
        token: found.service_request_id.clone(),
        service_request_id: found.service_request_id,
    }]))
}

/// The body's fields: form-encoded, or a JSON object (whose `attribute` object, if any, gives
/// `attribute[…]` fields).
fn body_fields(req: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => pairs(body, "form body"),
        "application/json" => {
            crate::http::controls::check_json(body)?;
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| AppError::bad_request(format!("malformed JSON: {e}")))?;
            let serde_json::Value::Object(map) = value else {
                return Err(AppError::bad_request("the JSON body must be an object"));
            };
            let mut out = Vec::new();
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("attribute", serde_json::Value::Object(attrs)) => {
                        for (a, v) in attrs {
                            out.push((format!("attribute[{a}]"), scalar(&a, v)?));
                        }
                    }
                    (_, serde_json::Value::Null) => {}
                    (_, v) => {
                        let text = scalar(&k, v)?;
                        out.push((k, text));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be application/x-www-form-urlencoded or application/json",
        )),
    }
}

fn scalar(name: &str, v: serde_json::Value) -> Result<String, AppError> {
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(AppError::field(name, "must be a string or a number")),
    }
}

/// firegrid's field names in GeoReport's words.
fn georeport_field(field: &str) -> &str {
    match field {
        "region_id" => "attribute[region_id]",
        "category" => "service_code",
        "lng" => "long",
        "address" => "address_string",
        "contact_phone" => "phone",
        "contact_name" => "first_name",
        other => other,
    }
}

fn renamed(e: AppError) -> AppError {
    if e.code != ErrorCode::ValidationFailed || e.errors.is_empty() {
        return e;
    }
    AppError::fields(
        e.errors
            .into_iter()
            .map(|f| FieldError {
                field: georeport_field(&f.field).to_string(),
                message: f.message,
            })
            .collect(),
    )
}

/// The report a posted request is (422 naming each bad field in GeoReport's words).
fn report(fields: &[(String, String)]) -> Result<NewPublicReport, AppError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    let text = |name: &str| -> Result<Option<String>, AppError> {
        Ok(single(fields, name)?
            .map(str::to_string)
            .filter(|v| !v.trim().is_empty()))
    };
    let category = match text("service_code")? {
        None => {
            fail("service_code", "is required");
            None
        }
        Some(c) => {
            let parsed = Category::parse(c.trim());
            if parsed.is_none() {
                fail("service_code", "no such service (GET /open311/v2/services)");
            }
            parsed
        }
    };
    let region_id = match text("attribute[region_id]")? {
        None => {
            fail(
                "attribute[region_id]",
                "is required: the village or group of the hazard",
            );
            None
        }
        Some(v) => {
            let parsed = v.trim().parse::<i64>().ok();
            if parsed.is_none() {
                fail("attribute[region_id]", "must be a region id (a number)");
            }
            parsed
        }
    };
    let mut coordinate = |name: &str| -> Result<Option<f64>, AppError> {
        Ok(match text(name)? {
            None => None,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    fail(name, "must be a number");
                    None
                }
            },
        })
    };
    let lat = coordinate("lat")?;
    let lng = coordinate("long")?;
    let description = text("description")?;
    if description.is_none() {
        fail("description", "is required");
    }
    let name = match (text("first_name")?, text("last_name")?) {
        (Some(f), Some(l)) if !f.is_ascii() && !l.is_ascii() => {
            Some(format!("{}{}", l.trim(), f.trim()))
        }
        (Some(f), Some(l)) => Some(format!("{} {}", f.trim(), l.trim())),
        (one, other) => one.or(other),
    };
    let new = NewPublicReport {
        region_id: region_id.unwrap_or_default(),
        category: category.unwrap_or(Category::Other),
        description: description.unwrap_or_default(),
        address: text("address_string")?,
        lat,
        lng,
        contact_phone: text("phone")?,
        contact_name: name,
    };
    // Everything wrong at once: the fields read above and the report's own checks.
    if let Err(e) = public::validate(&new) {
        for f in renamed(e).errors {
            if !errors.iter().any(|x| x.field == f.field) {
                errors.push(f);
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    Ok(new)
}

/// Post a request: a public report (channel `open311`) that waits for the village to verify
/// it, exactly like `POST /api/v1/public/reports` and counted by the same throttle (a few an
/// hour per client address and per phone). Needs an `api_key`; the report's village or group
/// (`attribute[region_id]`) must lie in the key's county. Answers with the
/// `service_request_id` to read the request back by.
#[utoipa::path(tag = "open311",
    request_body(content(
        (NewRequest = "application/x-www-form-urlencoded"),
        (NewRequest = "application/json"))),
    responses((status = 201, body = Vec<Created>), Open311Errors))]
#[post("/requests")]
pub async fn post_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> GeoResult<HttpResponse> {
    let limit = state.settings.json_limit;
    let body = read_within(&req, read_limited(&mut payload, limit)).await?;
    let fields = body_fields(&req, &body)?;
    let api_key = single(&fields, "api_key")?
        .map(str::to_string)
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| AppError::forbidden("api_key is required"))?;
    let jurisdiction = single(&fields, "jurisdiction_id")?
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_string);
    let address = client_ip(&req, &state.settings.trusted_proxies);
    let key = db::run(&state.pool, move |conn| {
        let key = store::authenticate(conn, &api_key)?;
        if let Some(code) = jurisdiction {
            if store::jurisdiction(conn, &code)? != key.county_id {
                return Err(AppError::new(
                    ErrorCode::NotFound,
                    "jurisdiction_id: not the county of this api_key",
                ));
            }
        }
        Ok(key)
    })
    .await?;
    let new = report(&fields)?;
    let id = db::run_tx(&state.pool, move |conn| {
        store::post(conn, &key, &new, &address, db::now())
    })
    .await
    .map_err(renamed)?;
    Ok(HttpResponse::build(StatusCode::CREATED).json([Created {
        service_request_id: id,
        service_notice:
            "已受理，待村（社区）核实；48小时内答复 / received; a first answer within 48 hours"
                .into(),
    }]))
}
