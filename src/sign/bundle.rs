//! Sigstore bundles (v0.3, `application/vnd.dev.sigstore.bundle.v0.3+json`) holding a
//! `messageSignature`: an ECDSA signature over the signed bytes (an image's or
//! artifact's manifest, so over its digest too) with the SHA-256 of those bytes, and a
//! public key named by its hint as the verification material. With a key and no
//! transparency log, this is what Sigstore verifiers accept against a trusted key.

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::key::{PrivateKey, PublicKey};
use crate::oci::media_type::SIGSTORE_BUNDLE;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_signature: Option<MessageSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    public_key: Option<PublicKeyIdentifier>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PublicKeyIdentifier {
    hint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    message_digest: HashOutput,
    signature: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct HashOutput {
    algorithm: String,
    digest: String,
}

/// Why a bundle does not prove that the key signed the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("it is not a Sigstore bundle v0.3 with a message signature")]
    Unreadable,
    #[error("it signs other bytes (its digest differs)")]
    OtherMessage,
    #[error("its signature is not the given key's")]
    OtherKey,
}

impl Bundle {
    /// Signs `message` with `key`.
    pub fn sign(key: &PrivateKey, message: &[u8]) -> Bundle {
        Bundle {
            media_type: SIGSTORE_BUNDLE.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyIdentifier {
                    hint: key.public_key().hint(),
                }),
                tlog_entries: Vec::new(),
            },
            message_signature: Some(MessageSignature {
                message_digest: HashOutput {
                    algorithm: "SHA2_256".to_owned(),
                    digest: STANDARD.encode(Sha256::digest(message)),
                },
                signature: STANDARD.encode(key.sign(message)),
            }),
        }
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Checks that the bundle in `bytes` is `key`'s signature over `message`.
    pub fn verify(bytes: &[u8], message: &[u8], key: &PublicKey) -> Result<(), Rejection> {
        let bundle: Bundle = serde_json::from_slice(bytes).map_err(|_| Rejection::Unreadable)?;
        if bundle.media_type != SIGSTORE_BUNDLE {
            return Err(Rejection::Unreadable);
        }
        let signed = bundle.message_signature.ok_or(Rejection::Unreadable)?;
        let digest = decode(&signed.message_digest.digest)?;
        let signature = decode(&signed.signature)?;
        if signed.message_digest.algorithm != "SHA2_256" {
            return Err(Rejection::Unreadable);
        }
        if digest != Sha256::digest(message).as_slice() {
            return Err(Rejection::OtherMessage);
        }
        if !key.verifies(message, &signature) {
            return Err(Rejection::OtherKey);
        }
        Ok(())
    }
}

fn decode(text: &str) -> Result<Vec<u8>, Rejection> {
    STANDARD.decode(text).map_err(|_| Rejection::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKey {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), super::super::key::tests::private_pem()).unwrap();
        PrivateKey::read(file.path()).unwrap()
    }

    #[test]
    fn a_bundle_verifies_its_message_with_its_key_only() {
        let key = key();
        let bytes = Bundle::sign(&key, b"manifest").to_json().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["mediaType"], SIGSTORE_BUNDLE);
        assert_eq!(
            json["messageSignature"]["messageDigest"]["algorithm"],
            "SHA2_256"
        );
        assert_eq!(
            json["verificationMaterial"]["publicKey"]["hint"],
            key.public_key().hint()
        );
        assert_eq!(
            Bundle::verify(&bytes, b"manifest", &key.public_key()),
            Ok(())
        );
        assert_eq!(
            Bundle::verify(&bytes, b"tampered", &key.public_key()),
            Err(Rejection::OtherMessage)
        );
        let other = {
            let file = tempfile::NamedTempFile::new().unwrap();
            use p256::pkcs8::{EncodePrivateKey, LineEnding};
            let pem = p256::SecretKey::from_slice(&[9u8; 32])
                .unwrap()
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap();
            std::fs::write(file.path(), pem.as_bytes()).unwrap();
            PrivateKey::read(file.path()).unwrap()
        };
        assert_eq!(
            Bundle::verify(&bytes, b"manifest", &other.public_key()),
            Err(Rejection::OtherKey)
        );
        assert_eq!(
            Bundle::verify(b"{}", b"manifest", &other.public_key()),
            Err(Rejection::Unreadable)
        );
    }
}
