//! Functions service tests: every case runs against SQLite (temp dir) and a fresh PostgreSQL
//! database, through the real store, sandbox and egress client.

mod cases;
mod chain;
mod harness;
mod http;

/// Instantiate each case once per backend.
macro_rules! both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::harness::TestDb::sqlite(&[&nsl_functions::MIGRATIONS]).await;
                    crate::$module::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::harness::TestDb::postgres(&[&nsl_functions::MIGRATIONS]).await;
                    crate::$module::$name(&db).await;
                }
            )*
        }
    };
}

both_backends!(
    cases::create_and_sync_execute_returns_result_and_logs,
    cases::update_creates_a_new_version_used_by_later_executions,
    cases::async_execute_then_poll_to_succeeded,
    cases::timeout_is_recorded_as_failed_and_service_keeps_working,
    cases::accounts_cannot_see_each_others_functions_or_executions,
    cases::secrets_are_limited_to_granted_names,
    cases::fetch_outside_the_allowlist_is_refused,
    cases::fetch_goes_through_egress_which_refuses_loopback,
    cases::invalid_source_and_limits_are_rejected_and_limits_clamped,
    cases::recover_marks_unfinished_executions_interrupted,
    cases::pending_executions_are_bounded,
    http::http_api_end_to_end_with_two_accounts,
    http::http_onchain_callers_chain_executions_and_openapi,
    http::http_grants_need_the_grant_scope_and_are_audited,
    http::http_function_quotas_are_per_account,
    http::http_one_account_cannot_starve_another,
    chain::onchain_callers_are_validated_and_normalized,
    chain::chain_request_runs_for_an_allowed_requester_as_the_owner,
    chain::chain_request_is_forbidden_or_not_found_without_a_record,
    chain::chain_request_failures_are_public_kinds_only,
);
