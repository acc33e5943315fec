//! `emailgator sidecar`: the unsubscribe agent alone, over HTTP, for an app started with
//! `SIDECAR_URL`. A bearer token compared in constant time, a cap on attempts in flight (more get
//! 503 and the app's job retries), and `/health`.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::automation::agent::{AgentSettings, InProcessAgent};
use crate::automation::remote::ATTEMPT_PATH;
use crate::automation::{AttemptRequest, Unsubscriber};
use crate::config::Config;

/// Attempts waiting for a browser, per browser, before the sidecar answers 503.
const QUEUE_PER_BROWSER: usize = 4;

struct Sidecar {
    agent: InProcessAgent,
    token: SecretString,
    in_flight: Semaphore,
}

/// Serves until SIGTERM or Ctrl-C; prints the address it listens on first.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let token = config.sidecar.token.clone().context("emailgator sidecar needs SIDECAR_TOKEN")?;
    let listener = TcpListener::bind(&config.unsubscribe.sidecar_listen)
        .with_context(|| format!("cannot listen on {}", config.unsubscribe.sidecar_listen))?;
    let address = listener.local_addr()?;
    let sidecar = web::Data::new(Sidecar {
        agent: InProcessAgent::new(AgentSettings::from_config(&config)),
        token,
        in_flight: Semaphore::new(config.unsubscribe.concurrency * QUEUE_PER_BROWSER),
    });
    let shared = sidecar.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .route("/health", web::get().to(health))
            .route(ATTEMPT_PATH, web::post().to(attempt))
    })
    .workers(2)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "sidecar listening on http://{address}");
        let _ = std::io::stdout().flush();
    }
    tracing::info!(%address, "unsubscribe sidecar listening");
    server.await?;
    // Stops chromedriver (and so every chromium) before the process ends.
    Arc::clone(&sidecar.into_inner()).agent.shut_down().await;
    Ok(())
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn attempt(request: HttpRequest, body: web::Json<AttemptRequest>, sidecar: web::Data<Sidecar>) -> HttpResponse {
    if !is_authorized(&request, &sidecar.token) {
        return HttpResponse::Unauthorized().insert_header(("WWW-Authenticate", "Bearer")).finish();
    }
    let Ok(_permit) = sidecar.in_flight.try_acquire() else {
        return HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "30")).body("busy");
    };
    match sidecar.agent.attempt(&body).await {
        Ok(report) => HttpResponse::Ok().json(report),
        Err(error) => HttpResponse::ServiceUnavailable().body(error.to_string()),
    }
}

fn is_authorized(request: &HttpRequest, token: &SecretString) -> bool {
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant time, so the token cannot be guessed byte by byte from response times.
    bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes()))
}
