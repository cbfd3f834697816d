//! The documents the MongoDB adapter stores, and their codecs: products and
//! categories (serde), reservations and outbox entries (BSON built by hand,
//! so the stored shape is spelled out here once), and the helpers every part
//! of the adapter reads them with.
//!
//! Ids are hyphenated lower-case UUID strings, which sort in the same order as
//! the UUIDs themselves; dates are BSON dates (milliseconds).

use chrono::{DateTime, Utc};
use events::consumer::HandlerError;
use events::RawEnvelope;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use platform::{Currency, Error, Money, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::reservation::{PricedLine, ReservationStatus};
use crate::domain::{Attribute, Category, Product};
use crate::stock::Reservation;

/// The collection of products.
pub(super) const PRODUCTS: &str = "products";
/// The collection of categories.
pub(super) const CATEGORIES: &str = "categories";
/// The collection of applied event ids.
pub(super) const INBOX: &str = "inbox";
/// The collection of events waiting for the relay.
pub(super) const OUTBOX: &str = "outbox";
/// The collection of reservations, one per order.
pub(super) const RESERVATIONS: &str = "reservations";

/// MongoDB's duplicate key error code.
pub(super) const DUPLICATE_KEY: i32 = 11000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CategoryDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) name: String,
    pub(super) slug: String,
    pub(super) description: String,
    pub(super) created_at: mongodb::bson::DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ProductDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) sku: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) price_amount: i64,
    pub(super) price_currency: String,
    pub(super) category_id: String,
    pub(super) images: Vec<String>,
    pub(super) attributes: Vec<Attribute>,
    pub(super) archived: bool,
    pub(super) stock_on_hand: i32,
    pub(super) reserved: i32,
    pub(super) created_at: mongodb::bson::DateTime,
    pub(super) updated_at: mongodb::bson::DateTime,
}

/// `t` as a BSON date (milliseconds).
pub(super) fn bson_date(t: DateTime<Utc>) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_millis(t.timestamp_millis())
}

/// A BSON date as a UTC time.
pub(super) fn chrono_date(t: mongodb::bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
}

/// The catalogue's error for a stored document it cannot read.
fn corrupt(what: &str, id: &str) -> Error {
    Error::Internal(anyhow::anyhow!("stored {what} {id} is corrupt"))
}

/// The ledger's error for a stored value it cannot read (permanent).
pub(super) fn corrupt_ledger(what: impl std::fmt::Display) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!("stored {what} is corrupt"))
}

/// The server's error code: of the command, of the (single) write error or of
/// the write concern error.
pub(super) fn server_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        _ => None,
    }
}

/// Whether a write failed on a unique index (for `insert_many`: any of its
/// writes).
pub(super) fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => server_code(e) == Some(DUPLICATE_KEY),
    }
}

impl From<&Category> for CategoryDoc {
    fn from(c: &Category) -> Self {
        CategoryDoc {
            id: c.id.to_string(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            description: c.description.clone(),
            created_at: bson_date(c.created_at),
        }
    }
}

impl TryFrom<CategoryDoc> for Category {
    type Error = Error;
    fn try_from(d: CategoryDoc) -> Result<Category> {
        Ok(Category {
            id: Uuid::parse_str(&d.id).map_err(|_| corrupt("category", &d.id))?,
            name: d.name,
            slug: d.slug,
            description: d.description,
            created_at: chrono_date(d.created_at),
        })
    }
}

impl From<&Product> for ProductDoc {
    fn from(p: &Product) -> Self {
        ProductDoc {
            id: p.id.to_string(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price_amount: p.price.amount,
            price_currency: p.price.currency.to_string(),
            category_id: p.category_id.to_string(),
            images: p.images.clone(),
            attributes: p.attributes.clone(),
            archived: p.archived,
            stock_on_hand: p.stock_on_hand,
            reserved: p.reserved,
            created_at: bson_date(p.created_at),
            updated_at: bson_date(p.updated_at),
        }
    }
}

impl TryFrom<ProductDoc> for Product {
    type Error = Error;
    fn try_from(d: ProductDoc) -> Result<Product> {
        Ok(Product {
            id: Uuid::parse_str(&d.id).map_err(|_| corrupt("product", &d.id))?,
            price: Money::new(
                d.price_amount,
                Currency::parse(&d.price_currency).map_err(|_| corrupt("product", &d.id))?,
            ),
            category_id: Uuid::parse_str(&d.category_id).map_err(|_| corrupt("product", &d.id))?,
            sku: d.sku,
            name: d.name,
            description: d.description,
            images: d.images,
            attributes: d.attributes,
            archived: d.archived,
            stock_on_hand: d.stock_on_hand,
            reserved: d.reserved,
            created_at: chrono_date(d.created_at),
            updated_at: chrono_date(d.updated_at),
        })
    }
}

/// A whole number stored as a 32- or 64-bit integer.
pub(super) fn integer(d: &Document, key: &str) -> Option<i64> {
    match d.get(key)? {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        _ => None,
    }
}

/// The price of a product document.
pub(super) fn parse_price(d: &Document, product_id: Uuid) -> Result<Money, HandlerError> {
    let amount = integer(d, "price_amount");
    let currency = d
        .get_str("price_currency")
        .ok()
        .and_then(|c| Currency::parse(c).ok());
    match (amount, currency) {
        (Some(amount), Some(currency)) => Ok(Money::new(amount, currency)),
        _ => Err(corrupt_ledger(format_args!(
            "price of product {product_id}"
        ))),
    }
}

/// What a product document has available (0 when archived).
pub(super) fn available(d: &Document) -> i64 {
    if d.get_bool("archived").unwrap_or(false) {
        return 0;
    }
    integer(d, "stock_on_hand").unwrap_or(0) - integer(d, "reserved").unwrap_or(0)
}

/// The document of a reservation (`reservations` collection).
pub(super) fn reservation_document(
    order_id: Uuid,
    status: ReservationStatus,
    lines: &[PricedLine],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Document {
    let lines: Vec<Document> = lines
        .iter()
        .map(|l| {
            doc! {
                "product_id": l.product_id.to_string(),
                "quantity": l.quantity,
                "unit_price": {
                    "amount": l.unit_price.amount,
                    "currency": l.unit_price.currency.as_str(),
                },
            }
        })
        .collect();
    doc! {
        "_id": order_id.to_string(),
        "status": status.as_str(),
        "lines": lines,
        "expires_at": bson_date(expires_at),
        "created_at": bson_date(now),
        "updated_at": bson_date(now),
    }
}

/// The reservation a stored document holds.
pub(super) fn parse_reservation(d: &Document) -> Result<Reservation, HandlerError> {
    let id = d.get("_id").cloned().unwrap_or(Bson::Null);
    let status = d
        .get_str("status")
        .ok()
        .and_then(ReservationStatus::parse)
        .ok_or_else(|| corrupt_ledger(format_args!("status of reservation {id}")))?;
    let stored = d
        .get_array("lines")
        .map_err(|_| corrupt_ledger(format_args!("lines of reservation {id}")))?;
    let mut lines = Vec::with_capacity(stored.len());
    for line in stored {
        let parsed = line.as_document().and_then(|l| {
            let product_id = Uuid::parse_str(l.get_str("product_id").ok()?).ok()?;
            let quantity = integer(l, "quantity")?;
            let price = l.get_document("unit_price").ok()?;
            let amount = integer(price, "amount")?;
            let currency = Currency::parse(price.get_str("currency").ok()?).ok()?;
            Some(PricedLine {
                product_id,
                quantity,
                unit_price: Money::new(amount, currency),
            })
        });
        lines.push(parsed.ok_or_else(|| corrupt_ledger(format_args!("line of reservation {id}")))?);
    }
    Ok(Reservation { status, lines })
}

/// The outbox document of an event waiting to be published.
pub(super) fn outbox_document(
    envelope: &RawEnvelope,
    now: DateTime<Utc>,
) -> anyhow::Result<Document> {
    let json = serde_json::to_value(envelope)?;
    let Bson::Document(stored) = Bson::try_from(json)? else {
        anyhow::bail!("an envelope is not a JSON object");
    };
    Ok(doc! {
        "_id": envelope.id.to_string(),
        "routing_key": envelope.kind.as_str(),
        "envelope": stored,
        "created_at": bson_date(now),
        "published_at": Bson::Null,
        "lease_until": Bson::Null,
        "attempts": 0_i32,
        "last_error": Bson::Null,
    })
}

/// The envelope stored in an outbox document.
pub(super) fn stored_envelope(d: &Document) -> anyhow::Result<RawEnvelope> {
    let stored = d.get_document("envelope")?;
    let json = Bson::Document(stored.clone()).into_relaxed_extjson();
    Ok(serde_json::from_value(json)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use events::catalogue::StockReserved;
    use events::{Envelope, EventMeta};

    use super::*;
    use crate::config::NAME;
    use crate::stock::millis;

    #[test]
    fn products_and_categories_round_trip_through_their_documents() {
        let category = Category {
            id: Uuid::now_v7(),
            name: "Lamps".into(),
            slug: "lamps".into(),
            description: String::new(),
            created_at: crate::domain::now(),
        };
        let back = Category::try_from(CategoryDoc::from(&category)).unwrap();
        assert_eq!(back, category);
        let (_, products) = crate::seed::demo_catalogue();
        let product = products[0].clone();
        let back = Product::try_from(ProductDoc::from(&product)).unwrap();
        assert_eq!(back, product);
    }

    #[test]
    fn uuid_strings_sort_like_uuids() {
        let mut ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        let mut strings: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        ids.sort();
        strings.sort();
        assert_eq!(strings, ids.iter().map(Uuid::to_string).collect::<Vec<_>>());
        let v7: Vec<String> = (0..200).map(|_| Uuid::now_v7().to_string()).collect();
        let mut sorted = v7.clone();
        sorted.sort();
        assert_eq!(sorted, v7, "outbox ids sort in creation order");
    }

    #[test]
    fn outbox_documents_keep_the_envelope_unchanged() {
        let env = Envelope::new(
            NAME,
            StockReserved {
                order_id: Uuid::now_v7(),
                lines: vec![events::catalogue::ReservedLine {
                    product_id: Uuid::now_v7(),
                    quantity: 3,
                    unit_price: Money::new(4_999_000_000_000, Currency::EUR),
                }],
                expires_at: millis(Utc::now()),
            },
            EventMeta {
                correlation_id: Some("c-1".into()),
                causation_id: Some(Uuid::now_v7()),
                traceparent: None,
            },
        );
        let raw = env.clone().into_raw().unwrap();
        let d = outbox_document(&raw, Utc::now()).unwrap();
        assert_eq!(d.get_str("_id").unwrap(), env.id.to_string());
        assert_eq!(d.get_str("routing_key").unwrap(), "stock.reserved");
        assert_eq!(d.get("published_at"), Some(&Bson::Null));
        assert_eq!(d.get("lease_until"), Some(&Bson::Null));
        let back = stored_envelope(&d).unwrap();
        assert_eq!(back, raw);
        assert_eq!(back.decode::<StockReserved>().unwrap(), env);
    }

    #[test]
    fn reservations_round_trip_through_their_documents() {
        let lines = vec![
            PricedLine {
                product_id: Uuid::now_v7(),
                quantity: 2,
                unit_price: Money::new(1299, Currency::EUR),
            },
            PricedLine {
                product_id: Uuid::now_v7(),
                quantity: 1,
                unit_price: Money::new(899, Currency::USD),
            },
        ];
        let order = Uuid::now_v7();
        let expires_at = millis(Utc::now());
        let d = reservation_document(
            order,
            ReservationStatus::Held,
            &lines,
            expires_at,
            Utc::now(),
        );
        assert_eq!(d.get_str("_id").unwrap(), order.to_string());
        assert_eq!(
            parse_reservation(&d).unwrap(),
            Reservation {
                status: ReservationStatus::Held,
                lines,
            }
        );
        let mut no_expiry = d.clone();
        no_expiry.remove("expires_at");
        assert!(
            parse_reservation(&no_expiry).is_ok(),
            "the rules never read it"
        );
        let mut bad = d.clone();
        bad.insert("status", "LOST");
        assert!(matches!(
            parse_reservation(&bad),
            Err(HandlerError::Permanent(_))
        ));
    }

    #[test]
    fn archived_products_have_nothing_available() {
        let on_sale = doc! { "archived": false, "stock_on_hand": 5, "reserved": 4 };
        let archived = doc! { "archived": true, "stock_on_hand": 9, "reserved": 0_i64 };
        assert_eq!(available(&on_sale), 1);
        assert_eq!(available(&archived), 0);
    }
}
