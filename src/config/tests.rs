use super::*;

fn err(toml: &str) -> ConfigError {
    Config::from_toml_str(toml)
        .err()
        .unwrap_or_else(|| panic!("accepted: {toml}"))
}

/// Each case must fail naming `key`, with a message starting `prefix`
/// (`{key}` in `prefix` stands for the key) and containing `fragment`.
fn check(cases: &[(&str, &str, &str)], prefix: &str) {
    for (toml, key, fragment) in cases {
        let e = err(toml);
        let text = e.to_string();
        assert_eq!(e.key(), Some(*key), "{toml:?}: {text}");
        assert!(text.starts_with(&prefix.replace("{key}", key)), "{text}");
        assert!(text.contains(fragment), "{text} lacks {fragment}");
    }
}

#[test]
fn bundled_config_is_the_defaults() {
    let bundled = Config::from_toml_str(include_str!("../../config.toml")).unwrap();
    assert_eq!(bundled, Config::default());
}

#[test]
fn empty_file_is_the_defaults() {
    assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    assert_eq!(Config::default().data_dir(), PathBuf::from("./data"));
    Config::default().validate().unwrap();
}

#[test]
fn values_are_read() {
    let c = Config::from_toml_str(
        "[listeners]\nhttp = \"\"\nadmin = \"[::1]:0\"\n[storage]\ndurability = \"batched\"\n\
         [log]\nformat = \"json\"\n[server]\ndata_dir = \"/var/lib/sb\"\n",
    )
    .unwrap();
    assert_eq!(c.listeners.http, None);
    assert_eq!(c.listeners.admin, Some("[::1]:0".parse().unwrap()));
    assert_eq!(c.storage.durability, Durability::Batched);
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.data_dir(), PathBuf::from("/var/lib/sb"));
    // Each limit itself is accepted; one past it is not (below).
    let edges = "[server]\nworkers = 64\n[limits]\nframe_bytes = 256\npending_bytes = 1073741824\n\
                 [default_guild]\nenabled = false\nname = \"\"";
    Config::from_toml_str(edges).unwrap();
}

#[test]
fn each_validation_error_names_its_key() {
    let below = "is below the minimum";
    let above = "is above the maximum";
    #[rustfmt::skip]
    check(&[
        ("[server]\nname = \"\"", "server.name", "must not be empty"),
        ("[server]\ndomain = \"a b\"", "server.domain", "whitespace"),
        ("[server]\ndata_dir = \"\"", "server.data_dir", "must not be empty"),
        ("[server]\nworkers = 0", "server.workers", "0 is below the minimum 1"),
        ("[server]\nworkers = 65", "server.workers", "65 is above the maximum 64"),
        ("[listeners]\nadmin = \"0.0.0.0:8080\"", "listeners.admin", "listeners.http"),
        ("[storage]\nflush_every_ms = 0", "storage.flush_every_ms", below),
        ("[storage]\nflush_every_ms = 60001", "storage.flush_every_ms", above),
        ("[storage]\ncache_capacity_mb = 65537", "storage.cache_capacity_mb", above),
        ("[limits]\nframe_bytes = 10", "limits.frame_bytes", "10 is below the minimum 256"),
        ("[limits]\nframe_bytes = 16777217", "limits.frame_bytes", above),
        ("[limits]\nmessage_length = 100001", "limits.message_length", above),
        ("[limits]\npending_bytes = 4095", "limits.pending_bytes", below),
        ("[limits]\nmailbox_capacity = 15", "limits.mailbox_capacity", below),
        ("[limits]\nmailbox_capacity = 1000001", "limits.mailbox_capacity", above),
        ("[limits]\nrequest_body_bytes = 1023", "limits.request_body_bytes", below),
        ("[jam]\nheartbeat_interval_ms = 999", "jam.heartbeat_interval_ms", below),
        ("[default_guild]\nname = \" \"", "default_guild.name", "must not be empty"),
        ("[default_guild]\ntext_channels = [\"a\", \"\"]", "default_guild.text_channels", "2 is empty"),
        ("[default_guild]\nvoice_channels = [\"a\", \"a\"]", "default_guild.voice_channels", "twice"),
        ("[log]\nlevel = \"\"", "log.level", "must not be empty"),
        ("[shutdown]\ntimeout_ms = 99", "shutdown.timeout_ms", below),
        ("[shutdown]\ntimeout_ms = 600001", "shutdown.timeout_ms", above),
    ], "config key `{key}`: ");
    let e = err("[limits]\nframe_bytes = 10");
    assert_eq!(
        e.to_string(),
        "config key `limits.frame_bytes`: 10 is below the minimum 256"
    );
}

#[test]
fn unknown_keys_and_tables_are_named() {
    #[rustfmt::skip]
    check(&[
        ("[server]\ncolour = \"red\"", "server.colour", "expected one of `name`, `domain`"),
        ("[server]\nname = \"x\"\n\n[storage]\ncolour = 1", "storage.colour", ""),
        ("server.colour = 1", "server.colour", ""),
        ("server = { name = \"x\", colour = 1 }", "server.colour", ""),
        ("[server.colour]\nx = 1", "server.colour", ""),
        ("[colour]\nx = 1", "colour", "expected one of `server`"),
        ("colour = 1", "colour", ""),
        ("\"a b\" = 1", "a b", ""),
    ], "unknown config key `{key}`");
    assert!(matches!(
        err("[server]\ncolour = 1"),
        ConfigError::UnknownKey { .. }
    ));
}

#[test]
fn wrong_types_and_values_are_named() {
    let ty = "invalid type";
    #[rustfmt::skip]
    check(&[
        ("[server]\nworkers = \"two\"", "server.workers", "invalid type: string \"two\""),
        ("[server]\nworkers = -1", "server.workers", "-1"),
        ("[storage]\ndurability = \"fast\"", "storage.durability", "expected \"strict\" or \"batched\", got \"fast\""),
        ("[log]\nformat = 1", "log.format", ty),
        ("[log]\nformat = \"xml\"", "log.format", "expected \"text\" or \"json\", got \"xml\""),
        ("[listeners]\nhttp = \"abc\"", "listeners.http", "not a socket address: \"abc\""),
        ("listeners = { admin = \"localhost:1\" }", "listeners.admin", "not a socket address"),
        ("[default_guild]\ntext_channels = [\n  \"a\",\n  2,\n]", "default_guild.text_channels", ty),
        ("[default_guild]\nenabled = \"yes\"", "default_guild.enabled", ty),
        ("[default_guild]\nvoice_channels = [{ x = 1 }]", "default_guild.voice_channels", ty),
        ("[jam]\nheartbeat_interval_ms = 1.5", "jam.heartbeat_interval_ms", ty),
        ("server = 5", "server", ty),
    ], "config key `{key}`: ");
    let e = err("[storage]\ndurability = \"fast\"");
    let want = "config key `storage.durability`: expected \"strict\" or \"batched\", got \"fast\"";
    assert_eq!(e.to_string(), want);
}

#[test]
fn syntax_errors_say_where() {
    for toml in ["[server\nname = 1", "[server]\nname = 1979-05-27"] {
        let e = err(toml);
        assert!(matches!(e, ConfigError::Parse(_)), "{e}");
        assert!(e.to_string().contains("line "), "{e}");
    }
}

#[test]
fn load_names_the_path() {
    let dir = std::env::temp_dir().join(format!("switchboard-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.toml");
    let e = Config::load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[limits]\nframe_bytes = 10\n").unwrap();
    let e = Config::load(&bad).unwrap_err();
    assert_eq!(e.key(), Some("limits.frame_bytes"));
    assert!(e.to_string().contains(&bad.display().to_string()), "{e}");

    let good = dir.join("good.toml");
    std::fs::write(&good, "[server]\nworkers = 4\n").unwrap();
    assert_eq!(Config::load(&good).unwrap().server.workers, 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn admin_token_is_not_in_debug_output() {
    let c = Config::from_toml_str("[admin]\ntoken = \"hunter2hunter2\"").unwrap();
    assert_eq!(c.admin.token, "hunter2hunter2");
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn admin_listens_on_loopback_only_by_default() {
    // The admin endpoint is reachable from the machine itself only, unless
    // the operator says otherwise.
    for config in [
        Config::default(),
        Config::from_toml_str("[admin]\ntoken = \"t\"").unwrap(),
    ] {
        let admin = config
            .listeners
            .admin
            .expect("admin listener on by default");
        assert!(admin.ip().is_loopback(), "{admin}");
        assert_eq!(admin, SocketAddr::from(([127, 0, 0, 1], 9090)));
    }
}

fn load_env(toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load_with_env(&path, vars.collect::<Vec<_>>())
}

#[test]
fn env_overrides_win_over_the_file() {
    let c = load_env(
        "[limits]\nmessage_length = 50\n",
        &[
            ("SWITCHBOARD_LIMITS_MESSAGE_LENGTH", "100"),
            ("SWITCHBOARD_LISTENERS_HTTP", "127.0.0.1:0"),
            ("SWITCHBOARD_SERVER_NAME", "123"),
            ("SWITCHBOARD_DEFAULT_GUILD_NAME", "Lobby"),
            ("SWITCHBOARD_STORAGE_DURABILITY", "batched"),
            ("SWITCHBOARD_ORIGINCHATS_ALLOW_REGISTRATION", "false"),
            ("SWITCHBOARD_TEST_LOG", "debug"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(c.limits.message_length, 100);
    assert_eq!(
        c.listeners.http,
        Some(SocketAddr::from(([127, 0, 0, 1], 0)))
    );
    assert_eq!(c.server.name, "123");
    assert_eq!(c.default_guild.name, "Lobby");
    assert_eq!(c.storage.durability, Durability::Batched);
    assert!(!c.originchats.allow_registration);
    assert_eq!(c.server.workers, 2, "untouched keys keep their values");
}

#[test]
fn env_overrides_reach_nested_tables() {
    let c = load_env(
        "[originchats.rate_limiting]\nburst_limit = 3\n",
        &[
            ("SWITCHBOARD_ORIGINCHATS_RATE_LIMITING_ENABLED", "false"),
            (
                "SWITCHBOARD_ORIGINCHATS_RATE_LIMITING_MESSAGES_PER_MINUTE",
                "7",
            ),
        ],
    )
    .unwrap();
    assert!(!c.originchats.rate_limiting.enabled);
    assert_eq!(c.originchats.rate_limiting.messages_per_minute, 7);
    assert_eq!(
        c.originchats.rate_limiting.burst_limit, 3,
        "the file's key stays"
    );
    let e = load_env(
        "",
        &[(
            "SWITCHBOARD_ORIGINCHATS_RATE_LIMITING_MESSAGES_PER_MINUTE",
            "0",
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("originchats.rate_limiting.messages_per_minute"),
        "{e}"
    );
    let e = load_env("", &[("SWITCHBOARD_ORIGINCHATS_RATE_LIMITING_COLOUR", "1")]).unwrap_err();
    assert!(
        e.to_string()
            .contains("SWITCHBOARD_ORIGINCHATS_RATE_LIMITING_COLOUR"),
        "{e}"
    );
}

#[test]
fn bad_env_overrides_name_the_variable() {
    let e = load_env("", &[("SWITCHBOARD_LIMITS_COLOUR", "1")]).unwrap_err();
    assert!(matches!(e, ConfigError::UnknownEnv { .. }), "{e}");
    assert!(e.to_string().contains("SWITCHBOARD_LIMITS_COLOUR"), "{e}");
    let e = load_env("", &[("SWITCHBOARD_NOPE", "1")]).unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown environment variable SWITCHBOARD_NOPE"),
        "{e}"
    );

    let e = load_env("", &[("SWITCHBOARD_SERVER_WORKERS", "many")]).unwrap_err();
    assert_eq!(e.key(), Some("server.workers"), "{e}");
    assert!(
        e.to_string()
            .starts_with("environment variable SWITCHBOARD_SERVER_WORKERS: "),
        "{e}"
    );

    let e = load_env("", &[("SWITCHBOARD_LIMITS_MESSAGE_LENGTH", "0")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable SWITCHBOARD_LIMITS_MESSAGE_LENGTH: \
         config key `limits.message_length`: 0 is below the minimum 1"
    );
    let e = load_env("", &[("SWITCHBOARD_LISTENERS_HTTP", "nowhere")]).unwrap_err();
    assert_eq!(e.key(), Some("listeners.http"), "{e}");
}
