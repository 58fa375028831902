//! Application form checks and required materials.

use chrono::NaiveDate;
use serde_json::json;

use super::{Flow, expr, field, map};
use crate::definition::{FieldType, Material, Table};
use crate::runtime::{FieldError, Problem, RuntimeError, start, validate_form};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
}

/// A one-task flow whose application form has a field of every type.
fn flow() -> Flow {
    let mut flow = Flow::new()
        .task("accept", "shebao_clerk", &[("done", "end")])
        .end("end", "办结");
    let mut choice = field("post", FieldType::Choice, true);
    choice.options = vec!["管理".into(), "灵活就业".into()];
    let mut multi = field("joint", FieldType::MultiChoice, false);
    multi.options = vec!["医保".into(), "公积金".into()];
    let mut mail = field("mail_address", FieldType::Address, true);
    mail.when = Some(expr(r#"form.delivery == "邮寄送达""#));
    let mut gender = field("gender", FieldType::Choice, false);
    gender.options = vec!["男".into(), "女".into()];
    gender.check = Some(expr(
        r#"if cn_id(form.id_number).valid && cn_id(form.id_number).gender != form.gender { "性别与身份证号码不符" }"#,
    ));
    let mut bin = field("card", FieldType::BankCard, false);
    bin.check = Some(expr(
        r#"if tables.bins[form.card.sub_string(0, 6)] == () { "不是可以使用的银行" }"#,
    ));
    flow.process.form = vec![
        field("name", FieldType::Text, true),
        field("id_number", FieldType::CnId, true),
        choice,
        multi,
        field("delivery", FieldType::Text, false),
        mail,
        gender,
        bin,
        field("phone", FieldType::Phone, false),
        field("birth", FieldType::YearMonth, false),
        field("applied", FieldType::Date, false),
        field("years", FieldType::Number, false),
        field("salary", FieldType::Money, false),
        field("fund", FieldType::Bool, false),
    ];
    flow.process.tables.insert(
        "bins".into(),
        Table {
            key: "bins".into(),
            source: "测试".into(),
            file: None,
            data: json!({"411111": "测试银行"}),
        },
    );
    flow
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn a_good_form_has_no_errors() {
    let form = map(json!({
        "name": "张三", "id_number": "11010519491231002X", "post": "管理", "joint": ["医保"],
        "delivery": "邮寄送达", "mail_address": "阳城县", "gender": "女",
        "card": "4111111111111111", "phone": "0356-4223292", "birth": "1965-01",
        "applied": "2026-03-02", "years": 15, "salary": 1234.5, "fund": true
    }));
    assert_eq!(validate_form(&flow().process, &form, today()), []);
}

#[test]
fn every_problem_is_reported_at_once_in_form_order() {
    let form = map(json!({
        "id_number": "110105194912310021", "post": "生产", "joint": ["养老"],
        "delivery": "邮寄送达", "mail_address": "  ", "gender": "男",
        "card": "4111111111111112", "phone": "12345", "birth": "1965-13",
        "applied": "2026-02-30", "years": "十五", "salary": 1.234, "fund": "是"
    }));
    let errors = validate_form(&flow().process, &form, today());
    assert_eq!(
        fields(&errors),
        [
            "name",
            "id_number",
            "post",
            "joint",
            "mail_address",
            "card",
            "phone",
            "birth",
            "applied",
            "years",
            "salary",
            "fund"
        ]
    );
    assert_eq!(errors[0].message, "“name”为必填项");
    assert!(
        errors[1].message.contains("校验位"),
        "{}",
        errors[1].message
    );
    assert_eq!(errors[5].message, "银行卡号校验不通过，请核对卡号是否抄错");
    assert_eq!(errors[10].message, "金额最多保留两位小数");
}

#[test]
fn checks_see_the_form_and_tables_and_run_only_on_valid_values() {
    let base = json!({"name": "张三", "id_number": "11010519491231002X", "post": "管理"});
    let mut form = map(base.clone());
    form.insert("gender".into(), json!("男"));
    form.insert("card".into(), json!("5500000000000004"));
    let errors = validate_form(&flow().process, &form, today());
    assert_eq!(
        errors,
        [
            FieldError {
                field: "gender".into(),
                code: Problem::Check,
                message: "性别与身份证号码不符".into()
            },
            FieldError {
                field: "card".into(),
                code: Problem::Check,
                message: "不是可以使用的银行".into()
            },
        ]
    );
    // `mail_address` does not apply without 邮寄送达, so it is not required.
    assert_eq!(validate_form(&flow().process, &map(base), today()), []);
}

#[test]
fn phones() {
    let process = flow().process;
    for good in ["13812345678", "0356-4223292", "03564223292", "010-12345678"] {
        let form = map(
            json!({"name": "a", "id_number": "11010519491231002X", "post": "管理", "phone": good}),
        );
        assert_eq!(validate_form(&process, &form, today()), [], "{good}");
    }
    for bad in [
        "12812345678",
        "1381234567",
        "0356-42232",
        "356-4223292",
        "0356-四223292",
        "０３５６",
    ] {
        let form = map(
            json!({"name": "a", "id_number": "11010519491231002X", "post": "管理", "phone": bad}),
        );
        assert_eq!(
            fields(&validate_form(&process, &form, today())),
            ["phone"],
            "{bad}"
        );
    }
}

#[test]
fn a_case_with_form_errors_is_refused_with_every_field() {
    let flow = flow();
    let refused = start(
        &flow.process,
        super::case_id(),
        map(json!({"post": "管理"})),
        Vec::new(),
        &super::clerk("张三"),
        super::now(),
    );
    match refused {
        Err(RuntimeError::InvalidForm(errors)) => {
            assert_eq!(fields(&errors), ["name", "id_number"])
        }
        other => panic!("expected InvalidForm, got {other:?}"),
    }
}

#[test]
fn materials_follow_their_conditions() {
    let mut flow = flow();
    flow.process.materials = vec![
        Material {
            key: "id_card".into(),
            name: "身份证".into(),
            copies: Some(1),
            unit: None,
            when: None,
            note: None,
            why: None,
        },
        Material {
            key: "roster".into(),
            name: "花名表".into(),
            copies: Some(2),
            unit: None,
            when: Some(expr(r#"form.post != "灵活就业""#)),
            note: None,
            why: Some("单位职工需单位确认".into()),
        },
    ];
    let params = serde_json::Map::new();
    let form = map(json!({"post": "灵活就业"}));
    let facts = crate::rules::Facts {
        form: &form,
        data: &params,
        params: &params,
        tables: &params,
        materials: &[],
        today: today(),
    };
    let keys = |list: Vec<crate::runtime::RequiredMaterial>| {
        list.into_iter().map(|m| m.key).collect::<Vec<_>>()
    };
    assert_eq!(
        keys(flow.process.required_materials(&facts).expect("evaluates")),
        ["id_card"]
    );
    let form = map(json!({"post": "管理"}));
    let facts = crate::rules::Facts {
        form: &form,
        ..facts
    };
    let all = flow.process.required_materials(&facts).expect("evaluates");
    assert_eq!(all[1].why.as_deref(), Some("单位职工需单位确认"));
    assert_eq!(keys(all), ["id_card", "roster"]);
}
