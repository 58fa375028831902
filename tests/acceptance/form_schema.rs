//! The start form as JSON Schema 2020-12 (`GET /api/v1/processes/{id}/form`): the document
//! is a valid 2020-12 schema, every example case's input of every definition under
//! `processes/` is judged by it as the server judges it, and on a set of good and bad
//! applications the server (over HTTP, through an intake key) accepts exactly what the
//! schema accepts. What JSON Schema cannot say (check digits, `check:` rules, date bounds
//! relative to today) the schema leaves to the server, so a form only the server refuses
//! must be refused for one of those reasons.

use lianban::accounts;
use lianban::app::Definitions;
use lianban::definition::{FieldType, Process};
use lianban::runtime::{FieldError, Problem, validate_form};
use lianban::store::NewApiKey;
use lianban_tests::db_test;
use lianban_tests::web::{TestApp, repo};
use serde_json::{Value, json};

fn validator(schema: &Value) -> jsonschema::Validator {
    assert!(
        jsonschema::meta::is_valid(schema),
        "not a valid JSON Schema: {schema}"
    );
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema}"))
}

/// A refusal JSON Schema cannot express: a `check:` rule, a check digit (ID number, bank
/// card), the birth date inside an ID number, or a date bound relative to today.
fn beyond_schema(process: &Process, error: &FieldError) -> bool {
    let field = process.form.iter().find(|f| f.key == error.field);
    matches!(
        (error.code, field.map(|f| f.field_type)),
        (Problem::Check, _)
            | (
                Problem::Invalid,
                Some(FieldType::CnId | FieldType::BankCard)
            )
            | (
                Problem::OutOfRange,
                Some(FieldType::Date | FieldType::YearMonth)
            )
    )
}

#[test]
fn every_example_input_is_judged_by_the_schema_as_by_the_server() -> anyhow::Result<()> {
    let definitions = Definitions::load(&[repo().join("processes")], &repo().join("templates"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut judged = 0;
    let mut wrong = Vec::new();
    for process in &definitions.processes {
        let schema = process.form_schema();
        let validator = validator(&schema);
        for example in &process.tests {
            let today = example
                .at
                .unwrap_or_else(|| chrono::Utc::now().date_naive());
            let input = Value::Object(example.input.clone());
            let server = validate_form(process, &example.input, today);
            let schema_says = validator.is_valid(&input);
            judged += 1;
            let agrees = if server.is_empty() {
                schema_says
            } else {
                !schema_says || server.iter().all(|e| beyond_schema(process, e))
            };
            if !agrees {
                let reasons: Vec<String> = validator
                    .iter_errors(&input)
                    .map(|e| e.to_string())
                    .collect();
                wrong.push(format!(
                    "{} 「{}」: server {:?}, schema {reasons:?}",
                    process.id, example.name, server
                ));
            }
        }
    }
    assert!(judged > 50, "only {judged} examples");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

/// An application of 阳城 that the server accepts (as the examples').
fn good() -> Value {
    json!({
        "name": "张三",
        "gender": "男",
        "id_number": "140522196412150317",
        "birth": "1964-12",
        "post": "生产",
        "employer": "阳城县某煤业有限公司",
        "address": "阳城县凤城镇",
        "phone": "13935600000",
        "veteran": false,
        "item": "企业职工正常退休信息确认、待遇计发",
        "delivery": "现场自取",
        "retirement_type": "正常退休",
    })
}

/// `good()` with these keys changed (`null` in `changes` removes a key when `remove`).
fn with(changes: &Value, remove: &[&str]) -> Value {
    let mut form = good();
    if let (Some(form), Some(changes)) = (form.as_object_mut(), changes.as_object()) {
        for key in remove {
            form.remove(*key);
        }
        for (k, v) in changes {
            form.insert(k.clone(), v.clone());
        }
    }
    form
}

/// Named applications.
type Named = Vec<(&'static str, Value)>;

/// Applications the schema and the server both accept, then both refuse.
fn cases() -> (Named, Named) {
    let good_ones = vec![
        ("the examples' application", good()),
        (
            "optional blanks",
            with(
                &json!({"community": "", "work_start": null, "medical_months": []}),
                &[],
            ),
        ),
        (
            "flexible employment needs no employer",
            with(&json!({"post": "灵活就业"}), &["employer"]),
        ),
        ("a landline", with(&json!({"phone": "0356-4223292"}), &[])),
        (
            "a landline without dash",
            with(&json!({"phone": "03564223292"}), &[]),
        ),
        (
            "mail with an address on two lines",
            with(
                &json!({"delivery": "邮寄送达", "mail_address": "阳城县凤城镇\n东关村 1 号"}),
                &[],
            ),
        ),
        (
            "a veteran with the archive",
            with(
                &json!({"veteran": true, "veteran_archive": "阳城县人民武装部", "veteran_placed": false}),
                &[],
            ),
        ),
        (
            "fund withdrawal with a card",
            with(
                &json!({"joint_fund": true, "bank_card": "6222020123456789015", "work_start": "1986-09"}),
                &[],
            ),
        ),
        (
            "numbers and money",
            with(
                &json!({"contribution_months": 360, "average_index": 0.84, "account_balance": 91147.87}),
                &[],
            ),
        ),
        (
            "money in cents",
            with(&json!({"account_balance": 19.99}), &[]),
        ),
        (
            "special work",
            with(
                &json!({"retirement_type": "特殊工种提前退休", "special_job_kind": "井下和高温", "special_job_months": 120}),
                &[],
            ),
        ),
        (
            "a lower-case x in an ID number",
            with(
                &json!({"gender": "女", "id_number": "14052219700101100x", "birth": "1970-01"}),
                &[],
            ),
        ),
    ];
    let bad_ones = vec![
        ("no name", with(&json!({}), &["name"])),
        ("a blank name", with(&json!({"name": "   "}), &[])),
        ("a null name", with(&json!({"name": null}), &[])),
        (
            "a bell in the name",
            with(&json!({"name": "张\u{7}三"}), &[]),
        ),
        (
            "a line break in the name",
            with(&json!({"name": "张\n三"}), &[]),
        ),
        (
            "a name of 201 characters",
            with(&json!({"name": "张".repeat(201)}), &[]),
        ),
        (
            "a gender not offered",
            with(&json!({"gender": "其他"}), &[]),
        ),
        (
            "a gender with a blank",
            with(&json!({"gender": "男 "}), &[]),
        ),
        (
            "a short ID number",
            with(&json!({"id_number": "1405221964"}), &[]),
        ),
        (
            "an ID number of no province",
            with(&json!({"id_number": "990522196412150317"}), &[]),
        ),
        ("a month 13", with(&json!({"birth": "1964-13"}), &[])),
        (
            "a month with a slash",
            with(&json!({"birth": "1964/12"}), &[]),
        ),
        (
            "a phone of 12 digits",
            with(&json!({"phone": "139356000001"}), &[]),
        ),
        (
            "a mobile starting 12",
            with(&json!({"phone": "12935600000"}), &[]),
        ),
        ("a yes/no as text", with(&json!({"veteran": "否"}), &[])),
        (
            "a veteran without the archive",
            with(&json!({"veteran": true, "veteran_placed": false}), &[]),
        ),
        (
            "a veteran with a blank archive",
            with(
                &json!({"veteran": true, "veteran_archive": " ", "veteran_placed": false}),
                &[],
            ),
        ),
        (
            "mail without an address",
            with(&json!({"delivery": "邮寄送达"}), &[]),
        ),
        (
            "an employee without employer",
            with(&json!({}), &["employer"]),
        ),
        (
            "a field the form lacks",
            with(&json!({"nickname": "小张"}), &[]),
        ),
        (
            "months as text",
            with(&json!({"contribution_months": "360"}), &[]),
        ),
        (
            "months above 720",
            with(&json!({"contribution_months": 721}), &[]),
        ),
        (
            "negative months",
            with(&json!({"contribution_months": -1}), &[]),
        ),
        (
            "money in tenths of cents",
            with(&json!({"account_balance": 12.345}), &[]),
        ),
        (
            "fund withdrawal without a card",
            with(&json!({"joint_fund": true, "work_start": "1986-09"}), &[]),
        ),
        (
            // The push table's 参加工作时间 is required once a joint item is asked for.
            "a joint item without the start of work",
            with(&json!({"joint_medical": true}), &[]),
        ),
        (
            "a card of 12 digits",
            with(
                &json!({"joint_fund": true, "bank_card": "622202012345", "work_start": "1986-09"}),
                &[],
            ),
        ),
        (
            "special work without the kind",
            with(
                &json!({"retirement_type": "特殊工种提前退休", "special_job_months": 120}),
                &[],
            ),
        ),
        (
            "two delivery choices",
            with(&json!({"delivery": ["现场自取"]}), &[]),
        ),
    ];
    (good_ones, bad_ones)
}

db_test!(the_server_accepts_exactly_what_the_schema_accepts, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let key = accounts::new_api_key();
    let intake = NewApiKey {
        name: "一网通办".into(),
        key_hash: accounts::api_key_hash(&key),
        department: String::new(),
        county: Some("yangcheng".into()),
        intake: true,
    };
    app.app
        .engine()
        .store()
        .accounts()
        .create_api_key(&intake, chrono::Utc::now())
        .await?;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/processes/yangcheng.retirement/form", app.base);

    // Readable with any key of the county, as JSON Schema; not without one.
    let reply = client.get(&url).bearer_auth(&key).send().await?;
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()["content-type"].to_str()?,
        "application/schema+json"
    );
    let schema: Value = reply.json().await?;
    assert_eq!(client.get(&url).send().await?.status(), 401);
    let validator = validator(&schema);
    assert_eq!(schema["properties"]["gender"]["enum"], json!(["男", "女"]));
    assert_eq!(
        schema["properties"]["id_number"]["title"],
        "居民身份证号码（社会保障号码）"
    );
    assert!(
        schema["properties"]["birth"]["pattern"].is_string(),
        "{schema}"
    );
    assert!(
        schema["properties"]["phone"]["pattern"].is_string(),
        "{schema}"
    );
    assert!(
        schema["allOf"].as_array().is_some_and(|c| c.len() >= 5),
        "{schema}"
    );

    let (good_ones, bad_ones) = cases();
    let mut wrong = Vec::new();
    for (expected, list) in [(true, good_ones), (false, bad_ones)] {
        for (name, form) in list {
            let schema_says = validator.is_valid(&form);
            let reply = client
                .post(format!("{}/api/v1/cases", app.base))
                .bearer_auth(&key)
                .json(&json!({"process": "yangcheng.retirement", "form": form}))
                .send()
                .await?;
            let status = reply.status().as_u16();
            let text = reply.text().await?;
            let server_says = match status {
                201 => true,
                422 => false,
                other => anyhow::bail!("{name}: unexpected {other} {text}"),
            };
            if schema_says != expected || server_says != expected {
                wrong.push(format!(
                    "{name}: expected {expected}, schema {schema_says}, server {server_says} {text}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
});

db_test!(a_base_not_in_force_has_no_form, |db| {
    let app = TestApp::start_with(&db, "processes", |s| {
        s.admin_token = Some("operator-secret".into());
    })
    .await?;
    let client = reqwest::Client::new();
    let form = |id: &str| {
        client
            .get(format!("{}/api/v1/processes/{id}/form", app.base))
            .bearer_auth("operator-secret")
            .send()
    };
    // Even the operator, who reads every county, gets no form of the shared base: no case
    // starts on it, so a portal built from it would hand in applications nobody accepts.
    let base = form("shanxi.retirement").await?;
    assert_eq!(base.status(), 404, "{}", base.text().await?);
    assert_eq!(form("zezhou.retirement").await?.status(), 200);
    Ok(())
});
