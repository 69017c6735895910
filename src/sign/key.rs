//! Signing keys and public keys from PEM files: ECDSA on NIST P-256, the key type
//! cosign and the Sigstore tools make. A private key is PKCS#8 (`BEGIN PRIVATE KEY`,
//! as `openssl genpkey` writes it) or SEC1 (`BEGIN EC PRIVATE KEY`); a public key is
//! SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, as cosign.pub is). Anything else is
//! refused by name, with the command that makes a key pyship reads.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::{Digest as _, Sha256};

/// How to make a key pyship can sign with, for error messages.
pub const MAKE_KEY: &str = "make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem` (public half: `openssl pkey -in key.pem -pubout -out key.pub`)";

/// An ECDSA P-256 private key (cloned for each platform a multi-platform push signs).
#[derive(Clone)]
pub struct PrivateKey {
    key: SigningKey,
}

/// An ECDSA P-256 public key.
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PrivateKey {
    /// Reads a private key from a PEM file.
    pub fn read(path: &Path) -> Result<PrivateKey> {
        let pem = read_pem(path, "signing key")?;
        let what = || format!("the signing key {}", path.display());
        let key = match pem_label(&pem).as_deref() {
            Some("PRIVATE KEY") => p256::SecretKey::from_pkcs8_pem(&pem)
                .map_err(|_| anyhow::anyhow!("{} {MAKE_KEY}", refusal(&what(), &pem)))?,
            Some("EC PRIVATE KEY") => p256::SecretKey::from_sec1_pem(&pem).map_err(|_| {
                anyhow::anyhow!(
                    "{} is an EC key on another curve than P-256, which pyship cannot sign with: {MAKE_KEY}",
                    what()
                )
            })?,
            Some("PUBLIC KEY") => bail!(
                "{} is a public key: --key needs the private key it belongs to",
                what()
            ),
            Some(label) if label.starts_with("ENCRYPTED") => bail!(
                "{} is encrypted ({label}), which pyship cannot read: pass an unencrypted PKCS#8 P-256 key, or {MAKE_KEY}",
                what()
            ),
            _ => bail!("{} is not a PEM private key: {MAKE_KEY}", what()),
        };
        Ok(PrivateKey {
            key: SigningKey::from(key),
        })
    }

    /// The ASN.1 DER ECDSA signature of `message` (hashed with SHA-256). The nonce is
    /// derived from the key and message (RFC 6979), so signing is deterministic.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }
}

impl PublicKey {
    /// Reads a public key from a PEM file.
    pub fn read(path: &Path) -> Result<PublicKey> {
        let pem = read_pem(path, "public key")?;
        let what = format!("the public key {}", path.display());
        match pem_label(&pem).as_deref() {
            Some("PUBLIC KEY") => {}
            Some(label) if label.contains("PRIVATE KEY") => bail!(
                "{what} is a private key: pass the public key (`openssl pkey -in key.pem -pubout`)"
            ),
            _ => bail!(
                "{what} is not a PEM public key (BEGIN PUBLIC KEY): pass the ECDSA P-256 key's public half"
            ),
        }
        let key = VerifyingKey::from_public_key_pem(&pem).map_err(|_| {
            anyhow::anyhow!(
                "{what} is not an ECDSA P-256 key, the only kind pyship verifies: pass the public half of the P-256 key the image was signed with"
            )
        })?;
        Ok(PublicKey { key })
    }

    /// True when `signature` (ASN.1 DER) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_der(signature).is_ok_and(|s| self.key.verify(message, &s).is_ok())
    }

    /// Sigstore's name for a public key: the base64 SHA-256 of its DER
    /// SubjectPublicKeyInfo, which verifiers use to find the key in their trust root.
    pub fn hint(&self) -> String {
        let der = self
            .key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der))
    }
}

fn read_pem(path: &Path, what: &str) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the {what} {}: pass a readable PEM file",
            path.display()
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "the {what} {} is not a PEM file (it is binary): pass the PEM form",
            path.display()
        )
    })
}

/// The label of the first PEM block: `PRIVATE KEY` for `-----BEGIN PRIVATE KEY-----`.
fn pem_label(pem: &str) -> Option<String> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = pem[start..].find("-----")?;
    Some(pem[start..start + end].to_owned())
}

/// Why a PKCS#8 key is not one pyship signs with, named by its algorithm.
fn refusal(what: &str, pem: &str) -> String {
    use p256::pkcs8::der::Decode;
    let kind = p256::pkcs8::der::pem::decode_vec(pem.as_bytes())
        .ok()
        .and_then(|(_, der)| {
            let info = p256::pkcs8::PrivateKeyInfo::from_der(&der).ok()?;
            Some(match info.algorithm.oid.to_string().as_str() {
                "1.2.840.113549.1.1.1" => "an RSA key",
                "1.3.101.112" => "an Ed25519 key",
                "1.3.101.113" => "an Ed448 key",
                "1.2.840.10045.2.1" => "an EC key on another curve than P-256",
                _ => "a key of an algorithm other than ECDSA P-256",
            })
        })
        .unwrap_or("not a readable PKCS#8 key");
    format!("{what} is {kind}, which pyship cannot sign with (it signs with ECDSA P-256):")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed P-256 test key as PKCS#8 PEM, made from a constant scalar.
    pub fn private_pem() -> String {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        p256::SecretKey::from_slice(&[7u8; 32])
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn signs_and_verifies_and_refuses_the_wrong_message() {
        let key = PrivateKey::read(write(&private_pem()).path()).unwrap();
        let signature = key.sign(b"manifest");
        assert_eq!(
            signature,
            key.sign(b"manifest"),
            "RFC 6979 signing is deterministic"
        );
        assert!(key.public_key().verifies(b"manifest", &signature));
        assert!(!key.public_key().verifies(b"manifest!", &signature));
        assert!(!key.public_key().verifies(b"manifest", b"not der"));
    }

    #[test]
    fn names_what_is_wrong_with_a_key() {
        let err = |text: &str| {
            PrivateKey::read(write(text).path())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            err("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n")
                .contains("is a public key")
        );
        assert!(
            err(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n"
            )
            .contains("is encrypted")
        );
        assert!(err("hello").contains("is not a PEM private key"));
        let missing = PrivateKey::read(Path::new("/nonexistent/key.pem"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            missing.contains("cannot read the signing key /nonexistent/key.pem"),
            "{missing}"
        );
        let public = PublicKey::read(write(&private_pem()).path())
            .err()
            .unwrap()
            .to_string();
        assert!(public.contains("is a private key"), "{public}");
    }
}
