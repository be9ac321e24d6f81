//! The ranking of sibling regions (年度综合考评排名): each child region of the one asked about
//! gets a composite score from components of its figures over the period, weighted per
//! deployment (`FIREGRID_RANKING_WEIGHTS`). README.md ("The ranking") states the formula.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use utoipa::ToSchema;

use crate::regions::model::RegionRef;
use crate::stats::figures::Figures;
use crate::stats::period::PeriodOut;

pub use crate::vocab::RankingComponent as Component;

impl Component {
    pub fn zh(self) -> &'static str {
        match self {
            Component::Rectification => "整改率",
            Component::Timeliness => "按期整改率",
            Component::MajorOpen => "重大隐患清零",
            Component::Patrol => "巡查完成率",
            Component::Roster => "一长三员达标率",
            Component::PublicResponse => "举报48小时答复率",
        }
    }

    /// The component's value for these figures; 1 when there is nothing to judge.
    pub fn value(self, f: &Figures) -> f64 {
        match self {
            Component::Rectification => f.rectification_rate.unwrap_or(1.0),
            Component::Timeliness => f.closed_on_time_share.unwrap_or(1.0),
            Component::MajorOpen => 1.0 / (1.0 + f.major_open_at_end as f64),
            Component::Patrol => f.patrol_completion.unwrap_or(1.0),
            Component::Roster => f.roster_compliance.unwrap_or(1.0),
            Component::PublicResponse => f.public_first_response_share.unwrap_or(1.0),
        }
    }
}

/// The weight of each component (non-negative integers; at least one above zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub rectification: u32,
    pub timeliness: u32,
    pub major_open: u32,
    pub patrol: u32,
    pub roster: u32,
    pub public_response: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            rectification: 30,
            timeliness: 20,
            major_open: 15,
            patrol: 15,
            roster: 10,
            public_response: 10,
        }
    }
}

impl Weights {
    pub fn of(&self, c: Component) -> u32 {
        match c {
            Component::Rectification => self.rectification,
            Component::Timeliness => self.timeliness,
            Component::MajorOpen => self.major_open,
            Component::Patrol => self.patrol,
            Component::Roster => self.roster,
            Component::PublicResponse => self.public_response,
        }
    }

    fn sum(&self) -> u32 {
        Component::ALL.iter().map(|c| self.of(*c)).sum()
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Component::ALL
            .iter()
            .map(|c| format!("{}={}", c.as_str(), self.of(*c)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Weights {
    type Err = String;

    /// `rectification=30,timeliness=20,major_open=15,patrol=15,roster=10,public_response=10`; a
    /// component left out weighs 0.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut w = Weights {
            rectification: 0,
            timeliness: 0,
            major_open: 0,
            patrol: 0,
            roster: 0,
            public_response: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected name=weight"))?;
            let v: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: the weight must be a whole number ≥ 0"))?;
            let slot = match k.trim() {
                "rectification" => &mut w.rectification,
                "timeliness" => &mut w.timeliness,
                "major_open" => &mut w.major_open,
                "patrol" => &mut w.patrol,
                "roster" => &mut w.roster,
                "public_response" => &mut w.public_response,
                other => {
                    return Err(format!(
                    "unknown component `{other}` (rectification, timeliness, major_open, patrol, roster, public_response)"
                ))
                }
            };
            *slot = v;
        }
        if w.sum() == 0 {
            return Err("at least one weight must be above zero".into());
        }
        Ok(w)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeightOut {
    pub component: Component,
    pub weight: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentScore {
    pub component: Component,
    /// Between 0 and 1, 4 places.
    pub value: f64,
    pub weight: u32,
    /// 100 × weight × value / (sum of weights), 2 places.
    pub points: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedRegion {
    /// 1 for the best; no two regions share a rank (ties are broken, see `tie_break`).
    pub rank: usize,
    pub region: RegionRef,
    /// 100 × Σ weight·value / Σ weight, 2 places.
    pub score: f64,
    pub components: Vec<ComponentScore>,
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ranking {
    /// The region whose children are ranked.
    pub region: RegionRef,
    pub period: PeriodOut,
    pub weights: Vec<WeightOut>,
    pub formula: String,
    pub tie_break: String,
    pub items: Vec<RankedRegion>,
}

pub const FORMULA: &str = "score = 100 × Σ(weight × value) / Σ weight; values: rectification = rectification_rate, timeliness = closed_on_time_share, major_open = 1 / (1 + major_open_at_end), patrol = patrol_completion, roster = roster_compliance, public_response = public_first_response_share; a value with nothing to judge (null) counts 1";
pub const TIE_BREAK: &str = "score (2 places) descending, then rectification value descending, then major_open_at_end ascending, then region code ascending";

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Scores and orders the children's figures.
pub fn rank(region: RegionRef, period: PeriodOut, w: &Weights, children: Vec<Figures>) -> Ranking {
    let total = f64::from(w.sum().max(1));
    let mut items: Vec<RankedRegion> = children
        .into_iter()
        .map(|f| {
            let components: Vec<ComponentScore> = Component::ALL
                .iter()
                .map(|c| {
                    let value = c.value(&f);
                    ComponentScore {
                        component: *c,
                        value: round(value, 4),
                        weight: w.of(*c),
                        points: round(100.0 * f64::from(w.of(*c)) * value / total, 2),
                    }
                })
                .collect();
            let raw: f64 = Component::ALL
                .iter()
                .map(|c| f64::from(w.of(*c)) * c.value(&f))
                .sum();
            RankedRegion {
                rank: 0,
                region: f.region.clone(),
                score: round(100.0 * raw / total, 2),
                components,
                figures: f,
            }
        })
        .collect();
    items.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(
                Component::Rectification
                    .value(&b.figures)
                    .total_cmp(&Component::Rectification.value(&a.figures)),
            )
            .then(
                a.figures
                    .major_open_at_end
                    .cmp(&b.figures.major_open_at_end),
            )
            .then(a.region.code.cmp(&b.region.code))
    });
    for (i, item) in items.iter_mut().enumerate() {
        item.rank = i + 1;
    }
    Ranking {
        region,
        period,
        weights: Component::ALL
            .iter()
            .map(|c| WeightOut {
                component: *c,
                weight: w.of(*c),
            })
            .collect(),
        formula: FORMULA.into(),
        tie_break: TIE_BREAK.into(),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_and_print() {
        let w: Weights = Weights::default().to_string().parse().unwrap();
        assert_eq!(w, Weights::default());
        let w: Weights = "roster=1".parse().unwrap();
        assert_eq!((w.roster, w.rectification), (1, 0));
        assert!("roster=0".parse::<Weights>().is_err());
        assert!("speed=3".parse::<Weights>().is_err());
        assert!("roster=-1".parse::<Weights>().is_err());
    }
}
