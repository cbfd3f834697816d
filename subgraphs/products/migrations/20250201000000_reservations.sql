-- Stock reservations for orders (the order saga). One row per order: HELD
-- until paid (COMMITTED: the stock is sold), released (RELEASED), or restocked
-- after a paid order is cancelled (RESTOCKED). A CANCELLED row with no lines
-- remembers an order cancelled before its reservation was asked for.
CREATE TABLE reservations (
    order_id    UUID PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('HELD', 'COMMITTED', 'RELEASED', 'RESTOCKED', 'CANCELLED')),
    lines       JSONB NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reservations_due_idx ON reservations (expires_at) WHERE status = 'HELD';
