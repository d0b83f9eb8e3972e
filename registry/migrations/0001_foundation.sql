-- The node, its principals and their keys, the nonce store, write evidence and the
-- hash-chained change log that federation publishes.

CREATE TABLE node_identity (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    node_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One chain per origin: this node's own (origin = node_id) and one per peer it pulls.
-- `data` is the canonical JSON text, kept byte for byte so that it re-hashes to data_hash.
CREATE TABLE change_log (
    origin      text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq > 0),
    type        text        NOT NULL,
    record_id   text        NOT NULL,
    op          text        NOT NULL CHECK (op IN ('upsert', 'delete')),
    data        text,
    data_hash   text        NOT NULL,
    prev        text        NOT NULL,
    hash        text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, seq)
);
CREATE INDEX change_log_record ON change_log (type, record_id);

CREATE TABLE members (
    id         text PRIMARY KEY,
    origin     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('lender', 'debt_buyer', 'collection_agency', 'carrier')),
    subtype    text,
    name       text NOT NULL,
    uscc       text NOT NULL UNIQUE,
    contact    jsonb NOT NULL DEFAULT '{}',
    complaints jsonb NOT NULL DEFAULT '{}',
    status     text NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'removed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX members_listing ON members (created_at, id);
CREATE INDEX members_kind_status ON members (kind, status);

CREATE TABLE member_status_history (
    member_id text        NOT NULL REFERENCES members (id),
    n         integer     NOT NULL,
    status    text        NOT NULL,
    reason    text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    by        text        NOT NULL,
    PRIMARY KEY (member_id, n)
);

CREATE TABLE operators (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Keys of every principal that signs requests: members, operators and peer nodes.
CREATE TABLE principal_keys (
    principal_id text        NOT NULL,
    kid          text        NOT NULL,
    jwk          jsonb       NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    PRIMARY KEY (principal_id, kid)
);

-- A jti is refused a second time while the token carrying it could still be accepted.
CREATE TABLE token_nonces (
    issuer     text        NOT NULL,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX token_nonces_expiry ON token_nonces (expires_at);

-- The signed token of every accepted write: it binds the body through `bh`, so a
-- record can later be shown to have come from its principal.
CREATE TABLE write_evidence (
    id           bigserial PRIMARY KEY,
    principal_id text        NOT NULL,
    jti          text        NOT NULL,
    token        text        NOT NULL,
    method       text        NOT NULL,
    path         text        NOT NULL,
    record_type  text        NOT NULL,
    record_id    text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX write_evidence_record ON write_evidence (record_type, record_id);

-- Fixed-window request counters shared by every worker (public endpoints, collector
-- checks). Unlogged: after a crash the windows simply start again.
CREATE UNLOGGED TABLE rate_counters (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
