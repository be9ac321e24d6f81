//! firegrid-bench, the load tool (issue 6, moved out of the server by issue 11): a generator that
//! fills an empty database with a county or a province through the real schema (`gen`, each
//! case's story told by the product's state machine, `story`), a load harness that drives a
//! running server as the generated staff (`run`), the raw database ceiling the API figures are
//! compared with (`ceiling`), and a timed deadline sweep (`gen::sweep_bench`). Commands that
//! rewrite data refuse a database `gen` did not mark (`marker`).
//!
//! Everything the harness needs is derivable from the scale: region ids, case ids and usernames
//! follow the fixed layout below, so `run` needs no access to the database.

pub mod ceiling;
pub mod gen;
pub mod marker;
pub mod run;
pub mod story;

use serde::{Deserialize, Serialize};

/// The password of every generated account (one shared argon2id hash: hashing 80,000 passwords
/// would take an hour). Only ever used on benchmark databases.
pub const BENCH_PASSWORD: &str = "firegrid-bench-2026";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScaleName {
    /// 1 county, 2 townships, 4 villages, 8 groups, 100 cases (CI smoke test).
    Tiny,
    /// 1 county, 20 townships, 300 villages, 1,500 groups, ~6,700 staff, 200,000 cases.
    County,
    /// 1 province, 8 prefectures, 50 counties, 20,000 groups, ~87,000 staff, 1,000,000 cases.
    Province,
    /// 1 county, 1 township, 1 village, 1 group, 20,000 cases: the data of the Node.js peer
    /// comparison (bench/side_by_side.sh, issue 16).
    Peer,
}

/// The shape of a generated deployment. Ids are assigned in a fixed order, so every id and
/// username can be computed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub scale: ScaleName,
    /// 0: the county is the deployment's root; otherwise a province with this many prefectures.
    pub prefectures: usize,
    pub counties: usize,
    /// Townships per county.
    pub townships: usize,
    /// Villages per township.
    pub villages: usize,
    /// Groups per village.
    pub groups: usize,
    /// Cases per county.
    pub cases: usize,
}

/// The four small-grid roles (一长三员), in the order usernames use them.
pub const GRID_ROLES: [&str; 4] = ["leader", "inspector", "handler", "coordinator"];

impl Layout {
    pub fn of(scale: ScaleName) -> Layout {
        match scale {
            ScaleName::Tiny => Layout {
                scale,
                prefectures: 0,
                counties: 1,
                townships: 2,
                villages: 2,
                groups: 2,
                cases: 100,
            },
            ScaleName::County => Layout {
                scale,
                prefectures: 0,
                counties: 1,
                townships: 20,
                villages: 15,
                groups: 5,
                cases: 200_000,
            },
            ScaleName::Peer => Layout {
                scale,
                prefectures: 0,
                counties: 1,
                townships: 1,
                villages: 1,
                groups: 1,
                cases: 20_000,
            },
            ScaleName::Province => Layout {
                scale,
                prefectures: 8,
                counties: 50,
                townships: 8,
                villages: 10,
                groups: 5,
                cases: 20_000,
            },
        }
    }

    /// Ids taken by the province and its prefectures.
    fn head(&self) -> i64 {
        if self.prefectures == 0 {
            0
        } else {
            1 + self.prefectures as i64
        }
    }
    pub fn villages_per_county(&self) -> usize {
        self.townships * self.villages
    }
    pub fn groups_per_county(&self) -> usize {
        self.townships * self.villages * self.groups
    }
    pub fn regions_per_county(&self) -> i64 {
        (1 + self.townships + self.villages_per_county() + self.groups_per_county()) as i64
    }
    pub fn total_regions(&self) -> i64 {
        self.head() + self.counties as i64 * self.regions_per_county()
    }
    pub fn prefecture_of(&self, c: usize) -> usize {
        c * self.prefectures.max(1) / self.counties
    }
    pub fn prefecture_id(&self, p: usize) -> i64 {
        2 + p as i64
    }
    pub fn county_id(&self, c: usize) -> i64 {
        self.head() + 1 + c as i64 * self.regions_per_county()
    }
    pub fn township_id(&self, c: usize, t: usize) -> i64 {
        self.county_id(c) + 1 + t as i64
    }
    /// `v` counts villages across the county.
    pub fn village_id(&self, c: usize, v: usize) -> i64 {
        self.county_id(c) + 1 + (self.townships + v) as i64
    }
    /// `g` counts groups across the county.
    pub fn group_id(&self, c: usize, g: usize) -> i64 {
        self.county_id(c) + 1 + (self.townships + self.villages_per_county() + g) as i64
    }
    /// Police stations per county: one for every two townships.
    pub fn stations(&self) -> usize {
        self.townships.div_ceil(2)
    }
    /// The generated cases of county `c`: ids `first..=last`.
    pub fn case_ids(&self, c: usize) -> (i64, i64) {
        let n = self.cases as i64;
        (c as i64 * n + 1, (c as i64 + 1) * n)
    }
    pub fn county_code(&self, c: usize) -> String {
        if self.prefectures == 0 {
            "630106".to_string()
        } else {
            let p = self.prefecture_of(c);
            let first = (0..self.counties)
                .find(|&k| self.prefecture_of(k) == p)
                .unwrap_or(0);
            format!("63{:02}{:02}", p + 1, c - first + 1)
        }
    }

    // Usernames: c<county>-…, indices counted across the county.
    pub fn county_official(c: usize, k: usize) -> String {
        format!("c{c}-county-{k}")
    }
    pub fn fire_officer(c: usize, k: usize) -> String {
        format!("c{c}-fire-{k}")
    }
    pub fn township_official(c: usize, t: usize, k: usize) -> String {
        format!("c{c}-t{t}-official-{k}")
    }
    pub fn police_officer(c: usize, s: usize, k: usize) -> String {
        format!("c{c}-ps{s}-police-{k}")
    }
    pub fn village_cadre(c: usize, v: usize) -> String {
        format!("c{c}-v{v}-cadre")
    }
    pub fn village_police(c: usize, v: usize) -> String {
        format!("c{c}-v{v}-police")
    }
    /// `role` is one of `GRID_ROLES`.
    pub fn grid(c: usize, g: usize, role: &str) -> String {
        format!("c{c}-g{g}-{role}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_contiguous_per_county() {
        for s in [
            ScaleName::Tiny,
            ScaleName::County,
            ScaleName::Province,
            ScaleName::Peer,
        ] {
            let l = Layout::of(s);
            let last = l.counties - 1;
            assert_eq!(
                l.group_id(last, l.groups_per_county() - 1),
                l.total_regions()
            );
            assert_eq!(
                l.county_id(1.min(last)) - l.county_id(0),
                if last == 0 { 0 } else { l.regions_per_county() }
            );
        }
        let p = Layout::of(ScaleName::Province);
        assert_eq!(p.county_id(0), 10);
        assert_eq!(p.groups_per_county() * p.counties, 20_000);
        assert_eq!(p.cases * p.counties, 1_000_000);
        let codes: std::collections::HashSet<String> =
            (0..p.counties).map(|c| p.county_code(c)).collect();
        assert_eq!(codes.len(), p.counties);
    }
}
