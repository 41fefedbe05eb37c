//! Accounts: passwords hashed with Argon2id, random first passwords, the
//! strength rule, and the `zonestat user` commands (add, list, passwd,
//! disable). There is no default account: whoever runs the server makes them.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::catalog::Catalogue;
use crate::error::Error;
use crate::serve::db::{Db, Role, User};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Letters and digits of first passwords: no 0/O, 1/l/I, easy to read out.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The Argon2id hash of a password, as a PHC string.
///
/// # Errors
/// [`Error::Account`] when the system has no random source for the salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Account(format!("无法生成密码散列：{e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches, verified against when the account does not
/// exist, so that a wrong name costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_password()).unwrap_or_default())
}

/// `n` random bytes from the operating system.
///
/// # Panics
/// When the operating system has no random source (no server can run then).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source");
    b
}

/// `N` random bytes from the operating system, in hex (session tokens, upload tags).
pub fn random_hex<const N: usize>() -> String {
    random_bytes::<N>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random first password of 16 characters (about 94 bits).
pub fn random_password() -> String {
    random_bytes::<16>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Why a new password is refused, or None when it is strong enough.
pub fn weakness(password: &str, user: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!(
            "密码太短：至少 {MIN_PASSWORD_CHARS} 个字符（现在 {chars} 个）"
        ));
    }
    if password.to_lowercase().contains(&user.to_lowercase()) {
        return Some("密码不能包含账户名".into());
    }
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return Some("密码太简单：请混用字母、数字或符号中的至少两种".into());
    }
    None
}

/// Makes an account with a random first password, which it returns (it is
/// shown once and must be changed at first login).
///
/// # Errors
/// [`Error::Account`] for a name taken, a zone the catalogue does not know, a
/// zone given for a role without one (or missing for a zone account).
pub fn add(
    db: &Db,
    cat: &Catalogue,
    name: &str,
    role: Role,
    zone: Option<&str>,
    email: &str,
) -> Result<(User, String), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(Error::Account("账户名不能为空，也不能含控制字符".into()));
    }
    match (role, zone) {
        (Role::Zone, None) => {
            return Err(Error::Account(
                "开发区账户要用 --zone 指定开发区代码（如 --zone HZ）".into(),
            ));
        }
        (Role::Zone, Some(z)) if cat.zone(z).is_none() => {
            let codes: Vec<&str> = cat.zones.iter().map(|z| z.code.as_str()).collect();
            return Err(Error::Account(format!(
                "计划目录中没有代码为“{z}”的开发区；可用的代码：{}",
                codes.join("、")
            )));
        }
        (Role::City | Role::Office, Some(_)) => {
            return Err(Error::Account(format!(
                "{}账户不属于某个开发区，不要写 --zone",
                role.label()
            )));
        }
        _ => {}
    }
    let password = random_password();
    let user = db.add_user(
        name,
        role,
        zone,
        email,
        &hash_password(&password)?,
        crate::model::unix_now(),
    )?;
    Ok((user, password))
}

/// Gives an account a new random password (to be changed at next login) and
/// ends its sessions.
///
/// # Errors
/// [`Error::Account`] when there is no such account.
pub fn reset(db: &Db, name: &str) -> Result<String, Error> {
    let user = find(db, name)?;
    let password = random_password();
    db.set_password(user.id, &hash_password(&password)?, true)?;
    Ok(password)
}

/// Disables an account (or enables it again).
///
/// # Errors
/// [`Error::Account`] when there is no such account.
pub fn disable(db: &Db, name: &str, disabled: bool) -> Result<(), Error> {
    let user = find(db, name)?;
    db.set_disabled(user.id, disabled)
}

fn find(db: &Db, name: &str) -> Result<User, Error> {
    db.user_by_name(name)?
        .ok_or_else(|| Error::Account(format!("没有名为“{name}”的账户")))
}

/// The account list as text for the terminal.
pub fn render(users: &[User], cat: &Catalogue) -> String {
    if users.is_empty() {
        return "还没有账户。用 zonestat user add 名称 --role zone --zone HZ 建立。\n".into();
    }
    let mut out = String::new();
    for u in users {
        let zone = u
            .zone
            .as_deref()
            .map(|z| cat.zone_short(z))
            .unwrap_or_default();
        let mut state = Vec::new();
        if u.disabled {
            state.push("已停用");
        }
        if u.must_change {
            state.push("待修改初始密码");
        }
        out.push_str(&format!(
            "  {}  {}{}  {}  {}\n",
            u.name,
            u.role.label(),
            if zone.is_empty() {
                String::new()
            } else {
                format!("（{zone}）")
            },
            u.email,
            state.join("，")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("Correct horse 9").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correct horse 9", &h));
        assert!(!verify_password("correct horse 9", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("", dummy_hash()));
    }

    #[test]
    fn first_passwords_are_random_and_strong() {
        let a = random_password();
        assert_eq!(a.len(), 16);
        assert_ne!(a, random_password());
        assert_eq!(
            weakness("short1A", "u").map(|m| m.contains("太短")),
            Some(true)
        );
        assert!(weakness("aaaaaaaaaaaa", "u").is_some());
        assert!(weakness("hz-user-2020x", "hz-user").is_some());
        assert!(weakness("Lake-Tai-2020", "hz1").is_none());
    }

    #[test]
    fn accounts_need_a_known_zone_for_zone_users_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let cat = Catalogue::bundled();
        let (u, pw) = add(&db, &cat, "hz1", Role::Zone, Some("HZ"), "").unwrap();
        assert!(u.must_change);
        assert!(verify_password(&pw, &u.password));
        for (role, zone) in [
            (Role::Zone, None),
            (Role::Zone, Some("XX")),
            (Role::Office, Some("HZ")),
        ] {
            assert!(matches!(
                add(&db, &cat, "other", role, zone, ""),
                Err(Error::Account(_))
            ));
        }
        let new = reset(&db, "hz1").unwrap();
        assert!(verify_password(
            &new,
            &db.user_by_name("hz1").unwrap().unwrap().password
        ));
        disable(&db, "hz1", true).unwrap();
        assert!(db.user_by_name("hz1").unwrap().unwrap().disabled);
        assert!(reset(&db, "nobody").is_err());
    }
}
