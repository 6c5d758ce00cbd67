-- External users: users recorded at their first sign-in through an LDAP or Active Directory realm.
-- Both columns are NULL for native users. realm_id is not a foreign key: deleting a realm keeps
-- its users' rows (their sign-in simply fails from then on), as docs/realms.md says.
ALTER TABLE users ADD COLUMN realm_id TEXT;
ALTER TABLE users ADD COLUMN realm_type TEXT;
