//! `leases`: named, expiring singletons held by one instance at a time (the cron leader).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::leases;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = leases)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires_at: NaiveDateTime,
    pub acquired_at: NaiveDateTime,
}

/// Takes or renews the lease `name` for `holder` until `until`; `true` when `holder` now holds it.
pub fn try_acquire(
    conn: &mut DbConn,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let renewed = diesel::update(leases::table.find(name).filter(leases::holder.eq(holder)))
        .set(leases::expires_at.eq(until))
        .execute(conn)?;
    if renewed == 1 {
        return Ok(true);
    }
    let taken_over = diesel::update(leases::table.find(name).filter(leases::expires_at.lt(now)))
        .set((leases::holder.eq(holder), leases::expires_at.eq(until), leases::acquired_at.eq(now)))
        .execute(conn)?;
    if taken_over == 1 {
        return Ok(true);
    }
    let lease = Lease { name: name.to_owned(), holder: holder.to_owned(), expires_at: until, acquired_at: now };
    // Two instances may race to create the first row; the loser simply does not lead.
    let inserted = match conn {
        DbConn::Pg(c) => diesel::insert_into(leases::table).values(&lease).on_conflict_do_nothing().execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(leases::table).values(&lease).on_conflict_do_nothing().execute(c)?,
    };
    Ok(inserted == 1)
}

pub fn find(conn: &mut DbConn, name: &str) -> QueryResult<Option<Lease>> {
    leases::table.find(name).select(Lease::as_select()).first(conn).optional()
}

/// Gives the lease up at once so another instance can take over without waiting for expiry.
pub fn release(conn: &mut DbConn, name: &str, holder: &str) -> QueryResult<usize> {
    diesel::delete(leases::table.find(name).filter(leases::holder.eq(holder))).execute(conn)
}
