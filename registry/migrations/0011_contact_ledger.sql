-- The contact ledger (API.md §12, guideline Articles 9, 15, 16). Debtors' numbers are
-- never stored: `callee_hash` is an HMAC under an association-wide key kept outside the
-- database (registry/keyed_hash.py), `hash_version` the key version it was made under.

-- One row per call, whoever reported it and however often: the key is the call itself,
-- and its prefix (debtor, time) is what a day's count for one debtor reads.
CREATE TABLE contacts (
    callee_hash  bytea       NOT NULL,
    started_at   timestamptz NOT NULL,
    caller       text        NOT NULL,
    hash_version smallint    NOT NULL,
    duration_s   integer     NOT NULL CHECK (duration_s >= 0),
    channel      text        NOT NULL CHECK (channel IN ('voice', 'sms')),
    -- The lenders (and debt buyers) the caller traced to at started_at.
    principals   text[]      NOT NULL,
    origin       text        NOT NULL,
    reporter_id  text        NOT NULL,
    PRIMARY KEY (callee_hash, started_at, caller)
);
-- Rows arrive roughly in time order: a block range index serves the retention job.
CREATE INDEX contacts_started_at ON contacts USING brin (started_at);

-- Every report held here (the record the change log names): whose it is, and for a peer's
-- report which of its calls were new here (the rest this node held already), which is
-- what each worker's in-memory counts add up (registry/ledger/memory.py). NULL: all of
-- them (a node's own report logs only its new calls).
CREATE TABLE contact_reports (
    id          text      PRIMARY KEY,
    origin      text      NOT NULL,
    reporter_id text      NOT NULL,
    positions   integer[],
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Per principal and day, for the console; holds no debtor.
CREATE TABLE contact_days (
    principal_id   text    NOT NULL,
    day            date    NOT NULL,
    calls          integer NOT NULL,
    connected      integer NOT NULL,
    effective      integer NOT NULL,
    sms            integer NOT NULL,
    over_limit     integer NOT NULL,
    outside_window integer NOT NULL,
    PRIMARY KEY (principal_id, day)
);
CREATE INDEX contact_days_by_day ON contact_days (day);

-- A lender's agreement with a debtor (Articles 9, 15 "另有约定"): limit and hours.
CREATE TABLE contact_agreements (
    id           text        PRIMARY KEY,
    origin       text        NOT NULL,
    lender_id    text        NOT NULL,
    callee_hash  bytea       NOT NULL,
    hash_version smallint    NOT NULL,
    daily_limit  integer     CHECK (daily_limit >= 0),
    hours_start  text,
    hours_end    text,
    valid_to     timestamptz NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX contact_agreements_callee ON contact_agreements (callee_hash, lender_id);
