//! Cluster: records linked by matching pairs become one person, guarded against chains.
//! Connected components over the matches are checked for cohesion: every two members must
//! score at least the cohesion probability with each other. A component that fails (A matches
//! A′ and A′ matches B, but A and B are twins) is split by complete linkage: clusters merge,
//! strongest match first, only while every cross pair stays cohesive.

use std::collections::HashMap;

/// Union–find with path halving.
pub(crate) struct Components {
    parent: Vec<u32>,
}

impl Components {
    pub(crate) fn new(n: usize) -> Components {
        Components { parent: (0..n as u32).collect() }
    }

    pub(crate) fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    pub(crate) fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clustering {
    /// Clusters of two or more records, members sorted, clusters ordered by first member.
    pub clusters: Vec<Vec<u32>>,
    /// Components that were split for lack of cohesion: their size before the split.
    pub split_components: Vec<usize>,
}

impl Clustering {
    /// Each clustered record's cluster, by its place in [`Clustering::clusters`].
    pub fn index(&self) -> std::collections::HashMap<u32, usize> {
        self.clusters.iter().enumerate().flat_map(|(k, c)| c.iter().map(move |&r| (r, k))).collect()
    }
}

/// Clusters the records linked by `matches` (pairs with their probability). `probability(a, b)`
/// scores any two records (used for member pairs that were not candidates: only pairs of
/// [`member_pairs`]); two members of one cluster must score at least `cohesion`.
pub fn cluster(
    records: usize,
    matches: &[(u32, u32, f64)],
    cohesion: f64,
    probability: impl Fn(u32, u32) -> f64,
) -> Clustering {
    let mut known: HashMap<(u32, u32), f64> = HashMap::with_capacity(matches.len());
    for &(a, b, p) in matches {
        known.insert((a.min(b), a.max(b)), p);
    }
    let mut result = Clustering::default();
    for group in components(records, matches) {
        let score = |a: u32, b: u32| known.get(&(a.min(b), a.max(b))).copied().unwrap_or_else(|| probability(a, b));
        let cohesive = group.len() == 2 || all_pairs(&group).all(|(a, b)| score(a, b) >= cohesion);
        if cohesive {
            result.clusters.push(group);
        } else {
            result.split_components.push(group.len());
            result.clusters.extend(complete_linkage(&group, cohesion, &score).into_iter().filter(|c| c.len() > 1));
        }
    }
    for c in &mut result.clusters {
        c.sort_unstable();
    }
    result.clusters.sort_unstable();
    result.split_components.sort_unstable_by(|a, b| b.cmp(a));
    result
}

/// The pairs [`cluster`] may ask `probability` about: two members of one component of three or
/// more that are not a match. A cluster scores these (a few per duplicate registration) before
/// its driver clusters.
pub fn member_pairs(records: usize, matches: &[(u32, u32, f64)]) -> Vec<(u32, u32)> {
    let matched: std::collections::HashSet<(u32, u32)> =
        matches.iter().map(|&(a, b, _)| (a.min(b), a.max(b))).collect();
    let mut pairs: Vec<(u32, u32)> = components(records, matches)
        .iter()
        .filter(|group| group.len() > 2)
        .flat_map(|group| all_pairs(group).collect::<Vec<_>>())
        .filter(|pair| !matched.contains(pair))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// The connected components of `matches` (members sorted), each at most [`MAX_COMPONENT`].
fn components(records: usize, matches: &[(u32, u32, f64)]) -> Vec<Vec<u32>> {
    let mut components = Components::new(records);
    for &(a, b, _) in matches {
        components.union(a, b);
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for r in matches.iter().flat_map(|&(a, b, _)| [a, b]) {
        if seen.insert(r) {
            *counts.entry(components.find(r)).or_default() += 1;
        }
    }
    if counts.values().any(|&n| n > MAX_COMPONENT) {
        // A component of thousands is no person (a threshold near 0 links a province): it is
        // rebuilt from the strongest matches only, each part kept to MAX_COMPONENT records, so
        // that the cohesion check below stays bounded instead of cubic.
        components = strongest_components(records, matches);
    }
    let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(a, b, _) in matches {
        for r in [a, b] {
            members.entry(components.find(r)).or_default().push(r);
        }
    }
    members
        .into_values()
        .map(|mut group| {
            group.sort_unstable();
            group.dedup();
            group
        })
        .collect()
}

/// The most records a component may have before the cohesion check. One person has a handful
/// of registrations; the largest components of a 10M province (seed 5) have 6 records.
pub const MAX_COMPONENT: usize = 100;

/// Components joined strongest match first, a join skipped where it would pass MAX_COMPONENT.
fn strongest_components(records: usize, matches: &[(u32, u32, f64)]) -> Components {
    let mut order: Vec<&(u32, u32, f64)> = matches.iter().collect();
    order.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let mut components = Components::new(records);
    let mut size: HashMap<u32, usize> = HashMap::new();
    for &&(a, b, _) in &order {
        let (ra, rb) = (components.find(a), components.find(b));
        if ra == rb {
            continue;
        }
        let (na, nb) = (*size.get(&ra).unwrap_or(&1), *size.get(&rb).unwrap_or(&1));
        if na + nb <= MAX_COMPONENT {
            components.union(a, b);
            size.insert(components.find(a), na + nb);
        }
    }
    components
}

fn all_pairs(group: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    group.iter().enumerate().flat_map(move |(i, &a)| group[i + 1..].iter().map(move |&b| (a, b)))
}

/// Agglomerates `group`: strongest pair first, two clusters merge when every cross pair scores
/// at least `cohesion`.
fn complete_linkage(group: &[u32], cohesion: f64, score: &impl Fn(u32, u32) -> f64) -> Vec<Vec<u32>> {
    let mut pairs: Vec<(f64, u32, u32)> =
        all_pairs(group).map(|(a, b)| (score(a, b), a, b)).filter(|p| p.0 >= cohesion).collect();
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let mut cluster_of: HashMap<u32, usize> = group.iter().enumerate().map(|(i, &r)| (r, i)).collect();
    let mut clusters: Vec<Vec<u32>> = group.iter().map(|&r| vec![r]).collect();
    for (_, a, b) in pairs {
        let (ca, cb) = (cluster_of[&a], cluster_of[&b]);
        if ca == cb {
            continue;
        }
        let joinable = clusters[ca].iter().all(|&x| clusters[cb].iter().all(|&y| score(x, y) >= cohesion));
        if joinable {
            let moved = std::mem::take(&mut clusters[cb]);
            for &r in &moved {
                cluster_of.insert(r, ca);
            }
            clusters[ca].extend(moved);
        }
    }
    clusters.retain(|c| !c.is_empty());
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(pairs: &[(u32, u32, f64)]) -> impl Fn(u32, u32) -> f64 + '_ {
        move |a, b| pairs.iter().find(|p| (p.0, p.1) == (a.min(b), a.max(b))).map_or(0.0, |p| p.2)
    }

    #[test]
    fn pairs_and_components() {
        let matches = [(0, 1, 0.99), (5, 6, 0.95), (6, 7, 0.97)];
        let all = [(0, 1, 0.99), (5, 6, 0.95), (6, 7, 0.97), (5, 7, 0.9)];
        let c = cluster(10, &matches, 0.5, scores(&all));
        assert_eq!(c.clusters, vec![vec![0, 1], vec![5, 6, 7]]);
        assert!(c.split_components.is_empty());
    }

    #[test]
    fn twins_are_not_merged_through_a_shared_duplicate() {
        // A (0) and its duplicate A′ (1) without an ID; twin B (2) looks like A′ too.
        let matches = [(0, 1, 0.99), (1, 2, 0.95)];
        let all = [(0, 1, 0.99), (1, 2, 0.95), (0, 2, 0.0001)];
        let c = cluster(3, &matches, 0.5, scores(&all));
        assert_eq!(c.clusters, vec![vec![0, 1]], "A′ goes with A, its stronger match; B stays alone");
        assert_eq!(c.split_components, vec![3]);
    }

    #[test]
    fn a_chain_is_cut_where_it_is_weakest() {
        // 0-1-2-3-4: ends are not alike; 0,1,2 are mutually alike, 3,4 too.
        let matches = [(0, 1, 0.99), (1, 2, 0.98), (2, 3, 0.6), (3, 4, 0.97)];
        let all = [
            (0, 1, 0.99),
            (1, 2, 0.98),
            (0, 2, 0.9),
            (2, 3, 0.6),
            (3, 4, 0.97),
            (1, 3, 0.1),
            (0, 3, 0.0),
            (2, 4, 0.2),
            (0, 4, 0.0),
            (1, 4, 0.0),
        ];
        let c = cluster(5, &matches, 0.5, scores(&all));
        assert_eq!(c.clusters, vec![vec![0, 1, 2], vec![3, 4]]);
    }

    #[test]
    fn a_province_linked_by_a_threshold_near_zero_stays_bounded() {
        // Every record matched to the next (a chain of 20,000): no cluster may pass the bound,
        // and the work stays small (the cohesion check is quadratic in a component's size).
        let n = 20_000u32;
        let matches: Vec<(u32, u32, f64)> = (0..n - 1).map(|i| (i, i + 1, 0.5 + f64::from(i % 7) / 100.0)).collect();
        let asked = std::cell::Cell::new(0u64);
        let c = cluster(n as usize, &matches, 0.0, |_, _| {
            asked.set(asked.get() + 1);
            0.5
        });
        assert!(c.clusters.iter().all(|c| c.len() <= MAX_COMPONENT), "bounded");
        assert_eq!(c.clusters.iter().map(Vec::len).sum::<usize>(), n as usize, "every record still clustered");
        assert!(asked.get() < 1_000_000, "{} pairs scored", asked.get());
    }

    #[test]
    fn member_pairs_are_every_pair_a_clustering_may_ask_about() {
        let matches = [(0, 1, 0.99), (1, 2, 0.95), (5, 6, 0.9), (7, 8, 0.9), (8, 9, 0.9), (7, 9, 0.9)];
        assert_eq!(member_pairs(10, &matches), vec![(0, 2)], "pairs of two are clusters; a triangle is all matched");
        let asked = std::cell::RefCell::new(Vec::new());
        cluster(10, &matches, 0.5, |a, b| {
            asked.borrow_mut().push((a.min(b), a.max(b)));
            0.0
        });
        assert!(asked.borrow().iter().all(|p| member_pairs(10, &matches).contains(p)));
        assert!(!asked.borrow().is_empty());
    }

    #[test]
    fn unscored_pairs_are_asked_for() {
        let matches = [(0, 1, 0.99), (1, 2, 0.99)];
        let asked = std::cell::Cell::new(0);
        let c = cluster(3, &matches, 0.5, |a, b| {
            asked.set(asked.get() + 1);
            assert_eq!((a, b), (0, 2));
            0.8
        });
        assert_eq!(c.clusters, vec![vec![0, 1, 2]]);
        assert_eq!(asked.get(), 1);
    }
}
