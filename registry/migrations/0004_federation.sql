-- Federation: the peers this node pulls from (their pinned keys live in principal_keys,
-- so that they can sign feed requests), what each may receive, and how far each pull got.

CREATE TABLE peers (
    node_id    text PRIMARY KEY,
    url        text        NOT NULL,
    -- Record types this peer receives with their data; others reach it redacted.
    send_types text[]      NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per peer: the head of its chain as applied here, and what went wrong.
CREATE TABLE sync_state (
    peer            text PRIMARY KEY REFERENCES peers (node_id) ON DELETE CASCADE,
    applied_seq     bigint      NOT NULL DEFAULT 0,
    applied_hash    text        NOT NULL DEFAULT repeat('0', 64),
    peer_head_seq   bigint      NOT NULL DEFAULT 0,
    checkpoint      jsonb,
    last_pull_at    timestamptz,
    last_applied_at timestamptz,
    last_error      text,
    -- A verification failure: nothing more is applied from this peer until it is cleared.
    fault           text,
    fault_at        timestamptz
);
