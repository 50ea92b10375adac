//! Stand-ins for a channel's collaborators: fixed ids, no failures, and a chat log that
//! validates as the real one does and stores nothing. Each channel generates its own bindings,
//! so the same stand-ins are written out for each by this macro.

/// `stand_ins!(channel_crate, path::to::Ids, path::to::Report)` defines `FixedIds`,
/// `NoFailures` and `ValidatingApi` for that channel's traits.
macro_rules! stand_ins {
    ($channel:ident, $ids:path, $report:path) => {
        use $channel::bindings::chatlog::{
            CanonicalChatMessage, Chatlog, MessagesList, MessagesPage, MessagesPageRequest,
            WriteMessageResponse,
        };

        struct FixedIds;

        #[async_trait::async_trait]
        impl $ids for FixedIds {
            async fn new_id(&self) -> wasmbus_rpc::error::RpcResult<String> {
                Ok("00000000-0000-4000-8000-000000000000".into())
            }
        }

        /// The stand-ins never fail, so a report is a bug.
        struct NoFailures;

        #[async_trait::async_trait]
        impl $report for NoFailures {
            async fn failure(&self, detail: String) {
                panic!("unexpected failure: {detail}");
            }
        }

        /// Validates as the chat log does, and stores nothing.
        struct ValidatingApi;

        #[async_trait::async_trait]
        impl Chatlog for ValidatingApi {
            async fn write_message(
                &self,
                _: &wasmbus_rpc::common::Context,
                msg: &CanonicalChatMessage,
            ) -> wasmbus_rpc::error::RpcResult<WriteMessageResponse> {
                let as_stored = chatlog::bindings::CanonicalChatMessage {
                    id: msg.id.clone(),
                    channel_name: msg.channel_name.clone(),
                    source_user: msg.source_user.clone(),
                    body: msg.body.clone(),
                    client_id: None,
                    index: None,
                };
                let checked = chatlog::validate::check_message(&as_stored);
                Ok(WriteMessageResponse {
                    accepted: checked.is_ok(),
                    id: checked.is_ok().then(|| msg.id.clone()),
                    reason: checked.err(),
                    ..Default::default()
                })
            }
            async fn get_messages(
                &self,
                _: &wasmbus_rpc::common::Context,
            ) -> wasmbus_rpc::error::RpcResult<MessagesList> {
                Ok(Vec::new())
            }
            async fn get_messages_page(
                &self,
                _: &wasmbus_rpc::common::Context,
                _: &MessagesPageRequest,
            ) -> wasmbus_rpc::error::RpcResult<MessagesPage> {
                Ok(MessagesPage::default())
            }
        }
    };
}
