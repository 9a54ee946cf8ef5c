//! Password policy (R8.5): minimum length, at least one letter and one digit,
//! and no characters outside letters, digits and the listed specials.

use super::{Code, Refusal};

/// The specials R8.5 allows, exactly.
pub const SPECIALS: &str = "()`~!@#$%^&*-+=|\\{}[]:;\"'<>,.?/";

/// R8.5: refuses a password shorter than `min_length`, without a letter or a
/// digit, or with a character outside letters, digits and [`SPECIALS`],
/// naming what is wrong (`password_policy`).
pub fn check(password: &str, min_length: u32) -> Result<(), Refusal> {
    let refuse = |m: String| Err(Refusal::new(Code::PasswordPolicy, m));
    if let Some(c) = password
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || SPECIALS.contains(*c)))
    {
        let shown = if c.is_control() || c.is_whitespace() {
            format!("U+{:04X}", c as u32)
        } else {
            format!("'{c}'")
        };
        return refuse(format!(
            "the character {shown} is not allowed; use letters, digits and {SPECIALS}"
        ));
    }
    if (password.chars().count() as u32) < min_length {
        return refuse(format!("use at least {min_length} characters"));
    }
    if !password.chars().any(|c| c.is_ascii_alphabetic()) {
        return refuse("use at least one letter".into());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return refuse("use at least one digit".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r8_5_every_listed_special_is_allowed() {
        for c in SPECIALS.chars() {
            let p = format!("abcdef1{c}");
            assert!(check(&p, 8).is_ok(), "{c} should be allowed");
        }
    }

    #[test]
    fn r8_5_other_characters_are_refused_by_name() {
        for (p, shown) in [
            ("abcdef1_x", "'_'"),
            ("abc def12", "U+0020"),
            ("abcdéf123", "'é'"),
        ] {
            let err = check(p, 8).unwrap_err();
            assert_eq!(err.code, Code::PasswordPolicy);
            assert!(err.message.contains(shown), "{p}: {}", err.message);
        }
    }

    #[test]
    fn r8_5_length_letters_and_digits() {
        assert!(check("abc1", 8).unwrap_err().message.contains("at least 8"));
        assert!(check("12345678", 8).unwrap_err().message.contains("letter"));
        assert!(check("abcdefgh", 8).unwrap_err().message.contains("digit"));
        assert!(check("abcdefg1", 8).is_ok());
    }
}
