//! Small parsers for free-text input shared by the services' domain types, and
//! the check every text value of a request passes at the edge (GraphQL
//! arguments and variables, REST bodies, paths and query strings): no control
//! characters (NUL and the rest of C0 but tab, line feed and carriage return;
//! DEL; C1) and at most [`MAX_TEXT_CHARS`] characters. Stores never see such
//! text, so PostgreSQL's refusal of `0x00` can never become a server error.

use crate::{Error, Result};

/// The longest text value a request may carry anywhere (a field's own rule
/// may be stricter).
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Why a text value was refused at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRejection {
    /// Where the value is, e.g. `variables.input.email` or `body.name`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl TextRejection {
    /// The message a client can show.
    pub fn message(&self) -> String {
        format!("{} {}", self.field, self.reason)
    }

    /// As the shared error: `BAD_USER_INPUT` naming the field.
    pub fn into_error(self) -> Error {
        Error::invalid(self.message())
    }
}

/// Checks one text value found at `field`.
pub fn check_text(field: &str, value: &str) -> std::result::Result<(), TextRejection> {
    if let Some(c) = value.chars().find(|c| is_forbidden(*c)) {
        return Err(TextRejection {
            field: field.to_string(),
            reason: format!("contains a control character (U+{:04X})", u32::from(c)),
        });
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(TextRejection {
            field: field.to_string(),
            reason: format!("is longer than {MAX_TEXT_CHARS} characters"),
        });
    }
    Ok(())
}

fn is_forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Checks every string (values and object keys) of a JSON document.
pub fn check_json(
    field: &str,
    value: &serde_json::Value,
) -> std::result::Result<(), TextRejection> {
    match value {
        serde_json::Value::String(s) => check_text(field, s),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_json(&format!("{field}[{i}]"), v)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let at = format!("{field}.{k}");
            check_text(&at, k)?;
            check_json(&at, v)
        }),
        _ => Ok(()),
    }
}

/// Checks every string of a GraphQL value (variables, or argument literals).
pub fn check_graphql<V: GraphqlText>(
    field: &str,
    value: &V,
) -> std::result::Result<(), TextRejection> {
    value.check_at(field)
}

/// GraphQL values whose strings [`check_graphql`] walks.
pub trait GraphqlText {
    /// Checks this value, found at `field`.
    fn check_at(&self, field: &str) -> std::result::Result<(), TextRejection>;
}

impl GraphqlText for async_graphql::Value {
    fn check_at(&self, field: &str) -> std::result::Result<(), TextRejection> {
        use async_graphql::Value as V;
        match self {
            V::String(s) => check_text(field, s),
            V::Enum(name) => check_text(field, name.as_str()),
            V::List(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| v.check_at(&format!("{field}[{i}]"))),
            V::Object(map) => map.iter().try_for_each(|(k, v)| {
                let at = format!("{field}.{}", k.as_str());
                check_text(&at, k.as_str())?;
                v.check_at(&at)
            }),
            _ => Ok(()),
        }
    }
}

impl GraphqlText for async_graphql::parser::types::ExecutableDocument {
    fn check_at(&self, field: &str) -> std::result::Result<(), TextRejection> {
        use async_graphql::parser::types::{Selection, SelectionSet};
        fn walk(set: &SelectionSet, at: &str) -> std::result::Result<(), TextRejection> {
            for item in &set.items {
                match &item.node {
                    Selection::Field(f) => {
                        let name = f.node.name.node.as_str();
                        let directive_args =
                            f.node.directives.iter().flat_map(|d| {
                                d.node.arguments.iter().map(|(arg, value)| (arg, value))
                            });
                        for (arg, value) in f
                            .node
                            .arguments
                            .iter()
                            .map(|(a, v)| (a, v))
                            .chain(directive_args)
                        {
                            let at = format!("{at}.{name}({})", arg.node.as_str());
                            // Variables inside literals are checked with the variables.
                            let Ok(literal) = value.node.clone().into_const_with(|_| {
                                Ok::<_, std::convert::Infallible>(async_graphql::Value::Null)
                            });
                            literal.check_at(&at)?;
                        }
                        walk(&f.node.selection_set.node, &format!("{at}.{name}"))?;
                    }
                    Selection::FragmentSpread(_) => {}
                    Selection::InlineFragment(inline) => {
                        walk(&inline.node.selection_set.node, at)?;
                    }
                }
            }
            Ok(())
        }
        for (_, operation) in self.operations.iter() {
            walk(&operation.node.selection_set.node, field)?;
            for variable in &operation.node.variable_definitions {
                if let Some(default) = &variable.node.default_value {
                    default
                        .node
                        .check_at(&format!("{field}.${}", variable.node.name.node.as_str()))?;
                }
            }
        }
        for (name, fragment) in &self.fragments {
            walk(
                &fragment.node.selection_set.node,
                &format!("{field}.{}", name.as_str()),
            )?;
        }
        Ok(())
    }
}

/// `value` trimmed, if it has 1 to `max` characters; `BAD_USER_INPUT` naming
/// `field` otherwise.
pub fn bounded_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(Error::invalid_field(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
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

/// A UUID given by a client; `what` is the input's path, named in the error.
pub fn parse_id(what: &str, raw: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| Error::invalid_field(what, format!("{what} must be a UUID, got {raw:?}")))
}

/// A postal address from a client, normalised: every service that takes one
/// (a customer's saved addresses, an order's shipping address) parses it here,
/// with the same bounds and the same errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalAddress {
    /// Street and number: 1 to 200 characters.
    pub line1: String,
    /// More: up to 200 characters (blank is none).
    pub line2: Option<String>,
    /// City: 1 to 100 characters.
    pub city: String,
    /// Postal code: 1 to 20 characters.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 code, upper case.
    pub country: String,
}

impl PostalAddress {
    /// Parses and normalises an address; each field is named in its error
    /// (`line1`, `line2`, `city`, `postalCode`, `country`).
    pub fn parse(
        line1: &str,
        line2: Option<&str>,
        city: &str,
        postal_code: &str,
        country: &str,
    ) -> Result<Self> {
        Ok(PostalAddress {
            line1: bounded_text("line1", line1, 200)?,
            line2: optional_text("line2", line2, 200)?,
            city: bounded_text("city", city, 100)?,
            postal_code: bounded_text("postalCode", postal_code, 20)?,
            country: country_code(country)?,
        })
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-cased (`fr` → `FR`).
pub fn country_code(raw: &str) -> Result<String> {
    // Checked before upper-casing: `ß` upper-cases to `SS`, `ı` to `I`.
    let code = raw.trim();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(Error::invalid_field(
            "country",
            "country must be an ISO 3166-1 alpha-2 code such as FR",
        ));
    }
    Ok(code.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_postal_address_is_normalised_and_a_bad_field_is_named() {
        let address = PostalAddress::parse(" 1 Loop St ", Some("  "), "London", "N1", "gb")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address.line1, "1 Loop St");
        assert_eq!(address.line2, None);
        assert_eq!(address.country, "GB");
        let long = "9".repeat(21);
        let refused = PostalAddress::parse("1 Loop St", None, "London", &long, "GB");
        assert!(refused.is_err_and(|e| e.to_string().contains("postalCode")));
        assert!(PostalAddress::parse("1 Loop St", None, "London", "N1", "GBR").is_err());
    }

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
    fn control_characters_are_refused_but_line_breaks_and_tabs_are_text() {
        assert!(check_text("name", "Ada\tLovelace\r\n").is_ok());
        let nul = check_text("email", "a\u{0}b").expect_err("NUL");
        assert_eq!(nul.message(), "email contains a control character (U+0000)");
        assert!(check_text("x", "\u{7f}").is_err());
        assert!(check_text("x", "\u{85}").is_err());
        assert!(check_text("x", &"a".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(check_text("x", "émoji 🎉").is_ok());
    }

    #[test]
    fn json_and_graphql_values_are_walked_with_their_paths() {
        let body = serde_json::json!({"items": [{"name": "ok"}, {"name": "bad\u{1}"}]});
        let err = check_json("body", &body).expect_err("control");
        assert_eq!(err.field, "body.items[1].name");
        let vars =
            async_graphql::Value::from_json(serde_json::json!({"input": {"email": "a\u{0}"}}))
                .expect("value");
        let err = check_graphql("variables", &vars).expect_err("NUL");
        assert_eq!(err.field, "variables.input.email");
        let doc = async_graphql::parser::parse_query(
            r#"mutation { login(email: "a\u0000b", password: "x") { accessToken } }"#,
        )
        .expect("parses");
        let err = check_graphql("query", &doc).expect_err("NUL literal");
        assert_eq!(err.field, "query.login(email)");
    }

    #[test]
    fn countries_are_two_letters() {
        assert_eq!(country_code("gb").ok().as_deref(), Some("GB"));
        assert!(country_code("GBR").is_err());
        assert!(country_code("G1").is_err());
        assert!(country_code("ß").is_err(), "not SS");
        assert!(country_code("ıs").is_err(), "not IS");
    }
}
