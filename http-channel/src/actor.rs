//! wasmbus glue: HTTP requests in (`HttpServer`); relayed messages acknowledged (`Outbound`).

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};
use wasmcloud_interface_logging::log;

use crate::bindings::api::ApiSender;
use crate::bindings::chatlog::ChatlogSender;
use crate::bindings::outbound::{Outbound, OutboundMessage, OutboundReceiver};
use crate::get::get_messages;
use crate::post::{post, Posted};
use crate::reply::Report;
use crate::rooms::list_rooms;
use crate::routes::{route, Route};

const API_ALIAS: &str = "mcchat/api";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer, Outbound)]
struct HttpChannelActor {}

/// Failure details go to the host's log.
struct HostLog;

#[async_trait]
impl Report for HostLog {
    async fn failure(&self, detail: String) {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = log("error", detail).await;
    }
}

/// A request header's first value, by case-insensitive name.
fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.header
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
}

#[async_trait]
impl HttpServer for HttpChannelActor {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        // Every 5xx path reports its details to the log through `HostLog`.
        let response = match route(req) {
            Ok(Route::ChatPage) => crate::reply::chat_page(),
            Ok(Route::Api { subject, body }) => {
                let posted = Posted {
                    subject: &subject,
                    body: body.unwrap_or(&req.body),
                    idempotency_key: header(req, "idempotency-key"),
                    authorization: header(req, "authorization"),
                };
                let api = ApiSender::to_actor(API_ALIAS);
                post(posted, &api, &HostLog).await
            }
            Ok(Route::GetMessages { room }) => {
                let history = ChatlogSender::to_actor(API_ALIAS);
                get_messages(room.as_deref(), &req.query_string, &history, &HostLog).await
            }
            Ok(Route::ListRooms) => {
                let rooms = ChatlogSender::to_actor(API_ALIAS);
                list_rooms(&req.query_string, &rooms, &HostLog).await
            }
            Err(response) => response,
        };
        Ok(response)
    }
}

#[async_trait]
impl Outbound for HttpChannelActor {
    /// HTTP clients poll `GET /messages`; there is no real-time push (yet), so nothing is delivered.
    async fn publish_message(&self, _ctx: &Context, _msg: &OutboundMessage) -> RpcResult<bool> {
        Ok(false)
    }
}
