-- Carts: one per user, lines by product.
CREATE TABLE cart_items (
    user_id    UUID NOT NULL,
    product_id UUID NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product_id)
);

CREATE SEQUENCE order_numbers START 1000;

-- Orders, their lines, and every status they went through.
CREATE TABLE orders (
    id               UUID PRIMARY KEY,
    number           BIGINT NOT NULL DEFAULT nextval('order_numbers') CONSTRAINT orders_number_key UNIQUE,
    user_id          UUID NOT NULL,
    status           TEXT NOT NULL,
    currency         TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total_amount     BIGINT NOT NULL CHECK (total_amount >= 0),
    shipping_address JSONB NOT NULL,
    payment_token    TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency_key UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_user_idx ON orders (user_id, id DESC);
CREATE INDEX orders_status_idx ON orders (status, id DESC);

CREATE TABLE order_items (
    order_id   UUID NOT NULL REFERENCES orders (id),
    line_no    INTEGER NOT NULL,
    product_id UUID NOT NULL,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    line_total BIGINT NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
    id       BIGSERIAL PRIMARY KEY,
    order_id UUID NOT NULL REFERENCES orders (id),
    status   TEXT NOT NULL,
    reason   TEXT,
    at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);
