//! Control characters (NUL and the other C0 controls) are refused wherever text enters: in JSON
//! bodies, query strings and import files, before any of it reaches a store. PostgreSQL cannot
//! store NUL in text at all (it answered 500), SQLite would store it and hand it to every
//! client, and the others corrupt exports and logs. Tab, newline and carriage return stay
//! allowed, for free text typed on a phone; names refuse those too (`validate::Checks::name`).
//! Header values need no check here: the HTTP parser already refuses controls in them (400).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use serde_json::Value;

use crate::error::{AppError, AppResult};

pub const MESSAGE: &str = "must not contain control characters";

/// A C0 control other than tab, newline and carriage return.
pub fn is_forbidden(c: char) -> bool {
    c.is_ascii_control() && c != '\u{7f}' && !matches!(c, '\t' | '\n' | '\r')
}

/// The byte offset of the first forbidden control character in `text`.
pub fn first_forbidden(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|(_, c)| is_forbidden(*c))
        .map(|(i, _)| i)
}

/// Refuses a JSON document whose strings (keys included) contain a forbidden control, naming
/// the field. JSON can carry them only as escapes (a raw one is a syntax error), so a scan of
/// the escapes decides; only a document that has one is parsed again to find the field.
pub fn check_json(bytes: &[u8]) -> AppResult<()> {
    if !has_forbidden_escape(bytes) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        // Malformed: the real parse that follows reports it.
        return Ok(());
    };
    let field = path_of_control(&value, String::new()).unwrap_or_default();
    Err(AppError::field(
        if field.is_empty() { "body" } else { &field },
        MESSAGE,
    ))
}

fn has_forbidden_escape(b: &[u8]) -> bool {
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'b' | b'f' => return true,
            b'u' => {
                let code = b
                    .get(i + 2..i + 6)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                if code.and_then(char::from_u32).is_some_and(is_forbidden) {
                    return true;
                }
                i += 6;
            }
            _ => i += 2,
        }
    }
    false
}

/// The path (`a.b[2].c`, as the JSON extractor names fields) of the first string or key that
/// holds a forbidden control.
fn path_of_control(v: &Value, path: String) -> Option<String> {
    match v {
        Value::String(s) => first_forbidden(s).map(|_| path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| path_of_control(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if first_forbidden(k).is_some() {
                return Some(here);
            }
            path_of_control(item, here)
        }),
        _ => None,
    }
}

/// Middleware: a query string whose decoded names or values hold a forbidden control is a 422
/// naming the parameter, whatever the endpoint.
pub async fn refuse_in_query(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let query = req.query_string();
    if query.contains('%') {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        if let Some((name, _)) = pairs
            .iter()
            .find(|(k, v)| first_forbidden(k).is_some() || first_forbidden(v).is_some())
        {
            let err = AppError::field(name.as_str(), MESSAGE);
            return Ok(req
                .into_response(actix_web::ResponseError::error_response(&err))
                .map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_of_controls_are_found_and_named() {
        assert!(
            check_json(r#"{"name":"李家山镇","note":"第一行\n第二行\t完"}"#.as_bytes()).is_ok()
        );
        // An escaped backslash followed by "u0000" is text, not a NUL.
        assert!(check_json(br#"{"note":"C:\\u0000"}"#).is_ok());
        let err = check_json(br#"{"username":"ad\u0000min"}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "username");
        let err = check_json(br#"{"items":[{"n":"ok"},{"n":"\u001b[31m"}]}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "items[1].n");
        let err = check_json(br#"{"a\u0007":1}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "a\u{7}");
        assert!(check_json(br#"{"x":"\b"}"#).is_err());
        assert!(check_json(br#"{"x":"\u007f"}"#).is_ok());
    }
}
