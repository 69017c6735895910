//! An inventory as a CycloneDX 1.6 JSON document: the image as the BOM's subject, then
//! its operating system, Debian packages, Python distributions and base image, all
//! sorted, so the same image always gives the same bytes.

use anyhow::Result;
use serde_json::{Value, json};

use super::inventory::{DistHash, Inventory, PythonDist};
use super::license::License;
use super::{Refs, purl};

/// The CycloneDX document for `inventory`, made at `timestamp` (RFC 3339).
pub fn document(inventory: &Inventory, timestamp: &str) -> Result<Value> {
    let mut refs = Refs::default();
    let mut components = Vec::new();
    if let Some(os) = &inventory.os {
        let mut component = json!({
            "type": "operating-system",
            "bom-ref": refs.unique("os"),
            "name": os.id,
        });
        if let Some(version) = os.version_id.as_ref().or(os.codename.as_ref()) {
            component["version"] = json!(version);
        }
        if let Some(pretty) = &os.pretty_name {
            component["description"] = json!(pretty);
        }
        components.push(component);
    }
    for package in &inventory.debs {
        let purl = purl::deb(package, inventory.os.as_ref())?;
        components.push(json!({
            "type": "library",
            "bom-ref": refs.unique(&purl),
            "name": package.name,
            "version": package.version,
            "purl": purl,
            "properties": [{ "name": "pyship:package-database", "value": "dpkg" }],
        }));
    }
    for dist in &inventory.python {
        components.push(python(dist, &mut refs)?);
    }
    if let Some(base) = &inventory.base {
        let name = base.name.clone().unwrap_or_else(|| "base".to_owned());
        components.push(json!({
            "type": "container",
            "bom-ref": refs.unique("base-image"),
            "name": name,
            "version": base.digest.as_str(),
            "purl": purl::oci(&super::repository_of(&name), &base.digest)?,
            "hashes": [{ "alg": "SHA-256", "content": base.digest.hex() }],
            "properties": [{ "name": "pyship:role", "value": "base image" }],
        }));
    }
    let depends_on: Vec<&Value> = components.iter().map(|c| &c["bom-ref"]).collect();
    Ok(json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": { "components": [{
                "type": "application",
                "name": "pyship",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": inventory.name,
                "version": inventory.digest.as_str(),
                "purl": purl::oci(&inventory.name, &inventory.digest)?,
                "hashes": [{ "alg": "SHA-256", "content": inventory.digest.hex() }],
            },
        },
        "components": components,
        "dependencies": [{ "ref": "image", "dependsOn": depends_on }],
    }))
}

/// A Python distribution, with its hash labelled by what it is the hash of.
fn python(dist: &PythonDist, refs: &mut Refs) -> Result<Value> {
    let purl = purl::pypi(&dist.name, &dist.version)?;
    let mut component = json!({
        "type": if dist.is_project { "application" } else { "library" },
        "bom-ref": refs.unique(&purl),
        "name": dist.name,
        "version": dist.version,
        "purl": purl,
        "evidence": { "occurrences": [{ "location": dist.location }] },
    });
    let mut properties = Vec::new();
    if dist.is_project {
        properties.push(("pyship:role", "the project"));
    }
    if let Some(hash) = &dist.hash {
        let (DistHash::Locked { sha256, .. } | DistHash::Record(sha256)) = hash;
        component["hashes"] = json!([{ "alg": "SHA-256", "content": sha256.hex() }]);
        properties.push(("pyship:hash-of", hash.subject()));
        if let DistHash::Locked { filename, .. } = hash {
            properties.push(("pyship:locked-file", filename.as_str()));
        }
    }
    match &dist.license {
        Some(License::Expression(expression)) => {
            component["licenses"] = json!([{ "expression": expression }]);
        }
        Some(License::Named(name)) => {
            component["licenses"] = json!([{ "license": { "name": name } }]);
        }
        None => {}
    }
    if !properties.is_empty() {
        component["properties"] = properties
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
    }
    Ok(component)
}
