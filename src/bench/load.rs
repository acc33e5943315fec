//! The bounded HTTP load of `emailgator bench pages --load SECS`: Debian's `wrk` (2 threads, 32
//! connections) against one signed-in page and one GraphQL request, reporting requests/s, p50/p99
//! and every error wrk saw (socket errors and non-2xx answers).

use std::io::Write;
use std::process::Command;

use anyhow::Context;

/// One request wrk repeats: a GET with the session cookie, or a POST with a token and a body.
pub struct Target {
    name: String,
    url: String,
    method: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

impl Target {
    pub fn get(name: &str, url: &str, cookie: &str) -> Self {
        let headers = vec![("Cookie".to_owned(), cookie.to_owned())];
        Self { name: name.to_owned(), url: url.to_owned(), method: "GET", headers, body: String::new() }
    }

    pub fn graphql(name: &str, url: &str, token: &str, body: &serde_json::Value) -> Self {
        let headers = vec![
            ("Authorization".to_owned(), format!("Bearer {token}")),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        Self { name: name.to_owned(), url: url.to_owned(), method: "POST", headers, body: body.to_string() }
    }

    /// The Lua script that sets the method, headers and body, and counts non-2xx answers (wrk's
    /// own count includes 3xx).
    fn script(&self) -> String {
        let quote = |text: &str| format!("{text:?}");
        let mut lua = format!("wrk.method = {}\n", quote(self.method));
        for (name, value) in &self.headers {
            lua.push_str(&format!("wrk.headers[{}] = {}\n", quote(name), quote(value)));
        }
        if !self.body.is_empty() {
            lua.push_str(&format!("wrk.body = {}\n", quote(&self.body)));
        }
        lua
    }
}

/// Runs wrk for `seconds` against each target and prints one table row per target.
pub fn run(targets: &[Target], seconds: u64) -> anyhow::Result<()> {
    let dir = super::tempfile_dir()?;
    println!("\nload: wrk, 2 threads, 32 connections, {seconds} s per target, on this machine\n");
    println!("| target | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    for (n, target) in targets.iter().enumerate() {
        let script = dir.join(format!("target{n}.lua"));
        std::fs::File::create(&script)?.write_all(target.script().as_bytes())?;
        let output = Command::new("wrk")
            .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency", "-s"])
            .arg(&script)
            .arg(&target.url)
            .output()
            .context("running wrk (install it: apt-get install wrk)")?;
        let report = String::from_utf8_lossy(&output.stdout);
        anyhow::ensure!(output.status.success(), "wrk failed: {report}{}", String::from_utf8_lossy(&output.stderr));
        let summary = Summary::read(&report).with_context(|| format!("reading wrk's report:\n{report}"))?;
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |",
            target.name, summary.requests_per_second, summary.p50_ms, summary.p99_ms, summary.errors
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// What the benchmark takes from wrk's report.
#[derive(Debug, PartialEq)]
struct Summary {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Socket errors plus non-2xx/3xx answers.
    errors: u64,
}

impl Summary {
    fn read(report: &str) -> Option<Self> {
        let mut summary = Summary { requests_per_second: 0.0, p50_ms: 0.0, p99_ms: 0.0, errors: 0 };
        let mut has_rate = false;
        for line in report.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["Requests/sec:", rate] => {
                    summary.requests_per_second = rate.parse().ok()?;
                    has_rate = true;
                }
                ["50%", time] => summary.p50_ms = millis(time)?,
                ["99%", time] => summary.p99_ms = millis(time)?,
                ["Non-2xx", "or", "3xx", "responses:", n] => summary.errors += n.parse::<u64>().ok()?,
                ["Socket", "errors:", rest @ ..] => {
                    // "connect 0, read 0, write 0, timeout 0"
                    summary.errors +=
                        rest.iter().filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok()).sum::<u64>();
                }
                _ => {}
            }
        }
        has_rate.then_some(summary)
    }
}

/// wrk's durations: "812.00us", "1.23ms", "2.01s".
fn millis(time: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = time.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = time.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = time.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:4000/categories/x
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.71ms    3.01ms  40.12ms   80.00%
    Req/Sec     1.02k    80.00     1.20k    70.00%
  Latency Distribution
     50%   15.20ms
     75%   16.80ms
     90%   18.90ms
     99%    1.02s
  20400 requests in 10.01s, 300.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   2038.12
Transfer/sec:     29.97MB
";

    #[test]
    fn reads_rate_percentiles_and_every_kind_of_error() {
        let summary = Summary::read(REPORT).expect("summary");
        assert_eq!(summary, Summary { requests_per_second: 2038.12, p50_ms: 15.2, p99_ms: 1020.0, errors: 7 });
        assert_eq!(millis("812.00us"), Some(0.812));
        assert!(Summary::read("wrk: connection refused").is_none());
    }

    #[test]
    fn the_script_quotes_what_it_sends() {
        let body = serde_json::json!({ "query": "{ me { id } }" });
        let script = Target::graphql("g", "http://127.0.0.1/api/graphql", "egt_x", &body).script();
        assert!(script.contains("wrk.method = \"POST\""));
        assert!(script.contains("wrk.headers[\"Authorization\"] = \"Bearer egt_x\""));
        assert!(script.contains(r#"wrk.body = "{\"query\":\"{ me { id } }\"}""#), "{script}");
    }
}
