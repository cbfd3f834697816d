//! The catalogue's rules, free of I/O: "parse, don't validate" newtypes for every
//! input (a value of one of these types is valid by construction), the catalogue's
//! entities, and the listing vocabulary (filter, sort, cursor).
//!
//! Every parse failure is [`platform::Error::BadUserInput`].

mod category;
mod listing;
mod product;
pub mod reservation;

pub use category::{Category, CategoryDraft, CategoryName, Slug};
pub use listing::{
    ProductCursor, ProductFilter, ProductFilterDraft, ProductListing, ProductSort, SearchText,
    SortValue,
};
pub use product::{
    Attribute, Attributes, Description, ImageUrls, Product, ProductChanges, ProductDraft,
    ProductName, ProductPatch, Sku, StockLevel,
};

use chrono::{DateTime, Utc};

/// The current time truncated to whole milliseconds, the precision every store
/// keeps (MongoDB dates are milliseconds), so keyset cursors compare equal
/// whichever adapter stored the row.
pub fn now() -> DateTime<Utc> {
    truncate_to_millis(Utc::now())
}

/// `t` without its sub-millisecond part.
pub fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

pub use platform::input::parse_id;

/// Counts characters (not bytes) and checks `min..=max`.
fn check_length(what: &str, value: &str, min: usize, max: usize) -> platform::Result<()> {
    let n = value.chars().count();
    if n < min || n > max {
        let rule = if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("{min} to {max} characters")
        };
        return Err(platform::Error::invalid(format!(
            "{what} must be {rule}, got {n}"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_uuids() {
        assert!(parse_id("id", "0190f5b8-1b4e-7c4a-9b8e-3f6f4c2a1d00").is_ok());
        let err = parse_id("productId", "42").expect_err("not a uuid");
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert!(err.to_string().contains("productId"));
    }

    #[test]
    fn now_is_whole_milliseconds() {
        assert_eq!(now().timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
