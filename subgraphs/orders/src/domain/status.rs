//! The order state machine of the saga.
//!
//! ```text
//! PENDING ──stock reserved──► AWAITING_PAYMENT ──payment succeeded──► PAID ──► SHIPPED ──► DELIVERED
//!    │                              │ payment failed / reservation expired       │ cancel
//!    └──stock rejected──► CANCELLED ◄┘ cancel (stock released)                    ▼
//!                                                           REFUND_PENDING ──refunded──► REFUNDED
//! ```
//! An administrator's refund (`payment.refunded` without a cancellation) moves a
//! PAID order to PARTIALLY_REFUNDED (still shippable) or, once the whole total
//! is back, to REFUNDED (never shipped; its sold stock is restocked). A shipped
//! or delivered order refunded in full becomes REFUNDED too.
//! [`decide`] is the only place that knows which trigger moves an order where and
//! which event that change announces. Late or out-of-order events are decided
//! too (a payment that succeeds after a cancellation is refunded), never dropped.

use serde::{Deserialize, Serialize};

/// Where an order is.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Placed; waiting for stock to be reserved.
    Pending,
    /// Stock is held; waiting for the payment.
    AwaitingPayment,
    /// Paid; to be shipped.
    Paid,
    /// On its way.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled before it was paid (or its payment is being returned).
    Cancelled,
    /// Cancelled after payment; the refund is on its way.
    RefundPending,
    /// Cancelled and refunded.
    Refunded,
    /// Paid, and part of the payment went back (an administrator's refund); it
    /// may still be shipped.
    PartiallyRefunded,
}

impl OrderStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::AwaitingPayment => "AWAITING_PAYMENT",
            OrderStatus::Paid => "PAID",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::RefundPending => "REFUND_PENDING",
            OrderStatus::Refunded => "REFUNDED",
            OrderStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => OrderStatus::Pending,
            "AWAITING_PAYMENT" => OrderStatus::AwaitingPayment,
            "PAID" => OrderStatus::Paid,
            "SHIPPED" => OrderStatus::Shipped,
            "DELIVERED" => OrderStatus::Delivered,
            "CANCELLED" => OrderStatus::Cancelled,
            "REFUND_PENDING" => OrderStatus::RefundPending,
            "REFUNDED" => OrderStatus::Refunded,
            "PARTIALLY_REFUNDED" => OrderStatus::PartiallyRefunded,
            _ => return None,
        })
    }
}

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Products held the stock (`stock.reserved`).
    StockReserved,
    /// Products could not (`stock.rejected`).
    StockRejected,
    /// The hold lapsed before payment (`stock.released`, expired).
    ReservationExpired,
    /// The card was charged (`payment.succeeded`).
    PaymentSucceeded,
    /// The card was not (`payment.failed`).
    PaymentFailed,
    /// All of the money is back (`payment.refunded` bringing the refunded
    /// total to the order's total).
    Refunded,
    /// Part of the money went back (`payment.refunded` for less than what is
    /// left).
    PartiallyRefunded,
    /// The customer or an admin cancels.
    CancelRequested,
    /// An admin ships it.
    Ship,
    /// An admin marks it delivered.
    Deliver,
}

/// An event a change announces to the other services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `payment.requested`.
    RequestPayment,
    /// `order.paid`.
    AnnouncePaid,
    /// `order.cancelled`: release or restock, and refund if `refund`.
    AnnounceCancelled {
        /// Money was taken and must go back.
        refund: bool,
        /// The stock was sold and must come back.
        restock: bool,
    },
    /// `order.shipped`.
    AnnounceShipped,
    /// `order.delivered`.
    AnnounceDelivered,
}

/// What a trigger does to an order in a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The order moves to `to` (possibly the same status) and announces `effect`.
    Apply {
        /// The new status.
        to: OrderStatus,
        /// What to announce.
        effect: Option<Effect>,
    },
    /// Nothing to do: a duplicate or an event whose work is done elsewhere.
    Ignore,
    /// Not allowed (a client's request): `CONFLICT`.
    Reject,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 10] = [
        Trigger::StockReserved,
        Trigger::StockRejected,
        Trigger::ReservationExpired,
        Trigger::PaymentSucceeded,
        Trigger::PaymentFailed,
        Trigger::Refunded,
        Trigger::PartiallyRefunded,
        Trigger::CancelRequested,
        Trigger::Ship,
        Trigger::Deliver,
    ];
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::Pending,
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::RefundPending,
        OrderStatus::Refunded,
        OrderStatus::PartiallyRefunded,
    ];

    /// Whether the order is settled: delivered, cancelled or refunded. Only
    /// REFUNDED can never change again; a delivered order can still be
    /// refunded by an administrator, and a payment that lands after the
    /// cancellation moves a cancelled order on to REFUND_PENDING (both rare,
    /// and not part of the customer's flow).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }

    /// Whether some trigger moves an order out of this status.
    pub fn can_change(self) -> bool {
        Trigger::ALL
            .iter()
            .any(|t| matches!(decide(self, *t), Decision::Apply { to, .. } if to != self))
    }
}

/// The state machine.
pub fn decide(from: OrderStatus, trigger: Trigger) -> Decision {
    use Decision::{Apply, Ignore, Reject};
    use OrderStatus as S;
    use Trigger as T;
    let cancel_unpaid = Some(Effect::AnnounceCancelled {
        refund: false,
        restock: false,
    });
    match (from, trigger) {
        (S::Pending, T::StockReserved) => Apply {
            to: S::AwaitingPayment,
            effect: Some(Effect::RequestPayment),
        },
        (S::Pending, T::StockRejected) => Apply {
            to: S::Cancelled,
            effect: None,
        },
        (S::Pending, T::CancelRequested) => Apply {
            to: S::Cancelled,
            effect: cancel_unpaid,
        },
        (S::AwaitingPayment, T::PaymentSucceeded) => Apply {
            to: S::Paid,
            effect: Some(Effect::AnnouncePaid),
        },
        (S::AwaitingPayment, T::PaymentFailed | T::ReservationExpired | T::CancelRequested) => {
            Apply {
                to: S::Cancelled,
                effect: cancel_unpaid,
            }
        }
        (S::Paid | S::PartiallyRefunded, T::CancelRequested) => Apply {
            to: S::RefundPending,
            effect: Some(Effect::AnnounceCancelled {
                refund: true,
                restock: true,
            }),
        },
        // Paid, but the lapsed reservation could not be sold after all.
        (S::Paid | S::PartiallyRefunded, T::StockRejected) => Apply {
            to: S::RefundPending,
            effect: Some(Effect::AnnounceCancelled {
                refund: true,
                restock: false,
            }),
        },
        (S::Paid | S::PartiallyRefunded, T::Ship) => Apply {
            to: S::Shipped,
            effect: Some(Effect::AnnounceShipped),
        },
        (S::Shipped, T::Deliver) => Apply {
            to: S::Delivered,
            effect: Some(Effect::AnnounceDelivered),
        },
        (S::RefundPending, T::Refunded) => Apply {
            to: S::Refunded,
            effect: None,
        },
        // An administrator refunded a paid order: part of it leaves the order
        // shippable; all of it ends the order, and the sold stock comes back.
        (S::Paid, T::PartiallyRefunded) => Apply {
            to: S::PartiallyRefunded,
            effect: None,
        },
        (S::Paid | S::PartiallyRefunded, T::Refunded) => Apply {
            to: S::Refunded,
            effect: Some(Effect::AnnounceCancelled {
                refund: false,
                restock: true,
            }),
        },
        // Refunded in full after it left the warehouse (lost, returned).
        (S::Shipped | S::Delivered, T::Refunded) => Apply {
            to: S::Refunded,
            effect: None,
        },
        // Late arrivals on a cancelled order: give back what they took.
        (S::Cancelled, T::StockReserved) => Apply {
            to: S::Cancelled,
            effect: cancel_unpaid,
        },
        (S::Cancelled, T::PaymentSucceeded) => Apply {
            to: S::RefundPending,
            effect: Some(Effect::AnnounceCancelled {
                refund: true,
                restock: false,
            }),
        },
        // Client requests that make no sense in this status.
        (_, T::CancelRequested | T::Ship | T::Deliver) => Reject,
        // Duplicates, and events whose consequence is already in motion.
        _ => Ignore,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_unsettled_status_can_change_and_refunded_never_does() {
        use OrderStatus as S;
        for status in OrderStatus::ALL {
            assert!(
                status.is_settled() || status.can_change(),
                "{status:?} is neither settled nor ever left"
            );
        }
        let terminal: Vec<S> = OrderStatus::ALL
            .into_iter()
            .filter(|s| !s.can_change())
            .collect();
        assert_eq!(terminal, [S::Refunded]);
    }

    use super::*;
    use OrderStatus as S;
    use Trigger as T;

    fn to(from: S, t: T) -> Option<S> {
        match decide(from, t) {
            Decision::Apply { to, .. } => Some(to),
            _ => None,
        }
    }

    #[test]
    fn the_happy_path_goes_from_pending_to_delivered() {
        assert_eq!(to(S::Pending, T::StockReserved), Some(S::AwaitingPayment));
        assert_eq!(to(S::AwaitingPayment, T::PaymentSucceeded), Some(S::Paid));
        assert_eq!(to(S::Paid, T::Ship), Some(S::Shipped));
        assert_eq!(to(S::Shipped, T::Deliver), Some(S::Delivered));
    }

    #[test]
    fn reserving_stock_requests_the_payment_and_paying_announces_it() {
        assert_eq!(
            decide(S::Pending, T::StockReserved),
            Decision::Apply {
                to: S::AwaitingPayment,
                effect: Some(Effect::RequestPayment)
            }
        );
        assert_eq!(
            decide(S::AwaitingPayment, T::PaymentSucceeded),
            Decision::Apply {
                to: S::Paid,
                effect: Some(Effect::AnnouncePaid)
            }
        );
    }

    #[test]
    fn failures_before_payment_cancel_and_release_the_stock() {
        for t in [T::PaymentFailed, T::ReservationExpired, T::CancelRequested] {
            assert_eq!(
                decide(S::AwaitingPayment, t),
                Decision::Apply {
                    to: S::Cancelled,
                    effect: Some(Effect::AnnounceCancelled {
                        refund: false,
                        restock: false
                    })
                },
                "{t:?}"
            );
        }
        assert_eq!(
            decide(S::Pending, T::StockRejected),
            Decision::Apply {
                to: S::Cancelled,
                effect: None
            }
        );
    }

    #[test]
    fn cancelling_a_paid_order_refunds_and_restocks() {
        assert_eq!(
            decide(S::Paid, T::CancelRequested),
            Decision::Apply {
                to: S::RefundPending,
                effect: Some(Effect::AnnounceCancelled {
                    refund: true,
                    restock: true
                })
            }
        );
        assert_eq!(to(S::RefundPending, T::Refunded), Some(S::Refunded));
    }

    #[test]
    fn a_payment_after_a_cancellation_is_refunded_not_ignored() {
        assert_eq!(
            decide(S::Cancelled, T::PaymentSucceeded),
            Decision::Apply {
                to: S::RefundPending,
                effect: Some(Effect::AnnounceCancelled {
                    refund: true,
                    restock: false
                })
            }
        );
        assert_eq!(
            decide(S::Cancelled, T::StockReserved),
            Decision::Apply {
                to: S::Cancelled,
                effect: Some(Effect::AnnounceCancelled {
                    refund: false,
                    restock: false
                })
            }
        );
    }

    #[test]
    fn clients_cannot_skip_steps_or_undo_the_end() {
        assert_eq!(decide(S::Pending, T::Ship), Decision::Reject);
        assert_eq!(decide(S::Paid, T::Deliver), Decision::Reject);
        assert_eq!(decide(S::Shipped, T::CancelRequested), Decision::Reject);
        assert_eq!(decide(S::Delivered, T::CancelRequested), Decision::Reject);
        assert_eq!(decide(S::Cancelled, T::CancelRequested), Decision::Reject);
        assert_eq!(decide(S::Refunded, T::Ship), Decision::Reject);
    }

    #[test]
    fn duplicates_change_nothing() {
        assert_eq!(
            decide(S::AwaitingPayment, T::StockReserved),
            Decision::Ignore
        );
        assert_eq!(decide(S::Paid, T::PaymentSucceeded), Decision::Ignore);
        assert_eq!(decide(S::Refunded, T::Refunded), Decision::Ignore);
        assert_eq!(decide(S::Cancelled, T::PaymentFailed), Decision::Ignore);
    }

    #[test]
    fn an_admin_refund_of_a_paid_order_moves_it() {
        assert_eq!(
            decide(S::Paid, T::PartiallyRefunded),
            Decision::Apply {
                to: S::PartiallyRefunded,
                effect: None
            }
        );
        for from in [S::Paid, S::PartiallyRefunded] {
            assert_eq!(
                decide(from, T::Refunded),
                Decision::Apply {
                    to: S::Refunded,
                    effect: Some(Effect::AnnounceCancelled {
                        refund: false,
                        restock: true
                    })
                },
                "{from:?}"
            );
        }
        assert_eq!(to(S::Shipped, T::Refunded), Some(S::Refunded));
        assert_eq!(to(S::Delivered, T::Refunded), Some(S::Refunded));
        assert_eq!(decide(S::Shipped, T::PartiallyRefunded), Decision::Ignore);
        assert_eq!(
            decide(S::RefundPending, T::PartiallyRefunded),
            Decision::Ignore
        );
        assert_eq!(decide(S::Refunded, T::Refunded), Decision::Ignore);
    }

    #[test]
    fn a_refunded_order_cannot_be_shipped_a_partially_refunded_one_can() {
        assert_eq!(decide(S::Refunded, T::Ship), Decision::Reject);
        assert_eq!(decide(S::Refunded, T::CancelRequested), Decision::Reject);
        assert_eq!(to(S::PartiallyRefunded, T::Ship), Some(S::Shipped));
        assert_eq!(
            decide(S::PartiallyRefunded, T::CancelRequested),
            Decision::Apply {
                to: S::RefundPending,
                effect: Some(Effect::AnnounceCancelled {
                    refund: true,
                    restock: true
                })
            }
        );
    }

    #[test]
    fn stored_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
    }

    /// The events of the saga reach orders in any order (several producers,
    /// several relays, redeliveries). For every status an order can be in
    /// while they fly and every pair of them, in both orders: money taken is
    /// kept only by an order that goes on to be shipped, and otherwise a
    /// refund is asked for; stock held is released when the order is
    /// cancelled; and no order is paid without a payment.
    #[test]
    fn every_pair_of_saga_events_in_either_order_keeps_money_and_stock_right() {
        // What may be in flight in each status: a payment exists only once
        // orders asked for it (AWAITING_PAYMENT), and each pair of outcomes of
        // one step excludes the other.
        let in_flight = [
            (
                S::Pending,
                &[T::StockReserved, T::StockRejected, T::CancelRequested][..],
            ),
            (
                S::AwaitingPayment,
                &[
                    T::PaymentSucceeded,
                    T::PaymentFailed,
                    T::ReservationExpired,
                    T::CancelRequested,
                ][..],
            ),
            (S::Paid, &[T::StockRejected, T::CancelRequested][..]),
        ];
        let exclusive = |a: T, b: T| {
            matches!(
                (a, b),
                (T::StockReserved, T::StockRejected)
                    | (T::StockRejected, T::StockReserved)
                    | (T::PaymentSucceeded, T::PaymentFailed)
                    | (T::PaymentFailed, T::PaymentSucceeded)
            )
        };
        for (start, events) in in_flight {
            for &a in events {
                for &b in events {
                    if a == b || exclusive(a, b) {
                        continue;
                    }
                    let mut status = start;
                    let mut effects = Vec::new();
                    for t in [a, b] {
                        if let Decision::Apply { to, effect } = decide(status, t) {
                            status = to;
                            effects.extend(effect);
                        }
                    }
                    let case = format!("{start:?} then {a:?}, {b:?} -> {status:?} {effects:?}");
                    let charged = start == S::Paid || [a, b].contains(&T::PaymentSucceeded);
                    let refund_asked = effects
                        .iter()
                        .any(|e| matches!(e, Effect::AnnounceCancelled { refund: true, .. }));
                    let keeps_money = matches!(status, S::Paid | S::Shipped | S::Delivered);
                    if charged {
                        assert!(
                            keeps_money || refund_asked,
                            "money kept by a dead order: {case}"
                        );
                    } else {
                        assert!(!keeps_money, "paid without a payment: {case}");
                        assert!(!refund_asked, "refund without a payment: {case}");
                    }
                    let held = start == S::AwaitingPayment || [a, b].contains(&T::StockReserved);
                    if held && status == S::Cancelled && !charged {
                        assert!(
                            effects
                                .iter()
                                .any(|e| matches!(e, Effect::AnnounceCancelled { .. })),
                            "stock held by a cancelled order: {case}"
                        );
                    }
                }
            }
        }
    }
}
