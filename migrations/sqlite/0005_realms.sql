-- Security realms (LDAP, Active Directory; SAML to come): one row per configured realm, in the
-- order they are evaluated (`position`, the API's `order`, unique and > 0: the native realm is 0
-- and not stored). `settings` is the realm's settings document as JSON text, without its secrets;
-- `secrets` holds them sealed with the realm secrets key (never in clear), NULL when none is set.
CREATE TABLE realms (
    id          TEXT    PRIMARY KEY,
    realm_type  TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    position    INTEGER NOT NULL UNIQUE CHECK (position <> 0),
    enabled     INTEGER NOT NULL,
    settings    TEXT    NOT NULL,
    secrets     TEXT,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
