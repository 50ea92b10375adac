//! `mqtts://`: rustls with ring, trusting `TLS_CA_FILE`'s roots or else the system's.

use std::sync::Arc;

use anyhow::{Context, Result};
use rumqttc::{TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::Config;

pub fn transport(config: &Config) -> Result<Transport> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.tls_ca_file {
        Some(file) => {
            for cert in CertificateDer::pem_file_iter(file)
                .with_context(|| format!("TLS_CA_FILE {}", file.display()))?
            {
                let cert = cert.with_context(|| format!("TLS_CA_FILE {}", file.display()))?;
                roots
                    .add(cert)
                    .context("TLS_CA_FILE holds a certificate rustls refuses")?;
            }
            if roots.is_empty() {
                anyhow::bail!("TLS_CA_FILE {} holds no certificate", file.display());
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    // ring, deprecated in rustls 0.23.48 for having no post-quantum key exchange, is kept:
    // aws-lc-rs has one, at the price of a C build (cmake) that CI's time has no room for.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Transport::tls_with_config(TlsConfiguration::Rustls(
        Arc::new(tls),
    )))
}
