// Verifies a Sigstore bundle over an artifact against a public key with Sigstore's own
// JavaScript verifier, trusting that key alone: no transparency log, certificate or
// timestamp is required (thresholds 0), as for any key-signed bundle.
//
//   node verify.cjs BUNDLE ARTIFACT PUBLIC_KEY_PEM
//
// The key is registered under Sigstore's hint for it (base64 SHA-256 of its DER
// SubjectPublicKeyInfo), so a bundle naming another key is not found. Exits 0 when
// the signature verifies, 1 with the verifier's reason when it does not.
const crypto = require('crypto');
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [bundlePath, artifactPath, keyPath] = process.argv.slice(2);
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const der = crypto
    .createPublicKey(fs.readFileSync(keyPath, 'utf8'))
    .export({ type: 'spki', format: 'der' });
  const hint = crypto.createHash('sha256').update(der).digest('base64');
  const noAuthorities = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  const trust = toTrustMaterial(noAuthorities, { [hint]: { rawBytes: der } });
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle, fs.readFileSync(artifactPath)));
  console.log('verified');
} catch (err) {
  console.log(`not verified: ${err.message}`);
  process.exit(1);
}
