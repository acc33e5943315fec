//! The agent's browsers: one chromedriver started on first use, at most `concurrency` sessions in
//! use, and a few more pre-started so an attempt need not wait for chromium to start. Each is a fresh
//! profile behind its own guarded proxy, used for one attempt only; used ones close in the background.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::task::JoinSet;

use super::browser::{BrowserError, BrowserSettings, Chromedriver, Session};
use super::guard::NetworkGuard;
use super::proxy::GuardedProxy;

/// What the pool needs to open sessions and how many to keep ready.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub browser: BrowserSettings,
    /// Where profiles are made (and deleted).
    pub scratch_dir: PathBuf,
    pub connect_timeout: Duration,
    /// Sessions in use at once.
    pub concurrency: usize,
    /// Sessions kept started and unused, at most; 0 starts each one when an attempt needs it.
    pub warm: usize,
    /// A ready session nobody took for this long is closed, so an idle server holds no chromium.
    pub warm_idle: Duration,
}

/// One browser for one attempt: a fresh session and the guarded proxy all its traffic goes through.
pub struct Browser {
    pub session: Session,
    pub proxy: GuardedProxy,
}

impl Browser {
    /// Ends the session and deletes its profile; the proxy stops with it.
    pub async fn close(self) {
        self.session.close().await;
    }
}

/// A browser taken from the pool; give it back with `BrowserPool::finish`.
pub struct Lease<'a> {
    pub browser: Browser,
    _permit: SemaphorePermit<'a>,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{0}")]
    Browser(#[from] BrowserError),
    #[error("the guarded proxy could not start: {0}")]
    Proxy(std::io::Error),
    #[error("chromedriver could not be started: {0}")]
    Join(String),
}

struct Ready {
    browser: Browser,
    since: Instant,
}

pub struct BrowserPool {
    settings: PoolSettings,
    guard: NetworkGuard,
    permits: Semaphore,
    driver: tokio::sync::Mutex<Option<Arc<Chromedriver>>>,
    ready: Mutex<Vec<Ready>>,
    is_warming: AtomicBool,
    is_closing: AtomicBool,
    /// Warm-ups and closes still running; `shut_down` waits for them.
    background: Mutex<JoinSet<()>>,
    /// Timers that retire idle ready sessions; `shut_down` cancels them.
    expiries: Mutex<JoinSet<()>>,
}

impl BrowserPool {
    pub fn new(settings: PoolSettings, guard: NetworkGuard) -> Arc<BrowserPool> {
        let permits = Semaphore::new(settings.concurrency.max(1));
        Arc::new(BrowserPool {
            settings,
            guard,
            permits,
            driver: tokio::sync::Mutex::new(None),
            ready: Mutex::new(Vec::new()),
            is_warming: AtomicBool::new(false),
            is_closing: AtomicBool::new(false),
            background: Mutex::new(JoinSet::new()),
            expiries: Mutex::new(JoinSet::new()),
        })
    }

    /// The chromedriver process id, once one was started (benchmarks count what it leaves behind).
    pub async fn chromedriver_pid(&self) -> Option<u32> {
        self.driver.lock().await.as_ref().and_then(|d| d.pid())
    }

    /// Waits for a free slot, then hands out a ready browser or opens one; afterwards starts the
    /// next one in the background while this one works.
    pub async fn take(self: &Arc<Self>) -> Result<Lease<'_>, PoolError> {
        let permit = self.permits.acquire().await.map_err(|_| PoolError::Join("the agent is shutting down".into()))?;
        let ready = lock(&self.ready).pop().map(|r| r.browser);
        let browser = match ready {
            Some(browser) => browser,
            None => self.open().await?,
        };
        self.warm_up();
        Ok(Lease { browser, _permit: permit })
    }

    /// Closes a used browser in the background: the report does not wait for chromium to exit.
    pub fn finish(&self, lease: Lease<'_>) {
        let Lease { browser, _permit } = lease;
        self.spawn(browser.close());
    }

    /// Stops warming, closes ready sessions, waits for every close, then stops chromedriver (and so
    /// every chromium). Attempts after this still work; they start their browser cold.
    pub async fn shut_down(&self) {
        self.is_closing.store(true, Ordering::SeqCst);
        lock(&self.expiries).abort_all();
        loop {
            let mut running = std::mem::take(&mut *lock(&self.background));
            if running.is_empty() {
                break;
            }
            while running.join_next().await.is_some() {}
        }
        let ready: Vec<Ready> = std::mem::take(&mut *lock(&self.ready));
        for r in ready {
            r.browser.close().await;
        }
        self.driver.lock().await.take();
    }

    async fn open(&self) -> Result<Browser, PoolError> {
        let driver_url = self.driver_url().await?;
        let proxy =
            GuardedProxy::start(self.guard.clone(), self.settings.connect_timeout).await.map_err(PoolError::Proxy)?;
        let session =
            Session::open(&driver_url, &self.settings.browser, Some(&proxy.url()), &self.settings.scratch_dir).await?;
        Ok(Browser { session, proxy })
    }

    async fn driver_url(&self) -> Result<String, PoolError> {
        if let Some(url) = &self.settings.browser.chromedriver_url {
            return Ok(url.clone());
        }
        let mut driver = self.driver.lock().await;
        if let Some(running) = driver.as_ref().filter(|d| d.is_alive()) {
            return Ok(running.url().to_owned());
        }
        let path = self.settings.browser.chromedriver_path.clone();
        let started = tokio::task::spawn_blocking(move || Chromedriver::start(&path))
            .await
            .map_err(|e| PoolError::Join(e.to_string()))??;
        let url = started.url().to_owned();
        *driver = Some(Arc::new(started));
        Ok(url)
    }

    /// Opens ready sessions one after another until `warm` are ready; one warm-up at a time, so
    /// it takes one core at most from the attempts running.
    fn warm_up(self: &Arc<Self>) {
        if self.settings.warm == 0
            || self.is_closing.load(Ordering::SeqCst)
            || self.is_warming.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let pool = Arc::clone(self);
        self.spawn(async move {
            while lock(&pool.ready).len() < pool.settings.warm && !pool.is_closing.load(Ordering::SeqCst) {
                match pool.open().await {
                    Ok(browser) if pool.is_closing.load(Ordering::SeqCst) => browser.close().await,
                    Ok(browser) => {
                        lock(&pool.ready).push(Ready { browser, since: Instant::now() });
                        let mut expiries = lock(&pool.expiries);
                        while expiries.try_join_next().is_some() {}
                        expiries.spawn(retire_idle(Arc::downgrade(&pool), pool.settings.warm_idle));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "a browser session could not be pre-started");
                        break;
                    }
                }
            }
            pool.is_warming.store(false, Ordering::SeqCst);
        });
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut background = lock(&self.background);
        // Finished tasks are reaped here so the set does not grow with every attempt.
        while background.try_join_next().is_some() {}
        background.spawn(task);
    }
}

/// After `idle`, closes the ready sessions that waited that long (a weak handle: it does not keep
/// a dropped pool alive).
async fn retire_idle(pool: Weak<BrowserPool>, idle: Duration) {
    tokio::time::sleep(idle).await;
    let Some(pool) = pool.upgrade() else { return };
    let stale: Vec<Ready> = {
        let mut ready = lock(&pool.ready);
        let (stale, fresh) = std::mem::take(&mut *ready).into_iter().partition(|r| r.since.elapsed() >= idle);
        *ready = fresh;
        stale
    };
    for r in stale {
        pool.spawn(r.browser.close());
    }
}

impl Drop for BrowserPool {
    fn drop(&mut self) {
        // Nobody called `shut_down`: stopping chromedriver ends its whole process group, ready
        // sessions included; their profiles are deleted here.
        let profiles: Vec<PathBuf> = lock(&self.ready).iter().map(|r| r.browser.session.profile.clone()).collect();
        self.driver.get_mut().take();
        for profile in profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the list usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
