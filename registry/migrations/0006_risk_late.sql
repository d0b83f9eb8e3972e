-- "Late" (Article 24: reported after the 48 h deadline) is defined once, here, for the
-- API's listings, its ordering and the console's counts alike.
ALTER TABLE risk_events ADD COLUMN late boolean GENERATED ALWAYS AS (reported_at > due_at) STORED;
CREATE INDEX risk_events_late_first ON risk_events (late DESC, reported_at DESC, id DESC);
DROP INDEX risk_events_listing;  -- replaced by risk_events_late_first
