//! The command line: clap derive definitions, and the configuration folded into the flags.
//! The `check` run itself is [`crate::pipeline`].

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config;
use crate::finding::Severity;
use crate::mr::FilterMode;
use crate::parse::Limits;
use crate::report::{self, Format};

/// Exit codes.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "kubegate",
    version,
    about = "A fast merge-request gate for GitOps repositories",
    long_about = "kubegate finds every Kubernetes manifest, validates it strictly against the \
                  Kubernetes schemas and reports every finding at its exact file:line:column.\n\n\
                  Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests: parse, validate against Kubernetes schemas, run policies, report
    Check(Box<CheckArgs>),
    /// List the built-in rules
    Rules(RulesArgs),
    /// Show everything about one built-in rule (by id or name)
    Explain {
        /// Rule id (`KG101`) or name (`privileged-container`)
        rule: String,
    },
    /// Render a kustomization as `kustomize build` does (natively, offline)
    Render(RenderArgs),
    /// List the CRDs embedded in kubegate (kind, group, versions served, project, version)
    Crds,
    /// Run Gatekeeper test suites (gator's `Suite` files) with kubegate's Gatekeeper engine
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Suite files, or directories searched recursively for them (default `.`); other YAML
    /// files are skipped
    #[arg(value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,

    /// Only the tests and cases whose `test/case` name matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,

    /// Print every case, not only the failing ones
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The kustomization's directory
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: std::path::PathBuf,

    /// `yaml`: what `kubectl kustomize DIR` prints; `json`: the objects with, for every
    /// node, the file, line and column it came from
    #[arg(long, short = 'f', value_enum, default_value_t = RenderFormat::Yaml)]
    pub format: RenderFormat,

    /// Let a kustomization read files outside its directory (kustomize's
    /// `--load-restrictor LoadRestrictionsNone`, as Flux builds)
    #[arg(long)]
    pub load_restrictor_none: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,

    /// Only the rules covering this check of checkov, kube-linter or trivy
    /// (`CKV_K8S_16`, `privileged-container`, `KSV017`; case-insensitive), exactly or
    /// partly; exits 1 when none does
    #[arg(long, value_name = "ID")]
    pub equivalent: Option<String>,

    /// List the admission policies (ValidatingAdmissionPolicy, Gatekeeper, Kyverno) found
    /// in these files and directories instead, each with the file and line it comes from
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with = "equivalent")]
    pub admission: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// One line per rule
    Text,
    /// Every rule with all its metadata
    Json,
    /// The rules reference (docs/rules.md)
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
}

impl FailOn {
    pub(crate) fn threshold(self) -> Severity {
        match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Files or directories to check (`-` reads standard input)
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<String>,

    /// Skip paths matching this glob (repeatable; gitignore syntax)
    #[arg(long, value_name = "GLOB", help_heading = "Input")]
    pub exclude: Vec<String>,

    /// File name to report for standard input
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub stdin_filename: Option<String>,

    /// Refuse files larger than this many bytes
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_file_size, help_heading = "Input")]
    pub max_file_size: u64,

    /// Kubernetes version whose schemas to validate against [default: newest embedded]
    #[arg(long, value_name = "VERSION", help_heading = "Schemas")]
    pub kubernetes_version: Option<String>,

    /// Report objects with no schema (custom resources) as errors instead of info
    #[arg(long, help_heading = "Schemas")]
    pub reject_missing_schemas: bool,

    /// CRD manifests (files or directories) outside the checked paths whose schemas
    /// validate custom resources; a CRD among the checked files comes first (repeatable)
    #[arg(long, value_name = "PATH", help_heading = "Schemas")]
    pub crds: Vec<std::path::PathBuf>,

    /// JSON schemas for the custom resources no CRD of the run or of --crds defines, before
    /// the embedded CRDs: kubeconform's -schema-location, local only (a file template such as
    /// `schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json`, or a folder in its layout); the
    /// first location with the file wins, URLs are refused (repeatable)
    #[arg(long, value_name = "TEMPLATE", help_heading = "Schemas")]
    pub schema_location: Vec<String>,

    /// Do not use the CRDs embedded in kubegate (`kubegate crds` lists them) for custom
    /// resources no CRD of the run or of --crds defines
    #[arg(long, help_heading = "Schemas")]
    pub no_embedded_crds: bool,

    /// Do not validate against schemas (parse errors are still reported)
    #[arg(long, help_heading = "Schemas")]
    pub no_schema: bool,

    /// Do not run the built-in rules
    #[arg(long, help_heading = "Policies")]
    pub no_builtin_rules: bool,

    /// Do not render kustomizations or Helm charts: check their files as they are
    #[arg(long, help_heading = "Rendering")]
    pub no_render: bool,

    /// The `helm` that renders the charts [default: `helm` on PATH; without one, charts
    /// are not rendered and each gets a `helm-not-found` info]
    #[arg(long, value_name = "PATH", help_heading = "Rendering")]
    pub helm: Option<std::path::PathBuf>,

    /// Seconds a chart's `helm template` may take before it is stopped (a `helm-error`)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        help_heading = "Rendering"
    )]
    pub helm_timeout: u64,

    /// Fetch charts that GitOps objects pin from this host (repeatable; `*.example.com`
    /// globs, `HOST:PORT`, `http://HOST` to allow plain HTTP) [default: none: offline]
    #[arg(long, value_name = "HOST", help_heading = "Network")]
    pub allow_host: Vec<String>,

    /// Where fetched charts are kept between runs [default: $KUBEGATE_CACHE_DIR, else the
    /// user cache directory's `kubegate`]
    #[arg(long, value_name = "DIR", help_heading = "Network")]
    pub cache_dir: Option<std::path::PathBuf>,

    /// Seconds one fetch may take, redirects and download included
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30.0,
        help_heading = "Network"
    )]
    pub fetch_timeout: f64,

    /// The chart renderings `.kubegate.yaml` names (`helm:`), paths resolved.
    #[arg(skip)]
    pub helm_renderings: Vec<crate::render::helm::Configured>,

    /// Directory (or file) of user Rego policies, conftest conventions (repeatable)
    #[arg(long, short = 'p', value_name = "DIR", help_heading = "Policies")]
    pub policy: Vec<std::path::PathBuf>,

    /// Data files for the policies: .json/.yaml under DIR, prefixed by their directory (repeatable)
    #[arg(long, short = 'd', value_name = "DIR", help_heading = "Policies")]
    pub data: Vec<std::path::PathBuf>,

    /// Policy package to evaluate, glob allowed (repeatable) [default: main]
    #[arg(long, short = 'n', value_name = "NAMESPACE", help_heading = "Policies")]
    pub namespace: Vec<String>,

    /// Evaluate every policy package
    #[arg(long, help_heading = "Policies", conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// conftest's --combine: policies see one input, `[{path, contents}, ...]`, holding every document
    #[arg(long, help_heading = "Policies")]
    pub combine: bool,

    /// Parse policies as Rego v0 (the syntax before OPA 1.0)
    #[arg(long, help_heading = "Policies")]
    pub rego_v0: bool,

    /// Environment variable that policies may read with `opa.runtime().env`, glob allowed
    /// (repeatable) [default: none; conftest shows them all]
    #[arg(long, value_name = "NAME", help_heading = "Policies")]
    pub policy_env: Vec<String>,

    /// Ignore `kubegate.io/ignore` annotations in manifests (CI refuses exemptions written
    /// into the change itself)
    #[arg(long, help_heading = "Policies")]
    pub no_inline_suppressions: bool,

    /// conftest's --fail-on-warn: warnings fail the run too (same as --fail-on warning)
    #[arg(long, help_heading = "Exit status")]
    pub fail_on_warn: bool,

    /// Report format [default: human in a terminal, concise otherwise]
    #[arg(long, short = 'f', value_enum, help_heading = "Output")]
    pub format: Option<Format>,

    /// Write a report to FILE: `FORMAT=FILE` (e.g. `sarif=kubegate.sarif`) adds one in that
    /// format, a bare FILE takes the --format report instead of standard output (repeatable)
    #[arg(
        long,
        short = 'o',
        value_name = "[FORMAT=]FILE",
        help_heading = "Output"
    )]
    pub output: Vec<String>,

    /// When to use colours (never under NO_COLOR)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,

    /// Do not print the summary line on standard error
    #[arg(long, short = 'q', help_heading = "Output")]
    pub quiet: bool,

    /// Print on standard error where the time went: wall and CPU time per stage, and the ten slowest rules
    #[arg(long, help_heading = "Output")]
    pub timings: bool,

    /// Configuration file [default: .kubegate.yaml in the working directory or a parent, up to the repository root]
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// Ignore any configuration file
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    /// Exit 1 when a finding has at least this severity [default: error]
    #[arg(long, value_enum, help_heading = "Exit status")]
    pub fail_on: Option<FailOn>,

    /// Exit 0 even when findings reach --fail-on (errors of the run itself still exit 2)
    #[arg(long, help_heading = "Exit status")]
    pub exit_zero: bool,

    /// Number of threads [default: all cores]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// The revision the merge request targets [default: from the CI's variables, else the
    /// merge-base with the remote's default branch]
    #[arg(long, value_name = "REF", help_heading = "Merge requests")]
    pub base: Option<String>,

    /// Check only the files the merge request adds, modifies or renames (and uncommitted
    /// changes), compared with its merge-base
    #[arg(long, help_heading = "Merge requests")]
    pub changed_only: bool,

    /// Report only the findings the merge request introduces (a finding that only moved
    /// lines is not new)
    #[arg(long, help_heading = "Merge requests")]
    pub new_only: bool,

    /// Keep only findings on added lines, near them, in changed files, or all (as reviewdog)
    #[arg(long, value_enum, value_name = "MODE", default_value_t = FilterMode::Nofilter, help_heading = "Merge requests")]
    pub filter_mode: FilterMode,

    /// Load the config, --policy and --data from the base revision, not the merge request's
    /// tree [default in CI when the base is known]
    #[arg(
        long,
        conflicts_with = "policies_from_head",
        help_heading = "Merge requests"
    )]
    pub policies_from_base: bool,

    /// Use the merge request's own config, policies and data, even in CI
    #[arg(long, help_heading = "Merge requests")]
    pub policies_from_head: bool,

    /// Check the staged content (the index) of the named files, as a pre-commit hook
    #[arg(long, help_heading = "Merge requests")]
    pub staged: bool,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // A usage error echoes the arguments it got: they go through `diag` too.
            diag(e.render().to_string().trim_end());
            return ExitCode::from(EXIT_ERROR);
        }
        // `--help` and `--version`, on standard output.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_CLEAN);
        }
    };
    let result = match cli.command {
        Command::Check(args) => crate::pipeline::run_check(&args),
        Command::Rules(args) => match &args.equivalent {
            _ if !args.admission.is_empty() => {
                crate::rules::admission(&args.admission, args.format)
            }
            Some(id) => crate::rules::equivalent(id, args.format),
            None => crate::rules::list(args.format),
        },
        Command::Explain { rule } => crate::rules::explain(&rule),
        Command::Render(args) => crate::render::command::run(
            &args.dir,
            args.format == RenderFormat::Json,
            !args.load_restrictor_none,
        ),
        Command::Crds => crate::schema::embedded::print_listing(),
        Command::Verify(args) => {
            crate::admission::verify::command(&args.paths, args.run.as_deref(), args.verbose)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_CLEAN);
            }
            diag(&format!("kubegate: error: {e:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Writes a diagnostic to standard error. File names and messages in it may come from the
/// merge request: control characters are neutralised, and in a GitHub Actions log every
/// line goes through the same neutralisation as the reports, so none can be read as a
/// workflow command (the runner takes `::` at a line's start and `##[` anywhere).
pub fn diag(text: &str) {
    let text = report::terminal_safe(text);
    let text = if env_is("GITHUB_ACTIONS", "true") {
        std::borrow::Cow::Owned(report::github::neutralise_log(&text).into_owned())
    } else {
        text
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Folds the configuration file into the command line: flags win; list flags replace the
/// config's lists when given.
pub(crate) fn env_is(name: &str, value: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == value)
}

pub(crate) fn merge_config(args: &CheckArgs, cfg: &config::Loaded) -> anyhow::Result<CheckArgs> {
    let c = &cfg.config;
    let mut a = args.clone();
    if a.kubernetes_version.is_none() {
        a.kubernetes_version = c.kubernetes_version.clone();
    }
    if a.exclude.is_empty() {
        a.exclude = c.exclude.clone();
    }
    if a.fail_on.is_none()
        && let Some(f) = &c.fail_on
    {
        a.fail_on = Some(FailOn::from_str(f, true).map_err(|_| {
            anyhow::anyhow!(
                "{}: failOn must be error, warning or info, not `{f}`",
                cfg.file
            )
        })?);
    }
    a.reject_missing_schemas |= c.reject_missing_schemas.unwrap_or(false);
    if a.crds.is_empty() {
        a.crds = c.crds.iter().map(|p| cfg.resolve(p)).collect();
    }
    if a.schema_location.is_empty() {
        a.schema_location = c
            .schema_location
            .iter()
            .map(|l| config::resolve_location(cfg, l))
            .collect();
    }
    if a.policy.is_empty() {
        a.policy = c.policies.iter().map(|p| cfg.resolve(p)).collect();
    }
    if a.data.is_empty() {
        a.data = c.data.iter().map(|p| cfg.resolve(p)).collect();
    }
    if a.namespace.is_empty() && !a.all_namespaces {
        a.namespace = c.namespaces.clone();
    }
    a.all_namespaces |= c.all_namespaces.unwrap_or(false) && a.namespace.is_empty();
    if a.policy_env.is_empty() {
        a.policy_env = c.policy_env.clone();
    }
    a.rego_v0 |= c.rego_v0.unwrap_or(false);
    a.no_inline_suppressions |= c.inline_suppressions == Some(false);
    a.no_render |= c.render.enabled == Some(false);
    if a.allow_host.is_empty() {
        a.allow_host = c.network.allow_hosts.clone();
    }
    a.helm_renderings = c
        .helm
        .iter()
        .map(|h| crate::render::helm::Configured {
            chart: cfg.resolve(&h.chart),
            release: h.release.clone(),
            namespace: h.namespace.clone(),
            values: h.values.iter().map(|v| cfg.resolve(v)).collect(),
            set: h.set.clone(),
        })
        .collect();
    Ok(a)
}
