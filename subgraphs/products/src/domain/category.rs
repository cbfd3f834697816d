//! Categories: a name, a unique URL slug and a description.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{check_length, Description};
use platform::{Error, Result};

/// A category's display name: 1 to 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryName(String);

impl CategoryName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim();
        check_length("a category name", name, 1, 100)?;
        Ok(CategoryName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A URL slug: lower-case letters and digits in groups joined by single hyphens
/// (`^[a-z0-9]+(-[a-z0-9]+)*$`), at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug.
    pub fn parse(raw: &str) -> Result<Self> {
        let groups_ok = raw.split('-').all(|group| {
            !group.is_empty()
                && group
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if raw.is_empty() || raw.len() > 100 || !groups_ok {
            return Err(Error::invalid(format!(
                "a slug must be lower-case letters and digits joined by single hyphens \
                 (e.g. `desk-lamps`), at most 100 characters; got {raw:?}"
            )));
        }
        Ok(Slug(raw.to_string()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// UUID v7.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Unique URL slug.
    pub slug: String,
    /// Free text, possibly empty.
    pub description: String,
    /// When it was created (whole milliseconds).
    pub created_at: DateTime<Utc>,
}

/// A category as a client sends it, not yet validated.
#[derive(Debug, Clone, Default)]
pub struct CategoryDraft {
    /// Display name.
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// Optional description.
    pub description: Option<String>,
}

impl Category {
    /// Validates a draft into a new category with a fresh id.
    pub fn from_draft(draft: CategoryDraft, now: DateTime<Utc>) -> Result<Category> {
        let name = CategoryName::parse(&draft.name)?;
        let slug = Slug::parse(&draft.slug)?;
        let description = Description::parse(draft.description.as_deref().unwrap_or(""))?;
        check_length("a category description", description.as_str(), 0, 1000)?;
        Ok(Category {
            id: Uuid::now_v7(),
            name: name.as_str().to_string(),
            slug: slug.as_str().to_string(),
            description: description.as_str().to_string(),
            created_at: now,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words_joined_by_hyphens() {
        for ok in ["lamps", "desk-lamps", "a1-b2-c3", "2024"] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Lamps",
            "desk--lamps",
            "-lamps",
            "lamps-",
            "desk lamps",
            "läm",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_draft_becomes_a_category() {
        let c = Category::from_draft(
            CategoryDraft {
                name: "  Lamps ".into(),
                slug: "lamps".into(),
                description: None,
            },
            super::super::now(),
        )
        .expect("valid");
        assert_eq!(c.name, "Lamps");
        assert_eq!(c.description, "");
        assert!(CategoryName::parse("   ").is_err());
    }
}
