//! `lianban apikey …`: keys for departments' own systems. `create` prints only the key on
//! standard output (scripts capture it; it is shown once and stored only as a hash);
//! everything else goes to standard error.

use anyhow::bail;
use lianban::accounts;
use lianban::store::NewApiKey;

use super::args::ApikeyCommand;
use super::open;
use super::users::{check_county, check_scope};

/// Runs one `apikey` subcommand.
pub(crate) async fn run(command: ApikeyCommand) -> anyhow::Result<()> {
    match command {
        ApikeyCommand::Create {
            db,
            department,
            intake,
            name,
            scope,
        } => {
            // An intake key belongs to no department (its column holds ""), only a county.
            let (department, county) = match department {
                Some(department) if !intake => {
                    let department = department.trim().to_owned();
                    let county = check_scope(&department, &scope)?;
                    (department, county)
                }
                _ => (String::new(), Some(check_county(&scope)?)),
            };
            let name = match name {
                Some(name) => name.trim().to_owned(),
                None if intake => default_name("intake", county.as_deref()),
                None => default_name(&department, county.as_deref()),
            };
            if !accounts::valid_key_name(&name) {
                bail!("密钥名称只能由 1 到 64 个字母（含汉字）、数字和 - _ . 组成：{name}");
            }
            let store = open(&db).await?;
            let key = accounts::new_api_key();
            let new = NewApiKey {
                name,
                key_hash: accounts::api_key_hash(&key),
                department,
                county,
                intake,
            };
            let record = store
                .accounts()
                .create_api_key(&new, chrono::Utc::now())
                .await?;
            let county = record.county.as_deref().unwrap_or("全部");
            if record.intake {
                eprintln!(
                    "已创建收件密钥 {}（县区 {county}：可受理该县区的事项，只能查看自己受理的办件）；\
                     密钥只显示这一次，请妥善保存：",
                    record.name
                );
            } else {
                eprintln!(
                    "已创建 API 密钥 {}（部门 {}，县区 {county}）；密钥只显示这一次，请妥善保存：",
                    record.name, record.department
                );
            }
            println!("{key}");
        }
        ApikeyCommand::List { db } => {
            let store = open(&db).await?;
            println!(
                "{:<28} {:<12} {:<12} {:<17} {:<17} 状态",
                "名称", "部门", "县区", "创建时间", "最近使用"
            );
            for k in store.accounts().api_keys().await? {
                let state = match k.revoked_at {
                    Some(at) => format!("已吊销 {}", local(at)),
                    None => "有效".to_owned(),
                };
                println!(
                    "{:<28} {:<12} {:<12} {:<17} {:<17} {state}",
                    k.name,
                    if k.intake {
                        "（收件）"
                    } else {
                        k.department.as_str()
                    },
                    k.county.as_deref().unwrap_or("全部"),
                    local(k.created_at),
                    k.last_used_at.map_or_else(|| "从未".to_owned(), local),
                );
            }
        }
        ApikeyCommand::Revoke { db, name, id } => {
            let which = name.or(id).unwrap_or_default();
            let store = open(&db).await?;
            if !store
                .accounts()
                .revoke_api_key(&which, chrono::Utc::now())
                .await?
            {
                bail!("没有有效的 API 密钥 {which}（名称或 id）");
            }
            println!("已吊销 API 密钥 {which}，使用它的请求从现在起被拒绝");
        }
    }
    Ok(())
}

/// `yibao-3fa2c1`, or `yangcheng.yibao-3fa2c1` for a key limited to a county.
fn default_name(department: &str, county: Option<&str>) -> String {
    let suffix = hex::encode(rand::random::<[u8; 3]>());
    match county {
        Some(county) => format!("{county}.{department}-{suffix}"),
        None => format!("{department}-{suffix}"),
    }
}

/// Beijing time, to the minute.
fn local(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
