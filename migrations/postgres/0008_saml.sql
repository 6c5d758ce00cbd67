-- SAML sign-in (docs/realms.md, "SAML sign-in"). Both tables live in the store, not in memory, so
-- a flow started on one replica can finish on another, and single use holds across replicas.
--
-- saml_requests: the AuthnRequests this installation issued and that are not yet answered. A
-- response's InResponseTo must name one; finishing deletes it (single use). `state` is the
-- client's opaque `state` from `_init`, handed back in the redirect after sign-in.
CREATE TABLE saml_requests (
    id          TEXT    PRIMARY KEY,
    realm_id    TEXT    NOT NULL,
    state       TEXT,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX saml_requests_expiry ON saml_requests (expires_at);

-- saml_assertions: the assertions already used to sign in, kept until they expire, so that a
-- replayed response is refused. `id` is "<realm id> <Assertion ID>".
CREATE TABLE saml_assertions (
    id          TEXT    PRIMARY KEY,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);
