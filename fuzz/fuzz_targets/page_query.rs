//! `GET /messages` query strings: any text is a page request within the limits or a reason.
#![no_main]

use http_channel::get::{parse_query, MAX_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    match parse_query(query) {
        Ok(page) => assert!((1..=MAX_LIMIT).contains(&page.limit)),
        Err(reason) => assert!(!reason.is_empty()),
    }
});
