//! Who may connect: the `Origin` allow-list and the authentication hook
//! (docs/RUNTIME.md, Guards).

use std::future::Future;
use std::net::SocketAddr;

use crate::CloseCode;
use axum::http::{HeaderMap, Method, Uri, header};

/// The close reason a client gets when the application's code panicked:
/// the panic's own text may hold secrets, so it stays in the server's log.
pub(crate) const SERVER_ERROR_REASON: &str = "internal server error";

/// Which transport a connection request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// A WebSocket upgrade on `ws_path`.
    WebSocket,
    /// `GET` on `sse_path` (SPEC §9.5).
    Sse,
}

/// The HTTP request that opens a connection, as [`Authenticate`] sees it:
/// the WebSocket upgrade or the SSE `GET`.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// `GET` for both transports.
    pub method: Method,
    /// Path and query (`/ws?token=…`).
    pub uri: Uri,
    /// Every header, cookies included.
    pub headers: HeaderMap,
    /// The client's address, when the server knows it: the socket's peer,
    /// or, when that peer is one of
    /// [`ServerConfig::trusted_proxies`](super::ServerConfig::trusted_proxies),
    /// the client its `X-Forwarded-For` names (port 0 when the proxy gave
    /// none). Behind a proxy that is not listed, the proxy's address.
    pub peer: Option<SocketAddr>,
    /// WebSocket or SSE.
    pub transport: TransportKind,
}

impl ConnectRequest {
    /// A header's value, when it is present and visible ASCII.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value from the `Cookie` headers (no percent-decoding).
    #[must_use]
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == name).then_some(v)
            })
    }

    /// A query parameter's raw value (`/ws?token=abc` → `abc`; no
    /// percent-decoding: tokens are usually URL-safe).
    #[must_use]
    pub fn query(&self, name: &str) -> Option<&str> {
        self.uri.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// The `Origin` header: browsers send it, other clients usually not.
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.header("origin")
    }
}

/// A refusal from [`Authenticate`] or [`super::Handler::authorize`], with
/// a reason the client is told (close reason, or the error message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    reason: String,
    /// 4004 (clients stop) for a refusal; 1011 (clients retry) when the
    /// hook panicked.
    code: CloseCode,
}

impl Denied {
    /// A refusal with `reason` (keep it short: a close reason holds 123
    /// bytes, and it is shown to the client).
    #[must_use]
    pub fn new(reason: impl Into<String>) -> Denied {
        Denied {
            reason: reason.into(),
            code: CloseCode::UNAUTHORIZED,
        }
    }

    /// The authentication hook panicked: not a refusal of the client, so
    /// it is closed with 1011 and may come back.
    pub(crate) fn server_error() -> Denied {
        Denied {
            reason: SERVER_ERROR_REASON.into(),
            code: CloseCode::INTERNAL_ERROR,
        }
    }

    /// The close code the client gets.
    pub(crate) fn close_code(&self) -> CloseCode {
        self.code
    }

    /// What the client is told.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Denied {}

/// Decides at connect whether a client may open a connection, and gives
/// each connection its typed context (a user, a session, a tenant), which
/// the handler reads with [`super::Connection::context`].
///
/// A closure `|request: &ConnectRequest| async { Ok::<User, Denied>(..) }`
/// is one, as long as its future does not borrow the request (copy out the
/// header or cookie first). A refused client is accepted and at once
/// closed with 4004 and the reason (an SSE client gets `event: close` with
/// 4004): browsers cannot read the HTTP status of a refused upgrade, and
/// 4004 tells every Tagwire client to stop rather than retry.
pub trait Authenticate: Send + Sync + 'static {
    /// What the handler learns about each connection.
    type Context: Send + Sync + 'static;

    /// Checks one connection request.
    fn authenticate(
        &self,
        request: &ConnectRequest,
    ) -> impl Future<Output = Result<Self::Context, Denied>> + Send;
}

/// No authentication: every client connects, with context `()`. The
/// default of [`super::Server::new`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

impl Authenticate for NoAuth {
    type Context = ();

    fn authenticate(
        &self,
        _request: &ConnectRequest,
    ) -> impl Future<Output = Result<(), Denied>> + Send {
        std::future::ready(Ok(()))
    }
}

impl<F, Fut, C> Authenticate for F
where
    F: Fn(&ConnectRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<C, Denied>> + Send,
    C: Send + Sync + 'static,
{
    type Context = C;

    fn authenticate(
        &self,
        request: &ConnectRequest,
    ) -> impl Future<Output = Result<C, Denied>> + Send {
        self(request)
    }
}

/// Which browser pages may open connections (cross-site WebSocket
/// hijacking: a page on another site opening a socket with the user's
/// cookies). Checked on the `Origin` header, which browsers always send on
/// WebSocket upgrades and cross-origin requests and which page scripts
/// cannot forge; a refused request gets HTTP 403 before any upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginPolicy {
    /// Only pages served by this host: the `Origin`'s host and port equal
    /// the request's `Host` (or `X-Forwarded-Host`, for proxies that
    /// rewrite `Host`). The default.
    SameHost,
    /// Only these origins (`https://app.example.com`, compared without
    /// case; a trailing `/` is ignored), besides the same host if
    /// `same_host` is true.
    List {
        /// The allowed origins.
        origins: Vec<String>,
        /// Also allow pages of the same host.
        same_host: bool,
    },
    /// Any origin: for public APIs with no cookies, or when a proxy checks.
    Any,
}

/// The `Origin` check (`ServerConfig::origins`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OriginConfig {
    /// Which origins may connect (default [`OriginPolicy::SameHost`]).
    pub policy: OriginPolicy,
    /// Whether requests without an `Origin` header (native apps, servers,
    /// tools: not browsers) may connect (default true: they cannot be
    /// hijacked through a user's browser).
    pub allow_missing: bool,
}

impl Default for OriginConfig {
    fn default() -> Self {
        OriginConfig {
            policy: OriginPolicy::SameHost,
            allow_missing: true,
        }
    }
}

impl OriginConfig {
    /// Any origin, and none.
    #[must_use]
    pub fn any() -> OriginConfig {
        OriginConfig {
            policy: OriginPolicy::Any,
            allow_missing: true,
        }
    }

    /// Exactly these origins (not the same host unless listed).
    #[must_use]
    pub fn list<I: IntoIterator<Item = S>, S: Into<String>>(origins: I) -> OriginConfig {
        OriginConfig {
            policy: OriginPolicy::List {
                origins: origins.into_iter().map(Into::into).collect(),
                same_host: false,
            },
            allow_missing: true,
        }
    }

    /// Whether a request with these headers may connect; `Err` says why
    /// not (the 403's body).
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let origin = match headers.get(header::ORIGIN) {
            None if self.allow_missing => return Ok(()),
            None => return Err("an Origin header is required\n".into()),
            Some(v) => v.to_str().unwrap_or(""),
        };
        let allowed = match &self.policy {
            OriginPolicy::Any => true,
            OriginPolicy::SameHost => same_host(origin, headers),
            OriginPolicy::List {
                origins,
                same_host: also,
            } => {
                let origin = origin.trim_end_matches('/');
                origins
                    .iter()
                    .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
                    || (*also && same_host(origin, headers))
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "origin {:?} may not connect to this server\n",
                origin.chars().take(100).collect::<String>()
            ))
        }
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host the request
/// was sent to.
fn same_host(origin: &str, headers: &HeaderMap) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        // "null" (sandboxed frames, file: pages) and anything malformed.
        return false;
    };
    let Some(origin) = normalize(scheme, authority) else {
        return false;
    };
    [header::HOST.as_str(), "x-forwarded-host"]
        .iter()
        .flat_map(|name| headers.get_all(*name))
        .filter_map(|v| v.to_str().ok())
        // X-Forwarded-Host may list several hosts; the first is the client's.
        .filter_map(|v| v.split(',').next())
        .any(|host| normalize(scheme, host.trim()).as_deref() == Some(origin.as_str()))
}

/// `host[:port]` lowercased, without the scheme's default port.
fn normalize(scheme: &str, authority: &str) -> Option<String> {
    if authority.is_empty() || authority.contains(['/', '@', ' ']) {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => "",
    };
    Some(match authority.strip_suffix(default_port) {
        Some(bare) if !default_port.is_empty() => bare.to_string(),
        _ => authority,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_host_compares_the_origin_with_host_and_forwarded_host() {
        let c = OriginConfig::default();
        assert!(
            c.check(&headers(&[("host", "chat.example.com")])).is_ok(),
            "no Origin"
        );
        let ok = [
            ("https://chat.example.com", "chat.example.com"),
            ("https://chat.example.com", "chat.example.com:443"),
            ("http://localhost:8080", "localhost:8080"),
            ("HTTP://LocalHost:8080", "localhost:8080"),
        ];
        for (origin, host) in ok {
            let mut h = HeaderMap::new();
            h.insert("origin", HeaderValue::from_static(origin));
            h.insert("host", HeaderValue::from_static(host));
            assert!(c.check(&h).is_ok(), "{origin} on {host}");
        }
        let refused = [
            ("https://evil.example", "chat.example.com"),
            ("http://localhost:8081", "localhost:8080"),
            ("null", "localhost:8080"),
            ("https://chat.example.com.evil.example", "chat.example.com"),
        ];
        for (origin, host) in refused {
            let mut h = HeaderMap::new();
            h.insert("origin", HeaderValue::from_static(origin));
            h.insert("host", HeaderValue::from_static(host));
            assert!(c.check(&h).is_err(), "{origin} on {host}");
        }
        let proxied = headers(&[
            ("origin", "https://chat.example.com"),
            ("host", "backend:8080"),
            ("x-forwarded-host", "chat.example.com"),
        ]);
        assert!(c.check(&proxied).is_ok());
    }

    #[test]
    fn a_list_allows_exactly_its_origins_and_missing_origins_can_be_refused() {
        let mut c = OriginConfig::list(["https://app.example.com/"]);
        assert!(
            c.check(&headers(&[("origin", "https://APP.example.com")]))
                .is_ok()
        );
        assert!(
            c.check(&headers(&[("origin", "https://app.example.com:8443")]))
                .is_err()
        );
        assert!(c.check(&HeaderMap::new()).is_ok());
        c.allow_missing = false;
        assert!(c.check(&HeaderMap::new()).is_err());
        assert!(
            OriginConfig::any()
                .check(&headers(&[("origin", "null")]))
                .is_ok()
        );
    }

    #[test]
    fn cookies_and_query_parameters_are_found_by_name() {
        let r = ConnectRequest {
            method: Method::GET,
            uri: Uri::from_static("/ws?encoding=binary&token=abc&flag"),
            headers: headers(&[("cookie", "a=1; session=xyz"), ("cookie", "b=2")]),
            peer: None,
            transport: TransportKind::WebSocket,
        };
        assert_eq!(r.cookie("session"), Some("xyz"));
        assert_eq!(r.cookie("b"), Some("2"));
        assert_eq!(r.cookie("missing"), None);
        assert_eq!(r.query("token"), Some("abc"));
        assert_eq!(r.query("flag"), Some(""));
        assert_eq!(r.query("tok"), None);
    }
}
