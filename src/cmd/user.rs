//! `zonestat user`: the portal's accounts managed from the terminal (the
//! accounts themselves are [`crate::serve::accounts`]).

use std::path::Path;

use crate::catalog::Catalogue;
use crate::cli::UserAction;
use crate::serve::{accounts, db};

/// `zonestat user add|list|passwd|disable`.
///
/// # Errors
/// A database that cannot be opened, a role or account that does not exist.
pub fn user(data: &Path, action: UserAction, cat: &Catalogue) -> anyhow::Result<u8> {
    let store = db::Db::open(data)?;
    match action {
        UserAction::Add {
            name,
            role,
            zone,
            email,
        } => {
            let role = db::Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("角色“{role}”无法识别，应为 zone、city 或 office")
            })?;
            let (user, password) =
                accounts::add(&store, cat, &name, role, zone.as_deref(), &email)?;
            outln!("已建立账户 {}（{}）。", user.name, user.role.label());
            outln!("初始密码：{password}");
            outln!("这个密码只显示这一次，请当面或电话告知使用人；首次登录时必须修改。");
        }
        UserAction::List => out!("{}", accounts::render(&store.users()?, cat)),
        UserAction::Passwd { name } => {
            let password = accounts::reset(&store, &name)?;
            outln!("已为 {name} 重设密码：{password}");
            outln!("这个密码只显示这一次；下次登录时必须修改。原有的登录均已失效。");
        }
        UserAction::Disable { name, enable } => {
            accounts::disable(&store, &name, !enable)?;
            if enable {
                outln!("已重新启用账户 {name}。");
            } else {
                outln!("已停用账户 {name}，它的登录均已失效。");
            }
        }
    }
    Ok(0)
}
