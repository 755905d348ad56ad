//! Who a gRPC call runs as in the store: the one place a request becomes a
//! [`kovgis_store::Caller`], whose row-level security decides what the call sees and may write.

use kovgis_store::Caller;

/// The store caller of a request.
///
/// For now every call runs as `system:unauthenticated` with national reach (what the service
/// did before identities existed). The authentication layer replaces this with the verified
/// identity of the request (subject, municipality, reach from its roles and scopes).
pub(crate) fn caller_of<T>(_req: &tonic::Request<T>) -> Caller {
    Caller::system("unauthenticated")
}
