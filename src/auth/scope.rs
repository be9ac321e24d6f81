//! What a user can see: the union of the subtrees of the regions their roles are bound to (a
//! police station's or fire department's jurisdiction for officers). Regions carry a
//! materialised path of ids ("/1/5/23/"), so "inside the scope" is a prefix test here and an
//! indexed range scan in SQL (see `scope_filter!`).

/// A set of subtrees, or everything (a global administrator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// Path prefixes, none inside another.
    Paths(Vec<String>),
}

impl Scope {
    pub fn empty() -> Scope {
        Scope::Paths(Vec::new())
    }

    /// The union of subtrees, with nested ones dropped.
    pub fn from_paths(mut paths: Vec<String>) -> Scope {
        paths.sort();
        paths.dedup();
        let mut kept: Vec<String> = Vec::new();
        for p in paths {
            // Sorted, so an ancestor comes right before its descendants.
            if !kept.last().is_some_and(|k| p.starts_with(k.as_str())) {
                kept.push(p);
            }
        }
        Scope::Paths(kept)
    }

    pub fn union(self, other: Scope) -> Scope {
        match (self, other) {
            (Scope::Global, _) | (_, Scope::Global) => Scope::Global,
            (Scope::Paths(mut a), Scope::Paths(b)) => {
                a.extend(b);
                Scope::from_paths(a)
            }
        }
    }

    pub fn is_global(&self) -> bool {
        matches!(self, Scope::Global)
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Scope::Paths(p) if p.is_empty())
    }

    /// Whether the region with this path lies inside the scope.
    pub fn contains(&self, path: &str) -> bool {
        match self {
            Scope::Global => true,
            Scope::Paths(ps) => ps.iter().any(|p| path.starts_with(p.as_str())),
        }
    }

    /// Whether every region `other` reaches lies inside this scope (only everything covers
    /// everything).
    pub fn covers(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Global, _) => true,
            (Scope::Paths(_), Scope::Global) => false,
            (Scope::Paths(_), Scope::Paths(theirs)) => theirs.iter().all(|p| self.contains(p)),
        }
    }

    /// The regions both scopes see: of two nested subtrees the inner one, of two disjoint ones
    /// neither.
    pub fn intersect(&self, other: &Scope) -> Scope {
        match (self, other) {
            (Scope::Global, s) | (s, Scope::Global) => s.clone(),
            (Scope::Paths(a), Scope::Paths(b)) => {
                let mut both = Vec::new();
                for x in a {
                    for y in b {
                        if x.starts_with(y.as_str()) {
                            both.push(x.clone());
                        } else if y.starts_with(x.as_str()) {
                            both.push(y.clone());
                        }
                    }
                }
                Scope::from_paths(both)
            }
        }
    }

    /// `[start, end)` ranges of paths, one per subtree (empty for `Global`).
    pub fn ranges(&self) -> Vec<(String, String)> {
        match self {
            Scope::Global => Vec::new(),
            Scope::Paths(ps) => ps.iter().map(|p| (p.clone(), subtree_end(p))).collect(),
        }
    }
}

/// The first path after every path of the subtree rooted at `prefix` ("/1/5/" → "/1/50"):
/// '0' is the byte right after '/', and ids are digits.
pub fn subtree_end(prefix: &str) -> String {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    format!("{trimmed}0")
}

/// A boxed diesel filter "this path column lies inside the scope", for any query over the
/// table that owns the column.
#[macro_export]
macro_rules! scope_filter {
    ($col:expr, $scope:expr) => {{
        use diesel::prelude::*;
        let scope: &$crate::auth::scope::Scope = $scope;
        let mut ranges = scope.ranges().into_iter();
        // The first range starts the chain itself: a constant `1=0 OR …` in front would keep
        // SQLite's planner from using the path index.
        let mut filter: Box<
            dyn diesel::BoxableExpression<
                _,
                $crate::db::MultiBackend,
                SqlType = diesel::sql_types::Bool,
            >,
        > = match ranges.next() {
            Some((start, end)) => Box::new($col.ge(start).and($col.lt(end))),
            None => Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>(
                if scope.is_global() { "1=1" } else { "1=0" },
            )),
        };
        for (start, end) in ranges {
            filter = Box::new(filter.or($col.ge(start).and($col.lt(end))));
        }
        filter
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_keeps_the_inner_of_nested_subtrees() {
        let county = Scope::from_paths(vec!["/1/5/".into()]);
        let two_townships = Scope::from_paths(vec!["/1/5/23/".into(), "/1/5/24/".into()]);
        assert_eq!(county.intersect(&two_townships), two_townships);
        assert_eq!(two_townships.intersect(&county), two_townships);
        let village = Scope::from_paths(vec!["/1/5/23/77/".into()]);
        assert_eq!(two_townships.intersect(&village), village);
        // A sibling county, and a region id that merely starts with the same digits.
        let other = Scope::from_paths(vec!["/1/6/".into(), "/1/5/230/".into()]);
        assert_eq!(two_townships.intersect(&other), Scope::empty());
        assert_eq!(Scope::Global.intersect(&village), village);
        assert_eq!(village.intersect(&Scope::Global), village);
        assert_eq!(Scope::Global.intersect(&Scope::Global), Scope::Global);
        assert!(Scope::empty().intersect(&county).is_empty());
    }

    #[test]
    fn nested_subtrees_collapse_and_siblings_stay_apart() {
        let s = Scope::from_paths(vec!["/1/5/".into(), "/1/5/23/".into(), "/1/50/".into()]);
        assert_eq!(s, Scope::Paths(vec!["/1/5/".into(), "/1/50/".into()]));
        let s = Scope::from_paths(vec!["/1/5/".into()]);
        assert!(s.contains("/1/5/"));
        assert!(s.contains("/1/5/23/77/"));
        // Region 50 is a sibling of region 5, not inside it.
        assert!(!s.contains("/1/50/"));
        assert!(!s.contains("/1/"));
    }

    #[test]
    fn ranges_cover_exactly_the_subtree() {
        let end = subtree_end("/1/5/");
        assert_eq!(end, "/1/50");
        for inside in ["/1/5/", "/1/5/9/", "/1/5/99999/1/"] {
            assert!(inside >= "/1/5/" && inside < end.as_str(), "{inside}");
        }
        for outside in ["/1/50/", "/1/6/", "/1/", "/1/4/"] {
            assert!(!(outside >= "/1/5/" && outside < end.as_str()), "{outside}");
        }
    }

    #[test]
    fn covering_means_every_subtree_inside() {
        let county = Scope::from_paths(vec!["/1/5/".into()]);
        let inside = Scope::from_paths(vec!["/1/5/23/".into(), "/1/5/".into()]);
        let straddling = Scope::from_paths(vec!["/1/5/23/".into(), "/1/6/7/".into()]);
        assert!(county.covers(&inside));
        assert!(county.covers(&Scope::empty()));
        assert!(!county.covers(&straddling));
        assert!(!county.covers(&Scope::Global));
        assert!(!inside.covers(&Scope::from_paths(vec!["/1/".into()])));
        assert!(Scope::Global.covers(&Scope::Global));
        assert!(Scope::Global.covers(&straddling));
    }

    #[test]
    fn global_and_empty() {
        assert!(Scope::Global.contains("/9/"));
        assert!(!Scope::empty().contains("/9/"));
        assert_eq!(Scope::empty().union(Scope::Global), Scope::Global);
    }
}
