//! Server instances in one process, and deploys between them.
//!
//! Each instance is a `tagwire::server::Server` on its own 127.0.0.1:0
//! listener, serving the whole app (static files, `/ws`, `/sse`, `/health`,
//! `POST /deploy`). A deploy starts a fresh instance, waits until the
//! balancer has seen it healthy, then drains the old ones: their clients get
//! the drain notice and reconnect, through the balancer, to the new one.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tagwire::server::backend::{HistoryWindow, LocalBackend, PresenceConfig};
use tagwire::server::{Server, ServerConfig, ServerHandle};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::app::{Board, Visitor, visitor};
use crate::balancer::Balancer;
use crate::board;

/// The demo's knobs: short drains so a deploy is over in seconds.
#[derive(Debug, Clone)]
pub struct Settings {
    pub grace: Duration,
    pub window: Duration,
    pub reconnect_window: Duration,
    pub ping_interval: Duration,
    /// How often the balancer checks each instance's health.
    pub health_every: Duration,
    /// How long a page's cursor stays after its connection closed
    /// (presence's linger): a page back within it is not seen leaving.
    pub linger: Duration,
    /// `demo/web`: index.html, style.css and the compiled page in `dist/`.
    pub web_dir: PathBuf,
    /// `demo/web-v1`: last week's page, frozen, laid out like `web_dir` and
    /// served below `/v1/` (a CDN keeping old bundles, simulated).
    pub web_v1_dir: PathBuf,
    /// The `tagwire` npm package's compiled `dist/`, served at `/tagwire/`.
    pub runtime_dir: PathBuf,
}

impl Settings {
    fn server_config(&self, rooms: &LocalBackend) -> ServerConfig {
        // Each instance is a node of the same rooms, as Redis would make it.
        let mut config = ServerConfig::default().with_backend(Arc::new(rooms.node()));
        config.heartbeat.ping_interval = self.ping_interval;
        config.drain.grace = self.grace;
        config.drain.window = self.window;
        config.drain.batches = 4;
        config.drain.reconnect_window = self.reconnect_window;
        config.drain.deadline =
            self.grace + self.window + self.reconnect_window + Duration::from_secs(10);
        config.drain.close_timeout = Duration::from_secs(2);
        config
    }
}

#[derive(Debug, Clone)]
struct Instance {
    id: u32,
    handle: ServerHandle<board::Package>,
    /// The instance's Tagwire routes alone, for SSE posts that reach another
    /// instance (see [`sticky_sse`]).
    tagwire: Router,
}

#[derive(Debug)]
pub enum DeployError {
    /// Another deploy has not yet started its drain.
    Busy,
    Failed(String),
}

#[derive(Debug)]
pub struct Supervisor {
    settings: Settings,
    balancer: Arc<Balancer>,
    /// The board's room, shared by every instance (one node each).
    rooms: LocalBackend,
    instances: Mutex<Vec<Instance>>,
    last_id: AtomicU32,
    deploying: AtomicBool,
}

/// What every route of one instance can see.
#[derive(Debug, Clone)]
struct AppState {
    supervisor: Arc<Supervisor>,
}

impl Supervisor {
    pub fn new(settings: Settings, balancer: Arc<Balancer>) -> Arc<Self> {
        let rooms = LocalBackend::new(HistoryWindow::default()).with_presence(PresenceConfig {
            linger: settings.linger,
            ..PresenceConfig::default()
        });
        Arc::new(Supervisor {
            settings,
            balancer,
            rooms,
            instances: Mutex::new(Vec::new()),
            last_id: AtomicU32::new(0),
            deploying: AtomicBool::new(false),
        })
    }

    fn live(&self) -> Vec<Instance> {
        self.instances.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// Starts a new instance and returns once the balancer sends it traffic.
    pub async fn start_instance(self: &Arc<Self>) -> io::Result<u32> {
        let id = self.last_id.fetch_add(1, Ordering::SeqCst) + 1;
        let server = Server::with_auth(
            Board { instance: id },
            visitor,
            self.settings.server_config(&self.rooms),
        );
        let handle = server.handle();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = self.router(id, &server);

        if let Ok(mut instances) = self.instances.lock() {
            instances.push(Instance {
                id,
                handle: handle.clone(),
                tagwire: server.router(),
            });
        }
        let drained = handle.clone();
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let shutdown = async move {
                drained.drained().await;
            };
            if let Err(e) = axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(instance = id, "listener failed: {e}");
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            let report = handle.drained().await;
            tracing::info!(instance = id, ?report, "instance drained");
            me.balancer.remove(addr);
            if let Ok(mut instances) = me.instances.lock() {
                instances.retain(|i| i.id != id);
            }
        });

        self.balancer.add(addr);
        let start = Instant::now();
        while !self.balancer.is_up(addr) {
            if start.elapsed() > Duration::from_secs(10) {
                return Err(io::Error::other(format!(
                    "instance {id} on {addr} did not become healthy"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!(instance = id, %addr, "instance serving");
        Ok(id)
    }

    /// Brings a fresh instance up, then drains every older one. Returns the
    /// drained instances and the new one.
    pub async fn deploy(self: &Arc<Self>) -> Result<(Vec<u32>, u32), DeployError> {
        if self.deploying.swap(true, Ordering::SeqCst) {
            return Err(DeployError::Busy);
        }
        let old: Vec<Instance> = self
            .live()
            .into_iter()
            .filter(|i| !i.handle.is_draining())
            .collect();
        let result = self.start_instance().await;
        let result = result
            .map(|new| {
                for instance in &old {
                    tracing::info!(instance = instance.id, "draining for a deploy");
                    instance.handle.drain();
                }
                (old.iter().map(|i| i.id).collect(), new)
            })
            .map_err(|e| DeployError::Failed(e.to_string()));
        self.deploying.store(false, Ordering::SeqCst);
        result
    }

    /// One instance's app: the Tagwire routes, `POST /deploy` and the page.
    fn router<H, A>(self: &Arc<Self>, id: u32, server: &Server<board::Package, H, A>) -> Router
    where
        H: tagwire::server::Handler<board::Package, Visitor>,
        A: tagwire::server::Authenticate<Context = Visitor>,
    {
        Router::new()
            .route("/deploy", post(deploy))
            .fallback(static_file)
            .with_state(AppState {
                supervisor: self.clone(),
            })
            .merge(server.router())
            .layer(middleware::from_fn_with_state(
                (self.clone(), id),
                sticky_sse,
            ))
            .layer(middleware::from_fn_with_state(
                server.handle(),
                close_when_draining,
            ))
    }
}

/// The largest SSE post: 64 frames of at most 64 KiB, and the line feeds.
const MAX_SSE_POST_BYTES: usize = 64 * (64 * 1024 + 1);

/// Sticky SSE sessions. A session's POSTs must reach the instance that holds
/// its event stream, but the TCP balancer sends each new connection to the
/// newest healthy instance: during a drain, a POST for a session on the old
/// instance can land on the new one. A real deployment routes such requests
/// by session (sticky sessions); here the instances share a process, so an
/// instance that does not know the session hands the POST to the others.
async fn sticky_sse(
    State((supervisor, me)): State<(Arc<Supervisor>, u32)>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !request.uri().path().starts_with("/sse/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_SSE_POST_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let local = next
        .run(Request::from_parts(parts.clone(), Body::from(body.clone())))
        .await;
    if local.status() != StatusCode::NOT_FOUND {
        return local;
    }
    // A fresh request: this one carries this instance's routing state.
    let forward = || {
        let mut request = Request::new(Body::from(body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            request.extensions_mut().insert(*peer);
        }
        request
    };
    for other in supervisor.live().into_iter().filter(|i| i.id != me) {
        let Ok(response) = other.tagwire.oneshot(forward()).await;
        if response.status() != StatusCode::NOT_FOUND {
            return response;
        }
    }
    local
}

/// A draining instance asks HTTP clients not to keep the connection: the
/// balancer pins a TCP connection to one instance, so a kept-alive browser
/// connection would carry the next request (an SSE reconnect, a POST) to the
/// old instance instead of the new one.
async fn close_when_draining(
    State(handle): State<ServerHandle<board::Package>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if handle.is_draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn deploy(State(state): State<AppState>) -> Response {
    match state.supervisor.deploy().await {
        Ok((from, to)) => {
            let from: Vec<String> = from.iter().map(u32::to_string).collect();
            json(
                StatusCode::ACCEPTED,
                format!("{{\"draining\":[{}],\"serving\":{to}}}", from.join(",")),
            )
        }
        Err(DeployError::Busy) => json(
            StatusCode::CONFLICT,
            "{\"error\":\"a deploy is already starting\"}".into(),
        ),
        Err(DeployError::Failed(e)) => {
            tracing::error!("deploy failed: {e}");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                "{\"error\":\"the new instance did not start\"}".into(),
            )
        }
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A path below a served folder: plain names only, no `..`, no dot files.
fn safe_relative(rest: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for part in rest.split('/') {
        let plain = !part.is_empty()
            && !part.starts_with('.')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !plain {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("map" | "json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// One page's files below its URL prefix: `index.html` and `style.css` from
/// `dir`, `app/…` from `dir/dist/` (the compiled page and the generated
/// protocol). `rest` is the path after the prefix's slash.
fn page_file(dir: &Path, rest: &str) -> Option<PathBuf> {
    match rest {
        "" | "index.html" => Some(dir.join("index.html")),
        "style.css" => Some(dir.join("style.css")),
        _ => rest
            .strip_prefix("app/")
            .and_then(safe_relative)
            .map(|p| dir.join("dist").join(p)),
    }
}

/// The current page at `/`, last week's page at `/v1/` (an old bundle a
/// CDN still serves; see demo/web-v1/README.md), and `/tagwire/…` from the
/// npm package, for both.
async fn static_file(State(state): State<AppState>, uri: Uri) -> Response {
    let settings = &state.supervisor.settings;
    let path = uri.path();
    if path == "/v1" {
        // The v1 page's URLs are relative: they need the trailing slash.
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, HeaderValue::from_static("/v1/"))],
        )
            .into_response();
    }
    let file = if let Some(rest) = path.strip_prefix("/v1/") {
        page_file(&settings.web_v1_dir, rest)
    } else if let Some(rest) = path.strip_prefix("/tagwire/") {
        safe_relative(rest).map(|p| settings.runtime_dir.join(p))
    } else if let Some(rest) = path.strip_prefix('/') {
        page_file(&settings.web_dir, rest)
    } else {
        None
    };
    let Some(file) = file else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    match tokio::fs::read(&file).await {
        Ok(body) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&file)),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => (
            StatusCode::NOT_FOUND,
            format!("{path} is not built: run ./scripts/demo\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{page_file, safe_relative};
    use std::path::{Path, PathBuf};

    #[test]
    fn each_page_serves_its_own_files() {
        let web = Path::new("web");
        assert_eq!(page_file(web, ""), Some(web.join("index.html")));
        assert_eq!(page_file(web, "index.html"), Some(web.join("index.html")));
        assert_eq!(page_file(web, "style.css"), Some(web.join("style.css")));
        assert_eq!(
            page_file(web, "app/gen/board.js"),
            Some(web.join("dist/gen/board.js"))
        );
        for other in [
            "app/../x",
            "app/",
            "src/main.ts",
            "README.md",
            "dist/main.js",
        ] {
            assert_eq!(page_file(web, other), None, "{other:?}");
        }
    }

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert_eq!(
            safe_relative("gen/board.js"),
            Some(PathBuf::from("gen/board.js"))
        );
        for bad in [
            "", "../x.js", "a/../b", "a//b", ".env", "a/.git/x", "a\\b", "/etc",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }
}
