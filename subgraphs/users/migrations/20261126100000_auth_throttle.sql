-- Sign-in and sign-up attempts per account and per client address, kept in the
-- database so the limits hold across every replica of the service.
CREATE TABLE auth_throttle (
    scope             TEXT NOT NULL,
    key               TEXT NOT NULL,
    failures          INTEGER NOT NULL DEFAULT 0,
    window_started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until      TIMESTAMPTZ,
    PRIMARY KEY (scope, key)
);
