//! The command line, as clap sees it. Flags win over the environment (`AIOPS_URL`,
//! `AIOPS_TOKEN`, `AIOPS_CA`, `AIOPS_CLIENT_CERT`, `AIOPS_CLIENT_KEY`), which wins over the
//! defaults.

use std::time::Duration;

use aiops_core::ApprovalState;
use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use strum::VariantArray;

use crate::client::{TlsFiles, Token};

/// Where `aiops` looks for the daemon when neither `--url` nor `AIOPS_URL` says.
pub const DEFAULT_URL: &str = "http://127.0.0.1:30080";

/// The largest page the daemon answers (`limit` of its lists).
pub const MAX_PAGE: u32 = 500;

/// How long `ask` and `rollback` wait for a request to end by default: an hour, long
/// enough for a human to see the approval and decide.
pub const DEFAULT_WAIT_SECS: u64 = 3600;

/// Operator CLI for aiopsd.
#[derive(Debug, Parser)]
#[command(name = "aiops", version, about, long_about = None)]
pub struct Cli {
    /// Base URL of aiopsd.
    #[arg(long, global = true, env = "AIOPS_URL", default_value = DEFAULT_URL)]
    pub url: String,

    /// API bearer token. A secret: never printed (not even by --help).
    #[arg(
        long,
        global = true,
        env = "AIOPS_TOKEN",
        hide_env_values = true,
        value_parser = parse_token
    )]
    pub token: Option<Token>,

    /// CA certificates (PEM) to trust for an https:// URL, instead of the system's roots.
    #[arg(long, global = true, env = "AIOPS_CA", value_name = "PEM")]
    pub ca: Option<std::path::PathBuf>,

    /// A client certificate (PEM) to present (mTLS); needs --key.
    #[arg(
        long,
        global = true,
        env = "AIOPS_CLIENT_CERT",
        value_name = "PEM",
        requires = "key"
    )]
    pub cert: Option<std::path::PathBuf>,

    /// The client certificate's private key (PEM); needs --cert. Read, never printed.
    #[arg(
        long,
        global = true,
        env = "AIOPS_CLIENT_KEY",
        value_name = "PEM",
        requires = "cert"
    )]
    pub key: Option<std::path::PathBuf>,

    /// Print the server's JSON response instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask for a change (or a question) in plain language and wait for its outcome.
    ///
    /// The daemon parses the sentence into a catalog action, asks the policy, plans the
    /// change (the diff), runs it and reads the world back (the verification), or holds it
    /// for approval. While it is held, `aiops ask` polls it (a spinner on a terminal) until
    /// it ends or --wait-timeout passes. Ctrl-C stops the waiting only: the request stays
    /// with the daemon, approvers can still approve it, and `aiops show ID` follows it.
    ///
    /// Exit codes: 0 success, dry_run, answered (or held for approval with --no-wait);
    /// 4 denied, unrecognized or failed (a diverged verification too); 5 still not ended
    /// at --wait-timeout; 130 Ctrl-C; 1 the daemon refused the call; 3 it cannot be reached.
    Ask {
        /// The request, in plain language (quote it).
        #[arg(value_name = "SENTENCE", value_parser = NonEmptyStringValueParser::new())]
        sentence: String,
        /// Plan only: show what would change; nothing is changed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Show one request: who asked what, its audit timeline, the verification and the error.
    Show {
        /// The request id (printed by `aiops ask`).
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// Undo a request that succeeded: ask for the catalog inverse of its change.
    ///
    /// The rollback is a new request (with its own id, policy decision, approval and
    /// verification) that restores what the change replaced. The daemon refuses it (exit 1,
    /// with its reason) when the request changed nothing or its action cannot be undone
    /// (not_reversible), or when the world moved on since the change (conflict; the message
    /// says what differs). Waiting, Ctrl-C and exit codes are as for `aiops ask`.
    Rollback {
        /// The id of the request to undo.
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Plan the inverse only: show what would change; nothing is changed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Changes waiting for (or decided by) a human.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Index runbooks (Markdown, plain text) for retrieval and `ops.ask` (needs an admin
    /// token). Directories are walked; each document is known by its path inside the
    /// directory given. Unchanged documents are left alone.
    Ingest {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// The corpus the documents belong to.
        #[arg(long, default_value = aiops_api::documents::DEFAULT_SOURCE, value_parser = NonEmptyStringValueParser::new())]
        source: String,
        /// Keep documents of the source that are not under PATHS (by default the index
        /// mirrors the tree: documents gone from it are removed).
        #[arg(long)]
        no_prune: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List approvals in one state (pending by default), oldest first: every page, or one
    /// page with --limit.
    List {
        /// Which approvals to list.
        #[arg(long, value_parser = StateFilter::parser(), default_value_t = ApprovalState::Pending.into())]
        state: StateFilter,
        /// One page of at most N (1 to 500) instead of all of them; the next page's
        /// --cursor is printed after the table (`next_cursor` with --json).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
        limit: Option<u32>,
        /// Start after the page that answered this cursor.
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        cursor: Option<String>,
        /// Approvals per request while following every page (tests use small pages).
        #[arg(long, hide = true, default_value_t = MAX_PAGE, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
        page_size: u32,
    },
    /// Show one approval: its fields, the decisions so far and the plan diff.
    Show {
        /// The approval id.
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// Approve a pending change (needs a token whose user may approve it).
    Approve {
        /// The approval id.
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Why (recorded in the audit trail).
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        reason: Option<String>,
    },
    /// Reject a pending change; the request is denied and nothing runs.
    Reject {
        /// The approval id.
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Why (required; recorded in the audit trail and shown to the requester).
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        reason: String,
    },
}

/// How `ask` and `rollback` wait for a request held for approval (or still executing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct WaitArgs {
    /// Do not wait: print the answer as it is (a request held for approval prints its
    /// approval id and exits 0; follow it with `aiops show ID`).
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after SECS seconds (exit 5); the request itself goes on.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_WAIT_SECS,
        conflicts_with = "no_wait",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub wait_timeout: u64,
}

impl WaitArgs {
    /// How long to wait, or `None` for `--no-wait`.
    pub fn timeout(self) -> Option<Duration> {
        (!self.no_wait).then(|| Duration::from_secs(self.wait_timeout))
    }
}

/// The `--state` of `approvals list`: one approval state, or `all` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateFilter(pub Option<ApprovalState>);

impl StateFilter {
    pub const ALL: StateFilter = StateFilter(None);
    const ALL_NAME: &str = "all";

    /// The `state` query parameter; `None` lists every state.
    pub fn state(self) -> Option<ApprovalState> {
        self.0
    }

    /// The `--state` values: every state the daemon knows (its own names, so the two never
    /// drift apart), then `all`.
    fn parser() -> impl TypedValueParser<Value = StateFilter> {
        let names = ApprovalState::VARIANTS
            .iter()
            .map(|s| s.as_str())
            .chain([Self::ALL_NAME]);
        // Every accepted name but `all` is a state's, so only `all` fails to parse.
        PossibleValuesParser::new(names).map(|name| StateFilter(name.parse().ok()))
    }
}

impl From<ApprovalState> for StateFilter {
    fn from(state: ApprovalState) -> Self {
        StateFilter(Some(state))
    }
}

impl std::fmt::Display for StateFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.map_or(Self::ALL_NAME, ApprovalState::as_str))
    }
}

impl Cli {
    /// The token, if one was given; an empty `AIOPS_TOKEN=` counts as none.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref().filter(|t| !t.expose().is_empty())
    }

    /// The TLS files given (`--ca`, `--cert`, `--key`).
    pub fn tls(&self) -> TlsFiles {
        TlsFiles {
            ca: self.ca.clone(),
            identity: self.cert.clone().zip(self.key.clone()),
        }
    }
}

/// Never fails: clap quotes a rejected value in its error message, and this value is a
/// secret. Emptiness is handled by [`Cli::token`], bad header bytes by the client.
fn parse_token(s: &str) -> Result<Token, std::convert::Infallible> {
    Ok(Token::new(s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn reject_needs_a_reason_and_list_defaults_to_pending() {
        let err = Cli::try_parse_from(["aiops", "approvals", "reject", "01J"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let cli = Cli::try_parse_from(["aiops", "approvals", "list"]).unwrap();
        let Command::Approvals(ApprovalsCommand::List {
            state,
            limit,
            cursor,
            page_size,
        }) = cli.command
        else {
            panic!("{cli:?}")
        };
        assert_eq!(state, ApprovalState::Pending.into());
        // Every page by default, in the largest pages the daemon answers.
        assert_eq!((limit, cursor, page_size), (None, None, MAX_PAGE));
        assert_eq!(StateFilter::ALL.state(), None);
        // Every state the daemon knows can be listed, and each filter names one.
        let list_state = |name: &str| {
            let cli = Cli::try_parse_from(["aiops", "approvals", "list", "--state", name]);
            match cli.map(|c| c.command) {
                Ok(Command::Approvals(ApprovalsCommand::List { state, .. })) => state,
                other => panic!("{name}: {other:?}"),
            }
        };
        for state in ApprovalState::VARIANTS {
            assert_eq!(list_state(state.as_str()).state(), Some(*state));
        }
        assert_eq!(list_state("all"), StateFilter::ALL);
        // A page is 1 to 500 approvals; clap refuses anything else before any request.
        for bad in ["0", "501", "-1", "ten"] {
            let err = Cli::try_parse_from(["aiops", "approvals", "list", "--limit", bad]);
            assert_eq!(err.unwrap_err().exit_code(), 2, "--limit {bad}");
        }
        let cli = Cli::try_parse_from(["aiops", "approvals", "list", "--limit", "20"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Approvals(ApprovalsCommand::List {
                limit: Some(20),
                ..
            })
        ));
    }

    #[test]
    fn ask_and_rollback_wait_an_hour_unless_told() {
        let cli = Cli::try_parse_from(["aiops", "ask", "delete the A record x.local"]).unwrap();
        let Command::Ask {
            sentence,
            dry_run,
            wait,
        } = cli.command
        else {
            panic!("{cli:?}")
        };
        assert_eq!(sentence, "delete the A record x.local");
        assert!(!dry_run);
        assert_eq!(wait.timeout(), Some(Duration::from_secs(3600)));
        let cli = Cli::try_parse_from([
            "aiops",
            "rollback",
            "01J",
            "--dry-run",
            "--wait-timeout",
            "90",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Rollback { dry_run: true, wait, .. }
                if wait.timeout() == Some(Duration::from_secs(90))
        ));
        let cli = Cli::try_parse_from(["aiops", "ask", "x", "--no-wait"]).unwrap();
        assert!(matches!(cli.command, Command::Ask { wait, .. } if wait.timeout().is_none()));
        // Usage errors before any request: no sentence, an empty one, a zero or negative
        // timeout, a timeout with --no-wait.
        for args in [
            &["aiops", "ask"][..],
            &["aiops", "ask", ""],
            &["aiops", "ask", "x", "--wait-timeout", "0"],
            &["aiops", "ask", "x", "--wait-timeout", "-5"],
            &["aiops", "ask", "x", "--no-wait", "--wait-timeout", "5"],
            &["aiops", "show"],
            &["aiops", "rollback"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let help = Cli::command()
            .find_subcommand_mut("ask")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("Ctrl-C stops the waiting only"), "{help}");
    }

    #[test]
    fn global_flags_go_anywhere_and_the_token_stays_hidden() {
        let cli = Cli::try_parse_from([
            "aiops",
            "approvals",
            "approve",
            "01J",
            "--json",
            "--token",
            "s3cret-token-value",
            "--url",
            "http://h:1",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.url, "http://h:1");
        assert!(!format!("{cli:?}").contains("s3cret-token-value"));
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("AIOPS_TOKEN"), "{help}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let err =
            Cli::try_parse_from(["aiops", "--cert", "c.pem", "approvals", "list"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let cli = Cli::try_parse_from([
            "aiops",
            "--ca",
            "ca.pem",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "approvals",
            "list",
        ])
        .unwrap();
        let tls = cli.tls();
        assert_eq!(tls.ca.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert!(tls.identity.is_some());
    }

    #[test]
    fn usage_errors_never_quote_the_token() {
        let err = Cli::try_parse_from([
            "aiops",
            "--token",
            "s3cret-token-value",
            "--token",
            "s3cret-token-value",
            "approvals",
            "list",
        ])
        .unwrap_err();
        assert!(!err.to_string().contains("s3cret-token-value"), "{err}");
        let err = Cli::try_parse_from([
            "aiops",
            "--token=s3cret-token-value",
            "approvals",
            "list",
            "--state",
            "bogus",
        ])
        .unwrap_err();
        assert!(!err.to_string().contains("s3cret-token-value"), "{err}");
        // An empty token is no token (not an error that would echo it).
        let cli = Cli::try_parse_from(["aiops", "--token", " ", "approvals", "list"]).unwrap();
        assert!(cli.token().is_none());
    }
}
