//! Who a store call runs for: the [`Caller`], and the caller-scoped transaction every read and
//! write of tenant tables goes through.
//!
//! Row-level security (migration 0008) reads the caller from three transaction-local settings,
//! `kovgis.subject`, `kovgis.municipality` and `kovgis.reach` (and `kovgis.person_code` for a
//! person reading the uses of their own data or their own procedures, `kovgis.authority` for a
//! coordinating authority: migration 0012). [`scoped`] opens a transaction and sets them in
//! the same round trip as the first query: `BEGIN` and the `set_config` calls go as one simple
//! query, pipelined with the statement that follows (tokio-postgres sends requests polled
//! together without waiting for the answers), so a caller-scoped read costs no extra round trip.
//! The policies fail closed: an empty or missing subject sees and writes no rows at all.

use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::StoreError;

/// How far a caller reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Its own municipality's rows, and the national ones (read only).
    Own,
    /// Every municipality: national scopes and internal system work.
    All,
    /// An applicant: in its municipality, only the procedures it created or that name its
    /// personal code as the applicant's (migration 0012); other tenant rows as [`Reach::Own`].
    Applicant,
    /// A coordinating authority ([`Caller::authority`]): only the procedures whose
    /// coordination was asked of it, in every municipality; national rows otherwise.
    Authority,
}

impl Reach {
    /// The value of `kovgis.reach`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Own => "own",
            Reach::All => "all",
            Reach::Applicant => "applicant",
            Reach::Authority => "authority",
        }
    }
}

/// The identity a store call runs as; row-level security decides what it sees and may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who: a person's or system's subject (`system:index-builder`, a token's `sub`). Empty: no
    /// access at all.
    pub subject: String,
    /// The municipality acted for (EHAK code), if any.
    pub municipality: Option<String>,
    pub reach: Reach,
    /// The person's own id code (isikukood) when the caller is a person asking about their own
    /// data: audit events about that code become readable to them ([`crate::Store::list_data_usage`]).
    pub person_code: Option<String>,
    /// The authority a coordinating authority's identity acts for (`authority:<name>` scope),
    /// with [`Reach::Authority`].
    pub authority: Option<String>,
}

impl Caller {
    /// Internal work (`system:<name>`) reaching every municipality.
    pub fn system(name: &str) -> Caller {
        Caller {
            subject: format!("system:{name}"),
            municipality: None,
            reach: Reach::All,
            person_code: None,
            authority: None,
        }
    }

    /// A caller acting for one municipality.
    pub fn municipal(subject: &str, municipality: &str) -> Caller {
        Caller {
            subject: subject.to_owned(),
            municipality: Some(municipality.to_owned()),
            reach: Reach::Own,
            person_code: None,
            authority: None,
        }
    }

    /// `BEGIN` and the settings, as one simple query (literals quoted here: the simple query
    /// protocol has no parameters; a NUL, which no setting may hold, empties the subject, which
    /// fails closed).
    pub(crate) fn begin_sql(&self, begin: &str) -> String {
        let subject = if self.subject.contains('\0') {
            ""
        } else {
            &self.subject
        };
        let text = |v: Option<&str>| quote(v.filter(|s| !s.contains('\0')).unwrap_or(""));
        format!(
            "{begin}; SELECT set_config('kovgis.subject', {}, true), \
             set_config('kovgis.municipality', {}, true), set_config('kovgis.reach', {}, true), \
             set_config('kovgis.person_code', {}, true), \
             set_config('kovgis.authority', {}, true)",
            quote(subject),
            text(self.municipality.as_deref()),
            quote(self.reach.as_str()),
            text(self.person_code.as_deref()),
            text(self.authority.as_deref()),
        )
    }
}

/// A string literal: single quotes doubled, as `E''` is not used, backslashes are plain.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A connection inside a caller-scoped transaction. Dropped without [`Scoped::commit`] (an error,
/// an abandoned stream), it rolls back in the background and only then returns to the pool; a
/// connection whose rollback fails is closed, never pooled inside a transaction.
pub(crate) struct Scoped {
    client: Option<Object>,
}

impl Scoped {
    /// A guard over `client`, which is about to open a caller-scoped transaction.
    pub(crate) fn new(client: Object) -> Scoped {
        Scoped {
            client: Some(client),
        }
    }

    /// The transaction was ended by a `COMMIT` that went with its statements (committed, or
    /// rolled back when one of them failed): the connection goes back to the pool as it is.
    pub(crate) fn ended(mut self) {
        drop(self.client.take());
    }

    /// Whether the transaction ended is not known (the connection failed): the connection is
    /// closed, never pooled.
    pub(crate) fn discard(mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }

    pub(crate) fn client(&self) -> &Object {
        self.client.as_ref().expect("scoped connection")
    }

    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let client = self.client.take().expect("scoped connection");
        match client.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                drop(Object::take(client));
                Err(StoreError::Postgres(e, "committing"))
            }
        }
    }
}

impl Drop for Scoped {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        if client.batch_execute("ROLLBACK").await.is_err() {
                            drop(Object::take(client));
                        }
                    });
                }
                Err(_) => drop(Object::take(client)),
            }
        }
    }
}

/// One read-only statement as `caller`: `BEGIN` with the settings, the statement and `COMMIT`
/// sent together, one round trip. A connection whose transaction did not end cleanly is closed.
pub(crate) async fn read_once(
    client: Object,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, StoreError> {
    let stmt = client
        .prepare_cached(sql)
        .await
        .map_err(StoreError::pg("preparing a statement"))?;
    let begin = caller.begin_sql("BEGIN READ ONLY");
    let (set, rows, end) = futures_util::future::join3(
        client.batch_execute(&begin),
        client.query(&stmt, params),
        client.batch_execute("COMMIT"),
    )
    .await;
    if set.is_err() || end.is_err() {
        drop(Object::take(client));
    }
    set.map_err(StoreError::pg("setting the caller"))?;
    end.map_err(StoreError::pg("ending a read"))?;
    rows.map_err(StoreError::pg("querying"))
}

/// Opens a caller-scoped transaction and starts a streamed statement in the same round trip;
/// the transaction (read only) ends when the returned guard is dropped.
pub(crate) async fn stream_once(
    client: Object,
    caller: &Caller,
    sql: &str,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
) -> Result<(Scoped, tokio_postgres::RowStream), StoreError> {
    let stmt = client
        .prepare_cached(sql)
        .await
        .map_err(StoreError::pg("preparing a statement"))?;
    let scoped = Scoped {
        client: Some(client),
    };
    let c = scoped.client();
    let begin = caller.begin_sql("BEGIN READ ONLY");
    let (set, rows) = futures_util::future::join(
        c.batch_execute(&begin),
        c.query_raw(
            &stmt,
            params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)),
        ),
    )
    .await;
    set.map_err(StoreError::pg("setting the caller"))?;
    let rows = rows.map_err(StoreError::pg("querying"))?;
    Ok((scoped, rows))
}

/// Opens a caller-scoped transaction without a first statement (one round trip).
pub(crate) async fn begin(
    client: Object,
    caller: &Caller,
    begin: &str,
) -> Result<Scoped, StoreError> {
    let scoped = Scoped {
        client: Some(client),
    };
    scoped
        .client()
        .batch_execute(&caller.begin_sql(begin))
        .await
        .map_err(StoreError::pg("setting the caller"))?;
    Ok(scoped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_and_nul_empties_the_subject() {
        let c = Caller {
            subject: "o'brien".into(),
            municipality: Some("0793".into()),
            reach: Reach::Own,
            person_code: None,
            authority: None,
        };
        let sql = c.begin_sql("BEGIN");
        assert!(
            sql.contains("set_config('kovgis.subject', 'o''brien', true)"),
            "{sql}"
        );
        assert!(sql.contains("set_config('kovgis.municipality', '0793', true)"));
        assert!(sql.contains("set_config('kovgis.reach', 'own', true)"));
        let evil = Caller::system("x\0y");
        assert!(
            evil.begin_sql("BEGIN")
                .contains("set_config('kovgis.subject', '', true)")
        );
    }
}
