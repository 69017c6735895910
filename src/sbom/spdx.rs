//! An inventory as an SPDX 2.3 JSON document: the image package, which CONTAINS every
//! package found in it and is a DESCENDANT_OF its base, all sorted, so the same image
//! always gives the same bytes. Free-text licenses become `LicenseRef-` entries with
//! the author's words as their text.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use super::inventory::{DistHash, Inventory, PythonDist};
use super::license::License;
use super::{Refs, purl};

/// The SPDX document for `inventory`, made at `created` (`YYYY-MM-DDThh:mm:ssZ`).
pub fn document(inventory: &Inventory, created: &str) -> Result<Value> {
    let mut ids = Refs::default();
    let mut licenses = LicenseRefs::default();
    let image_id = ids.unique("SPDXRef-image");
    let mut packages = vec![json!({
        "SPDXID": image_id,
        "name": inventory.name,
        "versionInfo": inventory.digest.as_str(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{ "algorithm": "SHA256", "checksumValue": inventory.digest.hex() }],
        "externalRefs": [purl_ref(&purl::oci(&inventory.name, &inventory.digest)?)],
    })];
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", &image_id)];
    let mut contained = Vec::new();
    if let Some(os) = &inventory.os {
        let mut package = package(
            &mut ids,
            "os",
            &os.id,
            os.version_id.as_ref().or(os.codename.as_ref()),
        );
        package["primaryPackagePurpose"] = json!("OPERATING-SYSTEM");
        if let Some(pretty) = &os.pretty_name {
            package["description"] = json!(pretty);
        }
        contained.push(package);
    }
    for deb in &inventory.debs {
        let mut package = package(&mut ids, "deb", &deb.name, Some(&deb.version));
        package["externalRefs"] = json!([purl_ref(&purl::deb(deb, inventory.os.as_ref())?)]);
        if let Some(source) = &deb.source {
            package["sourceInfo"] = json!(format!("built from the Debian source package {source}"));
        }
        contained.push(package);
    }
    for dist in &inventory.python {
        contained.push(python(dist, &mut ids, &mut licenses)?);
    }
    for package in contained {
        relationships.push(relationship(
            &image_id,
            "CONTAINS",
            package["SPDXID"].as_str().unwrap_or_default(),
        ));
        packages.push(package);
    }
    if let Some(base) = &inventory.base {
        let name = base.name.clone().unwrap_or_else(|| "base".to_owned());
        let mut package = package(&mut ids, "base", &name, Some(&base.digest.to_string()));
        package["primaryPackagePurpose"] = json!("CONTAINER");
        package["checksums"] =
            json!([{ "algorithm": "SHA256", "checksumValue": base.digest.hex() }]);
        package["externalRefs"] = json!([purl_ref(&purl::oci(
            &super::repository_of(&name),
            &base.digest
        )?)]);
        relationships.push(relationship(
            &image_id,
            "DESCENDANT_OF",
            package["SPDXID"].as_str().unwrap_or_default(),
        ));
        packages.push(package);
    }
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}@{}", inventory.name, inventory.digest),
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/pyship/{}-{}",
            sanitize(&inventory.name),
            inventory.digest.hex()
        ),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: pyship-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !licenses.0.is_empty() {
        document["hasExtractedLicensingInfos"] = licenses
            .0
            .iter()
            .map(|(text, id)| json!({ "licenseId": id, "name": text, "extractedText": text }))
            .collect();
    }
    Ok(document)
}

/// A package with what every SPDX package must say, and nothing asserted that the
/// image does not say.
fn package(ids: &mut Refs, kind: &str, name: &str, version: Option<&String>) -> Value {
    let mut package = json!({
        "SPDXID": ids.unique(&format!("SPDXRef-{kind}-{}", sanitize(name))),
        "name": name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "LIBRARY",
    });
    if let Some(version) = version {
        package["versionInfo"] = json!(version);
    }
    package
}

fn python(dist: &PythonDist, ids: &mut Refs, licenses: &mut LicenseRefs) -> Result<Value> {
    let mut package = package(ids, "pypi", &dist.name, Some(&dist.version));
    if dist.is_project {
        package["primaryPackagePurpose"] = json!("APPLICATION");
    }
    package["externalRefs"] = json!([purl_ref(&purl::pypi(&dist.name, &dist.version)?)]);
    package["sourceInfo"] = json!(format!("installed at {}", dist.location));
    if let Some(hash) = &dist.hash {
        let (DistHash::Locked { sha256, .. } | DistHash::Record(sha256)) = hash;
        package["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": sha256.hex() }]);
        package["comment"] = json!(format!("SHA256 of {}", hash.subject()));
        if let DistHash::Locked { filename, .. } = hash {
            package["packageFileName"] = json!(filename);
        }
    }
    match &dist.license {
        Some(License::Expression(expression)) => package["licenseDeclared"] = json!(expression),
        Some(License::Named(name)) => package["licenseDeclared"] = json!(licenses.id(name)),
        None => {}
    }
    Ok(package)
}

/// `LicenseRef-` ids for free-text licenses, one per distinct text.
#[derive(Default)]
struct LicenseRefs(BTreeMap<String, String>);

impl LicenseRefs {
    fn id(&mut self, text: &str) -> String {
        let taken = self.0.len();
        self.0
            .entry(text.to_owned())
            .or_insert_with(|| format!("LicenseRef-{}-{taken}", sanitize(text)))
            .clone()
    }
}

fn purl_ref(purl: &str) -> Value {
    json!({ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to })
}

/// Only letters, digits, `.` and `-` may follow `SPDXRef-` or `LicenseRef-`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
