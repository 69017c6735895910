//! The keys a suite's `InRelease` must be signed by: Debian's archive keyring (the
//! `debian-archive-keyring` package's, embedded so nothing is needed on the host), or
//! the keyring `PYSHIP_DEBIAN_KEYRING` names, binary or ASCII-armored.
//!
//! A signature counts when it verifies against a primary key of the keyring (trusted by
//! being in it, as `gpgv` trusts a keyring) or a subkey whose binding signature by that
//! primary key verifies. Key expiry is not judged: the embedded keyring is Debian's
//! current one, and a keyring the user names is theirs to keep current.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use pgp::composed::{CleartextSignedMessage, PublicOrSecret, SignedPublicKey};

/// `debian-archive-keyring` 2025.1's `usr/share/keyrings/debian-archive-keyring.pgp`.
const DEBIAN_ARCHIVE_KEYRING: &[u8] = include_bytes!("keys/debian-archive-keyring.pgp");

pub const KEYRING_VAR: &str = "PYSHIP_DEBIAN_KEYRING";

pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    /// Where the keys came from, for errors.
    pub source: String,
}

impl Keyring {
    /// `PYSHIP_DEBIAN_KEYRING` when set, else Debian's archive keys.
    pub fn from_env() -> Result<Keyring> {
        match std::env::var_os(KEYRING_VAR) {
            Some(path) => {
                let path = PathBuf::from(path);
                let bytes = std::fs::read(&path).with_context(|| {
                    format!(
                        "cannot read {KEYRING_VAR}={}: name an OpenPGP key file",
                        path.display()
                    )
                })?;
                Keyring::read(&bytes, &format!("{KEYRING_VAR}={}", path.display()))
            }
            None => Keyring::debian(),
        }
    }

    pub fn debian() -> Result<Keyring> {
        Keyring::read(DEBIAN_ARCHIVE_KEYRING, "Debian's archive keyring")
    }

    /// Reads every public key in `bytes` (secret keys count by their public part).
    pub fn read(bytes: &[u8], source: &str) -> Result<Keyring> {
        let not_keys = || {
            format!(
                "{source} holds no OpenPGP public keys: name a keyring file (binary or armored)"
            )
        };
        let (items, _) = PublicOrSecret::from_reader_many(bytes).with_context(not_keys)?;
        let mut keys = Vec::new();
        for item in items {
            let key = match item.with_context(not_keys)? {
                PublicOrSecret::Public(key) => key,
                PublicOrSecret::Secret(key) => key.to_public_key(),
            };
            keys.push(key);
        }
        if keys.is_empty() {
            bail!(not_keys());
        }
        Ok(Keyring {
            keys,
            source: source.to_owned(),
        })
    }

    /// Verifies an `InRelease` file and returns the text its signature covers (with
    /// `\n` line ends), nothing outside it. `suite` names the release in errors.
    pub fn verify(&self, inrelease: &[u8], suite: &str) -> Result<String> {
        let text = std::str::from_utf8(inrelease)
            .ok()
            .and_then(|text| CleartextSignedMessage::from_string(text).ok());
        let Some((message, _)) = text else {
            bail!(
                "the InRelease of {suite} is not an OpenPGP clear-signed file: the mirror does not serve Debian's archive format"
            );
        };
        let signed = message.signed_text();
        for signature in message.signatures() {
            for key in &self.keys {
                let primary = signature
                    .verify(&key.primary_key, signed.as_bytes())
                    .is_ok();
                let subkey = || {
                    key.public_subkeys
                        .iter()
                        .filter(|sub| sub.verify_bindings(&key.primary_key).is_ok())
                        .any(|sub| signature.verify(&sub.key, signed.as_bytes()).is_ok())
                };
                if primary || subkey() {
                    return Ok(signed.replace("\r\n", "\n"));
                }
            }
        }
        let ids: Vec<String> = message
            .signatures()
            .iter()
            .flat_map(|s| {
                let fingerprints = s.issuer_fingerprint().into_iter().map(|f| format!("{f:X}"));
                let ids = s
                    .issuer_key_id()
                    .into_iter()
                    .map(|id| hex::encode_upper(id.as_ref()));
                fingerprints.chain(ids).take(1).collect::<Vec<_>>()
            })
            .collect();
        let ids = if ids.is_empty() {
            "no key id".to_owned()
        } else {
            ids.join(", ")
        };
        bail!(
            "the InRelease of {suite} is signed by none of the keys in {} (signed by {ids}): set {KEYRING_VAR} to the keyring of the archive you trust",
            self.source
        )
    }

    /// The fingerprints of the keys, uppercase hex.
    #[cfg(test)]
    pub fn fingerprints(&self) -> Vec<String> {
        use pgp::types::KeyDetails;
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.primary_key.fingerprint()))
            .collect()
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use pgp::composed::{Deserializable, SignedSecretKey};
    use pgp::types::Password;

    pub const TEST_SECRET: &str = include_str!("testdata/test-secret.asc");
    pub const TEST_PUBLIC: &str = include_str!("testdata/test-public.asc");

    /// `text` clear-signed with the test key, as an archive would serve it.
    pub fn sign(text: &str) -> Vec<u8> {
        let (key, _) = SignedSecretKey::from_string(TEST_SECRET).unwrap();
        let message = CleartextSignedMessage::sign(
            rand::thread_rng(),
            text,
            &key.primary_key,
            &Password::empty(),
        )
        .unwrap();
        message.to_armored_bytes(Default::default()).unwrap()
    }

    #[test]
    fn embedded_keyring_holds_debians_current_keys() {
        let keyring = Keyring::debian().unwrap();
        let fps = keyring.fingerprints();
        // Debian 12 and 13 archive signing keys.
        assert!(
            fps.contains(&"B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8".to_owned()),
            "{fps:?}"
        );
        assert!(
            fps.contains(&"4D64FEC119C2029067D6E791F8D2585B8783D481".to_owned()),
            "{fps:?}"
        );
    }

    #[test]
    fn verifies_what_the_key_signed_and_nothing_else() {
        let keyring = Keyring::read(TEST_PUBLIC.as_bytes(), "test").unwrap();
        let signed = sign("Suite: test\nDate: x\n- dashed\n");
        assert_eq!(
            keyring.verify(&signed, "test").unwrap(),
            "Suite: test\nDate: x\n- dashed\n"
        );
        let tampered = String::from_utf8(signed)
            .unwrap()
            .replace("Suite: test", "Suite: evil");
        let err = keyring
            .verify(tampered.as_bytes(), "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("signed by none of the keys in test"), "{err}");
        let err = Keyring::debian()
            .unwrap()
            .verify(&sign("Suite: test\n"), "bookworm")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("the InRelease of bookworm is signed by none of the keys in Debian's archive keyring (signed by "), "{err}");
        assert!(
            err.ends_with("set PYSHIP_DEBIAN_KEYRING to the keyring of the archive you trust"),
            "{err}"
        );
        assert!(
            keyring
                .verify(b"Suite: x\n", "x")
                .unwrap_err()
                .to_string()
                .contains("not an OpenPGP")
        );
        assert!(Keyring::read(b"garbage", "FILE").is_err());
    }
}
