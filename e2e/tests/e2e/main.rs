//! The host end to end, with real servers: one test binary, so the suite links once and every
//! test shares one scheduler. (`metrics.rs` is its own binary: the metrics recorder is one per
//! process, and it counts exactly its own traffic.)

mod support;

mod address_space;
mod attacks;
mod blackbox;
mod chat;
mod chat_page;
mod claims;
mod components;
mod concurrency;
mod connections;
mod control;
mod dashboard;
mod faults;
mod idempotency;
mod lattice_provider;
mod links;
mod live_chat;
mod mqtt;
mod page_rooms;
mod persistence;
mod reconnect;
mod registry;
mod rooms;
mod several_hosts;
mod shutdown;
mod sign_on;
mod startup;
mod traps;
mod websocket;
mod ws_rooms;
