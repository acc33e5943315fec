//! The guarded proxy chromium is started behind (`--proxy-server`, `--proxy-bypass-list=<-loopback>`
//! so loopback goes through it too): HTTP CONNECT for https and absolute-form forwarding for plain
//! http, on 127.0.0.1, one per browser session. Every destination passes the network guard first
//! and is connected to at the checked address only; what it refused is kept for the attempt.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::guard::NetworkGuard;

/// A request head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
/// Marks the page the proxy answers with instead of a refused destination.
pub const BLOCK_MARKER: &str = "Blocked by the EmailGator network guard";

/// One destination the proxy refused: `host:port` as asked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub target: String,
    pub reason: String,
}

/// A running proxy; it stops when dropped.
pub struct GuardedProxy {
    port: u16,
    refusals: Arc<Mutex<Vec<Refusal>>>,
    stop: CancellationToken,
}

impl GuardedProxy {
    pub async fn start(guard: NetworkGuard, connect_timeout: Duration) -> std::io::Result<GuardedProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (log, token) = (refusals.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = token.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                let (guard, log, token) = (guard.clone(), log.clone(), token.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = serve(client, &guard, &log, connect_timeout) => {}
                    }
                });
            }
        });
        Ok(GuardedProxy { port, refusals, stop })
    }

    /// `http://127.0.0.1:PORT`, for `--proxy-server`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn refusals(&self) -> Vec<Refusal> {
        self.refusals.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for GuardedProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(mut client: TcpStream, guard: &NetworkGuard, log: &Mutex<Vec<Refusal>>, connect_timeout: Duration) {
    let Ok(Some((head, rest))) =
        tokio::time::timeout(connect_timeout * 2, read_head(&mut client)).await.unwrap_or(Ok(None))
    else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, target, version) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or("HTTP/1.1"));

    if method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = target.rsplit_once(':').and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?))) else {
            let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
            return;
        };
        let address = match guard.check_host(host, port).await {
            Ok(address) => address,
            Err(blocked) => return refuse(client, log, target, &blocked.to_string()).await,
        };
        let Ok(Ok(mut upstream)) = tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
            return;
        };
        if client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err()
            || upstream.write_all(&rest).await.is_err()
        {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }

    // Plain http in absolute form: `GET http://host:port/path HTTP/1.1`.
    let Ok(url) = url::Url::parse(target) else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        return;
    };
    let display = format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(80));
    if url.scheme() != "http" {
        return refuse(client, log, &display, "only http is forwarded without CONNECT").await;
    }
    let address = match guard.check_url(&url).await {
        Ok(address) => address,
        Err(blocked) => return refuse(client, log, &display, &blocked.to_string()).await,
    };
    let Ok(Ok(mut upstream)) = tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
        return;
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    // One request per connection: the next one is checked afresh on a new connection.
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if !matches!(name.as_str(), "proxy-connection" | "proxy-authorization" | "connection" | "keep-alive") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(forwarded.as_bytes()).await.is_err() || upstream.write_all(&rest).await.is_err() {
        return;
    }
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let upload = tokio::io::copy(&mut client_read, &mut upstream_write);
    let download = async {
        // The response head gets `Connection: close` so the browser does not reuse this connection.
        if let Ok(Some((head, rest))) = read_head(&mut upstream_read).await {
            let head = String::from_utf8_lossy(&head).into_owned();
            let mut out = String::new();
            for line in head.split("\r\n").filter(|l| !l.is_empty()) {
                let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
                if !matches!(name.as_str(), "connection" | "keep-alive") {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
            out.push_str("Connection: close\r\n\r\n");
            if client_write.write_all(out.as_bytes()).await.is_ok() && client_write.write_all(&rest).await.is_ok() {
                let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        _ = download => {}
        _ = async { let _ = upload.await; std::future::pending::<()>().await } => {}
    }
}

async fn refuse(mut client: TcpStream, log: &Mutex<Vec<Refusal>>, target: &str, reason: &str) {
    tracing::info!(target, reason, "the network guard refused a browser request");
    if let Ok(mut refusals) = log.lock() {
        refusals.push(Refusal { target: target.to_owned(), reason: reason.to_owned() });
    }
    let body = format!("<!doctype html><title>{BLOCK_MARKER}</title><h1>{BLOCK_MARKER}</h1>");
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// Reads up to the blank line ending a head; returns the head and any bytes read past it.
async fn read_head<R: AsyncReadExt + Unpin>(stream: &mut R) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok(Some((buffer, rest)));
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}
