//! What keeps other web pages away from the dashboard, with or without its token:
//! - every request must name the dashboard itself in `Host` (an address of the machine,
//!   `localhost`, or a name given with `--dashboard-host`, at the dashboard's port), so a page
//!   whose name was rebound to 127.0.0.1 (DNS rebinding) reads and steers nothing;
//! - an action's `Origin`, when a browser sends one, must be that same host;
//! - a `POST` action's body must be `application/json`, which a form cannot send: a page can
//!   only send it with `fetch`, which asks first (a CORS preflight) and is refused.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::net::refusal;

/// The dashboard's address, and the other names it answers to.
#[derive(Clone)]
pub struct OwnHost {
    bound: SocketAddr,
    other_names: Arc<[String]>,
}

impl OwnHost {
    pub fn new(bound: SocketAddr, other_names: Vec<String>) -> Self {
        OwnHost {
            bound,
            other_names: other_names.into(),
        }
    }

    fn accepts(&self, host: &str) -> bool {
        is_own_host(host, self.bound)
            || host.rsplit_once(':').is_some_and(|(name, port)| {
                port.parse() == Ok(self.bound.port())
                    && self
                        .other_names
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(name))
            })
    }
}

/// Refuses a request whose `Host` is not the dashboard's own.
pub async fn own_host(State(own): State<OwnHost>, request: Request, next: Next) -> Response {
    match request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        Some(host) if own.accepts(host) => next.run(request).await,
        _ => refusal(
            StatusCode::FORBIDDEN,
            "the Host header does not name this dashboard (use its address or localhost)",
        ),
    }
}

/// Refuses an action from another origin, and a `POST` whose body is not JSON.
pub async fn same_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| Some(o) == host);
        if !same {
            return refusal(
                StatusCode::FORBIDDEN,
                "actions are taken only from the dashboard's own page",
            );
        }
    }
    if request.method() == Method::POST && !is_json(headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an action's body must be Content-Type: application/json",
        );
    }
    next.run(request).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `localhost:PORT`, or an IP address of this dashboard at its port: an address literal
/// cannot be rebound to another name's server, and a bound wildcard serves all of them.
fn is_own_host(host: &str, bound: SocketAddr) -> bool {
    let Some((name, port)) = host.rsplit_once(':') else {
        return false;
    };
    if port.parse() != Ok(bound.port()) {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    match name.parse::<IpAddr>() {
        Ok(ip) => bound.ip().is_unspecified() || ip == bound.ip(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_dashboards_own_address_or_localhost_is_its_host() {
        let loopback: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!(is_own_host("127.0.0.1:4000", loopback));
        assert!(is_own_host("localhost:4000", loopback));
        assert!(!is_own_host("127.0.0.1:4001", loopback));
        assert!(!is_own_host("evil.example:4000", loopback));
        assert!(!is_own_host("10.0.0.5:4000", loopback));
        assert!(!is_own_host("127.0.0.1", loopback));
        let everywhere: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        assert!(is_own_host("10.0.0.5:4000", everywhere));
        assert!(is_own_host("[::1]:4000", everywhere));
        assert!(!is_own_host("rebound.example:4000", everywhere));
        let named = OwnHost::new(everywhere, vec!["metrics.internal".into()]);
        assert!(named.accepts("metrics.internal:4000"));
        assert!(!named.accepts("metrics.internal:4001"));
        assert!(!named.accepts("rebound.example:4000"));
    }
}
