-- The saga inspector finds an order's events in each outbox by the payload's
-- order id.
CREATE INDEX outbox_order_id ON outbox ((envelope->'payload'->>'order_id'));
