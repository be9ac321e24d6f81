//! The committed contract (`api-spec/openapi.json`) must be exactly what the code generates.
//! Regenerate with: `cargo run -q -- openapi > api-spec/openapi.json`

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/api-spec/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = firegrid::openapi::to_json(&firegrid::openapi::document());
    assert!(
        committed == generated,
        "api-spec/openapi.json is out of date with the code; regenerate it with\n    \
         cargo run -q -- openapi > api-spec/openapi.json"
    );
}

/// Every `$ref` in a JSON value, with where it is.
fn refs<'a>(v: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", serde_json::Value::String(r)) => out.push((at.clone(), r)),
                    _ => refs(x, format!("{at}/{k}"), out),
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A generated client resolves every reference: a schema named in a response or body but not
/// registered among the components would break it (as an unregistered error type once did).
#[test]
fn every_reference_points_at_a_component() {
    let doc: serde_json::Value =
        serde_json::from_str(&firegrid::openapi::to_json(&firegrid::openapi::document())).unwrap();
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty());
    for (at, r) in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{at}: a reference outside the components: {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{at}: {r} is not among the components"
        );
    }
}

#[test]
fn every_operation_is_documented_with_an_id_and_responses() {
    let api = firegrid::openapi::document();
    assert!(matches!(
        api.openapi,
        utoipa::openapi::OpenApiVersion::Version31
    ));
    for (path, item) in &api.paths.paths {
        for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
            .into_iter()
            .flatten()
        {
            assert!(
                op.operation_id.is_some(),
                "{path} has an operation without an id"
            );
            assert!(
                !op.responses.responses.is_empty(),
                "{path} has an operation without responses"
            );
        }
    }
}

/// Every enum value the document lists, with where it is.
fn enums<'a>(v: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(values) = m.get("enum").and_then(|e| e.as_array()) {
                for value in values {
                    let text = value.as_str().unwrap_or_else(|| panic!("{at}: {value}"));
                    out.push((at.clone(), text));
                }
            }
            for (k, child) in m {
                enums(child, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                enums(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A client generated from the document must send values the server reads: every enum value
/// goes through the server's own deserializer for its schema and comes back unchanged.
#[test]
fn every_enum_value_in_the_document_is_one_the_server_reads() {
    let doc = serde_json::to_value(firegrid::openapi::document()).unwrap();
    let mut checks = firegrid::vocab::round_trips();
    checks.push(("ErrorCode", |s| {
        let code: firegrid::error::ErrorCode =
            serde_json::from_value(s.into()).map_err(|e| e.to_string())?;
        (code.as_str() == s)
            .then_some(())
            .ok_or_else(|| format!("{s:?} comes back as {}", code.as_str()))
    }));
    let mut found = Vec::new();
    enums(&doc, String::new(), &mut found);
    assert!(!found.is_empty());
    for (at, value) in &found {
        assert!(
            !value.chars().any(|c| c.is_uppercase()),
            "{at} lists {value:?}: the wire is snake_case"
        );
        // Vocabularies are named schemas; an inline enum would have no deserializer to name.
        let name = at
            .strip_prefix("/components/schemas/")
            .filter(|n| !n.contains('/'))
            .unwrap_or_else(|| panic!("{at} lists an inline enum; make it a named vocabulary"));
        let (_, check) = checks
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no deserializer known for the schema {name}"));
        if let Err(e) = check(value) {
            panic!("{at} lists {value:?}, which the server does not read back: {e}");
        }
    }
    // And every vocabulary is in the document, complete.
    for (name, _) in &checks {
        let at = format!("/components/schemas/{name}");
        let listed = found.iter().filter(|(a, _)| *a == at).count();
        assert!(listed > 0, "{name} is not in the document");
    }
}

#[test]
fn notifications_list_every_kind_the_server_sends() {
    let doc = serde_json::to_value(firegrid::openapi::document()).unwrap();
    let kinds = &doc["components"]["schemas"]["NotificationKind"]["enum"];
    for kind in ["reported", "major_reported", "arrived", "deadline_soon"] {
        assert!(
            kinds.as_array().unwrap().iter().any(|k| k == kind),
            "{kind} missing from {kinds}"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["Notification"]["properties"]["kind"]["$ref"],
        "#/components/schemas/NotificationKind"
    );
}

/// The limits the document states are the ones the server enforces (attributes take only
/// literals, so they are checked against the server's constants here).
#[test]
fn the_documented_limits_are_the_enforced_ones() {
    let doc = serde_json::to_value(firegrid::openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let limit = doc["paths"]["/api/v1/me/notifications"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]
        .clone();
    assert_eq!(limit["minimum"], 1);
    assert_eq!(limit["maximum"], firegrid::http::pagination::MAX_LIMIT);
    for (schema, field) in [
        ("NewUser", "password"),
        ("PasswordReset", "new_password"),
        ("PasswordChange", "new_password"),
    ] {
        let p = &schemas[schema]["properties"][field];
        assert_eq!(
            p["minLength"],
            firegrid::auth::password::MIN_LEN,
            "{schema}"
        );
        assert_eq!(
            p["maxLength"],
            firegrid::auth::password::MAX_LEN,
            "{schema}"
        );
    }
    use firegrid::premises::model::{ADDRESS_MAX, CONTACT_MAX, NAME_MAX};
    for schema in ["NewPremises", "PremisesPatch"] {
        let p = &schemas[schema]["properties"];
        assert_eq!(p["name"]["maxLength"], NAME_MAX, "{schema}");
        assert_eq!(p["address"]["maxLength"], ADDRESS_MAX, "{schema}");
        assert_eq!(p["contact_name"]["maxLength"], CONTACT_MAX, "{schema}");
    }
    assert_eq!(
        schemas["NewRegion"]["properties"]["code"]["pattern"],
        firegrid::validate::CODE
    );
}

/// The schemas a client sends: request bodies and everything they refer to.
fn request_schemas(doc: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r.trim_start_matches("#/components/schemas/"));
                }
                m.values().for_each(|c| refs(c, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(body) = op.get("requestBody") {
                refs(body, &mut names);
            }
        }
    }
    let mut out: Vec<(String, &serde_json::Value)> = Vec::new();
    while let Some(name) = names.pop() {
        if out.iter().any(|(n, _)| n == name) {
            continue;
        }
        let schema = &doc["components"]["schemas"][name];
        refs(schema, &mut names);
        out.push((name.to_string(), schema));
    }
    out
}

/// A string a client sends carries one of the patterns of `firegrid::validate`, each held to
/// the server's check there: otherwise a client (or a fuzzer) generated from the document sends
/// text the server refuses, such as a control character (issue 10, item 3).
#[test]
fn every_string_a_client_sends_states_what_the_server_accepts() {
    let doc = serde_json::to_value(firegrid::openapi::document()).unwrap();
    let schemas = request_schemas(&doc);
    assert!(schemas.iter().any(|(n, _)| n == "NewHazard"));
    let mut strings = 0;
    for (name, schema) in &schemas {
        let Some(props) = schema["properties"].as_object() else {
            continue;
        };
        for (field, prop) in props {
            let types = match &prop["type"] {
                serde_json::Value::String(t) => vec![t.as_str()],
                serde_json::Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
                _ => vec![],
            };
            let free_form = types.contains(&"string")
                && prop.get("enum").is_none()
                && prop.get("format").is_none();
            if !free_form {
                continue;
            }
            strings += 1;
            let pattern = prop["pattern"].as_str().unwrap_or("(none)");
            assert!(
                firegrid::validate::PATTERNS.contains(&pattern),
                "{name}.{field}: pattern {pattern} is not one of firegrid::validate's"
            );
        }
    }
    assert!(
        strings > 20,
        "only {strings} strings found: is the walk broken?"
    );
}
