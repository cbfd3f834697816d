//! Browsing the catalogue: the filter, the sort orders and the keyset cursor
//! `(sort key, id)` every store pages with.

use chrono::{DateTime, Utc};
use platform::pagination::PageRequest;
use platform::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{check_length, parse_id, Product};

/// The orders a listing can be sorted in; every order breaks ties by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProductSort {
    /// Newest first (`created_at` descending), the default.
    #[default]
    Newest,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By name, A to Z (byte order, as every store compares it).
    NameAsc,
}

impl ProductSort {
    /// Parses a REST `sort` value (`newest`, `price_asc`, `price_desc`, `name_asc`,
    /// any case).
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "newest" => Ok(ProductSort::Newest),
            "price_asc" => Ok(ProductSort::PriceAsc),
            "price_desc" => Ok(ProductSort::PriceDesc),
            "name_asc" => Ok(ProductSort::NameAsc),
            _ => Err(Error::invalid(format!(
                "sort must be one of newest, price_asc, price_desc, name_asc; got {raw:?}"
            ))),
        }
    }

    /// The cursor that points just after `product` in this order.
    pub fn cursor_of(self, product: &Product) -> ProductCursor {
        let value = match self {
            ProductSort::Newest => SortValue::Time(product.created_at),
            ProductSort::PriceAsc | ProductSort::PriceDesc => {
                SortValue::Amount(product.price.amount)
            }
            ProductSort::NameAsc => SortValue::Text(product.name.clone()),
        };
        ProductCursor {
            sort: self,
            value,
            id: product.id,
        }
    }

    /// Whether the order is descending (then "after" means smaller keys).
    pub fn is_descending(self) -> bool {
        matches!(self, ProductSort::Newest | ProductSort::PriceDesc)
    }
}

/// The sort key of the last item of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SortValue {
    /// `created_at`.
    Time(DateTime<Utc>),
    /// Price in minor units.
    Amount(i64),
    /// Name.
    Text(String),
}

/// A keyset position: the sort it belongs to, the sort key and the id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCursor {
    /// The order the cursor was issued for.
    pub sort: ProductSort,
    /// The sort key of the last item seen.
    pub value: SortValue,
    /// The id of the last item seen.
    pub id: Uuid,
}

/// Full-text search words: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    /// Parses search words; blank input means "no search".
    pub fn parse(raw: &str) -> Result<Option<Self>> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        check_length("a search", text, 1, 200)?;
        Ok(Some(SearchText(text.to_string())))
    }

    /// The words.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A filter as a client sends it, not yet validated.
#[derive(Debug, Clone, Default)]
pub struct ProductFilterDraft {
    /// Only this category.
    pub category_id: Option<String>,
    /// Full-text search words.
    pub search: Option<String>,
    /// Lowest price in minor units (inclusive).
    pub min_price: Option<i64>,
    /// Highest price in minor units (inclusive).
    pub max_price: Option<i64>,
    /// `true`: only products available to buy; `false`: only sold-out ones.
    pub in_stock: Option<bool>,
}

/// A validated filter. Prices compare minor units (the shop sells in one currency).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductFilter {
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Full-text search words.
    pub search: Option<SearchText>,
    /// Lowest price (inclusive).
    pub min_price: Option<i64>,
    /// Highest price (inclusive).
    pub max_price: Option<i64>,
    /// Available (`true`) or sold out (`false`).
    pub in_stock: Option<bool>,
}

impl ProductFilter {
    /// Validates a filter draft.
    pub fn parse(draft: ProductFilterDraft) -> Result<Self> {
        for (what, bound) in [("minPrice", draft.min_price), ("maxPrice", draft.max_price)] {
            if bound.is_some_and(|b| b < 0) {
                return Err(Error::invalid(format!("{what} cannot be negative")));
            }
        }
        if let (Some(min), Some(max)) = (draft.min_price, draft.max_price) {
            if min > max {
                return Err(Error::invalid(format!(
                    "minPrice ({min}) is greater than maxPrice ({max})"
                )));
            }
        }
        Ok(ProductFilter {
            category_id: draft
                .category_id
                .as_deref()
                .map(|id| parse_id("categoryId", id))
                .transpose()?,
            search: match draft.search.as_deref() {
                Some(s) => SearchText::parse(s)?,
                None => None,
            },
            min_price: draft.min_price,
            max_price: draft.max_price,
            in_stock: draft.in_stock,
        })
    }

    /// Whether `product` passes the filter (except search, which is the store's).
    /// Archived products never pass.
    pub fn admits(&self, product: &Product) -> bool {
        !product.archived
            && self.category_id.is_none_or(|c| product.category_id == c)
            && self.min_price.is_none_or(|m| product.price.amount >= m)
            && self.max_price.is_none_or(|m| product.price.amount <= m)
            && self
                .in_stock
                .is_none_or(|want| (product.available_quantity() > 0) == want)
    }
}

/// One page request for a store: `limit` (= first + 1) rows after `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductListing {
    /// Which products.
    pub filter: ProductFilter,
    /// In which order.
    pub sort: ProductSort,
    /// After which position.
    pub after: Option<ProductCursor>,
    /// How many rows to fetch (one more than the page, to see if there is a next).
    pub limit: i64,
}

impl ProductListing {
    /// Combines a filter, a sort and a page; a cursor issued for another sort is
    /// `BAD_USER_INPUT`.
    pub fn new(
        filter: ProductFilter,
        sort: ProductSort,
        page: &PageRequest<ProductCursor>,
    ) -> Result<Self> {
        if let Some(cursor) = &page.after {
            let value_fits = matches!(
                (sort, &cursor.value),
                (ProductSort::Newest, SortValue::Time(_))
                    | (
                        ProductSort::PriceAsc | ProductSort::PriceDesc,
                        SortValue::Amount(_)
                    )
                    | (ProductSort::NameAsc, SortValue::Text(_))
            );
            if cursor.sort != sort || !value_fits {
                return Err(Error::invalid(
                    "`after` belongs to a listing with another sort order",
                ));
            }
        }
        Ok(ProductListing {
            filter,
            sort,
            after: page.after.clone(),
            limit: page.fetch_limit(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn price_bounds_must_be_ordered_and_non_negative() {
        let bad = [(Some(-1), None), (None, Some(-5)), (Some(10), Some(5))];
        for (min_price, max_price) in bad {
            let err = ProductFilter::parse(ProductFilterDraft {
                min_price,
                max_price,
                ..Default::default()
            })
            .expect_err("invalid");
            assert_eq!(err.code(), "BAD_USER_INPUT");
        }
    }

    #[test]
    fn blank_search_means_no_search() {
        let f = ProductFilter::parse(ProductFilterDraft {
            search: Some("   ".into()),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(f.search, None);
    }

    #[test]
    fn a_cursor_only_fits_its_own_sort() {
        let cursor = ProductCursor {
            sort: ProductSort::PriceAsc,
            value: SortValue::Amount(100),
            id: Uuid::now_v7(),
        };
        let page = PageRequest {
            first: 10,
            after: Some(cursor),
        };
        assert!(
            ProductListing::new(ProductFilter::default(), ProductSort::PriceAsc, &page).is_ok()
        );
        assert!(
            ProductListing::new(ProductFilter::default(), ProductSort::PriceDesc, &page).is_err()
        );
    }

    #[test]
    fn sorts_parse_from_rest_names() {
        assert_eq!(
            ProductSort::parse("PRICE_DESC").ok(),
            Some(ProductSort::PriceDesc)
        );
        assert!(ProductSort::parse("cheapest").is_err());
    }
}
