//! `kovgis import …`: the CLI face of `kovgis-import`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use kovgis_core::model::LayerKind;
use kovgis_import::{
    AttributeMapping, ImportError, ImportKind, ImportReport, ImportRequest, Progress,
};
use kovgis_store::Store;
use kovgis_store::import::{DEFAULT_MAX_SHRINK, ImportMode, ImportOptions, LayerSpec, grouped};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a Land Board cadastre download (GeoPackage or Shapefile, old or new schema).
    Parcels {
        #[command(flatten)]
        common: Common,
    },
    /// Import a layer: zoning, restriction, building, detailed_plan or other.
    Layer {
        #[command(flatten)]
        common: Common,
        /// What the layer holds.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Machine name of the layer, unique within its owner (lower case, digits, - and _).
        #[arg(long)]
        name: String,
        /// Owning municipality (EHAK code); omit with --national.
        #[arg(long, conflicts_with = "national")]
        municipality: Option<String>,
        /// A national layer, seen by every municipality.
        #[arg(long)]
        national: bool,
        /// Title shown to people (default: the name).
        #[arg(long)]
        title: Option<String>,
        /// Authority to coordinate with about this layer (e.g. Keskkonnaamet).
        #[arg(long)]
        authority: Option<String>,
        /// Attribution to show with the data.
        #[arg(long, default_value = "")]
        attribution: String,
        /// Attribute mapping `stored=source`; `id=FIELD` names the stable feature id.
        #[arg(long = "map", value_name = "STORED=SOURCE")]
        map: Vec<String>,
        /// A mapping file: one `stored = source` per line, `id = FIELD`, `only_mapped = true`.
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct Common {
    /// The file: .gpkg, .shp, .geojson/.json or .fgb.
    pub file: PathBuf,
    /// Layer inside the file (GeoPackages with several layers).
    #[arg(long)]
    pub layer: Option<String>,
    /// The source CRS, when the file does not say it or says it wrongly: EPSG:3301 or 3301.
    #[arg(long)]
    pub srs: Option<String>,
    /// Repair invalid geometries with ST_MakeValid instead of skipping them.
    #[arg(long)]
    pub repair: bool,
    /// Report everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// replace: the file is the whole dataset (rows it lacks are closed); upsert: add and update.
    #[arg(long, value_enum, default_value_t = Mode::Replace)]
    pub mode: Mode,
    /// Wait for a running import of the same target instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Replace mode: let the import stage nothing, or close more than --max-shrink-percent of
    /// the current rows (refused otherwise: one bad file must not empty a layer).
    #[arg(long)]
    pub allow_shrink: bool,
    /// Replace mode: the share of the current rows, in percent, the import may close without
    /// --allow-shrink.
    #[arg(
        long,
        env = "KOVGIS_IMPORT_MAX_SHRINK_PERCENT",
        default_value_t = DEFAULT_MAX_SHRINK * 100.0,
        value_parser = percent
    )]
    pub max_shrink_percent: f64,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// The operator running the import, recorded as the dataset version's author and in the
    /// audit trail as `system:import-cli:<NAME>` (default: the OS user). The import runs with
    /// national reach through the service role's row-level security.
    #[arg(long = "as", value_name = "NAME", env = "KOVGIS_IMPORT_AS")]
    pub operator: Option<String>,
}

/// The OS user's name (`id -un`), where the environment does not say it.
fn os_user() -> Option<String> {
    let out = std::process::Command::new("id").arg("-un").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The CLI's identity: `system:import-cli:<operator>`, reach all.
pub fn import_caller(operator: Option<&str>) -> anyhow::Result<kovgis_store::Caller> {
    let name = match operator {
        Some(n) => n.to_owned(),
        None => std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| os_user().unwrap_or_default()),
    };
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("name the operator running the import with --as NAME (no OS user is known)");
    }
    Ok(kovgis_store::Caller::system(&format!("import-cli:{name}")))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    Replace,
    Upsert,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Zoning,
    Restriction,
    Building,
    DetailedPlan,
    Other,
}

fn percent(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("expected a percentage from 0 to 100, got '{s}'")),
    }
}

fn parse_srs(s: &str) -> anyhow::Result<u32> {
    let t = s.trim();
    let code = t
        .strip_prefix("EPSG:")
        .or_else(|| t.strip_prefix("epsg:"))
        .unwrap_or(t);
    code.parse()
        .with_context(|| format!("--srs '{s}' is not an EPSG code (e.g. EPSG:3301)"))
}

pub async fn run(store: &Store, cmd: ImportCommand) -> anyhow::Result<()> {
    let (common, kind) = match cmd {
        ImportCommand::Parcels { common } => (common, ImportKind::Parcels),
        ImportCommand::Layer {
            common,
            kind,
            name,
            municipality,
            national,
            title,
            authority,
            attribution,
            map,
            mapping,
        } => {
            if municipality.is_none() && !national {
                bail!("say whose layer this is: --municipality <EHAK code> or --national");
            }
            let municipality = municipality
                .map(|m| kovgis_core::codes::parse_municipality_code("--municipality", &m))
                .transpose()
                .map_err(|e| anyhow::anyhow!(e.reason))?;
            let mut m = match mapping {
                Some(path) => AttributeMapping::from_file(&path).map_err(anyhow::Error::msg)?,
                None => AttributeMapping::default(),
            };
            let extra = AttributeMapping::from_pairs(&map).map_err(anyhow::Error::msg)?;
            m.renames.extend(extra.renames);
            m.id_field = extra.id_field.or(m.id_field);
            m.only_mapped |= extra.only_mapped;
            let spec = LayerSpec {
                municipality_code: municipality,
                title: title.unwrap_or_else(|| name.clone()),
                name,
                kind: match kind {
                    Kind::Zoning => LayerKind::Zoning,
                    Kind::Restriction => LayerKind::Restriction,
                    Kind::Building => LayerKind::Building,
                    Kind::DetailedPlan => LayerKind::DetailedPlan,
                    Kind::Other => LayerKind::Other,
                },
                description: String::new(),
                attribution,
                authority,
                keyed: m.id_field.is_some(),
            };
            (
                common,
                ImportKind::Layer {
                    spec: Box::new(spec),
                    mapping: m,
                },
            )
        }
    };
    let request = ImportRequest {
        path: common.file.clone(),
        layer: common.layer,
        kind,
        srs: common.srs.as_deref().map(parse_srs).transpose()?,
        repair: common.repair,
        options: ImportOptions {
            mode: match common.mode {
                Mode::Replace => ImportMode::Replace,
                Mode::Upsert => ImportMode::Upsert,
            },
            wait_for_lock: common.wait,
            dry_run: common.dry_run,
            allow_shrink: common.allow_shrink,
            max_shrink: common.max_shrink_percent / 100.0,
            ..Default::default()
        },
    };
    let label = common
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let caller = import_caller(common.operator.as_deref())?;
    let mut progress = Progress::new(label, !common.quiet);
    let report = match kovgis_import::run_import(store, &caller, request, &mut progress).await {
        Ok(report) => report,
        Err(ImportError::Refused { report, source }) => {
            // The problems are why: show them with the refusal.
            print_problems(&common.file, &report);
            return Err(source.into());
        }
        Err(e) => return Err(e.into()),
    };
    print_report(&common.file, &report);
    Ok(())
}

fn print_report(file: &std::path::Path, r: &ImportReport) {
    let s = &r.summary;
    if s.unchanged_file {
        println!(
            "{}: unchanged since dataset version {}; nothing to do",
            file.display(),
            s.version.unwrap_or(0)
        );
        return;
    }
    if let Some(schema) = &r.schema {
        println!("schema: {schema}");
    }
    println!("source CRS: EPSG:{}", r.source_epsg);
    let skipped = r.skipped.len() + s.dropped.len();
    println!(
        "{}read {}, written {}, unchanged {}, repaired {}, skipped {}, closed {}, {:.1} s{}",
        if s.dry_run {
            "DRY RUN (nothing written): "
        } else {
            ""
        },
        r.read,
        s.written,
        s.unchanged,
        s.repaired,
        skipped,
        s.closed,
        s.seconds,
        s.version
            .map(|v| format!(", dataset version {v}"))
            .unwrap_or_default()
    );
    if let Some(shrink) = &s.shrink
        && (shrink.exceeds() || s.dry_run)
    {
        let verdict = match (shrink.exceeds(), s.dry_run) {
            (false, _) => "a real import would go ahead",
            (true, true) => "a real import is refused without --allow-shrink",
            (true, false) => "allowed by --allow-shrink",
        };
        println!(
            "shrink: {} of {} current rows closed, {} incoming; {verdict}",
            grouped(shrink.closing),
            grouped(shrink.current),
            grouped(shrink.incoming),
        );
        if shrink.exceeds() {
            println!("  the import {}", shrink.describe());
        }
    }
    print_problems(file, r);
}

/// Every feature skipped or repaired (the first 50), with file, index and id.
fn print_problems(file: &std::path::Path, r: &ImportReport) {
    let s = &r.summary;
    let problems = r
        .skipped
        .iter()
        .map(|p| (p.index, p.id.clone(), format!("skipped: {}", p.reason)))
        .chain(
            r.sent_for_repair
                .iter()
                .map(|p| (p.index, p.id.clone(), format!("repaired: {}", p.reason))),
        )
        .chain(
            s.dropped
                .iter()
                .map(|(i, reason)| (*i as u64, None, format!("skipped: {reason}"))),
        );
    let mut n = 0;
    for (index, id, reason) in problems {
        n += 1;
        if n <= 50 {
            let id = id.map(|i| format!(" ({i})")).unwrap_or_default();
            println!("  {}, feature {index}{id}: {reason}", file.display());
        }
    }
    if n > 50 {
        println!("  … and {} more", n - 50);
    }
}
