-- The catalogue: categories and products.
CREATE TABLE categories (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL CONSTRAINT categories_slug_key UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE products (
    id             UUID PRIMARY KEY,
    sku            TEXT NOT NULL CONSTRAINT products_sku_key UNIQUE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    price_amount   BIGINT NOT NULL CHECK (price_amount >= 0),
    price_currency TEXT NOT NULL CHECK (price_currency ~ '^[A-Z]{3}$'),
    category_id    UUID NOT NULL CONSTRAINT products_category_fkey REFERENCES categories (id),
    images         JSONB NOT NULL DEFAULT '[]'::jsonb,
    attributes     JSONB NOT NULL DEFAULT '[]'::jsonb,
    archived       BOOLEAN NOT NULL DEFAULT FALSE,
    stock_on_hand  INTEGER NOT NULL DEFAULT 0 CHECK (stock_on_hand >= 0),
    reserved       INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= stock_on_hand),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    search         TSVECTOR GENERATED ALWAYS AS (
                       setweight(to_tsvector('english', name), 'A')
                       || setweight(to_tsvector('english', description), 'B')
                   ) STORED
);

CREATE INDEX products_search_idx ON products USING GIN (search);
-- One index per sort order (keyset pagination), listing only what is for sale.
CREATE INDEX products_newest_idx ON products (created_at DESC, id DESC) WHERE NOT archived;
CREATE INDEX products_price_idx ON products (price_amount, id) WHERE NOT archived;
CREATE INDEX products_name_idx ON products ((name COLLATE "C"), id) WHERE NOT archived;
CREATE INDEX products_category_idx ON products (category_id, created_at DESC, id DESC) WHERE NOT archived;
