-- Retention of the event outbox (docs/events.md, "Retention"): events, and the attempt
-- records of delivered webhooks, are pruned by age, so each is found by its time. Both
-- arrive in time order: a block range index finds the old ones and costs a write next
-- to nothing (a batch of 1,000 supplies writes 1,000 events).
CREATE INDEX events_at ON events USING brin (at);
CREATE INDEX webhook_attempts_at ON webhook_attempts USING brin (at);
