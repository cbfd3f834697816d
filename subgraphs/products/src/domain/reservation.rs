//! Stock reservations: the rules of the order saga on the products side.
//!
//! An order's lines are reserved all together or not at all; a reservation is
//! held until the order is paid (then the stock is sold), cancelled or expired
//! (then it is released), and a paid order that is cancelled is restocked.

use std::collections::BTreeMap;

use events::catalogue::{OrderLine, ReservedLine};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    /// Stock is set aside for the order.
    Held,
    /// The order was paid: the stock is sold.
    Committed,
    /// The reservation lapsed or the order was cancelled before payment.
    Released,
    /// The order was cancelled after payment: the stock came back.
    Restocked,
    /// The order was cancelled before anything was reserved.
    Cancelled,
}

impl ReservationStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReservationStatus::Held => "HELD",
            ReservationStatus::Committed => "COMMITTED",
            ReservationStatus::Released => "RELEASED",
            ReservationStatus::Restocked => "RESTOCKED",
            ReservationStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "HELD" => ReservationStatus::Held,
            "COMMITTED" => ReservationStatus::Committed,
            "RELEASED" => ReservationStatus::Released,
            "RESTOCKED" => ReservationStatus::Restocked,
            "CANCELLED" => ReservationStatus::Cancelled,
            _ => return None,
        })
    }
}

/// What to do with a reservation when its order is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAction {
    /// Give the held units back to the available stock.
    Release,
    /// Put the sold units back on hand.
    Restock,
    /// Nothing was reserved yet: remember the cancellation.
    Tombstone,
    /// Already released, restocked or cancelled: nothing to do.
    Nothing,
}

/// The action an `order.cancelled` calls for, given the reservation's status
/// (`None`: no reservation yet) and whether the order's stock was sold.
pub fn on_cancel(status: Option<ReservationStatus>, restock: bool) -> CancelAction {
    match status {
        None => CancelAction::Tombstone,
        Some(ReservationStatus::Held) => CancelAction::Release,
        Some(ReservationStatus::Committed) if restock => CancelAction::Restock,
        // Committed but the order says nothing was sold: the sale stands until a
        // cancellation that restocks arrives.
        Some(ReservationStatus::Committed) => CancelAction::Nothing,
        Some(_) => CancelAction::Nothing,
    }
}

/// An order's lines merged per product (a product ordered twice is one line)
/// and sorted by product id, the order in which rows are locked, so two
/// reservations can never deadlock. Quantities below 1 are invalid.
pub fn merge_lines(items: &[OrderLine]) -> Result<Vec<OrderLine>, String> {
    let mut merged: BTreeMap<Uuid, i64> = BTreeMap::new();
    for item in items {
        if item.quantity < 1 {
            return Err(format!(
                "quantity of {} must be at least 1",
                item.product_id
            ));
        }
        let q = merged.entry(item.product_id).or_insert(0);
        *q = q.checked_add(item.quantity).ok_or("quantity overflows")?;
    }
    if merged.is_empty() {
        return Err("an order needs at least one line".into());
    }
    Ok(merged
        .into_iter()
        .map(|(product_id, quantity)| OrderLine {
            product_id,
            quantity,
        })
        .collect())
}

/// Reserved lines as stored with a reservation.
pub type StoredLines = Vec<ReservedLine>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_the_same_product_are_merged_and_sorted() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let merged = merge_lines(&[
            OrderLine {
                product_id: b,
                quantity: 1,
            },
            OrderLine {
                product_id: a,
                quantity: 2,
            },
            OrderLine {
                product_id: b,
                quantity: 3,
            },
        ])
        .expect("valid");
        assert_eq!(
            merged,
            vec![
                OrderLine {
                    product_id: a,
                    quantity: 2
                },
                OrderLine {
                    product_id: b,
                    quantity: 4
                }
            ]
        );
    }

    #[test]
    fn empty_orders_and_non_positive_quantities_are_refused() {
        assert!(merge_lines(&[]).is_err());
        assert!(merge_lines(&[OrderLine {
            product_id: Uuid::now_v7(),
            quantity: 0
        }])
        .is_err());
    }

    #[test]
    fn cancelling_releases_held_stock_and_restocks_sold_stock() {
        assert_eq!(
            on_cancel(Some(ReservationStatus::Held), false),
            CancelAction::Release
        );
        assert_eq!(
            on_cancel(Some(ReservationStatus::Committed), true),
            CancelAction::Restock
        );
        assert_eq!(
            on_cancel(Some(ReservationStatus::Released), true),
            CancelAction::Nothing
        );
        assert_eq!(on_cancel(None, false), CancelAction::Tombstone);
    }
}
