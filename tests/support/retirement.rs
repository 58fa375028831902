//! The Yangcheng retirement driven straight through the [`Engine`]: an applicant, the
//! window clerk, and a case taken up to confirmed retirement, for the tests of what follows
//! confirmation (push tables, pushes to department systems).

use lianban::runtime::{Actor, CaseId, TaskStatus};
use lianban::service::Engine;
use lianban::store::TaskQuery;
use serde_json::{Map, Value, json};

/// The process these helpers drive.
pub const PROCESS: &str = "yangcheng.retirement";

/// The 社保 window clerk who starts and accepts the cases here.
pub fn window() -> Actor {
    Actor {
        user: "window".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

/// The 社保 reviewer who confirms them: 受审分离 keeps the window clerk who accepted a case
/// from confirming it.
pub fn reviewer() -> Actor {
    Actor {
        user: "reviewer".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

/// A valid application of `name` with ID number `id` (gender and birth month taken from
/// it), asking for the 医保 and 公积金 joint items as given.
pub fn application(name: &str, id: &str, medical: bool, fund: bool) -> Map<String, Value> {
    // The 17th character of the ID number is odd for men.
    let odd = id[16..17].parse::<u32>().unwrap_or_default() % 2 == 1;
    let gender = if odd { "男" } else { "女" };
    let form = json!({
        "name": name, "gender": gender, "employer": "阳城县某煤业有限公司", "id_number": id,
        "birth": format!("{}-{}", &id[6..10], &id[10..12]), "address": "阳城县凤城镇",
        "post": "生产", "phone": "13800000000", "veteran": false,
        "item": "企业职工正常退休信息确认、待遇计发", "joint_medical": medical, "joint_fund": fund,
        "bank_card": "6228480048081234568", "delivery": "现场自取", "retirement_type": "正常退休",
        // The push table's 参加工作时间, required with a joint item.
        "work_start": "1983-07"
    });
    match form {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Claims and completes the case's open task at `step` as `actor`.
///
/// # Errors
/// No open task at the step, or the engine refusing the command.
pub async fn complete_step(
    engine: &Engine,
    case: CaseId,
    step: &str,
    outcome: &str,
    data: Value,
    actor: &Actor,
) -> anyhow::Result<()> {
    let query = TaskQuery {
        case: Some(case),
        statuses: vec![TaskStatus::Open],
        steps: vec![step.to_owned()],
        ..TaskQuery::default()
    };
    let task = engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no open {step} task"))?;
    engine.claim(task.id, actor).await?;
    let data = match data {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    engine.complete(task.id, actor, outcome, data, None).await?;
    Ok(())
}

/// Starts (with every material), accepts (the window clerk) and confirms (the reviewer) a
/// retirement at the engine's time;
/// the joint items asked for are then open.
///
/// # Errors
/// As [`complete_step`], or the case not starting.
pub async fn start_confirmed(
    engine: &Engine,
    name: &str,
    id: &str,
    medical: bool,
    fund: bool,
) -> anyhow::Result<CaseId> {
    let materials = [
        "application",
        "id_card",
        "photos",
        "personnel_file",
        "bank_card",
        "confirmation_form",
        "roster",
        "publicity_form",
        "fund_change_list",
    ];
    let case = engine
        .start_case(
            PROCESS,
            application(name, id, medical, fund),
            materials.map(String::from).to_vec(),
            &window(),
        )
        .await?;
    complete_step(engine, case, "accept", "accept", json!({}), &window()).await?;
    complete_step(
        engine,
        case,
        "confirm",
        "confirm",
        json!({"retirement_date": "2025-02", "pension_monthly": 3000}),
        &reviewer(),
    )
    .await?;
    Ok(case)
}
