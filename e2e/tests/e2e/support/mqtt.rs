//! An MQTT 5 device for the tests (rumqttc), and mosquitto's own clients as a person runs them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::mpsc;

use super::{find_program, Server, WAIT};

/// A connected MQTT 5 client and the messages it receives.
pub struct Device {
    pub client: AsyncClient,
    received: mpsc::UnboundedReceiver<Publish>,
    subscribed: mpsc::UnboundedReceiver<()>,
}

impl Device {
    pub async fn connect(broker: &Server, client_id: &str) -> Device {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", broker.port);
        options.set_keep_alive(Duration::from_secs(10));
        options.set_max_packet_size(Some(1 << 20));
        // As a device on a real network would: no Nagle delay on small requests.
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        options.set_network_options(network);
        let (client, mut events) = AsyncClient::new(options, 64);
        let (received_tx, received) = mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = mpsc::unbounded_channel();
        let (connected_tx, mut connected) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = connected_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        if received_tx.send(publish).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, connected.recv())
            .await
            .expect("the device connects");
        Device {
            client,
            received,
            subscribed,
        }
    }

    /// Subscribes at QoS 1, once the broker confirmed it.
    pub async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        tokio::time::timeout(WAIT, self.subscribed.recv())
            .await
            .expect("the broker confirms the subscription");
    }

    pub async fn publish(&self, topic: &str, body: impl Into<Bytes>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, body.into())
            .await
            .unwrap();
    }

    /// Publishes an MQTT 5 request: a response topic and correlation data.
    pub async fn request(
        &self,
        topic: &str,
        body: impl Into<Bytes>,
        response_topic: &str,
        correlation: &[u8],
    ) {
        let properties = PublishProperties {
            response_topic: Some(response_topic.into()),
            correlation_data: Some(Bytes::copy_from_slice(correlation)),
            ..Default::default()
        };
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, body.into(), properties)
            .await
            .unwrap();
    }

    /// The next message received, within `WAIT`.
    pub async fn next(&mut self) -> Publish {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("a message arrives")
            .expect("the device is connected")
    }

    /// The next message's topic and JSON body.
    pub async fn next_json(&mut self) -> (String, serde_json::Value) {
        let publish = self.next().await;
        let topic = String::from_utf8(publish.topic.to_vec()).unwrap();
        (topic, serde_json::from_slice(&publish.payload).unwrap())
    }

    /// Whatever arrives within `within`, for checking that nothing does.
    pub async fn nothing_within(&mut self, within: Duration) -> Option<Publish> {
        tokio::time::timeout(within, self.received.recv())
            .await
            .ok()
            .flatten()
    }
}

/// The correlation data of a reply.
pub fn correlation(publish: &Publish) -> Option<Vec<u8>> {
    publish
        .properties
        .as_ref()
        .and_then(|p| p.correlation_data.as_ref())
        .map(|c| c.to_vec())
}

/// Runs one of mosquitto's clients (`mosquitto_pub`, `mosquitto_rr`) against `broker`, and
/// returns what it printed; it must succeed.
pub fn mosquitto_client(program: &str, broker: &Server, args: &[&str]) -> String {
    let output = Command::new(find_program(program))
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A certificate authority and a server certificate it signed for 127.0.0.1 and localhost, made
/// with openssl as an operator would.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    pub fn make(dir: &Path) -> TlsFiles {
        let file = |name: &str| dir.join(name);
        let extensions = file("server.ext");
        std::fs::write(&extensions, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
        let ec_key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"],
                &ec_key[..],
                &["-days", "2", "-subj", "/CN=mcchat test CA"],
            ]
            .concat(),
            &[("-keyout", file("ca.key")), ("-out", file("ca.pem"))],
        );
        openssl(
            &[&["req"], &ec_key[..], &["-subj", "/CN=localhost"]].concat(),
            &[
                ("-keyout", file("server.key")),
                ("-out", file("server.csr")),
            ],
        );
        openssl(
            &["x509", "-req", "-days", "2", "-CAcreateserial"],
            &[
                ("-in", file("server.csr")),
                ("-CA", file("ca.pem")),
                ("-CAkey", file("ca.key")),
                ("-extfile", extensions),
                ("-out", file("server.pem")),
            ],
        );
        // mosquitto started as root reads them as the user `mosquitto`; test keys are no secret.
        let readable = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        readable(dir, 0o755);
        readable(&file("server.key"), 0o644);
        TlsFiles {
            ca: file("ca.pem"),
            cert: file("server.pem"),
            key: file("server.key"),
        }
    }

    /// mosquitto's lines for a TLS listener with these files.
    pub fn mosquitto_lines(&self) -> String {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\n",
            self.ca.display(),
            self.cert.display(),
            self.key.display()
        )
    }
}

fn openssl(args: &[&str], files: &[(&str, PathBuf)]) {
    let mut command = Command::new(find_program("openssl"));
    command.args(args);
    for (flag, path) in files {
        command.arg(flag).arg(path);
    }
    let output = command.output().expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
