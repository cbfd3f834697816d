-- What payments has refunded on each order so far (from payment.refunded), so a
-- refund can be told full from partial; never more than the total.
ALTER TABLE orders
    ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0
        CHECK (refunded_amount >= 0 AND refunded_amount <= total_amount);

-- Counting a customer's open unpaid orders (the cap on PENDING/AWAITING_PAYMENT).
CREATE INDEX orders_open_by_user_idx ON orders (user_id)
    WHERE status IN ('PENDING', 'AWAITING_PAYMENT');
