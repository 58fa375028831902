//! Values no rule should store: unknown keys and materials, control characters, texts
//! beyond their length, numbers and dates beyond their range (issue 14, points 4 and 7).

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::{
    Flow, begin, case_id, clerk, deliver, field, finish, map, now, outcome, spec, task_at,
};
use crate::definition::{Bound, FieldLimits, FieldType, Material, Process};
use crate::runtime::{Command, FieldError, Problem, RuntimeError, apply, start, validate_form};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
}

/// An application form with a field of each bounded kind, the retirement's ranges on two
/// of them, and a material.
fn process() -> Process {
    let months = FieldLimits {
        min: Some(Bound::Number(0.0)),
        max: Some(Bound::Number(720.0)),
        ..FieldLimits::default()
    };
    let birth = FieldLimits {
        max: Some(Bound::Today),
        ..FieldLimits::default()
    };
    let note = FieldLimits {
        multiline: true,
        max_length: Some(10),
        ..FieldLimits::default()
    };
    let mut joint = field("joint", FieldType::MultiChoice, false);
    joint.options = vec!["医保".into(), "公积金".into()];
    let mut flow = Flow::new()
        .task("accept", "shebao_clerk", &[("done", "end")])
        .end("end", "办结");
    flow.process.form = vec![
        field("name", FieldType::Text, true),
        field("id_number", FieldType::CnId, false),
        crate::definition::Field {
            limits: birth,
            ..field("birth", FieldType::YearMonth, false)
        },
        field("work_start", FieldType::YearMonth, false),
        field("applied", FieldType::Date, false),
        crate::definition::Field {
            limits: months,
            ..field("contribution_months", FieldType::Number, false)
        },
        field("special_job_months", FieldType::Number, false),
        field("account_balance", FieldType::Money, false),
        field("address", FieldType::Address, false),
        crate::definition::Field {
            limits: note,
            ..field("note", FieldType::Text, false)
        },
        joint,
    ];
    flow.process.materials = vec![Material {
        key: "id_card".into(),
        name: "身份证".into(),
        copies: None,
        unit: None,
        when: None,
        note: None,
        why: None,
    }];
    flow.build()
}

/// The problems of `form` (with a valid name added), as (field, code).
fn problems(form: Value) -> Vec<(String, Problem)> {
    let mut form = map(form);
    form.entry("name").or_insert(json!("张三"));
    validate_form(&process(), &form, today())
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

fn one(field: &str, code: Problem) -> Vec<(String, Problem)> {
    vec![(field.to_owned(), code)]
}

#[test]
fn counts_money_and_dates_stay_in_their_ranges() {
    use Problem::OutOfRange;
    assert_eq!(problems(json!({"contribution_months": 0})), []);
    assert_eq!(problems(json!({"contribution_months": 720})), []);
    assert_eq!(
        problems(json!({"contribution_months": -1})),
        one("contribution_months", OutOfRange)
    );
    assert_eq!(
        problems(json!({"contribution_months": 721})),
        one("contribution_months", OutOfRange)
    );
    // Without `min`/`max` a number takes the type's defaults: not negative, below 10⁹.
    assert_eq!(
        problems(json!({"special_job_months": -100})),
        one("special_job_months", OutOfRange)
    );
    assert_eq!(
        problems(json!({"special_job_months": 1e10})),
        one("special_job_months", OutOfRange)
    );
    assert_eq!(
        problems(json!({"account_balance": 1e308})),
        one("account_balance", OutOfRange)
    );
    assert_eq!(
        problems(json!({"account_balance": -0.01})),
        one("account_balance", OutOfRange)
    );
    assert_eq!(problems(json!({"account_balance": 123456.78})), []);
    for month in ["0000-01", "1899-12", "9999-12"] {
        assert_eq!(
            problems(json!({"work_start": month})),
            one("work_start", OutOfRange),
            "{month}"
        );
    }
    assert_eq!(problems(json!({"work_start": "1983-07"})), []);
    assert_eq!(
        problems(json!({"applied": "0001-01-01"})),
        one("applied", OutOfRange)
    );
    assert_eq!(problems(json!({"applied": "2027-05-01"})), []);
    // `max: today` on a month lets this month through, not the next.
    assert_eq!(problems(json!({"birth": "2026-03"})), []);
    assert_eq!(
        problems(json!({"birth": "2026-04"})),
        one("birth", OutOfRange)
    );
    assert_eq!(
        problems(json!({"birth": "2030-01"})),
        one("birth", OutOfRange)
    );
    let errors = validate_form(
        &process(),
        &map(json!({"name": "张三", "contribution_months": -1})),
        today(),
    );
    assert_eq!(errors[0].message, "“contribution_months”应在 0 至 720 之间");
}

#[test]
fn an_id_number_born_in_the_future_is_refused() {
    assert_eq!(
        problems(json!({"id_number": "140522203001150315"})),
        one("id_number", Problem::Invalid)
    );
    assert_eq!(problems(json!({"id_number": "140522196501150319"})), []);
}

#[test]
fn unknown_keys_and_materials_are_refused_by_name() {
    assert_eq!(
        problems(json!({"evil": 1, "../../x": "y"})),
        [
            ("evil".to_owned(), Problem::UnknownField),
            ("../../x".to_owned(), Problem::UnknownField)
        ]
    );
    // 100,000 made-up keys: ten named, the rest counted.
    let mut many = serde_json::Map::new();
    for i in 0..100_000 {
        many.insert(format!("x{i}"), json!("x"));
    }
    many.insert("name".into(), json!("张三"));
    let errors = validate_form(&process(), &many, today());
    assert_eq!(errors.len(), 11);
    assert!(
        errors[10].message.contains("另有 99990 个"),
        "{}",
        errors[10].message
    );

    let refused = start(
        &process(),
        case_id(),
        map(json!({"name": "张三", "evil": true})),
        vec!["id_card".into(), "../../x".into()],
        &clerk("张三"),
        now(),
    );
    match refused {
        Err(RuntimeError::InvalidForm(errors)) => assert_eq!(
            errors
                .iter()
                .map(|e| (e.field.as_str(), e.code))
                .collect::<Vec<_>>(),
            [
                ("evil", Problem::UnknownField),
                ("materials", Problem::UnknownMaterial)
            ]
        ),
        other => panic!("expected InvalidForm, got {other:?}"),
    }
    // A material ticked many times is received once.
    let started = start(
        &process(),
        case_id(),
        map(json!({"name": "张三"})),
        vec!["id_card".into(); 1000],
        &clerk("张三"),
        now(),
    )
    .expect("starts");
    assert_eq!(started.state.materials, ["id_card"]);
    assert_eq!(
        problems(json!({"joint": ["医保", "医保"]})),
        one("joint", Problem::Invalid)
    );
}

#[test]
fn control_characters_are_refused_and_line_breaks_only_where_lines_are_allowed() {
    use Problem::ControlCharacter;
    for bad in [
        "张\u{0}三",
        "张\u{1b}[31m三",
        "\u{7f}",
        "张\u{202e}三",
        "张\u{85}三",
        "张\n三",
        "张\t三",
    ] {
        assert_eq!(
            problems(json!({"name": bad})),
            one("name", ControlCharacter),
            "{bad:?}"
        );
    }
    assert_eq!(problems(json!({"address": "沁水县\r\n龙港镇\t1号"})), []);
    assert_eq!(
        problems(json!({"address": "沁水县\u{0}"})),
        one("address", ControlCharacter)
    );
    assert_eq!(problems(json!({"note": "一行\n二行"})), []);
    assert_eq!(
        problems(json!({"note": "\u{0}"})),
        one("note", ControlCharacter)
    );
    let errors = validate_form(&process(), &map(json!({"name": "张\u{0}三"})), today());
    assert_eq!(
        errors,
        [FieldError {
            field: "name".into(),
            code: ControlCharacter,
            message: "“name”含有不可见的控制字符（U+0000），请删除后重新填写".into(),
        }]
    );
}

#[test]
fn texts_have_a_default_and_a_defined_maximum_length() {
    use Problem::TooLong;
    assert_eq!(problems(json!({"name": "张".repeat(200)})), []);
    assert_eq!(
        problems(json!({"name": "张".repeat(201)})),
        one("name", TooLong)
    );
    assert_eq!(
        problems(json!({"name": "x".repeat(40_000)})),
        one("name", TooLong)
    );
    assert_eq!(
        problems(json!({"address": "x".repeat(201)})),
        one("address", TooLong)
    );
    // `max_length: 10` on a multi-line text.
    assert_eq!(problems(json!({"note": "字".repeat(10)})), []);
    assert_eq!(
        problems(json!({"note": "字".repeat(11)})),
        one("note", TooLong)
    );
    let errors = validate_form(
        &process(),
        &map(json!({"name": "x".repeat(40_000)})),
        today(),
    );
    assert_eq!(errors[0].message, "“name”最多 200 个字，这里有 40000 个字");
    // A field whose `when` does not hold is not required, but what is sent is still checked.
    let mut process = process();
    process.form[0].when = Some(super::expr("false"));
    let form = map(json!({"name": "x".repeat(201)}));
    assert_eq!(validate_form(&process, &form, today()).len(), 1);
}

#[test]
fn reasons_and_delivered_values_follow_the_text_rules() {
    let mut accept = spec(
        "shebao_clerk",
        vec![outcome("accept", "done"), outcome("reject", "done")],
    );
    if let Some(reject) = accept.outcomes.get_mut("reject") {
        reject.reason_required = true;
    }
    let process = Flow::new()
        .task_spec("accept", accept)
        .end("done", "办结")
        .build();
    let state = begin(&process, json!({})).state;
    let reject = |reason: String| {
        let command = Command::Complete {
            task: task_at(&state, "accept"),
            outcome: "reject".into(),
            data: map(json!({})),
            reason: Some(reason),
        };
        apply(&process, &state, &clerk("张三"), command, now())
    };
    let code = |result: Result<_, RuntimeError>| match result {
        Err(RuntimeError::InvalidReason { code, .. }) => Some(code),
        _ => None,
    };
    assert_eq!(code(reject("理".repeat(2001))), Some(Problem::TooLong));
    assert_eq!(
        code(reject("理由\u{0}".into())),
        Some(Problem::ControlCharacter)
    );
    assert!(reject(format!("第一条\r\n第二条\t{}", "理".repeat(1990))).is_ok());
    let cancel = |reason: &str| {
        let command = Command::Cancel {
            reason: reason.into(),
        };
        apply(&process, &state, &clerk("张三"), command, now())
    };
    assert_eq!(code(cancel(&"撤".repeat(900_000))), Some(Problem::TooLong));
    assert!(cancel("申请人撤回").is_ok());

    let process = process_with_wait();
    let state = begin(&process, json!({})).state;
    let state = finish(&process, &state, "accept", "ask")
        .expect("asks")
        .state;
    let refused = |data: Value, materials: &[&str]| match deliver(
        &process, &state, "supplied", data, materials,
    ) {
        Err(RuntimeError::InvalidField { field, code, .. }) => Some((field, code)),
        _ => None,
    };
    assert_eq!(
        refused(json!({}), &["../../x"]),
        Some(("materials".into(), Problem::UnknownMaterial))
    );
    assert_eq!(
        refused(json!({"reply": ["ok", "\u{0}"]}), &[]),
        Some(("reply".into(), Problem::ControlCharacter))
    );
    assert!(
        deliver(
            &process,
            &state,
            "supplied",
            json!({"reply": "已核实"}),
            &["id_card"]
        )
        .is_ok()
    );
}

fn process_with_wait() -> Process {
    let mut flow = Flow::new()
        .task(
            "accept",
            "shebao_clerk",
            &[("ask", "supplement"), ("done", "end")],
        )
        .wait("supplement", &[("supplied", "end")])
        .end("end", "办结");
    flow.process.materials = process().materials;
    flow.build()
}
