//! The `kovgis.v1` gRPC API: the code generated from `proto/kovgis/v1`, the descriptor set for
//! reflection, and the conversions between proto messages and the domain types of `kovgis-core`
//! and `kovgis-engine` ([`convert`]).
//!
//! Generated types stay at this edge: service crates convert here and hand domain types inward.
//! No I/O and no database types: a client of the API links this crate without PostgreSQL.

pub mod convert;
pub mod page_token;

/// Generated code of package `kovgis.v1`.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("kovgis.v1");
}

/// Encoded `FileDescriptorSet` of the kovgis.v1 protos, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kovgis_v1_descriptor");
