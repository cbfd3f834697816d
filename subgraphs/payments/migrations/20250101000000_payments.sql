-- Payments: one per order, charged through the card provider.
CREATE TABLE payments (
    id                 UUID PRIMARY KEY,
    order_id           UUID NOT NULL CONSTRAINT payments_order_id_key UNIQUE,
    user_id            UUID NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount >= 0),
    currency           TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status             TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
    card_brand         TEXT,
    card_last4         TEXT,
    failure_reason     TEXT,
    provider_reference TEXT,
    refunded_amount    BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_user_idx ON payments (user_id, id DESC);

CREATE TABLE refunds (
    id         UUID PRIMARY KEY,
    payment_id UUID NOT NULL REFERENCES payments (id),
    amount     BIGINT NOT NULL CHECK (amount > 0),
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at);

-- Orders cancelled before (or while) their payment was requested: a later
-- payment.requested for one of them is failed instead of charged.
CREATE TABLE cancelled_orders (
    order_id     UUID PRIMARY KEY,
    cancelled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
