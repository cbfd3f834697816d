//! Checkout inputs, valid by construction.

use platform::input::{bounded_text, PostalAddress};
use platform::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most lines a cart or an order may have.
pub const MAX_LINES: usize = 50;

/// A quantity of one product in a cart or order: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartQuantity(i32);

impl CartQuantity {
    /// Parses a quantity.
    pub fn parse(q: i64) -> Result<Self> {
        if (1..=100).contains(&q) {
            Ok(CartQuantity(q as i32))
        } else {
            Err(Error::invalid_field(
                "quantity",
                format!("quantity must be between 1 and 100, got {q}"),
            ))
        }
    }

    /// The number.
    pub fn get(&self) -> i32 {
        self.0
    }
}

/// One line of an order request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLineRequest {
    /// The product.
    pub product_id: Uuid,
    /// How many.
    pub quantity: i32,
}

/// Where to ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShippingAddress {
    /// Recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// More.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
}

impl ShippingAddress {
    /// Parses and normalises an address.
    pub fn parse(
        name: &str,
        line1: &str,
        line2: Option<&str>,
        city: &str,
        postal_code: &str,
        country: &str,
    ) -> Result<Self> {
        let address = PostalAddress::parse(line1, line2, city, postal_code, country)?;
        Ok(ShippingAddress {
            name: bounded_text("name", name, 100)?,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            country: address.country,
        })
    }
}

/// A card token from the payment form (`tok_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    /// Parses a token: `tok_` and 1 to 100 letters, digits or `_`.
    pub fn parse(raw: &str) -> Result<Self> {
        let t = raw.trim();
        let ok = t.starts_with("tok_")
            && t.len() <= 104
            && t.len() > 4
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(PaymentToken(t.to_string()))
        } else {
            Err(Error::invalid("paymentToken must look like tok_visa"))
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client's idempotency key: 1 to 100 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key.
    pub fn parse(raw: &str) -> Result<Self> {
        let ok = !raw.is_empty() && raw.len() <= 100 && raw.chars().all(|c| c.is_ascii_graphic());
        if ok {
            Ok(IdempotencyKey(raw.to_string()))
        } else {
            Err(Error::invalid(
                "the idempotency key must be 1 to 100 visible ASCII characters",
            ))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Merges lines of the same product and checks the limits.
pub fn merge_lines(lines: &[(Uuid, i64)]) -> Result<Vec<OrderLineRequest>> {
    let mut merged: Vec<OrderLineRequest> = Vec::new();
    for (product_id, quantity) in lines {
        // Each line is bounded on its own first, so the sum of two bounded
        // quantities cannot overflow; the sum is checked against the bound again.
        let quantity = CartQuantity::parse(*quantity)?.get();
        match merged.iter_mut().find(|l| l.product_id == *product_id) {
            Some(line) => {
                let sum = i64::from(line.quantity)
                    .checked_add(i64::from(quantity))
                    .ok_or_else(|| Error::invalid("quantity out of range"))?;
                line.quantity = CartQuantity::parse(sum)?.get()
            }
            None => merged.push(OrderLineRequest {
                product_id: *product_id,
                quantity,
            }),
        }
    }
    if merged.is_empty() {
        return Err(Error::invalid("an order needs at least one item"));
    }
    if merged.len() > MAX_LINES {
        return Err(Error::invalid(format!(
            "an order has at most {MAX_LINES} different products"
        )));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_between_one_and_a_hundred() {
        assert!(CartQuantity::parse(0).is_err());
        assert!(CartQuantity::parse(101).is_err());
        assert_eq!(CartQuantity::parse(100).map(|q| q.get()).ok(), Some(100));
    }

    #[test]
    fn addresses_are_trimmed_and_countries_checked() {
        let a = ShippingAddress::parse(" Ada ", "1 Loop St", Some(""), "Berlin", "10115", "de")
            .expect("valid");
        assert_eq!(
            (a.name.as_str(), a.country.as_str(), a.line2),
            ("Ada", "DE", None)
        );
        assert!(
            ShippingAddress::parse("Ada", "1 Loop", None, "Berlin", "10115", "Germany").is_err()
        );
        assert!(ShippingAddress::parse("", "1 Loop", None, "Berlin", "10115", "DE").is_err());
    }

    #[test]
    fn tokens_and_keys_are_checked() {
        assert!(PaymentToken::parse("tok_visa").is_ok());
        assert!(PaymentToken::parse("visa").is_err());
        assert!(PaymentToken::parse("tok_'; drop").is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(101)).is_err());
        assert!(IdempotencyKey::parse("order-2026-11-25-1").is_ok());
    }

    #[test]
    fn lines_of_one_product_merge_within_the_limits() {
        let p = Uuid::now_v7();
        let merged = merge_lines(&[(p, 2), (p, 3)]).expect("valid");
        assert_eq!(
            merged,
            vec![OrderLineRequest {
                product_id: p,
                quantity: 5
            }]
        );
        assert!(merge_lines(&[(p, 60), (p, 60)]).is_err());
        assert!(merge_lines(&[]).is_err());
    }

    #[test]
    fn huge_or_negative_quantities_are_refused_without_overflow() {
        let p = Uuid::now_v7();
        for lines in [
            vec![(p, 1), (p, i64::MAX)],
            vec![(p, i64::MAX), (p, 1)],
            vec![(p, 50), (p, i64::MIN)],
            vec![(p, -5), (p, 10)],
        ] {
            assert_eq!(
                merge_lines(&lines).map_err(|e| e.code()).err(),
                Some("BAD_USER_INPUT"),
                "{lines:?}"
            );
        }
    }
}
