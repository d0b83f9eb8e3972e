-- A worker that starts on a snapshot of the trace index gives the contact ledger the
-- logged reports and agreements the snapshot covers (registry/trace/feed.py,
-- prime_ledger). Through this index that is a range read of those entries alone,
-- whatever the length of the log; without it, PostgreSQL walked the whole log in seq
-- order looking for them, and a node with ten million numbers (25 million entries)
-- could not start within its statement timeout. Partial: the resources, confirmations
-- and filings that make up most of the log add nothing to it.
CREATE INDEX change_log_ledger ON change_log (origin, seq)
    WHERE type IN ('contact_agreement', 'contact_report');
