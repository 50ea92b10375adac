//! Routing: which request is which, decided in one place.

use std::borrow::Cow;

use crate::http::{HttpRequest, HttpResponse};

use crate::query;
use crate::reply;
use crate::rooms::ROOMS_PATH;

/// The path of the default room's history.
pub const MESSAGES_PATH: &str = "/messages";
/// A room's history is at `/rooms/<room>/messages`.
const ROOMS_PREFIX: &str = "/rooms/";
/// The chat page's paths.
const PAGE_PATHS: &[&str] = &["/", "/index.html"];

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    ChatPage,
    /// A page of a room's history: `None` is `/messages`, the default room.
    GetMessages {
        room: Option<String>,
    },
    /// `GET /rooms`: the rooms.
    ListRooms,
    /// A request the API answers, under the subject a broker client would send it on: the
    /// body as received, or `body` in its place.
    Api {
        subject: Cow<'static, str>,
        body: Option<&'static [u8]>,
    },
}

/// `POST /messages`: a chat message (the API's default subject).
pub const POST_MESSAGE: Route = Route::Api {
    subject: Cow::Borrowed(""),
    body: None,
};

/// The room a `/rooms/<room>/messages` path names, as written: the room's rules are the chat
/// log's, which refuses a bad name with its reason.
fn room_of(path: &str) -> Option<&str> {
    path.strip_prefix(ROOMS_PREFIX)?.strip_suffix(MESSAGES_PATH)
}

/// A room's history: GET reads it, POST writes on the room's subject (`chat.in.<room>`).
fn room_route(method: &str, room: &str) -> Result<Route, HttpResponse> {
    match method {
        "GET" => Ok(Route::GetMessages {
            room: Some(room.to_string()),
        }),
        "POST" => Ok(Route::Api {
            subject: Cow::Owned(format!("chat.in.{room}")),
            body: None,
        }),
        other => Err(not_allowed(
            &format!("{ROOMS_PREFIX}{room}{MESSAGES_PATH}"),
            other,
            "GET, POST",
        )),
    }
}

/// 405, with the methods the path takes.
fn not_allowed(path: &str, method: &str, allowed: &str) -> HttpResponse {
    reply::with_header(
        reply::error(
            405,
            format!(
                "{path} takes {}, not {method}",
                allowed.replace(", ", " or ")
            ),
        ),
        "Allow",
        allowed.into(),
    )
}

/// The paths the API answers, with the methods each takes and the subject of each.
const API_PATHS: &[(&str, &[(&str, &str)])] = &[
    (MESSAGES_PATH, &[("GET", ""), ("POST", "")]),
    ("/accounts", &[("POST", "chat.signup")]),
    (
        "/sessions",
        &[("POST", "chat.signon"), ("DELETE", "chat.signoff")],
    ),
    ("/sessions/refresh", &[("POST", "chat.refresh")]),
];

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
    let path = req.path.trim_end_matches('/');
    if let Some(room) = room_of(path) {
        return room_route(&method, room);
    }
    if path == ROOMS_PATH {
        return match method.as_str() {
            "GET" => Ok(Route::ListRooms),
            other => Err(not_allowed(ROOMS_PATH, other, "GET")),
        };
    }
    let Some((path, methods)) = API_PATHS.iter().find(|(p, _)| *p == path) else {
        return Err(reply::error(
            404,
            format!(
                "no such resource: {}; try {MESSAGES_PATH} or {ROOMS_PREFIX}<room>{MESSAGES_PATH}",
                req.path
            ),
        ));
    };
    match methods.iter().find(|(m, _)| *m == method) {
        Some(("GET", _)) => Ok(Route::GetMessages { room: None }),
        Some(("DELETE", subject)) => Ok(Route::Api {
            subject: Cow::Borrowed(subject),
            body: everywhere(&req.query_string).then_some(br#"{"everywhere":true}"#),
        }),
        Some((_, subject)) => Ok(Route::Api {
            subject: Cow::Borrowed(subject),
            body: None,
        }),
        None => {
            let allowed: Vec<&str> = methods.iter().map(|(m, _)| *m).collect();
            Err(not_allowed(path, &method, &allowed.join(", ")))
        }
    }
}

/// `?everywhere=true`: signing off every token of the user.
fn everywhere(query_string: &str) -> bool {
    query::params(query_string).any(|(key, value)| key == "everywhere" && value == "true")
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
        assert_eq!(route(&request("POST", "/messages")), Ok(POST_MESSAGE));
        let general = || Ok(Route::GetMessages { room: None });
        assert_eq!(route(&request("GET", "/messages")), general());
        assert_eq!(route(&request("get", "/messages/")), general());
    }

    #[test]
    fn each_room_has_its_messages_path() {
        let dev = || {
            Ok(Route::GetMessages {
                room: Some("dev".into()),
            })
        };
        assert_eq!(route(&request("GET", "/rooms/dev/messages")), dev());
        assert_eq!(route(&request("GET", "/rooms/dev/messages/")), dev());
        assert_eq!(
            route(&request("POST", "/rooms/dev/messages")),
            Ok(Route::Api {
                subject: "chat.in.dev".into(),
                body: None
            })
        );
        // The name is the chat log's to refuse, with its reason.
        assert_eq!(
            route(&request("GET", "/rooms/a/b/messages")),
            Ok(Route::GetMessages {
                room: Some("a/b".into())
            })
        );
        let response = route(&request("DELETE", "/rooms/dev/messages")).unwrap_err();
        assert_eq!(response.status_code, 405);
        assert_eq!(response.header["Allow"], ["GET, POST"]);
        assert_eq!(route(&request("GET", "/rooms/")), Ok(Route::ListRooms));
        assert_eq!(
            route(&request("POST", "/rooms")).unwrap_err().status_code,
            405
        );
        for path in ["/rooms/dev", "/rooms/messages"] {
            assert_eq!(
                route(&request("GET", path)).unwrap_err().status_code,
                404,
                "{path}"
            );
        }
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
    fn the_account_routes_name_the_subjects_of_the_account_requests() {
        let api = |subject: &'static str, body| {
            Ok(Route::Api {
                subject: subject.into(),
                body,
            })
        };
        assert_eq!(
            route(&request("POST", "/accounts")),
            api("chat.signup", None)
        );
        assert_eq!(
            route(&request("POST", "/sessions")),
            api("chat.signon", None)
        );
        assert_eq!(
            route(&request("POST", "/sessions/refresh/")),
            api("chat.refresh", None)
        );
        assert_eq!(
            route(&request("DELETE", "/sessions")),
            api("chat.signoff", None)
        );
        let mut everywhere = request("DELETE", "/sessions");
        everywhere.query_string = "everywhere=true".into();
        let body: &[u8] = br#"{"everywhere":true}"#;
        assert_eq!(route(&everywhere), api("chat.signoff", Some(body)));
        let response = route(&request("GET", "/sessions")).unwrap_err();
        assert_eq!(response.status_code, 405);
        assert_eq!(response.header["Allow"], ["POST, DELETE"]);
        assert_eq!(
            route(&request("GET", "/accounts/ann"))
                .unwrap_err()
                .status_code,
            404
        );
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
