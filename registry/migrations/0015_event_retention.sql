-- Retention of the event outbox (docs/events.md, "Retention"): events, and the attempt
-- records of delivered webhooks, are pruned by age, so each is found by its time.
CREATE INDEX events_at ON events (at);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
