//! `/api/openapi.json` as client generators read it: it parses as an OpenAPI 3.1 document
//! (the `oas3` crate), every operation has an operationId of its own, every `$ref` points
//! at something, every `{parameter}` of a path is declared, and every success answer of
//! JSON has a schema. The start form's JSON Schema route is in it.

use std::collections::BTreeMap;

use lianban_tests::db_test;
use lianban_tests::web::TestApp;
use oas3::spec::{ObjectOrReference, ParameterIn};
use serde_json::Value;

/// Every `$ref` anywhere in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

db_test!(the_openapi_document_is_valid_for_client_generators, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let text = reqwest::get(format!("{}/api/openapi.json", app.base))
        .await?
        .text()
        .await?;
    let raw: Value = serde_json::from_str(&text)?;
    let spec = oas3::from_json(&text)?;
    let version = spec.validate_version()?;
    assert_eq!((version.major, version.minor), (3, 1), "{version}");

    let mut problems = Vec::new();
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut operations = 0;
    for (path, method, operation) in spec.operations() {
        operations += 1;
        let at = format!("{method} {path}");
        match &operation.operation_id {
            Some(id)
                if id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                ids.entry(id.clone()).or_default().push(at.clone());
            }
            other => problems.push(format!("{at}: operationId {other:?} is not camelCase")),
        }
        // Each `{name}` of the path is a declared path parameter.
        let declared: Vec<String> = operation
            .parameters
            .iter()
            .filter_map(|p| p.resolve(&spec).ok())
            .filter(|p| p.location == ParameterIn::Path)
            .map(|p| p.name)
            .collect();
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            if !declared.iter().any(|d| d == name) {
                problems.push(format!("{at}: path parameter {name} is not declared"));
            }
        }
        if let Some(ObjectOrReference::Ref { ref_path, .. }) = &operation.request_body {
            problems.push(format!("{at}: request body is a bare reference {ref_path}"));
        }
        let responses = operation.responses.clone().unwrap_or_default();
        if !responses.keys().any(|code| code.starts_with('2')) {
            problems.push(format!("{at}: no success answer"));
        }
        for (code, response) in &responses {
            let Ok(response) = response.resolve(&spec) else {
                problems.push(format!("{at} {code}: the response does not resolve"));
                continue;
            };
            for (media, content) in &response.content {
                match &content.schema {
                    Some(schema) if schema.resolve(&spec).is_ok() => {}
                    Some(_) => {
                        problems.push(format!("{at} {code} {media}: schema does not resolve"))
                    }
                    None => problems.push(format!("{at} {code} {media}: no schema")),
                }
            }
        }
    }
    for (id, at) in &ids {
        if at.len() > 1 {
            problems.push(format!("operationId {id} is used by {at:?}"));
        }
    }
    let mut targets = Vec::new();
    refs(&raw, &mut targets);
    for target in targets {
        let found = target
            .strip_prefix('#')
            .and_then(|pointer| raw.pointer(pointer));
        if found.is_none() {
            problems.push(format!("$ref {target} points at nothing"));
        }
    }
    assert!(operations >= 20, "only {operations} operations");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        ids.contains_key("getProcessForm") && ids.contains_key("startCase"),
        "{ids:?}"
    );
    Ok(())
});
