//! The demo accounts of `serve --demo`: one clerk per department, a supervisor and an
//! admin, each with a random password shown once.

use lianban_core::accounts::Role;
use lianban_store::NewAccount;

use super::App;

/// An account `serve --demo` created, with its one-time password.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// User name.
    pub username: String,
    /// Department key.
    pub department: String,
    /// County the account is limited to (only when several counties are loaded).
    pub county: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// The generated password (shown once, never stored in clear).
    pub password: String,
}

/// A demo account to create when missing.
struct Wanted {
    username: String,
    name: String,
    department: String,
    county: Option<String>,
    roles: Vec<Role>,
}

impl App {
    /// Creates the demo accounts that are missing, each with a random password, and returns
    /// those created (accounts that exist are left alone).
    ///
    /// With the definitions of one county loaded: one clerk per department
    /// (`<department>_clerk`), a supervisor (`supervisor`) and an admin (`admin`) of the
    /// first department, none limited to a county. With several counties (department keys
    /// repeat across counties): per county `<county>_<department>_clerk` and
    /// `<county>_supervisor`, limited to that county so that no demo clerk sees another
    /// county's work, and one `admin`.
    ///
    /// # Errors
    /// A database error, or a password that cannot be hashed.
    pub async fn seed_demo_accounts(&self) -> anyhow::Result<Vec<DemoAccount>> {
        // (county, department key, department name), in catalog order, each once.
        let mut departments: Vec<(String, String, String)> = Vec::new();
        for process in self.engine.catalog().iter() {
            let county = lianban_core::accounts::county_of(&process.id);
            for department in process.departments.values() {
                if !departments
                    .iter()
                    .any(|(c, k, _)| c == county && k == &department.key)
                {
                    departments.push((
                        county.to_owned(),
                        department.key.clone(),
                        department.name.clone(),
                    ));
                }
            }
        }
        let Some((_, first, _)) = departments.first().cloned() else {
            return Ok(Vec::new());
        };
        let mut counties: Vec<String> = departments.iter().map(|(c, _, _)| c.clone()).collect();
        counties.sort();
        counties.dedup();
        let several = counties.len() > 1;
        let mut wanted: Vec<Wanted> = Vec::new();
        for county in &counties {
            let mut ours = departments.iter().filter(|(c, _, _)| c == county);
            let Some((_, lead, lead_name)) = ours.clone().next() else {
                continue;
            };
            let prefix = if several {
                format!("{county}_")
            } else {
                String::new()
            };
            let scope = several.then(|| county.clone());
            for (_, key, name) in ours.by_ref() {
                wanted.push(Wanted {
                    username: format!("{prefix}{key}_clerk"),
                    name: format!("{name}经办人"),
                    department: key.clone(),
                    county: scope.clone(),
                    roles: vec![Role::Clerk],
                });
            }
            wanted.push(Wanted {
                username: format!("{prefix}supervisor"),
                name: format!("{lead_name}负责人"),
                department: lead.clone(),
                county: scope,
                roles: vec![Role::Supervisor],
            });
        }
        wanted.push(Wanted {
            username: "admin".into(),
            name: "系统管理员".into(),
            department: first,
            county: None,
            roles: vec![Role::Admin],
        });
        let store = self.engine.store();
        let mut created = Vec::new();
        for w in wanted {
            if store.accounts().get(&w.username).await?.is_some() {
                continue;
            }
            let password = demo_password();
            let clear = password.clone();
            let hash =
                tokio::task::spawn_blocking(move || lianban_core::accounts::hash_password(&clear))
                    .await??;
            let new = NewAccount {
                username: w.username.clone(),
                name: w.name,
                department: w.department.clone(),
                county: w.county.clone(),
                roles: w.roles.clone(),
                password_hash: hash,
            };
            store.accounts().create(&new, chrono::Utc::now()).await?;
            created.push(DemoAccount {
                username: w.username,
                department: w.department,
                county: w.county,
                roles: w.roles,
                password,
            });
        }
        Ok(created)
    }
}

/// 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I).
fn demo_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
