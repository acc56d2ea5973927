//! Unit tests of loading, overrides and validation.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nsl.toml");
    std::fs::write(&path, text).unwrap();
    Config::load_from(Some(&path), env(vars))
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

#[test]
fn defaults_run_without_a_file() {
    let cfg = Config::load_from(None, env(&[])).unwrap();
    assert_eq!(cfg, Config::default());
    assert_eq!(cfg.node.data_dir, PathBuf::from(".nsl/data"));
    assert_eq!(cfg.api.listen, "127.0.0.1:8080");
    assert_eq!(cfg.api.body_limit_bytes, 1 << 20);
    assert_eq!(cfg.api.request_timeout_ms, 10_000);
    assert!(!cfg.api.trust_forwarded_for);
    assert_eq!(cfg.auth.access_ttl_secs, 900);
    assert_eq!(cfg.auth.refresh_ttl_secs, 2_592_000);
    assert_eq!(cfg.auth.challenge_ttl_secs, 300);
    let url = cfg.database_url();
    assert!(
        url.starts_with("sqlite:///") && url.ends_with(".nsl/data/nsl.db"),
        "{url}"
    );
}

#[test]
fn file_overrides_only_what_it_names() {
    let cfg = load_text(
        "[api]\nlisten = \"0.0.0.0:9000\"\n[rate_limit.groups.auth]\nper_api_key = { rate_per_sec = 2.5, burst = 3 }\n",
        &[],
    )
    .unwrap();
    assert_eq!(cfg.api.listen, "0.0.0.0:9000");
    assert_eq!(cfg.api.request_timeout_ms, 10_000);
    // The default auth per-IP override survives a partial group table.
    assert_eq!(
        cfg.rate_limit.per_ip_for(RouteGroup::Auth),
        Bucket {
            rate_per_sec: 1.0,
            burst: 10
        }
    );
    assert_eq!(
        cfg.rate_limit.per_api_key_for(RouteGroup::Auth),
        Bucket {
            rate_per_sec: 2.5,
            burst: 3
        }
    );
    assert_eq!(
        cfg.rate_limit.per_ip_for(RouteGroup::Read),
        cfg.rate_limit.per_ip
    );
}

#[test]
fn unknown_file_key_is_named_with_its_line() {
    let err = load_text("[api]\nlisten = \"127.0.0.1:1\"\nlisen_typo = 3\n", &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`api.lisen_typo`") && msg.contains("line 3"),
        "{msg}"
    );
    let err = load_text("[apii]\nx = 1\n", &[]).unwrap_err().to_string();
    assert!(err.contains("apii"), "{err}");
    let err = load_text("[rate_limit.groups.admin]\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`rate_limit.groups.admin`"), "{err}");
    let err = load_text(
        "[rate_limit.per_ip]\nrate_per_sec = 1\nburst = 2\nextra = 3\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`rate_limit.per_ip.extra`"), "{err}");
}

#[test]
fn wrong_type_in_file_is_reported() {
    let err = load_text("[api]\nbody_limit_bytes = \"big\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn env_overrides_are_typed_by_key() {
    let cfg = Config::load_from(
        None,
        env(&[
            ("NSL_API__LISTEN", "0.0.0.0:8081"),
            ("NSL_API__BODY_LIMIT_BYTES", "2048"),
            ("NSL_API__TRUST_FORWARDED_FOR", "true"),
            ("NSL_DATABASE__URL", "postgres://u:pw@h/db"),
            ("NSL_RATE_LIMIT__PER_IP__RATE_PER_SEC", "3"),
            ("NSL_CONFIG", "ignored.toml"),
            ("NSL_TEST_PG_URL", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.api.listen, "0.0.0.0:8081");
    assert_eq!(cfg.api.body_limit_bytes, 2048);
    assert!(cfg.api.trust_forwarded_for);
    assert_eq!(cfg.database.url, "postgres://u:pw@h/db");
    assert_eq!(cfg.rate_limit.per_ip.rate_per_sec, 3.0);
}

#[test]
fn env_beats_file_and_nested_optional_buckets_work() {
    let cfg = load_text(
        "[api]\nlisten = \"127.0.0.1:1\"\n",
        &[
            ("NSL_API__LISTEN", "127.0.0.1:2"),
            ("NSL_RATE_LIMIT__GROUPS__AUTH__PER_IP__BURST", "5"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.api.listen, "127.0.0.1:2");
    assert_eq!(cfg.rate_limit.per_ip_for(RouteGroup::Auth).burst, 5);
}

#[test]
fn unknown_env_key_is_rejected_by_name() {
    let err = Config::load_from(None, env(&[("NSL_API__LISTN", "x")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("NSL_API__LISTN") && err.contains("api.listn"),
        "{err}"
    );
    let err = Config::load_from(None, env(&[("NSL_NOPE__X", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("NSL_NOPE__X"), "{err}");
    let err = Config::load_from(None, env(&[("NSL_API_LISTEN", "x")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("NSL_API__LISTEN"), "{err}");
    let err = Config::load_from(None, env(&[("NSL_API__BODY_LIMIT_BYTES", "lots")])).unwrap_err();
    assert!(err.to_string().contains("expects an integer"), "{err}");
    let err = Config::load_from(None, env(&[("NSL_AUTH_JWT_SECRET", "x")])).unwrap_err();
    assert!(err.to_string().contains("NSL_AUTH__JWT_SECRET"), "{err}");
    assert!(Config::load_from(None, env(&[("NSL_API_KEY", "x"), ("NSL_API_URL", "y")])).is_ok());
    let err = Config::load_from(None, env(&[("NSL_API", "x")]));
    assert!(
        err.is_ok(),
        "NSL_ variables without __ that match no section are not config"
    );
}

#[test]
fn secret_in_file_is_refused_with_a_hint() {
    let err = load_text(&format!("[auth]\njwt_secret = \"{SECRET}\"\n"), &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("NSL_AUTH__JWT_SECRET") && msg.contains("jwt_secret_file"),
        "{msg}"
    );
    assert!(!msg.contains(SECRET), "{msg}");
}

#[test]
fn secret_from_env_is_redacted_everywhere() {
    let numeric = "12345678901234567890123456789012345";
    for value in [SECRET, numeric] {
        let cfg = Config::load_from(None, env(&[("NSL_AUTH__JWT_SECRET", value)])).unwrap();
        assert_eq!(cfg.jwt_secret().unwrap().expose(), value);
        assert!(!format!("{cfg:?}").contains(value));
        assert!(!cfg.to_redacted_toml().contains(value));
        assert!(cfg.to_redacted_toml().contains(REDACTED));
        assert!(!cfg.to_redacted_json().to_string().contains(value));
    }
    let cfg = Config::load_from(
        None,
        env(&[("NSL_DATABASE__URL", "postgres://u:pw123@h/db")]),
    )
    .unwrap();
    assert!(!cfg.to_redacted_toml().contains("pw123"));
    assert!(!format!("{cfg:?}").contains("pw123"));
}

#[test]
fn short_secret_is_invalid() {
    let err = Config::load_from(None, env(&[("NSL_AUTH__JWT_SECRET", "short")])).unwrap_err();
    assert!(err.to_string().contains("at least 32"), "{err}");
    assert!(!err.to_string().contains("short"));
}

#[test]
fn validation_names_the_key() {
    let cases = [
        ("[api]\nlisten = \"nowhere\"\n", "api.listen"),
        ("[database]\nurl = \"mysql://x\"\n", "database.url"),
        (
            "[database]\nmax_connections = 0\n",
            "database.max_connections",
        ),
        ("[log]\nlevel = \"loud\"\n", "log.level"),
        ("[auth]\nrefresh_ttl_secs = 10\n", "auth.refresh_ttl_secs"),
        (
            "[rate_limit.per_ip]\nrate_per_sec = 0\nburst = 1\n",
            "rate_limit.per_ip.rate_per_sec",
        ),
        (
            "[rate_limit.groups.read]\nper_ip = { rate_per_sec = 1, burst = 0 }\n",
            "rate_limit.groups.read.per_ip.burst",
        ),
    ];
    for (text, key) in cases {
        let msg = load_text(text, &[]).unwrap_err().to_string();
        assert!(msg.contains(key), "{text:?} -> {msg}");
    }
    let cfg = load_text(
        "[log]\nformat = \"json\"\nlevel = \"info,sqlx=warn\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(cfg.log.format, LogFormat::Json);
}

#[test]
fn generated_jwt_secret_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg =
        Config::load_from(None, env(&[("NSL_NODE__DATA_DIR", data.to_str().unwrap())])).unwrap();
    let first = cfg.jwt_secret().unwrap();
    assert_eq!(first.expose().len(), 64);
    let second = cfg.jwt_secret().unwrap();
    assert_eq!(first, second);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = data.join(JWT_SECRET_FILE_NAME);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = cfg.jwt_secret().unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        // `config check` (validate) reports it too.
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("chmod 600") && !err.contains(first.expose()),
            "{err}"
        );
    }
}

#[test]
fn jwt_secret_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let cfg = load_text(
        &format!("[auth]\njwt_secret_file = {:?}\n", file.to_str().unwrap()),
        &[],
    )
    .unwrap();
    assert_eq!(cfg.jwt_secret().unwrap().expose(), SECRET);
    let missing = dir.path().join("missing");
    let err = load_text(
        &format!(
            "[auth]\njwt_secret_file = {:?}\n",
            missing.to_str().unwrap()
        ),
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn functions_section_defaults_file_and_env() {
    let d = Config::default().functions;
    assert!(d.enabled);
    assert_eq!(
        (d.max_timeout_ms, d.max_memory_bytes, d.max_fetches),
        (10_000, 128 * 1024 * 1024, 5)
    );
    assert_eq!((d.max_result_bytes, d.max_log_bytes), (65_536, 16_384));
    assert_eq!(
        (d.max_concurrent, d.max_pending, d.list_limit),
        (0, 1000, 100)
    );
    let cfg = load_text(
        "[functions]\nmax_timeout_ms = 2000\nmax_concurrent = 3\nmax_log_bytes = 0\n",
        &[
            ("NSL_FUNCTIONS__MAX_FETCHES", "2"),
            ("NSL_FUNCTIONS__MAX_TIMEOUT_MS", "2500"),
            ("NSL_FUNCTIONS__ENABLED", "false"),
        ],
    )
    .unwrap();
    let f = &cfg.functions;
    assert_eq!(f.max_timeout_ms, 2500, "env beats the file");
    assert_eq!(
        (f.max_concurrent, f.max_fetches, f.max_log_bytes),
        (3, 2, 0)
    );
    assert!(!f.enabled);
    assert_eq!(
        f.max_memory_bytes,
        128 * 1024 * 1024,
        "untouched keys keep defaults"
    );
    // Shown by `config show`.
    assert!(cfg.to_redacted_toml().contains("[functions]"));
    assert_eq!(cfg.to_redacted_json()["functions"]["max_timeout_ms"], 2500);
}

#[test]
fn randomness_section_defaults_env_and_bounds() {
    let d = Config::default().randomness;
    assert!(d.enabled);
    assert_eq!(d.max_words, 16);
    let cfg = load_text(
        "[randomness]\nmax_words = 4\n",
        &[("NSL_RANDOMNESS__ENABLED", "false")],
    )
    .unwrap();
    assert_eq!(
        (cfg.randomness.enabled, cfg.randomness.max_words),
        (false, 4)
    );
    for bad in ["0", "17"] {
        let err = load_text(&format!("[randomness]\nmax_words = {bad}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("randomness.max_words"), "{err}");
    }
    let err = load_text("[randomness]\nwords = 1\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("words"), "{err}");
}

#[test]
fn functions_section_refuses_unknown_keys_and_bad_values() {
    let err = load_text("[functions]\nmax_timeout = 1\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`functions.max_timeout`") && err.contains("line 2"),
        "{err}"
    );
    let err = Config::load_from(None, env(&[("NSL_FUNCTIONS__TIMEOUT_MS", "1")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("NSL_FUNCTIONS__TIMEOUT_MS") && err.contains("functions.timeout_ms"),
        "{err}"
    );
    let err = Config::load_from(None, env(&[("NSL_FUNCTIONS__MAX_FETCHES", "many")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expects an integer"), "{err}");
    let err = Config::load_from(None, env(&[("NSL_FUNCTIONS_MAX_FETCHES", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("NSL_FUNCTIONS__MAX_FETCHES"), "{err}");
    for (text, key) in [
        (
            "[functions]\nmax_timeout_ms = 0\n",
            "functions.max_timeout_ms",
        ),
        (
            "[functions]\nmax_memory_bytes = 1048576\n",
            "functions.max_memory_bytes",
        ),
        (
            "[functions]\nmax_result_bytes = 0\n",
            "functions.max_result_bytes",
        ),
        (
            "[functions]\nmax_source_bytes = 0\n",
            "functions.max_source_bytes",
        ),
        (
            "[functions]\nmax_args_bytes = 3\n",
            "functions.max_args_bytes",
        ),
        ("[functions]\nmax_pending = 0\n", "functions.max_pending"),
        ("[functions]\nlist_limit = 0\n", "functions.list_limit"),
        ("[functions]\nlist_limit = 1001\n", "functions.list_limit"),
    ] {
        let msg = load_text(text, &[]).unwrap_err().to_string();
        assert!(msg.contains(key), "{text:?} -> {msg}");
    }
    let err = load_text("[functions]\nmax_fetches = -1\n", &[]).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn hardening_keys_have_safe_defaults_and_are_validated() {
    let cfg = Config::default();
    assert!(!cfg.auth.open_signup, "closed sign-up by default");
    assert_eq!(cfg.api.header_read_timeout_ms, 10_000);
    assert_eq!(cfg.api.keep_alive_timeout_ms, 60_000);
    assert_eq!(cfg.api.max_connections, 1024);
    assert!(cfg.api.trusted_proxies.is_empty());
    assert_eq!(cfg.rate_limit.ipv6_prefix_len, 64);
    assert_eq!(cfg.auth.network_magic, 860_833_102);
    assert_eq!(cfg.login_domain(), "127.0.0.1:8080");
    assert_eq!(cfg.login_uri(), "http://127.0.0.1:8080");
    let cfg = Config::load_from(
        None,
        env(&[
            ("NSL_API__TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"),
            ("NSL_AUTH__OPEN_SIGNUP", "true"),
            ("NSL_AUTH__LOGIN_DOMAIN", "app.example.com"),
            ("NSL_RATE_LIMIT__PER_ACCOUNT__BURST", "7"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.api.trusted_proxies, vec!["10.0.0.0/8", "fd00::/8"]);
    assert!(cfg.auth.open_signup);
    assert_eq!(cfg.login_uri(), "http://app.example.com");
    assert_eq!(cfg.rate_limit.per_account_for(RouteGroup::Read).burst, 7);
    for (text, key) in [
        (
            "[api]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            "api.trusted_proxies",
        ),
        ("[api]\nmax_connections = 0\n", "api.max_connections"),
        (
            "[api]\nheader_read_timeout_ms = 0\n",
            "api.header_read_timeout_ms",
        ),
        (
            "[rate_limit]\nipv6_prefix_len = 0\n",
            "rate_limit.ipv6_prefix_len",
        ),
        ("[auth]\nlogin_domain = \"a\\nb\"\n", "auth.login_domain"),
    ] {
        let err = load_text(text, &[]).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[cfg(unix)]
#[test]
fn oracle_node_key_file_must_be_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.wif");
    let wif = "KxDgvEKzgSBPPfuVfw67oPQBSjidEiqTHURKSDL1R7yGaGYAeYnr";
    std::fs::write(&path, format!("{wif}\n")).unwrap();
    let cfg = OracleConfig {
        node_key_file: Some(path.clone()),
        ..OracleConfig::default()
    };
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = cfg.node_key().unwrap_err();
        assert!(
            err.contains("chmod 600") && err.contains("node.wif") && !err.contains(wif),
            "{mode:o}: {err}"
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(cfg.node_key().unwrap().expose(), wif);
}

#[test]
fn oracle_fee_ceiling_and_gas_warning() {
    let cfg = Config::load_from(None, env(&[])).unwrap();
    assert_eq!(cfg.oracle.max_response_fee, 200_000_000);
    assert_eq!(cfg.chain.low_gas_warning, 500_000_000);
    assert_eq!(cfg.oracle.max_batch, 64);
    assert_eq!(cfg.oracle.max_fetches, 16);
    let cfg = load_text("[oracle]\nmax_batch = 1\n", &[]).unwrap();
    assert_eq!(cfg.oracle.max_batch, 1);
    let cfg = load_text(
        "[oracle]\nmax_response_fee = 30000000\nlow_gas_warning = 0\n",
        &[],
    )
    .unwrap();
    assert_eq!(cfg.oracle.max_response_fee, 30_000_000);
    // The deprecated alias still sets the runtime's warning.
    assert_eq!(cfg.chain.low_gas_warning, 0);
    for (text, key) in [
        (
            "[oracle]\nmax_response_fee = 0\n",
            "oracle.max_response_fee",
        ),
        ("[oracle]\nlow_gas_warning = -1\n", "oracle.low_gas_warning"),
        ("[chain]\nlow_gas_warning = -1\n", "chain.low_gas_warning"),
        (
            "[chain]\nsystem_fee_margin = -1\n",
            "chain.system_fee_margin",
        ),
        ("[oracle]\nmax_batch = 0\n", "oracle.max_batch"),
        ("[oracle]\nmax_batch = 257\n", "oracle.max_batch"),
        ("[oracle]\nmax_fetches = 0\n", "oracle.max_fetches"),
    ] {
        let msg = load_text(text, &[]).unwrap_err().to_string();
        assert!(msg.contains(key), "{text:?} -> {msg}");
    }
}

#[test]
fn chain_endpoints_fall_back_to_oracle_rpc_url() {
    let cfg = Config::load_from(None, env(&[])).unwrap();
    assert!(cfg.chain.rpc_urls.is_empty());
    assert_eq!(cfg.chain.breaker_threshold, 3);
    assert_eq!(cfg.chain.breaker_cooldown_ms, 1_000);
    assert_eq!(cfg.chain.breaker_max_cooldown_ms, 30_000);
    assert_eq!(cfg.chain.lag_threshold, 5);
    assert_eq!(cfg.chain.health_interval_ms, 1_000);
    assert_eq!(
        cfg.chain.endpoints(&cfg.oracle.rpc_url),
        vec!["http://127.0.0.1:20332".to_string()]
    );
    let cfg = load_text(
        "[oracle]\nrpc_url = \"http://old:1\"\n[chain]\nrpc_urls = [\"http://a:1\", \"https://b:2/rpc\"]\nlag_threshold = 10\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        cfg.chain.endpoints(&cfg.oracle.rpc_url),
        vec!["http://a:1".to_string(), "https://b:2/rpc".to_string()]
    );
    assert_eq!(cfg.chain.lag_threshold, 10);
    // Environment: a comma-separated list.
    let cfg = Config::load_from(
        None,
        env(&[("NSL_CHAIN__RPC_URLS", "http://x:1, http://y:2")]),
    )
    .unwrap();
    assert_eq!(cfg.chain.rpc_urls, ["http://x:1", "http://y:2"]);
}

#[test]
fn chain_values_are_checked_and_urls_never_shown_whole() {
    for (text, key) in [
        (
            "[chain]\nrpc_urls = [\"ftp://u:pw@h\"]\n",
            "chain.rpc_urls[0]",
        ),
        (
            "[chain]\nrpc_urls = [\"http://a:1\", \"http://\"]\n",
            "chain.rpc_urls[1]",
        ),
        (
            "[chain]\nbreaker_threshold = 0\n",
            "chain.breaker_threshold",
        ),
        (
            "[chain]\nbreaker_cooldown_ms = 0\n",
            "chain.breaker_cooldown_ms",
        ),
        (
            "[chain]\nbreaker_cooldown_ms = 5000\nbreaker_max_cooldown_ms = 1000\n",
            "chain.breaker_max_cooldown_ms",
        ),
        ("[chain]\nrpc_url = \"http://a:1\"\n", "rpc_url"),
    ] {
        let msg = load_text(text, &[]).unwrap_err().to_string();
        assert!(msg.contains(key), "{text:?} -> {msg}");
        assert!(!msg.contains("pw"), "{msg}");
    }
    let cfg = load_text(
        "[oracle]\nrpc_url = \"http://op:oraclepw@n:1\"\n[chain]\nrpc_urls = [\"https://op:s3cret@a:1/rpc?apikey=k\"]\n",
        &[],
    )
    .unwrap();
    let shown = format!(
        "{}{}{:?}",
        cfg.to_redacted_toml(),
        cfg.to_redacted_json(),
        cfg.chain
    );
    for secret in ["s3cret", "apikey", "oraclepw"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert!(
        shown.contains("https://op:<redacted>@a:1/rpc?<redacted>"),
        "{shown}"
    );
}

/// The chain runtime's keys live in `[chain]`; the `[oracle]` keys they came from still work
/// (deprecated, listed for a warning) where `[chain]` keeps its default.
#[test]
fn runtime_keys_in_chain_with_deprecated_oracle_aliases() {
    let cfg = Config::load_from(None, env(&[])).unwrap();
    assert_eq!(cfg.chain.poll_interval_ms, 100);
    assert!(cfg.chain.block_push);
    assert_eq!(cfg.chain.start_block, None);
    assert_eq!(cfg.chain.system_fee_margin, 1_500_000);
    assert!(cfg.deprecations().is_empty());

    let cfg = load_text(
        "[oracle]\npoll_interval_ms = 250\nblock_push = false\nstart_block = 7\nlow_gas_warning = 0\n",
        &[],
    )
    .unwrap();
    assert_eq!(cfg.chain.poll_interval_ms, 250);
    assert!(!cfg.chain.block_push);
    assert_eq!(cfg.chain.start_block, Some(7));
    assert_eq!(cfg.chain.low_gas_warning, 0);
    let warnings = cfg.deprecations();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    for key in [
        "poll_interval_ms",
        "block_push",
        "start_block",
        "low_gas_warning",
    ] {
        assert!(
            warnings.iter().any(
                |w| w.contains(&format!("oracle.{key}")) && w.contains(&format!("chain.{key}"))
            ),
            "{key}: {warnings:?}"
        );
    }

    // `[chain]` wins over the alias.
    let cfg = load_text(
        "[chain]\npoll_interval_ms = 50\nstart_block = 3\n[oracle]\npoll_interval_ms = 250\nstart_block = 7\n",
        &[],
    )
    .unwrap();
    assert_eq!(cfg.chain.poll_interval_ms, 50);
    assert_eq!(cfg.chain.start_block, Some(3));
    let cfg = load_text("", &[("NSL_CHAIN__POLL_INTERVAL_MS", "20")]).unwrap();
    assert_eq!(cfg.chain.poll_interval_ms, 20);
}

#[test]
fn node_key_from_chain_or_the_deprecated_oracle_key() {
    let wif = "KxDgvEKzgSBPPfuVfw67oPQBSjidEiqTHURKSDL1R7yGaGYAeYnr";
    let other = "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4g";
    let cfg = load_text("", &[("NSL_CHAIN__NODE_KEY", wif)]).unwrap();
    let (key, from) = cfg.node_key().unwrap();
    assert_eq!((key.expose(), from), (wif, "chain.node_key"));
    assert!(cfg.deprecations().is_empty());

    let cfg = load_text("", &[("NSL_ORACLE__NODE_KEY", wif)]).unwrap();
    let (key, from) = cfg.node_key().unwrap();
    assert_eq!((key.expose(), from), (wif, "oracle.node_key"));
    assert!(
        cfg.deprecations()
            .iter()
            .any(|w| w.contains("oracle.node_key") && w.contains("chain.node_key")),
        "{:?}",
        cfg.deprecations()
    );

    let cfg = load_text(
        "",
        &[
            ("NSL_CHAIN__NODE_KEY", wif),
            ("NSL_ORACLE__NODE_KEY", other),
        ],
    )
    .unwrap();
    assert_eq!(cfg.node_key().unwrap().0.expose(), wif);

    let none = load_text("", &[]).unwrap().node_key().unwrap_err();
    assert!(none.contains("NSL_CHAIN__NODE_KEY"), "{none}");

    // A key in the file is refused, under either name, without echoing it.
    for section in ["chain", "oracle"] {
        let msg = load_text(&format!("[{section}]\nnode_key = \"{wif}\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&format!("{section}.node_key")) && !msg.contains(wif),
            "{msg}"
        );
    }
}
