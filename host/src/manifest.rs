//! Reads a wadm application manifest (`wadm.yaml`): the actors, the capability components they
//! link to, and each link's values. The same file deploys to a wasmCloud lattice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Manifest {
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The annotation that lists trusted issuers (account keys, comma-separated). A lattice ignores it.
pub const TRUSTED_ISSUERS_ANNOTATION: &str = "mcchat/trusted-issuers";

#[derive(Debug, Deserialize)]
struct Spec {
    components: Vec<Component>,
}

#[derive(Debug, Deserialize)]
struct Component {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    properties: Properties,
    #[serde(default)]
    traits: Vec<Trait>,
}

#[derive(Debug, Deserialize)]
struct Properties {
    image: String,
    contract: Option<String>,
    link_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Trait {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    properties: serde_yaml_ng::Value,
}

#[derive(Debug, Deserialize)]
struct LinkdefProperties {
    target: String,
    #[serde(default)]
    values: BTreeMap<String, String>,
}

/// An application, resolved: actors with their images, links with contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub name: String,
    pub actors: Vec<ActorDecl>,
    /// Account keys whose actors may run (from the `mcchat/trusted-issuers` annotation).
    pub trusted_issuers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorDecl {
    /// The component's name in the manifest.
    pub name: String,
    pub image: ActorImage,
    pub links: Vec<LinkDecl>,
}

/// Where an actor's signed module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorImage {
    /// A `file://` image: absolute, or relative to the manifest's folder.
    File(PathBuf),
    /// Anything else is an OCI reference, pulled from its registry as a wasmCloud host does.
    Registry(String),
}

impl std::fmt::Display for ActorImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorImage::File(path) => write!(f, "{}", path.display()),
            ActorImage::Registry(reference) => f.write_str(reference),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkDecl {
    pub contract: String,
    pub link_name: String,
    /// The linked capability component's image: which implementation of the contract it is.
    pub provider_image: String,
    pub values: BTreeMap<String, String>,
}

impl LinkDecl {
    /// A link value by key, ignoring case (providers differ: `address`, `URL`, `SUBSCRIPTION`).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

pub fn load(path: &Path) -> Result<App> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading manifest {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).with_context(|| format!("in manifest {}", path.display()))
}

pub fn parse(text: &str, base: &Path) -> Result<App> {
    let manifest: Manifest = serde_yaml_ng::from_str(text)?;
    let capabilities: BTreeMap<&str, &Component> = manifest
        .spec
        .components
        .iter()
        .filter(|c| c.kind == "capability" || c.kind == "provider")
        .map(|c| (c.name.as_str(), c))
        .collect();
    let mut actors = Vec::new();
    for component in manifest
        .spec
        .components
        .iter()
        .filter(|c| c.kind == "actor")
    {
        let mut links = Vec::new();
        for linkdef in component.traits.iter().filter(|t| t.kind == "linkdef") {
            let props: LinkdefProperties = serde_yaml_ng::from_value(linkdef.properties.clone())
                .with_context(|| format!("linkdef of {}", component.name))?;
            let target = capabilities.get(props.target.as_str()).ok_or_else(|| {
                anyhow!(
                    "{} links to {}, which is not a capability component",
                    component.name,
                    props.target
                )
            })?;
            let contract = target
                .properties
                .contract
                .clone()
                .ok_or_else(|| anyhow!("capability {} names no contract", target.name))?;
            let link_name = target
                .properties
                .link_name
                .clone()
                .unwrap_or_else(|| "default".into());
            links.push(LinkDecl {
                contract,
                link_name,
                provider_image: target.properties.image.clone(),
                values: props.values,
            });
        }
        actors.push(ActorDecl {
            name: component.name.clone(),
            image: actor_image(&component.properties.image, base),
            links,
        });
    }
    if actors.is_empty() {
        bail!("it declares no actors");
    }
    let trusted_issuers = manifest
        .metadata
        .annotations
        .get(TRUSTED_ISSUERS_ANNOTATION)
        .map(|keys| {
            keys.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    Ok(App {
        name: manifest.metadata.name,
        actors,
        trusted_issuers,
    })
}

fn actor_image(image: &str, base: &Path) -> ActorImage {
    let Some(path) = image.strip_prefix("file://") else {
        return ActorImage::Registry(image.to_string());
    };
    let path = Path::new(path);
    ActorImage::File(if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projects_wadm_yaml() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let app = load(&root.join("wadm.yaml")).unwrap();
        assert_eq!(app.name, "mcchat");
        let names: Vec<&str> = app.actors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "chatlog",
                "accounts",
                "api-gateway",
                "nats-channel",
                "http-channel",
                "ws-channel",
                "mqtt-channel"
            ]
        );
        let ws = &app.actors[5];
        assert_eq!(ws.links[0].contract, "wasmcloud:messaging");
        assert!(ws.links[0]
            .provider_image
            .ends_with("messaging_websocket.par.gz"));
        assert_eq!(ws.links[0].value("MODE"), Some("server"));
        assert_eq!(ws.links[0].value("URI"), Some("0.0.0.0:8081"));
        let mqtt = &app.actors[6];
        assert!(mqtt.links[0]
            .provider_image
            .ends_with("messaging_mqtt.par.gz"));
        assert_eq!(mqtt.links[0].value("URI"), Some("mqtt://127.0.0.1:1883"));
        let http = &app.actors[4];
        assert_eq!(
            http.image,
            ActorImage::File(root.join("./build/http_channel_s.wasm"))
        );
        assert_eq!(http.links[0].contract, "wasmcloud:httpserver");
        assert_eq!(http.links[0].value("ADDRESS"), Some("0.0.0.0:8080"));
        let nats = &app.actors[3];
        assert_eq!(nats.links[0].contract, "wasmcloud:messaging");
        assert_eq!(
            nats.links[0].value("subscription"),
            Some("chat.in,chat.in.>,chat.signup,chat.signon,chat.refresh,chat.signoff")
        );
        assert!(nats.links[0].provider_image.contains("nats_messaging"));
        let chatlog = &app.actors[0];
        assert_eq!(chatlog.links[0].contract, "wasmcloud:keyvalue");
        assert_eq!(
            chatlog.links[0].value("URL"),
            Some("redis://127.0.0.1:6379")
        );
        let accounts = &app.actors[1];
        let contracts: Vec<_> = accounts.links.iter().map(|l| l.contract.as_str()).collect();
        assert_eq!(contracts, ["wasmcloud:keyvalue", "mcchat:clock"]);
        let gateway = &app.actors[2];
        assert_eq!(gateway.links.len(), 1);
        assert_eq!(gateway.links[0].contract, "mcchat:clock");
        assert!(gateway.links[0].provider_image.ends_with("clock.par.gz"));
        assert!(app.trusted_issuers.is_empty());
    }

    #[test]
    fn reads_trusted_issuers_from_the_annotation() {
        let text = "metadata:\n  name: x\n  annotations:\n    mcchat/trusted-issuers: 'AAA, ABB,'\nspec:\n  components:\n    - name: a\n      type: actor\n      properties: {image: 'file://a.wasm'}\n";
        let app = parse(text, Path::new(".")).unwrap();
        assert_eq!(app.trusted_issuers, ["AAA", "ABB"]);
    }

    #[test]
    fn takes_registry_images_and_refuses_dangling_links() {
        let registry = "metadata: {name: x}\nspec:\n  components:\n    - name: a\n      type: actor\n      properties: {image: 'ghcr.io/x/a:1'}\n    - name: b\n      type: actor\n      properties: {image: 'file:///opt/b_s.wasm'}\n";
        let app = parse(registry, Path::new("/ignored")).unwrap();
        assert_eq!(
            app.actors[0].image,
            ActorImage::Registry("ghcr.io/x/a:1".into())
        );
        assert_eq!(
            app.actors[1].image,
            ActorImage::File("/opt/b_s.wasm".into())
        );
        let dangling = "metadata: {name: x}\nspec:\n  components:\n    - name: a\n      type: actor\n      properties: {image: 'file://a.wasm'}\n      traits:\n        - type: linkdef\n          properties: {target: kv}\n";
        let e = parse(dangling, Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("not a capability component"), "{e}");
    }
}
