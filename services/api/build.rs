//! Generates the kovgis.v1 server and client code and the descriptor set served by reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root =
        std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "kovgis/v1/geometry.proto",
        "kovgis/v1/spatial.proto",
        "kovgis/v1/rules.proto",
        "kovgis/v1/audit.proto",
        "kovgis/v1/procedures.proto",
    ];
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("kovgis_v1_descriptor.bin"))
        .compile_protos(
            &files.map(|f| proto_root.join(f)),
            std::slice::from_ref(&proto_root),
        )?;
    for f in files {
        println!("cargo:rerun-if-changed={}", proto_root.join(f).display());
    }
    Ok(())
}
