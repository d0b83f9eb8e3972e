-- What concerns a member (API.md §14): an outbox written in the same transaction as the
-- change it tells of, listed in the member's event feed and delivered to its webhook.
-- Node-local: none of these tables is in the change log or federated.

-- One row per recipient (a member id, or 'operators'). `seq` is given under the change
-- log's append lock, so rows become visible in seq order and a cursor never skips one.
CREATE TABLE events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text        NOT NULL UNIQUE,
    recipient    text        NOT NULL,
    type         text        NOT NULL,
    subject_type text        NOT NULL,
    subject_id   text        NOT NULL,
    data         jsonb       NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    -- Set by emitters that must tell of an item once only (a periodic job's findings).
    once_key     text
);
CREATE INDEX events_feed ON events (recipient, seq);
CREATE UNIQUE INDEX events_once ON events (recipient, type, once_key) WHERE once_key IS NOT NULL;

-- A member's webhook. Secrets are sealed with the node's webhook key (data directory); after
-- a rotation the previous secret signs alongside the new one until previous_until.
CREATE TABLE webhooks (
    member_id       text PRIMARY KEY REFERENCES members (id),
    url             text        NOT NULL,
    types           text[]      NOT NULL DEFAULT '{}',
    secret          text        NOT NULL,
    previous_secret text,
    previous_until  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The delivery outbox: one row per event a webhook subscribed to when it was emitted.
-- A worker claims a due row with FOR UPDATE SKIP LOCKED and holds it while it posts.
CREATE TABLE webhook_deliveries (
    event_seq       bigint PRIMARY KEY REFERENCES events (seq),
    member_id       text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_member ON webhook_deliveries (member_id, event_seq DESC);

-- Every attempt, for the member's and the console's view of what went wrong lately.
CREATE TABLE webhook_attempts (
    event_seq   bigint      NOT NULL REFERENCES webhook_deliveries (event_seq),
    attempt     integer     NOT NULL,
    member_id   text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status      integer,
    error       text,
    duration_ms integer     NOT NULL,
    PRIMARY KEY (event_seq, attempt)
);
CREATE INDEX webhook_attempts_member ON webhook_attempts (member_id, at DESC);
