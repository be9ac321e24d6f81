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
