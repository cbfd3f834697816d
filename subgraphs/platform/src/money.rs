//! Money: an integer amount of minor units (cents) with an ISO 4217 currency code.
//! The GraphQL `Money` type is `@shareable` and identical in every subgraph.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An ISO 4217 alphabetic currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro, the demo shop's currency.
    pub const EUR: Currency = Currency(*b"EUR");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a currency code, rejecting anything but three upper-case letters.
    pub fn parse(code: &str) -> Result<Self, Error> {
        let bytes = code.as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Currency([*a, *b, *c])),
            _ => Err(Error::invalid(format!(
                "currency must be a three-letter ISO 4217 code such as EUR, got {code:?}"
            ))),
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Always valid: constructed only from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}

/// An amount of money in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (e.g. cents); never fractional.
    pub amount: i64,
    /// The currency of `amount`.
    pub currency: Currency,
}

impl Money {
    /// Money of `amount` minor units in `currency`.
    pub fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Money {
            amount: 0,
            currency,
        }
    }

    /// A price: non-negative amount in a valid currency.
    pub fn price(amount: i64, currency: &str) -> Result<Self, Error> {
        if amount < 0 {
            return Err(Error::invalid("a price cannot be negative"));
        }
        Ok(Money {
            amount,
            currency: Currency::parse(currency)?,
        })
    }

    /// `self × quantity`, failing on overflow.
    pub fn times(self, quantity: i64) -> Result<Self, Error> {
        self.amount
            .checked_mul(quantity)
            .map(|amount| Money {
                amount,
                currency: self.currency,
            })
            .ok_or_else(|| Error::invalid("amount too large"))
    }

    /// `self + other`, failing on a currency mismatch or overflow.
    pub fn plus(self, other: Money) -> Result<Self, Error> {
        if self.currency != other.currency {
            return Err(Error::invalid(format!(
                "cannot add {} to {}",
                other.currency, self.currency
            )));
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money {
                amount,
                currency: self.currency,
            })
            .ok_or_else(|| Error::invalid("amount too large"))
    }
}

/// The GraphQL view of [`Money`], identical (and `@shareable`) in every subgraph.
#[derive(async_graphql::SimpleObject, Debug, Clone)]
#[graphql(name = "Money", shareable)]
pub struct MoneyObject {
    /// Minor units of the currency (e.g. cents).
    pub amount: i64,
    /// ISO 4217 currency code.
    pub currency: String,
}

impl From<Money> for MoneyObject {
    fn from(m: Money) -> Self {
        MoneyObject {
            amount: m.amount,
            currency: m.currency.to_string(),
        }
    }
}

/// Money in REST JSON, as every service's REST API and OpenAPI document show
/// it: minor units and the ISO 4217 code, `{"amount": 1999, "currency": "EUR"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct MoneyJson {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl From<Money> for MoneyJson {
    fn from(m: Money) -> Self {
        MoneyJson {
            amount: m.amount,
            currency: m.currency.to_string(),
        }
    }
}

impl TryFrom<MoneyJson> for Money {
    type Error = Error;

    /// `BAD_USER_INPUT` for a currency that is not an ISO 4217 code.
    fn try_from(m: MoneyJson) -> Result<Money, Error> {
        Ok(Money::new(m.amount, Currency::parse(&m.currency)?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_in_rest_json_is_minor_units_and_a_currency_code() {
        let price = Money::new(
            1999,
            Currency::parse("EUR").unwrap_or_else(|e| panic!("{e}")),
        );
        let json = serde_json::to_value(MoneyJson::from(price)).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"amount": 1999, "currency": "EUR"}));
        let back: MoneyJson = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Money::try_from(back).ok(), Some(price));
        let unknown = MoneyJson {
            amount: 1,
            currency: "euro".into(),
        };
        assert!(Money::try_from(unknown).is_err());
    }

    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("€UR").is_err());
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        let a = Money::new(150, Currency::EUR);
        assert_eq!(a.times(3).map(|m| m.amount).ok(), Some(450));
        assert!(a.plus(Money::new(1, Currency::USD)).is_err());
        assert!(Money::new(i64::MAX, Currency::EUR).times(2).is_err());
        assert!(Money::price(-1, "EUR").is_err());
    }
}
