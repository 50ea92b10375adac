//! wasmbus glue: HTTP requests in (`HttpServer`); relayed messages acknowledged (`Outbound`).

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};
use wasmcloud_interface_logging::log;
use wasmcloud_interface_numbergen::generate_guid;

use crate::bindings::chatlog::ChatlogSender;
use crate::bindings::outbound::{Outbound, OutboundMessage, OutboundReceiver};
use crate::get::get_messages;
use crate::post::{post_message, Ids};
use crate::routes::{route, Route};

const API_ALIAS: &str = "mcchat/api";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer, Outbound)]
struct HttpChannelActor {}

struct NumberGen;

#[async_trait]
impl Ids for NumberGen {
    async fn new_id(&self) -> RpcResult<String> {
        generate_guid().await
    }
}

#[async_trait]
impl HttpServer for HttpChannelActor {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        let api = ChatlogSender::to_actor(API_ALIAS);
        let response = match route(req) {
            Ok(Route::PostMessage) => post_message(&req.body, &NumberGen, &api).await,
            Ok(Route::GetMessages) => get_messages(&req.query_string, &api).await,
            Err(response) => response,
        };
        if response.status_code >= 500 {
            // The client got the reason; the operator needs it too. Logging never fails a request.
            let reason = String::from_utf8_lossy(&response.body);
            let _ = log(
                "error",
                format!(
                    "{} {} -> {}: {reason}",
                    req.method, req.path, response.status_code
                ),
            )
            .await;
        }
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
