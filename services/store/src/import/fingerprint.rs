//! An import's fingerprint: what decides its result, hashed. "Unchanged; nothing to do" is
//! answered when the fingerprint equals the current version's — the same content is not
//! enough: the same file with `--repair`, another source CRS, another attribute mapping,
//! another mode, another target or other layer metadata makes other rows, and is imported.
//!
//! SHA-256 (hex) over the parts of [`super::canonical`] (each a u64 LE length and its bytes),
//! as (name, value) pairs: a format version; the content hash; the target's key; for a layer,
//! its kind, title, description, attribution, authority (`0xff` when absent) and whether it is
//! keyed; the mode; then the reader's settings ([`super::ImportOptions::reader`]) in the order
//! the reader gives them. Options that do not change the result (dry run, waiting for the lock,
//! the shrink guard) are not in it.

use sha2::{Digest, Sha256};

use super::canonical::{opt, part};
use super::options::ImportOptions;
use super::target::ImportTarget;

/// Changes when what goes into a fingerprint, or what the store makes of rows, changes.
const VERSION: &str = "kovgis import fingerprint 1";

/// The fingerprint of importing content `content_sha256` into `target` with `options`.
pub(super) fn fingerprint(
    content_sha256: &str,
    target: &ImportTarget,
    options: &ImportOptions,
) -> String {
    let mut out = Vec::with_capacity(512);
    let mut field = |name: &str, value: &[u8]| {
        part(&mut out, name.as_bytes());
        part(&mut out, value);
    };
    field("version", VERSION.as_bytes());
    field("content", content_sha256.as_bytes());
    field("target", target.key().as_bytes());
    if let ImportTarget::Layer(l) = target {
        field("kind", l.kind.as_str().as_bytes());
        field("title", l.title.as_bytes());
        field("description", l.description.as_bytes());
        field("attribution", l.attribution.as_bytes());
        field("authority", opt(&l.authority));
        field("keyed", if l.keyed { b"true" } else { b"false" });
    }
    field("mode", options.mode.as_str().as_bytes());
    for (name, value) in &options.reader {
        field(&format!("reader.{name}"), value.as_bytes());
    }
    hex::encode(Sha256::digest(&out))
}

#[cfg(test)]
mod tests {
    use kovgis_core::model::LayerKind;

    use super::super::options::ImportMode;
    use super::super::target::LayerSpec;
    use super::*;

    const CONTENT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn layer() -> ImportTarget {
        ImportTarget::Layer(LayerSpec {
            municipality_code: Some("0793".into()),
            name: "zoning".into(),
            title: "Üldplaneering".into(),
            kind: LayerKind::Zoning,
            description: String::new(),
            attribution: String::new(),
            authority: None,
            keyed: true,
        })
    }

    fn options(reader: &[(&str, &str)]) -> ImportOptions {
        ImportOptions {
            reader: reader
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn every_setting_that_changes_the_result_changes_the_fingerprint() {
        let base_options = options(&[("epsg", "3301"), ("repair", "false")]);
        let base = fingerprint(CONTENT, &layer(), &base_options);
        assert_eq!(base.len(), 64);
        // Stable, and blind to what does not change the result.
        let mut same = base_options.clone();
        same.dry_run = true;
        same.wait_for_lock = true;
        same.allow_shrink = true;
        same.max_shrink = 0.9;
        assert_eq!(fingerprint(CONTENT, &layer(), &same), base);

        let mut changed: Vec<String> = Vec::new();
        changed.push(fingerprint(
            &CONTENT.replace('9', "8"),
            &layer(),
            &base_options,
        ));
        changed.push(fingerprint(CONTENT, &ImportTarget::Parcels, &base_options));
        for edit in [
            |l: &mut LayerSpec| l.kind = LayerKind::Restriction,
            |l: &mut LayerSpec| l.name = "zoning-2".into(),
            |l: &mut LayerSpec| l.municipality_code = None,
            |l: &mut LayerSpec| l.title = "Other".into(),
            |l: &mut LayerSpec| l.authority = Some("Keskkonnaamet".into()),
            |l: &mut LayerSpec| l.attribution = "© Maa- ja Ruumiamet".into(),
            |l: &mut LayerSpec| l.keyed = false,
        ] {
            let mut t = layer();
            let ImportTarget::Layer(l) = &mut t else {
                unreachable!()
            };
            edit(l);
            changed.push(fingerprint(CONTENT, &t, &base_options));
        }
        let mut upsert = base_options.clone();
        upsert.mode = ImportMode::Upsert;
        changed.push(fingerprint(CONTENT, &layer(), &upsert));
        for reader in [
            &[("epsg", "4326"), ("repair", "false")][..],
            &[("epsg", "3301"), ("repair", "true")],
            &[
                ("epsg", "3301"),
                ("repair", "false"),
                ("map", "designation=JUHTOTSTAR"),
            ],
            &[("epsg", "3301")],
        ] {
            changed.push(fingerprint(CONTENT, &layer(), &options(reader)));
        }
        for (i, c) in changed.iter().enumerate() {
            assert_ne!(c, &base, "change {i}");
            assert_eq!(changed.iter().filter(|o| *o == c).count(), 1, "change {i}");
        }
    }

    #[test]
    fn names_and_values_cannot_run_into_each_other() {
        let a = fingerprint(CONTENT, &layer(), &options(&[("ab", "c")]));
        let b = fingerprint(CONTENT, &layer(), &options(&[("a", "bc")]));
        assert_ne!(a, b);
    }
}
