//! The store contract: one backend-agnostic suite, run against every `Store` implementation.
//!
//! Each case is an `async fn(Ctx)` that only speaks to `dyn Store` (plus `open` for the schema
//! guard cases). The `contract!` macro at the bottom turns every case into one `#[tokio::test]`
//! per backend:
//! - `sqlite::<case>` runs on a fresh database file in a temporary directory;
//! - `postgres::<case>` runs when `ECE_TEST_DATABASE_URL` names a PostgreSQL database (e.g.
//!   `postgres://postgres@127.0.0.1:5432/test`), each case in its own fresh schema reached through
//!   `?options=-csearch_path%3D<schema>` and dropped afterwards. Without the variable these tests
//!   pass but say loudly on stderr that they were skipped (`SKIPPED postgres::<case>`); with
//!   `CI=true` they fail instead.
//!
//! The cases, by subject, under `tests/store_contract/`:
//! - the account (`account.rs`): created once, updated by compare-and-swap;
//! - users (`users.rs`): insert, list order, compare-and-swap updates ending sessions, deletion
//!   cascading, login stamps, concurrent inserts and updates;
//! - sessions (`sessions.rs`): a login in one transaction, token lookups, revoking and purging;
//! - token refresh (`refresh.rs`): grace periods, one chain per session, the rate limit, many
//!   sessions at once;
//! - API keys (`api_keys.rs`): the per-user limit, lookups, deletion, purging expired keys;
//! - opening a store (`opening.rs`): migrating or not, a newer schema refused, migration 0006 of
//!   the digests, the statement timeout;
//! - the audit log (`audit.rs`): filters, the limit, purging;
//! - security realms (`realms.rs`) and SAML sign-in state (`sso.rs`).
//!
//! The harness: `store_contract/harness.rs` (the [`Ctx`] of a case, running it on each backend, raw
//! connections) and `store_contract/fixtures.rs` (records, times and repeated store calls).

/// What a case returns: unexpected errors propagate with `?` and fail the test.
type Res = anyhow::Result<()>;

#[path = "store_contract/fixtures.rs"]
mod fixtures;
#[path = "store_contract/harness.rs"]
mod harness;

use fixtures::*;
use harness::*;

#[path = "store_contract/account.rs"]
mod account_cases;
#[path = "store_contract/api_keys.rs"]
mod api_key_cases;
#[path = "store_contract/audit.rs"]
mod audit_cases;
#[path = "store_contract/opening.rs"]
mod opening_cases;
#[path = "store_contract/realms.rs"]
mod realm_cases;
#[path = "store_contract/refresh.rs"]
mod refresh_cases;
#[path = "store_contract/sessions.rs"]
mod session_cases;
#[path = "store_contract/sso.rs"]
mod sso_cases;
#[path = "store_contract/users.rs"]
mod user_cases;

use account_cases::{account, account_concurrent};
use api_key_cases::{api_key_limit_concurrent, api_key_purge, api_keys};
use audit_cases::audit_log;
use opening_cases::{digests_migrate_to_binary, schema_guard, statement_timeout};
use realm_cases::{
    external_users, realm_end_ends_external_access, realms, realms_concurrent, realms_reorder,
};
use refresh_cases::{refresh, refresh_concurrent, refresh_many_sessions, refresh_rate_limit};
use session_cases::{revoke_and_purge, sessions, start_session};
use sso_cases::{saml_assertions, saml_requests};
use user_cases::{
    insert_user_concurrent, list_order, login_stamps, update_user_concurrent, user_delete_cascades,
    user_update_ends_sessions, users,
};

// ---------------------------------------------------------------------------------------------
// One test per (backend, case)
// ---------------------------------------------------------------------------------------------

macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::on_postgres(stringify!($case), super::$case).await;
                }
            )+
        }
    };
}

contract!(
    account,
    account_concurrent,
    users,
    list_order,
    user_update_ends_sessions,
    user_delete_cascades,
    login_stamps,
    start_session,
    sessions,
    refresh,
    refresh_concurrent,
    refresh_rate_limit,
    refresh_many_sessions,
    revoke_and_purge,
    api_keys,
    api_key_purge,
    api_key_limit_concurrent,
    insert_user_concurrent,
    update_user_concurrent,
    schema_guard,
    digests_migrate_to_binary,
    statement_timeout,
    audit_log,
    realms,
    realms_reorder,
    realms_concurrent,
    external_users,
    realm_end_ends_external_access,
    saml_requests,
    saml_assertions,
);
