//! Products: the validated pieces (SKU, name, description, images, attributes,
//! stock level) and the product itself with its available quantity.

use chrono::{DateTime, Utc};
use platform::{Error, Money, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{check_length, parse_id};

/// A stock keeping unit: `^[A-Z0-9][A-Z0-9-]{2,31}$` (e.g. `LAMP-0001`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    /// Parses a SKU.
    pub fn parse(raw: &str) -> Result<Self> {
        let bytes = raw.as_bytes();
        let allowed = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
        let ok = (3..=32).contains(&bytes.len())
            && allowed(&bytes[0])
            && bytes[1..].iter().all(|b| allowed(b) || *b == b'-');
        if !ok {
            return Err(Error::invalid(format!(
                "a SKU must be 3 to 32 upper-case letters, digits or hyphens, starting with a \
                 letter or digit (e.g. `LAMP-0001`); got {raw:?}"
            )));
        }
        Ok(Sku(raw.to_string()))
    }

    /// The SKU.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product name: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim();
        check_length("a product name", name, 1, 200)?;
        Ok(ProductName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: at most 5000 characters (trimmed; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Parses a description.
    pub fn parse(raw: &str) -> Result<Self> {
        let text = raw.trim();
        check_length("a description", text, 0, 5000)?;
        Ok(Description(text.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 10 absolute `http` or `https` image URLs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageUrls(Vec<String>);

impl ImageUrls {
    /// The most images a product may have.
    pub const MAX: usize = 10;

    /// Parses a list of URLs.
    pub fn parse(raw: Vec<String>) -> Result<Self> {
        if raw.len() > Self::MAX {
            return Err(Error::invalid(format!(
                "a product has at most {} images, got {}",
                Self::MAX,
                raw.len()
            )));
        }
        for url in &raw {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            let ok = url.len() <= 2048
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
                && host.is_some_and(|h| !h.is_empty() && !h.starts_with(':'));
            if !ok {
                return Err(Error::invalid(format!(
                    "an image must be an absolute http(s) URL of at most 2048 characters, got {url:?}"
                )));
            }
        }
        Ok(ImageUrls(raw))
    }

    /// The URLs.
    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

/// A named property of a product, e.g. `colour: green`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// The property (1 to 100 characters).
    pub name: String,
    /// Its value (1 to 500 characters).
    pub value: String,
}

/// Up to 50 attributes with unique names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes(Vec<Attribute>);

impl Attributes {
    /// The most attributes a product may have.
    pub const MAX: usize = 50;

    /// Parses a list of attributes (names and values are trimmed).
    pub fn parse(raw: Vec<Attribute>) -> Result<Self> {
        if raw.len() > Self::MAX {
            return Err(Error::invalid(format!(
                "a product has at most {} attributes, got {}",
                Self::MAX,
                raw.len()
            )));
        }
        let mut parsed: Vec<Attribute> = Vec::with_capacity(raw.len());
        for a in raw {
            let name = a.name.trim().to_string();
            let value = a.value.trim().to_string();
            check_length("an attribute name", &name, 1, 100)?;
            check_length("an attribute value", &value, 1, 500)?;
            if parsed.iter().any(|p| p.name == name) {
                return Err(Error::invalid(format!(
                    "the attribute {name:?} is given twice"
                )));
            }
            parsed.push(Attribute { name, value });
        }
        Ok(Attributes(parsed))
    }

    /// The attributes.
    pub fn into_inner(self) -> Vec<Attribute> {
        self.0
    }
}

/// A stock level: 0 to 1,000,000,000 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevel(i32);

impl StockLevel {
    /// Parses a quantity.
    pub fn parse(raw: i64) -> Result<Self> {
        if !(0..=1_000_000_000).contains(&raw) {
            return Err(Error::invalid(format!(
                "a stock quantity must be between 0 and 1000000000, got {raw}"
            )));
        }
        Ok(StockLevel(raw as i32))
    }

    /// The quantity.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// A product as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// UUID v7.
    pub id: Uuid,
    /// Unique SKU.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Free text, possibly empty.
    pub description: String,
    /// Unit price (non-negative).
    pub price: Money,
    /// The category it belongs to.
    pub category_id: Uuid,
    /// Image URLs.
    pub images: Vec<String>,
    /// Named properties.
    pub attributes: Vec<Attribute>,
    /// Archived products are not listed or sold but still resolve by id.
    pub archived: bool,
    /// Units in the warehouse.
    pub stock_on_hand: i32,
    /// Units promised to orders not yet paid (`<= stock_on_hand`).
    pub reserved: i32,
    /// When it was created (whole milliseconds).
    pub created_at: DateTime<Utc>,
    /// When it last changed (whole milliseconds).
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Units that can still be sold: on hand minus reserved, never negative.
    pub fn available_quantity(&self) -> i32 {
        (self.stock_on_hand - self.reserved).max(0)
    }

    /// Validates a draft into a new product with a fresh id.
    pub fn from_draft(draft: ProductDraft, now: DateTime<Utc>) -> Result<Product> {
        Ok(Product {
            id: Uuid::now_v7(),
            sku: Sku::parse(&draft.sku)?.as_str().to_string(),
            name: ProductName::parse(&draft.name)?.as_str().to_string(),
            description: Description::parse(draft.description.as_deref().unwrap_or(""))?
                .as_str()
                .to_string(),
            price: Money::price(draft.price_amount, &draft.price_currency)?,
            category_id: parse_id("categoryId", &draft.category_id)?,
            images: ImageUrls::parse(draft.images)?.into_inner(),
            attributes: Attributes::parse(draft.attributes)?.into_inner(),
            archived: false,
            stock_on_hand: StockLevel::parse(draft.stock_on_hand.unwrap_or(0))?.get(),
            reserved: 0,
            created_at: now,
            updated_at: now,
        })
    }
}

/// A new product as a client sends it, not yet validated.
#[derive(Debug, Clone, Default)]
pub struct ProductDraft {
    /// SKU.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Price in minor units.
    pub price_amount: i64,
    /// ISO 4217 currency code.
    pub price_currency: String,
    /// The category's id.
    pub category_id: String,
    /// Image URLs.
    pub images: Vec<String>,
    /// Named properties.
    pub attributes: Vec<Attribute>,
    /// Initial stock (default 0).
    pub stock_on_hand: Option<i64>,
}

/// A partial update as a client sends it: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    /// New SKU.
    pub sku: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price: minor units and currency.
    pub price: Option<(i64, String)>,
    /// New category id.
    pub category_id: Option<String>,
    /// New images (replacing all).
    pub images: Option<Vec<String>>,
    /// New attributes (replacing all).
    pub attributes: Option<Vec<Attribute>>,
}

/// A validated partial update with at least one change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductChanges {
    /// New SKU.
    pub sku: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price.
    pub price: Option<Money>,
    /// New category.
    pub category_id: Option<Uuid>,
    /// New images.
    pub images: Option<Vec<String>>,
    /// New attributes.
    pub attributes: Option<Vec<Attribute>>,
}

impl ProductChanges {
    /// Validates a patch; an empty patch is `BAD_USER_INPUT`.
    pub fn parse(patch: ProductPatch) -> Result<Self> {
        let changes = ProductChanges {
            sku: patch
                .sku
                .map(|s| Sku::parse(&s).map(|s| s.as_str().to_string()))
                .transpose()?,
            name: patch
                .name
                .map(|s| ProductName::parse(&s).map(|n| n.as_str().to_string()))
                .transpose()?,
            description: patch
                .description
                .map(|s| Description::parse(&s).map(|d| d.as_str().to_string()))
                .transpose()?,
            price: patch
                .price
                .map(|(amount, currency)| Money::price(amount, &currency))
                .transpose()?,
            category_id: patch
                .category_id
                .map(|s| parse_id("categoryId", &s))
                .transpose()?,
            images: patch
                .images
                .map(|i| ImageUrls::parse(i).map(ImageUrls::into_inner))
                .transpose()?,
            attributes: patch
                .attributes
                .map(|a| Attributes::parse(a).map(Attributes::into_inner))
                .transpose()?,
        };
        if changes == ProductChanges::default() {
            return Err(Error::invalid("give at least one field to change"));
        }
        Ok(changes)
    }

    /// Applies the changes to a product (used by stores that update in memory).
    pub fn apply_to(&self, product: &mut Product, now: DateTime<Utc>) {
        if let Some(v) = &self.sku {
            product.sku = v.clone();
        }
        if let Some(v) = &self.name {
            product.name = v.clone();
        }
        if let Some(v) = &self.description {
            product.description = v.clone();
        }
        if let Some(v) = self.price {
            product.price = v;
        }
        if let Some(v) = self.category_id {
            product.category_id = v;
        }
        if let Some(v) = &self.images {
            product.images = v.clone();
        }
        if let Some(v) = &self.attributes {
            product.attributes = v.clone();
        }
        product.updated_at = now;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn draft() -> ProductDraft {
        ProductDraft {
            sku: "LAMP-0001".into(),
            name: "Nordic Oak Lamp".into(),
            description: Some("A lamp.".into()),
            price_amount: 1999,
            price_currency: "EUR".into(),
            category_id: Uuid::now_v7().to_string(),
            images: vec!["https://picsum.photos/seed/LAMP-0001/400".into()],
            attributes: vec![Attribute {
                name: "colour".into(),
                value: "oak".into(),
            }],
            stock_on_hand: Some(5),
        }
    }

    #[test]
    fn skus_follow_the_pattern() {
        for ok in [
            "LAMP-0001",
            "ABC",
            "A1-",
            "0-0",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        ] {
            assert!(Sku::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "AB",
            "-ABC",
            "lamp-0001",
            "LAMP_0001",
            "LAMP 0001",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
        ] {
            assert!(Sku::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_valid_draft_becomes_a_product_with_everything_available() {
        let p = Product::from_draft(draft(), super::super::now()).expect("valid");
        assert_eq!(p.available_quantity(), 5);
        assert!(!p.archived);
    }

    #[test]
    fn bad_drafts_are_bad_user_input() {
        type Change = Box<dyn Fn(&mut ProductDraft)>;
        let cases: Vec<Change> = vec![
            Box::new(|d| d.sku = "bad".into()),
            Box::new(|d| d.name = " ".into()),
            Box::new(|d| d.name = "x".repeat(201)),
            Box::new(|d| d.description = Some("x".repeat(5001))),
            Box::new(|d| d.price_amount = -1),
            Box::new(|d| d.price_currency = "euro".into()),
            Box::new(|d| d.category_id = "lamps".into()),
            Box::new(|d| d.images = vec!["ftp://example.com/a.png".into()]),
            Box::new(|d| d.images = vec!["https://".into()]),
            Box::new(|d| d.images = vec!["https://example.com/a.png".into(); 11]),
            Box::new(|d| {
                d.attributes = vec![
                    Attribute {
                        name: "a".into(),
                        value: "1".into()
                    };
                    2
                ]
            }),
            Box::new(|d| d.stock_on_hand = Some(-1)),
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut d = draft();
            change(&mut d);
            let err = Product::from_draft(d, super::super::now()).expect_err("invalid");
            assert_eq!(err.code(), "BAD_USER_INPUT", "case {i}");
        }
    }

    #[test]
    fn available_quantity_is_on_hand_minus_reserved() {
        let mut p = Product::from_draft(draft(), super::super::now()).expect("valid");
        p.stock_on_hand = 10;
        p.reserved = 3;
        assert_eq!(p.available_quantity(), 7);
    }

    #[test]
    fn an_empty_patch_is_refused_and_a_partial_one_applies() {
        assert!(ProductChanges::parse(ProductPatch::default()).is_err());
        let changes = ProductChanges::parse(ProductPatch {
            name: Some("Renamed".into()),
            ..Default::default()
        })
        .expect("valid");
        let mut p = Product::from_draft(draft(), super::super::now()).expect("valid");
        changes.apply_to(&mut p, super::super::now());
        assert_eq!(p.name, "Renamed");
        assert_eq!(p.sku, "LAMP-0001");
    }
}
