-- How many times a payment was sent to the card provider: after the first, a
-- charge may have gone through without an answer ("in doubt"), so the next
-- attempt asks the provider for the charge's status before charging again.
ALTER TABLE payments ADD COLUMN charge_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payments_in_doubt_idx ON payments (updated_at) WHERE status = 'PENDING';

-- The provider's id of each refund (refunds now go through the provider).
ALTER TABLE refunds ADD COLUMN provider_reference TEXT;
