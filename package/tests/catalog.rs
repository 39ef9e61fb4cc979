//! Catalogs and dependency resolution: real signed packages listed in a
//! signed index; tampered, unknown-key and malformed indexes refused; search;
//! kernel compatibility; and every resolver outcome (order, highest version,
//! pre-releases, diamond, narrowing, cycle, conflict, missing, kernel
//! mismatch, installed too old, upgrade, downgrade) with exact messages.

use magflock_kernel::Edition;
use magflock_kernel::semver::{Version, VersionReq};
use magflock_package::{
    CATALOG_INDEX, CATALOG_SIGNATURE, Catalog, CatalogEntry, InstallPlan, KeyPair, Limits, Package,
    PackageError, PlanAction, Query, Requirer, Resolver, SignatureLevel, SignedCatalog, TrustStore,
    TrustedKey, resolve,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

// ---- building real packages ----------------------------------------------------

/// What a test extension declares; everything else is fixed.
#[derive(Clone, Copy)]
struct Spec<'a> {
    id: &'a str,
    version: &'a str,
    kernel_api: &'a str,
    dependencies: &'a [(&'a str, &'a str)],
    /// Extra `[extension]` lines (categories, edition, description).
    extension: &'a str,
    /// Extra sections (capabilities).
    sections: &'a str,
}

fn spec<'a>(id: &'a str, version: &'a str, dependencies: &'a [(&'a str, &'a str)]) -> Spec<'a> {
    Spec {
        id,
        version,
        kernel_api: "^0.1",
        dependencies,
        extension: "description = \"A test extension.\"",
        sections: "",
    }
}

fn manifest_text(spec: &Spec) -> String {
    let name = spec.id.split('/').nth(1).unwrap();
    let mut text = format!(
        "[extension]\nid = \"{}\"\nname = \"{name}\"\nversion = \"{}\"\npublisher = \"Acme\"\nlicense = \"Apache-2.0\"\nkernel_api = \"{}\"\n{}\n\n",
        spec.id, spec.version, spec.kernel_api, spec.extension
    );
    if !spec.dependencies.is_empty() {
        text.push_str("[dependencies]\n");
        for (dep, req) in spec.dependencies {
            text.push_str(&format!("\"{dep}\" = \"{req}\"\n"));
        }
        text.push('\n');
    }
    text.push_str(spec.sections);
    text
}

fn signed_package(spec: &Spec, key: &KeyPair) -> (Package, Vec<u8>) {
    let files = BTreeMap::from([
        (
            "magflock.toml".to_string(),
            manifest_text(spec).into_bytes(),
        ),
        (
            "extension.wasm".to_string(),
            format!("\0asm component of {} {}", spec.id, spec.version).into_bytes(),
        ),
    ]);
    let mut package = Package::from_files(files).unwrap();
    package.sign(key);
    let bytes = package.to_bytes().unwrap();
    (package, bytes)
}

fn download_path(spec: &Spec) -> String {
    format!(
        "packages/{}-{}.mfx",
        spec.id.replace('/', "-"),
        spec.version
    )
}

fn entry_signed_by(spec: &Spec, key: &KeyPair) -> CatalogEntry {
    let (package, bytes) = signed_package(spec, key);
    CatalogEntry::from_package(&package, &bytes, &download_path(spec)).unwrap()
}

fn entry(spec: Spec) -> CatalogEntry {
    entry_signed_by(&spec, &KeyPair::generate("acme"))
}

fn catalog(entries: Vec<CatalogEntry>) -> Catalog {
    Catalog {
        name: "acme".into(),
        generated_at: "2025-01-01T00:00:00Z".into(),
        entries,
    }
}

fn trust(key: &KeyPair, level: SignatureLevel) -> TrustStore {
    let mut store = TrustStore::new();
    store.add(TrustedKey::from_file(&key.public_file(), level).unwrap());
    store
}

fn kernel() -> Version {
    Version::new(0, 1, 0)
}

fn req(text: &str) -> VersionReq {
    VersionReq::parse(text).unwrap()
}

const MAILER_CAPS: &str = "[[capabilities]]\nname = \"network.outbound\"\njustification = \"Sends mail.\"\nhosts = [\"smtp.example.com\"]\n\n[[capabilities]]\nname = \"database.read\"\njustification = \"Reads recipients.\"\n";

// ---- the signed catalog ----------------------------------------------------------

#[test]
fn a_signed_catalog_round_trips_and_its_entries_describe_their_packages() {
    let publisher = KeyPair::generate("acme");
    let mailer = Spec {
        extension: "description = \"Sends mail.\"\ncategories = [\"email\", \"messaging\"]\nedition = \"pro\"",
        sections: MAILER_CAPS,
        ..spec("acme/mailer", "1.2.0", &[("acme/base", "^1.1")])
    };
    let (package, bytes) = signed_package(&mailer, &publisher);
    let entry = CatalogEntry::from_package(&package, &bytes, "packages/mailer.mfx").unwrap();
    assert_eq!(entry.id, "acme/mailer");
    assert_eq!(entry.name, "mailer");
    assert_eq!(entry.version, Version::new(1, 2, 0));
    assert_eq!(entry.publisher, "Acme");
    assert_eq!(entry.description, "Sends mail.");
    assert_eq!(entry.categories, ["email", "messaging"]);
    assert_eq!(entry.edition, Edition::Pro);
    assert_eq!(entry.kernel_api, req("^0.1"));
    assert_eq!(
        entry.dependencies,
        BTreeMap::from([("acme/base".to_string(), req("^1.1"))])
    );
    let names: Vec<&str> = entry.capabilities.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["network.outbound", "database.read"]);
    assert_eq!(entry.capabilities[0].hosts, ["smtp.example.com"]);
    assert_eq!(entry.capabilities[0].justification, "Sends mail.");
    assert_eq!(entry.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(entry.size, bytes.len() as u64);
    assert_eq!(entry.key_id, Some(publisher.key_id()));

    let base = entry_signed_by(&spec("acme/base", "1.1.0", &[]), &publisher);
    let original = catalog(vec![entry.clone(), base]);
    let catalog_key = KeyPair::generate("magflock");
    let (index, signature) = original.to_signed(&catalog_key).unwrap();
    let text = String::from_utf8(index.clone()).unwrap();
    assert!(text.contains("\"version\": \"1.2.0\""), "{text}");
    assert!(text.contains("\"kernel_api\": \"^0.1\""), "{text}");
    assert!(text.contains("\"acme/base\": \"^1.1\""), "{text}");
    assert!(text.contains("\"edition\": \"pro\""), "{text}");

    let signed = SignedCatalog::verify(
        &index,
        &signature,
        &trust(&catalog_key, SignatureLevel::FirstParty),
    )
    .unwrap();
    assert_eq!(signed.catalog, original);
    assert_eq!(signed.verified.level, SignatureLevel::FirstParty);
    assert_eq!(signed.verified.key_id, Some(catalog_key.key_id()));
    assert_eq!(
        (CATALOG_INDEX, CATALOG_SIGNATURE),
        ("index.json", "index.sig")
    );

    // The listed bytes are the package: they verify against the entry and
    // read back as the signed package.
    let listed = &signed.catalog.entries[0];
    listed.verify_download(&bytes).unwrap();
    let fetched = Package::from_bytes(&bytes, Limits::default()).unwrap();
    let verified = fetched
        .verify(&trust(&publisher, SignatureLevel::VerifiedPublisher))
        .unwrap();
    assert_eq!(verified.key_id, listed.key_id);
    let mut corrupted = bytes.clone();
    corrupted[600] ^= 1;
    let err = listed.verify_download(&corrupted).unwrap_err().to_string();
    assert!(
        err.starts_with("download of 'acme/mailer' 1.2.0: SHA-256 is "),
        "{err}"
    );
    let err = listed.verify_download(&bytes[1..]).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "download of 'acme/mailer' 1.2.0: {} bytes received, the catalog says {}",
            bytes.len() - 1,
            bytes.len()
        )
    );
    assert_eq!(
        listed.download_url("https://cdn.example.com/catalog/"),
        "https://cdn.example.com/catalog/packages/mailer.mfx"
    );
    assert_eq!(
        listed.download_url("/srv/catalog"),
        "/srv/catalog/packages/mailer.mfx"
    );
    let absolute = CatalogEntry {
        download: "https://mirror.example.com/mailer.mfx".into(),
        ..listed.clone()
    };
    assert_eq!(
        absolute.download_url("/srv/catalog"),
        "https://mirror.example.com/mailer.mfx"
    );
}

#[test]
fn an_entry_refuses_bytes_of_another_package_or_an_escaping_download() {
    let key = KeyPair::generate("acme");
    let (package, _) = signed_package(&spec("acme/a", "1.0.0", &[]), &key);
    let (_, other_bytes) = signed_package(&spec("acme/a", "1.0.1", &[]), &key);
    let err = CatalogEntry::from_package(&package, &other_bytes, "a.mfx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not this package"), "{err}");
    let bytes = package.to_bytes().unwrap();
    let err = CatalogEntry::from_package(&package, &bytes, "../a.mfx")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("catalog index.json: download: '../a.mfx' must be a relative path"),
        "{err}"
    );
}

#[test]
fn a_changed_index_is_refused() {
    let key = KeyPair::generate("magflock");
    let original = catalog(vec![entry(spec("acme/a", "1.0.0", &[]))]);
    let (index, signature) = original.to_signed(&key).unwrap();
    let changed = String::from_utf8(index)
        .unwrap()
        .replace("A test extension.", "A test extension!")
        .into_bytes();
    let err = SignedCatalog::verify(
        &changed,
        &signature,
        &trust(&key, SignatureLevel::FirstParty),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "signature: index.json: changed after it was signed (digest mismatch)"
    );
}

#[test]
fn an_index_signed_by_an_unknown_or_other_key_is_refused() {
    let key = KeyPair::generate("magflock");
    let stranger = KeyPair::generate("stranger");
    let original = catalog(vec![entry(spec("acme/a", "1.0.0", &[]))]);
    let (index, signature) = original.to_signed(&stranger).unwrap();
    let err = SignedCatalog::verify(&index, &signature, &trust(&key, SignatureLevel::FirstParty))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "signature: index.json: signed by key '{}', which is not in the trust store",
            stranger.key_id()
        )
    );

    // Signed by the stranger while claiming the trusted key's id.
    let mut forged: serde_json::Value = serde_json::from_slice(&signature).unwrap();
    forged["key_id"] = key.key_id().into();
    let forged = serde_json::to_vec(&forged).unwrap();
    let err = SignedCatalog::verify(&index, &forged, &trust(&key, SignatureLevel::FirstParty))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "signature: index.json: the signature does not verify with key '{}'",
            key.key_id()
        )
    );

    // A package's signature cannot stand in for the catalog's.
    let (package, _) = signed_package(&spec("acme/a", "1.0.0", &[]), &key);
    let package_signature = package.signature.unwrap().to_json();
    let err = SignedCatalog::verify(
        &index,
        &package_signature,
        &trust(&key, SignatureLevel::FirstParty),
    )
    .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");

    let err = SignedCatalog::verify(&index, b"{", &trust(&key, SignatureLevel::FirstParty))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("catalog index.sig: malformed JSON: EOF while parsing an object at line 1"),
        "{err}"
    );
}

/// The good index as JSON, changed by `edit`, signed and verified.
fn verify_edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Catalog, PackageError> {
    let key = KeyPair::generate("magflock");
    let good = catalog(vec![
        entry(spec("acme/a", "1.0.0", &[("acme/b", "^1")])),
        entry(spec("acme/b", "1.0.0", &[])),
    ]);
    let mut json: serde_json::Value = serde_json::from_slice(&good.to_json()).unwrap();
    edit(&mut json);
    verify_bytes(&serde_json::to_vec_pretty(&json).unwrap(), &key)
}

fn verify_bytes(index: &[u8], key: &KeyPair) -> Result<Catalog, PackageError> {
    let signature = SignedCatalog::sign_index(index, key);
    SignedCatalog::verify(index, &signature, &trust(key, SignatureLevel::FirstParty))
        .map(|signed| signed.catalog)
}

fn refusal(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    verify_edited(edit).unwrap_err().to_string()
}

#[test]
fn a_malformed_index_is_refused_naming_the_field_or_line() {
    assert!(verify_edited(|_| {}).is_ok());
    let key = KeyPair::generate("magflock");
    let err = verify_bytes(b"{\n  \"name\": \"acme\",\n  \"entries\": [,]\n}", &key)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "catalog index.json: malformed JSON: expected value at line 3 column 15"
    );
    let err = refusal(|j| {
        j["entries"][1].as_object_mut().unwrap().remove("sha256");
    });
    assert!(
        err.starts_with("catalog index.json: malformed JSON: missing field `sha256` at line "),
        "{err}"
    );
    let cases: [(&str, serde_json::Value, &str); 12] = [
        (
            "version",
            "1.x".into(),
            "catalog index.json: entries[1].version: '1.x' is not a semantic version: ",
        ),
        (
            "id",
            "Acme/B".into(),
            "catalog index.json: entries[1].id: 'Acme/B' must look like publisher/name (lower-case letters, digits, '-')",
        ),
        (
            "kernel_api",
            "^^1".into(),
            "catalog index.json: entries[1].kernel_api: '^^1' is not a version requirement: ",
        ),
        (
            "dependencies",
            serde_json::json!({"acme/c": "one"}),
            "catalog index.json: entries[1].dependencies.\"acme/c\": 'one' is not a version requirement: ",
        ),
        (
            "dependencies",
            serde_json::json!({"acme/b": "^1"}),
            "catalog index.json: entries[1].dependencies.\"acme/b\": an extension cannot depend on itself",
        ),
        (
            "dependencies",
            serde_json::json!({"c": "^1"}),
            "catalog index.json: entries[1].dependencies.\"c\": 'c' is not an extension id (publisher/name)",
        ),
        (
            "edition",
            "enterprise".into(),
            "catalog index.json: entries[1].edition: 'enterprise' must be \"ce\" or \"pro\"",
        ),
        (
            "categories",
            serde_json::json!(["email", "email"]),
            "catalog index.json: entries[1].categories[1]: 'email' is listed twice",
        ),
        (
            "download",
            "../../etc/passwd".into(),
            "catalog index.json: entries[1].download: '../../etc/passwd' must be a relative path inside the catalog",
        ),
        (
            "download",
            "file:///etc/passwd".into(),
            "catalog index.json: entries[1].download: 'file:///etc/passwd' must be a relative path inside the catalog",
        ),
        (
            "download",
            "packages/%2e%2e/%2e%2e/secret".into(),
            "catalog index.json: entries[1].download: 'packages/%2e%2e/%2e%2e/secret' must be a relative path inside the catalog",
        ),
        (
            "sha256",
            "abc".into(),
            "catalog index.json: entries[1].sha256: must be 64 lower-case hex digits",
        ),
    ];
    for (field, value, expected) in cases {
        let err = refusal(|j| j["entries"][1][field] = value.clone());
        assert!(err.starts_with(expected), "{field} = {value}: {err}");
    }
    let err = refusal(|j| {
        let first = j["entries"][0].clone();
        j["entries"].as_array_mut().unwrap().push(first);
    });
    assert_eq!(
        err,
        "catalog index.json: entries[2]: 'acme/a' 1.0.0 is listed twice (first at entries[0])"
    );
    // Newer catalogs may carry fields this kernel does not know.
    let catalog =
        verify_edited(|j| j["entries"][0]["screenshots"] = serde_json::json!([])).unwrap();
    assert_eq!(catalog.entries.len(), 2);
}

#[test]
fn an_invalid_catalog_is_not_signed() {
    let key = KeyPair::generate("magflock");
    let a = entry(spec("acme/a", "1.0.0", &[]));
    let err = catalog(vec![a.clone(), a]).to_signed(&key).unwrap_err();
    assert!(err.to_string().contains("is listed twice"), "{err}");
}

// ---- search and compatibility ------------------------------------------------------

fn marketplace() -> Catalog {
    let mailer = |version: &'static str| Spec {
        extension: "description = \"Sends transactional MAIL through SMTP.\"\ncategories = [\"email\"]",
        sections: MAILER_CAPS,
        ..spec("acme/mailer", version, &[])
    };
    let charts = |version: &'static str, kernel_api: &'static str| Spec {
        kernel_api,
        extension: "description = \"Dashboards and charts.\"\ncategories = [\"analytics\", \"ui\"]\nedition = \"pro\"",
        sections: "[[capabilities]]\nname = \"ui.register_widget\"\njustification = \"Shows charts.\"\n",
        ..spec("acme/charts", version, &[])
    };
    let nightly = Spec {
        extension: "description = \"Experimental.\"",
        ..spec("acme/nightly", "0.1.0-alpha.1", &[])
    };
    catalog(vec![
        entry(mailer("1.0.0")),
        entry(mailer("2.0.0-beta.1")),
        entry(mailer("1.2.0")),
        entry(charts("1.0.0", "^0.1")),
        entry(charts("2.0.0", "^0.2")),
        entry(nightly),
    ])
}

fn found(entries: Vec<&CatalogEntry>) -> Vec<String> {
    entries
        .iter()
        .map(|e| format!("{} {}", e.id, e.version))
        .collect()
}

#[test]
fn search_returns_the_newest_stable_version_of_each_matching_extension() {
    let catalog = marketplace();
    assert_eq!(
        found(catalog.search(&Query::default())),
        [
            "acme/charts 2.0.0",
            "acme/mailer 1.2.0",
            "acme/nightly 0.1.0-alpha.1"
        ]
    );
    let text = |t: &str| Query {
        text: Some(t.into()),
        ..Query::default()
    };
    assert_eq!(found(catalog.search(&text("mail"))), ["acme/mailer 1.2.0"]);
    assert_eq!(
        found(catalog.search(&text("smtp transactional"))),
        ["acme/mailer 1.2.0"]
    );
    assert_eq!(
        found(catalog.search(&text("CHARTS"))),
        ["acme/charts 2.0.0"]
    );
    assert!(catalog.search(&text("mail charts")).is_empty());
    let category = Query {
        category: Some("Analytics".into()),
        ..Query::default()
    };
    assert_eq!(found(catalog.search(&category)), ["acme/charts 2.0.0"]);
    let capability = Query {
        capability: Some("network.outbound".into()),
        ..Query::default()
    };
    assert_eq!(found(catalog.search(&capability)), ["acme/mailer 1.2.0"]);
    let pro = Query {
        edition: Some(Edition::Pro),
        ..Query::default()
    };
    assert_eq!(found(catalog.search(&pro)), ["acme/charts 2.0.0"]);
    let community = Query {
        edition: Some(Edition::Community),
        ..Query::default()
    };
    assert_eq!(
        found(catalog.search(&community)),
        ["acme/mailer 1.2.0", "acme/nightly 0.1.0-alpha.1"]
    );
    let runnable = Query {
        kernel_api: Some(kernel()),
        edition: Some(Edition::Pro),
        ..Query::default()
    };
    assert_eq!(found(catalog.search(&runnable)), ["acme/charts 1.0.0"]);
    assert_eq!(
        found(catalog.versions("acme/mailer")),
        [
            "acme/mailer 2.0.0-beta.1",
            "acme/mailer 1.2.0",
            "acme/mailer 1.0.0"
        ]
    );
    assert!(catalog.versions("acme/unknown").is_empty());
}

#[test]
fn compatibility_with_the_kernel_is_one_sentence_when_missing() {
    let catalog = marketplace();
    let charts = catalog.versions("acme/charts");
    let (v2, v1) = (charts[0], charts[1]);
    assert!(v1.compatible_with(&kernel()));
    assert_eq!(v1.incompatibility(&kernel()), None);
    assert!(!v2.compatible_with(&kernel()));
    assert!(v2.compatible_with(&Version::new(0, 2, 3)));
    let mismatch = v2.incompatibility(&kernel()).unwrap();
    assert_eq!(mismatch.kernel_api, req("^0.2"));
    assert_eq!(
        mismatch.to_string(),
        "'acme/charts' 2.0.0 needs kernel API ^0.2, this kernel is 0.1.0"
    );
}

// ---- resolution ------------------------------------------------------------------

fn entries(specs: &[Spec]) -> Vec<CatalogEntry> {
    let key = KeyPair::generate("acme");
    specs.iter().map(|s| entry_signed_by(s, &key)).collect()
}

fn plan(
    available: &[CatalogEntry],
    installed: &[(&str, &str)],
    id: &str,
    requirement: Option<&str>,
) -> Result<InstallPlan, PackageError> {
    let installed: BTreeMap<String, Version> = installed
        .iter()
        .map(|(id, v)| (id.to_string(), Version::parse(v).unwrap()))
        .collect();
    let kernel = kernel();
    let requirement = requirement.map(req);
    resolve(id, requirement.as_ref(), available, &installed, &kernel)
}

/// `id version` per step, in plan order.
fn steps(plan: &InstallPlan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| format!("{} {}", s.id, s.version))
        .collect()
}

fn refusal_of(
    available: &[CatalogEntry],
    installed: &[(&str, &str)],
    id: &str,
    requirement: Option<&str>,
) -> String {
    plan(available, installed, id, requirement)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_plan_installs_dependencies_first_with_who_required_them() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/b", "^1"), ("acme/c", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/c", "^1")]),
        Spec {
            sections: "[[capabilities]]\nname = \"database.read\"\njustification = \"Reads rows.\"\n",
            ..spec("acme/c", "1.0.0", &[])
        },
    ]);
    let plan = plan(&available, &[], "acme/a", None).unwrap();
    assert_eq!(
        steps(&plan),
        ["acme/c 1.0.0", "acme/b 1.0.0", "acme/a 1.0.0"]
    );
    let required_by: Vec<&[String]> = plan
        .steps
        .iter()
        .map(|s| s.required_by.as_slice())
        .collect();
    assert_eq!(
        required_by,
        [
            &["acme/a".to_string(), "acme/b".to_string()][..],
            &["acme/a".to_string()][..],
            &[][..]
        ]
    );
    assert!(plan.steps.iter().all(|s| s.action == PlanAction::Install));
    assert!(plan.satisfied.is_empty());
    assert_eq!(plan.steps[0].capabilities()[0].name, "database.read");
    assert_eq!(plan.steps[0].entry, available[2]);
    let summary = plan.capabilities();
    assert_eq!(summary.keys().collect::<Vec<_>>(), ["database.read"]);
    assert_eq!(summary["database.read"][0].extension, "acme/c");
    assert_eq!(summary["database.read"][0].justification, "Reads rows.");
    assert!(!plan.needs_pro());
}

#[test]
fn the_highest_matching_version_is_chosen_and_pre_releases_only_when_named() {
    let available = entries(&[
        spec("acme/b", "1.0.0", &[("acme/c", "^1")]),
        spec("acme/c", "1.0.0", &[]),
        spec("acme/c", "1.4.2", &[]),
        spec("acme/c", "1.5.0-rc.1", &[]),
        spec("acme/c", "2.0.0", &[]),
    ]);
    let plan_b = plan(&available, &[], "acme/b", None).unwrap();
    assert_eq!(steps(&plan_b), ["acme/c 1.4.2", "acme/b 1.0.0"]);
    let latest = plan(&available, &[], "acme/c", None).unwrap();
    assert_eq!(steps(&latest), ["acme/c 2.0.0"]);
    let pinned = plan(&available, &[], "acme/c", Some("~1.0")).unwrap();
    assert_eq!(steps(&pinned), ["acme/c 1.0.0"]);
    let candidate = plan(&available, &[], "acme/c", Some(">=1.5.0-rc.1, <2")).unwrap();
    assert_eq!(steps(&candidate), ["acme/c 1.5.0-rc.1"]);
}

#[test]
fn a_diamond_installs_the_shared_dependency_once_at_a_version_both_accept() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/b", "^1"), ("acme/c", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/d", "^1")]),
        spec("acme/c", "1.0.0", &[("acme/d", ">=1.2")]),
        spec("acme/d", "1.0.0", &[]),
        spec("acme/d", "1.2.0", &[]),
        spec("acme/d", "1.5.0", &[]),
        spec("acme/d", "2.0.0", &[]),
    ]);
    let plan = plan(&available, &[], "acme/a", None).unwrap();
    assert_eq!(
        steps(&plan),
        [
            "acme/d 1.5.0",
            "acme/b 1.0.0",
            "acme/c 1.0.0",
            "acme/a 1.0.0"
        ]
    );
    assert_eq!(plan.steps[0].required_by, ["acme/b", "acme/c"]);
}

#[test]
fn a_later_requirement_narrows_an_earlier_choice_and_drops_what_it_pulled_in() {
    // b picks d 1.5.0 (which needs f); e, found later, needs d ~1.2.
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/b", "^1"), ("acme/c", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/d", "^1")]),
        spec("acme/c", "1.0.0", &[("acme/e", "^1")]),
        spec("acme/e", "1.0.0", &[("acme/d", "~1.2")]),
        spec("acme/d", "1.2.0", &[]),
        spec("acme/d", "1.5.0", &[("acme/f", "^1")]),
        spec("acme/f", "1.0.0", &[]),
    ]);
    let plan = plan(&available, &[], "acme/a", None).unwrap();
    assert_eq!(
        steps(&plan),
        [
            "acme/d 1.2.0",
            "acme/b 1.0.0",
            "acme/e 1.0.0",
            "acme/c 1.0.0",
            "acme/a 1.0.0"
        ]
    );
}

#[test]
fn a_dependency_cycle_is_refused_naming_its_path() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/b", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/a", "^1")]),
    ]);
    assert_eq!(
        refusal_of(&available, &[], "acme/a", None),
        "'acme/a' → 'acme/b' → 'acme/a' is a dependency cycle"
    );
    let longer = entries(&[
        spec("acme/root", "1.0.0", &[("acme/x", "*")]),
        spec("acme/x", "1.0.0", &[("acme/y", "*")]),
        spec("acme/y", "1.0.0", &[("acme/z", "*")]),
        spec("acme/z", "1.0.0", &[("acme/x", "*")]),
    ]);
    let err = plan(&longer, &[], "acme/root", None).unwrap_err();
    assert!(matches!(err, PackageError::DependencyCycle { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "'acme/x' → 'acme/y' → 'acme/z' → 'acme/x' is a dependency cycle"
    );
}

#[test]
fn two_requirers_no_version_satisfies_together_are_a_conflict() {
    let available = entries(&[
        spec("acme/root", "1.0.0", &[("acme/a", "^1"), ("acme/b", "^1")]),
        spec("acme/a", "1.0.0", &[("acme/c", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/c", "^2")]),
        spec("acme/c", "1.0.0", &[]),
        spec("acme/c", "2.0.0", &[]),
    ]);
    let err = plan(&available, &[], "acme/root", None).unwrap_err();
    match &err {
        PackageError::Conflict { id, requirements } => {
            assert_eq!(id, "acme/c");
            assert_eq!(requirements[0].by, Requirer::Extension("acme/a".into()));
            assert_eq!(requirements[1].req, req("^2"));
        }
        other => panic!("expected a conflict, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        "'acme/a' needs 'acme/c' ^1 but 'acme/b' needs 'acme/c' ^2; no version satisfies both"
    );
}

#[test]
fn an_unknown_extension_or_an_unmet_requirement_is_refused() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/x", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/c", "^2.0")]),
        spec("acme/c", "1.4.2", &[]),
        spec("acme/c", "1.0.0", &[]),
    ]);
    assert_eq!(
        refusal_of(&available, &[], "acme/x", None),
        "no catalog lists 'acme/x'"
    );
    assert_eq!(
        refusal_of(&available, &[], "acme/a", None),
        "no catalog lists 'acme/x', which 'acme/a' requires"
    );
    assert_eq!(
        refusal_of(&available, &[], "acme/b", None),
        "'acme/b' requires 'acme/c' ^2.0 but the catalogs have only 1.0.0, 1.4.2"
    );
    assert_eq!(
        refusal_of(&available, &[], "acme/c", Some("^3")),
        "the install request requires 'acme/c' ^3 but the catalogs have only 1.0.0, 1.4.2"
    );
}

#[test]
fn a_version_the_kernel_cannot_run_is_skipped_or_refused() {
    let newer_kernel_only = |version| Spec {
        kernel_api: "^0.2",
        ..spec("acme/c", version, &[])
    };
    let available = entries(&[
        spec("acme/b", "1.0.0", &[("acme/c", "^2")]),
        spec("acme/a", "1.0.0", &[("acme/c", "^1")]),
        spec("acme/c", "1.0.0", &[]),
        newer_kernel_only("1.1.0"),
        newer_kernel_only("2.0.0"),
    ]);
    let plan_a = plan(&available, &[], "acme/a", None).unwrap();
    assert_eq!(steps(&plan_a), ["acme/c 1.0.0", "acme/a 1.0.0"]);
    let err = plan(&available, &[], "acme/b", None).unwrap_err();
    assert!(
        matches!(err, PackageError::KernelIncompatible { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "'acme/c' 2.0.0 needs kernel API ^0.2, this kernel is 0.1.0"
    );
}

#[test]
fn installed_dependencies_are_kept_when_accepted_and_never_upgraded_implicitly() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/c", "^1")]),
        spec("acme/b", "1.0.0", &[("acme/c", "^2")]),
        spec("acme/c", "1.3.0", &[]),
        spec("acme/c", "1.4.2", &[]),
        spec("acme/c", "2.0.0", &[]),
    ]);
    let kept = plan(&available, &[("acme/c", "1.3.0")], "acme/a", None).unwrap();
    assert_eq!(steps(&kept), ["acme/a 1.0.0"]);
    assert_eq!(kept.satisfied.len(), 1);
    assert_eq!(kept.satisfied[0].id, "acme/c");
    assert_eq!(kept.satisfied[0].installed, Version::new(1, 3, 0));
    assert_eq!(kept.satisfied[0].required_by, ["acme/a"]);
    let err = plan(&available, &[("acme/c", "1.3.0")], "acme/b", None).unwrap_err();
    assert!(
        matches!(err, PackageError::InstalledExcluded { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "'acme/b' needs 'acme/c' ^2 but 1.3.0 is installed; upgrade 'acme/c' first"
    );
}

#[test]
fn the_requested_extension_is_upgraded_but_never_downgraded() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[]),
        spec("acme/a", "1.1.0", &[]),
        spec("acme/a", "2.0.0", &[]),
    ]);
    let upgrade = plan(&available, &[("acme/a", "1.0.0")], "acme/a", Some("^1")).unwrap();
    assert_eq!(steps(&upgrade), ["acme/a 1.1.0"]);
    assert_eq!(
        upgrade.steps[0].action,
        PlanAction::Upgrade {
            from: Version::new(1, 0, 0)
        }
    );
    let current = plan(&available, &[("acme/a", "2.0.0")], "acme/a", None).unwrap();
    assert!(current.is_empty());
    assert_eq!(current.satisfied[0].installed, Version::new(2, 0, 0));
    assert!(current.satisfied[0].required_by.is_empty());
    assert_eq!(
        refusal_of(&available, &[("acme/a", "2.0.0")], "acme/a", Some("^1")),
        "'acme/a' 2.0.0 is installed and the install request asks for ^1, which would be a downgrade; downgrades are refused (roll back instead)"
    );
}

#[test]
fn several_catalogs_merge_and_the_first_listing_of_a_version_wins() {
    let official = catalog(entries(&[spec("acme/c", "1.0.0", &[])]));
    let mirror = catalog(
        entries(&[spec("acme/c", "1.0.0", &[]), spec("acme/c", "1.1.0", &[])])
            .into_iter()
            .map(|e| CatalogEntry {
                download: format!("https://mirror.example.com/{}", e.download),
                ..e
            })
            .collect(),
    );
    let installed = BTreeMap::new();
    let kernel = kernel();
    let resolver = Resolver::new(
        official.entries.iter().chain(&mirror.entries),
        &installed,
        &kernel,
    );
    let latest = resolver.plan("acme/c", None).unwrap();
    assert_eq!(steps(&latest), ["acme/c 1.1.0"]);
    assert!(
        latest.steps[0]
            .entry
            .download
            .starts_with("https://mirror.")
    );
    let pinned = resolver.plan("acme/c", Some(&req("=1.0.0"))).unwrap();
    assert_eq!(pinned.steps[0].entry, official.entries[0]);
}

#[test]
fn a_pro_dependency_marks_the_plan_as_needing_pro() {
    let available = entries(&[
        spec("acme/a", "1.0.0", &[("acme/charts", "^1")]),
        Spec {
            extension: "description = \"Charts.\"\nedition = \"pro\"",
            ..spec("acme/charts", "1.0.0", &[])
        },
    ]);
    let plan = plan(&available, &[], "acme/a", None).unwrap();
    assert!(plan.needs_pro());
}
