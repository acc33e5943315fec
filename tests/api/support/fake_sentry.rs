//! A fake Sentry on 127.0.0.1 that accepts every envelope and keeps its body, so tests can read what
//! the application reported.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};

pub struct FakeSentry {
    url: String,
    envelopes: Arc<Mutex<Vec<String>>>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(envelopes: web::Data<Mutex<Vec<String>>>, body: web::Bytes) -> HttpResponse {
    if let Ok(mut envelopes) = envelopes.lock() {
        envelopes.push(String::from_utf8_lossy(&body).into_owned());
    }
    HttpResponse::Ok().json(serde_json::json!({ "id": uuid::Uuid::new_v4().simple().to_string() }))
}

impl FakeSentry {
    pub async fn start() -> FakeSentry {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free local port for the fake Sentry");
        let url = format!("http://{}", listener.local_addr().expect("the fake Sentry's local address"));
        let envelopes = Arc::new(Mutex::new(Vec::new()));
        let shared = web::Data::from(envelopes.clone());
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("fake-sentry".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(shared.clone())
                            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                            .default_service(web::to(receive))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .expect("serve the fake Sentry on its port")
                    .run();
                    sender.send(server.handle()).expect("the test waits for the fake Sentry's handle");
                    server.await
                })
            })
            .expect("start the fake Sentry's thread");
        let handle = receiver.recv().expect("the fake Sentry started");
        FakeSentry { url, envelopes, handle }
    }

    /// A DSN that points the Sentry client at this fake (project 1).
    pub fn dsn(&self) -> String {
        self.url.replacen("http://", "http://testkey@", 1) + "/1"
    }

    pub fn envelopes(&self) -> Vec<String> {
        self.envelopes.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Drop for FakeSentry {
    fn drop(&mut self) {
        // Stopping is asynchronous; the thread ends with the test process either way.
        drop(self.handle.stop(false));
    }
}
