-- The operator console: staff credentials (argon2 password + TOTP), server-side sessions
-- and the audit trail of every console action. None of it is replicated: it stays home.

CREATE TABLE operator_credentials (
    operator_id     text PRIMARY KEY REFERENCES operators (id),
    login           text NOT NULL UNIQUE,
    password_hash   text,            -- argon2id, PHC string
    totp_secret     text,            -- sealed with the node's console key (AES-GCM)
    -- The last TOTP time step accepted: a code is good once, never replayed.
    totp_last_step  bigint NOT NULL DEFAULT 0,
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The cookie holds a random 256-bit id; only its SHA-256 is kept, so a database read
-- does not hand out live sessions.
CREATE TABLE console_sessions (
    id_hash      text PRIMARY KEY,
    operator_id  text NOT NULL REFERENCES operators (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_operator ON console_sessions (operator_id);

-- Who did what, when, from the console (Article 19: access control and audit).
CREATE TABLE operator_audit (
    id          bigserial PRIMARY KEY,
    operator_id text,                -- null for a sign-in attempt with an unknown login
    at          timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL,
    target_type text,
    target_id   text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX operator_audit_target ON operator_audit (target_type, target_id);
CREATE INDEX operator_audit_operator ON operator_audit (operator_id, at);
