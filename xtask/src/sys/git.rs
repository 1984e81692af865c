//! Running git the same way everywhere: the environment that makes the
//! commits the harness writes reproducible and independent of the user's
//! own git config.

/// Environment that makes git commits reproducible and independent of the
/// user's git config.
pub fn git_identity(sh: &xshell::Shell) -> Vec<xshell::PushEnv<'_>> {
    vec![
        sh.push_env("GIT_AUTHOR_NAME", "gsi-workbench"),
        sh.push_env("GIT_AUTHOR_EMAIL", "gsi-workbench@invalid"),
        sh.push_env("GIT_COMMITTER_NAME", "gsi-workbench"),
        sh.push_env("GIT_COMMITTER_EMAIL", "gsi-workbench@invalid"),
        sh.push_env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z"),
        sh.push_env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"),
        sh.push_env("GIT_CONFIG_NOSYSTEM", "1"),
        sh.push_env("GIT_CONFIG_GLOBAL", "/dev/null"),
    ]
}
