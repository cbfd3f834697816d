-- An outbox row that cannot be published (the event itself is at fault, or the
-- broker keeps refusing it) is retried with backoff (`lease_until` is then the
-- time of the next attempt) and, after a bound, parked: never claimed again
-- until an operator retries it (`events-dlq outbox retry`), so it never blocks
-- the rows behind it.
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;
CREATE INDEX outbox_parked ON outbox (parked_at) WHERE parked_at IS NOT NULL;
-- The inbox is pruned by age.
CREATE INDEX inbox_processed_at ON inbox (processed_at);
