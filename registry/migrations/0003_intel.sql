-- Collector filings and checks, black-market intelligence, risk-event reports (API.md §7).
-- No column holds a collector's raw id number or full name: only a keyed hash (the key
-- lives outside the database) and masked forms.

CREATE TABLE collector_filings (
    id              text PRIMARY KEY,
    origin          text        NOT NULL,
    status          text        NOT NULL
                    CHECK (status IN ('submitted', 'published', 'rejected', 'revoked')),
    filer_id        text        NOT NULL,
    filer_kind      text        NOT NULL,
    id_type         text        NOT NULL CHECK (id_type IN ('prc_id')),
    subject_hash    text        NOT NULL,
    hash_version    integer     NOT NULL,
    name_masked     text        NOT NULL,
    id_masked       text        NOT NULL,
    violations      text[]      NOT NULL,
    incident_on     date        NOT NULL,
    dismissed_on    date        NOT NULL,
    summary         text        NOT NULL,
    evidence_sha256 text[]      NOT NULL DEFAULT '{}',
    history         jsonb       NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    expires_at      timestamptz
);
CREATE INDEX collector_filings_subject ON collector_filings (subject_hash)
    WHERE status = 'published';
CREATE INDEX collector_filings_queue ON collector_filings (status, created_at, id);
CREATE INDEX collector_filings_filer ON collector_filings (filer_id, created_at, id);

-- Every check, answered or refused: checks could enumerate id numbers, so operators watch.
CREATE TABLE collector_check_audit (
    id           bigserial PRIMARY KEY,
    checker_id   text        NOT NULL,
    checker_role text        NOT NULL,
    subject_hash text        NOT NULL,
    hash_version integer     NOT NULL,
    result       text        NOT NULL CHECK (result IN ('listed', 'not_listed', 'rate_limited')),
    filing_ids   text[]      NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX collector_check_audit_checker ON collector_check_audit (checker_id, id);

CREATE TABLE blackmarket_groups (
    id          text PRIMARY KEY,
    origin      text        NOT NULL,
    reporter_id text        NOT NULL,
    name        text        NOT NULL,
    category    text        NOT NULL,
    tlp         text        NOT NULL CHECK (tlp IN ('green', 'amber', 'red')),
    aliases     text[]      NOT NULL DEFAULT '{}',
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blackmarket_groups_listing ON blackmarket_groups (created_at, id);

-- Indicator values are stored normalised per type, so equal indicators compare equal.
CREATE TABLE blackmarket_indicators (
    group_id text NOT NULL REFERENCES blackmarket_groups (id) ON DELETE CASCADE,
    type     text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (group_id, type, value)
);
CREATE INDEX blackmarket_indicators_value ON blackmarket_indicators (type, value);

CREATE TABLE blackmarket_sightings (
    id          text PRIMARY KEY,
    origin      text        NOT NULL,
    reporter_id text        NOT NULL,
    type        text        NOT NULL,
    value       text        NOT NULL,
    seen_at     timestamptz NOT NULL,
    tlp         text        NOT NULL CHECK (tlp IN ('green', 'amber', 'red')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blackmarket_sightings_value ON blackmarket_sightings (type, value);

CREATE TABLE risk_events (
    id            text PRIMARY KEY,
    origin        text        NOT NULL,
    reporter_id   text        NOT NULL,
    reporter_kind text        NOT NULL,
    category      text        NOT NULL,
    discovered_at timestamptz NOT NULL,
    reported_at   timestamptz NOT NULL,
    due_at        timestamptz NOT NULL,
    summary       text        NOT NULL,
    cause         text,
    situation     text,
    impact        text,
    measures      text,
    updates       jsonb       NOT NULL DEFAULT '[]',
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Operators read late reports first.
CREATE INDEX risk_events_listing ON risk_events ((reported_at > due_at) DESC, reported_at DESC, id);
CREATE INDEX risk_events_reporter ON risk_events (reporter_id, reported_at);
