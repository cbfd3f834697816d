//! Small parsers for free-text input shared by the services' domain types.

use crate::{Error, Result};

/// `value` trimmed, if it has 1 to `max` characters; `BAD_USER_INPUT` naming
/// `field` otherwise.
pub fn bounded_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(Error::invalid(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    Ok(v.to_string())
}

/// Like [`bounded_text`], but empty (or absent) is `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => bounded_text(field, v, max).map(Some),
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-cased (`fr` → `FR`).
pub fn country_code(raw: &str) -> Result<String> {
    let code = raw.trim().to_uppercase();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid(
            "country must be an ISO 3166-1 alpha-2 code such as FR",
        ));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            bounded_text("city", " Paris ", 10).ok().as_deref(),
            Some("Paris")
        );
        assert!(bounded_text("city", "   ", 10).is_err());
        assert!(bounded_text("city", "Llanfairpwllgwyngyll", 10).is_err());
        assert_eq!(optional_text("line2", Some(" "), 10).ok(), Some(None));
    }

    #[test]
    fn countries_are_two_letters() {
        assert_eq!(country_code("gb").ok().as_deref(), Some("GB"));
        assert!(country_code("GBR").is_err());
        assert!(country_code("G1").is_err());
    }
}
