-- Failed console sign-ins counted per (login, client address), not per login: an outsider
-- who knows a login locks only itself out, never the staff signing in from elsewhere.
-- operator_credentials.failed_attempts and .locked_until are no longer used (kept for code
-- still running during an upgrade; a later migration drops them).
CREATE TABLE sign_in_failures (
    login        text NOT NULL,
    client       text NOT NULL,          -- an IPv4 address, or an IPv6 /64
    failures     integer NOT NULL,       -- since the last lock ran out
    lockouts     integer NOT NULL,       -- locks in a row: each one twice as long
    locked_until timestamptz,
    last_failure timestamptz NOT NULL,
    PRIMARY KEY (login, client)
);
CREATE INDEX sign_in_failures_last ON sign_in_failures (last_failure);
