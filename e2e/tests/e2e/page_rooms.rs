//! The chat page's rooms in real headless Chromium: two pages each in its own room, then both in
//! one; a room list whose unread counts move with the others' messages; links and the URL name
//! the room; a room made by writing in it; and a room's gap filled after a dropped connection.

use crate::support;

use serde_json::{json, Value};
use support::browser::{Chromedriver, Page, Proxy};
use support::*;

/// `[room, unread count shown, on screen]` for each room listed.
const ROOM_LIST: &str = "return [...document.querySelectorAll('#room-list a')].map(a => \
     [a.dataset.room, a.querySelector('.unread').textContent, a.getAttribute('aria-current') === 'page'])";
const ROOM_IN_URL: &str = "return new URLSearchParams(location.search).get('room')";
const TITLE: &str = "return document.getElementById('room-title').textContent";
const BODIES: &str =
    "return [...document.querySelectorAll('#list .msg .body')].map(b => b.textContent)";

async fn rooms_listed(page: &Page, what: &str, expected: Value) {
    page.wait_for(what, ROOM_LIST, expected).await;
}

async fn bodies_shown(page: &Page, what: &str, expected: &[&str]) {
    page.wait_for(what, BODIES, json!(expected)).await;
}

/// `[id, user, body]` of a room's history, as `Page::shown` lists what a page shows.
async fn history_of(base: &str, room: &str) -> Vec<(String, String, String)> {
    newest_in(base, room)
        .await
        .iter()
        .map(|m| {
            let field = |k: &str| m[k].as_str().unwrap().to_string();
            (field("id"), field("sourceUser"), field("body"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_in_their_own_rooms_then_in_one_with_unread_counts_links_and_gap_filling() {
    let chat = TestChat::start(false).await;
    post_stored(&chat.base, r#"{"user_name":"curl","body":"welcome"}"#).await;
    let proxy = Proxy::start(chat.host.ws_addrs()[0]).await;
    let driver = Chromedriver::start();
    let fay_url = format!("{}/?ws=ws://{}/ws&room=dev", chat.base, proxy.address);
    // Fay's window is a desktop's, with the rooms beside the messages; Gus's a phone's.
    let fay = driver.page_sized(1100, 700).await;
    fay.open_as(&fay_url, "fay").await;
    let gus_url = format!("{}/?ws={}&room=ops", chat.base, ws_url(&chat.host));
    let gus = driver.page().await;
    gus.open_as(&gus_url, "gus").await;

    // Each page is in the room its link names; general's message is unread on both.
    assert_eq!(fay.eval(TITLE).await, "# dev");
    rooms_listed(
        &fay,
        "fay is in dev",
        json!([["general", "1", false], ["dev", "", true]]),
    )
    .await;
    rooms_listed(
        &gus,
        "gus is in ops",
        json!([["general", "1", false], ["ops", "", true]]),
    )
    .await;

    // Each writes in their own room: it is shown there, and unread in the other's list.
    fay.say("dev from fay").await;
    bodies_shown(&fay, "fay's message is shown in dev", &["dev from fay"]).await;
    rooms_listed(
        &gus,
        "dev has one unread for gus",
        json!([
            ["general", "1", false],
            ["dev", "1", false],
            ["ops", "", true]
        ]),
    )
    .await;
    gus.say("ops from gus").await;
    bodies_shown(&gus, "gus's message is shown in ops", &["ops from gus"]).await;
    rooms_listed(
        &fay,
        "ops has one unread for fay",
        json!([
            ["general", "1", false],
            ["dev", "", true],
            ["ops", "1", false]
        ]),
    )
    .await;
    assert_eq!(
        history_of(&chat.base, "dev").await[0].2,
        "dev from fay",
        "written in dev, stored in dev"
    );

    // Gus follows the link to dev: the URL names it, and dev is read.
    gus.click("#room-list a[data-room='dev']").await;
    bodies_shown(&gus, "gus sees dev", &["dev from fay"]).await;
    assert_eq!(gus.eval(ROOM_IN_URL).await, "dev");
    assert_eq!(gus.eval(TITLE).await, "# dev");
    rooms_listed(
        &gus,
        "gus is in dev, and has read ops and dev",
        json!([
            ["general", "1", false],
            ["dev", "", true],
            ["ops", "", false]
        ]),
    )
    .await;

    // Both in dev: each sees the other live.
    gus.say("both in dev").await;
    for page in [&fay, &gus] {
        bodies_shown(
            page,
            "both pages show dev",
            &["dev from fay", "both in dev"],
        )
        .await;
    }
    assert_eq!(fay.shown().await, history_of(&chat.base, "dev").await);

    // Fay's connection drops while dev and ops get messages: back, her room's gap is filled,
    // and ops's unread count has moved.
    proxy.cut();
    fay.wait_for(
        "fay's page sees the connection drop",
        "return document.getElementById('status').dataset.state",
        json!("offline"),
    )
    .await;
    for (room, body) in [("dev", "missed in dev"), ("ops", "missed in ops")] {
        let message = json!({"user_name": "ivy", "body": body});
        assert_eq!(post_in(&chat.base, room, message, None).await.0, 201);
    }
    proxy.restore();
    fay.wait_until_live().await;
    bodies_shown(
        &fay,
        "fay's gap in dev is filled",
        &["dev from fay", "both in dev", "missed in dev"],
    )
    .await;
    assert_eq!(fay.shown().await, history_of(&chat.base, "dev").await);
    rooms_listed(
        &fay,
        "ops has two unread for fay",
        json!([
            ["general", "1", false],
            ["dev", "", true],
            ["ops", "2", false]
        ]),
    )
    .await;

    // A room is made by writing in it; a name that cannot be a room's is explained.
    gus.type_into("#new-room-name", "no room!").await;
    gus.click("#new-room button").await;
    let error = gus
        .eval("return document.getElementById('error').textContent")
        .await;
    assert!(
        error
            .as_str()
            .unwrap()
            .starts_with("a room name is 1 to 64"),
        "{error}"
    );
    gus.type_into("#new-room-name", "Greenhouse").await;
    gus.click("#new-room button").await;
    gus.wait_for("gus is in greenhouse", TITLE, json!("# greenhouse"))
        .await;
    gus.say("first in greenhouse").await;
    bodies_shown(&gus, "greenhouse has its message", &["first in greenhouse"]).await;
    rooms_listed(
        &fay,
        "greenhouse appears for fay, unread",
        json!([
            ["general", "1", false],
            ["dev", "", true],
            ["greenhouse", "1", false],
            ["ops", "2", false]
        ]),
    )
    .await;

    // Back goes to the room before, as a link would.
    gus.eval("history.back(); return null").await;
    gus.wait_for("gus is back in dev", TITLE, json!("# dev"))
        .await;
    bodies_shown(
        &gus,
        "dev again",
        &["dev from fay", "both in dev", "missed in dev"],
    )
    .await;

    fay.click("#room-list a[data-room='ops']").await;
    bodies_shown(&fay, "fay reads ops", &["ops from gus", "missed in ops"]).await;
    rooms_listed(
        &fay,
        "fay has read ops",
        json!([
            ["general", "1", false],
            ["dev", "", false],
            ["greenhouse", "1", false],
            ["ops", "", true]
        ]),
    )
    .await;
    let shot = fay.screenshot("chat-page-rooms.png").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    fay.close().await;
    gus.close().await;
    chat.stop().await;
}
