//! `/api/openapi.json` as client generators read it: it is valid against the OpenAPI
//! Initiative's own schema of 3.1 documents (tests/fixtures/openapi/), each of its schema
//! objects is a valid JSON Schema 2020-12, it parses as an OpenAPI 3.1 document (the `oas3`
//! crate), every operation has an operationId of its own, every `$ref` points at something,
//! every `{parameter}` of a path is declared, and every success answer of JSON has a typed
//! schema (a named type, a list of one, or a schema with properties; never a bare object).
//! The start form's JSON Schema route is in it.

use std::collections::BTreeMap;

use lianban_tests::db_test;
use lianban_tests::web::{TestApp, repo};
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

/// Whether a success answer's schema says what it holds: a `$ref` to a named type, a list
/// of such, or an inline schema with properties. `{}` or `{"type": "object"}` alone tells a
/// client generator nothing.
fn typed(schema: &Value) -> bool {
    if schema.get("$ref").is_some() || schema.get("properties").is_some() {
        return true;
    }
    if let Some(items) = schema.get("items") {
        return typed(items);
    }
    ["oneOf", "anyOf", "allOf"].iter().any(|k| {
        schema
            .get(*k)
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().all(typed))
    })
}

/// Every schema object of the document: the components' and each request's and answer's.
fn schema_objects(raw: &Value) -> Vec<(String, &Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    if let Some(schemas) = raw
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        out.extend(schemas.iter().map(|(k, v)| (format!("components/{k}"), v)));
    }
    for (path, item) in raw["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let bodies = op
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(media, c)| (format!("{method} {path} request {media}"), c));
            let answers =
                op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .flat_map(|(code, r)| {
                        r["content"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(move |(media, c)| (format!("{method} {path} {code} {media}"), c))
                    });
            for (at, content) in bodies.chain(answers) {
                if let Some(schema) = content.get("schema") {
                    out.push((at, schema));
                }
            }
        }
    }
    out
}

db_test!(the_openapi_document_is_valid_for_client_generators, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let text = reqwest::get(format!("{}/api/openapi.json", app.base))
        .await?
        .text()
        .await?;
    let raw: Value = serde_json::from_str(&text)?;

    // The standard's own validator: the published schema of OpenAPI 3.1 documents.
    let oas: Value = serde_json::from_str(&std::fs::read_to_string(
        repo().join("tests/fixtures/openapi/oas-3.1-schema-2022-10-07.json"),
    )?)?;
    let oas = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&oas)
        .map_err(|e| anyhow::anyhow!("the OpenAPI 3.1 schema does not compile: {e}"))?;
    let invalid: Vec<String> = oas
        .iter_errors(&raw)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        invalid.is_empty(),
        "not a valid OpenAPI 3.1 document:\n{}",
        invalid.join("\n")
    );
    let mut problems = Vec::new();
    for (at, schema) in schema_objects(&raw) {
        if !jsonschema::meta::is_valid(schema) {
            problems.push(format!("{at}: not a valid JSON Schema 2020-12: {schema}"));
        }
    }
    let spec = oas3::from_json(&text)?;
    let version = spec.validate_version()?;
    assert_eq!((version.major, version.minor), (3, 1), "{version}");

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
            if code.starts_with('2') && response.content.is_empty() && code != "204" {
                problems.push(format!(
                    "{at} {code}: a success answer without a body schema"
                ));
            }
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
    for (path, item) in raw["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (code, r) in op["responses"].as_object().into_iter().flatten() {
                let json = r.pointer("/content/application~1json/schema");
                if let (true, Some(schema)) = (code.starts_with('2'), json)
                    && !typed(schema)
                {
                    problems.push(format!(
                        "{method} {path} {code}: the answer's schema is untyped: {schema}"
                    ));
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
