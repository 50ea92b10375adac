//! Routing: which request is which, decided in one place.

use crate::http::{HttpRequest, HttpResponse};

use crate::reply;

/// The path of the message history.
pub const MESSAGES_PATH: &str = "/messages";
/// The chat page's paths.
const PAGE_PATHS: &[&str] = &["/", "/index.html"];

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    ChatPage,
    PostMessage,
    GetMessages,
}

/// The route for a request, or the 404/405 response when there is none.
pub fn route(req: &HttpRequest) -> Result<Route, HttpResponse> {
    let method = req.method.to_ascii_uppercase();
    if PAGE_PATHS.contains(&req.path.as_str()) {
        return match method.as_str() {
            "GET" | "HEAD" => Ok(Route::ChatPage),
            other => Err(reply::with_header(
                reply::error(405, format!("the chat page takes GET, not {other}")),
                "Allow",
                "GET".into(),
            )),
        };
    }
    if req.path.trim_end_matches('/') != MESSAGES_PATH {
        return Err(reply::error(
            404,
            format!("no such resource: {}; try {MESSAGES_PATH}", req.path),
        ));
    }
    match method.as_str() {
        "POST" => Ok(Route::PostMessage),
        "GET" => Ok(Route::GetMessages),
        other => Err(reply::with_header(
            reply::error(
                405,
                format!("{MESSAGES_PATH} takes GET or POST, not {other}"),
            ),
            "Allow",
            "GET, POST".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn routes_get_and_post_on_messages() {
        assert_eq!(route(&request("POST", "/messages")), Ok(Route::PostMessage));
        assert_eq!(route(&request("GET", "/messages")), Ok(Route::GetMessages));
        assert_eq!(route(&request("get", "/messages/")), Ok(Route::GetMessages));
    }

    #[test]
    fn the_chat_page_is_at_the_root() {
        assert_eq!(route(&request("GET", "/")), Ok(Route::ChatPage));
        assert_eq!(route(&request("GET", "/index.html")), Ok(Route::ChatPage));
        let response = route(&request("POST", "/")).unwrap_err();
        assert_eq!(response.status_code, 405);
        assert_eq!(response.header["Allow"], ["GET"]);
    }

    #[test]
    fn other_paths_are_404() {
        for path in ["/x", "/message", "/messages/123", "/messagesx", "//"] {
            let response = route(&request("GET", path)).unwrap_err();
            assert_eq!(response.status_code, 404, "{path}");
        }
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        let response = route(&request("DELETE", "/messages")).unwrap_err();
        assert_eq!(response.status_code, 405);
        assert_eq!(response.header["Allow"], ["GET, POST"]);
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["reason"], "/messages takes GET or POST, not DELETE");
    }
}
