-- Disclosures kept current (API.md §10, Articles 13 and 23): each change of a member's
-- contact, complaint channels, name or subtype, with when, by whom and which fields.
ALTER TABLE members ADD COLUMN disclosure_history jsonb NOT NULL DEFAULT '[]';

-- Supervising agencies (API.md §11, Articles 17 and 18). No foreign keys to entrustments:
-- a record of one node may arrive before the entrustment of another node it names.
-- The four written commitments of Article 17(二), signed by the entrusted agency, once.
CREATE TABLE entrustment_commitments (
    id             text PRIMARY KEY,
    origin         text        NOT NULL,
    entrustment_id text        NOT NULL UNIQUE,
    agency_id      text        NOT NULL,
    commitments    text[]      NOT NULL,
    made_at        timestamptz NOT NULL DEFAULT now()
);

-- The lender's evaluations of its agency (Article 18(二)): grade and five scores.
CREATE TABLE agency_evaluations (
    id             text PRIMARY KEY,
    origin         text        NOT NULL,
    entrustment_id text        NOT NULL,
    lender_id      text        NOT NULL,
    period_end     date        NOT NULL,
    grade          text        NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    scores         jsonb       NOT NULL,
    summary        text        NOT NULL,
    made_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agency_evaluations_entrustment ON agency_evaluations (entrustment_id, period_end);

-- Rectifications the lender orders (Article 18(四)), with a deadline and an outcome.
CREATE TABLE rectifications (
    id              text PRIMARY KEY,
    origin          text        NOT NULL,
    entrustment_id  text        NOT NULL,
    lender_id       text        NOT NULL,
    cause           text        NOT NULL CHECK (cause IN
                        ('suspected_violation', 'personal_data_incident', 'consumer_harm')),
    due_on          date        NOT NULL,
    summary         text        NOT NULL,
    status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    outcome         text        CHECK (outcome IN ('rectified', 'failed')),
    outcome_summary text,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    CHECK ((status = 'open') = (outcome IS NULL))
);
CREATE INDEX rectifications_entrustment ON rectifications (entrustment_id, opened_at);
CREATE INDEX rectifications_open_due ON rectifications (due_on) WHERE status = 'open';

-- Risk reports complete (Article 24): the institution concerned, the operators' follow-up,
-- and "incomplete" (any of cause, situation, impact, measures missing) defined once here.
ALTER TABLE risk_events
    ADD COLUMN institution_id  text,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD COLUMN forwarded_at    timestamptz,
    ADD COLUMN forwarded_by    text,
    ADD COLUMN forwarded_to    text,
    ADD COLUMN incomplete      boolean GENERATED ALWAYS AS (
        cause IS NULL OR situation IS NULL OR impact IS NULL OR measures IS NULL) STORED;
CREATE INDEX risk_events_incomplete ON risk_events (reported_at) WHERE incomplete;
-- Breach reports are shown to the lenders entrusting their reporter (Article 21(二)).
CREATE INDEX risk_events_breaches ON risk_events (reporter_id)
    WHERE category = 'personal_data_breach';
