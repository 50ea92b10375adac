//! Headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`, which
//! `cargo xtask test` installs), and a TCP proxy whose connections a test can cut.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{find_program, free_port, wait_for_port, workspace_root};

/// A chromedriver process; each `page()` is a browser of its own.
pub struct Chromedriver {
    child: Child,
    port: u16,
    profiles: tempfile::TempDir,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    pub fn start() -> Chromedriver {
        let port = free_port();
        let child = Command::new(find_program("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        wait_for_port(port, "chromedriver");
        Chromedriver {
            child,
            port,
            profiles: tempfile::tempdir().unwrap(),
        }
    }

    /// A new headless browser with a phone-sized window and a fresh profile.
    pub async fn page(&self) -> Page {
        self.page_sized(420, 860).await
    }

    /// A new headless browser with a window of this size and a fresh profile.
    pub async fn page_sized(&self, width: u32, height: u32) -> Page {
        let profile = tempfile::tempdir_in(self.profiles.path()).unwrap().keep();
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": find_program("chromium"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session");
        Page(client)
    }
}

/// One browser window.
pub struct Page(pub Client);

impl Page {
    pub async fn open(&self, url: &str) {
        self.0.goto(url).await.expect("the page loads");
    }

    /// Runs a script (`return …`) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.0
            .execute(script, Vec::new())
            .await
            .expect("the script runs")
    }

    /// Waits until `script` returns `expected`, checking every 50 ms for up to 15 s.
    pub async fn wait_for(&self, what: &str, script: &str, expected: Value) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let value = self.eval(script).await;
            if value == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}: {script} returned {value}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens the chat page at `url`, types `name` as the guest's name, and waits until it is
    /// live.
    pub async fn open_as(&self, url: &str, name: &str) {
        self.open(url).await;
        self.type_into("#name", name).await;
        self.wait_until_live().await;
    }

    /// Waits until the connection badge says the page is live.
    pub async fn wait_until_live(&self) {
        self.wait_for(
            "the page is live",
            "return document.getElementById('status').dataset.state",
            "live".into(),
        )
        .await;
    }

    /// The messages the page shows, oldest first, as `[id, user, body]`.
    pub async fn shown(&self) -> Vec<(String, String, String)> {
        let rows = self
            .eval(
                "return [...document.querySelectorAll('#list .msg')].map(m => \
                 [m.dataset.id, m.querySelector('.user').textContent, m.querySelector('.body').textContent])",
            )
            .await;
        serde_json::from_value(rows).unwrap()
    }

    pub async fn click(&self, selector: &str) {
        let button = self.0.find(Locator::Css(selector)).await.expect(selector);
        button.click().await.unwrap();
    }

    pub async fn type_into(&self, selector: &str, text: &str) {
        let field = self.0.find(Locator::Css(selector)).await.expect(selector);
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Types a message and presses Send.
    pub async fn say(&self, text: &str) {
        self.type_into("#body", text).await;
        self.0
            .find(Locator::Css("#send"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Saves a screenshot under `target/test-artifacts/` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.0.screenshot().await.expect("a screenshot");
        let dir = workspace_root().join("target").join("test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(self) {
        let _ = self.0.close().await;
    }
}

/// A TCP proxy in front of a server. `cut()` drops every connection through it and refuses new
/// ones until `restore()`: a network fault, as a browser would see one.
pub struct Proxy {
    pub address: SocketAddr,
    down: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accepting = {
            let (down, connections) = (down.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection fail
                    }
                    let piping = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(piping);
                }
            })
        };
        Proxy {
            address,
            down,
            connections,
            accepting,
        }
    }

    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
