//! Functions the engine gives every rule besides Rhai's standard library (the table in
//! `docs/definition-format.md`): months (`ym`, `ym_text`, `ym_add`), resident ID numbers
//! (`cn_id`), bank cards (`luhn`) and `is_blank`. They are pure: no clock, no files.

use rhai::{Dynamic, EvalAltResult, Map as RhaiMap, Position};

use super::checks;

/// Registers the host functions on the sandboxed engine.
pub(super) fn register(engine: &mut rhai::Engine) {
    engine.register_fn("ym", ym);
    engine.register_fn("ym_text", checks::month_text);
    engine.register_fn("ym_add", ym_add);
    engine.register_fn("cn_id", cn_id);
    engine.register_fn("luhn", |text: &str| checks::luhn(text));
    engine.register_fn("is_blank", is_blank);
}

fn runtime_error(message: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE))
}

/// Month text → index; the argument is `Dynamic` so that an unanswered form field (`()`)
/// gets a sentence naming the function rather than Rhai's "function not found".
fn month_of(function: &str, text: &Dynamic) -> Result<i64, Box<EvalAltResult>> {
    let Some(text) = text.read_lock::<rhai::ImmutableString>() else {
        let got = if text.is_unit() {
            "空值（未填写）"
        } else {
            text.type_name()
        };
        return Err(runtime_error(format!(
            "{function}：需要年月文字（YYYY-MM），这里是{got}"
        )));
    };
    checks::month_index(&text).map_err(|e| runtime_error(format!("{function}：{e}")))
}

fn ym(text: Dynamic) -> Result<i64, Box<EvalAltResult>> {
    month_of("ym", &text)
}

fn ym_add(text: Dynamic, months: i64) -> Result<String, Box<EvalAltResult>> {
    let index = month_of("ym_add", &text)?;
    Ok(checks::month_text(index.saturating_add(months)))
}

/// `#{valid, error, birth, birth_ym, gender, region, province}`; the fields other than
/// `valid` and `error` are `()` for an invalid number so rules can test them uniformly.
fn cn_id(text: Dynamic) -> RhaiMap {
    let text = text.into_string().unwrap_or_default();
    let mut map = RhaiMap::new();
    let (valid, error, facts) = match checks::cn_id(&text) {
        Ok(id) => (true, Dynamic::UNIT, Some(id)),
        Err(e) => (false, Dynamic::from(e), None),
    };
    map.insert("valid".into(), valid.into());
    map.insert("error".into(), error);
    let text_of = |f: &dyn Fn(&checks::CnId) -> String| {
        facts
            .as_ref()
            .map_or(Dynamic::UNIT, |id| Dynamic::from(f(id)))
    };
    map.insert("number".into(), text_of(&|id| id.number.clone()));
    map.insert(
        "birth".into(),
        text_of(&|id| id.birth.format("%Y-%m-%d").to_string()),
    );
    map.insert(
        "birth_ym".into(),
        text_of(&|id| id.birth.format("%Y-%m").to_string()),
    );
    map.insert("gender".into(), text_of(&|id| id.gender.to_owned()));
    map.insert("region".into(), text_of(&|id| id.region.clone()));
    map.insert("province".into(), text_of(&|id| id.province.clone()));
    map
}

/// `()`, empty or whitespace-only text (and an empty array or map: an empty selection).
fn is_blank(value: Dynamic) -> bool {
    if value.is_unit() {
        return true;
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return s.trim().is_empty();
    }
    if let Some(a) = value.read_lock::<rhai::Array>() {
        return a.is_empty();
    }
    if let Some(m) = value.read_lock::<RhaiMap>() {
        return m.is_empty();
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::rules::{Facts, RuleLibrary};
    use serde_json::{Map, Value, json};

    fn eval(source: &str) -> Result<Value, String> {
        let lib = RuleLibrary::default();
        let expr = lib.compile_expr(source).map_err(|e| e.message)?;
        let empty = Map::new();
        let facts = Facts {
            form: &empty,
            data: &empty,
            params: &empty,
            tables: &empty,
            materials: &[],
            today: chrono::NaiveDate::default(),
        };
        expr.eval(&facts).map_err(|e| e.to_string())
    }

    #[test]
    fn months() {
        assert_eq!(eval(r#"ym("1965-01")"#), Ok(json!(1965 * 12)));
        assert_eq!(eval(r#"ym("1965-02-28") - ym("1964-12")"#), Ok(json!(2)));
        assert_eq!(eval("ym_text(23580)"), Ok(json!("1965-01")));
        assert_eq!(eval(r#"ym_add("2024-12", 2)"#), Ok(json!("2025-02")));
        assert_eq!(eval(r#"ym_add("2025-01", -1)"#), Ok(json!("2024-12")));
        let e = eval(r#"ym("1965-13")"#).expect_err("malformed");
        assert!(e.contains("ym：`1965-13` 不是年月"), "{e}");
        let e = eval("ym(())").expect_err("absent");
        assert!(e.contains("ym：需要年月文字（YYYY-MM），这里是空值"), "{e}");
    }

    #[test]
    fn cn_id_describes_a_valid_number_and_explains_an_invalid_one() {
        let id = eval(r#"cn_id("11010519491231002x")"#).expect("runs");
        assert_eq!(id["valid"], json!(true));
        assert_eq!(id["birth"], json!("1949-12-31"));
        assert_eq!(id["birth_ym"], json!("1949-12"));
        assert_eq!(id["gender"], json!("女"));
        assert_eq!(
            (id["region"].clone(), id["province"].clone()),
            (json!("110105"), json!("11"))
        );
        let bad = eval(r#"cn_id("110105491231002")"#).expect("runs");
        assert_eq!(bad["valid"], json!(false));
        assert!(bad["error"].as_str().is_some_and(|e| e.contains("18位")));
        // An absent form value is not an error of the rule, just an invalid number.
        assert_eq!(eval("cn_id(())").expect("runs")["valid"], json!(false));
    }

    #[test]
    fn luhn_and_is_blank() {
        assert_eq!(eval(r#"luhn("4111111111111111")"#), Ok(json!(true)));
        assert_eq!(eval(r#"luhn("4111111111111112")"#), Ok(json!(false)));
        for blank in ["()", r#""""#, r#""  ""#, "[]", "#{}"] {
            assert_eq!(
                eval(&format!("is_blank({blank})")),
                Ok(json!(true)),
                "{blank}"
            );
        }
        for not_blank in [r#""a""#, "0", "false", "[1]"] {
            assert_eq!(
                eval(&format!("is_blank({not_blank})")),
                Ok(json!(false)),
                "{not_blank}"
            );
        }
    }
}
