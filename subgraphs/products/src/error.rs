//! The failures of the catalogue that a caller may act on, typed and written
//! once for both stores, and mapped once, by `From<CatalogError> for
//! platform::Error`, to the edge error (GraphQL `extensions.code`, REST
//! problem+json). Invalid input and unexpected failures are edge errors
//! already.

use platform::Error;
use uuid::Uuid;

/// What went wrong with a product, a category or a stock change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// `NOT_FOUND`: no such product.
    #[error("product {0} not found")]
    ProductNotFound(Uuid),
    /// `NOT_FOUND`: no such category (the one named, when known).
    #[error("{}", .0.map_or("category not found".into(), |id| format!("category {id} not found")))]
    CategoryNotFound(Option<Uuid>),
    /// `CONFLICT`: another product has this SKU (when known).
    #[error("a product with {} already exists", .0.as_deref().map_or("this SKU".into(), |s| format!("SKU {s}")))]
    DuplicateSku(Option<String>),
    /// `CONFLICT`: another category has this slug.
    #[error("a category with slug {0} already exists")]
    DuplicateSlug(String),
    /// `CONFLICT`: the product is archived already.
    #[error("product {0} is already archived")]
    AlreadyArchived(Uuid),
    /// `CONFLICT`: the stock on hand is not what the administrator last read.
    #[error("the stock on hand of product {id} is {on_hand}, not the expected {expected}: read it again")]
    StaleStock {
        /// The product.
        id: Uuid,
        /// Units on hand now.
        on_hand: i32,
        /// Units on hand the administrator read.
        expected: i32,
    },
    /// `CONFLICT`: the stock cannot be set below what is reserved.
    #[error("cannot set the stock of product {id} to {level}: {reserved} units are reserved")]
    BelowReserved {
        /// The product.
        id: Uuid,
        /// The level asked for.
        level: i32,
        /// Units reserved now.
        reserved: i32,
    },
    /// `CONFLICT`: the change would leave fewer units than are reserved.
    #[error("cannot change the stock of product {id} by {delta}: {on_hand} on hand, {reserved} reserved")]
    AdjustBelowReserved {
        /// The product.
        id: Uuid,
        /// The change asked for.
        delta: i32,
        /// Units on hand now.
        on_hand: i32,
        /// Units reserved now.
        reserved: i32,
    },
    /// `CONFLICT`: the change would leave the stock out of its bounds.
    #[error("cannot change the stock of product {id} by {delta}: {on_hand} on hand would become {after}")]
    AdjustOutOfBounds {
        /// The product.
        id: Uuid,
        /// The change asked for.
        delta: i32,
        /// Units on hand now.
        on_hand: i32,
        /// What they would become.
        after: i64,
    },
}

impl CatalogError {
    /// Why archiving product `id` changed nothing, given whether it `exists`:
    /// archived already, or unknown.
    pub fn archive_refused(id: Uuid, exists: bool) -> Self {
        if exists {
            CatalogError::AlreadyArchived(id)
        } else {
            CatalogError::ProductNotFound(id)
        }
    }
}

impl From<CatalogError> for Error {
    fn from(e: CatalogError) -> Self {
        let message = e.to_string();
        match e {
            CatalogError::ProductNotFound(_) | CatalogError::CategoryNotFound(_) => {
                Error::NotFound(message)
            }
            CatalogError::DuplicateSku(_)
            | CatalogError::DuplicateSlug(_)
            | CatalogError::AlreadyArchived(_)
            | CatalogError::StaleStock { .. }
            | CatalogError::BelowReserved { .. }
            | CatalogError::AdjustBelowReserved { .. }
            | CatalogError::AdjustOutOfBounds { .. } => Error::Conflict(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code_and_its_words() {
        let id = Uuid::nil();
        let cases = [
            (
                CatalogError::ProductNotFound(id),
                "NOT_FOUND",
                format!("product {id} not found"),
            ),
            (
                CatalogError::CategoryNotFound(Some(id)),
                "NOT_FOUND",
                format!("category {id} not found"),
            ),
            (
                CatalogError::CategoryNotFound(None),
                "NOT_FOUND",
                "category not found".into(),
            ),
            (
                CatalogError::DuplicateSku(Some("MUG-1".into())),
                "CONFLICT",
                "a product with SKU MUG-1 already exists".into(),
            ),
            (
                CatalogError::DuplicateSku(None),
                "CONFLICT",
                "a product with this SKU already exists".into(),
            ),
            (
                CatalogError::AlreadyArchived(id),
                "CONFLICT",
                format!("product {id} is already archived"),
            ),
        ];
        for (e, code, words) in cases {
            let edge = Error::from(e);
            assert_eq!((edge.code(), edge.to_string()), (code, words));
        }
    }
}
