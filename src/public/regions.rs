//! `GET /api/v1/public/regions`: where the public may report — every county, township, village
//! and group, with ids, codes and names only. A province is tens of thousands of regions, asked
//! for by every phone that opens the form, so the answer is cached twice: by clients and
//! proxies (`ETag`, `Cache-Control: public`, 304 on `If-None-Match`), and in each server, which
//! builds the JSON once per version of the tree. The version is one aggregate over the regions
//! (how many, the newest id, the latest change), the same on every server of a deployment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::regions;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::public::model::{PublicRegion, PublicRegions};
use crate::vocab::RegionLevel;

const LEVELS: [RegionLevel; 4] = [
    RegionLevel::County,
    RegionLevel::Township,
    RegionLevel::Village,
    RegionLevel::Group,
];

/// The tree's current entity tag (quoted, as the header carries it).
pub fn etag(conn: &mut DbConn) -> AppResult<String> {
    let (n, newest, changed): (i64, Option<i64>, Option<NaiveDateTime>) = regions::table
        .filter(regions::level.eq_any(LEVELS))
        .select((count_star(), max(regions::id), max(regions::updated_at)))
        .first(conn)?;
    let digest = Sha256::digest(format!("{n}/{newest:?}/{changed:?}").as_bytes());
    Ok(format!("\"{}\"", &hex::encode(digest)[..20]))
}

/// One built answer per database (tests run many in one process) and tree version.
type Built = (String, Arc<Vec<u8>>);
fn cache() -> &'static Mutex<HashMap<String, Built>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Built>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The JSON of the tree at version `tag`, built unless this server has it already.
pub fn body(conn: &mut DbConn, database: &str, tag: &str) -> AppResult<Arc<Vec<u8>>> {
    if let Some((t, b)) = cache().lock().ok().and_then(|c| c.get(database).cloned()) {
        if t == tag {
            return Ok(b);
        }
    }
    let rows: Vec<(i64, Option<i64>, RegionLevel, String, String)> = regions::table
        .filter(regions::level.eq_any(LEVELS))
        .select((
            regions::id,
            regions::parent_id,
            regions::level,
            regions::code,
            regions::name,
        ))
        .order(regions::code.asc())
        .load(conn)?;
    let built = Arc::new(serde_json::to_vec(&build(rows))?);
    if let Ok(mut c) = cache().lock() {
        c.insert(database.to_string(), (tag.to_string(), built.clone()));
    }
    Ok(built)
}

/// Nests the rows (in code order) under their counties.
fn build(rows: Vec<(i64, Option<i64>, RegionLevel, String, String)>) -> PublicRegions {
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut nodes: HashMap<i64, PublicRegion> = HashMap::new();
    let mut counties = Vec::new();
    for (id, parent, level, code, name) in rows {
        match (level, parent) {
            (RegionLevel::County, _) => counties.push(id),
            (_, Some(p)) => children.entry(p).or_default().push(id),
            _ => {}
        }
        nodes.insert(
            id,
            PublicRegion {
                id,
                level,
                code,
                name,
                children: Vec::new(),
            },
        );
    }
    fn take(
        id: i64,
        nodes: &mut HashMap<i64, PublicRegion>,
        children: &HashMap<i64, Vec<i64>>,
    ) -> Option<PublicRegion> {
        let mut node = nodes.remove(&id)?;
        for c in children.get(&id).into_iter().flatten() {
            node.children.extend(take(*c, nodes, children));
        }
        Some(node)
    }
    PublicRegions {
        counties: counties
            .into_iter()
            .filter_map(|id| take(id, &mut nodes, &children))
            .collect(),
    }
}
