-- Complaints about collection numbers (API.md §13), routed by the trace decision at the
-- time the complaint names, and the responses of the members it was routed to. Both are
-- records of the node that wrote them (origin), federated like the others.

CREATE TABLE complaints (
    id          text PRIMARY KEY,
    origin      text        NOT NULL,
    source      text        NOT NULL CHECK (source IN ('carrier', 'operator', 'public')),
    filer_id    text        NOT NULL,
    number      text        NOT NULL,
    received_at timestamptz NOT NULL,
    category    text        NOT NULL CHECK (category IN ('time', 'frequency', 'abuse',
                                                     'third_party', 'impersonation', 'other')),
    summary     text        NOT NULL,
    respond_by  timestamptz NOT NULL,
    traceable   boolean     NOT NULL,
    reason      text,
    -- [{"id", "name", "role"}]: the one statement of who it went to; scoping reads it.
    routed_to   jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Node-local spam control for public reports: identical ones collapse onto one row.
    digest      text,
    reports     integer     NOT NULL DEFAULT 1
);
CREATE INDEX complaints_routed_to ON complaints USING gin (routed_to jsonb_path_ops);
CREATE INDEX complaints_listing ON complaints (received_at DESC, id DESC);
CREATE INDEX complaints_filer ON complaints (filer_id);
CREATE UNIQUE INDEX complaints_public_digest ON complaints (digest) WHERE digest IS NOT NULL;

CREATE TABLE complaint_responses (
    id           text PRIMARY KEY,
    origin       text        NOT NULL,
    complaint_id text        NOT NULL,
    responder_id text        NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('resolved', 'rejected', 'forwarded')),
    summary      text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaint_responses_complaint ON complaint_responses (complaint_id, at);

-- "Late" (API.md §13: past respond_by without a response) is defined once, here, for the
-- API's listings, its filters and every count of complaint handling.
CREATE FUNCTION complaint_late(respond_by timestamptz, answered_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT coalesce(answered_at, now()) > respond_by $$;
