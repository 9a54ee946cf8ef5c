//! Field checks shared by every command that takes a login, an email or a name.

use super::{Code, Refusal};

/// Names, titles and other free text: 1 to `max` characters, none of them a
/// control character. Callers trim first where surrounding blanks do not count.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(Refusal::new(
            Code::Validation,
            format!("{field}: give 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

/// Logins: 1 to 64 characters, letters, digits and `. _ - @`, starting with a
/// letter or digit. Unique case-insensitively (checked by the caller).
pub fn login(login: &str) -> Result<(), Refusal> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    let starts_ok = login
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if login.is_empty() || login.len() > 64 || !starts_ok || !login.chars().all(ok_char) {
        return Err(Refusal::new(
            Code::Validation,
            format!(
                "login {login:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// A plain address `local@domain`: no display names, no spaces, at most 254 bytes.
pub fn email(field: &str, email: &str) -> Result<(), Refusal> {
    let bad = || {
        Refusal::new(
            Code::Validation,
            format!("{field} {email:?} is not an email address like name@example.com"),
        )
    };
    if email.len() > 254 {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    // A dot-atom (RFC 5322): atoms of letters, digits and !#$%&'*+-/=?^_`{|}~
    // joined by single dots, which is what the mail builder sends to.
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = local.len() <= 64
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext));
    let domain_ok = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        for ok in ["admin", "jane.doe", "j_d-1", "a", "ops@eu"] {
            assert!(login(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " admin",
            ".hidden",
            "a b",
            "ünï",
            &"x".repeat(65),
            "a/b",
        ] {
            assert_eq!(login(bad).unwrap_err().code, Code::Validation, "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in ["a@b.c", "admin@localhost", "first.last+tag@sub.example.com"] {
            assert!(email("email", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "nobody", "@x.y", "a@", "a@-x.y", "a b@c.d", "a@b..c", "<a@b.c>", "a@b_c.d",
            ".@x.y", "a.@x.y", ".a@x.y", "a..b@x.y",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }
}
