//! The rules of accounts, free of I/O: "parse, don't validate" newtypes for
//! every input, and the account entities.

pub mod throttle;

use chrono::{DateTime, Utc};
use platform::auth::Role;
use platform::{Error, Result};
use uuid::Uuid;

/// A syntactically valid email address, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address (RFC 5322 addr-spec, at most 254 characters).
    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.len() > 254
            || !email_address::EmailAddress::is_valid(trimmed)
            || !trimmed.contains('.')
        {
            return Err(Error::invalid(format!(
                "{raw:?} is not a valid email address"
            )));
        }
        Ok(Email(trimmed.to_lowercase()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy: 10 to 128 characters with at least one
/// letter and one digit.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks a new password against the policy.
    pub fn parse(raw: &str) -> Result<Self> {
        let len = raw.chars().count();
        if !(10..=128).contains(&len) {
            return Err(Error::invalid(
                "a password must be 10 to 128 characters long",
            ));
        }
        if !raw.chars().any(char::is_alphabetic) || !raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(Error::invalid(
                "a password must contain at least one letter and one digit",
            ));
        }
        Ok(Password(raw.to_string()))
    }

    /// The password.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > 100
            || trimmed.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "a name must be 1 to 100 printable characters",
            ));
        }
        Ok(Name(trimmed.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A postal address to add (parsed as every service parses one).
pub type AddressDraft = platform::input::PostalAddress;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// UUID v7.
    pub id: Uuid,
    /// Lower-cased email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Signed up (UTC).
    pub created_at: DateTime<Utc>,
}

/// A stored address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Street and number.
    pub line1: String,
    /// More.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// Country.
    pub country: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ")
                .map(|e| e.0)
                .ok()
                .as_deref(),
            Some("ada@example.com")
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@localhost",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_follow_the_policy() {
        assert!(Password::parse("short1").is_err());
        assert!(Password::parse("onlyletterslong").is_err());
        assert!(Password::parse("1234567890").is_err());
        assert!(Password::parse(&"a1".repeat(65)).is_err());
        assert!(Password::parse("correct horse 1").is_ok());
    }

    #[test]
    fn names_and_addresses_are_trimmed_and_bounded() {
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            Name::parse(" Ada ").map(|n| n.0).ok().as_deref(),
            Some("Ada")
        );
        assert!(AddressDraft::parse("1 Rue", None, "Paris", "75001", "France").is_err());
        assert_eq!(
            AddressDraft::parse("1 Rue", Some(" "), "Paris", "75001", "fr")
                .map(|a| a.country)
                .ok()
                .as_deref(),
            Some("FR")
        );
    }
}
