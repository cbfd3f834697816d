//! Stock reservations: the rules of the order saga on the products side.
//!
//! An order's lines are reserved all together or not at all; a reservation is
//! held until the order is paid (then the stock is sold), cancelled or expired
//! (then it is released), and a paid order that is cancelled is restocked.

use std::collections::BTreeMap;

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
    /// The reservation lapsed (or nothing could be reserved): a late payment
    /// may still buy the lines from what is available.
    Released,
    /// The order was cancelled after its stock was sold: the stock came back.
    Restocked,
    /// The order was cancelled: nothing is held, and nothing is ever sold for
    /// it, whatever arrives later (a payment handled after the cancellation
    /// is refunded by the other services, not sold here).
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

/// What to do with a reservation when its order is cancelled. Every action
/// but `Restock` and `Nothing` leaves the reservation
/// [`ReservationStatus::Cancelled`], so a payment handled after the
/// cancellation never sells stock (events of one order may arrive in any
/// order: `order.cancelled` can overtake `order.paid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAction {
    /// Give the held units back to the available stock.
    Release,
    /// Put the sold units back on hand.
    Restock,
    /// Nothing was reserved yet: remember the cancellation.
    Tombstone,
    /// The hold had lapsed: nothing to give back, but a late payment must not
    /// sell the lines any more.
    Close,
    /// Already restocked or cancelled: nothing to do.
    Nothing,
}

/// The action an `order.cancelled` calls for, given the reservation's status
/// (`None`: no reservation yet) and whether the order's stock was sold.
pub fn on_cancel(status: Option<ReservationStatus>, restock: bool) -> CancelAction {
    match status {
        None => CancelAction::Tombstone,
        // Held: whether or not the order was paid, the units were never sold.
        Some(ReservationStatus::Held) => CancelAction::Release,
        Some(ReservationStatus::Released) => CancelAction::Close,
        Some(ReservationStatus::Committed) if restock => CancelAction::Restock,
        // Committed but the order says nothing was sold: the sale stands until a
        // cancellation that restocks arrives.
        Some(ReservationStatus::Committed) => CancelAction::Nothing,
        Some(ReservationStatus::Restocked | ReservationStatus::Cancelled) => CancelAction::Nothing,
    }
}

/// What an `order.paid` does, given the reservation's status and whether it
/// has lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayAction {
    /// Sell the held units.
    SellHeld,
    /// The hold lapsed: sell from what is available, or reject.
    SellAvailable,
    /// `order.placed` has not been handled here yet: try again later.
    NotYetReserved,
    /// Sold already, cancelled, or nothing was ever reserved: nothing to do.
    Nothing,
}

/// The action an `order.paid` calls for.
pub fn on_paid(status: Option<ReservationStatus>, has_lines: bool) -> PayAction {
    match status {
        None => PayAction::NotYetReserved,
        Some(ReservationStatus::Held) => PayAction::SellHeld,
        Some(ReservationStatus::Released) if has_lines => PayAction::SellAvailable,
        Some(_) => PayAction::Nothing,
    }
}

/// Units of one product held (or sold) for an order, at the price they were
/// reserved at. Stored with the reservation (PostgreSQL keeps it as JSON, so
/// its field names are a storage format: change them only with a migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The product.
    pub product_id: Uuid,
    /// How many units.
    pub quantity: i64,
    /// The unit price at reservation.
    pub unit_price: platform::Money,
}

impl PricedLine {
    /// The product and units, without the price.
    pub fn line(&self) -> Line {
        Line {
            product_id: self.product_id,
            quantity: self.quantity,
        }
    }
}

/// Units of one product in an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// The product.
    pub product_id: Uuid,
    /// How many units.
    pub quantity: i64,
}

/// An order's lines merged per product (a product ordered twice is one line)
/// and sorted by product id, the order in which rows are locked, so two
/// reservations can never deadlock. Quantities below 1 are invalid.
pub fn merge_lines(items: &[Line]) -> Result<Vec<Line>, String> {
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
        .map(|(product_id, quantity)| Line {
            product_id,
            quantity,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_the_same_product_are_merged_and_sorted() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let merged = merge_lines(&[
            Line {
                product_id: b,
                quantity: 1,
            },
            Line {
                product_id: a,
                quantity: 2,
            },
            Line {
                product_id: b,
                quantity: 3,
            },
        ])
        .expect("valid");
        assert_eq!(
            merged,
            vec![
                Line {
                    product_id: a,
                    quantity: 2
                },
                Line {
                    product_id: b,
                    quantity: 4
                }
            ]
        );
    }

    #[test]
    fn empty_orders_and_non_positive_quantities_are_refused() {
        assert!(merge_lines(&[]).is_err());
        assert!(merge_lines(&[Line {
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
            CancelAction::Close
        );
        assert_eq!(on_cancel(None, false), CancelAction::Tombstone);
    }

    /// Every pair of `order.placed`, `order.paid` and `order.cancelled`, in
    /// both orders, ends with the stock a customer would expect: sold only if
    /// paid and not cancelled, and nothing held once cancelled.
    #[test]
    fn every_order_of_the_saga_events_leaves_the_right_stock() {
        #[derive(Debug, Clone, Copy)]
        enum E {
            Placed,
            Paid,
            Cancelled,
        }
        // (status, held units, sold units) of a one-unit order after `events`.
        fn run(events: &[E]) -> (Option<ReservationStatus>, i32, i32) {
            let (mut status, mut held, mut sold) = (None, 0, 0);
            let mut pending: Vec<E> = events.to_vec();
            // An event that must wait (paid before placed) is retried after the rest.
            let mut guard = 0;
            while let Some(e) = (!pending.is_empty()).then(|| pending.remove(0)) {
                guard += 1;
                assert!(guard < 10, "never settles: {events:?}");
                match e {
                    E::Placed => {
                        if status.is_none() {
                            status = Some(ReservationStatus::Held);
                            held = 1;
                        }
                    }
                    E::Paid => match on_paid(status, true) {
                        PayAction::SellHeld => {
                            (held, sold) = (0, 1);
                            status = Some(ReservationStatus::Committed);
                        }
                        PayAction::SellAvailable => {
                            sold = 1;
                            status = Some(ReservationStatus::Committed);
                        }
                        PayAction::NotYetReserved => pending.push(e),
                        PayAction::Nothing => {}
                    },
                    E::Cancelled => match on_cancel(status, true) {
                        CancelAction::Release => {
                            held = 0;
                            status = Some(ReservationStatus::Cancelled);
                        }
                        CancelAction::Restock => {
                            sold = 0;
                            status = Some(ReservationStatus::Restocked);
                        }
                        CancelAction::Tombstone | CancelAction::Close => {
                            status = Some(ReservationStatus::Cancelled);
                        }
                        CancelAction::Nothing => {}
                    },
                }
            }
            (status, held, sold)
        }
        use E::*;
        // Paid and cancelled, in any order: nothing sold, nothing held.
        for events in [
            [Placed, Paid, Cancelled],
            [Placed, Cancelled, Paid],
            [Cancelled, Placed, Paid],
            [Paid, Placed, Cancelled],
            [Cancelled, Paid, Placed],
            [Paid, Cancelled, Placed],
        ] {
            let (_, held, sold) = run(&events);
            assert_eq!((held, sold), (0, 0), "{events:?}");
        }
        // Placed and paid in either order: sold.
        assert_eq!(run(&[Placed, Paid]).2, 1);
        assert_eq!(run(&[Paid, Placed]).2, 1);
        // Placed and cancelled in either order: nothing held.
        assert_eq!(run(&[Placed, Cancelled]).1, 0);
        assert_eq!(run(&[Cancelled, Placed]).1, 0);
    }
}
