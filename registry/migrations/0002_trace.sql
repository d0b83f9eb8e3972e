-- The telecom whitelist: entrustments, resources and the two facts recorded about a
-- resource by the members that use it (confirmations, filings). Each row keeps the node
-- that authored it (origin); rows of other origins are replicas and read-only here.

CREATE TABLE entrustments (
    id                     text PRIMARY KEY,
    origin                 text        NOT NULL,
    lender_id              text        NOT NULL,
    agency_id              text        NOT NULL,
    starts_on              date        NOT NULL,
    ends_on                date        NOT NULL CHECK (ends_on >= starts_on),
    subcontracting_allowed boolean     NOT NULL DEFAULT false,
    parent_id              text,
    ended                  boolean     NOT NULL DEFAULT false,
    ended_at               timestamptz,
    end_reason             text,
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entrustments_lender ON entrustments (lender_id, created_at);
CREATE INDEX entrustments_agency ON entrustments (agency_id, created_at);
CREATE INDEX entrustments_parent ON entrustments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE resources (
    id          text PRIMARY KEY,
    origin      text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('voice', 'voice_block', 'sms_code')),
    value       text        NOT NULL,
    supplier_id text        NOT NULL,
    assignee_id text        NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resources_value ON resources (value, kind);
CREATE INDEX resources_assignee ON resources (assignee_id);
CREATE INDEX resources_supplier ON resources (supplier_id);

-- The assignee's statement that it uses the resource for collection.
CREATE TABLE resource_confirmations (
    id           text PRIMARY KEY,
    origin       text        NOT NULL,
    resource_id  text        NOT NULL,
    member_id    text        NOT NULL,
    confirmed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (resource_id, member_id)
);

-- A lender's record that an agency's resource is registered with it (Article 10).
CREATE TABLE resource_filings (
    id             text PRIMARY KEY,
    origin         text        NOT NULL,
    resource_id    text        NOT NULL,
    entrustment_id text        NOT NULL,
    lender_id      text        NOT NULL,
    filed_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (resource_id, entrustment_id)
);
CREATE INDEX resource_filings_entrustment ON resource_filings (entrustment_id);
